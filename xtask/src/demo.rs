//! `cargo xtask demo`: separates the demo clip with `balanced`'s default (the composed four-stem
//! model: Spleeter's vocals, Sift's own drums, bass and other) and with Sift's own four-stem model
//! (`live`, as a live user hears it) and scores the stems against the
//! clip's own reference stems, the quickest end-to-end look at the product; then bundles the
//! CLAP and VST3 plugins into `target/bundled`.

use crate::paths::{Paths, OWN_MODEL};
use crate::process::{self, command};
use crate::{bundle, product, setup};
use anyhow::{Context, Result};
use std::path::Path;

pub fn run(paths: &Paths) -> Result<()> {
    setup::run(paths)?;
    let sift = product::build_sift(paths)?;
    let separations = [
        (
            "`balanced`'s default, Spleeter's vocals with Sift's own drums, bass and other",
            "out",
            &["--mode", "balanced"][..],
        ),
        (
            "Sift's own four-stem model in `live` (host blocks of 256)",
            "out-4stem",
            &["--model", OWN_MODEL, "--mode", "live", "--block", "256"][..],
        ),
    ];
    for (what, folder, options) in separations {
        separate_and_score(paths, &sift, what, &paths.demo().join(folder), options)?;
    }
    // The release build above already built the plugin library; this only lays out the bundles.
    bundle::bundle_after_setup(paths, &["--release".to_string()])?;
    println!("    install them with `cargo xtask install`");
    Ok(())
}

/// Separates the demo mixture into `out` with `sift separate ... options`, scores the stems
/// against the clip's reference stems and lists them.
fn separate_and_score(paths: &Paths, sift: &Path, what: &str, out: &Path, options: &[&str]) -> Result<()> {
    let reference = paths.demo_reference();
    println!("==> separating demo/falcon69/mixture.wav with {what}");
    // `--force`: the folder is the demo's own, and a second demo replaces the first one's stems.
    process::run(
        command(paths, sift)
            .arg("separate")
            .arg(reference.join("mixture.wav"))
            .arg("-o")
            .arg(out)
            .arg("--force")
            .args(options),
        "`sift separate` failed: see its message above",
    )?;

    println!("==> scoring the stems against demo/falcon69 (SDR, dB)");
    process::run(
        command(paths, sift).arg("eval").arg("--reference").arg(&reference).arg(out),
        "`sift eval` failed: see its message above",
    )?;

    println!("==> stems written to {}:", out.display());
    let mut stems = std::fs::read_dir(out)
        .with_context(|| format!("reading {}", out.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wav"))
        .collect::<Vec<_>>();
    stems.sort();
    for stem in stems {
        println!("    {}", stem.display());
    }
    Ok(())
}
