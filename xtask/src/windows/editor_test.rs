//! The editor of the Windows `sift.clap` under Wine on Xvfb, checked from Linux like the Linux
//! editor. Two halves of the CLAP test host meet on one private X display:
//!
//! - the Windows half (`tests/clap-host/tests/editor_windows.rs`, built for Windows, under Wine)
//!   opens the editor in a Win32 host window, says where it is in a file, pumps messages until
//!   the Linux half is done, then reads Vocals Mute back;
//! - the Linux half (`tests/clap-host/tests/editor.rs`, the ignored
//!   `the_windows_editor_under_wine_...`) finds the editor's picture in Wine's X windows, checks
//!   it against the Linux editor's, saves it as `target/editor-tests/windows-editor.png` and
//!   clicks Vocals MUTE through XTest.
//!
//! Both are ignored tests, run here by name: the CLAP host's other Windows tests
//! (`host_tests`) and `cargo test --workspace` list them as ignored.

use super::host_tests::build;
use super::vst3_host_tests::Display;
use super::wine;
use crate::paths::Paths;
use crate::process::{self, run_for_status};
use crate::system_packages::WINESERVER;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The host's test package.
const PACKAGE: &str = "sift-clap-host";
/// The Windows half: its test target and its test.
const WINDOWS_TARGET: &str = "editor_windows";
const WINDOWS_TEST: &str = "under_wine_the_editor_opens_and_a_click_on_vocals_mute_reaches_the_host";
/// The Linux half: its test target and its test.
const LINUX_TARGET: &str = "editor";
const LINUX_TEST: &str = "the_windows_editor_under_wine_draws_the_linux_layout_and_takes_a_click";
/// How long Wine may take to start the Windows half and open the editor (about 5 s here).
const OPEN_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the Windows half may take to finish once the Linux half is done (about 1 s here).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(60);

/// Builds both halves, runs them together and returns the exit status: 0 when both passed.
pub fn run(paths: &Paths) -> Result<i32> {
    let started = Instant::now();
    let windows_half = windows_executable(&build(paths, PACKAGE)?)?;
    println!("==> building the Linux half ({PACKAGE} --test {LINUX_TARGET})");
    process::run(linux_half(paths).arg("--no-run"), "the CLAP host's editor tests do not build: see the errors above")?;

    let pictures = paths.target.join("editor-tests");
    let screenshot = pictures.join("windows-editor.png");
    let handshake = pictures.join("wine-handshake");
    if handshake.exists() {
        std::fs::remove_dir_all(&handshake).with_context(|| format!("emptying {}", handshake.display()))?;
    }
    // The Linux half writes it afresh: an old one must not pass for this run's.
    if screenshot.exists() {
        std::fs::remove_file(&screenshot).with_context(|| format!("removing the old {}", screenshot.display()))?;
    }
    std::fs::create_dir_all(&handshake).with_context(|| format!("creating {}", handshake.display()))?;
    let (open, checked) = (handshake.join("open"), handshake.join("checked"));

    wait_for_other_wine_processes(paths)?;
    let display = Display::start()?;
    println!("==> {} under Wine on Xvfb {}", crate::bundle::shown(paths, &windows_half), display.name);
    let mut wine = wine::wine(paths);
    wine.arg(&windows_half)
        .args(["--ignored", "--exact", WINDOWS_TEST, "--nocapture"])
        .current_dir(&paths.root)
        .env("DISPLAY", &display.name)
        .env("SIFT_CLAP", wine::windows_path(&paths.windows_bundle().join("sift.clap")))
        .env("SIFT_EDITOR_OPEN", wine::windows_path(&open))
        .env("SIFT_EDITOR_CHECKED", wine::windows_path(&checked));
    println!("    $ {}", process::display(&wine));
    let mut windows = Running(wine.spawn().context("cannot start Wine")?);
    wait_for_editor(&mut windows.0, &open)?;

    println!("==> the Linux half: the picture on Wine's screen, and a click");
    let mut linux = linux_half(paths);
    linux
        .args(["--", "--ignored", "--exact", LINUX_TEST, "--nocapture"])
        .env("SIFT_WINE_DISPLAY", &display.name)
        .env("SIFT_EDITOR_OPEN", &open);
    let linux_status = run_for_status(&mut linux)?;
    std::fs::write(&checked, b"").with_context(|| format!("writing {}", checked.display()))?;
    let windows_status = windows.wait(CLOSE_TIMEOUT)?;
    drop(display);

    println!(
        "    the Windows editor under Wine: Windows half exited {windows_status}, Linux half {linux_status}, in {:.0} s; \
         its picture in {}",
        started.elapsed().as_secs_f64(),
        crate::bundle::shown(paths, &screenshot)
    );
    Ok(i32::from(windows_status != 0 || linux_status != 0))
}

/// The Windows half among the host's test executables (`editor_windows-<hash>.exe`).
fn windows_executable(executables: &[PathBuf]) -> Result<PathBuf> {
    let prefix = format!("{WINDOWS_TARGET}-");
    executables
        .iter()
        .find(|exe| exe.file_name().is_some_and(|name| name.to_string_lossy().starts_with(&prefix)))
        .cloned()
        .with_context(|| format!("cargo built no {WINDOWS_TARGET} test of {PACKAGE} for Windows: {executables:?}"))
}

/// `cargo test` of the Linux half, finding the runtime and the model the way users' copies do
/// (beside the plugin), as the Windows half does, not through the overrides of other xtask
/// commands.
fn linux_half(paths: &Paths) -> std::process::Command {
    let mut cargo = process::cargo(paths);
    cargo
        .args(["test", "-p", PACKAGE, "--test", LINUX_TARGET])
        .env_remove("SIFT_ORT_DYLIB")
        .env_remove("SIFT_MODEL_DIR");
    cargo
}

/// How long to wait for the Wine processes of other tests in the prefix to end.
const OTHERS_TIMEOUT: Duration = Duration::from_secs(300);

/// Waits for the prefix's Wine server, if one runs, to end. Its desktop (the first process's
/// `explorer.exe /desktop`) is on the display of the process that started it, or on none: one
/// started by a test without `DISPLAY` (the CLAP host's, `host_tests`) fails every top-level
/// window of a process that joins it, so the editor test starts a server of its own.
fn wait_for_other_wine_processes(paths: &Paths) -> Result<()> {
    let start = Instant::now();
    let mut server = Command::new(WINESERVER)
        .arg("--wait")
        .env("WINEPREFIX", wine::prefix(paths))
        .spawn()
        .context("cannot run wineserver")?;
    let mut announced = false;
    while server.try_wait()?.is_none() {
        if start.elapsed() > OTHERS_TIMEOUT {
            let _ = server.kill();
            let _ = server.wait();
            eprintln!("    Wine processes in the prefix still run after {OTHERS_TIMEOUT:?}: going on, the editor may fail to open");
            return Ok(());
        }
        if !announced && start.elapsed() > Duration::from_secs(2) {
            println!("    waiting for the other Wine processes in the prefix to end");
            announced = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Waits until the Windows half has written `open`; fails if it exits first or takes too long.
fn wait_for_editor(windows: &mut Child, open: &Path) -> Result<()> {
    let start = Instant::now();
    while !open.exists() {
        if let Some(status) = windows.try_wait()? {
            bail!("the Windows half exited ({status}) before its editor opened: see its output above");
        }
        if start.elapsed() > OPEN_TIMEOUT {
            bail!("the Windows half did not open its editor in {OPEN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// The Windows half under Wine, killed if it is still running when dropped (an early error).
struct Running(Child);

impl Running {
    /// Its exit code, waiting at most `timeout` (then it is killed and counts as failed).
    fn wait(&mut self, timeout: Duration) -> Result<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait()? {
                return Ok(status.code().unwrap_or(1));
            }
            if start.elapsed() > timeout {
                eprintln!("the Windows half did not finish {timeout:?} after the Linux half: killed");
                return Ok(1);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{windows_executable, LINUX_TEST, WINDOWS_TEST};
    use std::path::{Path, PathBuf};

    #[test]
    fn finds_the_windows_half_among_the_hosts_test_executables() {
        let built: Vec<PathBuf> =
            ["/t/deps/editor-1.exe", "/t/deps/editor_windows-2.exe", "/t/deps/audio-3.exe"].map(PathBuf::from).into();
        assert_eq!(windows_executable(&built).unwrap(), Path::new("/t/deps/editor_windows-2.exe"));
        assert!(windows_executable(&built[..1]).is_err());
    }

    #[test]
    fn the_halves_it_runs_exist() {
        for (test, source) in [
            (WINDOWS_TEST, include_str!("../../../tests/clap-host/tests/editor_windows.rs")),
            (LINUX_TEST, include_str!("../../../tests/clap-host/tests/editor.rs")),
        ] {
            assert!(source.contains(&format!("fn {test}()")), "no test {test} in the CLAP host");
        }
    }
}
