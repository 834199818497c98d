//! ONNX Runtime and the model-file contract. Knows nothing about hosts or plugin formats.
//!
//! - [`runtime`]: loads the ONNX Runtime library once per process from an absolute path.
//! - [`contract`]: reads and checks the metadata a Sift model carries.
//! - [`onnx_model`]: [`OnnxModel`], a [`sift_engine::MaskModel`] run by ONNX Runtime, on one
//!   loaded model file (`pool`: its contract and its pool of sessions) that instances of the
//!   same file share (`cache`); `session` opens sessions ([`SessionOptions`]) on a device.
//! - [`composed`]: [`ComposedModel`], one model's vocals with another's other stems;
//!   [`Model`] is what users load by name or path, a file or a composition.
//! - [`waveform`]: adapts a waveform model (HTDemucs) to masks; [`demucs_spectrogram`] is
//!   the spectrogram such a hybrid model takes beside its waveform.
//! - [`providers`]: where a model runs ([`Device`]) and where provider libraries are found.
//! - [`catalogue`]: finds installed models by name.
//! - [`locations`]: where the running binary, the runtime library, the models and the
//!   providers are, and the user's folders for them; the bottom of the crate.

#![deny(missing_docs)]

mod cache;
pub mod catalogue;
pub mod composed;
pub mod contract;
pub mod demucs_spectrogram;
pub mod locations;
mod model;
pub mod onnx_model;
mod pool;
pub mod providers;
pub mod runtime;
mod session;
pub mod waveform;

use std::path::PathBuf;

pub use composed::ComposedModel;
pub use model::Model;
pub use onnx_model::OnnxModel;
pub use providers::Device;
pub use runtime::Runtime;
pub use session::SessionOptions;

/// Why a model could not be loaded. Each message says what to do.
#[derive(Clone, Debug, thiserror::Error)]
pub enum InferenceError {
    /// No runtime library was found.
    #[error(
        "the ONNX Runtime library was not found (looked at {}); run `cargo xtask setup`, or set {} to the path of {}",
        .looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        locations::ORT_DYLIB_ENV,
        locations::library_file_name()
    )]
    RuntimeMissing {
        /// Every path that was tried.
        looked: Vec<PathBuf>,
    },
    /// The runtime library exists but could not be loaded.
    #[error("the ONNX Runtime library at {} could not be loaded ({reason}); it must be ONNX Runtime {} for this platform: run `cargo xtask setup` again", .path.display(), runtime::ORT_VERSION)]
    RuntimeBroken {
        /// The library tried.
        path: PathBuf,
        /// The loader's error.
        reason: String,
    },
    /// No model file at the path, or no installed model of that name.
    #[error("model file {} does not exist; pass an .onnx file or the name of an installed model (`sift models` lists them)", .0.display())]
    ModelMissing(PathBuf),
    /// No installed model of that name.
    #[error("no installed model is called `{name}` (installed: {installed}); run `cargo xtask setup` to build the default model")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// Names that are installed, comma-separated.
        installed: String,
    },
    /// The file is not a model ONNX Runtime can read.
    #[error("{} is not a usable ONNX model: {reason}", .path.display())]
    ModelUnreadable {
        /// The file.
        path: PathBuf,
        /// ONNX Runtime's error.
        reason: String,
    },
    /// A composed model's description cannot be read, or the models it names do not fit
    /// together (see `composed`).
    #[error("{} does not describe a usable composed model: {reason}", .path.display())]
    Composition {
        /// The description file.
        path: PathBuf,
        /// What is wrong, and how to put it right.
        reason: String,
    },
    /// The model breaks Sift's model contract (see `model/CONTRACT.md`).
    #[error("the model does not follow Sift's model contract (model/CONTRACT.md): {0}")]
    Contract(String),
}

impl InferenceError {
    /// Names the file in a contract error.
    fn in_file(self, path: &std::path::Path) -> Self {
        match self {
            InferenceError::Contract(reason) => InferenceError::Contract(format!("{}: {reason}", path.display())),
            other => other,
        }
    }
}
