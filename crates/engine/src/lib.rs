//! The real-time separation engine, independent of plugin formats and of ONNX Runtime.
//!
//! [`Engine::start`] (main thread) builds an [`AudioProcessor`] for the audio thread and a
//! worker thread that runs the model. They talk only through two wait-free ring buffers
//! (mixture in, stems out) and the atomics in [`Shared`]:
//!
//! ```text
//!  audio thread                    worker thread
//!  ─────────────                   ─────────────
//!  host block ──► input ring ────► resample ► STFT ► model ► masks ► iSTFT ► resample
//!      │                                                                   │
//!  dry delay line                  output ring ◄───────────────────────────┘
//!      └──► residual = dry − Σ stems ◄──┘
//! ```
//!
//! The model is anything that implements [`MaskModel`]; this crate knows nothing about ONNX
//! Runtime (the `sift-inference` crate), plugin formats (`sift`) or files (`sift-cli`).
//!
//! # Example
//!
//! An engine on a [`PassThrough`] model (what the plugin runs when no model loads) gives every
//! sample to the residual stem, exactly [`Latency::samples`] late:
//!
//! ```
//! use sift_engine::{Engine, EngineConfig, ModelSpec, PassThrough};
//!
//! let model = PassThrough::new(ModelSpec::default_grid()); // stems: vocals, accompaniment
//! // Offline: the audio thread waits for the worker, as in a DAW's bounce.
//! let config = EngineConfig::new(48_000, 512).realtime(false);
//! let (engine, mut processor) = Engine::start(Box::new(model), config)?;
//! let latency = engine.latency().samples;
//!
//! let impulse_at = 1000;
//! let (mut vocals, mut accompaniment) = (Vec::new(), Vec::new());
//! for block in 0..(latency + impulse_at) / 512 + 2 {
//!     let input: Vec<f32> = (0..512).map(|i| if block * 512 + i == impulse_at { 1.0 } else { 0.0 }).collect();
//!     let (mut v, mut a) = (vec![0.0; 512], vec![0.0; 512]);
//!     processor.process(&[&input], &mut [&mut v, &mut a]); // one channel in, [stem][channel] out
//!     vocals.extend(v);
//!     accompaniment.extend(a);
//! }
//! assert_eq!(accompaniment[impulse_at + latency], 1.0);
//! assert!(vocals.iter().all(|&s| s == 0.0));
//! # Ok::<(), sift_engine::EngineError>(())
//! ```

#![deny(missing_docs)]

mod calibrate;
mod conceal;
mod core;
mod denormals;
mod latency;
pub mod masks;
mod mode;
mod model;
pub mod priority;
mod processor;
pub mod render;
pub mod resample;
mod schedule;
mod shared;
pub mod stall;
mod stft;
mod worker;

use std::sync::Arc;
use std::thread::JoinHandle;

pub use self::conceal::HOLD_LIMIT;
pub use self::core::SeparationCore;
pub use self::latency::Latency;
pub use self::masks::Extension;
pub use self::mode::Mode;
pub use self::model::{
    InferenceFailure, Interrupter, MaskModel, ModelInput, ModelOutput, ModelSpec, PassThrough, Streaming, CHANNELS,
    MAX_STEMS,
};
pub use self::priority::Scheduling;
pub use self::processor::{AudioProcessor, BlockReport};
pub use self::schedule::Schedule;
pub use self::shared::Shared;
pub use self::stall::{StallPattern, Stalling};
pub use self::stft::{periodic_hann, Analysis, Synthesis};

use self::resample::{BridgeTiming, RateBridge};
use self::worker::Worker;

/// Where a new model waits for the worker to take it, between two runs.
#[derive(Clone)]
pub struct ModelInbox {
    slot: Arc<std::sync::Mutex<Option<Box<dyn MaskModel>>>>,
    /// The grid and stems of the engine this inbox belongs to.
    spec: ModelSpec,
}

impl ModelInbox {
    /// Whether `spec` can replace the running model without a new engine: same grid, same stems.
    pub fn accepts(&self, spec: &ModelSpec) -> bool {
        spec.same_grid(&self.spec) && spec.residual == self.spec.residual && spec.stems == self.spec.stems
    }

    /// Leaves `model` for the worker, or gives it back if it needs a new engine (see
    /// [`ModelInbox::accepts`]). A model still waiting from an earlier offer is dropped here, on
    /// the calling thread.
    pub fn offer(&self, model: Box<dyn MaskModel>) -> Result<(), Box<dyn MaskModel>> {
        if !self.accepts(model.spec()) {
            return Err(model);
        }
        let replaced = self.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace(model);
        drop(replaced);
        Ok(())
    }
}

/// Host sample rates the engine accepts.
///
/// Every rate a host or validator is known to try: the engine resamples to the model's rate
/// (at 1 kHz the model hears only what lies below 500 Hz, but the stems still sum to the input).
pub const HOST_RATES: std::ops::RangeInclusive<u32> = 1_000..=768_000;

/// How an engine instance is set up; fixed for its lifetime (a change means a new engine).
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// The host's sample rate in Hz.
    pub sample_rate: u32,
    /// The largest block the host will pass to `process()`.
    pub max_block: usize,
    /// Latency mode.
    pub mode: Mode,
    /// How masks continue above the model's range.
    pub extension: Extension,
    /// Real-time (fall back when late) or offline (wait for the worker).
    pub realtime: bool,
    /// Stretch each mode's schedule as far as this machine needs to keep up in real time
    /// (`calibrate`). A plugin sets it whatever its process mode, so that its latency does not
    /// change between playing and bouncing; a render that only ever runs offline leaves it off,
    /// so its output does not depend on the machine.
    pub fit_to_machine: bool,
    /// Offline only: run [`Mode::throughput_schedule`], for a caller that is given a whole
    /// recording and removes the latency itself (a file render). Ignored in real time.
    pub throughput: bool,
    /// Conceal a late worker on the audio thread with the last masks (on by default). Off, the
    /// samples it is late for fall back to the dry signal, as before concealment existed: kept
    /// for the bench's side-by-side figures.
    pub conceal: bool,
    /// How long held masks stand in for a silent model before the concealment fades to dry
    /// ([`HOLD_LIMIT`] by default; the bench tries others, which is how it was chosen).
    pub hold_limit: std::time::Duration,
}

impl EngineConfig {
    /// A configuration with the defaults for everything but the rate and block size.
    pub fn new(sample_rate: u32, max_block: usize) -> Self {
        Self {
            sample_rate,
            max_block,
            mode: Mode::Balanced,
            extension: Extension::default(),
            realtime: true,
            fit_to_machine: false,
            throughput: false,
            conceal: true,
            hold_limit: HOLD_LIMIT,
        }
    }

    /// Sets the latency mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets real-time or offline processing.
    pub fn realtime(mut self, realtime: bool) -> Self {
        self.realtime = realtime;
        self
    }

    /// Sets whether the modes' schedules are fitted to this machine's speed.
    pub fn fit_to_machine(mut self, fit: bool) -> Self {
        self.fit_to_machine = fit;
        self
    }

    /// Sets whether an offline engine runs for throughput ([`Mode::throughput_schedule`]).
    pub fn throughput(mut self, throughput: bool) -> Self {
        self.throughput = throughput;
        self
    }

    /// Sets the mask extension above the model's range.
    pub fn extension(mut self, extension: Extension) -> Self {
        self.extension = extension;
        self
    }

    /// Turns concealment of a late worker on (the default) or off (the dry fall-back).
    pub fn conceal(mut self, conceal: bool) -> Self {
        self.conceal = conceal;
        self
    }

    /// Sets how long held masks stand in before the concealment fades to dry.
    pub fn hold_limit(mut self, hold_limit: std::time::Duration) -> Self {
        self.hold_limit = hold_limit;
        self
    }
}

/// Why an engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The host rate is outside [`HOST_RATES`].
    #[error("sample rate {0} Hz is not supported: Sift runs at 1 to 768 kHz")]
    SampleRate(u32),
    /// The block size is zero.
    #[error("the host's maximum block size must be at least 1 sample")]
    BlockSize,
    /// Resampling between the host and model rates could not be set up.
    #[error("{0}")]
    Resampling(String),
    /// The model has too few or too many stems, or its residual stem is not one of them.
    #[error(
        "a model needs 2 to {MAX_STEMS} stems with the residual among them; this one has {stems} (residual {residual})"
    )]
    Stems {
        /// The model's stem count.
        stems: usize,
        /// The index of its residual stem.
        residual: usize,
    },
    /// The worker thread could not be spawned.
    #[error("could not start the separation thread: {0}")]
    Thread(std::io::Error),
}

/// The main-thread handle of a running engine: owns the worker thread and reads its state.
///
/// Dropping it stops and joins the worker.
pub struct Engine {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<Box<dyn MaskModel>>>,
    latency: Latency,
    /// The host's largest block, which the latency depends on.
    max_block: usize,
    /// How many times its default new frames per run each mode needs on this machine (1 or 2,
    /// in [`Mode::ALL`] order).
    stretches: [usize; 3],
    bridge_timing: Option<BridgeTiming>,
    spec: ModelSpec,
    provider: String,
    schedule: Schedule,
    incoming: Arc<std::sync::Mutex<Option<Box<dyn MaskModel>>>>,
    scheduling: Scheduling,
    /// Ends the run in progress of the model the engine started with, when it stops (a model
    /// swapped in later is waited for).
    interrupter: Option<Interrupter>,
}

impl Engine {
    /// Starts a worker for `model` and returns the engine handle with its audio-thread half.
    ///
    /// All buffers are allocated here, so the returned [`AudioProcessor`] never allocates.
    pub fn start(mut model: Box<dyn MaskModel>, config: EngineConfig) -> Result<(Engine, AudioProcessor), EngineError> {
        if !HOST_RATES.contains(&config.sample_rate) {
            return Err(EngineError::SampleRate(config.sample_rate));
        }
        if config.max_block == 0 {
            return Err(EngineError::BlockSize);
        }
        let spec = model.spec().clone();
        if !(2..=MAX_STEMS).contains(&spec.stem_count()) || spec.residual >= spec.stem_count() {
            return Err(EngineError::Stems { stems: spec.stem_count(), residual: spec.residual });
        }
        let provider = model.provider().to_owned();
        let interrupter = model.interrupter();
        let stretches = if config.fit_to_machine { calibrate::stretches(model.as_mut(), &spec) } else { [1; 3] };
        let schedule = if config.throughput && !config.realtime {
            config.mode.throughput_schedule(&spec)
        } else {
            config.mode.schedule(&spec).stretched(stretches[config.mode as usize])
        };
        if config.realtime && schedule.stateful && !model.is_pass_through() {
            calibrate::warm_up(model.as_mut(), &spec, schedule.window);
        }
        model.follow(&schedule);
        let stem_channels = (spec.stem_count() - 1) * CHANNELS;
        let bridge =
            RateBridge::new(config.sample_rate, spec.sample_rate, stem_channels).map_err(EngineError::Resampling)?;
        let bridge_timing = bridge.as_ref().map(RateBridge::timing);
        let latency = Latency::new(&spec, &schedule, config.sample_rate, config.max_block, bridge_timing);

        // Room for the whole latency, a deadline's worth of slack, a few host blocks and two
        // seconds of hiccups before the input ring overflows.
        let ring_frames = latency.samples + 4 * config.max_block + 2 * config.sample_rate as usize;
        let (mut input_tx, mut input_rx) = rtrb::RingBuffer::new(ring_frames * CHANNELS);
        let (mut output_tx, mut output_rx) = rtrb::RingBuffer::new(ring_frames * stem_channels);
        prefault(&mut input_tx, &mut input_rx);
        prefault(&mut output_tx, &mut output_rx);
        let shared = Arc::new(Shared::default());
        let delay_frames = (latency.samples + config.max_block + 1).next_power_of_two();

        let incoming = Arc::new(std::sync::Mutex::new(None));
        // The frames the worker may run ahead of the output: the whole latency, in model frames.
        let ahead = latency.samples * spec.sample_rate as usize / config.sample_rate as usize / spec.hop;
        let (tap, mut concealer) =
            conceal::pair(&spec, config.sample_rate, ahead + 2 * schedule.new, latency.samples, config.hold_limit);
        let mut core = SeparationCore::new(spec.clone(), schedule, config.extension);
        // Concealment reads a frame of the delayed mixture ahead of the output: it needs a
        // latency of at least a frame (at host rates far under the model's it may be shorter),
        // and masks (a model that gives spectra has none).
        if config.conceal && latency.samples >= spec.n_fft && spec.output == ModelOutput::Masks {
            core.tap_masks(tap);
        } else {
            concealer.disable();
        }
        let largest_emit = bridge.as_ref().map_or(schedule.new * spec.hop, |b| b.up.output_chunk());
        let worker = Worker {
            core,
            lead_in: bridge.as_ref().map_or(0, RateBridge::delay),
            state_resets_done: 0,
            bridge,
            model,
            input: input_rx,
            output: output_tx,
            shared: shared.clone(),
            incoming: incoming.clone(),
            mixture: std::array::from_fn(|_| vec![0.0; 2048]),
            interleaved: Vec::with_capacity(largest_emit * stem_channels),
            idle_park: worker::idle_park(std::time::Duration::from_secs_f64(
                latency.budget as f64 / f64::from(config.sample_rate),
            )),
        };
        let handle = std::thread::Builder::new()
            .name("sift-worker".into())
            .spawn(move || worker.run())
            .map_err(EngineError::Thread)?;
        let scheduling = if config.realtime && spec.streaming.is_some() {
            priority::promote(&handle, priority::WORKER_PRIORITY)
        } else {
            priority::make_normal(&handle)
        };
        let processor = AudioProcessor {
            input: input_tx,
            output: output_rx,
            shared: shared.clone(),
            worker: handle.thread().clone(),
            stems: spec.stem_count(),
            residual: spec.residual,
            latency: latency.samples,
            max_block: config.max_block,
            realtime: config.realtime,
            delay_line: prefaulted(delay_frames * CHANNELS),
            delay_mask: delay_frames - 1,
            scratch: prefaulted(config.max_block * CHANNELS),
            position: 0,
            origin: 0,
            consumed: 0,
            resetting: false,
            concealer,
            conceal_weight: 0.0,
            recover_step: 1.0 / (processor::RECOVER_SECONDS * config.sample_rate as f32),
        };
        let engine = Engine {
            shared,
            worker: Some(handle),
            latency,
            max_block: config.max_block,
            stretches,
            bridge_timing,
            spec,
            provider,
            schedule,
            incoming,
            scheduling,
            interrupter,
        };
        Ok((engine, processor))
    }

    /// The latency and how it is made up.
    pub fn latency(&self) -> &Latency {
        &self.latency
    }

    /// The latency an engine for the same model and host rate would have in `mode`, so a host
    /// can be told what a mode change will cost before it restarts processing (with the mode
    /// stretched as this engine measured the machine to need).
    pub fn latency_in(&self, mode: Mode) -> Latency {
        let schedule = mode.schedule(&self.spec).stretched(self.stretch(mode));
        Latency::new(&self.spec, &schedule, self.latency.sample_rate, self.max_block, self.bridge_timing)
    }

    /// How many times its default new frames per run `mode` runs here: 2 where this machine
    /// was measured too slow for the default (an engine fitted to the machine times its model
    /// at start; others always run 1).
    pub fn stretch(&self, mode: Mode) -> usize {
        self.stretches[mode as usize]
    }

    /// The running model's grid and stems.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The execution provider running the model.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// How the worker thread is scheduled: real time for a streaming model in a real-time
    /// engine where the OS allows it ([`priority`]), normal otherwise.
    pub fn worker_scheduling(&self) -> &Scheduling {
        &self.scheduling
    }

    /// The model-run schedule of the engine's mode.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Hands `model` to the running worker, which switches to it between two model runs: no
    /// gap, no click, no change of latency.
    ///
    /// Only a model on the same grid with the same stems can swap in this way; any other is
    /// given back (`Err`) and needs a new engine, since the latency or the outputs change.
    pub fn swap_model(&mut self, model: Box<dyn MaskModel>) -> Result<(), Box<dyn MaskModel>> {
        let spec = model.spec().clone();
        let provider = model.provider().to_owned();
        self.model_inbox().offer(model)?;
        self.spec = spec;
        self.provider = provider;
        Ok(())
    }

    /// A handle through which any non-audio thread (a model loader, say) can hand the worker a
    /// new model, as [`Engine::swap_model`] does.
    pub fn model_inbox(&self) -> ModelInbox {
        ModelInbox { slot: self.incoming.clone(), spec: self.spec.clone() }
    }

    /// Counters shared with the worker and the audio thread.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Stops the worker and returns the model, so it can run again in a new engine (`None` if
    /// the worker panicked).
    pub fn stop(mut self) -> Option<Box<dyn MaskModel>> {
        self.join()
    }

    fn join(&mut self) -> Option<Box<dyn MaskModel>> {
        self.shared.shutdown.store(true, std::sync::atomic::Ordering::Release);
        let handle = self.worker.take()?;
        handle.thread().unpark();
        // A run in progress is not waited for: its output would only be dropped.
        if let Some(interrupt) = &self.interrupter {
            interrupt();
        }
        handle.join().ok()
    }
}

/// Writes through a ring once, so its memory pages are mapped now rather than on the audio
/// thread's first pass (a page fault costs microseconds the audio thread does not have).
fn prefault(producer: &mut rtrb::Producer<f32>, consumer: &mut rtrb::Consumer<f32>) {
    let slots = producer.slots();
    if let Ok(chunk) = producer.write_chunk_uninit(slots) {
        chunk.fill_from_iter(std::iter::repeat(0.0));
    }
    if let Ok(chunk) = consumer.read_chunk(slots) {
        chunk.commit_all();
    }
}

/// A zeroed buffer whose pages are already mapped: `vec![0.0; n]` asks the allocator for
/// zeroed memory, which large allocations get as lazily mapped pages; `resize` writes them.
fn prefaulted(len: usize) -> Vec<f32> {
    let mut buffer = Vec::with_capacity(len);
    buffer.resize(len, 0.0);
    buffer
}

impl Drop for Engine {
    /// Stops the worker and waits for it; the model is dropped on this (main) thread.
    fn drop(&mut self) {
        self.join();
    }
}
