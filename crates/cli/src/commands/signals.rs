//! Ctrl-C, `kill` and hang-ups: noted, so that a separation stops between blocks and removes
//! its partial files instead of dying with them on the disk.
//!
//! The handler only stores the signal number (all a signal handler may safely do) and puts the
//! default action back, so a second Ctrl-C ends a run that does not stop quickly enough. A file
//! size limit (`ulimit -f`) makes writes fail with an error, like a full disk, instead of
//! killing the process.
//!
//! On Windows a console control handler does the same for Ctrl-C and Ctrl-Break (noted as
//! SIGINT); a second one is passed on to the default handler, which ends the process.

use std::sync::atomic::{AtomicI32, Ordering};

static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Installs the handlers; call once, before any file is written.
#[cfg(not(windows))]
pub fn install() {
    #[cfg(unix)]
    // SAFETY: `on_signal` only stores to an atomic, which is async-signal-safe; the sigaction
    // structure is fully initialised (zeroed, then the fields set).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

#[cfg(windows)]
/// Installs the handler; call once, before any file is written.
pub fn install() {
    // SAFETY: `on_console_event` only touches an atomic; it stays valid for the process's life.
    unsafe {
        windows_sys::Win32::System::Console::SetConsoleCtrlHandler(Some(on_console_event), 1);
    }
}

#[cfg(windows)]
unsafe extern "system" fn on_console_event(event: u32) -> windows_sys::Win32::Foundation::BOOL {
    use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT};
    let first = RECEIVED.load(Ordering::Relaxed) == 0;
    if first && (event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT) {
        RECEIVED.store(2, Ordering::Relaxed);
        1
    } else {
        0
    }
}

#[cfg(unix)]
extern "C" fn on_signal(signal: libc::c_int) {
    RECEIVED.store(signal, Ordering::Relaxed);
}

/// The signal received since [`install`], if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::Relaxed) {
        0 => None,
        signal => Some(signal),
    }
}

/// The error a run returns when a signal stopped it; `main` exits with `128 + signal`.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {}; no stems were written and the partial files are removed", name(*.0))]
pub struct Interrupted(pub i32);

fn name(signal: i32) -> String {
    match signal {
        2 => "Ctrl-C (SIGINT)".to_owned(),
        15 => "SIGTERM".to_owned(),
        1 => "SIGHUP".to_owned(),
        other => format!("signal {other}"),
    }
}

/// Fails with [`Interrupted`] once a signal has arrived.
pub fn check() -> Result<(), Interrupted> {
    received().map_or(Ok(()), |signal| Err(Interrupted(signal)))
}
