//! What `Sift` and `Sift Single` have in common: the model, the engine and the remix of one
//! plugin instance, split by thread the way nice-plug calls it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use nice_plug::prelude::*;

use sift_engine::{
    AudioProcessor, Engine, EngineConfig, MaskModel, Mode, ModelSpec, PassThrough, Scheduling, CHANNELS, MAX_STEMS,
};
use sift_inference::{catalogue, OnnxModel, SessionOptions};

use nice_plug_egui::EguiEditor;

use super::editor::{self, SiftEditor};
use super::loader::ModelLoader;
use super::mixer::{MixTargets, Mixer};
use super::monitor::{self, Meters, ModelInfo, Status};
use super::params::{DeviceChoice, SiftParams, SingleParams};
use super::roles::{Role, RoleMap};

/// Largest number of stems times channels the preallocated buffers hold.
const MAX_STEM_CHANNELS: usize = MAX_STEMS * CHANNELS;

/// One plugin instance's engine and remix.
///
/// [`Instance::activate`] runs on the main thread (loads the model, starts the worker, allocates);
/// [`Instance::process`] on the audio thread touches only what `activate` prepared.
pub struct Instance {
    pub params: Arc<SiftParams>,
    /// The model the last engine handed back (it knows its file): kept across activations,
    /// since loading takes a second.
    parked: Option<Box<dyn MaskModel>>,
    engine: Option<Engine>,
    processor: Option<AudioProcessor>,
    roles: RoleMap,
    mixer: Mixer,
    channels: usize,
    /// The mode the running engine was built for, and the latency each mode has at the current
    /// rate (so a mode change can be handled from the audio thread without computing anything);
    /// 0 for a mode that runs another model.
    mode: Mode,
    latencies: [u32; Mode::COUNT],
    /// The modes that run another model file than the running engine's: with no model picked,
    /// `live` runs Sift's own and the others Spleeter ([`catalogue::default_for`]). A change to
    /// such a mode needs a new engine, so its latency is known only after the restart.
    other_model: [bool; Mode::COUNT],
    /// Whether a restart for a mode that runs another model was asked for already.
    model_restart_asked: bool,
    /// The latency last reported to the host, or asked for through a restart (CLAP).
    latency_reported: u32,
    input: Vec<Vec<f32>>,
    stems: Vec<Vec<f32>>,
    /// Role buses, `[role * channels + channel]`.
    pub buses: Vec<Vec<f32>>,
    /// Peak levels for the editor's meters (audio thread writes).
    pub meters: Arc<Meters>,
    /// Model, mode, load and misses for the editor.
    pub status: Arc<Status>,
    /// What the last model load found, for [`Status`].
    model_info: ModelInfo,
    /// Loads models picked in the editor and brings them into play.
    pub loader: Arc<ModelLoader>,
    /// Spots jumps of the host's transport, after which a streaming model starts afresh.
    transport: TransportWatch,
    /// Whether the running engine has processed a block: a host's `reset()` before that (every
    /// activation is followed by one) finds nothing to forget.
    heard_audio: bool,
    /// The Device parameter the parked model was loaded for, and the running engine's: a
    /// change asks the host for a restart, and the next activation loads for the new device.
    device: DeviceChoice,
    /// Whether a restart for a Device change was asked for already.
    device_restart_asked: bool,
}

/// Spots jumps of the host's transport: a block that does not start where the last one ended
/// (a locate, a loop's wrap, playing from elsewhere after a stop). Hosts that report no
/// position never jump.
#[derive(Default)]
struct TransportWatch {
    /// Where the next block should start: the last block's end while playing, its start while
    /// stopped (a stopped transport does not move).
    next: Option<i64>,
}

impl TransportWatch {
    /// Whether the block at `position` (`len` samples) jumped; remembers where it ends.
    fn jumped(&mut self, playing: bool, position: Option<i64>, len: usize) -> bool {
        let jumped = matches!((position, self.next), (Some(at), Some(next)) if at != next);
        self.next = position.map(|at| if playing { at + len as i64 } else { at });
        jumped
    }
}

impl Default for Instance {
    fn default() -> Self {
        Self::new(Arc::new(SiftParams::default()))
    }
}

impl Instance {
    /// An inactive instance driven by `params`.
    pub fn new(params: Arc<SiftParams>) -> Self {
        let status = Arc::new(Status::default());
        let loader = Arc::new(ModelLoader::new(params.clone(), status.clone()));
        Self {
            params,
            parked: None,
            engine: None,
            processor: None,
            roles: RoleMap::new(&[]),
            mixer: Mixer::new(44_100.0),
            channels: 2,
            mode: Mode::Balanced,
            latencies: [0; Mode::COUNT],
            other_model: [false; Mode::COUNT],
            model_restart_asked: false,
            latency_reported: 0,
            input: Vec::new(),
            stems: Vec::new(),
            buses: Vec::new(),
            meters: Arc::new(Meters::default()),
            loader,
            status,
            model_info: ModelInfo::default(),
            transport: TransportWatch::default(),
            heard_audio: false,
            device: DeviceChoice::Auto,
            device_restart_asked: false,
        }
    }

    /// Builds the engine for this layout, rate, block size and mode, and reports its latency.
    ///
    /// A missing or broken model or runtime does not fail activation: the engine then runs a
    /// pass-through on the default grid, so the host gets the dry signal with the latency it
    /// was told, and the reason is logged. An engine that cannot start with the model (a rate
    /// it cannot resample) falls back to a pass-through at the host's own rate, with the
    /// reason in the editor's status. Only a rate outside [`sift_engine::HOST_RATES`] fails.
    pub fn activate<P: Plugin>(
        &mut self,
        layout: &AudioIOLayout,
        config: &BufferConfig,
        context: &mut impl ActivateContext<P>,
    ) -> bool {
        self.stop();
        self.channels = layout.main_input_channels.map_or(2, |c| c.get() as usize).clamp(1, 2);
        let rate = config.sample_rate.round() as u32;
        let max_block = config.max_buffer_size.max(1) as usize;
        self.mode = self.params.mode.value().into();
        let model = self.model();
        // Fitted to the machine whatever the process mode: the latency must not change between
        // playing and a bounce (DawDreamer and others activate offline to render).
        let engine_config = EngineConfig::new(rate, max_block)
            .mode(self.mode)
            .realtime(config.process_mode == ProcessMode::Realtime)
            .fit_to_machine(true);
        let (engine, processor) = match Engine::start(model, engine_config) {
            Ok(started) => started,
            Err(e) => {
                nice_error!("Sift cannot separate here, passing audio through: {e}");
                self.model_info = ModelInfo {
                    problem: Some(format!("Cannot separate at {rate} Hz ({e}); passing audio through unprocessed")),
                    detail: e.to_string(),
                    ..ModelInfo::default()
                };
                let dry = PassThrough::new(ModelSpec { sample_rate: rate, ..ModelSpec::default_grid() });
                match Engine::start(Box::new(dry), engine_config) {
                    Ok(started) => started,
                    Err(e) => {
                        nice_error!("Sift cannot run at all here: {e}");
                        return false;
                    }
                }
            }
        };
        let spec = engine.spec().clone();
        self.other_model = self.modes_with_other_model();
        self.model_restart_asked = false;
        let mut latency_ms = [0.0f32; Mode::COUNT];
        for mode in Mode::ALL {
            // A mode that runs another model has a latency only once a restart has loaded it.
            let latency = (!self.other_model[mode as usize]).then(|| engine.latency_in(mode));
            self.latencies[mode as usize] = latency.map_or(0, |l| l.samples as u32);
            latency_ms[mode as usize] = latency.map_or(0.0, |l| l.millis() as f32);
        }
        self.latency_reported = engine.latency().samples as u32;
        context.set_latency_samples(self.latency_reported);
        self.roles = RoleMap::new(&spec.stems);
        self.mixer = Mixer::new(config.sample_rate);
        self.mixer.snap(&self.targets());
        let block = |count: usize| vec![vec![0.0f32; max_block]; count];
        self.input = block(self.channels);
        self.stems = block(spec.stem_count() * self.channels);
        self.buses = block(Role::COUNT * self.channels);
        let mut info = self.model_info.clone();
        info.provider =
            if info.problem.is_some() { "none (pass-through)".to_owned() } else { engine.provider().to_owned() };
        if let Scheduling::Refused { .. } = engine.worker_scheduling() {
            nice_log!("Sift: worker at {}", engine.worker_scheduling());
        }
        info.worker = Some(engine.worker_scheduling().clone());
        let budget_micros = (engine.schedule().new * spec.hop) as f64 / spec.sample_rate.max(1) as f64 * 1e6;
        self.status.activated(info, &self.roles, self.mode, latency_ms, budget_micros.round() as u32);
        self.loader.engine_started(engine.model_inbox());
        self.engine = Some(engine);
        self.processor = Some(processor);
        self.heard_audio = false;
        true
    }

    /// Stops the worker and keeps the model for the next activation.
    pub fn stop(&mut self) {
        self.status.active.store(false, Ordering::Release);
        self.processor = None;
        if let Some(engine) = self.engine.take() {
            self.loader.engine_stopped();
            // The model running now, swapped in from the editor or not; a pass-through has no
            // file and is not worth keeping.
            self.parked = engine.stop().filter(|model| model.spec().origin.is_some());
        }
    }

    /// The model file the user picked; `None` for the mode's default.
    fn picked_model(&self) -> Option<String> {
        self.params.model_path.lock().map(|p| p.clone()).ok().filter(|p| !p.is_empty())
    }

    /// Which modes would run another model file than [`Instance::mode`] does (indexed by
    /// `Mode as usize`). Compared by the file each mode resolves to, not by the model running
    /// (a pass-through after a failed load has none), so the running mode never differs from
    /// itself and never asks for a restart in a loop.
    fn modes_with_other_model(&self) -> [bool; Mode::COUNT] {
        let picked = self.picked_model();
        let binary_dir = sift_inference::locations::binary_dir();
        let files = Mode::ALL.map(|mode| catalogue::resolve_for(picked.as_deref(), mode, binary_dir.as_deref()).ok());
        Mode::ALL.map(|mode| files[mode as usize] != files[self.mode as usize])
    }

    /// The model to run: the one already loaded if the path is unchanged, else a fresh load,
    /// else a pass-through.
    fn model(&mut self) -> Box<dyn MaskModel> {
        let picked = self.picked_model();
        let binary_dir = sift_inference::locations::binary_dir();
        let path = catalogue::resolve_for(picked.as_deref(), self.mode, binary_dir.as_deref());
        let device = self.params.device.value();
        let same_device = device == self.device;
        self.device = device;
        self.device_restart_asked = false;
        // A model picked in the editor that needed a new engine comes first.
        if let Some(model) = self.loader.take_parked() {
            self.model_info = ModelInfo::of(model.spec(), "");
            self.parked = None;
            return model;
        }
        let parked = self.parked.take();
        let loaded = path.and_then(|path| match parked {
            Some(model) if same_device && model.spec().origin.as_deref() == Some(path.as_path()) => {
                Ok((model, self.model_info.provider_fallback.take()))
            }
            _ => OnnxModel::load(&path, &SessionOptions::default().device(device.into())).map(|m| {
                let fallback = m.provider_fallback().map(str::to_owned);
                if let Some(reason) = &fallback {
                    nice_log!("Sift: Device {device:?}: {reason}");
                }
                (Box::new(m) as Box<dyn MaskModel>, fallback)
            }),
        });
        match loaded {
            Ok((model, fallback)) => {
                self.model_info = ModelInfo { provider_fallback: fallback, ..ModelInfo::of(model.spec(), "") };
                model
            }
            Err(e) => {
                nice_error!("Sift passes audio through unseparated: {e}");
                self.model_info = ModelInfo {
                    problem: Some(format!("{}; passing audio through unprocessed", monitor::problem_in_words(&e))),
                    detail: e.to_string(),
                    ..ModelInfo::default()
                };
                Box::new(PassThrough::new(ModelSpec::default_grid()))
            }
        }
    }

    /// An editor on this instance's parameters, meters, status and model loader; `single` holds
    /// `Sift Single`'s own parameters (`None` for `Sift`).
    pub fn editor(&self, single: Option<Arc<SingleParams>>, title: &str) -> Option<EguiEditor<SiftEditor>> {
        editor::create(
            self.params.clone(),
            single,
            self.meters.clone(),
            self.status.clone(),
            self.loader.clone(),
            title,
        )
    }

    /// The mix targets the parameters ask for now.
    fn targets(&self) -> MixTargets {
        MixTargets {
            roles: self.params.role_targets(),
            output: self.params.output_gain.value(),
            bypassed: self.params.bypass.value(),
        }
    }

    /// The host's `reset()` (audio thread): the stream is discontinuous from here (a new
    /// render, a stop, a jump the transport does not show), so a streaming model forgets what it
    /// heard, as after a transport jump, without a gap or a change of latency.
    ///
    /// Real-time safe: an atomic increment at most. Before the engine has processed a block
    /// (hosts call it after every activation) there is nothing to forget, and nothing is done.
    pub fn reset(&mut self) {
        if let (Some(processor), true) = (self.processor.as_mut(), self.heard_audio) {
            processor.forget_state();
        }
    }

    /// Separates and remixes one block: the remix goes to `main` (which holds the input on
    /// entry), the role buses to [`Instance::buses`].
    pub fn process<P: Plugin>(&mut self, main: &mut [&mut [f32]], context: &mut impl ProcessContext<P>) {
        let len = main.first().map_or(0, |c| c.len());
        let channels = self.channels.min(main.len());
        let targets = self.targets();
        let Some(processor) = self.processor.as_mut() else { return };
        self.heard_audio = true;
        // The host may render faster than real time without re-activating (Ardour's export marks
        // only its process calls offline): wait for the worker then, fall back to dry otherwise.
        processor.set_realtime(context.process_mode() == ProcessMode::Realtime);
        let transport = context.transport();
        if self.transport.jumped(transport.playing, transport.pos_samples(), len) {
            processor.forget_state();
        }
        // A mode change needs a new engine, with another latency. CLAP allows a latency change
        // only inside `activate()`: ask for a restart, and the next activation reports it. VST3
        // hosts re-read the latency when told it changed (nice-plug's restartComponent from the
        // GUI thread) and then restart processing themselves.
        let wanted: Mode = self.params.mode.value().into();
        let latency = self.latencies[wanted as usize];
        if latency != 0 && latency != self.latency_reported {
            self.latency_reported = latency;
            match context.plugin_api() {
                PluginApi::Clap => context.request_restart(),
                _ => context.set_latency_samples(latency),
            }
        }
        // A mode that runs another model (the default differs by mode) needs a new engine with
        // it, whose latency is known only then: ask for a restart, once.
        if self.other_model[wanted as usize] && !self.model_restart_asked {
            self.model_restart_asked = true;
            context.request_restart();
        }
        // A Device change needs the model loaded again for the new provider (main thread, at
        // activation): ask for a restart, once.
        if self.params.device.value() != self.device && !self.device_restart_asked {
            self.device_restart_asked = true;
            context.request_restart();
        }
        // A model picked in the editor that needs a new engine: ask the host for one.
        if self.loader.restart_wanted.swap(false, Ordering::AcqRel) {
            context.request_restart();
        }
        for (buffer, channel) in self.input.iter_mut().zip(main.iter()) {
            buffer[..len].copy_from_slice(channel);
        }
        let stem_count = processor.stem_count() * channels;
        let mut inputs = self.input.iter().map(|c| &c[..len]);
        let inputs: [&[f32]; 2] = std::array::from_fn(|_| inputs.next().unwrap_or_default());
        let mut stems = self.stems.iter_mut().map(|c| &mut c[..len]);
        let mut stem_slices: [&mut [f32]; MAX_STEM_CHANNELS] =
            std::array::from_fn(|_| stems.next().unwrap_or_default());
        processor.process(&inputs[..channels], &mut stem_slices[..stem_count]);
        let stems = stem_slices.each_ref().map(|s| &**s);
        let mut buses = self.buses.iter_mut().map(|c| &mut c[..len]);
        let mut bus_slices: [&mut [f32]; Role::COUNT * CHANNELS] =
            std::array::from_fn(|_| buses.next().unwrap_or_default());
        self.mixer.mix(
            &self.roles,
            &targets,
            &stems[..stem_count],
            channels,
            &mut bus_slices[..Role::COUNT * channels],
            main,
        );

        // Meters and status for the editor: atomics only.
        let role_peaks: [f32; Role::COUNT] = std::array::from_fn(|r| {
            bus_slices[r * channels..(r + 1) * channels].iter().fold(0.0f32, |p, c| p.max(monitor::peak(c)))
        });
        let output_peak = main.iter().fold(0.0f32, |p, c| p.max(monitor::peak(c)));
        self.meters.record(&role_peaks, output_peak);
        if let Some(engine) = self.engine.as_ref() {
            let shared = engine.shared();
            // Copies of the worker's counters (read, never reset: they are the engine's).
            self.status.deadline_misses.store(shared.deadline_misses.load(Ordering::Relaxed), Ordering::Relaxed);
            self.status.recent_run_micros.store(shared.last_run_micros.load(Ordering::Relaxed), Ordering::Relaxed);
            self.status.max_run_micros.store(shared.max_run_micros.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::TransportWatch;

    #[test]
    fn a_transport_jump_is_a_block_that_does_not_start_where_the_last_one_ended() {
        let mut watch = TransportWatch::default();
        // Playing on: no jump; the first block has nothing to compare with.
        assert!(!watch.jumped(true, Some(0), 512));
        assert!(!watch.jumped(true, Some(512), 512));
        // A loop's wrap and a locate while playing.
        assert!(watch.jumped(true, Some(0), 512));
        assert!(watch.jumped(true, Some(88_200), 256));
        assert!(!watch.jumped(true, Some(88_456), 256));
        // Stopped, the position stays put; playing from there is no jump, from elsewhere is.
        assert!(!watch.jumped(false, Some(88_712), 256));
        assert!(!watch.jumped(false, Some(88_712), 256));
        assert!(!watch.jumped(true, Some(88_712), 256));
        assert!(!watch.jumped(false, Some(88_968), 256));
        assert!(watch.jumped(true, Some(0), 256));
        // A host that reports no position never jumps.
        let mut blind = TransportWatch::default();
        assert!(!blind.jumped(true, None, 512) && !blind.jumped(true, None, 512));
    }
}
