//! How long each mode's runs must be on this machine: measured once, when the first engine
//! fitted to the machine ([`crate::EngineConfig::fit_to_machine`]) starts.
//!
//! A mode promises its context (window, look-ahead) and a latency that keeps up. Spleeter's
//! default `live` runs its 64-frame window every 4 hops, a 92.9 ms budget for a run that takes
//! 35 ms on one 2-core machine and 64 ms (p99 99 ms) on another, where every mode was late and
//! the stem buses fell silent. A windowed model's run costs the same however many of its frames
//! are new, so doubling the new frames per run doubles the budget at the same cost. The first
//! fitted engine of a model in a process times it on `live`'s window before the worker
//! starts (later ones reuse the result, so latencies stay put), estimates the other
//! windows in proportion to their frames, and stretches each mode as far as it needs (at most
//! twice, which keeps `live` < `balanced` < `studio`).
//!
//! Streaming models are left alone: their run costs in proportion to the frames it is given,
//! so a longer schedule buys no headroom. So are models with a fixed segment (waveform models):
//! their schedules already keep as many new frames per run as the segment allows, and one of
//! their runs takes seconds, too long to time on every start. A real-time engine of a streaming
//! model warms it up instead ([`warm_up`]).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::mode::Mode;
use super::model::{MaskModel, ModelSpec};

use super::schedule::MAX_STRETCH;

/// The share of its budget a run may take: the rest is for the host's own work, the slower
/// runs (p99 is ~1.5 × the median) and scheduling.
const HEADROOM: f64 = 0.6;

/// Stretches measured in this process, by model (name and file): measured once, so every
/// instance and every activation of a model in a session reports the same latency, and a
/// re-activation costs no extra runs.
static MEASURED: Mutex<Vec<Measured>> = Mutex::new(Vec::new());

/// One measured model: its spec (name and file to find it again, grid for a pass-through
/// standing in for it) and its stretches.
struct Measured {
    spec: ModelSpec,
    stretches: [usize; 3],
}

/// For each mode in [`Mode::ALL`] order, the stretch (1 or 2) of its new frames per run this
/// machine needs for `model`: measured on the model's first fitted start in this process
/// (two runs on `live`'s window), remembered after. A model that fails or panics here gets no
/// stretch: its failures show where they are counted, in the worker.
///
/// A pass-through is not timed: in each mode it takes the stretch of the model measured last
/// that runs that mode on the pass-through's schedule and clock (none measured yet: no stretch),
/// so its latency is the one the real model has here. By schedule, not by grid: the composed
/// four-stem model runs `balanced` and `studio` on the schedules of the default grid a
/// pass-through has, with another input and look-ahead floor.
pub fn stretches(model: &mut dyn MaskModel, spec: &ModelSpec) -> [usize; 3] {
    let mut measured = MEASURED.lock().unwrap_or_else(PoisonError::into_inner);
    if model.is_pass_through() {
        return Mode::ALL.map(|mode| {
            let stood_in_for = measured.iter().rev().find(|m| same_timing(&m.spec, spec, mode));
            stood_in_for.map_or(1, |m| m.stretches[mode as usize])
        });
    }
    if let Some(known) = measured.iter().find(|m| m.spec.name == spec.name && m.spec.origin == spec.origin) {
        return known.stretches;
    }
    let stretches = measure(model, spec);
    measured.push(Measured { spec: spec.clone(), stretches });
    stretches
}

fn measure(model: &mut dyn MaskModel, spec: &ModelSpec) -> [usize; 3] {
    let live = Mode::Live.schedule(spec);
    if live.stateful || spec.segment.is_some() {
        return [1; 3];
    }
    let frames = live.window;
    // The faster of two runs: the first may still be faulting pages in.
    let Some(fastest) = run_on_silence(model, spec, frames, 2) else {
        return [1; 3];
    };
    model.reset();
    let per_frame = fastest.as_secs_f64() / frames as f64;
    Mode::ALL.map(|mode| {
        let schedule = mode.schedule(spec);
        let budget = (schedule.new * spec.hop) as f64 / f64::from(spec.sample_rate);
        stretch_for(Duration::from_secs_f64(per_frame * schedule.window as f64), Duration::from_secs_f64(budget))
    })
}

/// Whether `a` and `b` run `mode` on the same schedule and clock (rate, frame and hop), so the
/// same stretch gives them the same latency.
fn same_timing(a: &ModelSpec, b: &ModelSpec, mode: Mode) -> bool {
    (a.sample_rate, a.n_fft, a.hop) == (b.sample_rate, b.n_fft, b.hop) && mode.schedule(a) == mode.schedule(b)
}

/// Runs a streaming model on silence this many times before a real-time worker starts.
pub const WARM_UP_RUNS: usize = 8;

/// Runs `model` [`WARM_UP_RUNS`] times on `frames` frames of silence, then resets it: a real-time
/// engine of a streaming model does this on the main thread before its worker starts. A session's
/// first ONNX Runtime calls allocate and fault in memory and take several times longer than
/// later ones; a streaming model has one hop (5.8 ms) for each run, so cold first runs missed
/// deadlines in the first 50 ms of a paced render (`cargo xtask bench`, Dec 2). A model that
/// fails or panics here fails the same way in the worker, where failures are counted.
pub fn warm_up(model: &mut dyn MaskModel, spec: &ModelSpec, frames: usize) {
    let _ = run_on_silence(model, spec, frames, WARM_UP_RUNS);
    model.reset();
}

/// Runs `model` `runs` times on `frames` frames of silence; the fastest run's time, or `None`
/// at the first run that fails or panics. The model's state is left as the runs left it.
fn run_on_silence(model: &mut dyn MaskModel, spec: &ModelSpec, frames: usize, runs: usize) -> Option<Duration> {
    let magnitude = vec![0.0; spec.input_values(frames)];
    let mut masks = vec![0.0; spec.output_values(frames)];
    let mut fastest = Duration::MAX;
    for _ in 0..runs {
        let started = Instant::now();
        let run = std::panic::AssertUnwindSafe(|| model.infer(&magnitude, frames, &mut masks));
        if !matches!(std::panic::catch_unwind(run), Ok(Ok(()))) {
            return None;
        }
        fastest = fastest.min(started.elapsed());
    }
    Some(fastest)
}

/// The smallest stretch whose budget leaves `run` its headroom, at most [`MAX_STRETCH`].
pub fn stretch_for(run: Duration, budget: Duration) -> usize {
    (1..=MAX_STRETCH).find(|&n| run.as_secs_f64() <= budget.as_secs_f64() * n as f64 * HEADROOM).unwrap_or(MAX_STRETCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_stretch_only_as_far_as_the_run_needs() {
        let budget = Duration::from_micros(92_880);
        // The machine of the first bench (35 ms) keeps the default; this one (64 ms) doubles.
        assert_eq!(stretch_for(Duration::from_millis(35), budget), 1);
        assert_eq!(stretch_for(Duration::from_millis(64), budget), 2);
        // Slower still: no further than twice, so `live` stays below `balanced`.
        assert_eq!(stretch_for(Duration::from_millis(400), budget), MAX_STRETCH);
    }

    /// A pass-through on the default grid stands in for a model measured slow whose `balanced`
    /// and `studio` run on its schedules (as the composed model's do), but not in `live`, where
    /// that model looks further ahead.
    #[test]
    fn a_pass_through_takes_the_stretch_of_the_model_it_stands_in_for() {
        // A rate of its own, so no other test's measurement (all at real rates) matches.
        let grid = ModelSpec { sample_rate: 12_345, ..ModelSpec::default_grid() };
        let composed = ModelSpec {
            name: "composed-stand-in".into(),
            input: crate::ModelInput::Spectrum,
            min_lookahead: 5,
            ..grid.clone()
        };
        assert_ne!(Mode::Live.schedule(&composed), Mode::Live.schedule(&grid));
        let mut pass_through = crate::PassThrough::new(grid.clone());
        assert_eq!(stretches(&mut pass_through, &grid), [1; 3], "nothing measured on its schedules yet");
        MEASURED.lock().unwrap().push(Measured { spec: composed, stretches: [2, 2, 2] });
        assert_eq!(stretches(&mut pass_through, &grid), [1, 2, 2]);
    }
}
