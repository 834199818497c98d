//! The product's command-line binary, `target/release/sift`, which the demo and the demo-clip
//! unpacking drive.

use crate::paths::Paths;
use crate::process::{cargo, run};
use anyhow::Result;
use std::path::PathBuf;

/// Builds `sift` in release mode (a no-op when it is up to date) and returns its path.
pub fn build_sift(paths: &Paths) -> Result<PathBuf> {
    run(
        cargo(paths).args(["build", "--release", "-p", "sift-cli", "--bin", "sift"]),
        "the sift-cli package does not build: fix the compile errors above",
    )?;
    Ok(paths.sift_binary())
}
