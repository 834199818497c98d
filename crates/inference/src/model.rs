//! What the command line and the plugins load by name or path: a model file, or a composed
//! model's description.

use std::path::Path;

use sift_engine::{InferenceFailure, Interrupter, MaskModel, ModelSpec, Schedule};

use super::catalogue;
use super::composed::ComposedModel;
use super::onnx_model::OnnxModel;
use super::providers::Device;
use super::session::SessionOptions;
use super::InferenceError;

/// A model ready to run: one ONNX file, or two composed ([`ComposedModel`]). Both boxed: the
/// engine boxes the model anyway, and the two differ in size.
pub enum Model {
    /// One ONNX file that follows Sift's contract.
    File(Box<OnnxModel>),
    /// A description that composes two files.
    Composed(Box<ComposedModel>),
}

impl Model {
    /// Loads the model at `path`: a composed model if the file's name ends in
    /// [`catalogue::COMPOSED_SUFFIX`], else an ONNX file ([`OnnxModel::load`], whose errors say what to do).
    pub fn load(path: &Path, options: &SessionOptions) -> Result<Self, InferenceError> {
        if catalogue::is_composed(path) {
            return Ok(Model::Composed(Box::new(ComposedModel::load(path, options)?)));
        }
        OnnxModel::load(path, options).map(|m| Model::File(Box::new(m)))
    }

    /// Why the model runs on the CPU although another device was asked for, or `None`.
    pub fn provider_fallback(&self) -> Option<&str> {
        match self {
            Model::File(m) => m.provider_fallback(),
            Model::Composed(m) => m.provider_fallback(),
        }
    }

    /// The device that runs the model.
    pub fn device(&self) -> Device {
        match self {
            Model::File(m) => m.device(),
            Model::Composed(m) => m.device(),
        }
    }

    fn inner(&self) -> &dyn MaskModel {
        match self {
            Model::File(m) => m.as_ref(),
            Model::Composed(m) => m.as_ref(),
        }
    }

    fn inner_mut(&mut self) -> &mut dyn MaskModel {
        match self {
            Model::File(m) => m.as_mut(),
            Model::Composed(m) => m.as_mut(),
        }
    }
}

impl MaskModel for Model {
    fn spec(&self) -> &ModelSpec {
        self.inner().spec()
    }

    fn provider(&self) -> &str {
        self.inner().provider()
    }

    fn infer(&mut self, input: &[f32], frames: usize, masks: &mut [f32]) -> Result<(), InferenceFailure> {
        self.inner_mut().infer(input, frames, masks)
    }

    fn interrupter(&self) -> Option<Interrupter> {
        self.inner().interrupter()
    }

    fn reset(&mut self) {
        self.inner_mut().reset();
    }

    fn follow(&mut self, schedule: &Schedule) {
        self.inner_mut().follow(schedule);
    }
}
