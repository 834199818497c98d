//! The process-wide ONNX Runtime, loaded once from an absolute path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use super::locations;
use super::providers::{self, ProviderPackage};
use super::InferenceError;

pub use crate::locations::ORT_VERSION;

/// A loaded ONNX Runtime: the library and the environment all sessions share.
pub struct Runtime {
    environment: ort::environment::Environment,
    library: PathBuf,
    /// Provider libraries registered with the environment, by package name, or why one could
    /// not be, by library file: registering is done once per process (a library cannot be unloaded while a
    /// session may use it), and a failure is remembered so every load says the same.
    providers: Mutex<HashMap<&'static str, Result<PathBuf, String>>>,
}

static RUNTIME: OnceLock<Result<Runtime, InferenceError>> = OnceLock::new();

impl Runtime {
    /// The process's runtime, loaded on first use from the first existing candidate path.
    ///
    /// Loading happens once per process (ONNX Runtime allows one environment); a failure is
    /// remembered and returned to every later caller, with what to do about it.
    pub fn get() -> Result<&'static Runtime, InferenceError> {
        RUNTIME.get_or_init(Self::load).as_ref().map_err(Clone::clone)
    }

    fn load() -> Result<Runtime, InferenceError> {
        let candidates = locations::library_candidates(locations::binary_dir().as_deref());
        let library = candidates
            .iter()
            .find(|p| p.is_file())
            .cloned()
            .ok_or_else(|| InferenceError::RuntimeMissing { looked: candidates.clone() })?;
        let library = std::path::absolute(&library).unwrap_or(library);
        #[cfg(windows)]
        load_with_own_dependencies(&library)
            .map_err(|reason| InferenceError::RuntimeBroken { path: library.clone(), reason })?;
        let loaded = std::panic::catch_unwind(|| ort::init_from(&library));
        let builder = match loaded {
            Ok(Ok(builder)) => builder,
            Ok(Err(e)) => return Err(InferenceError::RuntimeBroken { path: library, reason: e.to_string() }),
            Err(_) => {
                return Err(InferenceError::RuntimeBroken {
                    path: library,
                    reason: "the library crashed while loading".into(),
                })
            }
        };
        let environment = builder
            .with_name("sift")
            .with_telemetry(false)
            .build()
            .map_err(|e| InferenceError::RuntimeBroken { path: library.clone(), reason: e.to_string() })?;
        Ok(Runtime { environment, library, providers: Mutex::default() })
    }

    /// The environment sessions are built in.
    pub fn environment(&self) -> &ort::environment::Environment {
        &self.environment
    }

    /// Absolute path of the loaded library.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Registers the plugin provider library of `package` with the environment (once per
    /// process), so its devices appear in [`ort::environment::Environment::devices`]. Returns
    /// the library's path, or why it cannot be used, in words that say what to do.
    pub fn register_provider(&self, package: &'static ProviderPackage) -> Result<PathBuf, String> {
        let mut registered = self.providers.lock().unwrap_or_else(PoisonError::into_inner);
        registered
            .entry(package.library)
            .or_insert_with(|| {
                let library = providers::find_library(package, locations::binary_dir().as_deref())
                    .map_err(|looked| {
                        format!(
                            "the {} provider is not installed (looked at {}); install it with `sift providers install {}`",
                            package.device.label(),
                            looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
                            package.name
                        )
                    })?;
                let library = std::path::absolute(&library).unwrap_or(library);
                // NVIDIA's libraries sit beside CUDA's provider, found by no loader path: load
                // them first, so the provider's own dependencies resolve to them.
                if let Some(lib_dir) = library.parent().map(|dir| dir.join("lib")).filter(|d| d.is_dir()) {
                    preload_dependencies(&lib_dir);
                }
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.environment.register_ep_library(format!("sift-{}", package.device.name()), &library)
                }));
                match result {
                    Ok(Ok(())) => Ok(library),
                    Ok(Err(e)) => Err(format!(
                        "the {} provider library at {} could not be loaded ({e}); reinstall it with `sift providers install {}`",
                        package.device.label(),
                        library.display(),
                        package.name
                    )),
                    Err(_) => Err(format!("the {} provider library at {} crashed while loading", package.device.label(), library.display())),
                }
            })
            .clone()
    }
}

/// Loads the runtime library by its absolute path with its own folder searched first for the
/// libraries it needs, and keeps it loaded for the process's life.
///
/// `ort` loads it by the same absolute path afterwards and gets this very module. Loaded by its
/// full path, the library is Sift's own copy even where a host or another plugin loaded another
/// `onnxruntime.dll` first (Windows matches a full path by path, a bare name by name), and its
/// dependencies (the DirectML build's `DirectML.dll`) come from beside it rather than from the
/// host's folder or an older copy in `System32`.
#[cfg(windows)]
fn load_with_own_dependencies(library: &Path) -> Result<(), String> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::System::LibraryLoader::{LoadLibraryExW, LOAD_WITH_ALTERED_SEARCH_PATH};

    let wide: Vec<u16> = library.as_os_str().encode_wide().chain(std::iter::once(0)).collect();
    // SAFETY: `wide` is a NUL-terminated absolute path; loading runs the library's initialisers,
    // which is what using ONNX Runtime takes. The handle is never freed (one runtime a process).
    let module = unsafe { LoadLibraryExW(wide.as_ptr(), std::ptr::null_mut(), LOAD_WITH_ALTERED_SEARCH_PATH) };
    if module.is_null() {
        return Err(format!("Windows could not load it ({})", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Loads every shared library in `dir` into the process (globally, never unloaded), retrying
/// until no more load: the order they depend on each other in is not known. Failures are left
/// to the provider's own load, which names the library it misses.
fn preload_dependencies(dir: &Path) {
    #[cfg(unix)]
    {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut pending: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains(".so")))
            .collect();
        pending.sort();
        loop {
            let before = pending.len();
            pending.retain(|path| {
                let Ok(name) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else { return false };
                // SAFETY: loading a library runs its initialisers; these are NVIDIA's runtime
                // libraries the user installed for this purpose.
                let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
                handle.is_null()
            });
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}
