//! Concealing a late worker: the audio thread's own separation of the delayed mixture, with the
//! masks the worker last used, so a stall never lets the unseparated mix through.
//!
//! The worker sends every frame's masks (normalised, extended, as it applied them) through a
//! wait-free ring ([`MaskTap`] → [`Concealer`]). The audio thread keeps the recent frames and,
//! hop by hop, separates the dry signal it already delays by the latency, on the same frame
//! grid as the worker: with the frame's own masks, what it makes equals the worker's stems (to
//! float rounding, at the model's rate), so the switch at a stall's start is seamless. During a
//! stall a frame's masks have not come, and the last ones that did are held. Held masks drift
//! from the music, so after [`HOLD_LIMIT`] (80 ms) the concealment fades to the dry
//! signal (all in the residual stem) over [`FADE_SECONDS`], and back when masks come again.
//!
//! At another host rate than the model's, the frames are on the host's grid (same size and hop
//! in samples) and each bin takes the mask at its frequency on the model's grid (linear
//! interpolation): close to the worker's stems, not equal, which the processor's cross-fade back
//! to the worker covers.
//!
//! Cost on the audio thread, every hop whether needed or not (so it is ready the moment it is):
//! one FFT per channel and one inverse FFT per non-residual stem and channel. Done all at once
//! at a frame's first output sample, they would make that block the audio thread's slowest
//! (Spleeter at 64-sample blocks: four 4096-point transforms in one 1.45 ms block). So a frame's
//! work is four units, spread over the hop before it ([`Concealer::sample`]): each channel's
//! forward transform (it needs only the delayed mixture, which the latency holds a frame ahead),
//! then each channel's synthesis, as soon as the frame's masks are in (the worker is usually
//! early); a unit not done by the frame's first sample (masks late, a short lead) is done then,
//! with the masks there are. The synthesised hop waits in a second buffer until its turn.

use std::time::Duration;

use realfft::num_complex::Complex32;

use super::model::{ModelSpec, CHANNELS};
use super::stft::{Analysis, Synthesis};

/// How long held masks stand in for fresh ones before the concealment fades to dry, by default
/// ([`crate::EngineConfig::hold_limit`]). Chosen by measurement (`sift bench --stalls-only`,
/// both shipped models on the demo mixture, against rows held without a limit): against the
/// stall-free render, held masks beat the dry signal in every stem's worst 50 ms window for
/// stalls up to 50 ms (4.6–17.9 dB against 1.3–1.6 dB, `other` −9.8 dB), and lose to it in some
/// stems from 100 ms on (down to −23 dB: the music has moved on from the masks); over a whole
/// clip they win at every length. So the hold covers the stalls a busy machine causes (tens of
/// ms) and ends before held masks do more harm than the dry mix.
pub const HOLD_LIMIT: Duration = Duration::from_millis(80);
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
    /// The next frame's spectrum, `[channel][full bin]`, and which channels it holds yet.
    spectra: Vec<Complex32>,
    analysed: [bool; CHANNELS],
    /// How long before a frame's first output sample its work may start: as far ahead as the
    /// delayed mixture reaches (the latency less a frame), at most a hop.
    lead: usize,
    frame: Vec<f32>,
    /// One synthesiser per non-residual stem and channel.
    synthesis: Vec<Synthesis>,
    /// The current hop's concealed stems, `[stem][channel][sample]`, and the next one's as its
    /// channels are synthesised (`synthesised`), swapped at the next frame's first sample.
    hop_out: Vec<f32>,
    next_out: Vec<f32>,
    synthesised: [bool; CHANNELS],
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
    /// Transforms done so far (forward and inverse, each channel's synthesis counting once),
    /// for the test that they are spread.
    #[cfg(test)]
    units: usize,
}

/// The two ends for one engine: the worker's tap and the audio thread's concealer.
///
/// `history_frames`: how many frames ahead of the output the worker may be (its look-ahead,
/// a run's new frames, the latency): the frames the concealer keeps. `latency`: the engine's,
/// in host samples, at least `spec.n_fft` (how far ahead of the output the delayed mixture
/// reaches). `hold_limit`: how long held masks stand in before the fade to dry.
pub fn pair(
    spec: &ModelSpec,
    host_rate: u32,
    history_frames: usize,
    latency: usize,
    hold_limit: Duration,
) -> (MaskTap, Concealer) {
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
        spectra: vec![Complex32::default(); CHANNELS * full],
        analysed: [false; CHANNELS],
        lead: (latency + 1).saturating_sub(n_fft).clamp(1, hop),
        frame: vec![0.0; n_fft],
        synthesis: (0..stems * CHANNELS).map(|_| Synthesis::new(n_fft, hop)).collect(),
        hop_out: vec![0.0; stems * CHANNELS * hop],
        next_out: vec![0.0; stems * CHANNELS * hop],
        synthesised: [false; CHANNELS],
        hop_start: 0,
        next_frame: 0,
        held: 0,
        hold_limit: (hold_limit.as_secs_f64() / hop_seconds).ceil() as usize,
        gain: 1.0,
        fade_step: 1.0 / (FADE_SECONDS * f64::from(host_rate)) as f32,
        enabled: true,
        #[cfg(test)]
        units: 0,
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
        self.analysed = [false; CHANNELS];
        self.synthesised = [false; CHANNELS];
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
        // The ring holds a whole number of records and moves by whole records, so none is
        // split between the two slices.
        for values in a.chunks_exact(record).chain(b.chunks_exact(record)) {
            let frame = values[0].to_bits() as usize;
            let slot = frame % self.kept_frames.len();
            let len = record - 1;
            self.kept[slot * len..(slot + 1) * len].copy_from_slice(&values[1..]);
            self.kept_frames[slot] = Some(frame);
            self.newest = Some(self.newest.map_or(frame, |n| n.max(frame)));
        }
        chunk.commit_all();
    }

    /// The concealed sample of non-residual stem `stem` (`0..stems - 1`, residual skipped),
    /// channel `ch`, at stream time `t`, where `dry(t')` gives the delayed mixture at any `t'`
    /// from `t` to `t + latency` (stream times before 0 are silence). Calls must come in order
    /// of `t`, every sample of the stream, every stem and channel of a sample together, stem 0
    /// and channel 0 first.
    pub fn sample(&mut self, t: i64, stem: usize, ch: usize, dry: impl Fn(i64, usize) -> f32) -> f32 {
        if !self.enabled {
            return 0.0;
        }
        while t >= self.next_frame {
            self.finish_frame(&dry);
        }
        if stem == 0 && ch == 0 {
            self.work_ahead(t, &dry);
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

    /// Does one unit of the next frame's work if one is due at `t`: unit `u` (each channel's
    /// forward transform, then each channel's synthesis) is due `(u + 1) / 5` of the way
    /// through the [`Concealer::lead`] before the frame (not at its start, the block that
    /// finishes the frame before), a synthesis only once the frame's masks are in.
    fn work_ahead(&mut self, t: i64, dry: &impl Fn(i64, usize) -> f32) {
        let units = 2 * CHANNELS;
        let due = |u: usize| t >= self.next_frame - (self.lead - (u + 1) * self.lead / (units + 1)) as i64;
        if let Some(ch) = (0..CHANNELS).find(|&ch| !self.analysed[ch] && due(ch)) {
            self.analyse(ch, dry);
            return;
        }
        let Some(ch) = (0..CHANNELS).find(|&ch| self.analysed[ch] && !self.synthesised[ch] && due(CHANNELS + ch))
        else {
            return;
        };
        if let Some(slot) = self.masks_of_next_frame() {
            self.synthesise(ch, Some(slot));
        }
    }

    /// The slot holding the masks of the worker's frame that matches the next frame, if they
    /// have come.
    fn masks_of_next_frame(&self) -> Option<usize> {
        // The worker's frame j covers model samples [(j+1)·hop − n_fft, (j+1)·hop): the one
        // that starts nearest this frame's start.
        let model_start = self.next_frame as f64 / self.ratio;
        let wanted = ((model_start + (self.n_fft - self.hop) as f64) / self.hop as f64).round().max(0.0) as usize;
        let slot = wanted % self.kept_frames.len();
        (self.kept_frames[slot] == Some(wanted)).then_some(slot)
    }

    /// The spectrum of channel `ch` of the frame that starts at `next_frame`.
    fn analyse(&mut self, ch: usize, dry: &impl Fn(i64, usize) -> f32) {
        let start = self.next_frame;
        for (i, f) in self.frame.iter_mut().enumerate() {
            let at = start + i as i64;
            *f = if at < 0 { 0.0 } else { dry(at, ch) };
        }
        self.analysis.transform(&self.frame, &mut self.spectra[ch * self.full..][..self.full]);
        self.analysed[ch] = true;
        #[cfg(test)]
        {
            self.units += 1;
        }
    }

    /// Synthesises channel `ch` of the next frame into `next_out`, with the masks in `slot`
    /// (silence where there are none yet).
    fn synthesise(&mut self, ch: usize, slot: Option<usize>) {
        let len = self.stems * self.full;
        let spectrum = &self.spectra[ch * self.full..][..self.full];
        for s in 0..self.stems {
            let synthesis = &mut self.synthesis[s * CHANNELS + ch];
            match slot {
                Some(slot) => {
                    let masks = &self.kept[slot * CHANNELS * len + ch * len + s * self.full..][..self.full];
                    for ((y, &x), &(lo, w)) in synthesis.spectrum_mut().iter_mut().zip(spectrum).zip(&self.bin_map) {
                        let hi = (lo + 1).min(self.full - 1);
                        *y = x * (masks[lo] * (1.0 - w) + masks[hi] * w);
                    }
                }
                None => synthesis.spectrum_mut().fill(Complex32::default()),
            }
            synthesis.add_frame(&mut self.next_out[(s * CHANNELS + ch) * self.hop..][..self.hop]);
        }
        self.synthesised[ch] = true;
        #[cfg(test)]
        {
            self.units += 1;
        }
    }

    /// At the next frame's first sample: does what is left of its work (with its own masks if
    /// they have come, else the newest there are: held) and makes its hop the current one.
    fn finish_frame(&mut self, dry: &impl Fn(i64, usize) -> f32) {
        let slot = match self.masks_of_next_frame() {
            Some(slot) => {
                self.held = 0;
                Some(slot)
            }
            None => {
                self.held += 1;
                self.newest.map(|n| n % self.kept_frames.len())
            }
        };
        for ch in 0..CHANNELS {
            if !self.analysed[ch] {
                self.analyse(ch, dry);
            }
            if !self.synthesised[ch] {
                self.synthesise(ch, slot);
            }
        }
        std::mem::swap(&mut self.hop_out, &mut self.next_out);
        self.hop_start = self.next_frame;
        self.next_frame += self.hop as i64;
        self.analysed = [false; CHANNELS];
        self.synthesised = [false; CHANNELS];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spleeter's grid with a latency of several frames, the worker's masks in well before
    /// they are needed (as when it is on time): no sample's call does more than one unit of a
    /// frame's work (one channel's forward transform or synthesis), and every frame gets all
    /// four. With the masks late, the frame's first sample does what is left, with held masks.
    /// (The stream's first sample does the frames that start before it at once: they are
    /// silence but for their ends.)
    #[test]
    fn a_frames_transforms_are_spread_over_the_hop_before_it() {
        let spec = ModelSpec::default_grid();
        let (mut tap, mut concealer) = pair(&spec, spec.sample_rate, 40, 5 * spec.n_fft, HOLD_LIMIT);
        let dry = |t: i64, ch: usize| ((t as f32) * 0.01 + ch as f32).sin();
        let mut most = 0;
        let frames = 30;
        for frame in 0..frames + 8 {
            tap.channel_mut(0).fill(0.5);
            tap.channel_mut(1).fill(0.5);
            tap.send(frame);
        }
        concealer.receive();
        for t in 0..(frames * spec.hop) as i64 {
            let before = concealer.units;
            concealer.sample(t, 0, 0, dry);
            concealer.sample(t, 0, 1, dry);
            concealer.advance();
            if t > 0 {
                most = most.max(concealer.units - before);
            }
        }
        assert_eq!(most, 1, "a sample did {most} units");
        assert!(concealer.units >= 4 * frames, "{} units for {frames} frames", concealer.units);

        // No masks for the frames ahead: the syntheses wait for the frame's first sample.
        let (_tap, mut late) = pair(&spec, spec.sample_rate, 40, 5 * spec.n_fft, HOLD_LIMIT);
        let mut most = 0;
        for t in 0..(4 * spec.hop) as i64 {
            let before = late.units;
            late.sample(t, 0, 0, dry);
            late.sample(t, 0, 1, dry);
            if t > 0 {
                most = most.max(late.units - before);
            }
        }
        assert_eq!(most, CHANNELS, "a frame with late masks synthesises both channels at its first sample");
    }
}
