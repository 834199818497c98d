//! Real-time scheduling for the worker thread of a streaming model.
//!
//! A streaming model runs every hop (5.8 ms at 256 samples and 44.1 kHz) and each run must be
//! done within that hop. At normal priority the worker competes with every other thread on the
//! machine (a browser, a build, the host's own GUI), and the OS may keep it waiting for a whole
//! time slice, which is longer than its budget: on a busy two-core machine that is a miss every
//! few seconds. Hosts run their audio threads with real-time scheduling for the same reason.
//!
//! So the engine asks the OS to run the worker of a streaming model in real time, at
//! [`WORKER_PRIORITY`]: above every normally scheduled thread, below any host's audio thread
//! (JACK, PipeWire and the DAWs use 40–95), so the audio thread still preempts it. A streaming
//! model's run takes well under a millisecond, so this takes little from anything else.
//! Windowed models (Spleeter: runs of 50–200 ms against budgets of 100 ms and more) stay at
//! normal priority: a real-time thread computing for 100 ms at a time would freeze the host's
//! GUI on a two-core machine, and their long budgets absorb normal scheduling's delays.
//!
//! On Windows the worker gets the time-critical thread priority instead, the highest of a normal
//! process, which hosts' MMCSS audio threads still preempt.
//!
//! The OS may refuse (an unprivileged user on Linux needs an `rtprio` limit); the engine then
//! runs at normal priority and [`Scheduling::Refused`] says why and what to do, for the
//! editor's status and the CLI's report.

use std::fmt;

/// The worker's real-time priority (`SCHED_FIFO`, 1–99 on Linux): the low end of the range.
pub const WORKER_PRIORITY: i32 = 10;

/// How a thread is scheduled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheduling {
    /// Normal time sharing: real time was not asked for (a windowed model, an offline render).
    Normal,
    /// Real-time first-in-first-out scheduling at this priority (on Windows: a time-critical
    /// thread).
    Realtime {
        /// The `SCHED_FIFO` priority (on Windows: the thread's base priority, 15).
        priority: i32,
    },
    /// Real time was asked for and refused: the thread runs at normal priority.
    Refused {
        /// Why, and what would allow it, in a user's words.
        reason: String,
    },
}

impl Scheduling {
    /// Whether the thread runs in real time.
    pub fn is_realtime(&self) -> bool {
        matches!(self, Scheduling::Realtime { .. })
    }
}

impl fmt::Display for Scheduling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheduling::Normal => f.write_str("normal priority"),
            Scheduling::Realtime { priority } if cfg!(windows) => {
                write!(f, "real-time priority (time-critical thread, base priority {priority})")
            }
            Scheduling::Realtime { priority } => write!(f, "real-time priority (FIFO {priority})"),
            Scheduling::Refused { reason } => write!(f, "normal priority: {reason}"),
        }
    }
}

/// Asks for real-time scheduling of the thread behind `thread` at `priority`.
#[cfg(unix)]
pub fn promote<T>(thread: &std::thread::JoinHandle<T>, priority: i32) -> Scheduling {
    use std::os::unix::thread::JoinHandleExt;
    set_policy(thread.as_pthread_t(), Some(priority))
}

/// Asks for real-time scheduling of the calling thread at `priority` (what a host does for its
/// audio thread; the benchmark's paced renders do it to play the host).
#[cfg(unix)]
pub fn promote_current_thread(priority: i32) -> Scheduling {
    // SAFETY: pthread_self has no preconditions.
    set_policy(unsafe { libc::pthread_self() }, Some(priority))
}

/// Returns the thread behind `thread` to normal scheduling. A thread inherits its creator's
/// policy, so a worker started from a host's real-time thread (some hosts activate plugins
/// there) would otherwise compute a windowed model's long runs in real time.
#[cfg(unix)]
pub fn make_normal<T>(thread: &std::thread::JoinHandle<T>) -> Scheduling {
    use std::os::unix::thread::JoinHandleExt;
    set_policy(thread.as_pthread_t(), None)
}

/// Returns the calling thread to normal scheduling (threads spawned by a real-time thread
/// that must not run in real time, e.g. the benchmark's spinning threads).
#[cfg(unix)]
pub fn make_current_thread_normal() -> Scheduling {
    // SAFETY: pthread_self has no preconditions.
    set_policy(unsafe { libc::pthread_self() }, None)
}

/// `SCHED_FIFO` at `Some(priority)`, `SCHED_OTHER` for `None`.
#[cfg(unix)]
fn set_policy(thread: libc::pthread_t, realtime: Option<i32>) -> Scheduling {
    let (policy, priority) = realtime.map_or((libc::SCHED_OTHER, 0), |priority| (libc::SCHED_FIFO, priority));
    // SAFETY: sched_param is plain data (an int, plus padding fields on some platforms), for
    // which all zeros is a valid value.
    let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
    param.sched_priority = priority;
    // SAFETY: `thread` is a live thread (its handle or the caller itself is held), and `param`
    // outlives the call.
    match unsafe { libc::pthread_setschedparam(thread, policy, &param) } {
        0 if realtime.is_some() => Scheduling::Realtime { priority },
        0 => Scheduling::Normal,
        libc::EPERM => Scheduling::Refused {
            reason: "the system refused real-time scheduling; allow it with an rtprio limit for your user \
                     (e.g. membership of the audio group with /etc/security/limits.d/audio.conf), or the worker \
                     may miss deadlines while the machine is busy"
                .to_owned(),
        },
        code => Scheduling::Refused {
            reason: format!(
                "setting the thread's scheduling failed ({}), so the worker may miss deadlines while the machine is busy",
                std::io::Error::from_raw_os_error(code)
            ),
        },
    }
}

/// Asks for the highest priority Windows gives a thread of a normal process
/// (`THREAD_PRIORITY_TIME_CRITICAL`, 15) for the thread behind `thread`.
///
/// That is above every normally scheduled thread and below the hosts' audio threads, which
/// MMCSS ("Pro Audio") runs in the real-time range (16–31), so the audio thread still preempts
/// the worker, as with `SCHED_FIFO` at [`WORKER_PRIORITY`] on Linux. `priority` is the Linux
/// FIFO priority and has no Windows counterpart.
#[cfg(windows)]
pub fn promote<T>(thread: &std::thread::JoinHandle<T>, _priority: i32) -> Scheduling {
    use std::os::windows::io::AsRawHandle;
    windows_thread::set(thread.as_raw_handle(), true)
}

/// Like [`promote`], for the calling thread.
#[cfg(windows)]
pub fn promote_current_thread(_priority: i32) -> Scheduling {
    // SAFETY: GetCurrentThread has no preconditions; its pseudo handle needs no closing.
    windows_thread::set(unsafe { windows_sys::Win32::System::Threading::GetCurrentThread() }, true)
}

/// Returns the thread behind `thread` to normal priority.
#[cfg(windows)]
pub fn make_normal<T>(thread: &std::thread::JoinHandle<T>) -> Scheduling {
    use std::os::windows::io::AsRawHandle;
    windows_thread::set(thread.as_raw_handle(), false)
}

/// Returns the calling thread to normal priority.
#[cfg(windows)]
pub fn make_current_thread_normal() -> Scheduling {
    // SAFETY: as in promote_current_thread.
    windows_thread::set(unsafe { windows_sys::Win32::System::Threading::GetCurrentThread() }, false)
}

#[cfg(windows)]
mod windows_thread {
    use super::Scheduling;
    use windows_sys::Win32::System::Threading::{
        SetThreadPriority, THREAD_PRIORITY_NORMAL, THREAD_PRIORITY_TIME_CRITICAL,
    };

    /// `THREAD_PRIORITY_TIME_CRITICAL` in a normal-priority process.
    pub(super) const TIME_CRITICAL_BASE: i32 = 15;

    pub(super) fn set(thread: std::os::windows::io::RawHandle, realtime: bool) -> Scheduling {
        let level = if realtime { THREAD_PRIORITY_TIME_CRITICAL } else { THREAD_PRIORITY_NORMAL };
        // SAFETY: `thread` is a live thread's handle (its JoinHandle or the caller's pseudo
        // handle is held for the call).
        if unsafe { SetThreadPriority(thread, level) } == 0 {
            return Scheduling::Refused {
                reason: format!(
                    "Windows refused a higher thread priority ({}), so the worker may miss deadlines while the machine is busy",
                    std::io::Error::last_os_error()
                ),
            };
        }
        if realtime {
            Scheduling::Realtime { priority: TIME_CRITICAL_BASE }
        } else {
            Scheduling::Normal
        }
    }
}

/// Asks for real-time scheduling of the thread behind `thread`: not built on this platform.
#[cfg(not(any(unix, windows)))]
pub fn promote<T>(_thread: &std::thread::JoinHandle<T>, _priority: i32) -> Scheduling {
    unsupported()
}

/// Asks for real-time scheduling of the calling thread: not built on this platform.
#[cfg(not(any(unix, windows)))]
pub fn promote_current_thread(_priority: i32) -> Scheduling {
    unsupported()
}

/// Threads stay as the platform created them: nothing to return to.
#[cfg(not(any(unix, windows)))]
pub fn make_normal<T>(_thread: &std::thread::JoinHandle<T>) -> Scheduling {
    Scheduling::Normal
}

/// Threads stay as the platform created them: nothing to return to.
#[cfg(not(any(unix, windows)))]
pub fn make_current_thread_normal() -> Scheduling {
    Scheduling::Normal
}

#[cfg(not(any(unix, windows)))]
fn unsupported() -> Scheduling {
    Scheduling::Refused { reason: "Sift asks for real-time scheduling only on Linux, macOS and Windows".to_owned() }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The kernel's own view of a thread's policy and priority, independent of the call that
    /// set them.
    fn policy_of(thread: libc::pthread_t) -> (i32, i32) {
        let mut policy = 0;
        // SAFETY: as in promote_pthread.
        let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::pthread_getschedparam(thread, &mut policy, &mut param) }, 0);
        (policy, param.sched_priority)
    }

    #[test]
    fn a_granted_request_is_what_the_kernel_runs_and_a_refused_one_says_why() {
        let handle = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
        let scheduling = promote(&handle, WORKER_PRIORITY);
        use std::os::unix::thread::JoinHandleExt;
        let (policy, priority) = policy_of(handle.as_pthread_t());
        match &scheduling {
            Scheduling::Realtime { priority: asked } => {
                assert_eq!(
                    (policy, priority),
                    (libc::SCHED_FIFO, *asked),
                    "reported real time the kernel does not run"
                );
            }
            Scheduling::Refused { reason } => {
                assert_eq!(policy, libc::SCHED_OTHER, "refused, yet the policy changed");
                assert!(reason.contains("rtprio") || reason.contains("failed"), "{reason}");
            }
            Scheduling::Normal => panic!("a request must be granted or refused"),
        }
        handle.join().unwrap();
        assert!(scheduling.to_string().contains("priority"));
    }

    #[test]
    fn a_thread_started_by_a_realtime_thread_can_be_made_normal() {
        let parent = std::thread::spawn(|| {
            if !promote_current_thread(WORKER_PRIORITY).is_realtime() {
                return None; // not allowed here: nothing to inherit
            }
            let child = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
            use std::os::unix::thread::JoinHandleExt;
            let inherited = policy_of(child.as_pthread_t()).0;
            let made = make_normal(&child);
            let after = policy_of(child.as_pthread_t()).0;
            child.join().unwrap();
            Some((inherited, made, after))
        });
        if let Some((inherited, made, after)) = parent.join().unwrap() {
            assert_eq!(inherited, libc::SCHED_FIFO, "threads inherit their creator's policy");
            assert_eq!((made, after), (Scheduling::Normal, libc::SCHED_OTHER));
        }
    }

    #[test]
    fn an_impossible_priority_is_refused_with_the_system_error() {
        let scheduling = promote_current_thread(1000);
        assert!(matches!(&scheduling, Scheduling::Refused { reason } if reason.contains("failed")), "{scheduling}");
        assert_eq!(policy_of(unsafe { libc::pthread_self() }).0, libc::SCHED_OTHER);
    }
}
