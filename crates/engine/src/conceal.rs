//! Concealing a late worker: the audio thread's own separation of the delayed mixture, with the
//! masks the worker last used, so a stall never lets the unseparated mix through.
//!
//! The worker sends every frame's masks (normalised, extended, as it applied them) through a
//! wait-free ring ([`MaskTap`] → [`Concealer`]). The audio thread keeps the recent frames and,
//! hop by hop, separates the dry signal it already delays by the latency, on the same frame
//! grid as the worker: with the frame's own masks, what it makes equals the worker's stems (to
//! float rounding, at the model's rate), so the switch at a stall's start is seamless. During a
//! stall a frame's masks have not come, and the last ones that did are held. Held masks drift
//! from the music, so after [`HOLD_LIMIT_SECONDS`] (80 ms) the concealment fades to the dry
//! signal (all in the residual stem) over [`FADE_SECONDS`], and back when masks come again.
//!
//! At another host rate than the model's, the frames are on the host's grid (same size and hop
//! in samples) and each bin takes the mask at its frequency on the model's grid (linear
//! interpolation): close to the worker's stems, not equal, which the processor's cross-fade back
//! to the worker covers.
//!
//! Cost on the audio thread, every hop whether needed or not (so it is ready the moment it is):
//! one FFT per channel and one inverse FFT per non-residual stem and channel.

use realfft::num_complex::Complex32;

use super::model::{ModelSpec, CHANNELS};
use super::stft::{Analysis, Synthesis};

/// How long held masks stand in for fresh ones before the concealment fades to dry. Chosen by
/// measurement (`sift bench`'s stall table, `sift-4stem` on the demo mixture): against the
/// stall-free render, held masks beat the dry signal in every stem's worst 50 ms window for
/// stalls up to 50 ms (7–14 dB against 0–1 dB, `other` −10 dB), and lose to it from 100 ms on
/// (down to −24 dB: the music has moved on from the masks). So the hold covers the stalls a
/// busy machine causes (tens of ms) and ends before held masks do more harm than the dry mix.
pub const HOLD_LIMIT_SECONDS: f64 = 0.08;
/// How long the fade to dry (and back) takes: short enough to follow the music, long enough not
/// to click.
pub const FADE_SECONDS: f64 = 0.03;

/// The worker's end of the mask ring: one record per frame, `[frame index as f32 bits,
/// masks[channel][non-residual stem][full bin]]`.
pub struct MaskTap {
    producer: rtrb::Producer<f32>,
    record: Vec<f32>,
    stems: usize,
    full: usize,
}

impl MaskTap {
    /// The masks of one frame and channel go here: `[non-residual stem][full bin]`.
    pub fn channel_mut(&mut self, channel: usize) -> &mut [f32] {
        let len = self.stems * self.full;
        &mut self.record[1 + channel * len..][..len]
    }

    /// Sends the record of `frame` (filled through [`MaskTap::channel_mut`]); drops it if the
    /// audio thread has not taken the earlier ones (it then holds older masks): the worker
    /// never waits.
    pub fn send(&mut self, frame: usize) {
        self.record[0] = f32::from_bits(frame as u32);
        if self.producer.slots() >= self.record.len() {
            let (pushed, _) = self.producer.push_partial_slice(&self.record);
            debug_assert_eq!(pushed.len(), self.record.len());
        }
    }
}

/// The audio thread's stand-in separation (see the module's documentation). Owns only
/// preallocated state; every method is real-time safe.
pub struct Concealer {
    masks_in: rtrb::Consumer<f32>,
    /// Non-residual stems.
    stems: usize,
    n_fft: usize,
    hop: usize,
    full: usize,
    /// The latest frames' masks: `[slot][channel][stem][full bin]`, slot = frame % slots, with
    /// the frame each slot holds.
    kept: Vec<f32>,
    kept_frames: Vec<Option<usize>>,
    /// The newest frame whose masks came.
    newest: Option<usize>,
    /// Per host bin: the model bin below its frequency and the weight of the one above.
    bin_map: Vec<(usize, f32)>,
    /// Host samples per model sample.
    ratio: f64,
    analysis: Analysis,
    spectrum: Vec<Complex32>,
    frame: Vec<f32>,
    /// One synthesiser per non-residual stem and channel.
    synthesis: Vec<Synthesis>,
    /// The current hop's concealed stems, `[stem][channel][sample]`.
    hop_out: Vec<f32>,
    /// Stream time of the first sample of `hop_out`, and of the next frame to synthesise.
    hop_start: i64,
    next_frame: i64,
    /// Consecutive frames made with held masks, and the limit.
    held: usize,
    hold_limit: usize,
    /// Gain of the concealed stems (1 while masks are fresh or held, fading to 0 past the hold
    /// limit), and its step per sample.
    gain: f32,
    fade_step: f32,
    /// Off where the worker sends no masks ([`Concealer::disable`]): late samples are dry.
    enabled: bool,
}

/// The two ends for one engine: the worker's tap and the audio thread's concealer.
///
/// `history_frames`: how many frames ahead of the output the worker may be (its look-ahead,
/// a run's new frames, the latency): the frames the concealer keeps.
pub fn pair(spec: &ModelSpec, host_rate: u32, history_frames: usize) -> (MaskTap, Concealer) {
    let (stems, full, n_fft, hop) = (spec.stem_count() - 1, spec.full_bins(), spec.n_fft, spec.hop);
    let record = 1 + CHANNELS * stems * full;
    let slots = history_frames + 4;
    let (producer, masks_in) = rtrb::RingBuffer::new(record * slots);
    let ratio = f64::from(host_rate) / f64::from(spec.sample_rate.max(1));
    let bin_map = (0..full)
        .map(|b| {
            let at = (b as f64 * ratio).min((full - 1) as f64);
            (at.floor() as usize, (at - at.floor()) as f32)
        })
        .collect();
    let hop_seconds = hop as f64 / f64::from(host_rate);
    let tap = MaskTap { producer, record: vec![0.0; record], stems, full };
    let mut concealer = Concealer {
        masks_in,
        stems,
        n_fft,
        hop,
        full,
        kept: vec![0.0; slots * CHANNELS * stems * full],
        kept_frames: vec![None; slots],
        newest: None,
        bin_map,
        ratio,
        analysis: Analysis::new(n_fft),
        spectrum: vec![Complex32::default(); full],
        frame: vec![0.0; n_fft],
        synthesis: (0..stems * CHANNELS).map(|_| Synthesis::new(n_fft, hop)).collect(),
        hop_out: vec![0.0; stems * CHANNELS * hop],
        hop_start: 0,
        next_frame: 0,
        held: 0,
        hold_limit: (HOLD_LIMIT_SECONDS / hop_seconds).ceil() as usize,
        gain: 1.0,
        fade_step: 1.0 / (FADE_SECONDS * f64::from(host_rate)) as f32,
        enabled: true,
    };
    concealer.restart();
    (tap, concealer)
}

impl Concealer {
    /// No masks will come (a model that gives spectra, a latency shorter than a frame): late
    /// samples fall back to the dry signal, as before concealment existed.
    pub fn disable(&mut self) {
        self.enabled = false;
        self.gain = 0.0;
    }

    /// A fresh stream starts (stream time 0 is its first sample): forgets every frame.
    pub fn restart(&mut self) {
        self.synthesis.iter_mut().for_each(Synthesis::reset);
        self.kept_frames.fill(None);
        self.newest = None;
        // Frame 0 starts n_fft - hop samples before the stream (those are silence).
        self.next_frame = -((self.n_fft - self.hop) as i64);
        self.hop_start = self.next_frame - self.hop as i64;
        self.hop_out.fill(0.0);
        self.held = 0;
        self.gain = if self.enabled { 1.0 } else { 0.0 };
    }

    /// Drops the masks waiting in the ring (a reset's stale ones).
    pub fn drain(&mut self) {
        let slots = self.masks_in.slots();
        if let Ok(chunk) = self.masks_in.read_chunk(slots) {
            chunk.commit_all();
        }
    }

    /// Takes the masks the worker sent since the last call.
    pub fn receive(&mut self) {
        let record = 1 + CHANNELS * self.stems * self.full;
        let records = self.masks_in.slots() / record;
        let Ok(chunk) = self.masks_in.read_chunk(records * record) else { return };
        let (a, b) = chunk.as_slices();
        let mut values = a.iter().chain(b).copied();
        for _ in 0..records {
            let frame = values.next().map_or(0, f32::to_bits) as usize;
            let slot = frame % self.kept_frames.len();
            let len = record - 1;
            for (dst, v) in self.kept[slot * len..(slot + 1) * len].iter_mut().zip(values.by_ref()) {
                *dst = v;
            }
            self.kept_frames[slot] = Some(frame);
            self.newest = Some(self.newest.map_or(frame, |n| n.max(frame)));
        }
        chunk.commit_all();
    }

    /// The concealed sample of non-residual stem `stem` (`0..stems - 1`, residual skipped),
    /// channel `ch`, at stream time `t`, where `dry(t')` gives the delayed mixture at any `t'`
    /// from `t` to `t + n_fft - 1` (stream times before 0 are silence). Calls must come in
    /// order of `t`, every sample of the stream, every stem and channel of a sample together.
    pub fn sample(&mut self, t: i64, stem: usize, ch: usize, dry: impl Fn(i64, usize) -> f32) -> f32 {
        if !self.enabled {
            return 0.0;
        }
        while t >= self.next_frame {
            self.synthesise(self.next_frame, &dry);
        }
        let i = (t - self.hop_start).clamp(0, self.hop as i64 - 1) as usize;
        self.hop_out[(stem * CHANNELS + ch) * self.hop + i] * self.gain
    }

    /// Moves the fade one sample on (once per sample, after its stems).
    pub fn advance(&mut self) {
        if !self.enabled {
            return;
        }
        let target = if self.held > self.hold_limit { 0.0 } else { 1.0 };
        if self.gain < target {
            self.gain = (self.gain + self.fade_step).min(target);
        } else if self.gain > target {
            self.gain = (self.gain - self.fade_step).max(target);
        }
    }

    /// Whether the concealment has faded out (held masks past the limit): what plays is dry.
    pub fn faded(&self) -> bool {
        self.gain == 0.0
    }

    /// Synthesises the frame that starts at stream time `start` into `hop_out`.
    fn synthesise(&mut self, start: i64, dry: &impl Fn(i64, usize) -> f32) {
        // The worker's frame j covers model samples [(j+1)·hop − n_fft, (j+1)·hop): the one
        // that starts nearest this frame's start.
        let model_start = start as f64 / self.ratio;
        let wanted = ((model_start + (self.n_fft - self.hop) as f64) / self.hop as f64).round().max(0.0) as usize;
        let slot = wanted % self.kept_frames.len();
        let slot = if self.kept_frames[slot] == Some(wanted) {
            self.held = 0;
            Some(slot)
        } else {
            self.held += 1;
            self.newest.map(|n| n % self.kept_frames.len())
        };
        let len = self.stems * self.full;
        for ch in 0..CHANNELS {
            for (i, f) in self.frame.iter_mut().enumerate() {
                let at = start + i as i64;
                *f = if at < 0 { 0.0 } else { dry(at, ch) };
            }
            self.analysis.transform(&self.frame, &mut self.spectrum);
            for s in 0..self.stems {
                let synthesis = &mut self.synthesis[s * CHANNELS + ch];
                match slot {
                    Some(slot) => {
                        let masks = &self.kept[slot * CHANNELS * len + ch * len + s * self.full..][..self.full];
                        for ((y, &x), &(lo, w)) in
                            synthesis.spectrum_mut().iter_mut().zip(&self.spectrum).zip(&self.bin_map)
                        {
                            let hi = (lo + 1).min(self.full - 1);
                            *y = x * (masks[lo] * (1.0 - w) + masks[hi] * w);
                        }
                    }
                    None => synthesis.spectrum_mut().fill(Complex32::default()),
                }
                synthesis.add_frame(&mut self.hop_out[(s * CHANNELS + ch) * self.hop..][..self.hop]);
            }
        }
        self.hop_start = start;
        self.next_frame = start + self.hop as i64;
    }
}
