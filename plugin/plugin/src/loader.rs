//! Loading a model the user picks in the editor: on a background thread, then handed to the
//! running engine without a gap.
//!
//! The editor calls [`ModelLoader::request`]; a thread loads and checks the file while the old
//! model keeps playing. A model on the same grid with the same stems swaps into the worker
//! between two runs (no gap, no click, same latency). Any other model needs a new engine: it is
//! parked here, the host is asked to restart processing, and the next activation takes it. A
//! file that fails to load changes nothing but the message the editor shows.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// The file of the model swapped into the running engine, if one was.
    swapped: Mutex<Option<PathBuf>>,
    /// A model that needs a new engine, waiting for the next activation.
    parked: Mutex<Option<(PathBuf, Box<dyn MaskModel>)>>,
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
            swapped: Mutex::new(None),
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
        *locked(&self.state) = LoadState::Loading(path.clone());
        let loader = self.clone();
        let spawned = std::thread::Builder::new().name("sift-model-loader".into()).spawn(move || loader.load(&path));
        if let Err(e) = spawned {
            *locked(&self.state) = LoadState::Refused(format!("Could not start loading: {e}"));
        }
    }

    fn load(&self, path: &Path) {
        let model = match OnnxModel::load(path, &SessionOptions::default()) {
            Ok(model) => Box::new(model) as Box<dyn MaskModel>,
            Err(e) => {
                *locked(&self.state) = LoadState::Refused(monitor::problem_in_words(&e));
                return;
            }
        };
        // The project now remembers this model, whatever happens next.
        *locked(&self.params.model_path) = path.display().to_string();
        let info = ModelInfo::of(model.spec(), model.provider(), path);
        let offered = match locked(&self.inbox).as_ref() {
            Some(inbox) => inbox.offer(model),
            None => Err(model),
        };
        match offered {
            Ok(()) => {
                *locked(&self.swapped) = Some(path.to_owned());
                *locked(&self.status.model) = info;
                *locked(&self.state) = LoadState::Playing(path.to_owned());
            }
            Err(model) => {
                *locked(&self.parked) = Some((path.to_owned(), model));
                self.restart_wanted.store(true, Ordering::Release);
                *locked(&self.state) = LoadState::WaitingForRestart(path.to_owned());
            }
        }
    }

    /// A new engine is running (main thread): later models are offered to it.
    pub fn engine_started(&self, inbox: ModelInbox) {
        *locked(&self.inbox) = Some(inbox);
        *locked(&self.swapped) = None;
    }

    /// The engine stopped (main thread): returns the file of the model it ran if one was
    /// swapped in, so the instance knows what the engine handed back.
    pub fn engine_stopped(&self) -> Option<PathBuf> {
        *locked(&self.inbox) = None;
        locked(&self.swapped).take()
    }

    /// The model waiting for a new engine, if any (main thread, at activation).
    pub fn take_parked(&self) -> Option<(PathBuf, Box<dyn MaskModel>)> {
        self.restart_wanted.store(false, Ordering::Release);
        let parked = locked(&self.parked).take();
        if let Some((path, _)) = &parked {
            *locked(&self.state) = LoadState::Playing(path.clone());
        }
        parked
    }
}
