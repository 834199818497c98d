//! Where the running Sift binary is: the `sift` executable, or the plugin library inside a host.
//!
//! Bundles keep the ONNX Runtime library and the models next to the plugin binary, so they must
//! be found from the binary's own location: a host's executable or working directory says
//! nothing about where a plugin is installed.

use std::path::PathBuf;

/// The folder holding the binary this code was loaded from, with symbolic links resolved.
///
/// On Unix this asks the dynamic loader which object contains this very function, which gives
/// the plugin library's path inside a host and the executable's path otherwise. Links are
/// resolved because on Linux `sift.clap` is a link to the library inside `sift.vst3`, whose
/// runtime and models lie beside the link's target, not beside the link.
pub fn binary_dir() -> Option<PathBuf> {
    let path = binary_path()?;
    std::fs::canonicalize(&path).unwrap_or(path).parent().map(PathBuf::from)
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

#[cfg(not(unix))]
fn binary_path() -> Option<PathBuf> {
    std::env::current_exe().ok()
}
