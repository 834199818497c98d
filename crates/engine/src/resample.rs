//! Fixed-ratio resampling between the host's rate and the model's, with a known integer delay.
//!
//! Built on `rubato`'s synchronous FFT resampler with both chunk sizes fixed: for every
//! `input_chunk` samples in it gives exactly `output_chunk` out, and its delay is half its FFT
//! length on each side, an integer number of samples at both rates. That is what makes the
//! stems line up with the dry signal to the sample at 48 or 96 kHz.

use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler};

/// One direction of resampling for a fixed number of channels, fed in arbitrary pieces.
pub struct Stage {
    resampler: Fft<f32>,
    input: Vec<Vec<f32>>,
    filled: usize,
    output: Vec<Vec<f32>>,
}

impl Stage {
    /// Plans a resampler from `from` Hz to `to` Hz for `channels` channels, with chunks of
    /// about `chunk` input samples.
    pub fn new(from: u32, to: u32, chunk: usize, channels: usize) -> Result<Self, String> {
        // Both FFT lengths must be even for the delay (half of each) to be a whole number of
        // samples on both sides: use an even number of the smallest blocks the ratio allows.
        let smallest = from as usize / gcd(from as usize, to as usize);
        let blocks = chunk.div_ceil(smallest).div_ceil(2) * 2;
        let resampler = Fft::<f32>::new(from as usize, to as usize, blocks * smallest, channels, FixedSync::Both)
            .map_err(|e| format!("cannot resample {from} Hz to {to} Hz: {e}"))?;
        let input = vec![vec![0.0; resampler.input_frames_next()]; channels];
        let output = vec![vec![0.0; resampler.output_frames_next()]; channels];
        Ok(Self { resampler, input, filled: 0, output })
    }

    /// Input samples per chunk.
    pub fn input_chunk(&self) -> usize {
        self.input[0].len()
    }

    /// Output samples per chunk.
    pub fn output_chunk(&self) -> usize {
        self.output[0].len()
    }

    /// The resampler's delay, in input samples.
    pub fn input_delay(&self) -> usize {
        self.resampler.fft_size_in() / 2
    }

    /// The resampler's delay, in output samples.
    pub fn output_delay(&self) -> usize {
        self.resampler.output_delay()
    }

    /// Copies samples `offset..` of each channel into the chunk being filled, as many as fit.
    /// Returns how many were taken.
    pub fn fill<'a>(&mut self, channels: impl Iterator<Item = &'a [f32]>, offset: usize) -> usize {
        let mut taken = 0;
        for (buffer, input) in self.input.iter_mut().zip(channels) {
            let available = input.len().saturating_sub(offset);
            taken = (buffer.len() - self.filled).min(available);
            buffer[self.filled..self.filled + taken].copy_from_slice(&input[offset..offset + taken]);
        }
        self.filled += taken;
        taken
    }

    /// Forgets buffered input and the resampler's overlap.
    pub fn reset(&mut self) {
        self.filled = 0;
        self.resampler.reset();
    }

    /// Whether a full chunk is waiting for [`Stage::process`].
    pub fn ready(&self) -> bool {
        self.filled == self.input_chunk()
    }

    /// Resamples the full chunk and returns the output, one `Vec` per channel.
    pub fn process(&mut self) -> &[Vec<f32>] {
        debug_assert!(self.ready());
        let channels = self.input.len();
        let (frames_in, frames_out) = (self.input_chunk(), self.output_chunk());
        let input = SequentialSliceOfVecs::new(&self.input, channels, frames_in)
            .expect("input buffers are sized at construction");
        let mut output = SequentialSliceOfVecs::new_mut(&mut self.output, channels, frames_out)
            .expect("output buffers are sized at construction");
        self.resampler.process_into_buffer(&input, &mut output, None).expect("chunk sizes are fixed at construction");
        self.filled = 0;
        &self.output
    }
}

/// The resampling around the model: host rate down to the model's and back up.
pub struct RateBridge {
    /// Host rate to model rate, for the mixture (2 channels).
    pub down: Stage,
    /// Model rate to host rate, for the separated stems.
    pub up: Stage,
    /// The host rate the ratio is built on ([`ratio_rate`]).
    host_rate: u32,
}

/// The host rate a resampling ratio is built on: the host's own where its ratio to the model's
/// rate reduces to short blocks (every common rate: 44.1k, 48k, 96k, 8k, 11.025k, ...), else the
/// nearest multiple of 100 Hz. An odd rate (a fractional 88 200.5 Hz arrives as 88 201) would
/// otherwise need a block of tens of thousands of samples and as much latency; rounded, the
/// model hears the audio off-pitch by at most 50 Hz / rate (0.06 % at 88.2 kHz), and nothing
/// else changes: the way back uses the same ratio, so the stems stay aligned to the sample.
pub fn ratio_rate(host_rate: u32, model_rate: u32) -> u32 {
    const LONGEST_BLOCK: u32 = 1024;
    let smallest_block = host_rate / gcd(host_rate as usize, model_rate as usize) as u32;
    if host_rate.is_multiple_of(100) || smallest_block <= LONGEST_BLOCK {
        host_rate
    } else {
        (host_rate.saturating_add(50) / 100 * 100).max(100)
    }
}

impl RateBridge {
    /// Chunk length aimed for on the host side: short enough to keep the added latency small,
    /// long enough for a steep anti-aliasing filter.
    const CHUNK: usize = 1024;

    /// Builds both directions, or `None` when the host already runs at the model's rate.
    pub fn new(host_rate: u32, model_rate: u32, stem_channels: usize) -> Result<Option<Self>, String> {
        if host_rate == model_rate {
            return Ok(None);
        }
        let host_rate = ratio_rate(host_rate, model_rate);
        // Below 22.05 kHz the chunk shrinks with the rate, so it stays under ~46 ms (at 1 kHz a
        // 1024-sample chunk alone would add a second of latency).
        let chunk = Self::CHUNK.min((host_rate as usize * Self::CHUNK).div_ceil(22_050));
        let down = Stage::new(host_rate, model_rate, chunk, super::model::CHANNELS)?;
        let up = Stage::new(model_rate, host_rate, down.output_chunk(), stem_channels)?;
        Ok(Some(Self { down, up, host_rate }))
    }

    /// Forgets everything in flight in both directions.
    pub fn reset(&mut self) {
        self.down.reset();
        self.up.reset();
    }

    /// Delay of the round trip, in host samples: the stems the bridge returns lag the mixture
    /// by exactly this much.
    pub fn delay(&self) -> usize {
        self.down.input_delay() + self.up.output_delay()
    }

    /// What the bridge adds to the engine's latency, as plain numbers: planning a resampler
    /// costs FFT set-up, so the bridge reports its timing once and latencies of other modes
    /// are worked out from that.
    pub fn timing(&self) -> BridgeTiming {
        BridgeTiming {
            down_chunk: self.down.input_chunk(),
            up_chunk: self.up.input_chunk(),
            delay: self.delay(),
            host_rate: self.host_rate,
        }
    }
}

/// The timing of a [`RateBridge`]: its chunk sizes and round-trip delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeTiming {
    /// Host samples per chunk going down to the model's rate.
    pub down_chunk: usize,
    /// Model-rate samples per chunk coming back up.
    pub up_chunk: usize,
    /// Round-trip delay in host samples ([`RateBridge::delay`]).
    pub delay: usize,
    /// The host rate the ratio is built on ([`ratio_rate`]).
    pub host_rate: u32,
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
