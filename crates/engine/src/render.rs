//! Driving an [`AudioProcessor`] over a whole recording the way a host does.
//!
//! The command line, the tests and the benchmark all separate files through this, so they
//! exercise exactly the code path a plugin host does: host-sized blocks into the audio-thread
//! half, the worker behind it.

use std::time::{Duration, Instant};

use crate::AudioProcessor;

/// How the host block sizes are chosen.
#[derive(Clone, Debug)]
pub enum Blocks {
    /// Every block this long (the last one may be shorter).
    Fixed(usize),
    /// Sizes drawn from `1..=max` by a small deterministic generator seeded with `seed`.
    Random {
        /// Largest block.
        max: usize,
        /// Generator seed.
        seed: u64,
    },
}

impl Blocks {
    fn sizes(&self) -> impl Iterator<Item = usize> + '_ {
        let mut state = match self {
            Blocks::Random { seed, .. } => seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407),
            Blocks::Fixed(_) => 0,
        };
        std::iter::from_fn(move || {
            Some(match self {
                Blocks::Fixed(n) => *n,
                Blocks::Random { max, .. } => {
                    // xorshift64*: deterministic, good enough to vary block sizes.
                    state ^= state >> 12;
                    state ^= state << 25;
                    state ^= state >> 27;
                    1 + (state.wrapping_mul(0x2545F4914F6CDD1D) >> 33) as usize % max
                }
            })
        })
    }
}

/// The largest block [`Blocks`] produces.
pub fn largest_block(blocks: &Blocks) -> usize {
    match blocks {
        Blocks::Fixed(n) => *n,
        Blocks::Random { max, .. } => *max,
    }
}

/// What a render produced and how it went.
pub struct Rendered {
    /// `[stem][channel]` samples, aligned with the input (latency removed), input length.
    pub stems: Vec<Vec<Vec<f32>>>,
    /// Wall-clock time spent in the render.
    pub elapsed: Duration,
    /// Audio-thread time of each block, in the order processed.
    pub block_times: Vec<Duration>,
    /// Samples the worker was late for (concealed or fallen back to dry).
    pub missed_samples: usize,
    /// Where each block that missed its deadline started, in the samples the host processed
    /// (latency included: the late stems there belong to the input `latency` samples earlier):
    /// whether misses come at the start (a cold model) or anywhere (the machine).
    pub missed_at: Vec<usize>,
    /// The processor's latency, which `stems` have had removed.
    pub latency: usize,
}

impl Rendered {
    /// Where each late block's stems are in [`Rendered::stems`] (input samples): `missed_at`
    /// less the latency.
    pub fn late_in_stems(&self) -> impl Iterator<Item = usize> + '_ {
        self.missed_at.iter().map(|at| at.saturating_sub(self.latency))
    }
}

/// Separates `input` (one or two channels of equal length at `sample_rate`) block by block.
///
/// The input is followed by `processor.latency()` samples of silence so the tail comes out,
/// and the first `latency` output samples are dropped, so every stem lines up with the input.
/// With `paced`, each block waits for its wall-clock time like a live host; `on_progress`
/// gets the number of input samples processed so far.
pub fn render(
    processor: &mut AudioProcessor,
    input: &[Vec<f32>],
    sample_rate: u32,
    blocks: &Blocks,
    paced: bool,
    mut on_progress: impl FnMut(usize),
) -> Rendered {
    let channels = input.len();
    let frames = input.first().map_or(0, Vec::len);
    let latency = processor.latency();
    let total = frames + latency;
    let stems = processor.stem_count();
    let mut out: Vec<Vec<Vec<f32>>> = vec![vec![vec![0.0; total]; channels]; stems];
    let largest = largest_block(blocks);
    let silence = vec![0.0f32; largest];
    let mut staged: Vec<Vec<f32>> = vec![vec![0.0; largest]; channels];
    let mut block_out: Vec<Vec<f32>> = vec![vec![0.0; largest]; stems * channels];
    let mut block_times = Vec::new();
    let mut missed = 0;
    let mut missed_at = Vec::new();
    let started = Instant::now();
    let mut position = 0;
    for size in blocks.sizes() {
        if position >= total {
            break;
        }
        let n = size.min(total - position);
        for (ch, stage) in staged.iter_mut().enumerate() {
            let real = frames.saturating_sub(position).min(n);
            let from = position.min(frames);
            stage[..real].copy_from_slice(&input[ch][from..from + real]);
            stage[real..n].copy_from_slice(&silence[real..n]);
        }
        if paced {
            let due = Duration::from_secs_f64(position as f64 / sample_rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let ins: Vec<&[f32]> = staged.iter().map(|s| &s[..n]).collect();
        let mut outs: Vec<&mut [f32]> = block_out.iter_mut().map(|b| &mut b[..n]).collect();
        let t = Instant::now();
        let report = processor.process(&ins, &mut outs);
        block_times.push(t.elapsed());
        if report.missed > 0 {
            missed += report.missed;
            missed_at.push(position);
        }
        for (i, b) in block_out.iter().enumerate() {
            out[i / channels][i % channels][position..position + n].copy_from_slice(&b[..n]);
        }
        position += n;
        on_progress(position.min(frames));
    }
    for stem in &mut out {
        for ch in stem.iter_mut() {
            ch.drain(..latency);
        }
    }
    Rendered { stems: out, elapsed: started.elapsed(), block_times, missed_samples: missed, missed_at, latency }
}
