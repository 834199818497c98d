//! Where Sift's files are: the running binary's folder, the ONNX Runtime library, the models,
//! the execution providers, and the user's folders for them. The bottom of the crate: it uses
//! nothing else of it, so the modules that load things (`runtime`, `catalogue`, `providers`)
//! depend on it and not on each other for paths.
//!
//! Bundles keep the ONNX Runtime library and the models next to the plugin binary, so they must
//! be found from the binary's own location: a host's executable or working directory says
//! nothing about where a plugin is installed.

use std::path::{Path, PathBuf};

/// The ONNX Runtime version Sift is built and tested against (from the `onnxruntime` wheel); it
/// names the library file on Linux and macOS.
pub const ORT_VERSION: &str = "1.31.1";

/// The folder holding the binary this code was loaded from, with symbolic links resolved.
///
/// This asks the loader which object contains this very function (`dladdr` on Unix,
/// `GetModuleHandleExW` on Windows), which gives the plugin library's path inside a host and the
/// executable's path otherwise. Links are resolved because on Linux `sift.clap` is a link to the
/// library inside `sift.vst3`, whose runtime and models lie beside the link's target, not beside
/// the link.
///
/// Windows bundles hold no links, and `canonicalize` there gives `\\?\` paths that show badly
/// in messages, so the loader's path is taken as it is.
pub fn binary_dir() -> Option<PathBuf> {
    let path = binary_path()?;
    let path = if cfg!(windows) { path } else { std::fs::canonicalize(&path).unwrap_or(path) };
    path.parent().map(PathBuf::from)
}

#[cfg(unix)]
fn binary_path() -> Option<PathBuf> {
    use std::ffi::CStr;
    use std::os::unix::ffi::OsStrExt;

    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: `dladdr` only reads the address and fills `info`; any function of this object
    // identifies it.
    let found = unsafe { libc::dladdr(binary_path as *const libc::c_void, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return std::env::current_exe().ok();
    }
    // SAFETY: on success `dli_fname` is a NUL-terminated path owned by the loader.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes()));
    // The main executable may be reported by the name it was started with.
    if path.is_absolute() {
        Some(path)
    } else {
        std::env::current_exe().ok()
    }
}

#[cfg(windows)]
fn binary_path() -> Option<PathBuf> {
    use std::os::windows::ffi::OsStringExt;
    use windows_sys::Win32::Foundation::{GetLastError, ERROR_INSUFFICIENT_BUFFER, HMODULE};
    use windows_sys::Win32::System::LibraryLoader::{
        GetModuleFileNameW, GetModuleHandleExW, GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS,
        GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
    };

    let mut module: HMODULE = std::ptr::null_mut();
    // SAFETY: with FROM_ADDRESS the second argument is an address inside the module wanted (this
    // function's); UNCHANGED_REFCOUNT takes no reference, so nothing is to be released.
    let found = unsafe {
        GetModuleHandleExW(
            GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
            binary_path as *const u16,
            &mut module,
        )
    };
    if found == 0 {
        return std::env::current_exe().ok();
    }
    // Long paths (`\\?\` prefixes, deep plugin folders) need more than MAX_PATH: grow until the
    // name fits.
    let mut buffer = vec![0u16; 512];
    loop {
        // SAFETY: `module` is this loaded module; the buffer's length is passed with it.
        let len = unsafe { GetModuleFileNameW(module, buffer.as_mut_ptr(), buffer.len() as u32) } as usize;
        if len == 0 {
            return std::env::current_exe().ok();
        }
        // SAFETY: GetLastError has no preconditions; it tells a truncated name from a whole one.
        if len < buffer.len() || unsafe { GetLastError() } != ERROR_INSUFFICIENT_BUFFER {
            return Some(PathBuf::from(std::ffi::OsString::from_wide(&buffer[..len])));
        }
        buffer.resize(buffer.len() * 2, 0);
    }
}

#[cfg(not(any(unix, windows)))]
fn binary_path() -> Option<PathBuf> {
    std::env::current_exe().ok()
}

/// Environment variable that overrides where the runtime library is looked for.
pub const ORT_DYLIB_ENV: &str = "SIFT_ORT_DYLIB";

/// The file name of the runtime library on this platform.
pub fn library_file_name() -> String {
    if cfg!(target_os = "windows") {
        "onnxruntime.dll".to_owned()
    } else if cfg!(target_os = "macos") {
        format!("libonnxruntime.{ORT_VERSION}.dylib")
    } else {
        format!("libonnxruntime.so.{ORT_VERSION}")
    }
}

/// Where the runtime library is looked for, in order: `$SIFT_ORT_DYLIB`; next to the running
/// binary, in `lib/` or `../Resources/` beside it (how bundles ship it); `runtime/` of the
/// source tree, for binaries running from its `target/` folder (after `cargo xtask setup`).
pub fn library_candidates(binary_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os(ORT_DYLIB_ENV) {
        candidates.push(PathBuf::from(path));
        return candidates;
    }
    let name = library_file_name();
    if let Some(dir) = binary_dir {
        candidates.push(dir.join(&name));
        candidates.push(dir.join("lib").join(&name));
        candidates.push(dir.join("../Resources").join(&name));
    }
    if let Some(tree) = source_tree(binary_dir) {
        candidates.push(tree.join("runtime").join(&name));
    }
    candidates
}

/// The source tree this binary was built in, if it runs from that tree's `target/` folder (a
/// development build): then `runtime/` and `models/` of the tree are searched too. An installed
/// copy never looks at the build machine's paths.
pub fn source_tree(binary_dir: Option<&Path>) -> Option<PathBuf> {
    // This crate lives in `crates/inference/` of the tree.
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2)?;
    binary_dir.filter(|dir| dir.starts_with(tree.join("target"))).map(|_| tree.to_path_buf())
}

/// Environment variable naming an extra folder of models, searched first.
pub const MODEL_DIR_ENV: &str = "SIFT_MODEL_DIR";

/// Folders searched for `<name>.onnx`, in order: `$SIFT_MODEL_DIR`; `models/` next to the
/// running binary or in `../Resources/` beside it (bundles); the user's models folder; `models/` of the source tree, for
/// binaries running from its `target/` folder (after `cargo xtask setup`).
pub fn model_dirs(binary_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os(MODEL_DIR_ENV) {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(dir) = binary_dir {
        dirs.push(dir.join("models"));
        dirs.push(dir.join("../Resources/models"));
    }
    if let Some(dir) = user_model_dir() {
        dirs.push(dir);
    }
    if let Some(tree) = source_tree(binary_dir) {
        dirs.push(tree.join("models"));
    }
    dirs
}

/// The environment variables the per-user folders are found from, for messages.
pub const USER_DIR_VARIABLES: &str =
    if cfg!(target_os = "windows") { "LOCALAPPDATA" } else { "HOME (or XDG_DATA_HOME)" };

/// The per-user models folder: `$XDG_DATA_HOME/sift/models` or `~/.local/share/sift/models`
/// (`%LOCALAPPDATA%\Sift\models` on Windows: models and providers are large machine-local
/// files, which Windows keeps out of the roaming profile).
pub fn user_model_dir() -> Option<PathBuf> {
    if cfg!(target_os = "windows") {
        return std::env::var_os("LOCALAPPDATA").map(|d| PathBuf::from(d).join("Sift").join("models"));
    }
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("sift").join("models"))
}

/// Environment variable naming the one providers folder searched (it holds `<name>/` folders);
/// when set, no other folder is, so a user (or a test) decides exactly what is installed.
pub const PROVIDER_DIR_ENV: &str = "SIFT_PROVIDER_DIR";

/// The per-user providers folder: `$XDG_DATA_HOME/sift/providers` or
/// `~/.local/share/sift/providers` (`%LOCALAPPDATA%\Sift\providers` on Windows). Outside any plugin
/// bundle, so every plugin format and the command line share one copy.
pub fn user_provider_dir() -> Option<PathBuf> {
    user_model_dir().and_then(|models| models.parent().map(|sift| sift.join("providers")))
}

/// Folders searched for `<name>/<library>`, in order: `$SIFT_PROVIDER_DIR` alone if set; else `providers/` next
/// to the running binary; the user's providers folder; `target/providers/` of the source tree,
/// for binaries running from its `target/` folder (where `cargo xtask setup --gpu` puts them).
pub fn provider_dirs(binary_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os(PROVIDER_DIR_ENV) {
        return vec![PathBuf::from(dir)];
    }
    if let Some(dir) = binary_dir {
        dirs.push(dir.join("providers"));
    }
    if let Some(dir) = user_provider_dir() {
        dirs.push(dir);
    }
    if let Some(tree) = source_tree(binary_dir) {
        dirs.push(tree.join("target").join("providers"));
    }
    dirs
}
