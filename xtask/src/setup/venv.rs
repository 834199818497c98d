//! Step 1: `.venv` with `model/requirements.txt` installed. A stamp in the venv holds the
//! requirements it was installed from, so pip runs again only when the file changes.

use super::Outcome;
use crate::paths::Paths;
use crate::python;
use anyhow::{Context, Result};

pub fn ensure(paths: &Paths) -> Result<Outcome> {
    let requirements_path = paths.requirements();
    let requirements = std::fs::read_to_string(&requirements_path)
        .with_context(|| format!("reading {}", requirements_path.display()))?;
    let stamp = paths.venv().join("sift-requirements.stamp");
    let installed = std::fs::read_to_string(&stamp).ok();
    if python::venv_python(paths).is_file() && installed.as_deref() == Some(requirements.as_str()) {
        return Ok(Outcome::UpToDate);
    }
    python::ensure_venv(paths)?;
    python::install_requirements(paths, &requirements_path)?;
    std::fs::write(&stamp, requirements).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(Outcome::Done)
}
