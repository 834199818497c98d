//! `sift bench` (`cargo xtask bench`): how fast, how late and how big Sift is in each latency
//! mode, measured on real music (the demo mixture, looped) through the same [`render`] path a
//! host drives.
//!
//! For every mode it measures:
//!
//! - the latency the host is told in real time, in samples and milliseconds (a mode may be
//!   stretched for this machine: a real-time engine times its model first);
//! - the real-time factor (processing time / audio time) of an offline render, once with one and
//!   once with two intra-op threads, because that is the choice a user makes for bouncing (the
//!   time includes flushing the latency tail, as a bounce does);
//! - the worker's time per model run, from the one-thread offline render, where the worker runs
//!   back to back and nothing but the model is timed, against the real-time run budget;
//! - the deadline misses of a paced real-time render with 128-sample host blocks and one
//!   intra-op thread, which is what a live user on a 2-core machine gets;
//! - the worker thread's share of one core in that paced render (what the separation costs a
//!   user's machine while playing);
//! - the audio thread's time per host block in that paced render;
//! - the peak resident memory of a process that does all of the above for that one mode.
//!
//! That table is Spleeter's in every mode; a second one measures the four-stem composed model
//! ([`catalogue::COMPOSED_MODEL`]) in `balanced` and `studio`, which it runs by default.
//!
//! Then, for streaming models ([`streaming`]): the fixed cost of an ONNX Runtime call, the idle
//! worker's polling, and paced `live` renders of a 1.19 M-parameter causal model at 64 to
//! 1024-sample host blocks, with the worker's share of a core.
//!
//! Each mode runs in its own child process (`sift bench --one-mode <mode>`), so
//! the peak memory (`VmHWM`) belongs to that mode alone and one mode's allocations do not
//! shape the next one's timings. The child prints one JSON line of [`Figures`] on stdout; the
//! parent collects them and prints a Markdown table. Progress goes to stderr.
//!
//! Usage: `sift bench [--quick] [--streaming-only | --stalls-only] [--device NAME]` ([`BenchArgs`]), in a `sift`
//! built with the `bench` feature (`cargo xtask bench` builds and runs it): the streaming part
//! measures ONNX Runtime's fixed cost on a test model of `sift-test-support`, which a user's
//! `sift` does not carry. The full run takes several minutes, at least a minute of wall-clock
//! time per mode and per streaming block size for the paced renders.

mod instances;
mod stalls;
mod streaming;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::audio_file;
use crate::memory::peak_rss_mib;
use crate::statistics::Spread;
use sift_engine::render::{self, Blocks, Rendered};
use sift_engine::{Engine, EngineConfig, Latency, MaskModel, Mode};
use sift_inference::{catalogue, locations, Device, Model, Runtime, SessionOptions};

/// Host block size of the offline renders: a common bounce size.
const OFFLINE_BLOCK: usize = 512;

/// Host block size of the paced render: a small live buffer, the hardest case for the audio
/// thread and for keeping up.
const PACED_BLOCK: usize = 128;

/// The models whose instances are measured: the default one, and Sift's own, the light one
/// `live` users can run on several tracks.
const INSTANCE_MODELS: [&str; 2] = [catalogue::DEFAULT_MODEL, streaming::MODEL];

/// How much audio each render gets, in seconds.
#[derive(Clone, Copy, Debug)]
struct Lengths {
    offline: f64,
    paced: f64,
}

impl Lengths {
    /// Full runs: 30 s offline is enough for a few hundred model runs in every mode; 60 s paced
    /// lets background noise on the machine show up as misses the way it would in a session.
    const FULL: Lengths = Lengths { offline: 30.0, paced: 60.0 };
    /// `--quick`: enough to see that everything works.
    const QUICK: Lengths = Lengths { offline: 10.0, paced: 10.0 };
}

/// Options of `sift bench`. The hidden ones make the process a child that measures one part
/// and prints its figures as one JSON line for the parent.
#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    /// Shorter renders (10 s offline, 10 s paced), to see that everything works.
    #[arg(long)]
    quick: bool,
    /// The execution provider for the windowed table (the table names the one that ran); the
    /// streaming part runs on the CPU.
    #[arg(long, default_value = "cpu")]
    device: Device,
    /// Skip the windowed (Spleeter) table and the instances.
    #[arg(long)]
    streaming_only: bool,
    /// Only the stall tables and the concealment's cost (`bench/stalls.rs`).
    #[arg(long, conflicts_with = "streaming_only")]
    stalls_only: bool,
    /// Child: measure this mode.
    #[arg(long, hide = true)]
    one_mode: Option<Mode>,
    /// Child: the model `--one-mode` measures.
    #[arg(long, hide = true, requires = "one_mode")]
    mode_model: Option<String>,
    /// Child: measure the streaming model.
    #[arg(long, hide = true)]
    streaming_child: bool,
    /// Child: the paced renders of several instances of this model.
    #[arg(long, hide = true)]
    instances_child: Option<String>,
    /// Child: the memory of this many instances.
    #[arg(long, hide = true)]
    memory_child: Option<usize>,
    /// Child: the stall table.
    #[arg(long, hide = true)]
    stalls_child: bool,
}

impl BenchArgs {
    fn lengths(&self) -> Lengths {
        if self.quick {
            Lengths::QUICK
        } else {
            Lengths::FULL
        }
    }
}

/// A child process's part, as its hidden arguments.
enum Part<'a> {
    Mode(Mode, &'a str),
    Streaming,
    Instances(&'a str),
    Memory(usize),
    Stalls,
}

impl Part<'_> {
    fn args(&self) -> Vec<String> {
        match self {
            Part::Mode(mode, model) => {
                vec!["--one-mode".into(), mode.name().into(), "--mode-model".into(), (*model).into()]
            }
            Part::Streaming => vec!["--streaming-child".into()],
            Part::Instances(model) => vec!["--instances-child".into(), (*model).into()],
            Part::Memory(n) => vec!["--memory-child".into(), n.to_string()],
            Part::Stalls => vec!["--stalls-child".into()],
        }
    }
}

/// What one child measured for one mode: one JSON line from child to parent.
#[derive(Debug, Serialize, Deserialize)]
struct Figures {
    mode: String,
    model: String,
    /// The execution provider that ran the model (not the one asked for).
    provider: String,
    latency_samples: usize,
    latency_ms: f64,
    /// How many times its default new frames per run the mode runs on this machine.
    stretch: usize,
    rtf_1_thread: f64,
    rtf_2_threads: f64,
    /// A file render (`sift separate` offline: the throughput schedule), 1 intra-op thread.
    rtf_file: f64,
    run_median_ms: f64,
    run_p99_ms: f64,
    run_deadline_ms: f64,
    paced_misses: u64,
    paced_missed_samples: u64,
    /// The worker thread's CPU time over the paced render's wall-clock time, in % of one core.
    worker_percent: f64,
    block_median_us: f64,
    block_p99_us: f64,
    block_max_us: f64,
    /// `None` where `/proc/self/status` does not exist (not Linux).
    peak_rss_mib: Option<f64>,
    /// The bench's own audio buffers (input and rendered stems of the paced render), which
    /// the peak includes: what a host would hold anyway, not the engine's.
    bench_buffers_mib: f64,
}

/// Runs `sift bench`: the parent, or one of its children.
pub fn run(options: &BenchArgs) -> Result<()> {
    if options.stalls_child {
        let clip = read_clip()?;
        let seconds = if options.quick { 10.0 } else { 20.0 };
        let figures = stalls::measure(&clip.channels, clip.sample_rate, seconds)?;
        println!("{}", serde_json::to_string(&figures)?);
        return Ok(());
    }
    if options.streaming_child {
        let clip = read_clip()?;
        let figures = streaming::measure(&clip.channels, clip.sample_rate, options.lengths())?;
        println!("{}", serde_json::to_string(&figures)?);
        return Ok(());
    }
    if options.instances_child.is_some() || options.memory_child.is_some() {
        let clip = read_clip()?;
        let model_path = catalogue::resolve(options.instances_child.as_deref(), locations::binary_dir().as_deref())?;
        let line = match options.memory_child {
            Some(n) => {
                serde_json::to_string(&instances::measure_memory(&model_path, &clip.channels, clip.sample_rate, n)?)
            }
            None => serde_json::to_string(&instances::measure_misses(
                &model_path,
                &clip.channels,
                clip.sample_rate,
                options.lengths(),
                options.device,
            )?),
        };
        println!("{}", line?);
        return Ok(());
    }
    match options.one_mode {
        Some(mode) => {
            let model = options.mode_model.as_deref().unwrap_or(catalogue::DEFAULT_MODEL);
            child(mode, model, options.lengths(), options.device)
        }
        None => parent(options),
    }
}

// ---------------------------------------------------------------------------------------------
// Parent: one child per mode, then the table.

fn parent(options: &BenchArgs) -> Result<()> {
    // Loading the runtime here fails early, with setup instructions, before any child starts.
    let library = Runtime::get()?.library().to_owned();
    let header = header(&library, options.lengths());
    if options.stalls_only {
        eprintln!("[stalls] starting a child process");
        let stall_figures: stalls::StallFigures = measure_in_child(Part::Stalls, options.quick, options.device)?;
        println!("{header}\n");
        stalls::print(&stall_figures);
        return Ok(());
    }
    let mut rows = Vec::new();
    let mut composed_rows = Vec::new();
    let composed_installed = catalogue::installed(locations::binary_dir().as_deref())
        .iter()
        .any(|(name, _)| name == catalogue::COMPOSED_MODEL);
    if !options.streaming_only {
        for mode in Mode::ALL {
            eprintln!("[{mode}] {}: starting a child process", catalogue::DEFAULT_MODEL);
            rows.push(measure_in_child(Part::Mode(mode, catalogue::DEFAULT_MODEL), options.quick, options.device)?);
        }
        for mode in [Mode::Balanced, Mode::Studio].into_iter().filter(|_| composed_installed) {
            eprintln!("[{mode}] {}: starting a child process", catalogue::COMPOSED_MODEL);
            let part = Part::Mode(mode, catalogue::COMPOSED_MODEL);
            composed_rows.push(measure_in_child(part, options.quick, options.device)?);
        }
    }
    let mut instance_figures = Vec::new();
    let mut memory = Vec::new();
    if !options.streaming_only {
        for model in INSTANCE_MODELS {
            eprintln!("[instances] {model}: starting a child process");
            instance_figures.push(measure_in_child::<instances::InstanceFigures>(
                Part::Instances(model),
                options.quick,
                options.device,
            )?);
        }
        for n in [1, instances::MEMORY_INSTANCES] {
            eprintln!("[instances] memory of {n} instance(s), in a child process");
            memory.push(measure_in_child::<instances::MemoryFigures>(Part::Memory(n), true, options.device)?);
        }
    }
    eprintln!("[streaming] starting a child process");
    let streaming: streaming::StreamingFigures = measure_in_child(Part::Streaming, options.quick, options.device)?;
    eprintln!("[stalls] starting a child process");
    let stall_figures: stalls::StallFigures = measure_in_child(Part::Stalls, options.quick, options.device)?;
    println!("{header}\n");
    if !rows.is_empty() {
        print_table(&rows);
        if composed_rows.is_empty() {
            println!(
                "\n{} is not installed: no four-stem table (`cargo xtask setup` installs it).",
                catalogue::COMPOSED_MODEL
            );
        } else {
            println!("\nFour stems where a user names no model (`balanced` and `studio`):\n");
            print_table(&composed_rows);
        }
    }
    instances::print(&instance_figures, &memory);
    streaming::print(&streaming, &library);
    stalls::print(&stall_figures);
    Ok(())
}

/// Runs `sift bench` again as a child measuring `part`, and reads its JSON line.
fn measure_in_child<T: serde::de::DeserializeOwned>(part: Part, quick: bool, device: Device) -> Result<T> {
    let exe = std::env::current_exe().context("finding the sift executable")?;
    let args = part.args();
    let what = args.join(" ");
    let output = Command::new(exe)
        .arg("bench")
        .args(&args)
        .args(quick.then_some("--quick"))
        .args(["--device", device.name()])
        .stderr(Stdio::inherit())
        .output()
        .context("starting the bench child process")?;
    if !output.status.success() {
        bail!("the child `{what}` failed ({}): see its messages above", output.status);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().with_context(|| format!("the child `{what}` printed nothing"))?;
    serde_json::from_str(line).with_context(|| format!("reading the figures of the child `{what}`: {line}"))
}

/// Date, machine, runtime library and what was rendered: what the figures depend on.
fn header(library: &Path, lengths: Lengths) -> String {
    let date = Command::new("date")
        .arg("-u")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown date".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "n/a".into());
    format!(
        "Sift bench, {date}; {cores} CPUs ({cpu}); ONNX Runtime {library}\n\n\
         Demo mixture looped to {offline} s for the offline renders ({OFFLINE_BLOCK}-sample blocks) \
         and {paced} s for the paced real-time render ({PACED_BLOCK}-sample blocks, 1 intra-op thread); \
         1-minute load average before the run: {load}.",
        cpu = cpu_model(),
        library = library.display(),
        offline = lengths.offline,
        paced = lengths.paced,
    )
}

/// The first `model name` in `/proc/cpuinfo`, or `unknown CPU`.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn print_table(rows: &[Figures]) {
    println!(
        "| mode | latency (samples) | latency (ms) | RTF 1 thr | RTF 2 thr | RTF file | run median (ms) | run p99 (ms) \
         | run deadline (ms) | paced misses (blocks/samples) | worker (% of a core) | audio block median (µs) | p99 (µs) \
         | max (µs) | peak RSS (MiB) |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for f in rows {
        let rss = f.peak_rss_mib.map_or("n/a".into(), |m| format!("{m:.0}"));
        let mode = match f.stretch {
            1 => f.mode.clone(),
            n => format!("{} (×{n} for this machine)", f.mode),
        };
        println!(
            "| {mode} | {} | {:.1} | {:.3} | {:.3} | {:.3} | {:.1} | {:.1} | {:.1} | {}/{} | {:.1} | {:.1} | {:.1} | {:.0} | {rss} |",
            f.latency_samples,
            f.latency_ms,
            f.rtf_1_thread,
            f.rtf_2_threads,
            f.rtf_file,
            f.run_median_ms,
            f.run_p99_ms,
            f.run_deadline_ms,
            f.paced_misses,
            f.paced_missed_samples,
            f.worker_percent,
            f.block_median_us,
            f.block_p99_us,
            f.block_max_us,
        );
    }
    if let Some(f) = rows.first() {
        println!(
            "\nModel {} on the {} execution provider. Run times are from the 1-thread offline render; the worker's share of a core \
             from the paced one. Peak RSS is the whole child process \
             (runtime, a 1-thread and a 2-thread session, engine) and includes about {:.0} MiB of the bench's own \
             audio buffers.",
            f.model, f.provider, f.bench_buffers_mib
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Child: every measurement for one mode, in one process.

fn child(mode: Mode, model: &str, lengths: Lengths, device: Device) -> Result<()> {
    let clip = read_clip()?;
    let model_path = catalogue::resolve(Some(model), locations::binary_dir().as_deref())?;
    let rate = clip.sample_rate;

    eprintln!("[{mode}] offline render, 1 intra-op thread, {} s", lengths.offline);
    let offline_input = looped(&clip.channels, seconds_to_frames(lengths.offline, rate));
    let (one, model) = offline(load(&model_path, 1, device)?, mode, &offline_input, rate, false)?;
    eprintln!("[{mode}]   RTF {:.3}", one.rtf);

    eprintln!("[{mode}] offline render, 2 intra-op threads, {} s", lengths.offline);
    let (two, _) = offline(load(&model_path, 2, device)?, mode, &offline_input, rate, false)?;
    eprintln!("[{mode}]   RTF {:.3}", two.rtf);

    eprintln!(
        "[{mode}] file render (throughput schedule, as `sift separate`), 1 intra-op thread, {} s",
        lengths.offline
    );
    let (file, model) = offline(model, mode, &offline_input, rate, true)?;
    eprintln!("[{mode}]   RTF {:.3}", file.rtf);
    drop(offline_input);

    eprintln!("[{mode}] paced real-time render, 1 intra-op thread, {} s of wall-clock time", lengths.paced);
    let paced_input = looped(&clip.channels, seconds_to_frames(lengths.paced, rate));
    let paced = paced(model, mode, &paced_input, rate)?;
    eprintln!(
        "[{mode}]   {} misses ({} samples), {} input overflows, worker {:.1} % of a core",
        paced.missed.misses, paced.missed.missed_samples, paced.missed.overflows, paced.worker_percent
    );

    let runs = Spread::of(one.runs_micros.iter().map(|&us| f64::from(us) / 1000.0).collect())
        .context("the offline render recorded no model runs")?;
    let blocks = Spread::of(paced.block_times.iter().map(|t| t.as_secs_f64() * 1e6).collect())
        .context("the paced render processed no blocks")?;
    let figures = Figures {
        mode: mode.name().to_owned(),
        model: one.model,
        provider: one.provider,
        latency_samples: paced.latency.samples,
        latency_ms: paced.latency.millis(),
        stretch: paced.stretch,
        rtf_1_thread: one.rtf,
        rtf_2_threads: two.rtf,
        rtf_file: file.rtf,
        run_median_ms: runs.median,
        run_p99_ms: runs.p99,
        run_deadline_ms: paced.latency.budget as f64 * 1000.0 / f64::from(rate),
        paced_misses: paced.missed.misses,
        paced_missed_samples: paced.missed.missed_samples,
        worker_percent: paced.worker_percent,
        block_median_us: blocks.median,
        block_p99_us: blocks.p99,
        block_max_us: blocks.max,
        peak_rss_mib: peak_rss_mib(),
        bench_buffers_mib: paced.buffer_bytes as f64 / (1024.0 * 1024.0),
    };
    println!("{}", serde_json::to_string(&figures)?);
    Ok(())
}

/// The demo mixture that `cargo xtask setup` unpacks, found from this package's source folder
/// so the bench runs from any working directory.
fn read_clip() -> Result<audio_file::Audio> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/falcon69/mixture.wav");
    let clip = audio_file::read(&path)
        .with_context(|| format!("reading the demo clip: run `cargo xtask setup` first ({})", path.display()))?;
    if !(1..=2).contains(&clip.channels.len()) {
        bail!("{}: {} channels; the bench needs mono or stereo", path.display(), clip.channels.len());
    }
    Ok(clip)
}

fn load(path: &Path, threads: usize, device: Device) -> Result<Box<dyn MaskModel>> {
    let model = Model::load(path, &SessionOptions::default().intra_threads(threads).device(device))?;
    if let Some(reason) = model.provider_fallback() {
        eprintln!("--device {device}: {reason}");
    }
    Ok(Box::new(model))
}

fn seconds_to_frames(seconds: f64, rate: u32) -> usize {
    (seconds * f64::from(rate)).round() as usize
}

/// `channels` repeated end to end until each is `frames` long. The joins click, which does not
/// matter for timing; real music rather than noise or silence keeps the masks realistic.
fn looped(channels: &[Vec<f32>], frames: usize) -> Vec<Vec<f32>> {
    channels.iter().map(|c| c.iter().copied().cycle().take(frames).collect()).collect()
}

/// What an offline render measured.
struct Offline {
    model: String,
    provider: String,
    rtf: f64,
    runs_micros: Vec<u32>,
}

/// Renders `input` as fast as the worker allows (no pacing, no fallback to dry), in the host
/// schedule or, with `throughput`, as a file render, and gives the model back so the next
/// render can reuse its session.
fn offline(
    model: Box<dyn MaskModel>,
    mode: Mode,
    input: &[Vec<f32>],
    rate: u32,
    throughput: bool,
) -> Result<(Offline, Box<dyn MaskModel>)> {
    let config = EngineConfig::new(rate, OFFLINE_BLOCK).mode(mode).realtime(false).throughput(throughput);
    let (engine, mut processor) = Engine::start(model, config)?;
    let rendered = render::render(&mut processor, input, rate, &Blocks::Fixed(OFFLINE_BLOCK), false, |_| {});
    check_runs(&engine)?;
    let measured = Offline {
        model: engine.spec().name.clone(),
        provider: engine.provider().to_owned(),
        rtf: rendered.elapsed.as_secs_f64() / (input_frames(input) as f64 / f64::from(rate)),
        runs_micros: engine.shared().recent_runs(),
    };
    let model = engine.stop().context("the worker thread panicked")?;
    Ok((measured, model))
}

/// What a paced real-time render missed, from the engine's own counters.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Misses {
    /// Host blocks with samples that fell back to dry.
    misses: u64,
    missed_samples: u64,
    overflows: u64,
}

impl Misses {
    fn of(engine: &Engine) -> Self {
        let shared = engine.shared();
        let load = |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
        Misses {
            misses: load(&shared.deadline_misses),
            missed_samples: load(&shared.missed_samples),
            overflows: load(&shared.overflows),
        }
    }
}

/// What the paced real-time render measured.
struct Paced {
    latency: Latency,
    stretch: usize,
    missed: Misses,
    /// The worker's CPU time over the render's wall-clock time, % of one core.
    worker_percent: f64,
    block_times: Vec<Duration>,
    buffer_bytes: usize,
}

/// Renders `input` in real time, each block waiting for its wall-clock moment like a live host,
/// with late output falling back to dry as it does in a session.
fn paced(model: Box<dyn MaskModel>, mode: Mode, input: &[Vec<f32>], rate: u32) -> Result<Paced> {
    let config = EngineConfig::new(rate, PACED_BLOCK).mode(mode).realtime(true).fit_to_machine(true);
    let (engine, mut processor) = Engine::start(model, config)?;
    let before = streaming::worker_cpu()?;
    let started = std::time::Instant::now();
    let rendered = render::render(&mut processor, input, rate, &Blocks::Fixed(PACED_BLOCK), true, |_| {});
    let worker_percent =
        100.0 * streaming::worker_cpu()?.saturating_sub(before).as_secs_f64() / started.elapsed().as_secs_f64();
    check_runs(&engine)?;
    Ok(Paced {
        worker_percent,
        latency: *engine.latency(),
        stretch: engine.stretch(mode),
        missed: Misses::of(&engine),
        buffer_bytes: buffer_bytes(input, &rendered),
        block_times: rendered.block_times,
    })
}

/// Failed runs fall back to the residual stem and would be timed as (fast) successes.
fn check_runs(engine: &Engine) -> Result<()> {
    let failures = engine.shared().model_failures.load(std::sync::atomic::Ordering::Relaxed);
    if failures > 0 {
        bail!("{failures} model runs failed; the timings would be meaningless");
    }
    Ok(())
}

fn input_frames(input: &[Vec<f32>]) -> usize {
    input.first().map_or(0, Vec::len)
}

/// Bytes of the input and rendered stems held while rendering.
fn buffer_bytes(input: &[Vec<f32>], rendered: &Rendered) -> usize {
    let samples: usize = input.iter().chain(rendered.stems.iter().flatten()).map(Vec::capacity).sum();
    samples * std::mem::size_of::<f32>()
}
