//! Installed models, found by name.

use std::path::{Path, PathBuf};

use super::InferenceError;

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = "spleeter-2stems";

/// Environment variable naming an extra folder of models, searched first.
pub const MODEL_DIR_ENV: &str = "SIFT_MODEL_DIR";

/// Folders searched for `<name>.onnx`, in order: `$SIFT_MODEL_DIR`; `models/` next to the
/// running binary or in `../Resources/` beside it (bundles); the user's models folder; `models/` of the source tree, for
/// binaries running from its `target/` folder (after `cargo xtask setup`).
pub fn model_dirs(binary_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os(MODEL_DIR_ENV) {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(dir) = binary_dir {
        dirs.push(dir.join("models"));
        dirs.push(dir.join("../Resources/models"));
    }
    if let Some(dir) = user_model_dir() {
        dirs.push(dir);
    }
    if let Some(tree) = super::runtime::source_tree(binary_dir) {
        dirs.push(tree.join("models"));
    }
    dirs
}

/// The per-user models folder: `$XDG_DATA_HOME/sift/models` or `~/.local/share/sift/models`
/// (`%APPDATA%\Sift\models` on Windows).
pub fn user_model_dir() -> Option<PathBuf> {
    if cfg!(target_os = "windows") {
        return std::env::var_os("APPDATA").map(|d| PathBuf::from(d).join("Sift").join("models"));
    }
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("sift").join("models"))
}

/// Every installed model: `(name, path)`, first found wins.
pub fn installed(binary_dir: Option<&Path>) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for dir in model_dirs(binary_dir) {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for path in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "onnx")) {
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if !found.iter().any(|(n, _)| *n == name) {
                found.push((name, path));
            }
        }
    }
    found
}

/// The licence a model's sidecar file (`<name>.sift-meta`, see [`crate::contract::add_sidecar`])
/// declares, read without loading the model: for pickers that list a model with its licence
/// before anyone loads it. `None` without a sidecar or a `sift.licence` in it.
pub fn sidecar_licence(model: &Path) -> Option<String> {
    let text = std::fs::read_to_string(model.with_extension(super::contract::SIDECAR_EXTENSION)).ok()?;
    let mut meta = std::collections::HashMap::new();
    super::contract::add_sidecar(&mut meta, &text).ok()?;
    meta.remove("sift.licence")
}

/// Resolves what the user typed (a file path or an installed model's name) to a file.
pub fn resolve(model: Option<&str>, binary_dir: Option<&Path>) -> Result<PathBuf, InferenceError> {
    let wanted = model.unwrap_or(DEFAULT_MODEL);
    let as_path = Path::new(wanted);
    if as_path.is_file() || wanted.ends_with(".onnx") || wanted.contains(std::path::MAIN_SEPARATOR) {
        return Ok(as_path.to_owned());
    }
    let models = installed(binary_dir);
    models.iter().find(|(name, _)| name == wanted).map(|(_, p)| p.clone()).ok_or_else(|| InferenceError::UnknownModel {
        name: wanted.to_owned(),
        installed: if models.is_empty() {
            "none".to_owned()
        } else {
            models.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
        },
    })
}
