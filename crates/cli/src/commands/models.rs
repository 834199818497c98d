//! `sift models`.

use std::path::PathBuf;

use serde_json::json;
use sift_engine::MaskModel;
use sift_inference::{catalogue, locations, InferenceError, Model, SessionOptions};

use super::install::FETCHABLE;

/// What loading an installed model found.
enum Check {
    /// It loaded and ran: its rate, stems and licence.
    Usable { sample_rate: u32, stems: Vec<String>, licence: String },
    /// The runtime itself is missing or broken, so the file could not be checked.
    NotChecked(String),
    /// The file is not a usable model, and why.
    Broken(String),
}

/// Lists every installed model after loading it (each one is checked and test-run, as
/// `separate` would), with its licence: a file that is not a usable model is listed as broken,
/// with the reason. Then the models Sift can install but does not bundle, if not installed.
/// With `json`, the same as one JSON line.
pub fn run(json: bool) -> anyhow::Result<()> {
    let dir = locations::binary_dir();
    let folders = locations::model_dirs(dir.as_deref());
    let installed: Vec<(String, PathBuf, Check)> = catalogue::installed(dir.as_deref())
        .into_iter()
        .map(|(name, path)| {
            let check = check(&path);
            (name, path, check)
        })
        .collect();
    let fetchable: Vec<_> = FETCHABLE.iter().filter(|m| !installed.iter().any(|(name, _, _)| name == m.name)).collect();

    if json {
        let installed: Vec<_> = installed
            .iter()
            .map(|(name, path, check)| {
                let mut entry = json!({ "name": name, "path": path });
                match check {
                    Check::Usable { sample_rate, stems, licence } => {
                        entry["usable"] = json!(true);
                        entry["sample_rate"] = json!(sample_rate);
                        entry["stems"] = json!(stems);
                        entry["licence"] = json!(licence);
                    }
                    Check::NotChecked(why) | Check::Broken(why) => {
                        entry["usable"] = json!(false);
                        entry["problem"] = json!(why);
                    }
                }
                entry
            })
            .collect();
        let fetchable: Vec<_> = fetchable.iter().map(|m| json!({ "name": m.name, "licence": m.licence })).collect();
        println!("{}", json!({ "folders": folders, "installed": installed, "not_installed": fetchable }));
        return Ok(());
    }

    println!("folders searched, in order:");
    for d in &folders {
        println!("  {}", d.display());
    }
    if installed.is_empty() {
        println!("no models installed: run `cargo xtask setup`");
    }
    for (name, path, check) in &installed {
        let status = match check {
            Check::Usable { sample_rate, stems, licence } => {
                format!("{sample_rate} Hz, stems: {}; licence: {licence}", stems.join(", "))
            }
            Check::NotChecked(why) => format!("not checked: {why}"),
            Check::Broken(why) => format!("BROKEN: {why}"),
        };
        println!("{name:<24} {}  ({status})", path.display());
    }
    for model in fetchable {
        println!(
            "{:<24} not installed: `sift models install {}` fetches it (licence: {})",
            model.name, model.name, model.licence
        );
    }
    Ok(())
}

fn check(path: &std::path::Path) -> Check {
    match Model::load(path, &SessionOptions::default()) {
        Ok(model) => {
            let spec = model.spec();
            Check::Usable {
                sample_rate: spec.sample_rate,
                stems: spec.stems.iter().map(|s| s.to_string()).collect(),
                licence: spec.licence.to_string(),
            }
        }
        Err(e @ (InferenceError::RuntimeMissing { .. } | InferenceError::RuntimeBroken { .. })) => {
            Check::NotChecked(e.to_string())
        }
        Err(e) => Check::Broken(e.to_string()),
    }
}
