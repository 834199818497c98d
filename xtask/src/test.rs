//! `cargo xtask test`: the whole test suite against the real runtime library, the default model
//! and the shared evaluation clips, as CI runs it.

use crate::paths::Paths;
use crate::process::{cargo, run_for_status};
use crate::setup;
use anyhow::Result;

pub fn run(paths: &Paths) -> Result<()> {
    setup::run(paths)?;
    println!("==> cargo test --workspace");
    let code = run_for_status(
        cargo(paths)
            .args(["test", "--workspace"])
            .env("SIFT_EVAL_DIR", paths.eval_data()),
    )?;
    // Cargo's own exit status is the verdict, so CI sees exactly what cargo test said.
    std::process::exit(code);
}
