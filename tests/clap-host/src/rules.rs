//! The CLAP rules this host enforces, on the plugin and on itself.
//!
//! Every call the plugin makes into the host is checked against the thread and state annotations
//! of the CLAP headers (`clap/host.h`, `clap/ext/*.h`), and every call the host makes into the
//! plugin against the lifecycle of `clap/plugin.h`. A broken rule is recorded as a
//! [`Violation`], never a panic inside a callback (that would unwind into the plugin's C frames
//! and abort). [`TestPlugin`](crate::TestPlugin) fails the test when it is dropped with a
//! violation recorded, so no test can forget the check; `assert_no_violations` checks earlier.
//!
//! **Threads.** The main thread is the OS thread that created the instance (a `TestPlugin`
//! cannot leave it). The audio thread is symbolic, as `clap/ext/thread-check.h` describes it:
//! the OS thread inside one of the host's `[audio-thread]` calls (`start_processing`,
//! `process`, `stop_processing`, `params.flush` while active) *is* the audio thread for
//! that call's duration, and only one thread may be at a time. A host may make its main thread
//! the audio thread, as this one does when a test processes on the thread that created the
//! instance; for that time it is not the main thread. So a `[main-thread]` callback made from
//! inside `process()` is a violation however a test lays out its threads, exactly as it would be
//! in a host whose audio thread is another OS thread, and the thread-check extension
//! (`is_main_thread` / `is_audio_thread`) answers the same way.
//!
//! **Rules on the plugin** (its calls into the host):
//!
//! | callback | rule |
//! | --- | --- |
//! | `clap_host_latency.changed` | `[main-thread & being-activated]`: only inside `activate()`; while active the plugin calls `request_restart()` and reports the new latency from the next `activate()` |
//! | `clap_host_params.rescan` | `[main-thread]`; `CLAP_PARAM_RESCAN_ALL` only while deactivated |
//! | `clap_host_params.clear` | `[main-thread]` |
//! | `clap_host_params.request_flush` | `[thread-safe, !audio-thread]` |
//! | `clap_host_state.mark_dirty` | `[main-thread]` |
//! | `clap_host_gui.resize_hints_changed`, `request_resize` | `[thread-safe & !floating]` |
//! | `clap_host_gui.request_show`, `request_hide`, `closed` | `[thread-safe]` |
//! | `clap_host.request_restart`, `request_process`, `request_callback` | `[thread-safe]` |
//! | `clap_host_log.log`, `clap_host_thread_check.*` | `[thread-safe]` |
//! | `clap_plugin_latency.get` (the plugin's answer) | the same from one `activate()` to the next: "the latency is only allowed to change during plugin->activate" (the host reads it after every activation and between blocks) |
//!
//! **Rules on the host** (its calls into the plugin; a violation here is a bug in this host):
//! `activate` `[main-thread & !active]`; `deactivate` `[main-thread & active]`, not processing;
//! `start_processing` `[audio-thread & active & !processing]`; `stop_processing`
//! `[audio-thread & active & processing]`; `process` `[audio-thread & active & processing]`; `on_main_thread` `[main-thread]`; `params.flush`
//! `[active ? audio-thread : main-thread]`; `latency.get` `[main-thread & (being-activated |
//! active)]`; the audio-ports scan `[main-thread]` while deactivated; every other plugin call
//! (parameters, state, render mode, editor) `[main-thread]`; never two audio threads at once.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

/// Where the instance is in its lifecycle, as the host drives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Lifecycle {
    /// Initialised, not active.
    Inactive = 0,
    /// Inside `clap_plugin.activate()`.
    Activating = 1,
    /// Active, not processing.
    Active = 2,
    /// Between `start_processing()` and `stop_processing()`.
    Processing = 3,
    /// Inside `clap_plugin.deactivate()`.
    Deactivating = 4,
}

impl Lifecycle {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Inactive,
            1 => Self::Activating,
            2 => Self::Active,
            3 => Self::Processing,
            _ => Self::Deactivating,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Self::Inactive => "while deactivated",
            Self::Activating => "while being activated",
            Self::Active => "while active (not processing)",
            Self::Processing => "while active and processing",
            Self::Deactivating => "while being deactivated",
        }
    }
}

/// Who broke a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    /// The plugin, in a call into the host.
    Plugin,
    /// This host, in a call into the plugin (a bug in the test host).
    Host,
}

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub by: Party,
    /// The function called, e.g. `clap_host_latency.changed()`.
    pub function: &'static str,
    /// The rule, as the CLAP headers annotate it, e.g. `[main-thread & being-activated]`.
    pub rule: &'static str,
    /// The thread it was called on, e.g. `the audio thread (inside clap_plugin.process)`.
    pub thread: String,
    /// The instance's lifecycle state at the time.
    pub state: Lifecycle,
    /// What the host saw, where the rule is about values (the first occurrence's).
    pub detail: String,
    /// How many times this same call broke this rule on this thread in this state.
    pub count: usize,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.by {
            // A rule on what the plugin answers to one of the host's calls.
            Party::Plugin if self.function.starts_with("clap_plugin") => "the plugin answered",
            Party::Plugin => "the plugin called",
            Party::Host => "the HOST called",
        };
        write!(f, "{who} {} on {} {}, against the rule {}", self.function, self.thread, self.state.words(), self.rule)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        if self.count > 1 {
            write!(f, " ({} times)", self.count)?;
        }
        Ok(())
    }
}

/// Which thread a host call into the plugin belongs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Thread {
    Main,
    Audio,
}

/// A call the host makes into the plugin, with its CLAP rule.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HostCall {
    pub function: &'static str,
    pub rule: &'static str,
    pub thread: Thread,
    /// The states it may be made in.
    pub states: &'static [Lifecycle],
    /// The state while it runs, if it differs from the one it starts in.
    pub during: Option<Lifecycle>,
}

use Lifecycle::*;

const ANY: &[Lifecycle] = &[Inactive, Activating, Active, Processing, Deactivating];
const ACTIVE: &[Lifecycle] = &[Active, Processing];

impl HostCall {
    pub const ACTIVATE: Self = Self {
        function: "clap_plugin.activate()",
        rule: "[main-thread & !active]",
        thread: Thread::Main,
        states: &[Inactive],
        during: Some(Activating),
    };
    pub const DEACTIVATE: Self = Self {
        function: "clap_plugin.deactivate()",
        rule: "[main-thread & active], not processing",
        thread: Thread::Main,
        states: &[Active],
        during: Some(Deactivating),
    };
    pub const START_PROCESSING: Self = Self {
        function: "clap_plugin.start_processing()",
        rule: "[audio-thread & active & !processing]",
        thread: Thread::Audio,
        states: &[Active],
        during: None,
    };
    pub const STOP_PROCESSING: Self = Self {
        function: "clap_plugin.stop_processing()",
        rule: "[audio-thread & active & processing]",
        thread: Thread::Audio,
        states: &[Processing],
        during: None,
    };
    pub const PROCESS: Self = Self {
        function: "clap_plugin.process()",
        rule: "[audio-thread & active & processing]",
        thread: Thread::Audio,
        states: &[Processing],
        during: None,
    };
    pub const RESET: Self = Self {
        function: "clap_plugin.reset()",
        rule: "[audio-thread & active]",
        thread: Thread::Audio,
        states: ACTIVE,
        during: None,
    };
    pub const ON_MAIN_THREAD: Self = Self {
        function: "clap_plugin.on_main_thread()",
        rule: "[main-thread]",
        thread: Thread::Main,
        states: ANY,
        during: None,
    };
    pub const PARAMS_FLUSH: Self = Self {
        function: "clap_plugin_params.flush()",
        rule: "[active ? audio-thread : main-thread]",
        thread: Thread::Main,
        states: &[Inactive],
        during: None,
    };
    pub const PARAMS_FLUSH_ACTIVE: Self = Self {
        function: "clap_plugin_params.flush()",
        rule: "[active ? audio-thread : main-thread], not concurrently with process()",
        thread: Thread::Audio,
        states: ACTIVE,
        during: None,
    };
    pub const LATENCY_GET: Self = Self {
        function: "clap_plugin_latency.get()",
        rule: "[main-thread & (being-activated | active)]",
        thread: Thread::Main,
        states: &[Activating, Active, Processing],
        during: None,
    };
    pub const AUDIO_PORTS: Self = Self {
        function: "clap_plugin_audio_ports.count()/get()",
        rule: "[main-thread], scanned while deactivated",
        thread: Thread::Main,
        states: &[Inactive],
        during: None,
    };

    /// Any other `[main-thread]` call (parameters, state, render mode, editor).
    pub const fn main_thread(function: &'static str) -> Self {
        Self { function, rule: "[main-thread]", thread: Thread::Main, states: ANY, during: None }
    }
}

/// How many violations of one kind are kept apart (a plugin may break a rule every block).
const MAX_KINDS: usize = 64;

/// The host's threads, the instance's lifecycle state, and the violations recorded.
pub struct Rules {
    /// The token of the main thread (see [`thread_token`]).
    main: u64,
    /// The token of the thread now acting as the audio thread, 0 for none.
    audio: AtomicU64,
    state: AtomicU8,
    /// Whether the editor was created floating (`gui.create(.., is_floating)`), 0 none, 1
    /// embedded, 2 floating.
    gui: AtomicU8,
    violations: Mutex<Vec<Violation>>,
}

thread_local! {
    static TOKEN: Cell<u64> = const { Cell::new(0) };
    /// The host call this thread is inside, innermost.
    static CALL: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// A number for the calling OS thread, unique in this process, never 0 (what `ThreadId` is, but
/// readable without allocating and storable in an atomic).
fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    TOKEN.with(|t| {
        if t.get() == 0 {
            t.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    })
}

impl Default for Rules {
    fn default() -> Self {
        Self::new()
    }
}

impl Rules {
    /// Rules for an instance whose main thread is the calling thread.
    pub fn new() -> Self {
        Self {
            main: thread_token(),
            audio: AtomicU64::new(0),
            state: AtomicU8::new(Inactive as u8),
            gui: AtomicU8::new(0),
            violations: Mutex::new(Vec::new()),
        }
    }

    /// The lifecycle state now.
    pub fn state(&self) -> Lifecycle {
        Lifecycle::from_u8(self.state.load(Ordering::SeqCst))
    }

    pub(crate) fn set_state(&self, state: Lifecycle) {
        self.state.store(state as u8, Ordering::SeqCst);
    }

    /// `clap_host_thread_check.is_main_thread()`: the main OS thread, unless it is acting as
    /// the audio thread now.
    pub fn is_main_thread(&self) -> bool {
        let me = thread_token();
        me == self.main && self.audio.load(Ordering::SeqCst) != me
    }

    /// `clap_host_thread_check.is_audio_thread()`: the thread inside an `[audio-thread]` call.
    pub fn is_audio_thread(&self) -> bool {
        self.audio.load(Ordering::SeqCst) == thread_token()
    }

    /// The calling thread, in words.
    pub fn describe_thread(&self) -> String {
        let role = if self.is_audio_thread() {
            "the audio thread".to_owned()
        } else if thread_token() == self.main {
            "the main thread".to_owned()
        } else {
            let current = std::thread::current();
            format!("another thread ({:?}, neither main nor audio)", current.name().unwrap_or("unnamed"))
        };
        match CALL.with(Cell::get) {
            Some(call) => format!("{role} (inside {call})"),
            None => role,
        }
    }

    /// Records a violation (merging it with an identical one).
    pub(crate) fn record(&self, by: Party, function: &'static str, rule: &'static str) {
        self.record_detail(by, function, rule, String::new());
    }

    /// Records a violation with what the host saw (merging it with an identical one).
    pub(crate) fn record_detail(&self, by: Party, function: &'static str, rule: &'static str, detail: String) {
        let thread = self.describe_thread();
        let state = self.state();
        let mut list = self.violations.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(same) =
            list.iter_mut().find(|v| v.by == by && v.function == function && v.thread == thread && v.state == state)
        {
            same.count += 1;
        } else if list.len() < MAX_KINDS {
            list.push(Violation { by, function, rule, thread, state, detail, count: 1 });
        }
    }

    /// Every violation so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.violations.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Every violation so far, forgetting them.
    pub fn take_violations(&self) -> Vec<Violation> {
        std::mem::take(&mut *self.violations.lock().unwrap_or_else(|p| p.into_inner()))
    }

    // --- the plugin's calls into the host ------------------------------------------------

    /// A `[main-thread]` callback.
    pub(crate) fn plugin_on_main_thread(&self, function: &'static str) {
        if !self.is_main_thread() {
            self.record(Party::Plugin, function, "[main-thread]");
        }
    }

    /// `clap_host_latency.changed()`: `[main-thread & being-activated]`.
    pub(crate) fn latency_changed(&self) {
        if !self.is_main_thread() || self.state() != Activating {
            self.record(Party::Plugin, "clap_host_latency.changed()", "[main-thread & being-activated] (while active the plugin must call request_restart() and report the new latency from the next activate())");
        }
    }

    /// `clap_plugin_latency.get()` answered `now` while active, `at_activation` right after
    /// the activation: the latency may change only inside `activate()`.
    pub(crate) fn latency_read(&self, at_activation: u32, now: u32) {
        if now != at_activation && matches!(self.state(), Active | Processing) {
            self.record_detail(
                Party::Plugin,
                "clap_plugin_latency.get()",
                "\"the latency is only allowed to change during plugin->activate\" (clap/ext/latency.h)",
                format!(
                    "it reported {at_activation} samples after activate() and {now} now, with no activate() in between"
                ),
            );
        }
    }

    /// `clap_host_params.rescan()`: `[main-thread]`, and `CLAP_PARAM_RESCAN_ALL` only while
    /// deactivated.
    pub(crate) fn params_rescan(&self, all: bool) {
        self.plugin_on_main_thread("clap_host_params.rescan()");
        if all && self.state() != Inactive {
            self.record(
                Party::Plugin,
                "clap_host_params.rescan(CLAP_PARAM_RESCAN_ALL)",
                "CLAP_PARAM_RESCAN_ALL only while the plugin is deactivated (else request_restart())",
            );
        }
    }

    /// `clap_host_params.request_flush()`: `[thread-safe, !audio-thread]`.
    pub(crate) fn params_request_flush(&self) {
        if self.is_audio_thread() {
            self.record(Party::Plugin, "clap_host_params.request_flush()", "[thread-safe, !audio-thread]");
        }
    }

    /// `clap_host_gui.resize_hints_changed()` / `request_resize()`: `[thread-safe & !floating]`.
    pub(crate) fn gui_not_floating(&self, function: &'static str) {
        if self.gui.load(Ordering::SeqCst) == 2 {
            self.record(Party::Plugin, function, "[thread-safe & !floating]");
        }
    }

    /// The editor was created (`floating` or embedded), or destroyed (`None`).
    #[cfg(any(target_os = "linux", windows))] // only the editor opens one, on Linux and Windows (lib.rs)
    pub(crate) fn set_gui(&self, floating: Option<bool>) {
        self.gui.store(floating.map_or(0, |f| 1 + f as u8), Ordering::SeqCst);
    }

    // --- the host's calls into the plugin ------------------------------------------------

    /// Checks that the host may make `call` now and marks the calling thread for its duration
    /// (the audio thread for an `[audio-thread]` call). Call [`CallScope::ends_in`] to move to
    /// the state the call leads to.
    pub(crate) fn call(&self, call: HostCall) -> CallScope<'_> {
        let me = thread_token();
        let mut took_audio = false;
        match call.thread {
            Thread::Main => {
                if !self.is_main_thread() {
                    self.record(Party::Host, call.function, call.rule);
                }
            }
            Thread::Audio => match self.audio.compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => took_audio = true,
                Err(other) if other == me => {}
                Err(_) => {
                    self.record(Party::Host, call.function, "one audio thread at a time (clap/ext/thread-check.h)")
                }
            },
        }
        if !call.states.contains(&self.state()) {
            self.record(Party::Host, call.function, call.rule);
        }
        if let Some(during) = call.during {
            self.set_state(during);
        }
        let outer = CALL.with(|c| c.replace(Some(call.function)));
        CallScope { rules: self, outer, took_audio, me }
    }
}

/// A host call in progress (see [`Rules::call`]); restores the thread's marks when dropped.
pub(crate) struct CallScope<'a> {
    rules: &'a Rules,
    outer: Option<&'static str>,
    took_audio: bool,
    me: u64,
}

impl CallScope<'_> {
    /// The call is over and left the instance in `state`.
    pub fn ends_in(self, state: Lifecycle) {
        self.rules.set_state(state);
    }
}

impl Drop for CallScope<'_> {
    fn drop(&mut self) {
        CALL.with(|c| c.set(self.outer));
        if self.took_audio {
            let _ = self.rules.audio.compare_exchange(self.me, 0, Ordering::SeqCst, Ordering::SeqCst);
        }
    }
}

/// The violations as a numbered list, one a line.
pub fn list(violations: &[Violation]) -> String {
    violations.iter().enumerate().map(|(i, v)| format!("  {}. {v}", i + 1)).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_changed_only_on_the_main_thread_while_being_activated() {
        let rules = Rules::new();
        // Inside activate(), on the main thread: fine.
        let scope = rules.call(HostCall::ACTIVATE);
        rules.latency_changed();
        scope.ends_in(Active);
        assert_eq!(rules.violations(), vec![]);
        // While active, on the main thread: not allowed.
        rules.latency_changed();
        // From inside process(), which this host runs on its main thread here: the main thread
        // is the audio thread for the call, so not the main thread.
        let scope = rules.call(HostCall::START_PROCESSING);
        scope.ends_in(Processing);
        {
            let _process = rules.call(HostCall::PROCESS);
            assert!(rules.is_audio_thread() && !rules.is_main_thread());
            rules.latency_changed();
            rules.latency_changed();
        }
        assert!(rules.is_main_thread() && !rules.is_audio_thread());
        let v = rules.take_violations();
        assert_eq!(v.len(), 2, "{}", list(&v));
        assert_eq!((v[0].state, v[0].thread.as_str(), v[0].count), (Active, "the main thread", 1));
        assert_eq!(
            (v[1].state, v[1].thread.as_str(), v[1].count),
            (Processing, "the audio thread (inside clap_plugin.process())", 2)
        );
        assert!(
            v[1].to_string().contains(
                "the plugin called clap_host_latency.changed() on the audio thread (inside clap_plugin.process())"
            ),
            "{}",
            v[1]
        );
    }

    #[test]
    fn thread_safe_but_not_audio_and_main_thread_only() {
        let rules = Rules::new();
        rules.params_request_flush();
        rules.plugin_on_main_thread("clap_host_state.mark_dirty()");
        assert_eq!(rules.violations(), vec![]);
        // Another OS thread: request_flush is fine there, mark_dirty is not.
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(!rules.is_main_thread() && !rules.is_audio_thread());
                rules.params_request_flush();
                rules.plugin_on_main_thread("clap_host_state.mark_dirty()");
            });
        });
        let v = rules.take_violations();
        assert_eq!(v.len(), 1, "{}", list(&v));
        assert!(v[0].thread.starts_with("another thread"), "{}", v[0]);
        // An audio thread of its own, as when a test moves the audio side to another thread.
        rules.set_state(Processing);
        std::thread::scope(|s| {
            s.spawn(|| {
                let _process = rules.call(HostCall::PROCESS);
                rules.params_request_flush();
                rules.params_rescan(false);
            });
        });
        let v = rules.take_violations();
        assert_eq!(
            v.iter().map(|v| v.function).collect::<Vec<_>>(),
            ["clap_host_params.request_flush()", "clap_host_params.rescan()"],
            "{}",
            list(&v)
        );
        // RESCAN_ALL while active, from the main thread.
        rules.params_rescan(true);
        assert_eq!(rules.take_violations().len(), 1);
    }

    #[test]
    fn latency_changes_only_in_activate() {
        let rules = Rules::new();
        rules.set_state(Processing);
        rules.latency_read(27_647, 27_647);
        assert_eq!(rules.violations(), vec![]);
        rules.latency_read(27_647, 13_311);
        let v = rules.take_violations();
        assert_eq!(v.len(), 1);
        assert!(v[0].to_string().contains("it reported 27647 samples after activate() and 13311 now"), "{}", v[0]);
    }

    #[test]
    fn host_lifecycle() {
        let rules = Rules::new();
        // process() before start_processing(), and deactivate() while processing.
        rules.set_state(Active);
        drop(rules.call(HostCall::PROCESS));
        rules.set_state(Processing);
        rules.call(HostCall::DEACTIVATE).ends_in(Inactive);
        // activate() from another thread.
        std::thread::scope(|s| {
            s.spawn(|| rules.call(HostCall::ACTIVATE).ends_in(Active));
        });
        let v = rules.take_violations();
        assert_eq!(v.len(), 3, "{}", list(&v));
        assert!(v.iter().all(|v| v.by == Party::Host));
        // Two audio threads at once.
        rules.set_state(Processing);
        let _first = rules.call(HostCall::PROCESS);
        std::thread::scope(|s| {
            s.spawn(|| drop(rules.call(HostCall::PROCESS)));
        });
        assert_eq!(rules.take_violations().len(), 1);
    }
}
