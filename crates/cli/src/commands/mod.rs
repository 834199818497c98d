//! The `sift` command line: separate files, score separations, unpack stem files.

#[cfg(feature = "bench")]
pub mod bench;
mod eval;
mod install;
mod models;
mod output;
mod providers;
mod separate;
mod signals;
mod unpack;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use sift_engine::{Extension, Mode};

/// Sift: real-time AI stem separation, on the command line.
#[derive(Parser)]
#[command(name = "sift", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Separate an audio file into stems (`OUTDIR/<stem>.wav`), through the real-time engine.
    Separate(SeparateArgs),
    /// Score separated stems against reference stems (global and median framewise SDR).
    Eval {
        /// Folder of reference stems (`<stem>.wav`).
        #[arg(long)]
        reference: PathBuf,
        /// Folder of separated stems, as written by `sift separate`.
        estimates: PathBuf,
        /// Stems to score (comma-separated); default: those `sift separate` listed in
        /// `sift-stems.json`, else every `.wav` in the estimates folder.
        #[arg(long, value_delimiter = ',')]
        stems: Option<Vec<String>>,
    },
    /// Unpack a Native Instruments `.stem.mp4` file: `mixture.wav` (the sum of the four
    /// stems) and `drums.wav`, `bass.wav`, `other.wav`, `vocals.wav`.
    UnpackStems {
        /// The `.stem.mp4` file.
        input: PathBuf,
        /// Output folder.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// List installed models (with their licences) and the folders searched for them, or
    /// install one.
    Models {
        /// Print the list as one JSON line (for scripts, e.g. `cargo xtask eval`).
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<ModelsAction>,
    },
    /// List the execution providers (CPU, GPU and NPU) this machine can use and where their
    /// libraries are, or install one.
    Providers {
        #[command(subcommand)]
        action: Option<ProvidersAction>,
    },
    /// Measure latency, real-time factor, deadline misses, block times and memory in every
    /// mode on the demo mixture, and print the tables (several minutes; `cargo xtask bench`).
    #[cfg(feature = "bench")]
    Bench(bench::BenchArgs),
}

/// What `sift providers` does besides listing.
#[derive(Subcommand)]
enum ProvidersAction {
    /// Fetch a provider library from PyPI (with pip) into the user's providers folder:
    /// `webgpu` (any GPU through Vulkan, D3D12 or Metal), `openvino` (Intel CPU, GPU, NPU),
    /// `cuda` (NVIDIA; also holds TensorRT's provider).
    Install {
        /// The provider's name.
        name: String,
        /// Install into this folder (it gets a `<name>/` folder) instead of the user's.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// What `sift models` does besides listing.
#[derive(Subcommand)]
enum ModelsAction {
    /// Fetch a model Sift does not bundle (e.g. `htdemucs`, four stems, personal and research
    /// use only) from its registry, verify its checksum, show its licence and install it.
    Install {
        /// The model's name.
        name: String,
        /// Install into this folder instead of the user's models folder.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Options of `sift separate`.
#[derive(clap::Args)]
pub struct SeparateArgs {
    /// Input audio: WAV, FLAC, MP3 or AAC/MP4, any sample rate, mono or stereo.
    input: PathBuf,
    /// Output folder; gets one 32-bit float WAV per stem and `sift-stems.json`.
    #[arg(short, long)]
    output: PathBuf,
    /// Replace the stems already in the output folder (and remove the previous run's others).
    #[arg(long)]
    force: bool,
    /// Model file (`.onnx`) or installed model name [default: sift-4stem in live where it is
    /// installed, else spleeter-2stems].
    #[arg(long)]
    model: Option<String>,
    /// Latency mode: live, balanced or studio.
    #[arg(long, default_value = "balanced")]
    mode: Mode,
    /// Host block size in samples (1 to 65536).
    #[arg(long, default_value_t = 512)]
    block: u64,
    /// Pace blocks in wall-clock time like a live host and count deadline misses.
    #[arg(long)]
    realtime: bool,
    /// Testing aid: make the separation thread stall for MS milliseconds once every EVERY_MS
    /// (e.g. `20/1000`), to hear and measure what a late model does (with `--realtime`).
    #[arg(long, value_name = "MS/EVERY_MS", requires = "realtime")]
    stall: Option<sift_engine::StallPattern>,
    /// Offline, which model-run schedule: `throughput` keeps every frame's context of the mode
    /// but many more new frames per run (the whole file is there, so nothing forces the host
    /// schedule's recomputation; several times faster); `host` runs exactly the schedule a
    /// host runs (the same output as a DAW's bounce through the plugin). `--realtime` always
    /// runs `host`.
    #[arg(long, value_enum, default_value_t = ScheduleChoice::Throughput)]
    schedule: ScheduleChoice,
    /// Threads per model run (1 to the number of cores).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Where the model runs: auto (the first installed accelerator that works, else the CPU),
    /// cpu, gpu (any GPU provider), cuda, tensorrt, webgpu, openvino, directml, coreml or qnn.
    /// One that cannot run here falls back to the CPU, saying why (`sift providers` lists them).
    #[arg(long, default_value = "auto")]
    device: sift_inference::Device,
    /// How masks continue above the model's highest bin.
    #[arg(long, default_value = "edge-bin", hide = true)]
    mask_extension: Extension,
}

/// `sift separate --schedule`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScheduleChoice {
    /// The mode's context with many more new frames per run (offline only).
    Throughput,
    /// Exactly the schedule a host runs.
    Host,
}

/// Runs the command line; errors are printed as one readable line (exit code 2; a run stopped
/// by a signal exits with 128 + the signal's number).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    signals::install();
    let result = match cli.command {
        Command::Separate(args) => separate::run(&args),
        Command::Eval { reference, estimates, stems } => eval::run(&reference, &estimates, stems.as_deref()),
        Command::UnpackStems { input, output } => unpack::run(&input, &output),
        Command::Models { json, action: None } => models::run(json),
        Command::Models { action: Some(ModelsAction::Install { name, dir }), .. } => {
            install::run(&name, dir.as_deref())
        }
        Command::Providers { action: None } => providers::list(),
        Command::Providers { action: Some(ProvidersAction::Install { name, dir }) } => {
            providers::install(&name, dir.as_deref())
        }
        #[cfg(feature = "bench")]
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sift: error: {}", one_line(&e));
            match e.downcast_ref::<signals::Interrupted>() {
                Some(signals::Interrupted(signal)) => ExitCode::from(128u8.saturating_add(*signal as u8)),
                None => ExitCode::from(2),
            }
        }
    }
}

/// The error and its causes on one line, each cause once: a cause whose text the message
/// already holds (an I/O error quoted by the error that wraps it) is not repeated.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line += ": ";
        }
        line += &text;
    }
    line.replace('\n', " ")
}
