//! `sift models`.

use sift_engine::MaskModel;
use sift_inference::{catalogue, InferenceError, OnnxModel, SessionOptions};

use super::install::FETCHABLE;

/// Lists every installed model after loading it (each one is checked and test-run, as
/// `separate` would), with its licence: a file that is not a usable model is listed as broken,
/// with the reason. Then the models Sift can install but does not bundle, if not installed.
pub fn run() -> anyhow::Result<()> {
    let dir = sift_inference::binary_location::binary_dir();
    println!("folders searched, in order:");
    for d in catalogue::model_dirs(dir.as_deref()) {
        println!("  {}", d.display());
    }
    let installed = catalogue::installed(dir.as_deref());
    if installed.is_empty() {
        println!("no models installed: run `cargo xtask setup`");
    }
    for (name, path) in &installed {
        let status = match OnnxModel::load(path, &SessionOptions::default()) {
            Ok(model) => {
                let spec = model.spec();
                format!("{} Hz, stems: {}; licence: {}", spec.sample_rate, spec.stems.join(", "), spec.licence)
            }
            Err(e @ (InferenceError::RuntimeMissing { .. } | InferenceError::RuntimeBroken { .. })) => {
                format!("not checked: {e}")
            }
            Err(e) => format!("BROKEN: {e}"),
        };
        println!("{name:<24} {}  ({status})", path.display());
    }
    for model in FETCHABLE.iter().filter(|m| !installed.iter().any(|(name, _)| name == m.name)) {
        println!(
            "{:<24} not installed: `sift models install {}` fetches it (licence: {})",
            model.name, model.name, model.licence
        );
    }
    Ok(())
}
