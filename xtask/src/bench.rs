//! `cargo xtask bench`: `sift bench` (a `sift` built with the `bench` feature), with the runtime
//! library and the default model that setup prepared. Arguments after `--` go to `sift bench`.

use crate::paths::Paths;
use crate::process::{self, cargo};
use crate::setup;
use anyhow::Result;

pub fn run(paths: &Paths, args: &[String]) -> Result<()> {
    setup::run(paths)?;
    println!("==> cargo run --release -p sift-cli --features bench -- bench {}", args.join(" "));
    process::run(
        cargo(paths).args(["run", "--release", "-p", "sift-cli", "--features", "bench", "--", "bench"]).args(args),
        "sift bench failed: see its output above",
    )
}
