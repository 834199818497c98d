//! Stalls: what a late worker does to the stems, concealed (the audio thread separates with
//! the last masks) side by side with the dry fall-back it replaced, and what concealment costs
//! the audio thread.
//!
//! Paced `live` renders of each shipped model (Sift's own, then Spleeter, a windowed model whose
//! runs come a 93 ms window at a time) at 128-sample blocks, with the worker made to stall
//! (`Stalling`) for 5 to 500 ms once a second; each stem against the same render without stalls
//! (offline, so no miss of the machine's own shows): SDR over the clip and in its worst 50 ms
//! window, and the largest step between neighbouring samples within 5 ms of a late block, next
//! to the stall-free render's largest step at the same places. The long stalls show how far
//! held masks beat the dry signal, which is what the hold limit (`sift_engine::HOLD_LIMIT`)
//! rests on.
//!
//! Then the cost: the audio thread's time per block, paced without stalls, with and without
//! concealment, for each shipped model in `live` at 64 to 1024-sample blocks.

use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use sift_engine::render::{self, Blocks, Rendered};
use sift_engine::{Engine, EngineConfig, MaskModel, Mode, StallPattern, Stalling};
use sift_inference::{catalogue, locations, Device};

use super::{load, looped, seconds_to_frames};
use crate::evaluation::{global_sdr, worst_window_sdr};
use crate::statistics::Spread;

/// The models whose stalls are measured: Sift's own (what `live` runs by default), then the
/// default model.
const STALL_MODELS: [&str; 2] = [super::streaming::MODEL, catalogue::DEFAULT_MODEL];
/// The host block of the paced renders.
const BLOCK: usize = 128;
/// Stall lengths, ms; one stall a second.
const STALLS_MS: [u64; 7] = [5, 10, 20, 50, 100, 250, 500];
/// The models and host blocks of the cost table.
const COST_MODELS: [&str; 2] = [catalogue::DEFAULT_MODEL, super::streaming::MODEL];
const COST_BLOCKS: [usize; 5] = [64, 128, 256, 512, 1024];
/// Seconds of each paced render of the cost table.
const COST_SECONDS: f64 = 5.0;
const EVERY: Duration = Duration::from_secs(1);
/// The window of the worst-case SDR.
const WINDOW_SECONDS: f64 = 0.05;
/// How close to a late block a step counts as the stall's edge.
const EDGE_SECONDS: f64 = 0.005;

/// Stalls this long or longer are also rendered with masks held throughout (no hold limit):
/// what the hold limit is chosen against.
const HELD_FROM_MS: u64 = 100;
/// A hold limit longer than any stall.
const NO_LIMIT: Duration = Duration::from_secs(3600);

/// What a late worker's samples get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Fallback {
    /// Concealment at the engine's hold limit (what Sift does).
    Concealed,
    /// Held masks however long the stall, for the comparison.
    HeldThroughout,
    /// The dry signal (what Sift did before concealment).
    Dry,
}

impl Fallback {
    /// `config` set up to give late samples this fall-back.
    fn configure(self, config: EngineConfig) -> EngineConfig {
        match self {
            Self::Concealed => config,
            Self::HeldThroughout => config.hold_limit(NO_LIMIT),
            Self::Dry => config.conceal(false),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Concealed => "concealed",
            Self::HeldThroughout => "held throughout",
            Self::Dry => "dry fall-back",
        }
    }
}

/// One paced render with stalls.
#[derive(Debug, Serialize, Deserialize)]
pub struct StallRow {
    stall_ms: u64,
    fallback: Fallback,
    late_samples: usize,
    /// Per stem: SDR over the clip and in the worst window, dB; `None` where the stem is the
    /// stall-free render's exactly (no sample was late: the SDR is infinite).
    global_db: Vec<Option<f64>>,
    worst_db: Vec<Option<f64>>,
    /// The largest step near a late block, and the stall-free render's there, over every stem.
    edge_step: f32,
    reference_step: f32,
}

/// The stall rows of one model.
#[derive(Debug, Serialize, Deserialize)]
pub struct ModelStalls {
    model: String,
    stems: Vec<String>,
    rows: Vec<StallRow>,
}

/// Every stall measurement, in this (child) process.
#[derive(Debug, Serialize, Deserialize)]
pub struct StallFigures {
    rate: u32,
    seconds: f64,
    models: Vec<ModelStalls>,
    costs: Vec<CostRow>,
}

/// The audio thread's time per block of one model and block size, paced without stalls.
#[derive(Debug, Serialize, Deserialize)]
pub struct CostRow {
    model: String,
    block: usize,
    /// Median and p99 per block, µs: with concealment, then without.
    concealed_us: (f64, f64),
    dry_us: (f64, f64),
}

/// Measures every row on `clip` looped to `seconds`.
pub fn measure(clip: &[Vec<f32>], rate: u32, seconds: f64) -> Result<StallFigures> {
    let input = looped(clip, seconds_to_frames(seconds, rate));
    let models = STALL_MODELS.iter().map(|name| model_stalls(name, &input, rate)).collect::<Result<_>>()?;
    let mut costs = Vec::new();
    for name in COST_MODELS {
        let path = catalogue::resolve(Some(name), locations::binary_dir().as_deref())?;
        let _kept = load(&path, 1, Device::Cpu)?;
        let input = looped(clip, seconds_to_frames(COST_SECONDS, rate));
        for block in COST_BLOCKS {
            eprintln!("[stalls] cost: {name}, {block}-sample blocks, paced {COST_SECONDS} s, concealment on and off");
            let mut spread = [(0.0, 0.0); 2];
            for (slot, fallback) in [(0, Fallback::Concealed), (1, Fallback::Dry)] {
                let paced = run(load(&path, 1, Device::Cpu)?, rate, &input, None, fallback, true, block)?;
                let times = Spread::of(paced.block_times.iter().map(|t| t.as_secs_f64() * 1e6).collect());
                spread[slot] = times.map_or((0.0, 0.0), |t| (t.median, t.p99));
            }
            costs.push(CostRow { model: name.to_owned(), block, concealed_us: spread[0], dry_us: spread[1] });
        }
    }
    Ok(StallFigures { rate, seconds, models, costs })
}

/// The stall rows of model `name` on `input`: every stall length, concealed and dry.
fn model_stalls(name: &str, input: &[Vec<f32>], rate: u32) -> Result<ModelStalls> {
    let path = catalogue::resolve(Some(name), locations::binary_dir().as_deref())?;
    // Held for the whole measurement, so every render's load shares its session (the process's
    // model cache) instead of loading the file again.
    let kept = load(&path, 1, Device::Cpu)?;
    let model = || load(&path, 1, Device::Cpu);
    eprintln!("[stalls] {name}: stall-free reference (offline)");
    let reference = run(model()?, rate, input, None, Fallback::Concealed, false, BLOCK)?;
    let stems = reference.stems.len();
    let mut rows = Vec::new();
    for stall_ms in STALLS_MS {
        let held = (stall_ms >= HELD_FROM_MS).then_some(Fallback::HeldThroughout);
        for fallback in [Some(Fallback::Concealed), held, Some(Fallback::Dry)].into_iter().flatten() {
            eprintln!("[stalls] {name}: {stall_ms} ms every second, {}", fallback.label());
            let pattern = StallPattern { stall: Duration::from_millis(stall_ms), every: EVERY };
            let stalled = run(model()?, rate, input, Some(pattern), fallback, true, BLOCK)?;
            let scores: Vec<(f64, f64)> =
                (0..stems).map(|s| global_and_worst(&reference.stems[s], &stalled.stems[s], rate)).collect();
            let late: Vec<usize> = stalled.late_in_stems().collect();
            let edges = |r: &Rendered| edge_step(r, &late, rate);
            rows.push(StallRow {
                stall_ms,
                fallback,
                late_samples: stalled.missed_samples,
                global_db: scores.iter().map(|s| s.0.is_finite().then_some(s.0)).collect(),
                worst_db: scores.iter().map(|s| s.1.is_finite().then_some(s.1)).collect(),
                edge_step: edges(&stalled),
                reference_step: edges(&reference),
            });
        }
    }
    Ok(ModelStalls { model: name.to_owned(), stems: kept.spec().stems.clone(), rows })
}

/// Renders `input` in `live` with `model` in `block`-sample blocks: paced in real time (with
/// `stalls`, late samples getting `fallback`) or offline.
fn run(
    model: Box<dyn MaskModel>,
    rate: u32,
    input: &[Vec<f32>],
    stalls: Option<StallPattern>,
    fallback: Fallback,
    paced: bool,
    block: usize,
) -> Result<Rendered> {
    // Not fitted to the machine, so the paced and the offline render run the same schedule.
    let config = fallback.configure(EngineConfig::new(rate, block).mode(Mode::Live).realtime(paced));
    let model = match stalls {
        Some(pattern) => Box::new(Stalling::new(model, pattern)),
        None => model,
    };
    let (_engine, mut processor) = Engine::start(model, config)?;
    Ok(render::render(&mut processor, input, rate, &Blocks::Fixed(block), paced, |_| {}))
}

/// SDR over the clip and in its worst window, dB (`[channel][sample]` each).
fn global_and_worst(reference: &[Vec<f32>], estimate: &[Vec<f32>], rate: u32) -> (f64, f64) {
    let window = seconds_to_frames(WINDOW_SECONDS, rate);
    let worst = worst_window_sdr(reference, estimate, window).unwrap_or(f64::INFINITY);
    (global_sdr(reference, estimate), worst)
}

/// The largest step between neighbouring samples of any stem and channel of `rendered` within
/// [`EDGE_SECONDS`] of a block in `late` (positions in input samples).
fn edge_step(rendered: &Rendered, late: &[usize], rate: u32) -> f32 {
    let edge = seconds_to_frames(EDGE_SECONDS, rate);
    let mut step = 0.0f32;
    for channel in rendered.stems.iter().flatten() {
        for &at in late {
            let len = channel.len();
            let range = at.saturating_sub(edge).min(len)..(at + BLOCK + edge).min(len);
            for w in channel[range].windows(2) {
                step = step.max((w[1] - w[0]).abs());
            }
        }
    }
    step
}

/// The stall tables, one per model, then the cost table.
pub fn print(f: &StallFigures) {
    for m in &f.models {
        println!(
            "\nStalls: `{}` in `live`, paced at {BLOCK}-sample blocks for {:.0} s of the demo mixture, the worker \
             stalled once a second (`Stalling`, as `sift separate --realtime --stall MS/1000`); each stem against \
             the stall-free render: SDR over the clip / in its worst 50 ms window (dB), and the largest sample step \
             within 5 ms of a late block (the stall-free render's at the same places in brackets); `=`: no sample \
             was late, the stem is the stall-free render's.\n",
            m.model, f.seconds
        );
        let stems = m.stems.join(" | ");
        println!("| stall | late samples | {stems} | largest step at edges |");
        println!("|---|--:|{}--:|", "--:|".repeat(m.stems.len()));
        for row in &m.rows {
            let db = |x: &Option<f64>| x.map_or("=".to_owned(), |x| format!("{x:.1}"));
            let scores: Vec<String> =
                row.global_db.iter().zip(&row.worst_db).map(|(g, w)| format!("{} / {}", db(g), db(w))).collect();
            println!(
                "| {} ms, {} | {} | {} | {:.3} ({:.3}) |",
                row.stall_ms,
                row.fallback.label(),
                row.late_samples,
                scores.join(" | "),
                row.edge_step,
                row.reference_step
            );
        }
    }
    println!(
        "\nThe audio thread's time per block in `live`, paced {COST_SECONDS:.0} s without stalls: median / p99 µs \
         with concealment, without it, and what concealment adds as a share of the block's duration.\n"
    );
    println!("| model | block | concealed (µs) | dry fall-back (µs) | added, median / p99 |");
    println!("|---|--:|--:|--:|--:|");
    for c in &f.costs {
        let block_us = c.block as f64 * 1e6 / f64::from(f.rate);
        println!(
            "| {} | {} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} % / {:.1} % |",
            c.model,
            c.block,
            c.concealed_us.0,
            c.concealed_us.1,
            c.dry_us.0,
            c.dry_us.1,
            100.0 * (c.concealed_us.0 - c.dry_us.0) / block_us,
            100.0 * (c.concealed_us.1 - c.dry_us.1) / block_us,
        );
    }
}
