//! The training pipeline's tests (`model/training/tests`): a tiny data set made by the tests,
//! a seeded run that stops and resumes, and the export checked against PyTorch.
//!
//! They run in `target/venv-training`, a venv of Debian's own Python 3 that sees Debian's
//! PyTorch, NumPy, SciPy, soundfile and ONNX (`system_packages` installs them: PyPI's torch
//! wheels for Linux are CUDA builds, `model/training/setup_env.sh` says more), with pytest
//! and mido from `model/training/requirements.txt` and the ONNX Runtime wheel Sift runs (set-up
//! has it in the wheel cache) installed without its dependencies, since pip's protobuf would
//! shadow the Debian one `python3-onnx` uses. This is `setup_env.sh`'s venv without what only
//! rendering needs (pyworld, and the SoundFonts and other render packages the script installs),
//! with the Debian packages checked beside every other test's instead of by the script.

use crate::paths::{Paths, ORT_VERSION};
use crate::process::{command, run, run_for_status};
use crate::python;
use anyhow::Result;
use std::path::PathBuf;

/// Debian's interpreter, which its `python3-torch` is built for (not a pyenv or other one on `PATH`).
const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// Runs the tests; returns pytest's exit status.
pub fn run_tests(paths: &Paths) -> Result<i32> {
    let python = ensure_venv(paths)?;
    let mut pytest = command(paths, python);
    pytest.args(["-m", "pytest", "-q", "model/training/tests"]);
    run_for_status(&mut pytest)
}

/// `target/venv-training/bin/python`, creating the venv and installing into it unless it
/// holds what the current requirements file and runtime version ask for.
fn ensure_venv(paths: &Paths) -> Result<PathBuf> {
    let venv = paths.target.join("venv-training");
    let python = venv.join("bin/python");
    let requirements = paths.root.join("model/training/requirements.txt");
    // what was installed, written last: a venv whose installs failed half-way is redone
    let installed = venv.join(".sift-installed");
    let wanted = format!("onnxruntime {ORT_VERSION}\n{}", std::fs::read_to_string(&requirements)?);
    if python.is_file() && std::fs::read_to_string(&installed).is_ok_and(|had| had == wanted) {
        return Ok(python);
    }
    run(
        command(paths, DEBIAN_PYTHON).args(["-m", "venv", "--system-site-packages"]).arg(&venv),
        "Debian's python3 with its venv module is needed: `apt-get install python3-venv`",
    )?;
    let pip = || {
        let mut cmd = command(paths, venv.join("bin/pip"));
        cmd.env("PIP_DISABLE_PIP_VERSION_CHECK", "1").arg("install");
        cmd
    };
    let hint = "pip could not install the training tests' packages: is PyPI reachable?";
    run(pip().arg("-r").arg(&requirements), hint)?;
    let onnxruntime = python::wheel(paths, "onnxruntime", ORT_VERSION, true)?;
    run(pip().arg("--no-deps").arg(onnxruntime), hint)?;
    std::fs::write(&installed, wanted)?;
    Ok(python)
}
