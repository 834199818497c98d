//! The system packages the test suite needs beyond Rust and Python, in one list.
//!
//! `cargo xtask test` checks each requirement before anything runs and, where it can (root on a
//! machine with `apt-get`), installs the Debian packages that are missing, saying what it does;
//! otherwise it stops at once with the one command to run. `.ci/run` goes through the same
//! step, so CI and a newcomer's first run need the same things. `cargo xtask system-packages`
//! runs the step alone.

use crate::process::run;
use anyhow::{bail, Result};
use std::path::Path;
use std::process::Command;

/// How to tell whether something the tests use is present.
enum Probe {
    /// A program on `PATH`.
    Command(&'static str),
    /// A shared library the dynamic loader knows (`ldconfig -p`).
    Library(&'static str),
    /// A Mesa DRI driver (`/usr/lib/<triplet>/dri/<name>`), which `ldconfig` does not list.
    DriDriver(&'static str),
    /// A module that Debian's own Python 3 (`/usr/bin/python3`) imports.
    DebianPython(&'static str),
    /// A file at a fixed path (a tool that is not on `PATH`, a source tree).
    File(&'static str),
}

/// One thing the tests need and the Debian package that provides it.
struct Requirement {
    probe: Probe,
    package: &'static str,
    /// Which tests need it, for the message.
    used_by: &'static str,
}

const DISPLAY: &str = "VST3 host and editor tests (tests/hosts, tests/clap-host editor)";
const ARDOUR: &str = "Ardour export test (tests/hosts/test_ardour.py)";
const TRAINING: &str = "training pipeline tests (model/training/tests, on Debian's CPU build of PyTorch)";
const WEBGPU: &str = "WebGPU provider test (crates/cli/tests/providers.rs; lavapipe itself is unpacked into target/)";

// Where the Windows build's Debian packages put the tools it runs (`windows` uses them).
/// Debian's Rust 1.96, which has the standard library's source to build for Windows.
pub const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
pub const DEBIAN_CARGO: &str = "/usr/bin/cargo";
/// Where `rust-web-src` puts the standard library's source (what `-Zbuild-std` builds).
pub const STD_SOURCE: &str = "/usr/lib/rustlib/src/rust/library/std/Cargo.toml";
/// mingw-w64's linker for 64-bit Windows.
pub const LINKER: &str = "x86_64-w64-mingw32-gcc";
/// Debian's `wine64` package's loader and server (the package puts neither on `PATH`).
pub const WINE: &str = "/usr/lib/wine/wine64";
pub const WINESERVER: &str = "/usr/lib/wine/wineserver64";

const WINDOWS: &str = "Windows build (cargo xtask bundle --target windows) and its tests under Wine";

/// The Windows build and its tests. Debian's Rust 1.96 (`rustc-web`, `cargo-web`) with the
/// standard library's source (`rust-web-src`) builds std for `x86_64-pc-windows-gnu`, which
/// rustup cannot download here; mingw-w64 links; Wine runs the result.
const WINDOWS_REQUIREMENTS: &[Requirement] = &[
    Requirement { probe: Probe::File(DEBIAN_RUSTC), package: "rustc-web", used_by: WINDOWS },
    Requirement { probe: Probe::File(DEBIAN_CARGO), package: "cargo-web", used_by: WINDOWS },
    Requirement { probe: Probe::File(STD_SOURCE), package: "rust-web-src", used_by: WINDOWS },
    Requirement { probe: Probe::Command(LINKER), package: "mingw-w64", used_by: WINDOWS },
    Requirement { probe: Probe::File(WINE), package: "wine64", used_by: WINDOWS },
];

const REQUIREMENTS: &[Requirement] = &[
    Requirement { probe: Probe::Command("Xvfb"), package: "xvfb", used_by: DISPLAY },
    Requirement { probe: Probe::Command("openbox"), package: "openbox", used_by: DISPLAY },
    Requirement { probe: Probe::Command("xdotool"), package: "xdotool", used_by: DISPLAY },
    Requirement { probe: Probe::Command("import"), package: "imagemagick", used_by: DISPLAY },
    Requirement { probe: Probe::Command("xset"), package: "x11-xserver-utils", used_by: DISPLAY },
    Requirement { probe: Probe::Library("libGL.so.1"), package: "libgl1", used_by: DISPLAY },
    Requirement { probe: Probe::Library("libEGL.so.1"), package: "libegl1", used_by: DISPLAY },
    Requirement { probe: Probe::Library("libEGL_mesa.so.0"), package: "libegl-mesa0", used_by: DISPLAY },
    Requirement { probe: Probe::DriDriver("swrast_dri.so"), package: "libgl1-mesa-dri", used_by: DISPLAY },
    Requirement { probe: Probe::Library("libglib-2.0.so.0"), package: "libglib2.0-0", used_by: DISPLAY },
    Requirement { probe: Probe::Library("libX11.so.6"), package: "libx11-6", used_by: DISPLAY },
    Requirement { probe: Probe::Library("libX11-xcb.so.1"), package: "libx11-xcb1", used_by: DISPLAY },
    Requirement { probe: Probe::Library("libxcb.so.1"), package: "libxcb1", used_by: DISPLAY },
    Requirement { probe: Probe::Library("libxcb-xkb.so.1"), package: "libxcb-xkb1", used_by: DISPLAY },
    Requirement { probe: Probe::Library("libXcursor.so.1"), package: "libxcursor1", used_by: DISPLAY },
    Requirement { probe: Probe::Library("libxkbcommon.so.0"), package: "libxkbcommon0", used_by: DISPLAY },
    Requirement { probe: Probe::Library("libxkbcommon-x11.so.0"), package: "libxkbcommon-x11-0", used_by: DISPLAY },
    // The Vulkan loader Dawn opens; the driver (Mesa 25 lavapipe) comes from `xtask/src/providers.rs`.
    Requirement { probe: Probe::Library("libvulkan.so.1"), package: "libvulkan1", used_by: WEBGPU },
    Requirement { probe: Probe::Command("dpkg-deb"), package: "dpkg", used_by: WEBGPU },
    // Ardour 7, headless: `ardour7-lua` builds and exports sessions with the "None (Dummy)" back end.
    Requirement { probe: Probe::Command("ardour7-lua"), package: "ardour", used_by: ARDOUR },
    Requirement { probe: Probe::DebianPython("torch"), package: "python3-torch", used_by: TRAINING },
    Requirement { probe: Probe::DebianPython("scipy"), package: "python3-scipy", used_by: TRAINING },
    Requirement { probe: Probe::DebianPython("soundfile"), package: "python3-soundfile", used_by: TRAINING },
    Requirement { probe: Probe::DebianPython("onnx"), package: "python3-onnx", used_by: TRAINING },
    Requirement { probe: Probe::DebianPython("ensurepip"), package: "python3-venv", used_by: TRAINING },
];

/// Checks every requirement of the tests (the Windows build's too); installs the missing
/// packages when this process may, else fails with the command to run.
pub fn ensure() -> Result<()> {
    println!("==> system packages the tests need");
    let all: Vec<&Requirement> = REQUIREMENTS.iter().chain(WINDOWS_REQUIREMENTS).collect();
    ensure_all(&all, "the tests need")
}

/// Like [`ensure`], for the Windows build alone.
pub fn ensure_windows_build() -> Result<()> {
    println!("==> system packages the Windows build needs");
    let windows: Vec<&Requirement> = WINDOWS_REQUIREMENTS.iter().collect();
    ensure_all(&windows, "the Windows build needs")
}

fn ensure_all(requirements: &[&Requirement], who: &str) -> Result<()> {
    let libraries = known_libraries();
    let missing: Vec<&Requirement> = requirements.iter().copied().filter(|r| !present(&r.probe, &libraries)).collect();
    if missing.is_empty() {
        println!("    all {} present", requirements.len());
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|r| r.package).collect();
    packages.dedup();
    for requirement in &missing {
        println!(
            "    missing {} (package {}, for the {})",
            requirement.probe, requirement.package, requirement.used_by
        );
    }
    let command = format!("apt-get install -y --no-install-recommends {}", packages.join(" "));
    if !is_root() || !on_path("apt-get") {
        bail!(
            "{who} system packages that are missing; install them with\n\n    sudo apt-get update && sudo {command}\n\n(or your \
             distribution's equivalents), then run the command again"
        );
    }
    println!("    installing them: apt-get update && {command}");
    run(Command::new("apt-get").arg("update"), "apt-get could not read the package lists: is the network up?")?;
    run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        "apt-get could not install the packages above",
    )?;
    let libraries = known_libraries();
    let still: Vec<String> =
        missing.iter().filter(|r| !present(&r.probe, &libraries)).map(|r| r.probe.to_string()).collect();
    if !still.is_empty() {
        bail!("still missing after installing: {}", still.join(", "));
    }
    Ok(())
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Command(name) => write!(f, "command `{name}`"),
            Probe::Library(name) | Probe::DriDriver(name) => write!(f, "library {name}"),
            Probe::DebianPython(name) => write!(f, "Python module {name} (of /usr/bin/python3)"),
            Probe::File(path) => write!(f, "{path}"),
        }
    }
}

fn present(probe: &Probe, libraries: &str) -> bool {
    match probe {
        Probe::Command(name) => on_path(name),
        Probe::Library(name) => libraries.lines().any(|line| line.trim_start().starts_with(&format!("{name} "))),
        Probe::DriDriver(name) => std::fs::read_dir("/usr/lib")
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| entry.path().join("dri").join(name).is_file()),
        Probe::DebianPython(name) => Command::new("/usr/bin/python3")
            .args(["-c", &format!("import {name}")])
            .output()
            .is_ok_and(|output| output.status.success()),
        Probe::File(path) => Path::new(path).exists(),
    }
}

/// `ldconfig -p`'s listing (empty if it cannot run: then every library counts as missing).
fn known_libraries() -> String {
    ["ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"]
        .iter()
        .find_map(|program| Command::new(program).arg("-p").output().ok())
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default()
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program))))
        .unwrap_or(false)
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}
