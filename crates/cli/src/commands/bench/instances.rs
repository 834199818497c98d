//! Several plugin instances in one process, as in a session with Sift on several tracks.
//!
//! - misses: 1 and [`SHARED_INSTANCES`] engines of a model in `live` (the default model, then
//!   Sift's own four-stem streaming model), fitted to the machine as the plugin fits them,
//!   driven by one paced thread that processes every instance's block in turn (a host's audio
//!   thread does the same), at 64 to 1024-sample blocks; the misses are summed over the
//!   instances;
//! - memory: the peak RSS of a process holding 1 and [`MEMORY_INSTANCES`] engines that each
//!   rendered a few seconds offline, each count in its own child process (a peak only grows).
//!   Instances of one model share one ONNX Runtime session (`OnnxModel::load` keeps a cache),
//!   as the plugin's do; each has its own engine, buffers and worker.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use sift_engine::render::{self, Blocks};
use sift_engine::{AudioProcessor, Engine, EngineConfig, Mode};
use sift_inference::Device;

use super::streaming::BLOCKS;
use super::{load, looped, seconds_to_frames, Lengths, Misses};
use crate::memory::peak_rss_mib;

/// Instances sharing the paced thread in the second set of paced renders.
pub const SHARED_INSTANCES: usize = 4;

/// Instances held at once for the memory figure.
pub const MEMORY_INSTANCES: usize = 8;

/// Seconds each instance renders before the memory figure is read.
const MEMORY_RENDER_SECONDS: f64 = 5.0;

/// What the instances child measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct InstanceFigures {
    model: String,
    provider: String,
    rows: Vec<InstanceRow>,
}

/// Paced renders of `instances` engines at one block size.
#[derive(Debug, Serialize, Deserialize)]
struct InstanceRow {
    instances: usize,
    block: usize,
    latency_ms: f64,
    /// Summed over the instances.
    #[serde(flatten)]
    missed: Misses,
}

/// The peak memory of a process holding `instances` engines.
#[derive(Debug, Serialize, Deserialize)]
pub struct MemoryFigures {
    instances: usize,
    peak_rss_mib: Option<f64>,
}

/// The paced renders with 1 and [`SHARED_INSTANCES`] instances, in this (child) process.
pub fn measure_misses(
    model_path: &Path,
    clip: &[Vec<f32>],
    rate: u32,
    lengths: Lengths,
    device: Device,
) -> Result<InstanceFigures> {
    let input = looped(clip, seconds_to_frames(lengths.paced, rate));
    let mut rows = Vec::new();
    let (mut model, mut provider) = (String::new(), String::new());
    for instances in [1, SHARED_INSTANCES] {
        for block in BLOCKS {
            eprintln!("[instances] {instances} × live, {block}-sample blocks, {} s paced", lengths.paced);
            let mut engines = Vec::new();
            let mut processors = Vec::new();
            for _ in 0..instances {
                let config = EngineConfig::new(rate, block).mode(Mode::Live).realtime(true).fit_to_machine(true);
                let (engine, processor) = Engine::start(load(model_path, 1, device)?, config)?;
                engines.push(engine);
                processors.push(processor);
            }
            paced(&mut processors, &input, rate, block);
            let mut missed = Misses { misses: 0, missed_samples: 0, overflows: 0 };
            for engine in &engines {
                let one = Misses::of(engine);
                missed.misses += one.misses;
                missed.missed_samples += one.missed_samples;
                missed.overflows += one.overflows;
            }
            eprintln!("[instances]   {} misses ({} samples)", missed.misses, missed.missed_samples);
            model = engines[0].spec().name.clone();
            provider = engines[0].provider().to_owned();
            rows.push(InstanceRow { instances, block, latency_ms: engines[0].latency().millis(), missed });
        }
    }
    Ok(InstanceFigures { model, provider, rows })
}

/// Holds `instances` engines of the model, renders a few seconds through each offline, and
/// reads this process's peak memory.
pub fn measure_memory(model_path: &Path, clip: &[Vec<f32>], rate: u32, instances: usize) -> Result<MemoryFigures> {
    let input = looped(clip, seconds_to_frames(MEMORY_RENDER_SECONDS, rate));
    let mut held = Vec::new();
    for _ in 0..instances {
        let config = EngineConfig::new(rate, 512).mode(Mode::Live).realtime(false);
        let (engine, mut processor) = Engine::start(load(model_path, 1, Device::Cpu)?, config)?;
        render::render(&mut processor, &input, rate, &Blocks::Fixed(512), false, |_| {});
        held.push((engine, processor));
    }
    Ok(MemoryFigures { instances, peak_rss_mib: peak_rss_mib() })
}

/// Plays `input` through every processor in wall-clock time, one block of each in turn per
/// period, as a host's audio thread processes the tracks of a session.
fn paced(processors: &mut [AudioProcessor], input: &[Vec<f32>], rate: u32, block: usize) {
    let latency = processors.iter().map(AudioProcessor::latency).max().unwrap_or(0);
    let frames = input[0].len();
    let total = frames + latency;
    let outputs = processors[0].stem_count() * input.len();
    let mut staged: Vec<Vec<f32>> = vec![vec![0.0; block]; input.len()];
    let mut out: Vec<Vec<f32>> = vec![vec![0.0; block]; outputs];
    let started = Instant::now();
    for position in (0..total).step_by(block) {
        let n = block.min(total - position);
        for (stage, channel) in staged.iter_mut().zip(input) {
            for (i, sample) in stage[..n].iter_mut().enumerate() {
                *sample = channel.get(position + i).copied().unwrap_or(0.0);
            }
        }
        let due = Duration::from_secs_f64(position as f64 / f64::from(rate));
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        let ins: Vec<&[f32]> = staged.iter().map(|s| &s[..n]).collect();
        for processor in processors.iter_mut() {
            let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|o| &mut o[..n]).collect();
            processor.process(&ins, &mut outs);
        }
    }
}

/// The instances table (one row per model, instance count and block) and the memory line,
/// after the windowed table.
pub fn print(figures: &[InstanceFigures], memory: &[MemoryFigures]) {
    if figures.is_empty() {
        return;
    }
    let mut providers: Vec<&str> = figures.iter().map(|f| f.provider.as_str()).collect();
    providers.dedup();
    println!(
        "\nInstances in `live` (fitted to this machine as the plugin fits them) on the {} execution provider, \
         paced renders with one thread processing every instance's block in turn; misses summed over the instances.\n",
        providers.join(" / ")
    );
    println!("| model | instances | host block | latency (ms) | paced misses (blocks/samples) | input overflows |");
    println!("|--|--:|--:|--:|--:|--:|");
    for figures in figures {
        for r in &figures.rows {
            println!(
                "| {} | {} | {} | {:.1} | {}/{} | {} |",
                figures.model,
                r.instances,
                r.block,
                r.latency_ms,
                r.missed.misses,
                r.missed.missed_samples,
                r.missed.overflows
            );
        }
    }
    let rss = |m: &MemoryFigures| m.peak_rss_mib.map_or("n/a".to_owned(), |v| format!("{v:.0} MiB"));
    let line: Vec<String> = memory.iter().map(|m| format!("{} instance(s) {}", m.instances, rss(m))).collect();
    let ratio = match (memory.first().and_then(|m| m.peak_rss_mib), memory.last().and_then(|m| m.peak_rss_mib)) {
        (Some(one), Some(many)) if memory.len() > 1 => format!(" ({:.2}× the memory of one)", many / one),
        _ => String::new(),
    };
    println!(
        "\nPeak memory of a process holding the engines (each rendered {MEMORY_RENDER_SECONDS} s; sessions pooled, one per core): {}{ratio}.",
        line.join(", ")
    );
}
