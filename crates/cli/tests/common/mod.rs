//! Helpers every command-line test binary uses: the `sift` binary, scratch folders, and its
//! output read as text or as the JSON report.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `sift` binary of this build.
pub fn sift() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sift"))
}

/// An empty folder `name`, in a folder of this test binary's own.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(env!("CARGO_CRATE_NAME")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Everything a run printed, stdout then stderr.
pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Runs `sift separate INPUT -o OUT EXTRA...`.
pub fn separate(input: &Path, out: &Path, extra: &[&str]) -> Output {
    sift().arg("separate").arg(input).arg("-o").arg(out).args(extra).output().unwrap()
}

/// The JSON report a successful run ends with, failing the test with the run's output if it
/// did not succeed.
pub fn json_of(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "sift failed:\n{}", text(output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().expect("a JSON line")).expect("valid JSON")
}

/// Sift's own four-stem model as committed (`model/weights/sift-4stem.onnx`: what setup installs
/// and the plugins ship).
pub fn own_model() -> PathBuf {
    sift_test_support::repo_root().join("model/weights/sift-4stem.onnx")
}
