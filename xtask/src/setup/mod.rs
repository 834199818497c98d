//! `cargo xtask setup`: everything outside crates.io that Sift needs, fetched from PyPI. Each
//! step checks whether its output is already up to date and skips itself, so running setup again
//! is cheap and needs no network.

mod demo_clip;
mod model;
mod own_model;
mod runtime;
mod venv;

use crate::paths::Paths;
use crate::{process, product};
use anyhow::{Context, Result};

pub use model::{WEIGHTS_PACKAGE as SPLEETER_WHEEL, WEIGHTS_VERSION as SPLEETER_WHEEL_VERSION};

pub fn run(paths: &Paths) -> Result<()> {
    step(1, "Python environment (.venv)", || venv::ensure(paths))?;
    step(2, "ONNX Runtime shared library (runtime/)", || runtime::ensure(paths))?;
    step(3, "default model (models/spleeter-2stems.onnx)", || model::ensure(paths))?;
    step(4, "Sift's own four-stem model and its composition with Spleeter (models/sift-4stem.onnx, models/spleeter+sift-4stem.compose.toml)", || own_model::ensure(paths))?;
    step(5, "demo clip (demo/falcon69)", || demo_clip::ensure(paths))?;
    println!("==> setup done");
    Ok(())
}

const STEPS: usize = 5;

/// `setup --model NAME`: installs a model Sift may fetch but not bundle, through the `sift`
/// binary's own installer (npm, checksum, licence), so there is one way to install it.
pub fn install_model(paths: &Paths, name: &str) -> Result<()> {
    println!("==> model {name} (not bundled: fetched for this user, under its own licence)");
    let sift = product::build_sift(paths)?;
    process::run(
        process::command(paths, sift).args(["models", "install", name]),
        "the model could not be installed: see the message above",
    )
}

/// Whether a step did work or found its output up to date.
#[derive(PartialEq, Eq)]
enum Outcome {
    Done,
    UpToDate,
}

fn step(number: usize, what: &str, body: impl FnOnce() -> Result<Outcome>) -> Result<()> {
    println!("==> [{number}/{STEPS}] {what}");
    match body().with_context(|| format!("setup step {number}/{STEPS} ({what}) failed"))? {
        Outcome::Done => println!("    done"),
        Outcome::UpToDate => println!("    up to date, skipped"),
    }
    Ok(())
}

/// When `path` was last written; `None` when it does not exist.
fn modified(path: &std::path::Path) -> Option<std::time::SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}
