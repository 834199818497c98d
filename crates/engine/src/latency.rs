//! The engine's latency: how long the input takes to come back out as stems.

use super::core::SeparationCore;
use super::model::ModelSpec;
use super::resample::BridgeTiming;
use super::schedule::Schedule;

/// The latency of an engine at the host's rate, and what it is made of.
///
/// `samples` is what the host is told and what the audio thread delays by: every output
/// sample is the input of exactly `samples` earlier, at any block size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    /// Total latency in host samples.
    pub samples: usize,
    /// The part the algorithm needs even with an infinitely fast model: the STFT frame,
    /// look-ahead, waiting for a run's new frames, and resampling.
    pub algorithmic: usize,
    /// The time the worker gets for one model run: one run's worth of new frames, or the host's
    /// largest block if that is longer (see [`Latency::new`]).
    pub budget: usize,
    /// Host sample rate, for converting to time.
    pub sample_rate: u32,
}

impl Latency {
    /// Works out the latency for `schedule` on `spec`'s grid at `host_rate`.
    ///
    /// Without resampling the algorithmic part is exact: the largest number of samples that
    /// can be in before the stems for the first of them are out. With resampling it is a
    /// tight upper bound that adds each resampler's chunking and delay.
    ///
    /// The budget is a run's worth of new frames, but never less than `max_block`: the worker
    /// only sees a host block once the host hands it over, and the audio thread does not wait,
    /// so stems for the samples of one block can only be ready by a later one. With a
    /// streaming model (a run every 256 samples) host blocks longer than a run set the latency.
    pub fn new(
        spec: &ModelSpec,
        schedule: &Schedule,
        host_rate: u32,
        max_block: usize,
        bridge: Option<BridgeTiming>,
    ) -> Self {
        let core_lag = SeparationCore::max_lag(spec, schedule);
        // Samples convert at the ratio the resamplers use.
        let ratio_rate = bridge.map_or(host_rate, |b| b.host_rate);
        let to_host = |model_samples: usize| {
            (model_samples as u64 * ratio_rate as u64).div_ceil(spec.sample_rate as u64) as usize
        };
        let algorithmic = match bridge {
            None => core_lag,
            Some(b) => b.down_chunk - 1 + to_host(core_lag + b.up_chunk - 1) + b.delay,
        };
        let budget = to_host(schedule.new * spec.hop).max(max_block);
        Self { samples: algorithmic + budget, algorithmic, budget, sample_rate: host_rate }
    }

    /// The total latency in milliseconds.
    pub fn millis(&self) -> f64 {
        self.samples as f64 * 1000.0 / self.sample_rate as f64
    }
}
