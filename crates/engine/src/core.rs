//! The separation itself, at the model's rate: framing, model runs, masking, overlap-add.
//!
//! [`SeparationCore`] is deterministic and single-threaded: given the same input samples it
//! produces the same stems however the input is split into calls. The worker thread drives it;
//! tests drive it directly.

use realfft::num_complex::Complex32;

use super::conceal::MaskTap;
use super::masks::{self, Extension};
use super::model::{InferenceFailure, MaskModel, ModelInput, ModelOutput, ModelSpec, CHANNELS, MAX_STEMS};
use super::schedule::Schedule;
use super::stft::{Analysis, Synthesis};

/// Streams stereo samples at the model's rate in, stems out.
///
/// Frame `j` covers samples `[(j+1)·hop − n_fft, (j+1)·hop)`, so it is complete as soon as
/// `(j+1)·hop` samples are in. Samples before the first input are silence.
///
/// A windowed model's run `c` keeps the masks of frames `c·new .. (c+1)·new`, seeing `past`
/// frames before and `lookahead` frames after them. A stateful model's run `c` is given frames
/// `c·new .. (c+1)·new` and returns the masks of the frames `lookahead` earlier.
///
/// Only the non-residual stems are synthesised: the residual stem is the mixture minus the
/// others, formed later at the host's rate, which makes the sum exact at any rate.
pub struct SeparationCore {
    spec: ModelSpec,
    schedule: Schedule,
    extension: Extension,
    /// The last `n_fft` input samples per channel.
    history: [Vec<f32>; CHANNELS],
    /// Samples of the hop being filled, per channel.
    filled: usize,
    analysis: Analysis,
    /// Complex spectra of the last `kept_frames` frames: `[slot][channel][full bin]`.
    spectra: Vec<Complex32>,
    /// Model input, `[channel][frame][bin]` (complex spectra: `[channel][frame][bin][re, im]`),
    /// for one run (or one priming).
    magnitude: Vec<f32>,
    /// Model output, `[stem][channel][frame][bin]` (stem spectra: `[stem][channel][frame][bin][re, im]`),
    /// for one run (or one priming).
    masks: Vec<f32>,
    /// Normalised and extended masks of one frame and channel: `[stem][full bin]`.
    frame_masks: Vec<f32>,
    /// One synthesiser per non-residual stem and channel.
    synthesis: Vec<Synthesis>,
    /// Output of the current run, per non-residual stem and channel.
    output: Vec<Vec<f32>>,
    output_len: usize,
    /// Frames analysed so far.
    frames: usize,
    /// Runs completed so far.
    runs: usize,
    /// Whether the last run's model output held a NaN or infinite value ([`SeparationCore::run`]).
    unusable: bool,
    /// Output samples still to drop: those the first frames complete before time zero.
    lead_in: usize,
    /// Where each frame's masks go for the audio thread's concealment (none in tests that
    /// drive the core alone, and for models that give spectra rather than masks).
    tap: Option<MaskTap>,
}

impl SeparationCore {
    /// Allocates everything the core will ever need.
    ///
    /// # Panics
    /// If the schedule does not fit the model (checked when models are loaded).
    pub fn new(spec: ModelSpec, schedule: Schedule, extension: Extension) -> Self {
        let (n_fft, hop) = (spec.n_fft, spec.hop);
        assert!(schedule.window.is_multiple_of(spec.frame_multiple) && schedule.past() < schedule.window);
        let full = spec.full_bins();
        let separated = spec.stem_count() - 1;
        let kept = schedule.kept_frames();
        Self {
            history: std::array::from_fn(|_| vec![0.0; n_fft]),
            filled: 0,
            analysis: Analysis::new(n_fft),
            spectra: vec![Complex32::default(); kept * CHANNELS * full],
            magnitude: vec![0.0; spec.input_values(kept)],
            masks: vec![0.0; spec.output_values(kept)],
            frame_masks: vec![0.0; spec.stem_count() * full],
            synthesis: (0..separated * CHANNELS).map(|_| Synthesis::new(n_fft, hop)).collect(),
            output: (0..separated * CHANNELS).map(|_| vec![0.0; schedule.new * hop]).collect(),
            output_len: 0,
            frames: 0,
            runs: 0,
            unusable: false,
            lead_in: n_fft - hop,
            spec,
            schedule,
            extension,
            tap: None,
        }
    }

    /// The schedule of this core's runs.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Sends each frame's masks to `tap` from now on (only for a model that gives masks).
    pub(crate) fn tap_masks(&mut self, tap: MaskTap) {
        self.tap = Some(tap);
    }

    /// Returns to the state of a fresh stream, without allocating.
    pub fn reset(&mut self) {
        self.history.iter_mut().for_each(|h| h.fill(0.0));
        self.filled = 0;
        self.synthesis.iter_mut().for_each(Synthesis::reset);
        self.output_len = 0;
        self.frames = 0;
        self.runs = 0;
        self.lead_in = self.spec.n_fft - self.spec.hop;
    }

    /// The largest number of input samples that can be in while fewer output samples are out:
    /// one full run of new frames plus look-ahead, plus the overlap of the last frame.
    pub fn max_lag(spec: &ModelSpec, schedule: &Schedule) -> usize {
        (schedule.new + schedule.lookahead) * spec.hop + spec.n_fft - spec.hop - 1
    }

    /// Feeds samples until either all are consumed or a model run is due.
    ///
    /// Returns the number of samples consumed; when it is less than `left.len()`, call
    /// [`SeparationCore::run`] and feed the rest.
    pub fn feed(&mut self, left: &[f32], right: &[f32]) -> usize {
        let hop = self.spec.hop;
        let mut consumed = 0;
        while consumed < left.len() && !self.run_due() {
            let take = (hop - self.filled).min(left.len() - consumed);
            let n_fft = self.spec.n_fft;
            for (history, input) in self.history.iter_mut().zip([left, right]) {
                let start = n_fft - hop + self.filled;
                history[start..start + take].copy_from_slice(&input[consumed..consumed + take]);
            }
            self.filled += take;
            consumed += take;
            if self.filled == hop {
                self.analyse_frame();
                self.filled = 0;
            }
        }
        consumed
    }

    /// Whether enough frames are in for the next model run.
    pub fn run_due(&self) -> bool {
        // A stateful model's look-ahead is inside it: its run is due as soon as its new frames are.
        let wait = if self.schedule.stateful { 0 } else { self.schedule.lookahead };
        self.frames >= (self.runs + 1) * self.schedule.new + wait
    }

    /// Runs the model on the due window and synthesises its new frames into
    /// [`SeparationCore::output`].
    ///
    /// If the model fails or panics, the window's masks give everything to the residual stem
    /// (the stems still sum to the mixture) and the failure is returned for counting.
    pub fn run(&mut self, model: &mut dyn MaskModel) -> Result<(), InferenceFailure> {
        debug_assert!(self.run_due());
        let first_new = (self.runs * self.schedule.new) as isize;
        let first_input = first_new - self.schedule.past() as isize;
        let result = self.infer(model, first_input, self.schedule.window);
        if result.is_err() {
            self.masks.fill(0.0);
        }
        self.output_len = 0;
        // How far the masks lag the input: a stateful model's look-ahead.
        let lag = if self.schedule.stateful { self.schedule.lookahead as isize } else { 0 };
        let first_mask = first_input - lag;
        // Masks of frames before the stream began (a lagging model's first ones) are dropped.
        for frame in (first_new - lag).max(0)..first_new - lag + self.schedule.new as isize {
            self.synthesise_frame(frame as usize, (frame - first_mask) as usize);
        }
        self.runs += 1;
        result
    }

    /// Gives a stateful model that has just been swapped in (and reset) the frames before the
    /// due run, so that from this run on its lagging masks belong to the same frames as the
    /// old model's would have. Its masks for them are not used: those frames are already out.
    pub fn prime(&mut self, model: &mut dyn MaskModel) -> Result<(), InferenceFailure> {
        let frames = self.schedule.prime;
        if !self.schedule.stateful || frames == 0 {
            return Ok(());
        }
        let first = (self.runs * self.schedule.new) as isize - frames as isize;
        self.infer(model, first, frames)
    }

    /// Runs `model` on `frames` frames from `first` (frames before the stream are silence).
    /// A model that panics is treated like one that fails: the worker must outlive it.
    fn infer(&mut self, model: &mut dyn MaskModel, first: isize, frames: usize) -> Result<(), InferenceFailure> {
        self.gather_magnitudes(first, frames);
        let (inputs, outputs) = (self.spec.input_values(frames), self.spec.output_values(frames));
        let (magnitude, masks) = (&self.magnitude[..inputs], &mut self.masks[..outputs]);
        let run = std::panic::AssertUnwindSafe(|| model.infer(magnitude, frames, &mut *masks));
        let result =
            std::panic::catch_unwind(run).unwrap_or_else(|_| Err(InferenceFailure("the model panicked".into())));
        self.unusable = result.is_ok() && masks.iter().any(|m| !m.is_finite());
        result
    }

    /// Whether the model's output of the last run held NaN or infinite values: a broken network
    /// (a file no check can tell from a good one). Those bins went to the residual stem, so the
    /// stems still sum to the mixture; the worker counts such runs ([`Shared::unusable_runs`]).
    ///
    /// [`Shared::unusable_runs`]: crate::Shared::unusable_runs
    pub fn gave_unusable_values(&self) -> bool {
        self.unusable
    }

    /// The samples the last run produced: one slice per non-residual stem and channel
    /// (`[stem][channel]`, residual stem skipped), all the same length.
    pub fn output(&self) -> impl ExactSizeIterator<Item = &[f32]> + Clone {
        self.output.iter().map(|o| &o[..self.output_len])
    }

    /// Length of each slice of [`SeparationCore::output`].
    pub fn output_len(&self) -> usize {
        self.output_len
    }

    fn slot(&self, frame: usize) -> usize {
        frame % self.schedule.kept_frames()
    }

    fn analyse_frame(&mut self) {
        let full = self.spec.full_bins();
        let slot = self.slot(self.frames);
        for (ch, history) in self.history.iter_mut().enumerate() {
            let at = (slot * CHANNELS + ch) * full;
            self.analysis.transform(history, &mut self.spectra[at..at + full]);
            history.copy_within(self.spec.hop.., 0);
        }
        self.frames += 1;
    }

    /// Fills the model input, `[channel][frame][bin]`, with the magnitudes (or the complex
    /// values, as the model's [`ModelInput`] asks) of `frames` frames from `first`.
    fn gather_magnitudes(&mut self, first: isize, frames: usize) {
        let (bins, full, kept) = (self.spec.bins, self.spec.full_bins(), self.schedule.kept_frames());
        let per_frame = self.spec.input_values(1) / CHANNELS;
        for f in 0..frames {
            let frame = first + f as isize;
            for ch in 0..CHANNELS {
                let dst = &mut self.magnitude[(ch * frames + f) * per_frame..][..per_frame];
                if frame < 0 {
                    dst.fill(0.0);
                    continue;
                }
                let at = ((frame as usize % kept) * CHANNELS + ch) * full;
                let spectrum = &self.spectra[at..at + bins];
                match self.spec.input {
                    ModelInput::Magnitude => dst.iter_mut().zip(spectrum).for_each(|(d, s)| *d = s.norm()),
                    ModelInput::Spectrum => dst.chunks_exact_mut(2).zip(spectrum).for_each(|(d, s)| {
                        d[0] = s.re;
                        d[1] = s.im;
                    }),
                }
            }
        }
    }

    /// Synthesises `frame` of every non-residual stem from the run's output at `position` (the
    /// mixture times its masks, or the spectra the model gave) and overlap-adds it.
    fn synthesise_frame(&mut self, frame: usize, position: usize) {
        let (stems, hop) = (self.spec.stem_count(), self.spec.hop);
        let skip = self.lead_in.min(hop);
        for ch in 0..CHANNELS {
            match self.spec.output {
                ModelOutput::Masks => self.mask_frame(frame, position, ch),
                ModelOutput::Spectra => self.copy_spectra(position, ch),
            }
            if let Some(tap) = &mut self.tap {
                let full = self.spec.full_bins();
                let separated = (0..stems).filter(|&s| s != self.spec.residual);
                for (k, s) in separated.enumerate() {
                    tap.channel_mut(ch)[k * full..(k + 1) * full]
                        .copy_from_slice(&self.frame_masks[s * full..(s + 1) * full]);
                }
            }
            for k in 0..stems - 1 {
                let index = k * CHANNELS + ch;
                let out = &mut self.output[index];
                self.synthesis[index].add_frame(&mut out[self.output_len..self.output_len + hop]);
                if skip > 0 {
                    out.copy_within(self.output_len + skip..self.output_len + hop, self.output_len);
                }
            }
        }
        if let Some(tap) = &mut self.tap {
            tap.send(frame);
        }
        self.output_len += hop - skip;
        self.lead_in -= skip;
    }

    /// Fills the synthesisers of channel `ch` with the mixture's spectrum of `frame` times each
    /// non-residual stem's mask at `position`: normalised bin by bin, extended above the model's
    /// range.
    fn mask_frame(&mut self, frame: usize, position: usize, ch: usize) {
        let (window, bins, full) = (self.schedule.window, self.spec.bins, self.spec.full_bins());
        let (stems, residual) = (self.spec.stem_count(), self.spec.residual);
        let mut bin_masks = [0.0f32; MAX_STEMS];
        let bin_masks = &mut bin_masks[..stems];
        for b in 0..bins {
            for (s, m) in bin_masks.iter_mut().enumerate() {
                *m = self.masks[((s * CHANNELS + ch) * window + position) * bins + b];
            }
            masks::normalise_bin(bin_masks, residual);
            for (s, &m) in bin_masks.iter().enumerate() {
                self.frame_masks[s * full + b] = m;
            }
        }
        for s in 0..stems {
            let (seen, above) = self.frame_masks[s * full..(s + 1) * full].split_at_mut(bins);
            masks::extend(self.extension, seen, s == residual, above);
        }
        let mixture = &self.spectra[(self.slot(frame) * CHANNELS + ch) * full..][..full];
        for (k, s) in (0..stems).filter(|&s| s != residual).enumerate() {
            let m = &self.frame_masks[s * full..(s + 1) * full];
            for ((y, &x), &g) in self.synthesis[k * CHANNELS + ch].spectrum_mut().iter_mut().zip(mixture).zip(m) {
                *y = x * g;
            }
        }
    }

    /// Fills the synthesisers of channel `ch` with the spectra the model gave for each
    /// non-residual stem at `position` ([`ModelOutput::Spectra`]); a value that is not finite
    /// is silence there (the residual stem, formed as the mixture minus the others, takes it).
    fn copy_spectra(&mut self, position: usize, ch: usize) {
        let (window, full) = (self.schedule.window, self.spec.full_bins());
        let (stems, residual) = (self.spec.stem_count(), self.spec.residual);
        for (k, s) in (0..stems).filter(|&s| s != residual).enumerate() {
            let values = &self.masks[((s * CHANNELS + ch) * window + position) * 2 * full..][..2 * full];
            for (y, v) in self.synthesis[k * CHANNELS + ch].spectrum_mut().iter_mut().zip(values.chunks_exact(2)) {
                *y = if v[0].is_finite() && v[1].is_finite() {
                    Complex32::new(v[0], v[1])
                } else {
                    Complex32::default()
                };
            }
        }
    }
}
