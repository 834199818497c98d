//! The project's Python environment (`.venv`): it builds the ONNX models, and its `pip` fetches
//! wheels from PyPI for a platform tag that matches this machine.

use crate::paths::Paths;
use crate::process::{command, run};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

const PYPI_HINT: &str = "check network access to PyPI (and any proxy or PIP_INDEX_URL / pip.conf \
                         settings), then run `cargo xtask setup` again";

pub fn venv_python(paths: &Paths) -> PathBuf {
    venv_bin(paths, "python")
}

fn venv_pip(paths: &Paths) -> PathBuf {
    venv_bin(paths, "pip")
}

fn venv_bin(paths: &Paths, tool: &str) -> PathBuf {
    let (dir, suffix) = if cfg!(windows) { ("Scripts", ".exe") } else { ("bin", "") };
    paths.venv().join(dir).join(format!("{tool}{suffix}"))
}

/// Creates `.venv` unless it already has both `python` and `pip` (a half-made one is redone).
pub fn ensure_venv(paths: &Paths) -> Result<()> {
    if venv_python(paths).is_file() && venv_pip(paths).is_file() {
        return Ok(());
    }
    let python = if cfg!(windows) { "python" } else { "python3" };
    run(
        command(paths, python).args(["-m", "venv"]).arg(paths.venv()),
        "Python 3 with its venv module is needed: on Debian/Ubuntu `apt-get install python3-venv`",
    )
}

/// `pip install -r <requirements>` in the venv.
pub fn install_requirements(paths: &Paths, requirements: &Path) -> Result<()> {
    run(pip(paths).arg("install").arg("-r").arg(requirements), PYPI_HINT)
}

/// The wheel of `name==version` in the wheel cache, downloaded with the venv's pip unless a wheel
/// of that release is already there (so a repeated setup needs no network).
pub fn wheel(paths: &Paths, name: &str, version: &str, binary: bool) -> Result<PathBuf> {
    let only_binary: &[&str] = if binary { &["--only-binary=:all:"] } else { &[] };
    download(paths, &paths.wheel_cache(), name, version, only_binary)
}

/// The Windows x86-64 (`win_amd64`) wheel of `name==version`, for the Windows bundle; kept in a
/// cache of its own, since its file name starts like this machine's wheel of the same release.
pub fn windows_wheel(paths: &Paths, name: &str, version: &str) -> Result<PathBuf> {
    let cache = paths.wheel_cache().join("win_amd64");
    // The DLLs inside do not depend on the Python version; pip needs one to match a tag.
    let platform = ["--only-binary=:all:", "--platform", "win_amd64", "--python-version", "3.11"];
    download(paths, &cache, name, version, &platform)
}

fn download(paths: &Paths, cache: &Path, name: &str, version: &str, options: &[&str]) -> Result<PathBuf> {
    if let Some(found) = cached_wheel(cache, name, version)? {
        return Ok(found);
    }
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let mut cmd = pip(paths);
    cmd.args(["download", "--no-deps"]).args(options);
    cmd.arg(format!("{name}=={version}")).arg("-d").arg(cache);
    run(&mut cmd, PYPI_HINT)?;
    cached_wheel(cache, name, version)?
        .with_context(|| format!("pip reported success but no {name}-{version}-*.whl is in {}", cache.display()))
}

fn pip(paths: &Paths) -> std::process::Command {
    let mut cmd = command(paths, venv_pip(paths));
    cmd.env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    cmd
}

/// Wheel file names start with the project name (`-` written as `_`) and the version.
fn cached_wheel(cache: &Path, name: &str, version: &str) -> Result<Option<PathBuf>> {
    if !cache.is_dir() {
        return Ok(None);
    }
    let prefix = format!("{}-{version}-", name.replace('-', "_"));
    for entry in std::fs::read_dir(cache).with_context(|| format!("reading {}", cache.display()))? {
        let path = entry?.path();
        let file_name = path.file_name().unwrap_or_default().to_string_lossy();
        if file_name.starts_with(&prefix) && file_name.ends_with(".whl") {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::cached_wheel;

    #[test]
    fn finds_only_the_wheel_of_the_asked_release() {
        let cache = std::env::temp_dir().join(format!("xtask-wheels-{}", std::process::id()));
        std::fs::create_dir_all(&cache).unwrap();
        for name in ["onnxruntime-1.30.0-cp311-cp311-linux.whl", "torch_spleeter-0.1.5-py3-none-any.whl"] {
            std::fs::write(cache.join(name), b"").unwrap();
        }
        let hyphenated = cached_wheel(&cache, "torch-spleeter", "0.1.5").unwrap();
        let other_version = cached_wheel(&cache, "onnxruntime", "1.31.1").unwrap();
        std::fs::remove_dir_all(&cache).unwrap();
        assert_eq!(hyphenated.unwrap().file_name().unwrap(), "torch_spleeter-0.1.5-py3-none-any.whl");
        assert_eq!(other_version, None);
    }
}
