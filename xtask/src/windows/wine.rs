//! The Wine prefix the Windows build is tested in (`target/wine/prefix`).
//!
//! Wine 8.0 runs the Windows build as it is, with one gap: Rust's standard library imports
//! `ProcessPrng` from `bcryptprimitives.dll`, which every Windows from 10 on has and Wine 8.0
//! lacks. The prefix gets a stand-in built from `tests/wine/bcryptprimitives.c` in its
//! `system32`, where real Windows keeps the real one; the download never carries it.

use crate::paths::Paths;
use crate::process::run;
use crate::system_packages::{LINKER, WINE, WINESERVER};
use crate::{python, wheel};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The prefix: a Windows installation of its own, so the tests never touch a user's `~/.wine`.
pub fn prefix(paths: &Paths) -> PathBuf {
    paths.target.join("wine").join("prefix")
}

/// Creates the prefix with the stand-in (once; a prefix that has it is kept).
pub fn prepare(paths: &Paths) -> Result<()> {
    println!("==> the Wine prefix for the Windows tests ({})", crate::bundle::shown(paths, &prefix(paths)));
    let system32 = prefix(paths).join("drive_c").join("windows").join("system32");
    let stand_in = system32.join("bcryptprimitives.dll");
    if stand_in.is_file() {
        println!("    up to date, skipped");
        return Ok(());
    }
    let built = paths.target.join("wine").join("bcryptprimitives.dll");
    std::fs::create_dir_all(paths.target.join("wine")).context("creating target/wine")?;
    let source = paths.root.join("tests").join("wine");
    run(
        Command::new(LINKER)
            .args(["-shared", "-O2", "-o"])
            .arg(&built)
            .arg(source.join("bcryptprimitives.c"))
            .arg(source.join("bcryptprimitives.def"))
            .arg("-ladvapi32"),
        "mingw-w64 could not build the test-only bcryptprimitives.dll",
    )?;
    run(wine(paths).args(["wineboot", "--init"]), "Wine could not create its prefix: is the wine64 package whole?")?;
    // wineboot returns while the server still writes the registry; wait for it.
    run(
        Command::new(WINESERVER).arg("--wait").env("WINEPREFIX", prefix(paths)),
        "wineserver did not finish setting up the prefix",
    )?;
    std::fs::copy(&built, &stand_in).with_context(|| format!("copying the stand-in to {}", stand_in.display()))?;
    Ok(())
}

/// The WebGPU provider for Windows (`onnxruntime-ep-webgpu`, D3D12 through Dawn), as `sift
/// providers install webgpu` fetches it on Windows: it must stay the release
/// `sift_inference::providers::PACKAGES` names (a test below checks).
const WEBGPU_WHEEL: (&str, &str) = ("onnxruntime-ep-webgpu", "0.4.0");

/// A providers folder (`$SIFT_PROVIDER_DIR` for `sift.exe`) holding the Windows WebGPU
/// provider, for the tests of what a GPU provider that finds no device does under Wine.
pub fn providers(paths: &Paths) -> Result<PathBuf> {
    let dir = paths.target.join("wine").join("providers");
    let webgpu = dir.join("webgpu");
    let (name, version) = WEBGPU_WHEEL;
    let wheel_file = python::windows_wheel(paths, name, version)?;
    for library in ["onnxruntime_providers_webgpu.dll", "dxcompiler.dll", "dxil.dll"] {
        let dest = webgpu.join(library);
        if !dest.is_file() {
            wheel::extract(&wheel_file, &format!("onnxruntime_ep_webgpu/{library}"), &dest)?;
        }
    }
    Ok(dir)
}

/// `wine64` in the test prefix, quiet, without the .NET and browser add-ons (nothing here uses
/// them, and their installers would ask for a download).
pub fn wine(paths: &Paths) -> Command {
    let mut cmd = Command::new(WINE);
    cmd.env("WINEPREFIX", prefix(paths)).env("WINEDEBUG", "-all").env("WINEDLLOVERRIDES", "mscoree,mshtml=");
    cmd
}

/// `path` as a Windows program under Wine names it: on drive `Z:`, which Wine maps to `/`.
pub fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_wine_tests_fetch_the_webgpu_release_sift_installs() {
        let (name, version) = super::WEBGPU_WHEEL;
        let source = include_str!("../../../crates/inference/src/providers.rs");
        assert!(
            source.contains(&format!("\"{name}=={version}\"")),
            "providers.rs no longer installs {name}=={version}"
        );
    }
}
