//! The spectrogram convention `demucs`: what a hybrid Demucs (HTDemucs) takes beside its
//! waveform input and gives back beside its stem waveforms, computed outside its graph.
//!
//! It is Demucs's own `_spec`/`_ispec`: STFT of 4096 samples every 1024, periodic Hann window,
//! scaled by `1/√4096` (`normalized=True`); the signal is reflect-padded by 1536 samples on
//! the left and `1536 + ⌈L/1024⌉·1024 − L` on the right, the top bin is dropped and frames
//! `2 .. 2 + ⌈L/1024⌉` of the centred transform are kept. A tensor holds the real and the
//! imaginary part of each audio channel as its own channel: `[re₀, im₀, re₁, im₁][bin][frame]`.
//! The inverse zero-fills the dropped bin and the two frames either side, overlap-adds and
//! crops the padding again; so it gives the signal back except within 1536 samples of either
//! end, where it misses the frames it zero-filled.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Frame length of the convention.
const N_FFT: usize = 4096;
/// Hop of the convention.
const HOP: usize = 1024;
/// Left reflect padding of the signal before the (centred) transform.
const PAD: usize = HOP / 2 * 3;
/// The `normalized=True` scale of the forward transform (and inverse scale of the inverse).
const SCALE: f32 = 1.0 / 64.0; // 1 / √4096

/// `(bins, frames)` of the spectrogram of a segment of `segment` samples.
pub fn shape(segment: usize) -> (usize, usize) {
    (N_FFT / 2, segment.div_ceil(HOP))
}

/// Forward and inverse transforms of one segment length, with all scratch allocated once.
pub struct DemucsSpectrogram {
    segment: usize,
    frames: usize,
    window: Vec<f32>,
    /// `1 / Σ_k w²(i + k·HOP)` for each position in a hop; every kept sample is covered by all
    /// four frames, counting the zero frames the inverse pads with.
    norm: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    ifft: Arc<dyn ComplexToReal<f32>>,
    frame: Vec<f32>,
    spectrum: Vec<Complex32>,
    scratch: Vec<Complex32>,
}

impl DemucsSpectrogram {
    /// Plans the transforms for segments of `segment` samples.
    ///
    /// # Panics
    /// If `segment` is not longer than the padding (a few thousand samples), which reflect
    /// padding cannot fill.
    pub fn new(segment: usize) -> Self {
        assert!(segment > PAD + HOP, "a segment of {segment} samples is too short for the demucs spectrogram");
        let mut planner = RealFftPlanner::<f32>::new();
        let (fft, ifft) = (planner.plan_fft_forward(N_FFT), planner.plan_fft_inverse(N_FFT));
        let scratch = vec![Complex32::default(); fft.get_scratch_len().max(ifft.get_scratch_len())];
        let window = sift_engine::periodic_hann(N_FFT);
        let norm =
            (0..HOP).map(|i| 1.0 / (i..N_FFT).step_by(HOP).map(|n| window[n] * window[n]).sum::<f32>()).collect();
        Self {
            segment,
            frames: shape(segment).1,
            window,
            norm,
            frame: vec![0.0; N_FFT],
            spectrum: fft.make_output_vec(),
            fft,
            ifft,
            scratch,
        }
    }

    /// Number of values of one spectrogram: `4 × bins × frames`.
    pub fn values(&self) -> usize {
        4 * N_FFT / 2 * self.frames
    }

    /// Writes the spectrogram of the stereo segment `waveform` (`[channel][sample]`) to `out`
    /// (`[re₀, im₀, re₁, im₁][bin][frame]`).
    ///
    /// # Panics
    /// If the slices are not of the planned sizes.
    pub fn forward(&mut self, waveform: &[f32], out: &mut [f32]) {
        let (length, bins, frames) = (self.segment, N_FFT / 2, self.frames);
        assert!(waveform.len() == 2 * length && out.len() == self.values());
        for (ch, signal) in waveform.chunks_exact(length).enumerate() {
            for j in 0..frames {
                for (i, (f, &w)) in self.frame.iter_mut().zip(&self.window).enumerate() {
                    *f = w * SCALE * signal[reflect((j * HOP + i) as isize - PAD as isize, length)];
                }
                self.fft
                    .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
                    .expect("buffers are sized at construction");
                for (b, z) in self.spectrum[..bins].iter().enumerate() {
                    out[((2 * ch) * bins + b) * frames + j] = z.re;
                    out[((2 * ch + 1) * bins + b) * frames + j] = z.im;
                }
            }
        }
    }

    /// Adds the waveform of the stereo spectrogram `spectrogram` (`[re₀, im₀, re₁, im₁][bin][frame]`)
    /// to `out` (`[channel][sample]`).
    ///
    /// # Panics
    /// If the slices are not of the planned sizes.
    pub fn add_inverse(&mut self, spectrogram: &[f32], out: &mut [f32]) {
        let (length, bins, frames) = (self.segment, N_FFT / 2, self.frames);
        assert!(spectrogram.len() == self.values() && out.len() == 2 * length);
        for (ch, signal) in out.chunks_exact_mut(length).enumerate() {
            for j in 0..frames {
                for (b, z) in self.spectrum[..bins].iter_mut().enumerate() {
                    let re = spectrogram[((2 * ch) * bins + b) * frames + j];
                    let im = spectrogram[((2 * ch + 1) * bins + b) * frames + j];
                    *z = Complex32::new(re, im);
                }
                // The dropped top bin is zero; a real signal's DC bin is real.
                self.spectrum[bins] = Complex32::default();
                self.spectrum[0].im = 0.0;
                self.ifft
                    .process_with_scratch(&mut self.spectrum, &mut self.frame, &mut self.scratch)
                    .expect("buffers are sized at construction");
                // Frame `j` starts `PAD` samples before sample `j·HOP` of the segment.
                for (i, (&f, &w)) in self.frame.iter().zip(&self.window).enumerate() {
                    let Some(t) = (j * HOP + i).checked_sub(PAD).filter(|&t| t < length) else { continue };
                    signal[t] += f * w * SCALE * self.norm[i % HOP];
                }
            }
        }
    }
}

/// The index `index` reflects to in a signal of `length` samples (`torch`'s `reflect` mode:
/// the edge sample is not repeated).
fn reflect(index: isize, length: usize) -> usize {
    let last = length as isize - 1;
    let folded = if index < 0 {
        -index
    } else if index > last {
        2 * last - index
    } else {
        index
    };
    folded as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inverse_of_the_forward_transform_is_the_signal() {
        let segment = 20_000;
        let mut transform = DemucsSpectrogram::new(segment);
        // Nothing at the top bin, which the convention drops.
        let signal: Vec<f32> =
            (0..2 * segment).map(|n| 0.5 * (n as f32 * 0.013).sin() + 0.3 * (n as f32 * 0.71 + 1.0).sin()).collect();
        let mut spectrogram = vec![0.0; transform.values()];
        transform.forward(&signal, &mut spectrogram);
        let mut back = vec![0.0; 2 * segment];
        transform.add_inverse(&spectrogram, &mut back);
        // Within `PAD` of either end the inverse misses the outer frames it zero-fills (as
        // Demucs's own does; its segments overlap for that reason). Inside, it is exact.
        let (_, frames) = shape(segment);
        let inside = PAD..frames * HOP - PAD;
        let worst = (0..2)
            .flat_map(|ch| inside.clone().map(move |t| ch * segment + t))
            .map(|i| (signal[i] - back[i]).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-4, "worst error {worst}");
    }

    #[test]
    fn reflection_does_not_repeat_the_edge() {
        assert_eq!([reflect(-2, 5), reflect(0, 5), reflect(4, 5), reflect(6, 5)], [2, 0, 4, 2]);
    }
}
