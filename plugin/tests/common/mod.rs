//! Shared fixtures: stand-in models with known behaviour, the eval clip, signal measures.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::PathBuf;
use std::time::Duration;

use sift::engine::{InferenceFailure, MaskModel, ModelSpec};

/// The grid and stems of the default Spleeter model.
pub fn spleeter_spec() -> ModelSpec {
    ModelSpec { name: "stand-in".into(), ..ModelSpec::default_grid() }
}

/// What a [`StandIn`] model does.
#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Masks that depend on the input in an arbitrary but deterministic way.
    Scrambled,
    /// Everything to the first stem (which is not the residual).
    AllToFirst,
}

/// A model with known behaviour that needs no runtime, optionally slow or failing.
pub struct StandIn {
    pub spec: ModelSpec,
    pub behaviour: Behaviour,
    /// Every `slow_every`-th run sleeps `slow_for` first (0: never).
    pub slow_every: usize,
    pub slow_for: Duration,
    /// Every `fail_every`-th run fails (0: never).
    pub fail_every: usize,
    /// Every `panic_every`-th run panics (0: never).
    pub panic_every: usize,
    pub runs: usize,
}

impl StandIn {
    pub fn new(behaviour: Behaviour) -> Self {
        Self { spec: spleeter_spec(), behaviour, slow_every: 0, slow_for: Duration::ZERO, fail_every: 0, panic_every: 0, runs: 0 }
    }
}

impl MaskModel for StandIn {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn provider(&self) -> &str {
        "stand-in"
    }

    fn infer(&mut self, magnitude: &[f32], _frames: usize, masks: &mut [f32]) -> Result<(), InferenceFailure> {
        self.runs += 1;
        if self.slow_every > 0 && self.runs.is_multiple_of(self.slow_every) {
            std::thread::sleep(self.slow_for);
        }
        if self.panic_every > 0 && self.runs.is_multiple_of(self.panic_every) {
            panic!("injected panic");
        }
        if self.fail_every > 0 && self.runs.is_multiple_of(self.fail_every) {
            return Err(InferenceFailure("injected failure".into()));
        }
        let half = masks.len() / 2;
        let (first, second) = masks.split_at_mut(half);
        for (i, (a, b)) in first.iter_mut().zip(second.iter_mut()).enumerate() {
            let m = magnitude[i % magnitude.len()];
            (*a, *b) = match self.behaviour {
                Behaviour::Scrambled => {
                    let v = 0.5 + 0.5 * (m * 3.7 + i as f32 * 0.01).sin();
                    (v, 1.0 - v * 0.5)
                }
                Behaviour::AllToFirst => (1.0, 0.0),
            };
        }
        Ok(())
    }
}

/// The folder of real multitrack clips (`$SIFT_EVAL_DIR`, else `../shared/eval` beside the
/// repository).
pub fn eval_dir() -> PathBuf {
    std::env::var_os("SIFT_EVAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/eval"))
}

/// The real eval clip used by the quality tests.
pub fn rock_clip() -> PathBuf {
    eval_dir().join("musdb18-preview-80s-rock")
}

/// Peak of `a - b` over all channels, in dB relative to full scale.
pub fn peak_difference_db(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    let peak = a
        .iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0f32, f32::max);
    20.0 * (peak.max(1e-30) as f64).log10()
}

/// Sums the stems of a render, channel by channel.
pub fn sum_stems(stems: &[Vec<Vec<f32>>]) -> Vec<Vec<f32>> {
    let mut sum = stems[0].clone();
    for stem in &stems[1..] {
        for (s, ch) in sum.iter_mut().zip(stem) {
            s.iter_mut().zip(ch).for_each(|(a, b)| *a += b);
        }
    }
    sum
}

/// A few seconds of stereo noise shaped like music (pink-ish, uncorrelated channels), seeded.
pub fn test_signal(frames: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    (0..2)
        .map(|_| {
            let mut low = 0.0f32;
            (0..frames)
                .map(|i| {
                    low = 0.99 * low + 0.05 * next();
                    0.3 * low + 0.1 * next() + 0.2 * (i as f32 * 0.031).sin()
                })
                .collect()
        })
        .collect()
}
