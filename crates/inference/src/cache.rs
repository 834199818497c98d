//! The models this process has loaded, by file and options, so that instances running the same
//! file share one copy (one set of sessions, one copy of the weights).
//!
//! A file is known by its path *and* its length and modification time: a model re-exported
//! under the same name while an instance runs the old one is loaded afresh by the next load,
//! not handed the copy of what the file held before (the running instance keeps its copy: the
//! weights are in memory, not read from the file as it runs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::SystemTime;

use super::pool::Loaded;
use super::providers::Device;
use super::session::SessionOptions;

/// What makes two loads the same: the file (absolute, with its length and modification time,
/// where they can be read) and every option a session is built with.
type Key = (PathBuf, Option<(u64, SystemTime)>, usize, bool, Device);

/// Weak, so the last instance to let go of a model frees it.
type Cache = HashMap<Key, Weak<Loaded>>;

static LOADED: OnceLock<Mutex<Cache>> = OnceLock::new();

/// The cache's place for one file and set of options, locked: while it is held, no other
/// thread can look up or load any model, so two instances that ask for the same file at once
/// load it once.
pub(crate) struct Entry {
    cache: MutexGuard<'static, Cache>,
    key: Key,
}

impl Entry {
    /// Locks the cache at `path` with `options`, forgetting the models no instance holds any more.
    pub(crate) fn lock(path: &Path, options: &SessionOptions) -> Self {
        let stamp = std::fs::metadata(path).ok().and_then(|m| Some((m.len(), m.modified().ok()?)));
        let key = (
            std::path::absolute(path).unwrap_or_else(|_| path.to_owned()),
            stamp,
            options.intra_threads,
            options.spinning,
            options.device,
        );
        let mut cache = LOADED.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner);
        cache.retain(|_, weak| weak.strong_count() > 0);
        Self { cache, key }
    }

    /// The copy loaded already, if an instance still holds it.
    pub(crate) fn loaded(&self) -> Option<Arc<Loaded>> {
        self.cache.get(&self.key).and_then(Weak::upgrade)
    }

    /// Remembers `loaded` for later loads of this file with these options.
    pub(crate) fn insert(mut self, loaded: &Arc<Loaded>) {
        self.cache.insert(self.key, Arc::downgrade(loaded));
    }
}
