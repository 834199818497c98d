//! What the engine needs from a separation model, and nothing about how it runs.
//!
//! The engine is written against [`MaskModel`]: a model that turns a window of mixture
//! magnitudes (or, if it asks for them, complex spectra) into one soft mask per stem (or, if it
//! says so, the stems' spectra). ONNX Runtime lives behind this trait in the `sift-inference`
//! crate; a model whose network outputs stem spectrograms or waveforms is adapted there, so the
//! real-time engine never changes when the model does.

use std::fmt;
use std::path::PathBuf;

use super::schedule::Schedule;

/// Audio channels the engine separates (mono input is carried as two equal channels).
pub const CHANNELS: usize = 2;

/// The most stems a model may have. Fixed so the audio thread's per-block scratch can live on
/// the stack; the plugin's bit sets over stems (`u8`) rely on it too.
pub const MAX_STEMS: usize = 8;

/// The time-frequency grid and stem layout a model was trained on, read from the model file.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// Short name, e.g. `spleeter-2stems`.
    pub name: String,
    /// Stem names in the order of the model's output.
    pub stems: Vec<String>,
    /// Index in `stems` of the stem that receives everything the others do not claim: the
    /// content above the model's highest bin, resampling residue and the dry signal when the
    /// worker misses a deadline. Making one stem the residual is what keeps the stems summing
    /// to the mixture exactly.
    pub residual: usize,
    /// Sample rate the model was trained at, in Hz.
    pub sample_rate: u32,
    /// STFT frame length in samples.
    pub n_fft: usize,
    /// STFT hop in samples.
    pub hop: usize,
    /// Number of low-frequency bins the model sees (bins `0..bins`).
    pub bins: usize,
    /// The model's frame count must be a multiple of this (a U-Net's total stride; for a
    /// streaming model, its frames per run).
    pub frame_multiple: usize,
    /// Set for a streaming model, which carries its own state from one run to the next
    /// instead of seeing a window of past frames (model contract 2).
    pub streaming: Option<Streaming>,
    /// Set for a model that runs on windows of exactly this many frames and no other (a
    /// waveform model's fixed segment): the modes' schedules are then fractions of it, and
    /// its `frame_multiple` equals it.
    pub segment: Option<usize>,
    /// The fewest frames of look-ahead a windowed run of this model must see (0 for most): a
    /// mode that looks less far ahead looks this far instead. A composed model whose streaming
    /// part works on the waveform rebuilt from the window needs a few frames more than
    /// Spleeter's `live` gives before that part's stems cover a frame.
    pub min_lookahead: usize,
    /// What the model is given of each frame.
    pub input: ModelInput,
    /// What the model gives back for each frame.
    pub output: ModelOutput,
    /// Licence of the weights, shown to the user.
    pub licence: String,
    /// Where the weights come from, shown to the user.
    pub source: String,
    /// For a model composed of others, the name of the model each stem comes from (in `stems`
    /// order), so a user can see which network made which stem; empty for a single model,
    /// whose stems are all its own.
    pub stem_models: Vec<String>,
    /// The file the model was loaded from (`None` for models built in code), so whoever holds
    /// a model knows which one it is without tracking that beside it.
    pub origin: Option<PathBuf>,
}

impl ModelSpec {
    /// The grid and stems of the default model (Spleeter 2-stem at 44.1 kHz), for running a
    /// [`PassThrough`] when no model loads: the latency then stays the one the host will see
    /// once the model is back.
    pub fn default_grid() -> Self {
        ModelSpec {
            name: "pass-through".into(),
            stems: vec!["vocals".into(), "accompaniment".into()],
            residual: 1,
            sample_rate: 44_100,
            n_fft: 4096,
            hop: 1024,
            bins: 1024,
            frame_multiple: 64,
            streaming: None,
            segment: None,
            min_lookahead: 0,
            input: ModelInput::Magnitude,
            output: ModelOutput::Masks,
            licence: String::new(),
            source: String::new(),
            stem_models: Vec::new(),
            origin: None,
        }
    }

    /// Whether `other` frames and runs audio as this model does (rate, frame length, hop, bins,
    /// frame multiple, streaming, segment, look-ahead, input): then it has the same latency in
    /// every mode and can stand in for it.
    pub fn same_grid(&self, other: &ModelSpec) -> bool {
        let grid = |s: &ModelSpec| {
            let runs = (s.frame_multiple, s.streaming, s.segment, s.min_lookahead);
            (s.sample_rate, s.n_fft, s.hop, s.bins, runs, s.input, s.output)
        };
        grid(self) == grid(other)
    }

    /// Number of `f32` values of a model input holding `frames` frames (see [`ModelInput`]).
    pub fn input_values(&self, frames: usize) -> usize {
        let per_bin = match self.input {
            ModelInput::Magnitude => 1,
            ModelInput::Spectrum => 2,
        };
        2 * frames * self.bins * per_bin
    }

    /// Number of `f32` values of a model output holding `frames` frames (see [`ModelOutput`]).
    pub fn output_values(&self, frames: usize) -> usize {
        let per_bin = match self.output {
            ModelOutput::Masks => 1,
            ModelOutput::Spectra => 2,
        };
        self.stem_count() * 2 * frames * self.bins * per_bin
    }

    /// Number of stems the model produces.
    pub fn stem_count(&self) -> usize {
        self.stems.len()
    }

    /// Number of bins of a one-sided spectrum of `n_fft` samples.
    pub fn full_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }
}

/// What a model is given of each frame of the mixture.
///
/// Most mask models need only magnitudes. A model that needs the signal itself (a waveform
/// model, which rebuilds the window's waveform from it) asks for the complex spectra, which the
/// engine holds anyway: this costs it nothing but a wider buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ModelInput {
    /// Magnitudes, `[channel][frame][bin]`.
    #[default]
    Magnitude,
    /// Complex spectra of the engine's analysis (periodic Hann window, no scaling), as
    /// `[channel][frame][bin][real, imaginary]`.
    Spectrum,
}

/// What a model gives back for each frame.
///
/// Masks are what a mask model computes, and they keep the mixture's phase. A model that
/// produces the stems themselves (a waveform model, whose stems keep their own phase and
/// transients) hands their spectra over as they are: the engine synthesises the non-residual
/// stems from them, and the residual stem, the mixture minus the others, keeps the sum exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ModelOutput {
    /// Soft masks, `[stem][channel][frame][bin]`: normalised to sum to one in every bin,
    /// extended above the model's bins and applied to the mixture's spectrum.
    #[default]
    Masks,
    /// The stems' complex spectra on the engine's grid (its analysis: periodic Hann, no
    /// scaling), `[stem][channel][frame][bin][real, imaginary]`, all `n_fft / 2 + 1` bins; the
    /// residual stem's are not read.
    Spectra,
}

/// How a streaming model is run: `frames_per_run` new frames per call, with its recurrent state
/// carried inside the model from call to call.
///
/// The model's masks lag its input by `lookahead` frames: the `j`-th mask frame it returns
/// since its last [`MaskModel::reset`] belongs to the `(j − lookahead)`-th frame it was given
/// (masks for frames before the stream began are dropped). A causal model has no look-ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Streaming {
    /// New frames per call (`K`).
    pub frames_per_run: usize,
    /// Frames by which the masks lag the input (`L`).
    pub lookahead: usize,
}

/// Ends a model's run in progress from another thread (see [`MaskModel::interrupter`]).
pub type Interrupter = std::sync::Arc<dyn Fn() + Send + Sync>;

/// A model failed to produce masks for one window.
#[derive(Debug, Clone)]
pub struct InferenceFailure(pub String);

impl fmt::Display for InferenceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "model run failed: {}", self.0)
    }
}

impl std::error::Error for InferenceFailure {}

/// A soft-mask separation model, run on the worker thread only.
///
/// Implementations may allocate and block (they are never called from the audio thread).
pub trait MaskModel: Send {
    /// The grid and stems of this model.
    fn spec(&self) -> &ModelSpec;

    /// The execution provider that actually runs the model, e.g. `CPU` or `CUDA`.
    fn provider(&self) -> &str;

    /// Computes masks for `frames` frames of stereo magnitudes.
    ///
    /// `magnitude` is laid out `[channel (2)][frame][bin (spec.bins)]`; `masks` must be filled
    /// `[stem][channel (2)][frame][bin (spec.bins)]`. Masks need not be normalised: the engine
    /// normalises them so that they sum to one in every bin. A model that asks for complex
    /// spectra ([`ModelInput::Spectrum`]) gets `[channel][frame][bin][re, im]` instead; one
    /// that gives the stems' spectra ([`ModelOutput::Spectra`]) fills `masks` with them,
    /// `[stem][channel][frame][bin][re, im]`.
    ///
    /// A streaming model ([`ModelSpec::streaming`]) gets the next `frames` frames of its stream
    /// (a multiple of its frames per run, oldest first) and advances its state over them; its
    /// masks lag by its look-ahead.
    fn infer(&mut self, magnitude: &[f32], frames: usize, masks: &mut [f32]) -> Result<(), InferenceFailure>;

    /// A handle that makes this model's run in progress, if any, fail at once, callable from any
    /// thread. The engine calls it when it stops, so that stopping (a plugin's deactivation, the
    /// end of a render) does not wait for a run whose output nobody will hear: with a model
    /// whose runs take seconds (a waveform model) that wait would hold up the host. `None` (the
    /// default) for models whose runs are short enough to wait for.
    fn interrupter(&self) -> Option<Interrupter> {
        None
    }

    /// Returns a streaming model to its initial state, as at the start of a stream. The engine
    /// calls it whenever its stream restarts: after its reset hand-shake, when a model is
    /// swapped in, and on a transport jump. Models without state need nothing here.
    fn reset(&mut self) {}

    /// The schedule the engine's runs of this model follow, told before the first run of a
    /// stream: which frames of each window are new to it, which are look-ahead. Models that see
    /// each window afresh ignore it (the default). One that keeps state from one windowed run
    /// to the next (a composed model, whose streaming part must hear each sample once) needs
    /// it; until told, it assumes `live`'s schedule, which is what the engine's timing runs
    /// use (`calibrate`).
    fn follow(&mut self, _schedule: &Schedule) {}

    /// Whether this model only passes audio through, standing in for one that could not load.
    /// Such a model is not timed: it takes the schedule measured for a real model on its grid,
    /// so the host's delay compensation does not move when the real model comes back.
    fn is_pass_through(&self) -> bool {
        false
    }
}

/// A model that separates nothing: every bin goes to the residual stem.
///
/// Runs when no usable model is loaded (missing file, missing runtime), so the plugin still
/// passes the dry signal through with the latency it reported, and nothing a host or a session
/// depends on changes.
pub struct PassThrough {
    spec: ModelSpec,
}

impl PassThrough {
    /// A pass-through on `spec`'s grid and stems (use the expected model's, so the latency the
    /// host was told stays the same when the model comes back).
    pub fn new(spec: ModelSpec) -> Self {
        Self { spec }
    }
}

impl MaskModel for PassThrough {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn provider(&self) -> &str {
        "none"
    }

    fn infer(&mut self, _magnitude: &[f32], _frames: usize, masks: &mut [f32]) -> Result<(), InferenceFailure> {
        // All-zero masks normalise to "everything to the residual stem".
        masks.fill(0.0);
        Ok(())
    }

    fn is_pass_through(&self) -> bool {
        true
    }
}
