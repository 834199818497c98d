//! Streaming short-time Fourier transform with exact overlap-add reconstruction.
//!
//! Frames are periodic-Hann windowed on analysis and again on synthesis; the overlap-add is
//! divided by the summed squared window, so an unmodified spectrum reconstructs its input to
//! float rounding. That identity is what lets masks that sum to one give stems that sum to the
//! mixture.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// The periodic Hann window of length `n` (the one Spleeter and `torch.hann_window` use).
pub fn periodic_hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let phase = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
            (0.5 - 0.5 * phase.cos()) as f32
        })
        .collect()
}

/// Forward transform of one windowed frame, with preallocated scratch.
pub struct Analysis {
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    frame: Vec<f32>,
    scratch: Vec<Complex32>,
}

impl Analysis {
    /// Plans the transform for frames of `n_fft` samples.
    pub fn new(n_fft: usize) -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        let scratch = fft.make_scratch_vec();
        Self { window: periodic_hann(n_fft), frame: vec![0.0; n_fft], fft, scratch }
    }

    /// Windows `samples` (exactly `n_fft` long, oldest first) and writes its one-sided,
    /// unnormalised spectrum to `spectrum` (`n_fft / 2 + 1` bins).
    ///
    /// # Panics
    /// If the slice lengths do not match the planned size.
    pub fn transform(&mut self, samples: &[f32], spectrum: &mut [Complex32]) {
        for ((f, &s), &w) in self.frame.iter_mut().zip(samples).zip(&self.window) {
            *f = s * w;
        }
        self.fft
            .process_with_scratch(&mut self.frame, spectrum, &mut self.scratch)
            .expect("analysis buffers are sized at construction");
    }
}

/// Inverse transform and overlap-add of a stream of frames for one signal.
pub struct Synthesis {
    hop: usize,
    window: Vec<f32>,
    /// `1 / Σ_k w²(n + k·hop)` for each position in a hop: the overlap-add normaliser.
    norm: Vec<f32>,
    ifft: Arc<dyn ComplexToReal<f32>>,
    spectrum: Vec<Complex32>,
    frame: Vec<f32>,
    scratch: Vec<Complex32>,
    /// Overlap-add accumulator, `n_fft` long; its first `hop` samples are final once the frame
    /// that starts there has been added.
    accumulator: Vec<f32>,
}

impl Synthesis {
    /// Plans the inverse transform for `n_fft`-sample frames `hop` samples apart.
    ///
    /// # Panics
    /// If `hop` does not divide `n_fft`: then the squared window does not sum to a periodic
    /// constant and the frames cannot be normalised sample by sample.
    pub fn new(n_fft: usize, hop: usize) -> Self {
        assert!(hop > 0 && n_fft.is_multiple_of(hop), "hop {hop} must divide n_fft {n_fft}");
        let window = periodic_hann(n_fft);
        let norm = (0..hop)
            .map(|i| {
                let sum: f32 = (i..n_fft).step_by(hop).map(|n| window[n] * window[n]).sum();
                1.0 / (sum * n_fft as f32)
            })
            .collect();
        let ifft = RealFftPlanner::<f32>::new().plan_fft_inverse(n_fft);
        let scratch = ifft.make_scratch_vec();
        Self {
            hop,
            norm,
            spectrum: ifft.make_input_vec(),
            frame: vec![0.0; n_fft],
            accumulator: vec![0.0; n_fft],
            window,
            ifft,
            scratch,
        }
    }

    /// Forgets all frames added so far.
    pub fn reset(&mut self) {
        self.accumulator.fill(0.0);
    }

    /// The spectrum buffer to fill before [`Synthesis::add_frame`].
    pub fn spectrum_mut(&mut self) -> &mut [Complex32] {
        &mut self.spectrum
    }

    /// Inverse-transforms the spectrum buffer, windows it, adds it to the accumulator, and
    /// moves the `hop` samples this frame completes into `out`, oldest first.
    pub fn add_frame(&mut self, out: &mut [f32]) {
        // A real signal's DC and Nyquist bins are real; the inverse FFT insists on it.
        let last = self.spectrum.len() - 1;
        self.spectrum[0].im = 0.0;
        self.spectrum[last].im = 0.0;
        self.ifft
            .process_with_scratch(&mut self.spectrum, &mut self.frame, &mut self.scratch)
            .expect("synthesis buffers are sized at construction");
        for ((a, &f), &w) in self.accumulator.iter_mut().zip(&self.frame).zip(&self.window) {
            *a += f * w;
        }
        for ((o, &a), &n) in out[..self.hop].iter_mut().zip(&self.accumulator).zip(&self.norm) {
            *o = a * n;
        }
        self.accumulator.copy_within(self.hop.., 0);
        let len = self.accumulator.len();
        self.accumulator[len - self.hop..].fill(0.0);
    }
}
