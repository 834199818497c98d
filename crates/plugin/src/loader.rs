//! Loading a model the user picks in the editor: on a background thread, then handed to the
//! running engine without a gap.
//!
//! The editor calls [`Shared::request_model`](super::shared::Shared::request_model); a thread loads and checks the file while the old
//! model keeps playing. A model on the same grid with the same stems swaps into the worker
//! between two runs (no gap, no click, same latency). Any other model needs a new engine: it is
//! parked here, the host is asked to restart processing, and the next activation takes it. A
//! file that fails to load changes nothing but the message the editor shows. When picks come
//! faster than loads, the last pick wins: an earlier load that finishes later is dropped.
//!
//! A model knows its own file (`ModelSpec::origin`), so nothing here tracks which file is
//! where: the engine hands back whatever model it ran when it stops.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use sift_engine::{MaskModel, ModelInbox};
use sift_inference::{Model, SessionOptions};

use super::monitor::{self, ModelInfo, Status};
use super::params::SiftParams;

/// Where the last request stands, for the editor.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum LoadState {
    /// Nothing asked for yet.
    #[default]
    Idle,
    /// Loading this file.
    Loading(PathBuf),
    /// This file is playing now.
    Playing(PathBuf),
    /// This file loaded but needs the host to restart processing (other grid or stems).
    WaitingForRestart(PathBuf),
    /// The file was refused; the message says why in a musician's words. The old model plays on.
    Refused(String),
}

/// The model picks of one instance, shared (inside [`Shared`](super::shared::Shared)) by its
/// main thread, its editor and the loading threads; the audio thread only reads
/// [`ModelLoader::restart_wanted`].
#[derive(Default)]
pub struct ModelLoader {
    /// The running engine's inbox; `None` while inactive.
    inbox: Mutex<Option<ModelInbox>>,
    state: Mutex<LoadState>,
    /// Counts requests; a load brings its model into play only if no later request came.
    /// Changed under the `state` lock.
    latest_request: AtomicU64,
    /// A model that needs a new engine, waiting for the next activation.
    parked: Mutex<Option<Box<dyn MaskModel>>>,
    /// Set when a parked model waits; the audio thread asks the host to restart.
    pub restart_wanted: AtomicBool,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ModelLoader {
    /// Where the last request stands.
    pub fn state(&self) -> LoadState {
        locked(&self.state).clone()
    }

    /// Records a request to load `path` and returns its number, for [`ModelLoader::load`]
    /// (see [`Shared::request_model`](super::shared::Shared::request_model)).
    pub fn begin(&self, path: &Path) -> u64 {
        let mut state = locked(&self.state);
        *state = LoadState::Loading(path.to_owned());
        self.latest_request.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Gives up on the last request, saying why in a musician's words.
    pub fn refuse(&self, why: String) {
        *locked(&self.state) = LoadState::Refused(why);
    }

    /// Loads `path` for request number `request` on the Device `params` ask for, and brings it
    /// into play: into the running engine if it accepts it, else parked for the next one
    /// (loader thread; this blocks for as long as the load takes).
    pub fn load(&self, path: &Path, request: u64, params: &SiftParams, status: &Status) {
        let loaded = Model::load(path, &SessionOptions::default().device(params.device.value().into()));
        // Holding the state lock: no newer request can start between this check and the hand-over.
        let mut state = locked(&self.state);
        if self.latest_request.load(Ordering::Acquire) != request {
            return; // a later pick supersedes this one; the model is dropped here
        }
        let fallback;
        let model = match loaded {
            Ok(model) => {
                fallback = model.provider_fallback().map(str::to_owned);
                Box::new(model) as Box<dyn MaskModel>
            }
            Err(e) => {
                *state = LoadState::Refused(monitor::problem_in_words(&e));
                return;
            }
        };
        // The project now remembers this model, whatever happens next.
        *locked(&params.model_path) = path.display().to_string();
        let info = ModelInfo { provider_fallback: fallback, ..ModelInfo::of(model.spec(), model.provider()) };
        let offered = match locked(&self.inbox).as_ref() {
            Some(inbox) => inbox.offer(model),
            None => Err(model),
        };
        match offered {
            Ok(()) => {
                *locked(&status.model) = info;
                *state = LoadState::Playing(path.to_owned());
            }
            Err(model) => {
                *locked(&self.parked) = Some(model);
                self.restart_wanted.store(true, Ordering::Release);
                *state = LoadState::WaitingForRestart(path.to_owned());
            }
        }
    }

    /// A new engine is running (main thread): later models are offered to it.
    pub fn engine_started(&self, inbox: ModelInbox) {
        *locked(&self.inbox) = Some(inbox);
    }

    /// The engine stopped (main thread): models loaded from now on wait for the next one.
    pub fn engine_stopped(&self) {
        *locked(&self.inbox) = None;
    }

    /// The model waiting for a new engine, if any (main thread, at activation).
    pub fn take_parked(&self) -> Option<Box<dyn MaskModel>> {
        self.restart_wanted.store(false, Ordering::Release);
        let parked = locked(&self.parked).take();
        if let Some(path) = parked.as_ref().and_then(|model| model.spec().origin.clone()) {
            *locked(&self.state) = LoadState::Playing(path);
        }
        parked
    }
}
