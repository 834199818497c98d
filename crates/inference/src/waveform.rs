//! Waveform models (`sift.output_kind = waveform`, e.g. HTDemucs) behind the mask interface.
//!
//! The engine hands such a model the complex spectra of one window of its own STFT (the model
//! asks for them with [`sift_engine::ModelInput::Spectrum`]) and takes the stems' spectra back
//! on the same grid ([`sift_engine::ModelOutput::Spectra`]). The adapter:
//!
//! 1. rebuilds the window's waveform from the spectra: each frame is inverse-transformed,
//!    windowed again and overlap-added, and every sample is divided by the squared windows of
//!    the frames that cover it, which gives the input back exactly, edges included;
//! 2. runs the network on the middle `segment` samples of it (and, for a hybrid model, on
//!    their spectrogram in the `demucs` convention), and adds the inverse of its spectrogram
//!    output to its waveform output;
//! 3. analyses each stem's waveform on the engine's grid and hands the spectra over.
//!
//! The engine synthesises the non-residual stems from those spectra, which gives back the
//! network's own waveforms, and forms the residual stem as the mixture minus the others, so the
//! stems sum to the mixture exactly. Segments overlap as the engine's schedule slides its
//! window; the engine keeps each run's middle frames, and its overlap-add cross-fades one run's
//! frames into the next.
//!
//! The stems' own waveforms were chosen over ratio masks (`|Sₛ| / Σₖ|Sₖ|` on the mixture's
//! spectrum, with its phase) by SDR on the eval clip: 1–4 dB better on every stem, most on drums
//! and bass, whose transients and phase the mixture's 93 ms frames smear (model/CONTRACT.md,
//! "Waveform models").

use std::sync::Arc;

use ort::session::{RunOptions, Session, SessionInputValue};
use ort::value::TensorRef;
use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use sift_engine::{InferenceFailure, ModelSpec, CHANNELS};

use super::contract::{Contract, WaveformContract};
use super::demucs_spectrogram::DemucsSpectrogram;
use super::session::failure;

/// A waveform model's scratch, all of it allocated once per instance.
pub struct WaveformAdapter {
    segment: usize,
    stems: usize,
    n_fft: usize,
    hop: usize,
    /// Frames of the engine's window (the spec's segment).
    frames: usize,
    window: Vec<f32>,
    /// Samples spanned by the window's frames.
    span: usize,
    /// `1 / Σ w²` of the frames covering each sample of the span.
    span_norm: Vec<f32>,
    /// Where the network's segment starts in the span (the segment is centred in it).
    offset: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    ifft: Arc<dyn ComplexToReal<f32>>,
    frame: Vec<f32>,
    spectrum: Vec<Complex32>,
    scratch: Vec<Complex32>,
    /// The window's waveform, `[channel][span sample]`.
    rebuilt: Vec<f32>,
    /// The network's waveform input, `[channel][segment sample]`.
    input: Vec<f32>,
    /// A hybrid model's spectrogram convention and its input spectrogram.
    spectrogram: Option<(DemucsSpectrogram, Vec<f32>)>,
    /// The stems' waveforms, `[stem][channel][segment sample]`.
    stems_out: Vec<f32>,
}

impl WaveformAdapter {
    /// Scratch for `spec`'s model, which the contract says is a waveform model.
    pub fn new(spec: &ModelSpec, waveform: &WaveformContract) -> Self {
        let (n_fft, hop, segment) = (spec.n_fft, spec.hop, waveform.segment);
        let frames = spec.frame_multiple;
        let span = (frames - 1) * hop + n_fft;
        let window = sift_engine::periodic_hann(n_fft);
        let mut coverage = vec![0.0f32; span];
        for j in 0..frames {
            coverage[j * hop..j * hop + n_fft].iter_mut().zip(&window).for_each(|(c, w)| *c += w * w);
        }
        // Where a sample is barely covered (the window's outermost samples) it is left silent
        // rather than amplified rounding noise.
        let span_norm = coverage.iter().map(|&c| if c > 1e-6 { 1.0 / c } else { 0.0 }).collect();
        let mut planner = RealFftPlanner::<f32>::new();
        let (fft, ifft) = (planner.plan_fft_forward(n_fft), planner.plan_fft_inverse(n_fft));
        let scratch = vec![Complex32::default(); fft.get_scratch_len().max(ifft.get_scratch_len())];
        let spectrogram = waveform.spectrogram_input.as_ref().map(|_| {
            let transform = DemucsSpectrogram::new(segment);
            let values = vec![0.0; transform.values()];
            (transform, values)
        });
        Self {
            segment,
            stems: spec.stem_count(),
            n_fft,
            hop,
            frames,
            window,
            span,
            span_norm,
            offset: (span - segment) / 2,
            frame: vec![0.0; n_fft],
            spectrum: fft.make_output_vec(),
            fft,
            ifft,
            scratch,
            rebuilt: vec![0.0; CHANNELS * span],
            input: vec![0.0; CHANNELS * segment],
            spectrogram,
            stems_out: vec![0.0; spec.stem_count() * CHANNELS * segment],
        }
    }

    /// The stems of one window: `spectra` is the engine's input (`[channel][frame][bin][re, im]`,
    /// all bins), `spectra_out` is filled with the stems' spectra on the same grid,
    /// `[stem][channel][frame][bin][re, im]`.
    ///
    /// # Errors
    /// A window of another length than the model's, a failed or interrupted run, or outputs of
    /// other sizes than the contract's.
    pub fn infer(
        &mut self,
        session: &mut Session,
        contract: &Contract,
        options: &RunOptions,
        spectra: &[f32],
        frames: usize,
        spectra_out: &mut [f32],
    ) -> Result<(), InferenceFailure> {
        if frames != self.frames {
            return Err(InferenceFailure(format!(
                "a waveform model runs on windows of {} frames, not {frames}",
                self.frames
            )));
        }
        self.rebuild(spectra);
        for ch in 0..CHANNELS {
            let from = ch * self.span + self.offset;
            self.input[ch * self.segment..][..self.segment].copy_from_slice(&self.rebuilt[from..from + self.segment]);
        }
        self.separate(session, contract, options)?;
        self.stem_spectra(spectra_out);
        Ok(())
    }

    /// Separates a clip of at most one segment in one run, as the model's own tools do: the
    /// clip centred in a segment of silence. Returns the stems' waveforms,
    /// `[stem][channel][sample]`, each as long as the clip.
    ///
    /// # Errors
    /// A clip longer than a segment or with channels of unequal length, or a failed run.
    pub fn separate_clip(
        &mut self,
        session: &mut Session,
        contract: &Contract,
        options: &RunOptions,
        clip: [&[f32]; CHANNELS],
    ) -> Result<Vec<f32>, InferenceFailure> {
        let length = clip[0].len();
        if length > self.segment || clip[1].len() != length {
            return Err(InferenceFailure(format!(
                "a clip for one run must be two equal channels of at most {} samples",
                self.segment
            )));
        }
        let start = (self.segment - length) / 2;
        self.input.fill(0.0);
        for (ch, channel) in clip.iter().enumerate() {
            self.input[ch * self.segment + start..][..length].copy_from_slice(channel);
        }
        self.separate(session, contract, options)?;
        Ok(self.stems_out.chunks_exact(self.segment).flat_map(|s| &s[start..start + length]).copied().collect())
    }

    /// Rebuilds the window's waveform from its frames' spectra into `rebuilt`.
    fn rebuild(&mut self, spectra: &[f32]) {
        let (n_fft, hop, bins) = (self.n_fft, self.hop, self.n_fft / 2 + 1);
        self.rebuilt.fill(0.0);
        for (ch, rebuilt) in self.rebuilt.chunks_exact_mut(self.span).enumerate() {
            for j in 0..self.frames {
                let frame = &spectra[(ch * self.frames + j) * 2 * bins..][..2 * bins];
                for (z, v) in self.spectrum.iter_mut().zip(frame.chunks_exact(2)) {
                    *z = Complex32::new(v[0], v[1]);
                }
                self.spectrum[0].im = 0.0;
                self.spectrum[bins - 1].im = 0.0;
                self.ifft
                    .process_with_scratch(&mut self.spectrum, &mut self.frame, &mut self.scratch)
                    .expect("buffers are sized at construction");
                // The inverse transform is unscaled: it returns `n_fft` times the frame.
                let out = &mut rebuilt[j * hop..j * hop + n_fft];
                for ((o, &f), &w) in out.iter_mut().zip(&self.frame).zip(&self.window) {
                    *o += f * w / n_fft as f32;
                }
            }
            rebuilt.iter_mut().zip(&self.span_norm).for_each(|(x, &n)| *x *= n);
        }
    }

    /// Runs the network on `input` and leaves the stems' waveforms in `stems_out`; another
    /// thread may end the run through `options` (then it fails).
    fn separate(
        &mut self,
        session: &mut Session,
        contract: &Contract,
        options: &RunOptions,
    ) -> Result<(), InferenceFailure> {
        let waveform = contract.waveform.as_ref().ok_or_else(|| InferenceFailure("not a waveform model".into()))?;
        let mut inputs = Vec::with_capacity(2);
        let shape = [1usize, CHANNELS, self.segment];
        let tensor = TensorRef::from_array_view((shape, self.input.as_slice())).map_err(failure)?;
        inputs.push((contract.input.as_str(), SessionInputValue::from(tensor)));
        if let (Some(name), Some((transform, values))) = (&waveform.spectrogram_input, &mut self.spectrogram) {
            transform.forward(&self.input, values);
            let (bins, frames) = super::demucs_spectrogram::shape(self.segment);
            let tensor = TensorRef::from_array_view(([1usize, 4, bins, frames], values.as_slice())).map_err(failure)?;
            inputs.push((name.as_str(), SessionInputValue::from(tensor)));
        }
        let outputs = session.run_with_options(inputs, options).map_err(failure)?;
        let (_, stems) = outputs[contract.output.as_str()].try_extract_tensor::<f32>().map_err(failure)?;
        if stems.len() != self.stems_out.len() {
            return Err(InferenceFailure(format!(
                "output has {} values, expected {}",
                stems.len(),
                self.stems_out.len()
            )));
        }
        self.stems_out.copy_from_slice(stems);
        if let (Some(name), Some((transform, _))) = (&waveform.spectrogram_output, &mut self.spectrogram) {
            let (_, spectrograms) = outputs[name.as_str()].try_extract_tensor::<f32>().map_err(failure)?;
            let per_stem = transform.values();
            if spectrograms.len() != self.stems * per_stem {
                return Err(InferenceFailure(format!(
                    "spectrogram output has {} values, expected {}",
                    spectrograms.len(),
                    self.stems * per_stem
                )));
            }
            for (spectrogram, stem) in
                spectrograms.chunks_exact(per_stem).zip(self.stems_out.chunks_exact_mut(CHANNELS * self.segment))
            {
                transform.add_inverse(spectrogram, stem);
            }
        }
        Ok(())
    }

    /// Each stem's spectra on the engine's grid, `[stem][channel][frame][bin][re, im]`: the
    /// engine's analysis of the stem's waveform placed where the segment lies in the window
    /// (silence outside it).
    fn stem_spectra(&mut self, out: &mut [f32]) {
        let (hop, bins, frames) = (self.hop, self.n_fft / 2 + 1, self.frames);
        for (sc, stem) in self.stems_out.chunks_exact(self.segment).enumerate() {
            for j in 0..frames {
                for (i, (f, &w)) in self.frame.iter_mut().zip(&self.window).enumerate() {
                    let t = (j * hop + i).checked_sub(self.offset).filter(|&t| t < self.segment);
                    *f = t.map_or(0.0, |t| stem[t] * w);
                }
                self.fft
                    .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
                    .expect("buffers are sized at construction");
                let values = &mut out[(sc * frames + j) * 2 * bins..][..2 * bins];
                for (v, z) in values.chunks_exact_mut(2).zip(&self.spectrum) {
                    v[0] = z.re;
                    v[1] = z.im;
                }
            }
        }
    }
}
