//! The VST3 test host (`tests/vst3-host`) built for Windows and run under Wine against the
//! Windows download's `sift.vst3` bundle: its classes and buses, exact latency, the null test,
//! the Vocals-muted render of the eval clip and state, as a Windows DAW would load it.

use super::host_tests::{build, run_under_wine};
use super::wine;
use crate::paths::Paths;
use anyhow::{Context, Result};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The host's test package.
const PACKAGE: &str = "sift-vst3-host";

/// Builds the host's test executables for Windows, runs each under Wine and returns the exit
/// status: 0 when every one passed.
pub fn run(paths: &Paths) -> Result<i32> {
    let executables = build(paths, PACKAGE)?;
    let windows = paths.windows_bundle();
    let display = Display::start()?;
    run_under_wine(paths, &executables, "VST3 host", |cmd| {
        cmd.env("DISPLAY", &display.name)
            .env("SIFT_VST3", wine::windows_path(&windows.join("sift.vst3")))
            .env("SIFT_EVAL_DIR", wine::windows_path(&paths.eval_data()))
            // INSTALL.txt has users copy the download's models to %LOCALAPPDATA%\Sift\models, where
            // the VST3 plugin looks (its bundle holds none); the plugin's models-folder override
            // stands in for that copy in the test prefix.
            .env("SIFT_MODEL_DIR", wine::windows_path(&windows.join("models")));
    })
}

/// A private X display (Xvfb) for the Wine processes. nice-plug's VST3 wrapper gives every
/// instance a hidden window for its main-thread tasks (`event_loop/windows.rs`), and Wine can
/// create no window without a display (`nodrv_CreateWindow`), so without one every
/// `createInstance` panics; a Windows DAW always has a desktop. (Also the editor test's screen,
/// `editor_test`.)
pub(super) struct Display {
    server: Child,
    pub(super) name: String,
}

impl Display {
    pub(super) fn start() -> Result<Display> {
        // `-displayfd` makes the server pick a free display number and print it once it is ready.
        let mut server = Command::new("Xvfb")
            .args(["-displayfd", "1", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start Xvfb (Debian: apt install xvfb)")?;
        let mut number = String::new();
        BufReader::new(server.stdout.take().context("Xvfb's output")?).read_line(&mut number)?;
        let display = Display { name: format!(":{}", number.trim()), server };
        anyhow::ensure!(!number.trim().is_empty(), "Xvfb exited without opening a display");
        Ok(display)
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
