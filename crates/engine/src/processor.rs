//! The audio-thread half of the engine.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::Thread;
use std::time::Duration;

use super::conceal::Concealer;
use super::model::CHANNELS;
use super::shared::Shared;

/// How long the way back from concealed stems to the worker's takes: the concealment's held
/// masks differ from the fresh ones, and a jump between the two would click. As short as stays
/// smooth: every sample of it still carries the held masks' error (`sift bench --stalls-only`,
/// `sift-4stem`, 10 ms stalls: the vocals' worst 50 ms window 23.5 dB with a 10 ms cross-fade,
/// 33.5 dB with this one; no larger step at the edges).
pub(super) const RECOVER_SECONDS: f32 = 0.003;

/// How one block went, for meters and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockReport {
    /// Samples of this block for which the worker was late.
    pub missed: usize,
    /// Of those, the samples the audio thread separated itself with the last masks it had
    /// ([`Concealer`]); the others fell back to the dry signal (all in the residual stem).
    pub concealed: usize,
}

/// The part of Sift that runs inside the host's `process()` call.
///
/// It owns only preallocated state: the rings to and from the worker, the dry delay line,
/// the [`Concealer`] and scratch space sized for the host's largest block.
/// [`AudioProcessor::process`] never allocates, locks or blocks in real-time mode; in offline
/// mode (a host bounce, the command line) it waits for the worker instead, so a render never
/// holds concealed audio. In real time, samples the worker is late for are separated here with
/// the last masks the worker sent (and fade to the dry signal only if it stays silent past the
/// hold limit), so a late worker never lets the unseparated mix into a muted stem.
pub struct AudioProcessor {
    pub(super) input: rtrb::Producer<f32>,
    pub(super) output: rtrb::Consumer<f32>,
    pub(super) shared: Arc<Shared>,
    pub(super) worker: Thread,
    /// Stems the model produces; the residual is formed here.
    pub(super) stems: usize,
    pub(super) residual: usize,
    pub(super) latency: usize,
    pub(super) max_block: usize,
    pub(super) realtime: bool,
    /// Dry input, both channels interleaved, `mask + 1` frames long (a power of two).
    pub(super) delay_line: Vec<f32>,
    pub(super) delay_mask: usize,
    /// Sanitised input of the current block, interleaved stereo.
    pub(super) scratch: Vec<f32>,
    /// Samples processed since start.
    pub(super) position: u64,
    /// Position of the first sample the worker's current stream saw.
    pub(super) origin: u64,
    /// Worker output frames consumed (used or dropped) in the current stream.
    pub(super) consumed: u64,
    /// Set while the worker is dropping its backlog after an input overflow.
    pub(super) resetting: bool,
    /// The stand-in separation for samples the worker is late for.
    pub(super) concealer: Concealer,
    /// How much of the output is the concealer's (1 from a late sample on, falling to 0 once
    /// the worker is back), and its fall per sample.
    pub(super) conceal_weight: f32,
    pub(super) recover_step: f32,
}

impl AudioProcessor {
    /// The engine's latency in samples at the host's rate: every stem, and their sum, is the
    /// input delayed by exactly this much.
    pub fn latency(&self) -> usize {
        self.latency
    }

    /// The counters this engine's worker and audio thread keep (atomics only): what a plugin's
    /// audio thread shows in its status without touching the main thread's [`Engine`](crate::Engine).
    pub fn counters(&self) -> &Shared {
        &self.shared
    }

    /// Number of stems written per channel by [`AudioProcessor::process`].
    pub fn stem_count(&self) -> usize {
        self.stems
    }

    /// Real-time mode falls back to the dry signal when the worker is late; offline mode waits.
    pub fn set_realtime(&mut self, realtime: bool) {
        self.realtime = realtime;
    }

    /// Tells the engine that the host's transport jumped (a locate, a loop's wrap): a streaming
    /// model forgets what it heard before, at the worker's next run, so its memory of the old
    /// position does not colour the new one. Nothing else changes: no gap, no dry fall-back,
    /// the same latency. A windowed model has no memory beyond its window and ignores it.
    ///
    /// Real-time safe: one atomic increment.
    pub fn forget_state(&mut self) {
        self.shared.state_resets_requested.fetch_add(1, Ordering::Release);
    }

    /// Separates one host block.
    ///
    /// `input` holds one or two channels of equal length (any length: long blocks are split
    /// internally); `output` holds `stem_count() × input.len()` slices of the same length,
    /// stem-major (`output[stem * channels + channel]`). NaN and infinite input samples are
    /// treated as silence.
    ///
    /// # Panics
    /// If the channel counts or lengths do not match (a programming error in the caller, not a
    /// runtime condition: plugin wrappers check the layout at activation).
    pub fn process(&mut self, input: &[&[f32]], output: &mut [&mut [f32]]) -> BlockReport {
        let channels = input.len();
        assert!((1..=CHANNELS).contains(&channels), "1 or 2 input channels");
        assert_eq!(output.len(), self.stems * channels, "one output per stem and channel");
        let len = input[0].len();
        let mut report = BlockReport::default();
        let mut start = 0;
        while start < len {
            let n = (len - start).min(self.max_block);
            let block = self.process_block(input, output, start, n);
            report.missed += block.missed;
            report.concealed += block.concealed;
            start += n;
        }
        if report.missed > 0 {
            self.shared.deadline_misses.fetch_add(1, Ordering::Relaxed);
            self.shared.missed_samples.fetch_add(report.missed as u64, Ordering::Relaxed);
            self.shared.concealed_samples.fetch_add(report.concealed as u64, Ordering::Relaxed);
        }
        report
    }

    /// Processes samples `start..start + n` (`n <= max_block`).
    fn process_block(&mut self, input: &[&[f32]], output: &mut [&mut [f32]], start: usize, n: usize) -> BlockReport {
        let channels = input.len();
        for i in 0..n {
            for ch in 0..CHANNELS {
                let x = input[ch.min(channels - 1)][start + i];
                self.scratch[i * CHANNELS + ch] = if x.is_finite() { x } else { 0.0 };
            }
        }
        self.send_input(n);
        // Dry signal, delayed by the latency, into the residual stem's outputs.
        for i in 0..n {
            let write = (self.position as usize + i) & self.delay_mask;
            let read = (self.position as usize + i).wrapping_sub(self.latency) & self.delay_mask;
            for ch in 0..CHANNELS {
                self.delay_line[write * CHANNELS + ch] = self.scratch[i * CHANNELS + ch];
            }
            for ch in 0..channels {
                output[self.residual * channels + ch][start + i] = self.delay_line[read * CHANNELS + ch];
            }
        }
        let report = self.receive_stems(output, channels, start, n);
        self.position += n as u64;
        report
    }

    /// Pushes `n` frames of `scratch` to the worker, or starts a reset if the ring is full.
    fn send_input(&mut self, n: usize) {
        if self.resetting {
            let done = self.shared.reset_done.load(Ordering::Acquire);
            self.drain_output();
            if done != self.shared.reset_requested.load(Ordering::Relaxed) {
                return;
            }
            // The worker has dropped its backlog and emits nothing until it gets new input:
            // what is left in the output ring is stale. Start a fresh stream here.
            self.drain_output();
            self.concealer.drain();
            self.concealer.restart();
            self.resetting = false;
            self.origin = self.position;
            self.consumed = 0;
        }
        let samples = n * CHANNELS;
        while self.input.slots() < samples {
            if self.realtime || self.worker_gone() {
                self.shared.overflows.fetch_add(1, Ordering::Relaxed);
                self.shared.reset_requested.fetch_add(1, Ordering::Release);
                self.resetting = true;
                return;
            }
            self.wake_worker();
            std::thread::sleep(Duration::from_micros(50));
        }
        let (pushed, _) = self.input.push_partial_slice(&self.scratch[..samples]);
        debug_assert_eq!(pushed.len(), samples);
        // In real time the worker is not woken: it polls (see `worker::idle_park`), which keeps
        // system calls, and the scheduler's wake-up preemption, off the audio thread.
        if !self.realtime {
            self.wake_worker();
        }
    }

    /// Whether the worker thread has ended; then nothing more will come from it.
    fn worker_gone(&self) -> bool {
        self.shared.worker_exited.load(Ordering::Acquire)
    }

    /// Wakes a parked worker at once (offline only: waiting is allowed there).
    fn wake_worker(&self) {
        if self.shared.worker_parked.load(Ordering::SeqCst) {
            self.worker.unpark();
        }
    }

    fn drain_output(&mut self) {
        let slots = self.output.slots();
        if let Ok(chunk) = self.output.read_chunk(slots) {
            chunk.commit_all();
        }
    }

    /// Writes the separated stems for samples `start..start + n` and subtracts them from the
    /// dry signal already in the residual outputs: the worker's where they came in time, the
    /// concealer's where not, cross-faded back to the worker's after a late stretch.
    fn receive_stems(&mut self, output: &mut [&mut [f32]], channels: usize, start: usize, n: usize) -> BlockReport {
        let width = (self.stems - 1) * CHANNELS;
        self.concealer.receive();
        // Worker output index of the first sample of this block.
        let first_aligned = (self.position as i64) - (self.latency as i64) - (self.origin as i64);
        // Samples before the worker's stream began (start-up, after a reset) stay dry.
        let lead = if self.resetting { n } else { (-first_aligned).clamp(0, n as i64) as usize };
        for (s, out) in output.iter_mut().enumerate() {
            if s / channels != self.residual {
                out[start..start + lead].fill(0.0);
            }
        }
        if lead == n {
            return BlockReport::default();
        }
        let first = (first_aligned + lead as i64) as u64;
        let needed = n - lead;
        // Drop what the worker delivered too late for earlier blocks.
        if first > self.consumed {
            let stale = ((first - self.consumed) as usize).min(self.output.slots() / width);
            if let Ok(chunk) = self.output.read_chunk(stale * width) {
                chunk.commit_all();
            }
            self.consumed += stale as u64;
        }
        let mut available = if first == self.consumed { self.output.slots() / width } else { 0 };
        while !self.realtime && available < needed && !self.worker_gone() {
            self.wake_worker();
            std::thread::sleep(Duration::from_micros(50));
            available = self.output.slots() / width;
        }
        let take = available.min(needed);
        let chunk = self.output.read_chunk(take * width).expect("slots were counted");
        let (a, b) = chunk.as_slices();
        let mut frames = a.chunks_exact(width).chain(b.chunks_exact(width));
        let mut report = BlockReport::default();
        let (residual, stems, mask) = (self.residual, self.stems, self.delay_mask);
        let (delay_line, origin) = (&self.delay_line, self.origin as usize);
        // The delayed mixture at stream time `t`, channel `ch` (its input position is `origin + t`).
        let dry = |t: i64, ch: usize| delay_line[((origin as i64 + t) as usize & mask) * CHANNELS + ch];
        for i in 0..needed {
            let at = start + lead + i;
            let t = first as i64 + i as i64;
            let worker = frames.next();
            if worker.is_none() {
                self.conceal_weight = 1.0;
                report.missed += 1;
                report.concealed += usize::from(!self.concealer.faded());
            }
            for (k, s) in (0..stems).filter(|&s| s != residual).enumerate() {
                for ch in 0..channels {
                    let concealed = self.concealer.sample(t, k, ch, dry);
                    let value = match worker {
                        Some(frame) => {
                            let fresh = frame[k * CHANNELS + ch];
                            fresh + (concealed - fresh) * self.conceal_weight
                        }
                        None => concealed,
                    };
                    output[s * channels + ch][at] = value;
                    output[residual * channels + ch][at] -= value;
                }
            }
            if worker.is_some() {
                self.conceal_weight = (self.conceal_weight - self.recover_step).max(0.0);
            }
            self.concealer.advance();
        }
        chunk.commit_all();
        self.consumed += take as u64;
        report
    }
}
