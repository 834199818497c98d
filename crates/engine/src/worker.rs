//! The worker thread: pulls mixture samples from the input ring, separates them, pushes stem
//! samples to the output ring.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::core::SeparationCore;
use super::model::MaskModel;
use super::model::CHANNELS;
use super::resample::RateBridge;
use super::shared::Shared;

/// Mixture frames taken from the input ring at a time.
const READ_FRAMES: usize = 2048;
/// How long the worker sleeps when there is nothing to do, at most. In real time nobody wakes
/// it (the audio thread makes no system call), so this is how late it may notice new input:
/// 2 ms is small against the run budgets of windowed models (93 ms in `live` with Spleeter)
/// and costs ~500 cheap wake-ups a second (1 % of a core, `cargo xtask bench`).
const IDLE_PARK: Duration = Duration::from_millis(2);
/// The shortest sleep: a streaming model's budget (5.8 ms at a 256-sample hop) gets an eighth
/// of it, but no less than this.
const MIN_IDLE_PARK: Duration = Duration::from_micros(250);

/// The worker's idle sleep for a run budget of `budget`: an eighth of it, within
/// [`MIN_IDLE_PARK`] and [`IDLE_PARK`], so that noticing input late costs little of the budget.
pub(super) fn idle_park(budget: Duration) -> Duration {
    (budget / 8).clamp(MIN_IDLE_PARK, IDLE_PARK)
}

/// Everything the worker thread owns. Built on the main thread, moved into the worker.
pub struct Worker {
    pub(super) core: SeparationCore,
    pub(super) bridge: Option<RateBridge>,
    pub(super) model: Box<dyn MaskModel>,
    pub(super) input: rtrb::Consumer<f32>,
    pub(super) output: rtrb::Producer<f32>,
    pub(super) shared: Arc<Shared>,
    /// A model handed over by [`super::Engine::swap_model`], taken before the next run.
    pub(super) incoming: Arc<Mutex<Option<Box<dyn MaskModel>>>>,
    /// The last of [`Shared::state_resets_requested`] carried out.
    pub(super) state_resets_done: u32,
    /// Host-rate stem samples still to drop at the start of the stream: the resampling
    /// round trip's delay, so that output sample `k` belongs to input sample `k`.
    pub(super) lead_in: usize,
    /// Deinterleaved mixture, one `Vec` per channel.
    pub(super) mixture: [Vec<f32>; CHANNELS],
    /// Interleaved stem frames on their way to the output ring.
    pub(super) interleaved: Vec<f32>,
    /// How long to sleep when there is nothing to do ([`idle_park`]).
    pub(super) idle_park: Duration,
}

impl Worker {
    /// Runs until [`Shared::shutdown`] is set, then hands the model back.
    pub fn run(mut self) -> Box<dyn MaskModel> {
        super::denormals::flush_to_zero();
        /// Tells the audio thread the worker is gone, however the loop ends (even unwinding),
        /// so an offline render never waits for a worker that will not come.
        struct ExitFlag(Arc<Shared>);
        impl Drop for ExitFlag {
            fn drop(&mut self) {
                self.0.worker_exited.store(true, Ordering::Release);
            }
        }
        let _exit = ExitFlag(self.shared.clone());
        let lead_in = self.lead_in;
        while !self.shared.shutdown.load(Ordering::Acquire) {
            let requested = self.shared.reset_requested.load(Ordering::Acquire);
            if requested != self.shared.reset_done.load(Ordering::Relaxed) {
                self.reset(lead_in);
                self.shared.reset_done.store(requested, Ordering::Release);
                continue;
            }
            let frames = (self.input.slots() / CHANNELS).min(READ_FRAMES);
            if frames == 0 {
                self.park();
                continue;
            }
            let chunk = self.input.read_chunk(frames * CHANNELS).expect("slots were counted");
            let (a, b) = chunk.as_slices();
            for (i, pair) in a.chunks_exact(CHANNELS).chain(b.chunks_exact(CHANNELS)).enumerate() {
                self.mixture[0][i] = pair[0];
                self.mixture[1][i] = pair[1];
            }
            chunk.commit_all();
            self.separate(frames);
        }
        self.model
    }

    fn park(&self) {
        self.shared.worker_parked.store(true, Ordering::SeqCst);
        if self.input.slots() == 0 && !self.shared.shutdown.load(Ordering::Acquire) {
            std::thread::park_timeout(self.idle_park);
        }
        self.shared.worker_parked.store(false, Ordering::SeqCst);
    }

    /// Drops the backlog and returns to the state of a fresh stream (no allocation).
    fn reset(&mut self, lead_in: usize) {
        let slots = self.input.slots();
        if let Ok(chunk) = self.input.read_chunk(slots) {
            chunk.commit_all();
        }
        self.core.reset();
        self.model.reset();
        if let Some(bridge) = &mut self.bridge {
            bridge.reset();
        }
        self.lead_in = lead_in;
    }

    /// Separates `frames` mixture frames from `self.mixture`.
    fn separate(&mut self, frames: usize) {
        let mut offset = 0;
        while offset < frames {
            match &mut self.bridge {
                None => {
                    let [left, right] = &self.mixture;
                    offset += self.core.feed(&left[offset..frames], &right[offset..frames]);
                    if self.core.run_due() {
                        Self::run_model(
                            &mut self.core,
                            &mut self.model,
                            &self.shared,
                            &self.incoming,
                            &mut self.state_resets_done,
                        );
                        let produced = self.core.output_len();
                        Self::emit(
                            &mut self.output,
                            &mut self.interleaved,
                            &mut self.lead_in,
                            &self.shared,
                            self.core.output(),
                            produced,
                        );
                    }
                }
                Some(bridge) => {
                    let mixture = self.mixture.iter().map(|m| &m[..frames]);
                    offset += bridge.down.fill(mixture, offset);
                    if bridge.down.ready() {
                        self.resampled_mixture();
                    }
                }
            }
        }
    }

    /// Feeds one resampled chunk of mixture to the core, and the core's stems back up.
    fn resampled_mixture(&mut self) {
        let bridge = self.bridge.as_mut().expect("only called with a bridge");
        let down = bridge.down.process();
        let (left, right) = (&down[0], &down[1]);
        let mut fed = 0;
        while fed < left.len() {
            fed += self.core.feed(&left[fed..], &right[fed..]);
            if !self.core.run_due() {
                continue;
            }
            Self::run_model(&mut self.core, &mut self.model, &self.shared, &self.incoming, &mut self.state_resets_done);
            let produced = self.core.output_len();
            let mut taken = 0;
            while taken < produced {
                taken += bridge.up.fill(self.core.output(), taken);
                if bridge.up.ready() {
                    let up = bridge.up.process();
                    let len = up[0].len();
                    Self::emit(
                        &mut self.output,
                        &mut self.interleaved,
                        &mut self.lead_in,
                        &self.shared,
                        up.iter().map(|v| v.as_slice()),
                        len,
                    );
                }
            }
        }
    }

    /// Runs the model once and records how long it took. A model waiting in `incoming` takes
    /// over first: between two runs, so the switch lands on a frame boundary and the overlap-add
    /// blends it in without a gap or a click. A streaming model swapped in, or told to forget
    /// (a transport jump), starts from its initial state, primed with the frames its
    /// look-ahead needs.
    fn run_model(
        core: &mut SeparationCore,
        model: &mut Box<dyn MaskModel>,
        shared: &Shared,
        incoming: &Mutex<Option<Box<dyn MaskModel>>>,
        state_resets_done: &mut u32,
    ) {
        let mut fresh = false;
        // `try_lock`: the worker never waits for the main thread.
        if let Some(next) = incoming.try_lock().ok().and_then(|mut slot| slot.take()) {
            // The old model is dropped here, on the worker: never on the audio thread.
            *model = next;
            model.follow(core.schedule());
            shared.model_swaps.fetch_add(1, Ordering::Relaxed);
            fresh = true;
        }
        let requested = shared.state_resets_requested.load(Ordering::Acquire);
        if requested != *state_resets_done {
            *state_resets_done = requested;
            fresh = true;
        }
        if fresh {
            model.reset();
            // A failed priming shows in the run that follows; it is not a run of its own.
            let _ = core.prime(model.as_mut());
        }
        let started = Instant::now();
        let failed = core.run(model.as_mut()).is_err();
        let micros = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
        shared.record_run(micros, failed, core.gave_unusable_values());
    }

    /// Interleaves `len` samples of each stem channel and pushes them to the output ring,
    /// dropping the stream's lead-in first. Waits for room, since the audio thread drains the
    /// ring continuously; gives up only when the engine shuts down or resets.
    fn emit<'a>(
        output: &mut rtrb::Producer<f32>,
        interleaved: &mut Vec<f32>,
        lead_in: &mut usize,
        shared: &Shared,
        streams: impl ExactSizeIterator<Item = &'a [f32]> + Clone,
        len: usize,
    ) {
        let skip = (*lead_in).min(len);
        *lead_in -= skip;
        let width = streams.len();
        let frames = len - skip;
        interleaved.clear();
        for i in skip..len {
            interleaved.extend(streams.clone().map(|s| s[i]));
        }
        debug_assert_eq!(interleaved.len(), frames * width);
        let mut pushed = 0;
        while pushed < interleaved.len() {
            let reset_pending =
                shared.reset_requested.load(Ordering::Acquire) != shared.reset_done.load(Ordering::Relaxed);
            if shared.shutdown.load(Ordering::Acquire) || reset_pending {
                return;
            }
            let room = (output.slots() / width) * width;
            let n = room.min(interleaved.len() - pushed);
            if n == 0 {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
            let (done, _) = output.push_partial_slice(&interleaved[pushed..pushed + n]);
            pushed += done.len();
        }
    }
}
