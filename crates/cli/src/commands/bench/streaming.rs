//! The streaming part of the bench: what a run every hop costs, and whether Sift's own
//! four-stem model (`sift-4stem`, 1.55 M parameters, causal) keeps up in `live` at every common
//! host block size.
//!
//! - the fixed cost of one ONNX Runtime call: the median time of a call to `stream-smoother`
//!   (`model/make_test_models.py`), whose graph does almost nothing (a few element-wise
//!   operations on 1026 values);
//! - one call of `sift-4stem` (one frame on a 1024/256 grid), as setup installed it;
//! - the worker's CPU while it has nothing to do (its polling: nobody wakes it in real time);
//! - an ideal worker on this machine ([`ideal_worker`]): a thread at the worker's real-time
//!   priority that wakes at the exact start of every hop and runs `sift-4stem` once, with no
//!   ring, no audio thread and no polling, quiet and busy: how often the machine alone makes a
//!   hop's run late, which no engine design can prevent at this latency;
//! - a paced real-time render in `live` with `sift-4stem` at 64 to 1024-sample host blocks:
//!   deadline misses, where they fell, and the worker thread's share of one core (model runs
//!   included), on a quiet machine and with [`HOGS`] threads spinning beside it (a build,
//!   another program). The paced thread plays a host's audio thread, so it asks for real-time
//!   scheduling at [`HOST_PRIORITY`], above the worker's.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sift_engine::render::{self, Blocks};
use sift_engine::{Engine, EngineConfig, MaskModel, Mode};
use sift_inference::{catalogue, locations, OnnxModel, SessionOptions};

use super::{looped, seconds_to_frames, Lengths, Misses};
use crate::statistics::Spread;

/// The model of the paced renders: Sift's own, the one `live` users run.
pub const MODEL: &str = "sift-4stem";

/// The host block sizes of the paced renders.
pub const BLOCKS: [usize; 5] = [64, 128, 256, 512, 1024];

/// Blocks that missed whose start the table lists.
const MISSES_LISTED: usize = 4;

/// Calls timed for the per-call cost.
const CALLS: usize = 3000;

/// Threads spinning at normal priority beside the busy renders: every core of this machine.
const HOGS: usize = 2;

/// The paced thread's real-time priority, as a host's audio thread (JACK's default is 70).
const HOST_PRIORITY: i32 = 70;

/// What the streaming child measured: one JSON line from child to parent.
#[derive(Debug, Serialize, Deserialize)]
pub struct StreamingFigures {
    model: String,
    hop_ms: f64,
    empty_call_median_us: f64,
    empty_call_p99_us: f64,
    model_call_median_us: f64,
    model_call_p99_us: f64,
    idle_worker_percent: f64,
    /// The ideal worker, on the quiet machine and with [`HOGS`] threads spinning beside it.
    ideal: Vec<IdealWorker>,
    /// How the paced thread (the host's audio thread) and the worker were scheduled.
    host_scheduling: String,
    worker_scheduling: String,
    paced: Vec<PacedRow>,
}

/// One paced render at one host block size.
#[derive(Debug, Serialize, Deserialize)]
struct PacedRow {
    block: usize,
    /// Whether [`HOGS`] threads were spinning beside the render.
    busy: bool,
    latency_samples: usize,
    latency_ms: f64,
    #[serde(flatten)]
    missed: Misses,
    /// When the first few blocks that missed started, in seconds into the render.
    missed_at_s: Vec<f64>,
    /// The longest model run of the render: a stall inside a run (the machine taking the
    /// worker's vCPU mid-call) shows here; a late wake-up does not.
    longest_run_ms: f64,
    worker_percent: f64,
    /// Share of the machine's CPU time the hypervisor gave to others during the render (`None`
    /// off Linux): what misses on a shared virtual machine come from.
    steal_percent: Option<f64>,
}

/// An ideal worker's run: from each hop's start to the end of its model call.
#[derive(Debug, Serialize, Deserialize)]
struct IdealWorker {
    busy: bool,
    hops: usize,
    late_median_us: f64,
    late_p99_us: f64,
    late_max_us: f64,
    /// Hops whose run ended more than one hop after the hop started: a miss in any engine
    /// whose worker has one hop for a run, as a causal model at 29 ms has.
    over_hop: usize,
}

/// Every streaming measurement, in this (child) process.
pub fn measure(clip: &[Vec<f32>], rate: u32, lengths: Lengths) -> Result<StreamingFigures> {
    let models = sift_test_support::test_models();
    let options = SessionOptions::default().intra_threads(1);
    let mut smoother = OnnxModel::load(&models.join("stream-smoother.onnx"), &options)?;
    let own_path = catalogue::resolve(Some(MODEL), locations::binary_dir().as_deref())?;
    let mut own = OnnxModel::load(&own_path, &options)?;

    eprintln!("[streaming] {CALLS} calls of stream-smoother and of {MODEL}");
    let empty = time_calls(&mut smoother)?;
    let call = time_calls(&mut own)?;
    eprintln!("[streaming]   median {:.1} µs (empty graph), {:.1} µs ({MODEL})", empty.median, call.median);

    eprintln!("[streaming] idle worker, 5 s");
    let idle_worker_percent = idle_worker_percent(Box::new(smoother), rate)?;
    eprintln!("[streaming]   {idle_worker_percent:.2} % of a core");

    let hop = Duration::from_secs_f64(own.spec().hop as f64 / f64::from(own.spec().sample_rate));
    let mut ideal = Vec::new();
    for busy in [false, true] {
        eprintln!("[streaming] ideal worker, {} s{}", lengths.paced, if busy { ", busy" } else { "" });
        let hogs = busy.then(|| Hogs::spin(HOGS));
        let figures = ideal_worker(&mut own, lengths.paced, hop, busy)?;
        drop(hogs);
        eprintln!("[streaming]   {} of {} hops late by more than a hop", figures.over_hop, figures.hops);
        ideal.push(figures);
    }

    let input = looped(clip, seconds_to_frames(lengths.paced, rate));
    let host_scheduling = sift_engine::priority::promote_current_thread(HOST_PRIORITY).to_string();
    let mut worker_scheduling = String::new();
    let mut paced = Vec::new();
    let mut model: Box<dyn MaskModel> = Box::new(own);
    for (busy, block) in [false, true].into_iter().flat_map(|busy| BLOCKS.map(|block| (busy, block))) {
        let beside = if busy { format!(", {HOGS} threads spinning beside") } else { String::new() };
        eprintln!("[streaming] paced live render, {block}-sample blocks, {} s{beside}", lengths.paced);
        let config = EngineConfig::new(rate, block).mode(Mode::Live).realtime(true);
        let (engine, mut processor) = Engine::start(model, config)?;
        worker_scheduling = engine.worker_scheduling().to_string();
        let hogs = busy.then(|| Hogs::spin(HOGS));
        let latency = *engine.latency();
        let before = worker_cpu()?;
        let steal_before = steal_ticks();
        let started = Instant::now();
        let rendered = render::render(&mut processor, &input, rate, &Blocks::Fixed(block), true, |_| {});
        let worker_percent =
            100.0 * worker_cpu()?.saturating_sub(before).as_secs_f64() / started.elapsed().as_secs_f64();
        drop(hogs);
        let steal_percent = steal_before
            .zip(steal_ticks())
            .map(|((steal0, all0), (steal1, all1))| 100.0 * (steal1 - steal0) as f64 / (all1 - all0).max(1) as f64);
        let row = PacedRow {
            block,
            busy,
            latency_samples: latency.samples,
            latency_ms: latency.millis(),
            missed: Misses::of(&engine),
            missed_at_s: rendered.missed_at.iter().take(MISSES_LISTED).map(|&at| at as f64 / f64::from(rate)).collect(),
            longest_run_ms: f64::from(engine.shared().max_run_micros.load(std::sync::atomic::Ordering::Relaxed))
                / 1000.0,
            worker_percent,
            steal_percent,
        };
        eprintln!("[streaming]   {} misses, worker {:.1} % of a core", row.missed.misses, row.worker_percent);
        paced.push(row);
        model = engine.stop().context("the worker thread panicked")?;
    }
    let spec = model.spec();
    Ok(StreamingFigures {
        model: spec.name.clone(),
        hop_ms: spec.hop as f64 * 1000.0 / f64::from(spec.sample_rate),
        empty_call_median_us: empty.median,
        empty_call_p99_us: empty.p99,
        model_call_median_us: call.median,
        model_call_p99_us: call.p99,
        idle_worker_percent,
        ideal,
        host_scheduling,
        worker_scheduling,
        paced,
    })
}

/// Threads that spin at normal priority until dropped.
struct Hogs {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Hogs {
    fn spin(count: usize) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..count)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    // spawned by the paced thread, which runs in real time: not these
                    sift_engine::priority::make_current_thread_normal();
                    let mut x = 1u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                })
            })
            .collect();
        Hogs { stop, threads }
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Median and p99 of [`CALLS`] one-run calls, in microseconds, on random magnitudes.
fn time_calls(model: &mut OnnxModel) -> Result<Spread> {
    let mut run = OneRun::new(model, 11);
    let mut times = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        run.call(model)?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    Spread::of(times).context("no calls timed")
}

/// One call's worth of random magnitudes for a model (its frames per run, stereo) and room for
/// its masks, allocated once so the timed calls measure only the model.
struct OneRun {
    frames: usize,
    input: Vec<f32>,
    masks: Vec<f32>,
}

impl OneRun {
    fn new(model: &OnnxModel, seed: u64) -> Self {
        let spec = model.spec();
        let frames = spec.streaming.map_or(1, |s| s.frames_per_run);
        let mut rng = sift_test_support::Rng::new(seed);
        let input = (0..2 * frames * spec.bins).map(|_| (rng.next_u64() % 1000) as f32 / 10.0).collect();
        Self { frames, input, masks: vec![0.0; spec.stem_count() * 2 * frames * spec.bins] }
    }

    fn call(&mut self, model: &mut OnnxModel) -> Result<()> {
        model.infer(&self.input, self.frames, &mut self.masks).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// A thread at the worker's real-time priority that sleeps until the start of each hop (as if
/// the audio thread had just handed over the hop's last sample and woken it at once) and runs
/// the model on one frame, for `seconds`; returns how long after each hop's start its masks
/// were out. The engine's worker cannot do better: it polls instead of being woken, and it has
/// rings to read and write. So hops this thread finishes later than a hop after their start are
/// time the machine took (the hypervisor descheduling the vCPU, an interrupt storm), and at a
/// latency of one hop for the run they are misses whatever the engine does.
fn ideal_worker(model: &mut OnnxModel, seconds: f64, hop: Duration, busy: bool) -> Result<IdealWorker> {
    let mut run = OneRun::new(model, 5);
    let hops = (seconds / hop.as_secs_f64()) as usize;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let scheduling = sift_engine::priority::promote_current_thread(sift_engine::priority::WORKER_PRIORITY);
                if !scheduling.is_realtime() {
                    eprintln!("[streaming]   the ideal worker runs at {scheduling}");
                }
                let mut late = Vec::with_capacity(hops);
                let start = Instant::now() + hop;
                for k in 0..hops as u32 {
                    let due = start + hop * k;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    run.call(model)?;
                    late.push(due.elapsed().as_secs_f64() * 1e6);
                }
                let over_hop = late.iter().filter(|&&us| us > hop.as_secs_f64() * 1e6).count();
                let spread = Spread::of(late).context("no hops timed")?;
                Ok(IdealWorker {
                    busy,
                    hops,
                    late_median_us: spread.median,
                    late_p99_us: spread.p99,
                    late_max_us: spread.max,
                    over_hop,
                })
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the ideal worker thread panicked"))?
    })
}

/// The worker's CPU while no audio comes, as a percentage of one core: the cost of its polling.
fn idle_worker_percent(model: Box<dyn MaskModel>, rate: u32) -> Result<f64> {
    let (engine, _processor) = Engine::start(model, EngineConfig::new(rate, 512).mode(Mode::Live))?;
    std::thread::sleep(Duration::from_millis(200));
    let before = worker_cpu()?;
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let percent = 100.0 * worker_cpu()?.saturating_sub(before).as_secs_f64() / started.elapsed().as_secs_f64();
    drop(engine);
    Ok(percent)
}

/// CPU time (user + system) of the running `sift-worker` threads, from `/proc` (Linux): the
/// sum, so that a worker of an engine just stopped that the kernel still lists adds the same
/// to both readings of a difference. A worker just started names itself from its own thread:
/// give it a moment.
pub(super) fn worker_cpu() -> Result<Duration> {
    let started = Instant::now();
    loop {
        match worker_cpu_now() {
            Err(e) if started.elapsed() > Duration::from_secs(1) => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
            found => return found,
        }
    }
}

fn worker_cpu_now() -> Result<Duration> {
    // `/proc` counts in USER_HZ ticks, 100 a second on Linux whatever the kernel's own rate.
    const TICKS_PER_SECOND: f64 = 100.0;
    let mut total = None;
    for task in std::fs::read_dir("/proc/self/task").context("reading /proc/self/task (the bench needs Linux)")? {
        let dir = task?.path();
        if std::fs::read_to_string(dir.join("comm")).is_ok_and(|name| name.trim() == "sift-worker") {
            // A thread that ended between listing and reading is simply not counted.
            let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else { continue };
            // Fields after the parenthesised name: state is field 3, utime 14 and stime 15.
            let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
            let ticks = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<f64>().ok());
            let (Some(user), Some(system)) = (ticks(14), ticks(15)) else {
                bail!("unexpected format of {}", dir.join("stat").display());
            };
            *total.get_or_insert(0.0) += (user + system) / TICKS_PER_SECOND;
        }
    }
    total.map(Duration::from_secs_f64).context("no sift-worker thread is running")
}

/// The machine's stolen and total CPU ticks so far (`/proc/stat`, all CPUs), on Linux.
fn steal_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> =
        stat.lines().next()?.split_whitespace().skip(1).map(|t| t.parse().ok()).collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...
    Some((*ticks.get(7)?, ticks.iter().take(8).sum()))
}

/// The streaming table, after the windowed one.
pub fn print(f: &StreamingFigures, library: &Path) {
    println!(
        "\nStreaming: `{}` (Sift's own four-stem model, `model/weights/`, 1.55 M parameters, causal, one {:.1} ms \
         hop per run) in `live`, paced real-time renders of the demo mixture at 44.1 kHz. ONNX Runtime {}, 1 intra-op \
         thread.\n",
        f.model,
        f.hop_ms,
        library.display()
    );
    println!(
        "Per call: {:.1} µs median ({:.1} µs p99) for a graph that does almost nothing (`stream-smoother`: \
         the fixed cost of an ONNX Runtime call from the worker), {:.1} µs median ({:.1} µs p99) for \
         `{}`. Idle worker (polling, nobody wakes it): {:.2} % of a core.\n",
        f.empty_call_median_us,
        f.empty_call_p99_us,
        f.model_call_median_us,
        f.model_call_p99_us,
        f.model,
        f.idle_worker_percent
    );
    let ideal: Vec<String> = f
        .ideal
        .iter()
        .map(|i| {
            format!(
                "{}: {:.0} µs median, {:.0} µs p99, {:.0} µs at most, {} of {} hops later than the {:.1} ms hop",
                if i.busy { "busy" } else { "quiet" },
                i.late_median_us,
                i.late_p99_us,
                i.late_max_us,
                i.over_hop,
                i.hops,
                f.hop_ms
            )
        })
        .collect();
    println!(
        "Ideal worker (a thread at the worker's priority woken at each hop's start for one model call, nothing \
         else), from the hop's start to its masks: {}.",
        ideal.join("; ")
    );
    println!();
    println!(
        "Paced thread (the host's audio thread): {}. Worker: {}. Busy: {HOGS} threads spin at normal priority \
         beside the render.\n",
        f.host_scheduling, f.worker_scheduling
    );
    println!(
        "| host block | machine | latency (samples) | latency (ms) | paced misses (blocks/samples) | first misses at (s) \
         | longest run (ms) | input overflows | worker CPU (% of one core) | CPU stolen by the hypervisor (%) |"
    );
    println!("|--:|--|--:|--:|--:|--|--:|--:|--:|--:|");
    for row in &f.paced {
        let steal = row.steal_percent.map_or("n/a".into(), |p| format!("{p:.1}"));
        let at = row.missed_at_s.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>().join(", ");
        println!(
            "| {} | {} | {} | {:.1} | {}/{} | {} | {:.2} | {} | {:.1} | {steal} |",
            row.block,
            if row.busy { "busy" } else { "quiet" },
            row.latency_samples,
            row.latency_ms,
            row.missed.misses,
            row.missed.missed_samples,
            if at.is_empty() { "–".to_string() } else { at },
            row.longest_run_ms,
            row.missed.overflows,
            row.worker_percent
        );
    }
}
