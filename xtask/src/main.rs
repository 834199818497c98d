//! `cargo xtask`: the developer and CI entry points of Sift.
//!
//! Everything a fresh clone needs that is not a crate (the Python tool chain, the ONNX Runtime
//! shared library, the default model, a demo clip) comes from PyPI through `setup`, so that
//! `demo`, `test` and `bench` always run against the same, reproducible files.

mod bench;
mod bundle;
mod demo;
mod eval;
mod install;
mod paths;
mod process;
mod product;
mod providers;
mod python;
mod setup;
mod system_packages;
mod test;
mod training_tests;
mod wheel;
mod windows;

use anyhow::{bail, Result};
use paths::Paths;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup [--model NAME | --gpu webgpu|openvino|cuda]
          create .venv, fetch the ONNX Runtime library, build the default model, unpack the demo clip;
          with --model, also install a model Sift does not bundle (`htdemucs`: four stems, personal and
          research use only) into the user's models folder with `sift models install NAME`
  demo    setup, then separate the demo clip, score the stems against its reference stems and bundle the plugins
  bundle sift [--release]
          setup, then build the CLAP and VST3 plugins into target/bundled (sift.clap, sift.vst3) with the
          ONNX Runtime library and the default model; other `cargo build` options are passed on
  bundle --target windows
          the Windows download: the VST3 and CLAP plugins and sift.exe built for Windows x86-64 with Debian's
          Rust and mingw-w64 (installed as root where missing), ONNX Runtime's DLL, the models, licences and an
          install note in target/bundled/windows, zipped as target/bundled/sift-<version>-windows-x86_64.zip
  install bundle in release mode, then copy the plugins to ~/.vst3/sift.vst3 and ~/.clap/Sift (Linux)
  test    check (and as root, install) the system packages the tests need, setup, bundle for Linux and Windows, then
          run `cargo test --workspace` (debug assertions on, so the allocation guard is armed; the Windows build's
          tests run it under Wine), the VST3 host tests with the runtime, models and eval data, and the training
          pipeline's tests
  test-training
          only the training pipeline's tests (model/training/tests), after the system packages they need
  system-packages
          only the first step of `test`: check the system packages the tests need, install missing ones as root
  bench   setup, then run the `bench` example of the sift package
  eval [--model NAME|FILE]... [--modes live,balanced,studio] [--no-plot]
          separate the eval clips (../shared/eval) and the demo clip with every installed model in every
          mode; print latency, real-time factor and per-stem SDR, write target/eval/results.json and
          plot docs/quality-vs-latency.png
  gpu-check [--prepare] [--lavapipe]
          pack target/gpu-check (sift, runtime, WebGPU provider, float16-weight model, eval clip; < 64 MiB) and
          run its run.sh: CPU against WebGPU, figures to $OUT; --prepare only packs (for the GPU machine)";

fn main() {
    if let Err(err) = run() {
        eprintln!("\nerror: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let paths = Paths::discover();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["setup"] => setup::run(&paths),
        ["setup", "--model", name] => setup::run(&paths).and_then(|()| setup::install_model(&paths, name)),
        ["setup", "--gpu", name] => setup::run(&paths).and_then(|()| providers::install_for_user(&paths, name)),
        ["gpu-check", ..] => setup::run(&paths).and_then(|()| providers::gpu_check(&paths, &args[1..])),
        ["demo"] => demo::run(&paths),
        ["bundle", ..] => bundle::command(&paths, &args[1..]),
        ["install"] => install::run(&paths),
        ["test"] => test::run(&paths),
        ["system-packages"] => system_packages::ensure(),
        ["test-training"] => {
            system_packages::ensure().and_then(|()| training_tests::run_tests(&paths)).and_then(|status| {
                if status != 0 {
                    bail!("the training pipeline's tests failed (pytest exited {status})");
                }
                Ok(())
            })
        }
        ["bench"] => bench::run(&paths),
        ["eval", ..] => eval::run(&paths, &args[1..]),
        ["help" | "-h" | "--help"] => {
            println!("{USAGE}");
            Ok(())
        }
        [] => bail!("no command given\n\n{USAGE}"),
        _ => bail!("unknown command `{}`\n\n{USAGE}", args.join(" ")),
    }
}
