//! Loading a model the user picks in the editor: on a background thread, then handed to the
//! running engine without a gap.
//!
//! The editor calls [`ModelLoader::request`]; a thread loads and checks the file while the old
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
use std::sync::{Arc, Mutex, PoisonError};

use sift_engine::{MaskModel, ModelInbox};
use sift_inference::{OnnxModel, SessionOptions};

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

/// Shared by an instance (main thread), its editor and the loading threads.
pub struct ModelLoader {
    params: Arc<SiftParams>,
    status: Arc<Status>,
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
    /// A loader for the instance with these parameters and status.
    pub fn new(params: Arc<SiftParams>, status: Arc<Status>) -> Self {
        Self {
            params,
            status,
            inbox: Mutex::new(None),
            state: Mutex::new(LoadState::Idle),
            latest_request: AtomicU64::new(0),
            parked: Mutex::new(None),
            restart_wanted: AtomicBool::new(false),
        }
    }

    /// Where the last request stands.
    pub fn state(&self) -> LoadState {
        locked(&self.state).clone()
    }

    /// Loads `path` on a new thread and brings it into play (main or GUI thread; returns at once).
    pub fn request(self: &Arc<Self>, path: PathBuf) {
        let request = {
            let mut state = locked(&self.state);
            *state = LoadState::Loading(path.clone());
            self.latest_request.fetch_add(1, Ordering::AcqRel) + 1
        };
        let loader = self.clone();
        let spawned =
            std::thread::Builder::new().name("sift-model-loader".into()).spawn(move || loader.load(&path, request));
        if let Err(e) = spawned {
            *locked(&self.state) = LoadState::Refused(format!("Could not start loading: {e}"));
        }
    }

    /// Loads `path` for request number `request` (loader thread).
    fn load(&self, path: &Path, request: u64) {
        let loaded = OnnxModel::load(path, &SessionOptions::default().device(self.params.device.value().into()));
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
        *locked(&self.params.model_path) = path.display().to_string();
        let info = ModelInfo { provider_fallback: fallback, ..ModelInfo::of(model.spec(), model.provider()) };
        let offered = match locked(&self.inbox).as_ref() {
            Some(inbox) => inbox.offer(model),
            None => Err(model),
        };
        match offered {
            Ok(()) => {
                *locked(&self.status.model) = info;
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
