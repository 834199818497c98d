//! `cargo xtask bench`: the `bench` example of the sift package, with the runtime library and the
//! default model that setup prepared.

use crate::paths::Paths;
use crate::process::{self, cargo};
use crate::setup;
use anyhow::Result;

pub fn run(paths: &Paths) -> Result<()> {
    setup::run(paths)?;
    println!("==> cargo run --release -p sift-cli --example bench");
    process::run(
        cargo(paths).args(["run", "--release", "-p", "sift-cli", "--example", "bench"]),
        "the bench example failed: see its output above",
    )
}
