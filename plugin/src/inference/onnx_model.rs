//! A separation model run by ONNX Runtime.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{TensorRef, ValueType};

use crate::engine::{InferenceFailure, MaskModel, ModelSpec};

use super::contract::{Contract, OutputKind};
use super::runtime::Runtime;
use super::InferenceError;

/// How a session is set up.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Threads one model run may use. One keeps a core free for the host; two halves the run
    /// time on an idle 2-core machine.
    pub intra_threads: usize,
    /// Let ONNX Runtime's threads spin between runs. Off by default: spinning burns a core
    /// the host needs, and runs are tens of milliseconds apart.
    pub spinning: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self { intra_threads: 1, spinning: false }
    }
}

impl SessionOptions {
    /// Sets the number of intra-op threads (at least one).
    pub fn intra_threads(mut self, threads: usize) -> Self {
        self.intra_threads = threads.max(1);
        self
    }

    /// Allows or forbids spinning.
    pub fn spinning(mut self, spinning: bool) -> Self {
        self.spinning = spinning;
        self
    }
}

/// An ONNX model file that follows Sift's contract, ready to run.
pub struct OnnxModel {
    session: Session,
    contract: Contract,
    path: PathBuf,
    provider: String,
}

impl OnnxModel {
    /// Loads, checks and test-runs the model at `path`.
    ///
    /// Fails, with a message saying what is wrong, when the runtime is missing, the file is not
    /// a readable ONNX model, its metadata breaks the contract, its tensors do not match the
    /// metadata, or a test run on silence fails.
    pub fn load(path: &Path, options: &SessionOptions) -> Result<Self, InferenceError> {
        let runtime = Runtime::get()?;
        if !path.is_file() {
            return Err(InferenceError::ModelMissing(path.to_owned()));
        }
        let unreadable = |reason: String| InferenceError::ModelUnreadable { path: path.to_owned(), reason };
        let session = build_session(runtime, path, options).map_err(|e| unreadable(e.to_string()))?;
        let metadata = read_metadata(&session).map_err(|e| unreadable(e.to_string()))?;
        let contract = Contract::from_metadata(&metadata).map_err(|e| e.in_file(path))?;
        contract
            .check_tensors(&shapes(session.inputs().iter().map(|o| (o.name(), o.dtype()))), &shapes(session.outputs().iter().map(|o| (o.name(), o.dtype()))))
            .map_err(|e| e.in_file(path))?;
        let mut model = OnnxModel { session, contract, path: path.to_owned(), provider: "CPU".to_owned() };
        model.test_run()?;
        Ok(model)
    }

    /// The file this model came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs the model once on silence, so a model that loads but cannot run is rejected at
    /// load time rather than on the worker.
    fn test_run(&mut self) -> Result<(), InferenceError> {
        let spec = &self.contract.spec;
        let frames = spec.frame_multiple;
        let magnitude = vec![0.0; 2 * frames * spec.bins];
        let mut masks = vec![0.0; spec.stem_count() * 2 * frames * spec.bins];
        self.infer(&magnitude, frames, &mut masks)
            .map_err(|e| InferenceError::Contract(format!("a test run failed: {}", e.0)).in_file(&self.path))
    }
}

impl MaskModel for OnnxModel {
    fn spec(&self) -> &ModelSpec {
        &self.contract.spec
    }

    fn provider(&self) -> &str {
        &self.provider
    }

    fn infer(&mut self, magnitude: &[f32], frames: usize, masks: &mut [f32]) -> Result<(), InferenceFailure> {
        let spec = &self.contract.spec;
        let shape = [1usize, 2, frames, spec.bins];
        let input = TensorRef::from_array_view((shape, magnitude)).map_err(|e| InferenceFailure(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs![self.contract.input.as_str() => input])
            .map_err(|e| InferenceFailure(e.to_string()))?;
        let (_, values) = outputs[self.contract.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|e| InferenceFailure(e.to_string()))?;
        if values.len() != masks.len() {
            return Err(InferenceFailure(format!("output has {} values, expected {}", values.len(), masks.len())));
        }
        match self.contract.output_kind {
            OutputKind::Mask => masks.copy_from_slice(values),
            // Squared magnitudes are normalised into ratio masks by the engine.
            OutputKind::Magnitude => masks.iter_mut().zip(values).for_each(|(m, &v)| *m = v * v),
        }
        Ok(())
    }
}

/// A CPU session tuned for real time: all graph optimisations, a fixed thread count, no
/// spinning unless asked for.
fn build_session(runtime: &Runtime, path: &Path, options: &SessionOptions) -> ort::Result<Session> {
    Session::builder(runtime.environment())?
        .with_optimization_level(GraphOptimizationLevel::All)?
        .with_intra_threads(options.intra_threads)?
        .with_inter_threads(1)?
        .with_intra_op_spinning(options.spinning)?
        .with_inter_op_spinning(options.spinning)?
        .commit_from_file(path)
}

fn read_metadata(session: &Session) -> ort::Result<HashMap<String, String>> {
    let metadata = session.metadata()?;
    let mut map = HashMap::new();
    for key in metadata.custom_keys()? {
        if let Some(value) = metadata.custom(&key) {
            map.insert(key, value);
        }
    }
    Ok(map)
}

/// Names and shapes of float tensors (`-1` for dynamic dimensions); other types get an empty
/// shape, which the contract check rejects.
fn shapes<'a>(outlets: impl Iterator<Item = (&'a str, &'a ValueType)>) -> Vec<(String, Vec<i64>)> {
    outlets
        .map(|(name, ty)| {
            let shape = match ty {
                ValueType::Tensor { ty: ort::value::TensorElementType::Float32, shape, .. } => shape.iter().copied().collect(),
                _ => Vec::new(),
            };
            (name.to_owned(), shape)
        })
        .collect()
}
