//! The main-thread half of a plugin instance: which model to run, and the engine that runs it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use nice_plug::prelude::*;

use sift_engine::{Engine, EngineConfig, EngineError, MaskModel, Mode, ModelSpec, PassThrough, Scheduling, HOST_RATES};
use sift_inference::{catalogue, Model, SessionOptions};

use super::audio_thread::{AudioThread, Restarts, TransportWatch};
use super::buses::RoleBuses;
use super::mixer::{MixTargets, Mixer};
use super::monitor::{self, ModelInfo};
use super::params::DeviceChoice;
use super::roles::RoleMap;
use super::shared::Shared;

/// What `activate()` and `deactivate()` work with: the model (loading takes a second, so it is
/// kept across activations) and the engine with its worker thread.
///
/// Everything here may allocate, load files and wait; none of it is reachable from the audio
/// thread, which gets its own [`AudioThread`] from [`MainThread::activate`].
pub struct MainThread {
    shared: Arc<Shared>,
    /// The model the last engine handed back (it knows its file).
    parked: Option<Box<dyn MaskModel>>,
    engine: Option<Engine>,
    /// What the last model load found, for the status.
    model_info: ModelInfo,
    /// The Device parameter the parked model was loaded for: the next activation loads again
    /// if it changed.
    device: DeviceChoice,
}

impl MainThread {
    /// An inactive instance with this shared state.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared, parked: None, engine: None, model_info: ModelInfo::default(), device: DeviceChoice::Auto }
    }

    /// The state this instance shares with its other threads.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Builds the engine for this layout, rate, block size and mode, reports its latency to the
    /// host and returns what the audio thread runs.
    ///
    /// A missing or broken model or runtime does not fail activation: the engine then runs a
    /// pass-through on the default grid, so the host gets the dry signal with the latency it
    /// was told, and the reason is logged. An engine that cannot start with the model (a rate
    /// it cannot resample) falls back to a pass-through at the host's own rate, with the
    /// reason in the editor's status. A rate outside [`sift_engine::HOST_RATES`] (the VST3
    /// validator asks for 1,234,567.8 Hz) gets a pass-through too, on an engine clocked at the
    /// nearest rate it runs at: a pass-through delays whole samples whatever their rate, so the
    /// output is the input exactly the reported latency later. Only an engine that cannot
    /// start at all (its worker thread) fails (`None`).
    pub fn activate<P: Plugin>(
        &mut self,
        layout: &AudioIOLayout,
        config: &BufferConfig,
        context: &mut impl ActivateContext<P>,
    ) -> Option<AudioThread> {
        self.stop();
        let channels = layout.main_input_channels.map_or(2, |c| c.get() as usize).clamp(1, 2);
        let host_rate = config.sample_rate.round() as u32;
        // The rate the engine is clocked at: the host's, or outside the engine's range the
        // nearest it runs at, with a pass-through on that rate's grid (no resampling).
        let rate = host_rate.clamp(*HOST_RATES.start(), *HOST_RATES.end());
        let max_block = config.max_buffer_size.max(1) as usize;
        let params = self.shared.params.clone();
        let mode: Mode = params.mode.value().into();
        let (model, device) = if rate == host_rate {
            (self.model(mode), self.device)
        } else {
            nice_warn!("Sift passes audio through: the host's sample rate of {host_rate} Hz is outside 1 to 768 kHz");
            self.model_info = ModelInfo::passing_through(
                &format!("Cannot separate at {host_rate} Hz (Sift runs at 1 to 768 kHz)"),
                EngineError::SampleRate(host_rate).to_string(),
            );
            // No model to load for the Device parameter: the audio thread must not ask for one.
            (pass_through_at(rate), params.device.value())
        };
        // Fitted to the machine whatever the process mode: the latency must not change between
        // playing and a bounce (DawDreamer and others activate offline to render).
        let engine_config = EngineConfig::new(rate, max_block)
            .mode(mode)
            .realtime(config.process_mode == ProcessMode::Realtime)
            .fit_to_machine(true);
        let (engine, processor) = match Engine::start(model, engine_config) {
            Ok(started) => started,
            Err(e) => {
                nice_error!("Sift cannot separate here, passing audio through: {e}");
                self.model_info =
                    ModelInfo::passing_through(&format!("Cannot separate at {rate} Hz ({e})"), e.to_string());
                match Engine::start(pass_through_at(rate), engine_config) {
                    Ok(started) => started,
                    Err(e) => {
                        nice_error!("Sift cannot run at all here: {e}");
                        return None;
                    }
                }
            }
        };
        let spec = engine.spec().clone();
        let other_model = self.modes_with_other_model(mode);
        let mut latencies = [0; Mode::COUNT];
        let mut latency_ms = [0.0f32; Mode::COUNT];
        for m in Mode::ALL {
            // A mode that runs another model has a latency only once a restart has loaded it.
            let latency = (!other_model[m as usize]).then(|| engine.latency_in(m));
            latencies[m as usize] = latency.map_or(0, |l| l.samples as u32);
            latency_ms[m as usize] = latency.map_or(0.0, |l| l.millis() as f32);
        }
        let latency = engine.latency().samples as u32;
        context.set_latency_samples(latency);
        let roles = RoleMap::new(&spec.stems);
        let mut mixer = Mixer::new(config.sample_rate);
        mixer.snap(&MixTargets::of(&params));
        let block = |count: usize| vec![vec![0.0f32; max_block]; count];

        let mut info = self.model_info.clone();
        info.provider =
            if info.problem.is_some() { "none (pass-through)".to_owned() } else { engine.provider().to_owned() };
        if let Scheduling::Refused { .. } = engine.worker_scheduling() {
            nice_log!("Sift: worker at {}", engine.worker_scheduling());
        }
        info.worker = Some(engine.worker_scheduling().clone());
        let budget_micros = (engine.schedule().new * spec.hop) as f64 / spec.sample_rate.max(1) as f64 * 1e6;
        self.shared.status.activated(info, &roles, mode, latency_ms, budget_micros.round() as u32, host_rate);
        self.shared.loader.engine_started(engine.model_inbox());
        self.engine = Some(engine);
        Some(AudioThread {
            shared: self.shared.clone(),
            processor,
            roles,
            mixer,
            channels,
            latencies,
            other_model,
            device,
            restarts: Restarts::new(latency),
            input: block(channels),
            stems: block(spec.stem_count() * channels),
            buses: RoleBuses::new(channels, max_block),
            transport: TransportWatch::default(),
            heard_audio: false,
        })
    }

    /// Stops the worker and keeps the model for the next activation. The [`AudioThread`] of
    /// this engine must be dropped first (the host has stopped processing by then).
    pub fn stop(&mut self) {
        self.shared.status.active.store(false, Ordering::Release);
        if let Some(engine) = self.engine.take() {
            self.shared.loader.engine_stopped();
            // The model running now, swapped in from the editor or not; a pass-through has no
            // file and is not worth keeping.
            self.parked = engine.stop().filter(|model| model.spec().origin.is_some());
        }
    }

    /// The model file the user picked; `None` for the mode's default.
    fn picked_model(&self) -> Option<String> {
        self.shared.params.model_path.lock().map(|p| p.clone()).ok().filter(|p| !p.is_empty())
    }

    /// Which modes would run another model file than `running` does (indexed by `Mode as
    /// usize`). Compared by the file each mode resolves to, not by the model running (a
    /// pass-through after a failed load has none), so the running mode never differs from
    /// itself and never asks for a restart in a loop.
    fn modes_with_other_model(&self, running: Mode) -> [bool; Mode::COUNT] {
        let picked = self.picked_model();
        let binary_dir = sift_inference::locations::binary_dir();
        let files = Mode::ALL.map(|mode| catalogue::resolve_for(picked.as_deref(), mode, binary_dir.as_deref()).ok());
        Mode::ALL.map(|mode| files[mode as usize] != files[running as usize])
    }

    /// The model to run in `mode`: one picked in the editor that waits for this engine, else
    /// the one already loaded if its file and device are unchanged, else a fresh load, else a
    /// pass-through.
    fn model(&mut self, mode: Mode) -> Box<dyn MaskModel> {
        let picked = self.picked_model();
        let binary_dir = sift_inference::locations::binary_dir();
        let path = catalogue::resolve_for(picked.as_deref(), mode, binary_dir.as_deref());
        let device = self.shared.params.device.value();
        let same_device = device == self.device;
        self.device = device;
        if let Some(model) = self.shared.loader.take_parked() {
            self.model_info = ModelInfo::of(model.spec(), "");
            self.parked = None;
            return model;
        }
        let parked = self.parked.take();
        let loaded = path.and_then(|path| match parked {
            Some(model) if same_device && model.spec().origin.as_deref() == Some(path.as_path()) => {
                Ok((model, self.model_info.provider_fallback.take()))
            }
            _ => Model::load(&path, &SessionOptions::default().device(device.into())).map(|m| {
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
                self.model_info = ModelInfo::passing_through(&monitor::problem_in_words(&e), e.to_string());
                Box::new(PassThrough::new(ModelSpec::default_grid()))
            }
        }
    }
}

/// A pass-through on the default grid at `rate`: no resampling, so it runs at any rate the
/// engine is clocked at and gives the input exactly the reported latency later.
fn pass_through_at(rate: u32) -> Box<dyn MaskModel> {
    Box::new(PassThrough::new(ModelSpec { sample_rate: rate, ..ModelSpec::default_grid() }))
}

impl Drop for MainThread {
    fn drop(&mut self) {
        self.stop();
    }
}
