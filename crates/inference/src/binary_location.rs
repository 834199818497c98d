//! Where the running Sift binary is: the `sift` executable, or the plugin library inside a host.
//!
//! Bundles keep the ONNX Runtime library and the models next to the plugin binary, so they must
//! be found from the binary's own location: a host's executable or working directory says
//! nothing about where a plugin is installed.

use std::path::PathBuf;

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
