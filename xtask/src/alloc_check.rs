//! The plugin's audio path allocates nothing: a debug build of the plugin with nice-plug's
//! `assert_process_allocs`, which aborts the process when `process()` or `reset()` allocates,
//! run through the CLAP test host's audio and lifecycle tests.
//!
//! The engine's own `AudioProcessor` has its allocation test (`crates/engine/tests/no_alloc.rs`);
//! this one covers everything the plugin adds around it (remix, meters, restarts, routing) and
//! nice-plug's wrapper, in a real host.

use crate::paths::Paths;
use crate::process::{self, cargo};
use anyhow::{Context, Result};
use std::path::PathBuf;

/// The CLAP host's test files run on the checked plugin.
pub const TESTS: &[&str] = &["audio", "lifecycle"];

/// Builds the checked plugin and copies it to `target/alloc-check/libsift.so` (a copy: the
/// workspace's own debug builds write `target/debug/libsift.so` without the check). Under
/// `target/`, so it finds the runtime and models of the source tree as any binary built here.
pub fn build(paths: &Paths) -> Result<PathBuf> {
    process::run(
        cargo(paths).args(["build", "-p", crate::bundle::PACKAGE, "--features", "assert_process_allocs"]),
        "the debug plugin with the allocation check failed to build",
    )?;
    let built = paths.target.join("debug/libsift.so");
    let dir = paths.target.join("alloc-check");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let checked = dir.join("libsift.so");
    std::fs::copy(&built, &checked)
        .with_context(|| format!("cannot copy {} to {}", built.display(), checked.display()))?;
    Ok(checked)
}
