//! The CLAP test host (`tests/clap-host`) built for Windows and run under Wine against the
//! Windows download's `sift.clap`: the same audio, rules, latency and state tests that guard the
//! Linux plugin (the editor's and the leak tests are Linux-only, see the host's `lib.rs`).

use super::wine;
use crate::paths::Paths;
use crate::process::{self, run_for_status};
use crate::python;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The host's test package.
const PACKAGE: &str = "sift-clap-host";
/// The test that opens the project the other platform's plugin saved.
pub const STATE_TEST: &str = "a_project_saved_on_the_other_platform_opens_as_saved";

/// The folder the two platforms' plugins leave their saved projects in, emptied.
pub fn state_exchange(paths: &Paths) -> Result<PathBuf> {
    let dir = paths.target.join("state-exchange");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Builds the host's test executables for Windows, runs each under Wine (the state test with
/// `state_exchange`, from [`state_exchange`]) and returns the exit status: 0 when every one
/// passed.
pub fn run(paths: &Paths, state_exchange: &Path) -> Result<i32> {
    let executables = build(paths, PACKAGE)?;
    let models = test_models(paths)?;
    let windows = paths.windows_bundle();
    run_under_wine(paths, &executables, "CLAP host", |cmd| {
        cmd.env("SIFT_CLAP", wine::windows_path(&windows.join("sift.clap")))
            .env("SIFT_EVAL_DIR", wine::windows_path(&paths.eval_data()))
            .env("SIFT_TEST_MODELS", wine::windows_path(&models))
            .env("SIFT_STATE_EXCHANGE", wine::windows_path(state_exchange))
            .env("SIFT_STATE_FROM_OTHER_PLATFORM", "1");
    })
}

/// Runs each of a host's test `executables` (`what`, for the summary) under Wine from the
/// repository root, with the environment `configure` adds; returns 0 when every one passed.
pub(super) fn run_under_wine(
    paths: &Paths,
    executables: &[PathBuf],
    what: &str,
    configure: impl Fn(&mut Command),
) -> Result<i32> {
    let mut failed = 0;
    for exe in executables {
        println!("==> {} under Wine", crate::bundle::shown(paths, exe));
        let mut cmd = wine::wine(paths);
        cmd.arg(exe).current_dir(&paths.root);
        configure(&mut cmd);
        if run_for_status(&mut cmd)? != 0 {
            failed += 1;
        }
    }
    if failed > 0 {
        eprintln!("{failed} of the {what}'s {} test executables failed on Windows", executables.len());
    }
    Ok(i32::from(failed > 0))
}

/// `cargo test --no-run` of the test host `package` for Windows; the test executables it wrote.
pub(super) fn build(paths: &Paths, package: &str) -> Result<Vec<PathBuf>> {
    println!("==> building the tests of {package} for {}", super::TARGET);
    let mut cargo = super::cargo(paths, "test", "std,panic_abort,test")?;
    cargo.args(["--no-run", "-p", package, "--message-format=json-render-diagnostics"]);
    cargo.stdout(std::process::Stdio::piped());
    println!("    $ {}", process::display(&cargo));
    let output = cargo.output().context("could not run Debian's cargo")?;
    anyhow::ensure!(output.status.success(), "{package} does not build for Windows: see the errors above");
    let executables = test_executables(&String::from_utf8_lossy(&output.stdout));
    anyhow::ensure!(!executables.is_empty(), "cargo built no test executable of {package}");
    Ok(executables)
}

/// The test executables in cargo's JSON messages.
fn test_executables(messages: &str) -> Vec<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["profile"]["test"] == true)
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .collect()
}

/// The small test models (`model/make_test_models.py`), built here: the Windows tests cannot
/// run the project's Linux Python.
fn test_models(paths: &Paths) -> Result<PathBuf> {
    let dir = paths.target.join("wine").join("test-models");
    crate::process::run(
        process::command(paths, python::venv_python(paths))
            .arg(paths.model_sources().join("make_test_models.py"))
            .arg(&dir),
        "model/make_test_models.py failed: see its output above",
    )?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::test_executables;
    use std::path::Path;

    #[test]
    fn finds_only_test_executables_in_cargos_messages() {
        let messages = r#"{"reason":"compiler-artifact","profile":{"test":false},"executable":null}
{"reason":"compiler-artifact","profile":{"test":true},"executable":"/t/deps/audio-1.exe"}
{"reason":"build-finished","success":true}
not json"#;
        assert_eq!(test_executables(messages), vec![Path::new("/t/deps/audio-1.exe")]);
    }
}
