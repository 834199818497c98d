//! State shared between the audio thread, the worker and the main thread: atomics only.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// How many recent model-run durations are kept for the median and p99.
const RUN_HISTORY: usize = 1024;

/// Flags and counters that the three threads share. Every field is an atomic, so no thread
/// ever waits on another to read or write them.
pub struct Shared {
    /// Set by the main thread to stop the worker.
    pub shutdown: AtomicBool,
    /// Set when the worker thread has ended (shut down, or died): offline waits give up.
    pub worker_exited: AtomicBool,
    /// Set by the worker just before it parks, so the audio thread only wakes it when needed.
    pub worker_parked: AtomicBool,
    /// Raised by the audio thread when the input ring overflowed: the worker must drop its
    /// backlog and start a fresh stream.
    pub reset_requested: AtomicU32,
    /// The last reset the worker has carried out.
    pub reset_done: AtomicU32,
    /// Raised by the audio thread when the host's transport jumped: the worker resets a
    /// streaming model's state before its next run.
    pub state_resets_requested: AtomicU32,
    /// Host blocks in which the worker's output was late (real-time mode only).
    pub deadline_misses: AtomicU64,
    /// Samples the worker was late for.
    pub missed_samples: AtomicU64,
    /// Of those, the samples the audio thread concealed with the last masks (the rest fell
    /// back to the dry signal).
    pub concealed_samples: AtomicU64,
    /// Times the input ring overflowed and the worker was reset.
    pub overflows: AtomicU64,
    /// Model runs completed.
    pub model_runs: AtomicU64,
    /// Models swapped in while running.
    pub model_swaps: AtomicU64,
    /// Model runs that failed (their window went to the residual stem).
    pub model_failures: AtomicU64,
    /// Model runs whose output held NaN or infinite values (those bins went to the residual
    /// stem; [`crate::SeparationCore::gave_unusable_values`]).
    pub unusable_runs: AtomicU64,
    /// Durations of recent model runs in microseconds, a ring indexed by `model_runs`.
    run_micros: [AtomicU32; RUN_HISTORY],
    /// The longest model run so far, in microseconds.
    pub max_run_micros: AtomicU32,
    /// The most recent model run, in microseconds.
    pub last_run_micros: AtomicU32,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            shutdown: AtomicBool::new(false),
            worker_exited: AtomicBool::new(false),
            worker_parked: AtomicBool::new(false),
            reset_requested: AtomicU32::new(0),
            reset_done: AtomicU32::new(0),
            state_resets_requested: AtomicU32::new(0),
            deadline_misses: AtomicU64::new(0),
            missed_samples: AtomicU64::new(0),
            concealed_samples: AtomicU64::new(0),
            overflows: AtomicU64::new(0),
            model_runs: AtomicU64::new(0),
            model_failures: AtomicU64::new(0),
            unusable_runs: AtomicU64::new(0),
            model_swaps: AtomicU64::new(0),
            run_micros: std::array::from_fn(|_| AtomicU32::new(0)),
            max_run_micros: AtomicU32::new(0),
            last_run_micros: AtomicU32::new(0),
        }
    }
}

impl Shared {
    /// Records one model run (worker thread).
    pub fn record_run(&self, micros: u32, failed: bool, unusable: bool) {
        let n = self.model_runs.load(Ordering::Relaxed);
        self.run_micros[n as usize % RUN_HISTORY].store(micros, Ordering::Relaxed);
        self.max_run_micros.fetch_max(micros, Ordering::Relaxed);
        self.last_run_micros.store(micros, Ordering::Relaxed);
        if failed {
            self.model_failures.fetch_add(1, Ordering::Relaxed);
        }
        if unusable {
            self.unusable_runs.fetch_add(1, Ordering::Relaxed);
        }
        self.model_runs.store(n + 1, Ordering::Release);
    }

    /// Durations of the most recent model runs, in microseconds (main thread; allocates).
    pub fn recent_runs(&self) -> Vec<u32> {
        let n = self.model_runs.load(Ordering::Acquire) as usize;
        (n.saturating_sub(RUN_HISTORY)..n).map(|i| self.run_micros[i % RUN_HISTORY].load(Ordering::Relaxed)).collect()
    }
}
