//! Step 4: Sift's own four-stem streaming model, trained in this repository and committed as
//! `model/weights/sift-4stem.onnx` (a few MB; `model/training/export.py` writes it). Installing
//! it is a copy into `models/`, where the `sift` binaries of this tree look, redone whenever the
//! committed file changes; with it, the composed four-stem model's description
//! (`model/weights/spleeter+sift-4stem.compose.toml`), which names it.

use super::{modified, Outcome};
use crate::paths::Paths;
use anyhow::{Context, Result};

/// Smaller than this, the committed file is not the model (a Git LFS pointer, a truncated
/// checkout): the exported network is ~3 MB.
const MIN_BYTES: u64 = 100_000;

/// Installs the own model, then the composed model's description (which names it).
pub fn ensure(paths: &Paths) -> Result<Outcome> {
    let model = install(&paths.own_model_source(), &paths.own_model(), MIN_BYTES, paths)?;
    let composed = install(&paths.composed_model_source(), &paths.composed_model(), 1, paths)?;
    Ok(if model == Outcome::UpToDate && composed == Outcome::UpToDate { Outcome::UpToDate } else { Outcome::Done })
}

/// Copies the committed `source` (at least `min_bytes` long) to `installed` unless it is there.
fn install(source: &std::path::Path, installed: &std::path::Path, min_bytes: u64, paths: &Paths) -> Result<Outcome> {
    let bytes = source.metadata().map(|m| m.len()).with_context(|| {
        format!("{} is missing from this checkout: `git checkout -- model/weights` restores it", source.display())
    })?;
    anyhow::ensure!(
        bytes >= min_bytes,
        "{} has only {bytes} bytes: not the exported model (a Git LFS pointer?)",
        source.display()
    );
    if let (Some(committed), Some(copied)) = (modified(source), modified(installed)) {
        let same_size = installed.metadata().is_ok_and(|m| m.len() == bytes);
        if copied >= committed && same_size {
            return Ok(Outcome::UpToDate);
        }
    }
    std::fs::create_dir_all(paths.models()).with_context(|| format!("creating {}", paths.models().display()))?;
    // Copied under another name and renamed, so an interrupted copy never looks installed.
    let copying = installed.with_extension("copying");
    std::fs::copy(source, &copying)
        .with_context(|| format!("copying {} to {}", source.display(), copying.display()))?;
    std::fs::rename(&copying, installed)
        .with_context(|| format!("moving {} to {}", copying.display(), installed.display()))?;
    Ok(Outcome::Done)
}
