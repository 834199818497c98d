//! `cargo xtask`: the developer and CI entry points of Sift.
//!
//! Everything a fresh clone needs that is not a crate (the Python tool chain, the ONNX Runtime
//! shared library, the default model, a demo clip) comes from PyPI through `setup`, so that
//! `demo`, `test` and `bench` always run against the same, reproducible files.

mod alloc_check;
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
use clap::{Parser, Subcommand, ValueEnum};
use paths::Paths;

/// `cargo xtask <command>`: Sift's developer and CI entry points.
#[derive(Parser)]
#[command(name = "xtask", bin_name = "cargo xtask", about, long_about = None, disable_version_flag = true)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Create .venv, fetch the ONNX Runtime library, build the default model, unpack the demo clip
    Setup {
        /// Also install a model Sift does not bundle (`htdemucs`: four stems, personal and research
        /// use only) into the user's models folder, with `sift models install NAME`
        #[arg(long, conflicts_with = "gpu")]
        model: Option<String>,
        /// Also install an execution provider (webgpu, openvino, cuda) for this user
        #[arg(long)]
        gpu: Option<String>,
    },
    /// Setup, then separate the demo clip, score the stems against its reference stems and bundle
    /// the plugins
    Demo,
    /// Setup, then build the CLAP and VST3 plugins into target/bundled (sift.clap, sift.vst3) with
    /// the ONNX Runtime library and the shipped models
    ///
    /// `cargo xtask bundle sift [--release] [cargo build options]` bundles for this machine;
    /// `cargo xtask bundle --target windows` builds the Windows download: the VST3 and CLAP plugins
    /// and sift.exe for Windows x86-64 with Debian's Rust and mingw-w64 (installed as root where
    /// missing), ONNX Runtime's DLL, the models, licences and an install note in
    /// target/bundled/windows, zipped as target/bundled/sift-<version>-windows-x86_64.zip.
    Bundle {
        /// `windows` for the Windows download; without it, this machine's bundles
        #[arg(long)]
        target: Option<BundleTarget>,
        /// `sift` (the package), then options for `cargo build` (`--release`, `--profile NAME`)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_args: Vec<String>,
    },
    /// Bundle in release mode, then copy the plugins to ~/.vst3/sift.vst3 and ~/.clap (Linux)
    Install,
    /// The whole suite, as CI runs it: the system packages the tests need (installed as root),
    /// setup, the Linux and Windows bundles, `cargo test --workspace` (debug assertions on, so the
    /// allocation guard is armed; the Windows build's tests under Wine), the CLAP host's tests on
    /// Windows, the VST3 host tests and the training pipeline's tests
    Test,
    /// Only the training pipeline's tests (model/training/tests), after the system packages
    /// they need
    TestTraining,
    /// Only the first step of `test`: check the system packages the tests need, install missing
    /// ones as root
    SystemPackages,
    /// Setup, then run `sift bench` (every mode's latency, speed, misses and memory); arguments
    /// after `--` go to it (`--quick`, `--streaming-only`, `--device NAME`)
    Bench {
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Separate the eval clips (../shared/eval) and the demo clip with every installed model in
    /// every mode; print latency, real-time factor and per-stem SDR, write target/eval/results.json
    /// and plot docs/quality-vs-latency.png
    Eval {
        /// An installed model's name or an .onnx file (repeat for several; default: every
        /// usable installed model)
        #[arg(long = "model", value_name = "NAME|FILE")]
        models: Vec<String>,
        /// The modes to run
        #[arg(long, value_delimiter = ',', default_values = eval::MODES)]
        modes: Vec<EvalMode>,
        /// Write the table and figures but leave the committed plot alone
        #[arg(long)]
        no_plot: bool,
    },
    /// Pack target/gpu-check (sift, runtime, WebGPU provider, float16-weight model, eval clip;
    /// < 64 MiB) and run its run.sh: CPU against WebGPU, figures to $OUT
    GpuCheck {
        /// Only pack (for the GPU machine)
        #[arg(long)]
        prepare: bool,
        /// Run on Mesa's software Vulkan (lavapipe) here
        #[arg(long)]
        lavapipe: bool,
    },
}

/// Platforms `cargo xtask bundle --target` builds for other than this machine.
#[derive(Clone, Copy, ValueEnum)]
enum BundleTarget {
    /// Windows x86-64
    Windows,
}

/// The modes `cargo xtask eval --modes` takes.
#[derive(Clone, Copy, ValueEnum)]
enum EvalMode {
    Live,
    Balanced,
    Studio,
}

impl EvalMode {
    fn name(self) -> &'static str {
        match self {
            EvalMode::Live => "live",
            EvalMode::Balanced => "balanced",
            EvalMode::Studio => "studio",
        }
    }
}

fn main() {
    if let Err(err) = run(Cli::parse().command) {
        eprintln!("\nerror: {err:#}");
        std::process::exit(1);
    }
}

fn run(task: Task) -> Result<()> {
    let paths = Paths::discover();
    match task {
        Task::Setup { model: Some(name), .. } => setup::run(&paths).and_then(|()| setup::install_model(&paths, &name)),
        Task::Setup { gpu: Some(name), .. } => {
            setup::run(&paths).and_then(|()| providers::install_for_user(&paths, &name))
        }
        Task::Setup { .. } => setup::run(&paths),
        Task::GpuCheck { prepare, lavapipe } => {
            setup::run(&paths).and_then(|()| providers::gpu_check(&paths, prepare, lavapipe))
        }
        Task::Demo => demo::run(&paths),
        Task::Bundle { target: Some(BundleTarget::Windows), cargo_args } if cargo_args.is_empty() => {
            windows::bundle(&paths).map(drop)
        }
        Task::Bundle { target: Some(_), .. } => {
            bail!("`cargo xtask bundle --target windows` takes no other arguments: it always builds in release mode")
        }
        Task::Bundle { target: None, cargo_args } => bundle::command(&paths, &cargo_args),
        Task::Install => install::run(&paths),
        Task::Test => test::run(&paths),
        Task::SystemPackages => system_packages::ensure(),
        Task::TestTraining => {
            system_packages::ensure().and_then(|()| training_tests::run_tests(&paths)).and_then(|status| {
                if status != 0 {
                    bail!("the training pipeline's tests failed (pytest exited {status})");
                }
                Ok(())
            })
        }
        Task::Bench { args } => bench::run(&paths, &args),
        Task::Eval { models, modes, no_plot } => {
            let modes = modes.into_iter().map(|m| m.name().to_owned()).collect();
            eval::run(&paths, eval::Options { models, modes, no_plot })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BundleTarget, Cli, Task};
    use clap::Parser;

    fn parse(args: &[&str]) -> Task {
        Cli::try_parse_from(std::iter::once("xtask").chain(args.iter().copied())).unwrap().command
    }

    #[test]
    fn cargo_options_reach_the_bundle_and_windows_is_a_target() {
        match parse(&["bundle", "sift", "--release", "--profile", "dist"]) {
            Task::Bundle { target: None, cargo_args } => {
                assert_eq!(cargo_args, ["sift", "--release", "--profile", "dist"])
            }
            _ => panic!("not a bundle of this machine"),
        }
        assert!(
            matches!(parse(&["bundle", "--target", "windows"]), Task::Bundle { target: Some(BundleTarget::Windows), cargo_args } if cargo_args.is_empty())
        );
        assert!(Cli::try_parse_from(["xtask", "bundle", "--target", "macos"]).is_err());
    }

    #[test]
    fn eval_takes_models_and_a_list_of_modes() {
        match parse(&["eval", "--model", "sift-4stem", "--model", "x.onnx", "--modes", "live,studio", "--no-plot"]) {
            Task::Eval { models, modes, no_plot } => {
                assert_eq!(models, ["sift-4stem", "x.onnx"]);
                assert_eq!(modes.iter().map(|m| m.name()).collect::<Vec<_>>(), ["live", "studio"]);
                assert!(no_plot);
            }
            _ => panic!("not eval"),
        }
        match parse(&["eval"]) {
            Task::Eval { modes, .. } => assert_eq!(modes.len(), 3, "every mode by default"),
            _ => panic!("not eval"),
        }
        assert!(Cli::try_parse_from(["xtask", "eval", "--modes", "live,fast"]).is_err());
    }
}
