//! `cargo xtask demo`: separates the demo clip with the default model and scores the stems
//! against the clip's own reference stems, the quickest end-to-end look at the product; then
//! bundles the CLAP and VST3 plugins into `target/bundled`.

use crate::paths::Paths;
use crate::process::{self, command};
use crate::{bundle, product, setup};
use anyhow::{Context, Result};

pub fn run(paths: &Paths) -> Result<()> {
    setup::run(paths)?;
    let sift = product::build_sift(paths)?;
    let reference = paths.demo_reference();
    let out = paths.demo().join("out");

    println!("==> separating demo/falcon69/mixture.wav");
    process::run(
        command(paths, &sift)
            .arg("separate")
            .arg(reference.join("mixture.wav"))
            .arg("-o")
            .arg(&out)
            .args(["--mode", "balanced"]),
        "`sift separate` failed: see its message above",
    )?;

    println!("==> scoring the stems against demo/falcon69 (SDR, dB)");
    process::run(
        command(paths, &sift).arg("eval").arg("--reference").arg(&reference).arg(&out),
        "`sift eval` failed: see its message above",
    )?;

    println!("==> stems written to {}:", out.display());
    let mut stems = std::fs::read_dir(&out)
        .with_context(|| format!("reading {}", out.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wav"))
        .collect::<Vec<_>>();
    stems.sort();
    for stem in stems {
        println!("    {}", stem.display());
    }

    // The release build above already built the plugin library; this only lays out the bundles.
    bundle::bundle_after_setup(paths, &["--release".to_string()])?;
    println!("    install them with `cargo xtask install`");
    Ok(())
}
