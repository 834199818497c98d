//! A separation model run by ONNX Runtime.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use ort::session::SessionInputValue;
use ort::session::{RunOptions, Session};
use ort::value::TensorRef;

use sift_engine::{InferenceFailure, Interrupter, MaskModel, ModelSpec};

use super::cache;
use super::contract::OutputKind;
use super::pool::Loaded;
use super::providers::Device;
use super::runtime::Runtime;
use super::session::{failure, SessionOptions};
use super::waveform::WaveformAdapter;
use super::InferenceError;

/// An ONNX model file that follows Sift's contract, ready to run.
///
/// A streaming model's state belongs to this instance, not to the shared session: two plugin
/// instances running the same file each carry their own.
pub struct OnnxModel {
    loaded: Arc<Loaded>,
    /// The session of the pool this instance runs on.
    session: Arc<Mutex<Session>>,
    /// The current state of a streaming model, one buffer per state pair (zeros at reset).
    state: Vec<Vec<f32>>,
    /// One run's input frames of a streaming model, `[channel][frame][bin]`.
    frames_in: Vec<f32>,
    /// A waveform model's adapter and its scratch, and the options of its runs, through which
    /// another thread can end one (`None` for mask and magnitude models, whose runs are short).
    waveform: Option<(WaveformAdapter, Arc<RunOptions>)>,
}

impl OnnxModel {
    /// Loads, checks and test-runs the model at `path`, or shares the copy this process has
    /// already loaded with the same options.
    ///
    /// Fails, with a message saying what is wrong, when the runtime is missing, the file is not
    /// a readable ONNX model, its metadata breaks the contract, its tensors do not match the
    /// metadata, or a test run on silence fails. A device that cannot load or run the model is
    /// not a failure: the model runs on the CPU and [`OnnxModel::provider_fallback`] says why.
    pub fn load(path: &Path, options: &SessionOptions) -> Result<Self, InferenceError> {
        let runtime = Runtime::get()?;
        if !path.is_file() {
            return Err(InferenceError::ModelMissing(path.to_owned()));
        }
        let cached = cache::Entry::lock(path, options);
        if let Some(loaded) = cached.loaded() {
            return Self::instance(loaded);
        }
        let loaded = Arc::new(Loaded::open(runtime, path, options, None)?);
        let mut model = Self::instance(loaded)?;
        if let Err(error) = model.test_run() {
            if model.loaded.provider == Device::Cpu {
                return Err(error);
            }
            // The accelerator loaded the model but cannot run it: the CPU can, and the user is
            // told why it runs there.
            let reason = format!("{} loaded the model but could not run it ({error})", model.loaded.provider.label());
            let cpu = options.clone().device(Device::Cpu);
            model = Self::instance(Arc::new(Loaded::open(runtime, path, &cpu, Some(reason))?))?;
            model.test_run()?;
        }
        cached.insert(&model.loaded);
        model.reset();
        Ok(model)
    }

    /// Why the model runs on the CPU although another device was asked for (each provider
    /// tried, with its reason), or `None`. Under [`Device::Auto`], providers that are not
    /// installed are not reasons; installed ones that fail are.
    pub fn provider_fallback(&self) -> Option<&str> {
        self.loaded.fallback.as_deref()
    }

    /// The device that runs the model (what [`MaskModel::provider`] names).
    pub fn device(&self) -> Device {
        self.loaded.provider
    }

    /// An instance of a loaded model with its own (initial) state, on the next session of the
    /// pool (opened now if the pool may still grow).
    fn instance(loaded: Arc<Loaded>) -> Result<Self, InferenceError> {
        let session = loaded.session_for_new_instance();
        let state = loaded.state_shapes.iter().map(|shape| vec![0.0; shape.iter().product()]).collect();
        let spec = &loaded.contract.spec;
        let frames_in = vec![0.0; 2 * spec.streaming.map_or(0, |s| s.frames_per_run) * spec.bins];
        let waveform = loaded
            .contract
            .waveform
            .as_ref()
            .map(|w| {
                let options = RunOptions::new().map_err(|e| InferenceError::ModelUnreadable {
                    path: spec.origin.clone().unwrap_or_default(),
                    reason: e.to_string(),
                })?;
                Ok::<_, InferenceError>((WaveformAdapter::new(spec, w), Arc::new(options)))
            })
            .transpose()?;
        Ok(OnnxModel { loaded, session, state, frames_in, waveform })
    }

    fn path(&self) -> &Path {
        self.loaded.contract.spec.origin.as_deref().unwrap_or(Path::new(""))
    }

    /// How many instances in this process share this model's loaded copy.
    pub fn sharers(&self) -> usize {
        Arc::strong_count(&self.loaded)
    }

    /// Separates a clip of at most one segment with a waveform model in one run, as the model's
    /// own tools do, without Sift's masks: the stems' waveforms, `[stem][channel][sample]`.
    /// The reference the adapted model is measured against.
    ///
    /// # Errors
    /// If this is not a waveform model, the clip is longer than its segment, or the run fails.
    pub fn separate_clip(&mut self, clip: [&[f32]; 2]) -> Result<Vec<f32>, InferenceFailure> {
        let (adapter, options) =
            self.waveform.as_mut().ok_or_else(|| InferenceFailure("not a waveform model".into()))?;
        options.unterminate().map_err(failure)?;
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        adapter.separate_clip(&mut session, &self.loaded.contract, options, clip)
    }

    /// Runs the model once on silence, so a model that loads but cannot run is rejected at
    /// load time rather than on the worker.
    ///
    /// Not for a waveform model: one of its runs takes seconds (HTDemucs: 12–18 s on one core)
    /// and gigabytes, too much to spend on every load, and all its dimensions are fixed and
    /// checked against the metadata.
    fn test_run(&mut self) -> Result<(), InferenceError> {
        let spec = &self.loaded.contract.spec;
        if spec.segment.is_some() {
            return Ok(());
        }
        let frames = spec.frame_multiple;
        let magnitude = vec![0.0; spec.input_values(frames)];
        let mut masks = vec![0.0; spec.stem_count() * 2 * frames * spec.bins];
        self.infer(&magnitude, frames, &mut masks)
            .map_err(|e| InferenceError::Contract(format!("a test run failed: {}", e.0)).in_file(self.path()))
    }
}

impl MaskModel for OnnxModel {
    fn spec(&self) -> &ModelSpec {
        &self.loaded.contract.spec
    }

    fn provider(&self) -> &str {
        self.loaded.provider.label()
    }

    fn infer(&mut self, magnitude: &[f32], frames: usize, masks: &mut [f32]) -> Result<(), InferenceFailure> {
        if self.loaded.contract.spec.streaming.is_some() {
            return self.infer_streaming(magnitude, frames, masks);
        }
        if let Some((adapter, options)) = &mut self.waveform {
            // An interruption ends the run in progress only; this one is wanted.
            options.unterminate().map_err(failure)?;
            let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
            return adapter.infer(&mut session, &self.loaded.contract, options, magnitude, frames, masks);
        }
        let contract = &self.loaded.contract;
        let shape = [1usize, 2, frames, contract.spec.bins];
        let input = TensorRef::from_array_view((shape, magnitude)).map_err(failure)?;
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let outputs = session.run(ort::inputs![contract.input.as_str() => input]).map_err(failure)?;
        let (_, values) = outputs[contract.output.as_str()].try_extract_tensor::<f32>().map_err(failure)?;
        if values.len() != masks.len() {
            return Err(InferenceFailure(format!("output has {} values, expected {}", values.len(), masks.len())));
        }
        write_masks(contract.output_kind, values, masks);
        Ok(())
    }

    fn reset(&mut self) {
        self.state.iter_mut().for_each(|s| s.fill(0.0));
    }

    fn interrupter(&self) -> Option<Interrupter> {
        let options = self.waveform.as_ref().map(|(_, options)| options.clone())?;
        Some(Arc::new(move || {
            // Failing to flag it only means waiting for the run, as without an interrupter.
            let _ = options.terminate();
        }))
    }
}

impl OnnxModel {
    /// Runs a streaming model over `frames` frames, its frames per run at a time, handing its
    /// state from each run to the next.
    fn infer_streaming(&mut self, magnitude: &[f32], frames: usize, masks: &mut [f32]) -> Result<(), InferenceFailure> {
        let contract = &self.loaded.contract;
        let (bins, stems) = (contract.spec.bins, contract.spec.stem_count());
        let k = contract.spec.streaming.map_or(1, |s| s.frames_per_run);
        if !frames.is_multiple_of(k) {
            return Err(InferenceFailure(format!("{frames} frames is not a whole number of runs of {k}")));
        }
        let run_values = k * bins;
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        for run in 0..frames / k {
            // `[channel][frame][bin]` for this run's frames only.
            for ch in 0..2 {
                let from = (ch * frames + run * k) * bins;
                self.frames_in[ch * run_values..][..run_values].copy_from_slice(&magnitude[from..from + run_values]);
            }
            let mut inputs = Vec::with_capacity(1 + self.state.len());
            let input =
                TensorRef::from_array_view(([1usize, 2, k, bins], self.frames_in.as_slice())).map_err(failure)?;
            inputs.push((contract.input.as_str(), SessionInputValue::from(input)));
            for ((name, _), (state, shape)) in
                contract.state.iter().zip(self.state.iter().zip(&self.loaded.state_shapes))
            {
                let value = TensorRef::from_array_view((shape.as_slice(), state.as_slice())).map_err(failure)?;
                inputs.push((name.as_str(), SessionInputValue::from(value)));
            }
            let outputs = session.run(inputs).map_err(failure)?;
            let (_, values) = outputs[contract.output.as_str()].try_extract_tensor::<f32>().map_err(failure)?;
            if values.len() != stems * 2 * run_values {
                return Err(InferenceFailure(format!(
                    "output has {} values, expected {}",
                    values.len(),
                    stems * 2 * run_values
                )));
            }
            // `[stem][channel][frame][bin]`: each stem and channel's frames go to their place.
            for (i, chunk) in values.chunks_exact(run_values).enumerate() {
                let to = (i * frames + run * k) * bins;
                write_masks(contract.output_kind, chunk, &mut masks[to..to + run_values]);
            }
            for ((_, name), state) in contract.state.iter().zip(self.state.iter_mut()) {
                let (_, next) = outputs[name.as_str()].try_extract_tensor::<f32>().map_err(failure)?;
                state.copy_from_slice(next);
            }
        }
        Ok(())
    }
}

/// Writes a run's output values as masks: as they are, or squared magnitudes, which the engine
/// normalises into ratio masks.
///
/// # Panics
/// For a waveform model, whose output is not per bin (the [`WaveformAdapter`] makes its masks).
fn write_masks(kind: OutputKind, values: &[f32], masks: &mut [f32]) {
    match kind {
        OutputKind::Mask => masks.copy_from_slice(values),
        OutputKind::Magnitude => masks.iter_mut().zip(values).for_each(|(m, &v)| *m = v * v),
        OutputKind::Waveform => unreachable!("a waveform model's masks come from its adapter"),
    }
}
