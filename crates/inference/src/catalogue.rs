//! Installed models, found by name.

use std::path::{Path, PathBuf};

use sift_engine::Mode;

use super::locations::model_dirs;
use super::InferenceError;

/// The model used when none is named, in `balanced` and `studio` (and by [`resolve`]): Spleeter
/// 2-stem, the best vocals Sift may ship.
pub const DEFAULT_MODEL: &str = "spleeter-2stems";

/// The model `live` runs when none is named, where it is installed: Sift's own streaming
/// four-stem model, 29 ms at 44.1 kHz with all four stem buses lit, where Spleeter takes 300 ms
/// for two stems. A DJ who picks `live` wants the drums to mute now.
pub const LIVE_MODEL: &str = "sift-4stem";

/// How a composed model's description file's name ends (`crate::composed`):
/// `spleeter+sift-4stem.compose.toml` describes the model `spleeter+sift-4stem`.
pub const COMPOSED_SUFFIX: &str = ".compose.toml";

/// Whether the file at `path` is a composed model's description, by its name.
pub fn is_composed(path: &Path) -> bool {
    path.to_str().is_some_and(|p| p.ends_with(COMPOSED_SUFFIX) && path_model_name(p).is_some())
}

/// The name of the model whose file is at `path` (an ONNX file or a description), if it is one.
pub fn model_name(path: &Path) -> Option<String> {
    path.to_str().and_then(path_model_name).map(str::to_owned)
}

/// Every installed model: `(name, path)`, first found wins. A model is an ONNX file or a
/// composed model's description ([`COMPOSED_SUFFIX`]).
pub fn installed(binary_dir: Option<&Path>) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for dir in model_dirs(binary_dir) {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for path in files {
            let Some(name) = model_name(&path) else { continue };
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

/// The model `balanced` and `studio` run when none is named, where it and both its parts are
/// installed: Spleeter's vocals with Sift's own drums, bass and other (`crate::composed`), four
/// stems where Spleeter alone gives two, at Spleeter's latency.
pub const COMPOSED_MODEL: &str = "spleeter+sift-4stem";

/// The model `mode` runs when the user names none, among the `installed` ones (`(name, path)`,
/// as [`installed`] lists them): [`LIVE_MODEL`] in `live` and [`COMPOSED_MODEL`] in the others
/// where they are installed, [`DEFAULT_MODEL`] otherwise (an install without Sift's own model
/// keeps working in every mode).
pub fn default_for(mode: Mode, installed: &[(String, PathBuf)]) -> &'static str {
    let has = |wanted: &str| installed.iter().any(|(name, _)| name == wanted);
    match mode {
        Mode::Live if has(LIVE_MODEL) => LIVE_MODEL,
        Mode::Balanced | Mode::Studio if has(COMPOSED_MODEL) && has(LIVE_MODEL) && has(DEFAULT_MODEL) => COMPOSED_MODEL,
        _ => DEFAULT_MODEL,
    }
}

/// [`resolve`] for a latency mode: with no name, the model that mode runs by default
/// ([`default_for`]). What the command line and the plugins run.
pub fn resolve_for(model: Option<&str>, mode: Mode, binary_dir: Option<&Path>) -> Result<PathBuf, InferenceError> {
    if model.is_some() {
        return resolve(model, binary_dir);
    }
    let models = installed(binary_dir);
    find_installed(default_for(mode, &models), &models)
}

/// Resolves what the user typed (a file path or an installed model's name) to a file.
///
/// A path whose file is missing here but names an installed model (`…/sift-4stem.onnx`, with
/// `/` or `\\` separators) resolves to the installed copy: a project saved on another machine
/// or platform, or before the plugin was installed elsewhere, holds the path it had there, and
/// opens with the same model here. The path itself is what stays saved.
pub fn resolve(model: Option<&str>, binary_dir: Option<&Path>) -> Result<PathBuf, InferenceError> {
    let wanted = model.unwrap_or(DEFAULT_MODEL);
    let as_path = Path::new(wanted);
    if as_path.is_file() {
        return Ok(as_path.to_owned());
    }
    if path_model_name(wanted).is_some() || wanted.contains(['/', '\\']) {
        let installed_here = path_model_name(wanted).and_then(|name| find_installed(name, &installed(binary_dir)).ok());
        return Ok(installed_here.unwrap_or_else(|| as_path.to_owned()));
    }
    find_installed(wanted, &installed(binary_dir))
}

/// The model name a path ends in, whichever platform wrote it: `sift-4stem` for
/// `C:\\Users\\u\\AppData\\Local\\Sift\\models\\sift-4stem.onnx` and for `/home/u/x/sift-4stem.onnx`,
/// `spleeter+sift-4stem` for `…/spleeter+sift-4stem.compose.toml`; `None` for other files.
fn path_model_name(path: &str) -> Option<&str> {
    let file = path.rsplit(['/', '\\']).next()?;
    file.strip_suffix(COMPOSED_SUFFIX).or_else(|| file.strip_suffix(".onnx")).filter(|name| !name.is_empty())
}

/// The file of the installed model named `wanted` among `models`, or an error that lists them.
fn find_installed(wanted: &str, models: &[(String, PathBuf)]) -> Result<PathBuf, InferenceError> {
    models.iter().find(|(name, _)| name == wanted).map(|(_, p)| p.clone()).ok_or_else(|| InferenceError::UnknownModel {
        name: wanted.to_owned(),
        installed: if models.is_empty() {
            "none".to_owned()
        } else {
            models.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models(names: &[&str]) -> Vec<(String, PathBuf)> {
        names.iter().map(|name| (name.to_string(), PathBuf::from(format!("models/{name}.onnx")))).collect()
    }

    #[test]
    fn a_path_from_another_platform_names_its_model() {
        assert_eq!(path_model_name(r"C:\Users\u\AppData\Local\Sift\models\sift-4stem.onnx"), Some("sift-4stem"));
        assert_eq!(
            path_model_name("/home/u/.vst3/sift.vst3/Contents/Resources/models/htdemucs.onnx"),
            Some("htdemucs")
        );
        assert_eq!(path_model_name("model.onnx"), Some("model"));
        assert_eq!(path_model_name("/models/.onnx"), None);
        assert_eq!(path_model_name("/models/notes.txt"), None);
    }

    #[test]
    fn a_missing_path_resolves_to_the_installed_model_of_its_name() {
        let dir = std::env::temp_dir().join(format!("sift-catalogue-{}", std::process::id()));
        let models = dir.join("models");
        std::fs::create_dir_all(&models).unwrap();
        std::fs::write(models.join("sift-4stem.onnx"), b"stand-in").unwrap();
        let found = |wanted: &str| resolve(Some(wanted), Some(&dir));
        // Saved on Windows, opened here; saved in another Linux folder; an unknown model.
        let windows = r"C:\Program Files\Common Files\CLAP\Sift\models\sift-4stem.onnx";
        let elsewhere = "/home/someone/.vst3/sift.vst3/Contents/Resources/models/sift-4stem.onnx";
        let (from_windows, from_elsewhere) = (found(windows).unwrap(), found(elsewhere).unwrap());
        let unknown = found("/nowhere/other-model.onnx").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(from_windows, models.join("sift-4stem.onnx"));
        assert_eq!(from_elsewhere, models.join("sift-4stem.onnx"));
        // Not installed: the path as given, whose load then says the file is missing.
        assert_eq!(unknown, Path::new("/nowhere/other-model.onnx"));
    }

    #[test]
    fn live_runs_sifts_own_model_the_others_the_composition_where_installed_and_spleeter_elsewhere() {
        let both = models(&["htdemucs", "sift-4stem", "spleeter-2stems"]);
        assert_eq!(default_for(Mode::Live, &both), "sift-4stem");
        assert_eq!(default_for(Mode::Balanced, &both), "spleeter-2stems");
        let all = models(&["htdemucs", "sift-4stem", "spleeter+sift-4stem", "spleeter-2stems"]);
        assert_eq!(default_for(Mode::Live, &all), "sift-4stem");
        assert_eq!(default_for(Mode::Balanced, &all), "spleeter+sift-4stem");
        assert_eq!(default_for(Mode::Studio, &all), "spleeter+sift-4stem");
        // A composition whose part is missing is not a default; an install without Sift's own
        // model keeps working in every mode.
        assert_eq!(default_for(Mode::Studio, &models(&["spleeter+sift-4stem", "spleeter-2stems"])), "spleeter-2stems");
        assert_eq!(default_for(Mode::Live, &models(&["spleeter-2stems"])), "spleeter-2stems");
        assert_eq!(default_for(Mode::Live, &[]), "spleeter-2stems");
    }

    #[test]
    fn a_composed_models_description_is_listed_by_its_name() {
        assert_eq!(path_model_name("/x/models/spleeter+sift-4stem.compose.toml"), Some("spleeter+sift-4stem"));
        assert_eq!(path_model_name(r"C:\m\spleeter+sift-4stem.compose.toml"), Some("spleeter+sift-4stem"));
        assert_eq!(path_model_name("/x/models/.compose.toml"), None);
        assert_eq!(path_model_name("/x/models/settings.toml"), None);
    }
}
