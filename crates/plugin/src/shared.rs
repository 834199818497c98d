//! What every thread of one plugin instance sees: the parameters, the meters, the status and
//! the model loader, behind one `Arc`.

use std::path::PathBuf;
use std::sync::Arc;

use super::loader::ModelLoader;
use super::monitor::{Meters, Status};
use super::params::SiftParams;

/// The state of one instance that the main thread, the audio thread, the editor and the model
/// loader's threads share.
///
/// The audio thread only reads the parameters and writes the meters' and the status's atomics;
/// the locks inside [`Status`] and [`ModelLoader`] are taken by the other threads only, so no
/// thread ever makes the audio thread wait.
pub struct Shared {
    /// `Sift`'s parameters (`Sift Single` nests them in its own). An `Arc` of its own because
    /// nice-plug hands it to the host as `Arc<dyn Params>`.
    pub params: Arc<SiftParams>,
    /// Peak levels for the editor's meters (audio thread writes).
    pub meters: Meters,
    /// Model, mode, load and misses for the editor.
    pub status: Status,
    /// Models picked in the editor, loading or waiting for a new engine.
    pub loader: ModelLoader,
}

impl Shared {
    /// The shared state of an inactive instance driven by `params`.
    pub fn new(params: Arc<SiftParams>) -> Self {
        Self { params, meters: Meters::default(), status: Status::default(), loader: ModelLoader::default() }
    }

    /// Loads `path` on a new thread and brings it into play when it is ready (see
    /// [`ModelLoader`]); returns at once. Main or GUI thread.
    pub fn request_model(self: &Arc<Self>, path: PathBuf) {
        let request = self.loader.begin(&path);
        let shared = self.clone();
        let spawned = std::thread::Builder::new()
            .name("sift-model-loader".into())
            .spawn(move || shared.loader.load(&path, request, &shared.params, &shared.status));
        if let Err(e) = spawned {
            self.loader.refuse(format!("Could not start loading: {e}"));
        }
    }
}
