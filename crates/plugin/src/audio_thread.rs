//! The audio-thread half of a plugin instance: separation, remix, meters and the requests to
//! the host that a parameter change needs.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use nice_plug::prelude::*;

use sift_engine::{AudioProcessor, Mode, CHANNELS, MAX_STEMS};

use super::buses::RoleBuses;
use super::mixer::{MixTargets, Mixer};
use super::monitor;
use super::params::DeviceChoice;
use super::roles::{Role, RoleMap};
use super::shared::Shared;

/// Largest number of stems times channels the preallocated buffers hold.
const MAX_STEM_CHANNELS: usize = MAX_STEMS * CHANNELS;

/// What runs inside the host's `process()` and `reset()` for one activation.
///
/// Built by [`MainThread::activate`](super::main_thread::MainThread::activate), which
/// allocates everything here; from then on it owns only preallocated state, and its methods
/// never allocate, lock or make a system call (nice-plug's `assert_process_allocs` checks
/// that in debug builds, see the plugin's debug host test). It never touches the engine
/// itself, which belongs to the main thread: the worker's counters come through the
/// [`AudioProcessor`].
pub struct AudioThread {
    pub(super) shared: Arc<Shared>,
    pub(super) processor: AudioProcessor,
    pub(super) roles: RoleMap,
    pub(super) mixer: Mixer,
    pub(super) channels: usize,
    /// The latency each mode has at this rate, so that a mode change is handled here without
    /// computing anything; 0 for a mode that runs another model (known only after a restart).
    pub(super) latencies: [u32; Mode::COUNT],
    /// The modes that run another model file than this engine's: with no model picked, `live`
    /// runs Sift's own and the others Spleeter. A change to such a mode needs a new engine.
    pub(super) other_model: [bool; Mode::COUNT],
    /// The Device parameter this engine's model was loaded for.
    pub(super) device: DeviceChoice,
    pub(super) restarts: Restarts,
    /// The host's input, copied: the host's main buffer becomes the remix in place.
    pub(super) input: Vec<Vec<f32>>,
    /// The engine's stems, `[stem * channels + channel]` (the engine's layout).
    pub(super) stems: Vec<Vec<f32>>,
    pub(super) buses: RoleBuses,
    /// Spots jumps of the host's transport, after which a streaming model starts afresh.
    pub(super) transport: TransportWatch,
    /// Whether this engine has processed a block: a host's `reset()` before that (every
    /// activation is followed by one) finds nothing to forget.
    pub(super) heard_audio: bool,
}

impl AudioThread {
    /// The role buses of the last block.
    pub fn buses(&self) -> &RoleBuses {
        &self.buses
    }

    /// The host's `reset()`: the stream is discontinuous from here (a new render, a stop, a
    /// jump the transport does not show), so a streaming model forgets what it heard, as after
    /// a transport jump, without a gap or a change of latency.
    ///
    /// An atomic increment at most. Before the engine has processed a block there is nothing
    /// to forget, and nothing is done, so outputs do not move after an activation.
    pub fn reset(&mut self) {
        if self.heard_audio {
            self.processor.forget_state();
        }
    }

    /// Separates and remixes one block: the remix goes to `main` (which holds the input on
    /// entry), the role buses to [`AudioThread::buses`].
    pub fn process<P: Plugin>(&mut self, main: &mut [&mut [f32]], context: &mut impl ProcessContext<P>) {
        let len = main.first().map_or(0, |c| c.len());
        let channels = self.channels.min(main.len());
        let targets = MixTargets::of(&self.shared.params);
        self.heard_audio = true;
        // The host may render faster than real time without re-activating (Ardour's export marks
        // only its process calls offline): wait for the worker then, fall back to dry otherwise.
        self.processor.set_realtime(context.process_mode() == ProcessMode::Realtime);
        let transport = context.transport();
        if self.transport.jumped(transport.playing, transport.pos_samples(), len) {
            self.processor.forget_state();
        }
        self.ask_for_restarts(context);

        for (buffer, channel) in self.input.iter_mut().zip(main.iter()) {
            buffer[..len].copy_from_slice(channel);
        }
        let stem_count = self.processor.stem_count() * channels;
        let mut inputs = self.input.iter().map(|c| &c[..len]);
        let inputs: [&[f32]; CHANNELS] = std::array::from_fn(|_| inputs.next().unwrap_or_default());
        let mut stems = self.stems.iter_mut().map(|c| &mut c[..len]);
        let mut stem_slices: [&mut [f32]; MAX_STEM_CHANNELS] =
            std::array::from_fn(|_| stems.next().unwrap_or_default());
        self.processor.process(&inputs[..channels], &mut stem_slices[..stem_count]);
        let stems = stem_slices.each_ref().map(|s| &**s);
        self.buses.begin_block(len);
        self.mixer.mix(&self.roles, &targets, &stems[..stem_count], &mut self.buses, main);

        // Meters and status for the editor: atomics only.
        let role_peaks = Role::ALL.map(|role| self.buses.peak(role));
        let output_peak = main.iter().fold(0.0f32, |p, c| p.max(monitor::peak(c)));
        self.shared.meters.record(&role_peaks, output_peak);
        let (counters, status) = (self.processor.counters(), &self.shared.status);
        // Copies of the worker's counters (read, never reset: they are the engine's).
        status.deadline_misses.store(counters.deadline_misses.load(Ordering::Relaxed), Ordering::Relaxed);
        let late = counters.missed_samples.load(Ordering::Relaxed);
        status
            .dry_samples
            .store(late - counters.concealed_samples.load(Ordering::Relaxed).min(late), Ordering::Relaxed);
        status.recent_run_micros.store(counters.last_run_micros.load(Ordering::Relaxed), Ordering::Relaxed);
        status.max_run_micros.store(counters.max_run_micros.load(Ordering::Relaxed), Ordering::Relaxed);
        status.failed_runs.store(counters.model_failures.load(Ordering::Relaxed), Ordering::Relaxed);
        status.unusable_runs.store(counters.unusable_runs.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Asks the host for what the parameters now need and this engine cannot give: another
    /// latency (a mode change), another model (a mode that runs another file, a model picked
    /// in the editor that needs a new engine) or another device. Each goes through
    /// [`Restarts::ask`], once.
    fn ask_for_restarts<P: Plugin>(&mut self, context: &mut impl ProcessContext<P>) {
        let params = &self.shared.params;
        let wanted: Mode = params.mode.value().into();
        let latency = self.latencies[wanted as usize];
        if latency != 0 {
            self.restarts.ask(Restart::Latency(latency), context);
        }
        if self.other_model[wanted as usize] {
            self.restarts.ask(Restart::ModeModel, context);
        }
        if params.device.value() != self.device {
            self.restarts.ask(Restart::Device, context);
        }
        if self.shared.loader.restart_wanted.swap(false, Ordering::AcqRel) {
            self.restarts.ask(Restart::PickedModel, context);
        }
    }
}

/// Why the audio thread asks the host for a restart of processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// The mode asks for this latency (samples), which this engine can give.
    Latency(u32),
    /// The mode runs another model file, whose latency is known only once it is loaded.
    ModeModel,
    /// The Device parameter changed: the model must be loaded again for it (main thread).
    Device,
    /// A model picked in the editor waits for a new engine (its grid or stems differ).
    PickedModel,
}

/// The one path by which the audio thread asks the host for a restart: each reason once per
/// activation (a latency once per value), so a host that is slow to restart is not flooded.
#[derive(Debug)]
pub struct Restarts {
    /// The latency last reported to the host, or asked for.
    latency_reported: u32,
    /// Which of the other reasons were asked for already.
    mode_model: bool,
    device: bool,
}

impl Restarts {
    /// Nothing asked yet in an activation that reported `latency` to the host.
    pub fn new(latency: u32) -> Self {
        Self { latency_reported: latency, mode_model: false, device: false }
    }

    /// Asks the host for what `why` needs, unless it was asked for already.
    ///
    /// CLAP allows a latency change only inside `activate()`, so a new latency asks for a
    /// restart and the next activation reports it; VST3 hosts re-read the latency when told it
    /// changed (nice-plug's restartComponent from the GUI thread) and then restart processing
    /// themselves. A picked model asks every time the loader raises its flag (the loader
    /// lowers it), so a second pick while waiting asks again.
    pub fn ask<P: Plugin>(&mut self, why: Restart, context: &mut impl ProcessContext<P>) {
        let ask = match why {
            Restart::Latency(latency) => std::mem::replace(&mut self.latency_reported, latency) != latency,
            Restart::ModeModel => !std::mem::replace(&mut self.mode_model, true),
            Restart::Device => !std::mem::replace(&mut self.device, true),
            Restart::PickedModel => true,
        };
        match (ask, why, context.plugin_api()) {
            (false, ..) => {}
            (true, Restart::Latency(latency), api) if api != PluginApi::Clap => context.set_latency_samples(latency),
            (true, ..) => context.request_restart(),
        }
    }
}

/// Spots jumps of the host's transport: a block that does not start where the last one ended
/// (a locate, a loop's wrap, playing from elsewhere after a stop). Hosts that report no
/// position never jump.
#[derive(Default)]
pub struct TransportWatch {
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
