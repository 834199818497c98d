//! One loaded model file: its contract and the pool of sessions its instances run on.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ort::session::Session;
use ort::value::ValueType;

use super::contract::{self, Contract};
use super::providers::Device;
use super::runtime::Runtime;
use super::session::{self, SessionOptions};
use super::InferenceError;

/// One loaded model file: its sessions and its contract, shared by every instance that runs
/// the same file with the same options.
///
/// ONNX Runtime's `Run` is not safe to call concurrently on one session (the `ort` maintainers
/// found it so in practice), so runs on one session are serialised by a mutex; the lock is only
/// ever taken on worker threads. One session for every instance would make the instances of a
/// DAW session take turns on one core (4 Spleeter instances in `live` on 2 cores missed 92 % of
/// their samples), so instances are spread over a pool that grows, one session per new
/// instance, up to as many sessions as the machine has cores for their intra-op threads; past
/// that, instances share sessions round-robin. A waveform model keeps one session: its runs
/// take seconds and gigabytes.
pub(crate) struct Loaded {
    /// The pool; never empty.
    sessions: Mutex<Vec<Arc<Mutex<Session>>>>,
    /// The most sessions the pool may hold.
    pool_limit: usize,
    /// Instances created so far, which picks each new instance's session.
    instances: AtomicUsize,
    /// How the sessions are opened (on the device that runs the first one).
    options: SessionOptions,
    /// The contract read from the file; its spec's `origin` is the file.
    pub(crate) contract: Contract,
    /// Shapes of a streaming model's state tensors, one per `contract.state` pair.
    pub(crate) state_shapes: Vec<Vec<usize>>,
    /// The provider that runs the session.
    pub(crate) provider: Device,
    /// Why the session runs on the CPU although another device was asked for.
    pub(crate) fallback: Option<String>,
}

impl Loaded {
    /// Opens `path` on the device `options` asks for (or the CPU, with the reason); `fallback`
    /// is a reason already known (a device that failed its test run).
    pub(crate) fn open(
        runtime: &Runtime,
        path: &Path,
        options: &SessionOptions,
        fallback: Option<String>,
    ) -> Result<Self, InferenceError> {
        let unreadable = |reason: String| InferenceError::ModelUnreadable { path: path.to_owned(), reason };
        let (session, provider, reason) =
            session::open(runtime, path, options).map_err(|e| unreadable(e.to_string()))?;
        let fallback = fallback.or(reason);
        let mut metadata = read_metadata(&session).map_err(|e| unreadable(e.to_string()))?;
        let sidecar = path.with_extension(contract::SIDECAR_EXTENSION);
        if let Ok(text) = std::fs::read_to_string(&sidecar) {
            contract::add_sidecar(&mut metadata, &text).map_err(|e| e.in_file(&sidecar))?;
        }
        let mut contract = Contract::from_metadata(&metadata).map_err(|e| e.in_file(path))?;
        contract.spec.origin = Some(path.to_owned());
        let state_shapes = contract
            .check_tensors(
                &shapes(session.inputs().iter().map(|o| (o.name(), o.dtype()))),
                &shapes(session.outputs().iter().map(|o| (o.name(), o.dtype()))),
            )
            .map_err(|e| e.in_file(path))?;
        let pool_limit = if contract.waveform.is_some() {
            1
        } else {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cores / options.intra_threads.max(1)).max(1)
        };
        Ok(Self {
            sessions: Mutex::new(vec![Arc::new(Mutex::new(session))]),
            pool_limit,
            instances: AtomicUsize::new(0),
            options: options.clone().device(provider),
            contract,
            state_shapes,
            provider,
            fallback,
        })
    }

    /// The session a new instance runs on: a new one while the pool is below its limit, else
    /// the next one round-robin. Runs on the loading thread, never on a worker, since opening
    /// a session takes long and allocates. If another session cannot be opened (memory, say),
    /// the instance shares one: slower under load, never a failure.
    pub(crate) fn session_for_new_instance(&self) -> Arc<Mutex<Session>> {
        let index = self.instances.fetch_add(1, Ordering::Relaxed) % self.pool_limit;
        let mut pool = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if index >= pool.len() {
            let path = self.contract.spec.origin.as_deref().unwrap_or(Path::new(""));
            if let Ok((session, _, _)) = Runtime::get()
                .map_err(drop)
                .and_then(|runtime| session::open(runtime, path, &self.options).map_err(drop))
            {
                pool.push(Arc::new(Mutex::new(session)));
            }
        }
        pool[index.min(pool.len() - 1)].clone()
    }
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
                ValueType::Tensor { ty: ort::value::TensorElementType::Float32, shape, .. } => {
                    shape.iter().copied().collect()
                }
                _ => Vec::new(),
            };
            (name.to_owned(), shape)
        })
        .collect()
}
