//! A small CLAP test host, built on `clack-host`, for driving the built Sift bundle.
//!
//! - [`plugin_path`] / [`load_bundle`]: the bundle (`$SIFT_CLAP`, else `target/bundled/sift.clap`);
//!   missing → a panic that says what to build.
//! - [`TestPlugin`]: one instance: audio-ports, latency, params, state and render extensions,
//!   activation, and block processing with sample-accurate parameter events.
//! - [`TestPlugin::render`]: runs a whole signal through in blocks of given sizes and collects
//!   every output port.
//! - [`read_wav`], [`eval_mixture`]: real audio.
//! - [`rules`]: the CLAP thread and lifecycle rules the host enforces. Every violation is
//!   recorded, and a [`TestPlugin`] dropped with one recorded fails the test.
//!
//! The main thread is the thread that created the instance. Processing happens there too unless
//! a test moves the audio side to a thread of its own ([`TestPlugin::take_audio`]); either way
//! the thread inside `process()` is the audio thread for that call and not the main thread (the
//! thread-check extension says so), so the plugin's main-thread work goes through
//! `request_callback`, which [`TestPlugin::pump`] honours between blocks, as does
//! `request_restart` (the host deactivates and re-activates the plugin and reads its latency).

use std::ffi::CString;
use std::io::Cursor;
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use clack_extensions::audio_ports::{AudioPortFlags, AudioPortInfoBuffer, PluginAudioPorts};
use clack_extensions::gui::{GuiSize, HostGui, HostGuiImpl, PluginGui};
use clack_extensions::latency::{HostLatency, HostLatencyImpl, PluginLatency};
use clack_extensions::log::{HostLog, HostLogImpl, LogSeverity};
use clack_extensions::params::{
    HostParams, HostParamsImplMainThread, HostParamsImplShared, ParamClearFlags, ParamInfoBuffer, ParamInfoFlags,
    ParamRescanFlags, PluginParams,
};
use clack_extensions::render::{PluginRender, RenderMode};
use clack_extensions::state::{HostState, HostStateImpl, PluginState};
use clack_extensions::thread_check::{HostThreadCheck, HostThreadCheckImpl};
use clack_host::events::event_types::ParamValueEvent;
use clack_host::events::spaces::CoreEventSpace;
use clack_host::prelude::*;

pub use clack_host::prelude::ClapId;
pub use sift_test_support::{eval_dir, repo_root, Rng, BUSES};

// The editor's host window is an X11 one (Xvfb, with screenshots) on Linux and a Win32 one on
// Windows (`win32`), where `cargo xtask test` runs the rest of the host's tests under Wine and
// reads the editor's picture from Wine's X windows on Linux (`tests/editor.rs`). The leak tests'
// process figures (`/proc`, glibc's allocator) are Linux's.
#[cfg(target_os = "linux")]
mod display;
#[cfg(any(target_os = "linux", windows))]
mod editor;
#[cfg(target_os = "linux")]
mod process;
pub mod rules;
#[cfg(windows)]
mod win32;

#[cfg(target_os = "linux")]
pub use display::{virtual_display, HostWindow, Screen, ScreenWindow, Screenshot};
#[cfg(any(target_os = "linux", windows))]
pub use editor::EditorOpen;
#[cfg(target_os = "linux")]
pub use process::{live_heap_mib, resident_mib, thread_count};
pub use rules::{Lifecycle, Party, Violation};
#[cfg(windows)]
pub use win32::HostWindow;

use rules::{HostCall, Rules};

/// The CLAP id of the plugin with the five stem buses.
pub const SIFT_ID: &str = "audio.sift.stems";
/// The CLAP id of the one-output plugin.
pub const SIFT_SINGLE_ID: &str = "audio.sift.single";

/// The plugin file: `$SIFT_CLAP`, else `<repo>/target/bundled/sift.clap`.
pub fn plugin_path() -> PathBuf {
    sift_test_support::path_from_env_or("SIFT_CLAP", "target/bundled/sift.clap")
}

/// Loads the bundle once per process. Panics, saying what to build, if it is missing.
pub fn load_bundle() -> &'static PluginEntry {
    static ENTRY: OnceLock<PluginEntry> = OnceLock::new();
    ENTRY.get_or_init(|| {
        let path = plugin_path();
        assert!(
            path.is_file(),
            "CLAP plugin not found at {}: build it with `cargo xtask bundle sift --release` \
             (or set SIFT_CLAP to a built plugin, e.g. target/release/libsift.so)",
            path.display()
        );
        // SAFETY: loading a CLAP bundle runs its initialisers; that is what we are testing.
        unsafe { PluginEntry::load(&path) }
            .unwrap_or_else(|e| panic!("cannot load CLAP plugin {}: {e:?}", path.display()))
    })
}

/// The plugin ids the bundle's factory lists.
pub fn plugin_ids() -> Vec<String> {
    let factory = load_bundle().get_plugin_factory().expect("bundle has no plugin factory");
    factory.plugin_descriptors().filter_map(|d| d.id().map(|id| id.to_string_lossy().into_owned())).collect()
}

// ---------------------------------------------------------------------------------------------
// Host handlers

/// The host handler types.
pub struct TestHost;

/// Extensions the plugin offers, queried while it initialises.
#[derive(Clone, Copy, Default)]
pub struct PluginExtensions {
    pub audio_ports: Option<PluginAudioPorts>,
    pub latency: Option<PluginLatency>,
    pub params: Option<PluginParams>,
    pub state: Option<PluginState>,
    pub render: Option<PluginRender>,
    pub gui: Option<PluginGui>,
}

/// Thread-safe host state: requests from the plugin, its log, and the rules it is held to.
pub struct Shared {
    /// Pending `request_restart` (cleared by the next activation).
    pub restart_requested: AtomicBool,
    /// Every `request_restart` call so far.
    pub restart_requests: AtomicU32,
    pub process_requested: AtomicBool,
    pub callback_requested: AtomicBool,
    pub flush_requested: AtomicBool,
    /// Every `latency.changed()` call so far.
    pub latency_changed: AtomicU32,
    pub params_rescanned: AtomicU32,
    pub state_dirty: AtomicBool,
    /// The last size the editor asked the host for (`gui.request_resize`), `(width, height)`.
    pub resize_requested: Mutex<Option<(u32, u32)>>,
    pub log: Mutex<Vec<(String, String)>>,
    rules: Arc<Rules>,
    extensions: OnceLock<PluginExtensions>,
}

impl Shared {
    fn new(rules: Arc<Rules>) -> Self {
        Self {
            restart_requested: AtomicBool::new(false),
            restart_requests: AtomicU32::new(0),
            process_requested: AtomicBool::new(false),
            callback_requested: AtomicBool::new(false),
            flush_requested: AtomicBool::new(false),
            latency_changed: AtomicU32::new(0),
            params_rescanned: AtomicU32::new(0),
            state_dirty: AtomicBool::new(false),
            resize_requested: Mutex::new(None),
            log: Mutex::new(Vec::new()),
            rules,
            extensions: OnceLock::new(),
        }
    }

    /// Every message the plugin logged so far, as `(severity, message)`.
    pub fn log_lines(&self) -> Vec<(String, String)> {
        self.log.lock().unwrap().clone()
    }

    /// The rules the plugin is held to, and what it broke.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }
}

// `request_restart`, `request_process` and `request_callback` are [thread-safe]: fine from any
// thread in any state.
impl<'a> SharedHandler<'a> for Shared {
    fn initializing(&self, instance: InitializingPluginHandle<'a>) {
        let _ = self.extensions.set(PluginExtensions {
            audio_ports: instance.get_extension(),
            latency: instance.get_extension(),
            params: instance.get_extension(),
            state: instance.get_extension(),
            render: instance.get_extension(),
            gui: instance.get_extension(),
        });
    }
    fn request_restart(&self) {
        self.restart_requests.fetch_add(1, Ordering::SeqCst);
        self.restart_requested.store(true, Ordering::SeqCst);
    }
    fn request_process(&self) {
        self.process_requested.store(true, Ordering::SeqCst);
    }
    fn request_callback(&self) {
        self.callback_requested.store(true, Ordering::SeqCst);
    }
}

impl HostThreadCheckImpl for Shared {
    fn is_main_thread(&self) -> bool {
        self.rules.is_main_thread()
    }
    fn is_audio_thread(&self) -> bool {
        self.rules.is_audio_thread()
    }
}

impl HostLogImpl for Shared {
    fn log(&self, severity: LogSeverity, message: &str) {
        let severity = format!("{severity:?}");
        if std::env::var_os("SIFT_CLAP_HOST_QUIET").is_none() {
            eprintln!("[plugin {severity}] {message}");
        }
        self.log.lock().unwrap().push((severity, message.to_owned()));
    }
}

impl HostGuiImpl for Shared {
    fn resize_hints_changed(&self) {
        self.rules.gui_not_floating("clap_host_gui.resize_hints_changed()");
    }
    fn request_resize(&self, new_size: GuiSize) -> Result<(), HostError> {
        self.rules.gui_not_floating("clap_host_gui.request_resize()");
        *self.resize_requested.lock().unwrap() = Some((new_size.width, new_size.height));
        Ok(())
    }
    fn request_show(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn request_hide(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn closed(&self, _was_destroyed: bool) {}
}

impl HostParamsImplShared for Shared {
    fn request_flush(&self) {
        self.rules.params_request_flush();
        self.flush_requested.store(true, Ordering::SeqCst);
    }
}

/// Main-thread host state. clack calls these callbacks on whatever thread the plugin calls
/// them from: each checks it is the main thread.
pub struct MainThread<'a> {
    shared: &'a Shared,
}

impl<'a> MainThreadHandler<'a> for MainThread<'a> {}

impl HostLatencyImpl for MainThread<'_> {
    fn changed(&self) {
        self.shared.rules.latency_changed();
        self.shared.latency_changed.fetch_add(1, Ordering::SeqCst);
    }
}

impl HostParamsImplMainThread for MainThread<'_> {
    fn rescan(&self, flags: ParamRescanFlags) {
        self.shared.rules.params_rescan(flags.contains(ParamRescanFlags::ALL));
        self.shared.params_rescanned.fetch_add(1, Ordering::SeqCst);
    }
    fn clear(&self, _param_id: ClapId, _flags: ParamClearFlags) {
        self.shared.rules.plugin_on_main_thread("clap_host_params.clear()");
    }
}

impl HostStateImpl for MainThread<'_> {
    fn mark_dirty(&self) {
        self.shared.rules.plugin_on_main_thread("clap_host_state.mark_dirty()");
        self.shared.state_dirty.store(true, Ordering::SeqCst);
    }
}

impl HostHandlers for TestHost {
    type Shared<'a> = Shared;
    type MainThread<'a> = MainThread<'a>;
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder
            .register::<HostLog>()
            .register::<HostThreadCheck>()
            .register::<HostLatency>()
            .register::<HostParams>()
            .register::<HostState>()
            .register::<HostGui>();
    }
}

// ---------------------------------------------------------------------------------------------
// Instance

/// What the audio-ports extension says about one port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortInfo {
    pub id: u32,
    pub name: String,
    pub channels: u32,
    pub is_main: bool,
    pub port_type: Option<String>,
    pub in_place_pair: Option<u32>,
}

/// What the params extension says about one parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDesc {
    pub id: ClapId,
    pub name: String,
    pub module: String,
    pub min: f64,
    pub max: f64,
    pub default: f64,
    pub stepped: bool,
    pub automatable: bool,
    pub bypass: bool,
}

/// A parameter change at a sample offset (absolute, from the start of a render, or within a
/// block for [`TestPlugin::process_block`]).
#[derive(Clone, Copy, Debug)]
pub struct ParamChange {
    pub time: u64,
    pub id: ClapId,
    pub value: f64,
}

/// Every output port's channels after a render: `ports[port][channel][sample]`.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    pub ports: Vec<Vec<Vec<f32>>>,
}

impl Rendered {
    /// Port 0, the main output.
    pub fn main(&self) -> &[Vec<f32>] {
        &self.ports[0]
    }
}

/// How activation is configured.
#[derive(Clone, Copy, Debug)]
pub struct Activation {
    pub sample_rate: f64,
    pub min_block: u32,
    pub max_block: u32,
}

/// What the host saw when it restarted the plugin on the plugin's request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restart {
    /// The latency the plugin reported after the new activation.
    pub latency: Option<u32>,
    /// The plugin asked while being activated (from inside `activate()` or the `on_main_thread`
    /// right after it), and the host restarted it at once, before processing started; else it
    /// asked while processing and the host restarted it between blocks.
    pub before_processing: bool,
}

/// One plugin instance and, while active, its audio processor.
///
/// Dropping it deactivates and destroys the instance, then fails the test (panics) if the
/// plugin or the host broke a CLAP rule on the way ([`rules`]).
pub struct TestPlugin {
    // The processor must go before the instance (see `Drop`).
    audio: Option<AudioSide>,
    instance: ManuallyDrop<PluginInstance<TestHost>>,
    rules: Arc<Rules>,
    id: String,
    activation: Option<Activation>,
    /// The latency the host read after the last activation.
    host_latency: Option<u32>,
    restarts: Vec<Restart>,
    /// Why the last restart the host attempted failed, if it did.
    restart_error: Option<String>,
    /// Output channel counts per port, and input channels of the main port, from audio-ports.
    out_channels: Vec<u32>,
    in_channels: Vec<u32>,
}

impl TestPlugin {
    /// Creates an instance of plugin `id` from the bundle. The calling thread is its main thread.
    pub fn new(id: &str) -> Result<Self, String> {
        let entry = load_bundle();
        let host_info = HostInfo::new("Sift CLAP test host", "Sift", "https://example.invalid", "0.1.0").unwrap();
        let id_c = CString::new(id).unwrap();
        let rules = Arc::new(Rules::new());
        let shared_rules = rules.clone();
        let instance = PluginInstance::<TestHost>::new(
            |_| Shared::new(shared_rules),
            |shared| MainThread { shared },
            entry,
            &id_c,
            &host_info,
        )
        .map_err(|e| format!("cannot create plugin {id}: {e:?}"))?;
        let mut plugin = Self {
            audio: None,
            instance: ManuallyDrop::new(instance),
            rules,
            id: id.to_owned(),
            activation: None,
            host_latency: None,
            restarts: Vec::new(),
            restart_error: None,
            out_channels: Vec::new(),
            in_channels: Vec::new(),
        };
        let (inputs, outputs) = plugin.audio_ports();
        plugin.in_channels = inputs.iter().map(|p| p.channels).collect();
        plugin.out_channels = outputs.iter().map(|p| p.channels).collect();
        Ok(plugin)
    }

    /// The `Sift` plugin; panics if it cannot be created.
    pub fn sift() -> Self {
        Self::new(SIFT_ID).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The plugin's CLAP id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn ext(&self) -> PluginExtensions {
        self.instance.access_shared_handler(|s| s.extensions.get().copied().unwrap_or_default())
    }

    /// Runs `f` with the host's shared state.
    pub fn shared<R>(&self, f: impl FnOnce(&Shared) -> R) -> R {
        self.instance.access_shared_handler(f)
    }

    // --- rules ---------------------------------------------------------------------------

    /// Every CLAP rule broken so far (see [`rules`]).
    pub fn violations(&self) -> Vec<Violation> {
        self.rules.violations()
    }

    /// Every CLAP rule broken so far, forgetting them: for a test that reports them itself
    /// rather than when the instance is dropped.
    pub fn take_violations(&self) -> Vec<Violation> {
        self.rules.take_violations()
    }

    /// Panics, listing them, if any CLAP rule was broken so far. (Dropping the instance checks
    /// too; this says so earlier, at the point of the test that matters.)
    #[track_caller]
    pub fn assert_no_violations(&self) {
        let violations = self.rules.violations();
        assert!(violations.is_empty(), "{}", self.violations_message(&violations));
    }

    fn violations_message(&self, violations: &[Violation]) -> String {
        format!("{} broke {} CLAP rule(s):\n{}", self.id, violations.len(), rules::list(violations))
    }

    /// The instance's lifecycle state, as the host drove it.
    pub fn lifecycle(&self) -> Lifecycle {
        self.rules.state()
    }

    // --- the host's main-thread loop -----------------------------------------------------

    /// What a host's main thread does between blocks: honours a pending `request_callback` by
    /// calling the plugin's `on_main_thread`, then a pending `request_restart` by deactivating
    /// and re-activating the plugin with the same configuration and reading its latency (only
    /// while the audio side is here, not moved to another thread by [`TestPlugin::take_audio`]).
    ///
    /// While active it also reads the latency (as hosts that poll it do), which must not have
    /// changed since the activation.
    pub fn pump(&mut self) {
        self.main_thread_callback();
        self.honour_flush_request();
        if self.audio.is_some() && self.ext().latency.is_some() {
            self.latency();
        }
        self.honour_restart_request();
    }

    fn main_thread_callback(&mut self) {
        if self.shared(|s| s.callback_requested.swap(false, Ordering::SeqCst)) {
            let _call = self.rules.call(HostCall::ON_MAIN_THREAD);
            self.instance.call_on_main_thread_callback();
        }
    }

    /// A `request_flush` (the editor changed a parameter while no block was being processed):
    /// a host answers with a `process()` or a `params.flush()`; this one flushes at once, unless
    /// the audio side is playing on another thread, whose next block takes the change.
    fn honour_flush_request(&mut self) {
        let playing_elsewhere = self.activation.is_some() && self.audio.is_none();
        if !playing_elsewhere && self.shared(|s| s.flush_requested.swap(false, Ordering::SeqCst)) {
            self.flush_params(&[]);
        }
    }

    fn honour_restart_request(&mut self) {
        let Some(a) = self.activation else { return };
        if self.audio.is_none() || !self.shared(|s| s.restart_requested.load(Ordering::SeqCst)) {
            return;
        }
        let at = self.restarts.len();
        match self.activate(a.sample_rate, a.min_block, a.max_block) {
            Ok(()) => self.restarts.insert(at, Restart { latency: self.host_latency, before_processing: false }),
            Err(e) => self.restart_error = Some(format!("the host's restart on the plugin's request failed: {e}")),
        }
    }

    /// Every `request_restart` the plugin made so far.
    pub fn restart_requests(&self) -> u32 {
        self.shared(|s| s.restart_requests.load(Ordering::SeqCst))
    }

    /// The restarts the host made on the plugin's request ([`TestPlugin::pump`]), oldest first.
    pub fn restarts(&self) -> &[Restart] {
        &self.restarts
    }

    /// Every `clap_host_latency.changed()` call so far.
    pub fn latency_changed_calls(&self) -> u32 {
        self.shared(|s| s.latency_changed.load(Ordering::SeqCst))
    }

    // --- audio ports ---------------------------------------------------------------------

    /// `(inputs, outputs)` as the audio-ports extension lists them (scanned while inactive).
    pub fn audio_ports(&mut self) -> (Vec<PortInfo>, Vec<PortInfo>) {
        let ext = self.ext().audio_ports.expect("plugin has no audio-ports extension");
        let _call = self.rules.call(HostCall::AUDIO_PORTS);
        let handle = self.instance.plugin_handle();
        let list = |is_input: bool| {
            (0..ext.count(&handle, is_input))
                .map(|i| {
                    let mut buffer = AudioPortInfoBuffer::new();
                    let info = ext
                        .get(&handle, i, is_input, &mut buffer)
                        .unwrap_or_else(|| panic!("audio-ports get({i}, input={is_input}) failed"));
                    PortInfo {
                        id: info.id.get(),
                        name: String::from_utf8_lossy(info.name).into_owned(),
                        channels: info.channel_count,
                        is_main: info.flags.contains(AudioPortFlags::IS_MAIN),
                        port_type: info.port_type.map(|t| t.0.to_string_lossy().into_owned()),
                        in_place_pair: info.in_place_pair.map(|p| p.get()),
                    }
                })
                .collect::<Vec<_>>()
        };
        (list(true), list(false))
    }

    // --- latency -------------------------------------------------------------------------

    /// The latency the plugin reports now (asked while active). It must be what it reported
    /// right after the activation: the latency may change only inside `activate()`.
    pub fn latency(&mut self) -> u32 {
        let ext = self.ext().latency.expect("plugin has no latency extension");
        let latency = {
            let _call = self.rules.call(HostCall::LATENCY_GET);
            ext.get(&self.instance.plugin_handle())
        };
        if let Some(at_activation) = self.host_latency {
            self.rules.latency_read(at_activation, latency);
        }
        latency
    }

    /// The latency the host read right after the last activation (as a host does to set up its
    /// delay compensation); `None` while inactive.
    pub fn host_latency(&self) -> Option<u32> {
        self.host_latency
    }

    // --- render mode ---------------------------------------------------------------------

    /// Sets the plugin's render mode (`clap.render`); `true` for offline.
    pub fn set_offline(&mut self, offline: bool) -> Result<(), String> {
        let ext = self.ext().render.ok_or("plugin has no render extension")?;
        let mode = if offline { RenderMode::Offline } else { RenderMode::Realtime };
        let _call = self.rules.call(HostCall::main_thread("clap_plugin_render.set()"));
        ext.set(&self.instance.plugin_handle(), mode).map_err(|e| e.to_string())
    }

    // --- params --------------------------------------------------------------------------

    /// Every parameter.
    pub fn params(&mut self) -> Vec<ParamDesc> {
        let ext = self.ext().params.expect("plugin has no params extension");
        let _call = self.rules.call(HostCall::main_thread("clap_plugin_params.get_info()"));
        let handle = self.instance.plugin_handle();
        (0..ext.count(&handle))
            .map(|i| {
                let mut buffer = ParamInfoBuffer::new();
                let info =
                    ext.get_info(&handle, i, &mut buffer).unwrap_or_else(|| panic!("params get_info({i}) failed"));
                ParamDesc {
                    id: info.id,
                    name: String::from_utf8_lossy(info.name).into_owned(),
                    module: String::from_utf8_lossy(info.module).into_owned(),
                    min: info.min_value,
                    max: info.max_value,
                    default: info.default_value,
                    stepped: info.flags.contains(ParamInfoFlags::IS_STEPPED),
                    automatable: info.flags.contains(ParamInfoFlags::IS_AUTOMATABLE),
                    bypass: info.flags.contains(ParamInfoFlags::IS_BYPASS),
                }
            })
            .collect()
    }

    /// The parameter with this display name; panics listing the names if there is none.
    pub fn param(&mut self, name: &str) -> ParamDesc {
        let params = self.params();
        params.iter().find(|p| p.name == name).cloned().unwrap_or_else(|| {
            panic!(
                "no parameter named {name:?}; the plugin has {:?}",
                params.iter().map(|p| &p.name).collect::<Vec<_>>()
            )
        })
    }

    /// The id of the parameter with this display name.
    pub fn param_id(&mut self, name: &str) -> ClapId {
        self.param(name).id
    }

    /// A parameter's current value (CLAP units).
    pub fn get_param(&mut self, id: ClapId) -> f64 {
        let ext = self.ext().params.expect("plugin has no params extension");
        let _call = self.rules.call(HostCall::main_thread("clap_plugin_params.get_value()"));
        ext.get_value(&self.instance.plugin_handle(), id).unwrap_or_else(|| panic!("get_value({id:?}) failed"))
    }

    /// The value `text` stands for (`text_to_value`).
    pub fn text_to_value(&mut self, id: ClapId, text: &str) -> Option<f64> {
        let ext = self.ext().params.expect("plugin has no params extension");
        let text = CString::new(text).unwrap();
        let _call = self.rules.call(HostCall::main_thread("clap_plugin_params.text_to_value()"));
        ext.text_to_value(&self.instance.plugin_handle(), id, &text)
    }

    /// The plugin's text for `value`.
    pub fn value_to_text(&mut self, id: ClapId, value: f64) -> Option<String> {
        let ext = self.ext().params.expect("plugin has no params extension");
        let mut buffer = [0u8; 256];
        let _call = self.rules.call(HostCall::main_thread("clap_plugin_params.value_to_text()"));
        ext.value_to_text(&self.instance.plugin_handle(), id, value, &mut buffer)
            .ok()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Sets parameters through `params.flush`: on the main thread while inactive, through the
    /// audio-processor handle while active (between process calls; this thread is the audio
    /// thread for the call).
    pub fn set_params(&mut self, changes: &[(ClapId, f64)]) {
        self.flush_params(changes);
        self.pump();
    }

    /// `params.flush` with `changes` as its input events; the values the plugin sends back
    /// (its editor's changes) join the audio side's [`AudioSide::take_params_out`] while active.
    ///
    /// # Panics
    /// While active with the audio side on another thread ([`TestPlugin::take_audio`]): only
    /// the audio thread may flush an active plugin.
    fn flush_params(&mut self, changes: &[(ClapId, f64)]) {
        let ext = self.ext().params.expect("plugin has no params extension");
        let mut input = EventBuffer::new();
        for &(id, value) in changes {
            input.push(&ParamValueEvent::new(0, id, Pckn::match_all(), value));
        }
        let mut output = EventBuffer::new();
        if let Some(audio) = self.audio.as_mut() {
            {
                let _call = self.rules.call(HostCall::PARAMS_FLUSH_ACTIVE);
                ext.flush_active(&mut audio.processor.plugin_handle(), &input.as_input(), &mut output.as_output());
            }
            audio.record_params_out(&output);
        } else {
            let _call = self.rules.call(HostCall::PARAMS_FLUSH);
            let mut handle = self.instance.inactive_plugin_handle().expect("inactive handle");
            ext.flush(&mut handle, &input.as_input(), &mut output.as_output());
        }
    }

    // --- state ---------------------------------------------------------------------------

    /// The plugin's saved state.
    pub fn save_state(&mut self) -> Result<Vec<u8>, String> {
        let ext = self.ext().state.ok_or("plugin has no state extension")?;
        let mut bytes = Vec::new();
        let _call = self.rules.call(HostCall::main_thread("clap_plugin_state.save()"));
        ext.save(&self.instance.plugin_handle(), &mut bytes).map_err(|e| e.to_string())?;
        Ok(bytes)
    }

    /// Loads a saved state.
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<(), String> {
        let ext = self.ext().state.ok_or("plugin has no state extension")?;
        let result = {
            let _call = self.rules.call(HostCall::main_thread("clap_plugin_state.load()"));
            ext.load(&self.instance.plugin_handle(), &mut Cursor::new(bytes)).map_err(|e| e.to_string())
        };
        self.pump();
        result
    }

    /// Makes the plugin run the model file at `path` from its next activation, the way a
    /// project that names it does: by loading a state with that model path.
    pub fn use_model(&mut self, path: &std::path::Path) -> Result<(), String> {
        let state = self.save_state()?;
        self.load_state(&state_with_model_path(&state, &path.to_string_lossy()))
    }

    // --- activation ----------------------------------------------------------------------

    /// Activates (deactivating first if needed), reads the latency, and starts processing.
    ///
    /// A restart the plugin asks for while being activated is done at once, before processing
    /// starts (see [`Restart::before_processing`]); one asked for from every activation fails.
    pub fn activate(&mut self, sample_rate: f64, min_block: u32, max_block: u32) -> Result<(), String> {
        // Across a restart the host's sample clock runs on.
        let steady_time = self.audio.as_ref().map_or(0, |a| a.steady_time);
        self.deactivate();
        let config = PluginAudioConfiguration { sample_rate, min_frames_count: min_block, max_frames_count: max_block };
        const MAX_RESTARTS_IN_A_ROW: usize = 3;
        let mut restarted = 0;
        let stopped = loop {
            // This activation is the restart any pending request asked for.
            self.shared(|s| s.restart_requested.store(false, Ordering::SeqCst));
            let call = self.rules.call(HostCall::ACTIVATE);
            let activated = self.instance.activate(|_, _| (), config);
            call.ends_in(if activated.is_ok() { Lifecycle::Active } else { Lifecycle::Inactive });
            let stopped =
                activated.map_err(|e| format!("activate({sample_rate}, {min_block}, {max_block}) failed: {e:?}"))?;
            self.activation = Some(Activation { sample_rate, min_block, max_block });
            // A host reads the latency after every activation, for its delay compensation.
            let latency = if self.ext().latency.is_some() { Some(self.latency()) } else { None };
            self.host_latency = latency;
            if restarted > 0 {
                self.restarts.push(Restart { latency, before_processing: true });
            }
            self.main_thread_callback();
            if !self.shared(|s| s.restart_requested.load(Ordering::SeqCst)) {
                break stopped;
            }
            let call = self.rules.call(HostCall::DEACTIVATE);
            self.instance.deactivate(stopped);
            call.ends_in(Lifecycle::Inactive);
            self.activation = None;
            self.host_latency = None;
            if restarted == MAX_RESTARTS_IN_A_ROW {
                return Err(format!(
                    "the plugin asked for a restart from {} activations in a row (a restart loop)",
                    restarted + 1
                ));
            }
            restarted += 1;
        };
        let call = self.rules.call(HostCall::START_PROCESSING);
        let started = stopped.start_processing();
        call.ends_in(if started.is_ok() { Lifecycle::Processing } else { Lifecycle::Active });
        let started = match started {
            Ok(started) => started,
            Err(e) => {
                let call = self.rules.call(HostCall::DEACTIVATE);
                self.instance.deactivate(e.into_stopped_processor());
                call.ends_in(Lifecycle::Inactive);
                self.activation = None;
                self.host_latency = None;
                return Err("start_processing failed".to_owned());
            }
        };
        self.audio = Some(AudioSide {
            processor: started,
            rules: self.rules.clone(),
            steady_time,
            out_channels: self.out_channels.clone(),
            max_block: max_block as usize,
            params_out: Vec::new(),
        });
        Ok(())
    }

    /// Offline mode, then [`TestPlugin::activate`].
    pub fn activate_offline(&mut self, sample_rate: f64, max_block: u32) -> Result<(), String> {
        self.set_offline(true)?;
        self.activate(sample_rate, 1, max_block)
    }

    /// Stops processing and deactivates, if active.
    pub fn deactivate(&mut self) {
        if let Some(audio) = self.audio.take() {
            let call = self.rules.call(HostCall::STOP_PROCESSING);
            let stopped = audio.processor.stop_processing();
            call.ends_in(Lifecycle::Active);
            let call = self.rules.call(HostCall::DEACTIVATE);
            self.instance.deactivate(stopped);
            call.ends_in(Lifecycle::Inactive);
        }
        self.activation = None;
        self.host_latency = None;
        self.main_thread_callback();
    }

    /// The current activation, if any.
    pub fn activation(&self) -> Option<Activation> {
        self.activation
    }

    /// Whether the instance is active.
    pub fn is_active(&self) -> bool {
        self.audio.is_some()
    }

    /// Deactivates and activates again with the same configuration (what the host does on
    /// `request_restart`, see [`TestPlugin::pump`]).
    pub fn restart(&mut self) -> Result<(), String> {
        let a = self.activation.ok_or("restart of an inactive plugin")?;
        self.activate(a.sample_rate, a.min_block, a.max_block)
    }

    // --- processing ----------------------------------------------------------------------

    fn audio_mut(&mut self, what: &str) -> Result<&mut AudioSide, String> {
        match (self.audio.as_mut(), &self.restart_error) {
            (Some(audio), _) => Ok(audio),
            (None, Some(e)) => Err(format!("{what} on an inactive plugin: {e}")),
            (None, None) => Err(format!("{what} on an inactive plugin")),
        }
    }

    /// Processes one block (see [`AudioSide::process_block`]), then does what the host's main
    /// thread does between blocks ([`TestPlugin::pump`]: callbacks, restarts).
    pub fn process_block(
        &mut self,
        input: &[&[f32]],
        outputs: &mut [Vec<Vec<f32>>],
        events: &[ParamChange],
    ) -> Result<ProcessStatus, String> {
        let status = self.audio_mut("process")?.process_block(input, outputs, events)?;
        self.pump();
        Ok(status)
    }

    /// Runs a whole signal through (see [`AudioSide::render`]), doing what the host's main
    /// thread does between blocks ([`TestPlugin::pump`]: callbacks, and restarts, after which
    /// the blocks go to the re-activated plugin).
    pub fn render(
        &mut self,
        input: &[Vec<f32>],
        block_size: impl FnMut(usize) -> usize,
        changes: &[ParamChange],
    ) -> Result<Rendered, String> {
        let max_block = self.audio_mut("render")?.max_block;
        let out_channels = self.out_channels.clone();
        render_blocks(input, block_size, changes, max_block, &out_channels, |block, outputs, events| {
            self.process_block(block, outputs, events).map(drop)
        })
    }

    /// The host's `reset()` on the audio side, between blocks: the stream is discontinuous
    /// from here.
    pub fn reset(&mut self) -> Result<(), String> {
        self.audio_mut("reset")?.reset();
        Ok(())
    }

    /// The parameter values the plugin has sent the host since the last call, from its blocks
    /// and flushes (see [`AudioSide::take_params_out`]); empty while inactive.
    pub fn take_params_out(&mut self) -> Vec<(ClapId, f64)> {
        self.audio.as_mut().map(AudioSide::take_params_out).unwrap_or_default()
    }

    /// Takes the audio-thread half of the active instance, to process on another thread while
    /// this one (the main thread) works the editor; give it back with [`TestPlugin::put_audio`].
    pub fn take_audio(&mut self) -> Option<AudioSide> {
        self.audio.take()
    }

    /// Gives back what [`TestPlugin::take_audio`] took.
    pub fn put_audio(&mut self, audio: AudioSide) {
        self.audio = Some(audio);
    }

    /// Output channel counts per port (from audio-ports at creation).
    pub fn output_channels(&self) -> &[u32] {
        &self.out_channels
    }

    /// Input channel counts per port.
    pub fn input_channels(&self) -> &[u32] {
        &self.in_channels
    }
}

impl Drop for TestPlugin {
    fn drop(&mut self) {
        self.deactivate();
        // SAFETY: not used again; the audio side (if it is here) went with `deactivate`.
        unsafe { ManuallyDrop::drop(&mut self.instance) };
        // Destroyed: nothing can break a rule any more. A test that panicked already says why
        // it failed; the violations go to stderr then.
        let violations = self.rules.take_violations();
        if !violations.is_empty() {
            let message = self.violations_message(&violations);
            if std::thread::panicking() {
                eprintln!("{message}");
            } else {
                panic!("{message}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The audio thread

/// The audio-thread half of an active instance: its started processor and the sample clock.
/// It can move to another thread ([`TestPlugin::take_audio`]), as in a host whose audio thread
/// processes while the main thread opens and closes the editor.
pub struct AudioSide {
    processor: StartedPluginAudioProcessor<TestHost>,
    rules: Arc<Rules>,
    steady_time: u64,
    out_channels: Vec<u32>,
    max_block: usize,
    /// Parameter values the plugin sent the host (output events), oldest first.
    params_out: Vec<(ClapId, f64)>,
}

impl AudioSide {
    /// `clap_plugin.reset()`: the plugin clears its processing state.
    pub fn reset(&mut self) {
        let _call = self.rules.call(HostCall::RESET);
        self.processor.reset();
    }

    /// Processes one block: `input[channel]` (the main input), `outputs[port][channel]` (all
    /// of equal length), parameter events at offsets within the block.
    pub fn process_block(
        &mut self,
        input: &[&[f32]],
        outputs: &mut [Vec<Vec<f32>>],
        events: &[ParamChange],
    ) -> Result<ProcessStatus, String> {
        let len = input.first().map_or(0, |c| c.len());
        let mut input_copy: Vec<Vec<f32>> = input.iter().map(|c| c.to_vec()).collect();
        let mut event_buffer = EventBuffer::with_capacity(events.len());
        for e in events {
            assert!((e.time as usize) < len.max(1), "event at {} outside a block of {len}", e.time);
            event_buffer.push(&ParamValueEvent::new(e.time as u32, e.id, Pckn::match_all(), e.value));
        }
        event_buffer.sort();
        let mut output_events = EventBuffer::new();

        let total_in: usize = input_copy.len();
        let total_out: usize = outputs.iter().map(|p| p.len()).sum();
        let mut in_ports = AudioPorts::with_capacity(total_in, 1);
        let mut out_ports = AudioPorts::with_capacity(total_out, outputs.len());
        let inputs = in_ports.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                input_copy.iter_mut().map(|c| InputChannel::variable(c.as_mut_slice())),
            ),
        }]);
        let mut outs = out_ports.with_output_buffers(outputs.iter_mut().map(|port| {
            for c in port.iter_mut() {
                c.resize(len, 0.0);
            }
            AudioPortBuffer {
                latency: 0,
                channels: AudioPortBufferType::f32_output_only(port.iter_mut().map(|c| c.as_mut_slice())),
            }
        }));
        let status = {
            let _call = self.rules.call(HostCall::PROCESS);
            self.processor.process(
                &inputs,
                &mut outs,
                &event_buffer.as_input(),
                &mut output_events.as_output(),
                Some(self.steady_time),
                None,
            )
        }
        .map_err(|e| format!("process failed: {e:?}"))?;
        self.steady_time += len as u64;
        self.record_params_out(&output_events);
        Ok(status)
    }

    /// Keeps the parameter values among the plugin's output events `events`.
    fn record_params_out(&mut self, events: &EventBuffer) {
        for event in events.iter() {
            if let Some(CoreEventSpace::ParamValue(change)) = event.as_core_event() {
                if let Some(id) = change.param_id() {
                    self.params_out.push((id, change.value()));
                }
            }
        }
    }

    /// The parameter values the plugin has sent the host since the last call (its editor's
    /// changes, as output events of `process`).
    pub fn take_params_out(&mut self) -> Vec<(ClapId, f64)> {
        std::mem::take(&mut self.params_out)
    }

    /// Runs `input` (channels of the main input) through in blocks whose sizes `block_size`
    /// gives (called once per block with the sample position), sending `changes` (absolute
    /// sample times) at their offsets, and calling `between_blocks` after each block. Returns
    /// every output port.
    pub fn render(
        &mut self,
        input: &[Vec<f32>],
        block_size: impl FnMut(usize) -> usize,
        changes: &[ParamChange],
        mut between_blocks: impl FnMut(),
    ) -> Result<Rendered, String> {
        let (max_block, out_channels) = (self.max_block, self.out_channels.clone());
        render_blocks(input, block_size, changes, max_block, &out_channels, |block, outputs, events| {
            self.process_block(block, outputs, events)?;
            between_blocks();
            Ok(())
        })
    }
}

/// Cuts `input` into blocks (sizes from `block_size`, at most `max_block`), hands each to
/// `process` with the `changes` that fall in it (times made relative to the block), and
/// collects every output port.
fn render_blocks(
    input: &[Vec<f32>],
    mut block_size: impl FnMut(usize) -> usize,
    changes: &[ParamChange],
    max_block: usize,
    out_channels: &[u32],
    mut process: impl FnMut(&[&[f32]], &mut [Vec<Vec<f32>>], &[ParamChange]) -> Result<(), String>,
) -> Result<Rendered, String> {
    let total = input.first().map_or(0, |c| c.len());
    let mut rendered =
        Rendered { ports: out_channels.iter().map(|&n| vec![Vec::with_capacity(total); n as usize]).collect() };
    let mut scratch: Vec<Vec<Vec<f32>>> = out_channels.iter().map(|&n| vec![Vec::new(); n as usize]).collect();
    let mut pos = 0;
    while pos < total {
        let len = block_size(pos).clamp(1, max_block).min(total - pos);
        let block: Vec<&[f32]> = input.iter().map(|c| &c[pos..pos + len]).collect();
        let events: Vec<ParamChange> = changes
            .iter()
            .filter(|c| c.time >= pos as u64 && c.time < (pos + len) as u64)
            .map(|c| ParamChange { time: c.time - pos as u64, ..*c })
            .collect();
        process(&block, &mut scratch, &events)?;
        for (port, out) in rendered.ports.iter_mut().zip(&scratch) {
            for (channel, data) in port.iter_mut().zip(out) {
                channel.extend_from_slice(&data[..len]);
            }
        }
        pos += len;
    }
    Ok(rendered)
}

// ---------------------------------------------------------------------------------------------
// Audio

/// Reads a WAV file as `[channel][sample]` f32, and its sample rate.
pub fn read_wav(path: &Path) -> (Vec<Vec<f32>>, u32) {
    let mut reader = hound::WavReader::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let spec = reader.spec();
    let channels = spec.channels as usize;
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader.samples::<i32>().map(|s| s.unwrap() as f32 * scale).collect()
        }
    };
    let mut out = vec![Vec::with_capacity(samples.len() / channels); channels];
    for frame in samples.chunks(channels) {
        for (c, &s) in frame.iter().enumerate() {
            out[c].push(s);
        }
    }
    (out, spec.sample_rate)
}

/// The eval mixture (stereo, 44.1 kHz), panicking clearly if it is missing.
pub fn eval_mixture() -> Vec<Vec<f32>> {
    eval_track("mixture")
}

/// A track of the eval clip: `mixture`, or one of its reference stems (`vocals`, `drums`,
/// `bass`, `other`), whose sum the mixture is.
pub fn eval_track(name: &str) -> Vec<Vec<f32>> {
    let path = eval_dir().join(format!("musdb18-preview-80s-rock/{name}.wav"));
    assert!(path.is_file(), "eval audio not found at {} (set SIFT_EVAL_DIR)", path.display());
    let (mut audio, rate) = read_wav(&path);
    assert_eq!(rate, 44_100, "{} is not 44.1 kHz", path.display());
    if audio.len() == 1 {
        audio.push(audio[0].clone());
    }
    audio
}

/// `length` seconds of 44.1 kHz `audio` from `from` seconds on (cut short at its end).
pub fn excerpt(audio: &[Vec<f32>], from: f64, length: f64) -> Vec<Vec<f32>> {
    let total = audio[0].len();
    let start = ((from * 44_100.0) as usize).min(total);
    let end = (((from + length) * 44_100.0) as usize).min(total);
    audio.iter().map(|c| c[start..end].to_vec()).collect()
}

/// `audio` followed by `n` samples of silence on every channel.
pub fn pad(audio: &[Vec<f32>], n: usize) -> Vec<Vec<f32>> {
    audio.iter().map(|c| c.iter().copied().chain(std::iter::repeat_n(0.0, n)).collect()).collect()
}

/// Peak absolute value, over channels.
pub fn peak(channels: &[&[f32]]) -> f32 {
    channels.iter().flat_map(|c| c.iter()).fold(0.0f32, |m, &s| m.max(s.abs()))
}

/// dBFS of a linear amplitude (−inf for 0).
pub fn db(x: f32) -> f32 {
    20.0 * x.max(1e-30).log10()
}

/// RMS over a sample range of every channel.
pub fn rms(channels: &[Vec<f32>], range: std::ops::Range<usize>) -> f32 {
    let mut sum = 0.0f64;
    let mut n = 0usize;
    for c in channels {
        for &s in &c[range.clone()] {
            sum += (s as f64) * (s as f64);
            n += 1;
        }
    }
    ((sum / n.max(1) as f64).sqrt()) as f32
}

/// Peak of `a - b` over every channel and the given range of `a`'s samples, `b` read at
/// `index - shift` (zero before its start): the difference to `b` delayed by `shift`.
pub fn peak_diff_delayed(a: &[Vec<f32>], b: &[Vec<f32>], shift: usize, range: std::ops::Range<usize>) -> (f32, usize) {
    let mut worst = (0.0f32, 0usize);
    for (ca, cb) in a.iter().zip(b) {
        for i in range.clone() {
            let expected = if i >= shift { cb.get(i - shift).copied().unwrap_or(0.0) } else { 0.0 };
            let d = (ca[i] - expected).abs();
            if d > worst.0 || d.is_nan() {
                worst = (d, i);
            }
        }
    }
    worst
}

/// Checks every output sample of a render is finite, naming the first that is not.
pub fn finite(out: &Rendered) -> Result<(), String> {
    for (p, port) in out.ports.iter().enumerate() {
        for (c, ch) in port.iter().enumerate() {
            if let Some(i) = ch.iter().position(|s| !s.is_finite()) {
                return Err(format!("port {p} channel {c} sample {i} is {}", ch[i]));
            }
        }
    }
    Ok(())
}

/// A copy of Sift's saved `state` (8-byte length + JSON, as nice-plug writes it) whose
/// persisted `model-path` field names `path`, as if the user had picked that file.
///
/// # Panics
/// If `state` is not in that format or has no `model-path` field.
pub fn state_with_model_path(state: &[u8], path: &str) -> Vec<u8> {
    assert!(state.len() > 8, "state too short: {state:?}");
    let len = u64::from_le_bytes(state[..8].try_into().unwrap()) as usize;
    let mut json: serde_json::Value = serde_json::from_slice(&state[8..8 + len])
        .unwrap_or_else(|e| panic!("state is not length + JSON ({e}): {}", String::from_utf8_lossy(state)));
    let text = json.to_string();
    let fields = json
        .get_mut("fields")
        .and_then(|f| f.as_object_mut())
        .unwrap_or_else(|| panic!("state has no \"fields\" object: {text}"));
    let old = fields.get("model-path").unwrap_or_else(|| panic!("state has no model-path field: {fields:?}")).clone();
    // nice-plug stores persisted fields as their own JSON text inside a string.
    let new = match old.as_str() {
        Some(s) if serde_json::from_str::<String>(s).is_ok() => {
            serde_json::Value::String(serde_json::to_string(path).unwrap())
        }
        _ => serde_json::Value::String(path.to_owned()),
    };
    fields.insert("model-path".into(), new);
    let body = serde_json::to_vec(&json).unwrap();
    let mut out = (body.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}
