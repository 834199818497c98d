//! A late worker is concealed, not heard: with stalls injected into the worker (`Stalling`, not
//! timing luck), a paced real-time render's stems stay those of the stall-free render, with no
//! click at a stall's edges, and a model that stops answering fades to the dry signal and back.

use sift_test_support as support;

use std::time::Duration;

use sift_engine::render::{render, Blocks, Rendered};
use sift_engine::{Engine, EngineConfig, MaskModel, Mode, StallPattern, Stalling};
use support::{peak_difference_db, sdr_db, sum_stems, test_signal, Behaviour, Recurrent, StandIn};

const RATE: u32 = 44_100;
const BLOCK: usize = 128;

/// `model` over `input`: offline (the reference: the worker is waited for), or paced in real
/// time with `stalls` injected into the worker.
fn rendered(model: Box<dyn MaskModel>, rate: u32, input: &[Vec<f32>], stalls: Option<StallPattern>) -> Rendered {
    let realtime = stalls.is_some();
    let model: Box<dyn MaskModel> = match stalls {
        Some(pattern) => Box::new(Stalling::new(model, pattern)),
        None => model,
    };
    let config = EngineConfig::new(rate, BLOCK).mode(Mode::Live).realtime(realtime);
    let (_engine, mut processor) = Engine::start(model, config).expect("engine starts");
    render(&mut processor, input, rate, &Blocks::Fixed(BLOCK), realtime, |_| {})
}

fn stall(ms: u64, every_ms: u64) -> Option<StallPattern> {
    Some(StallPattern { stall: Duration::from_millis(ms), every: Duration::from_millis(every_ms) })
}

/// The SDR over the whole clip and in its worst 50 ms window (of those with signal).
fn global_and_worst(reference: &[Vec<f32>], estimate: &[Vec<f32>], rate: u32) -> (f64, f64) {
    let len = reference[0].len();
    let window = rate as usize / 20;
    let worst = (0..len / window)
        .map(|w| w * window..(w + 1) * window)
        .filter(|range| reference.iter().any(|c| c[range.clone()].iter().any(|x| x.abs() > 1e-3)))
        .map(|range| sdr_db(reference, estimate, range))
        .fold(f64::INFINITY, f64::min);
    (sdr_db(reference, estimate, 0..len), worst)
}

/// The largest step between two neighbouring samples of any channel.
fn largest_step(signal: &[Vec<f32>]) -> f32 {
    signal.iter().flat_map(|c| c.windows(2).map(|w| (w[1] - w[0]).abs())).fold(0.0, f32::max)
}

/// With masks that never change, a stall changes nothing: the audio thread separates the
/// samples the worker is late for with the same masks, on the same frames. (Before
/// concealment, the late samples fell back to the dry signal: the first stem went silent.)
#[test]
fn with_steady_masks_a_stall_changes_nothing() {
    let input = test_signal(3 * RATE as usize, 3);
    let reference = rendered(Box::new(StandIn::new(Behaviour::AllToFirst)), RATE, &input, None);
    // Spleeter's grid in `live`: a run's budget is 186 ms, so only longer stalls make it late;
    // 150 ms ones make it late for less than the hold limit (80 ms).
    let stalled = rendered(Box::new(StandIn::new(Behaviour::AllToFirst)), RATE, &input, stall(150, 1000));
    assert!(
        stalled.missed_samples > RATE as usize / 50,
        "the stalls made only {} samples late",
        stalled.missed_samples
    );
    for (s, (r, e)) in reference.stems.iter().zip(&stalled.stems).enumerate() {
        let difference = peak_difference_db(e, r);
        assert!(
            difference <= -60.0,
            "stem {s} differs by {difference:.1} dBFS over {} late samples",
            stalled.missed_samples
        );
    }
}

/// A streaming model whose masks follow the music (a recurrent smoother on a 1024/256 grid),
/// 20 ms stalls every 250 ms: every stem stays within the targets of the stall-free render
/// (>= 25 dB over the clip, >= 10 dB in its worst 50 ms window), the stems still sum to the
/// input, and no stall edge steps further than the stall-free render ever does.
#[test]
fn twenty_ms_stalls_are_not_heard_in_any_stem() {
    let input = test_signal(4 * RATE as usize, 7);
    let reference = rendered(Box::new(Recurrent::new(1, 0)), RATE, &input, None);
    let stalled = rendered(Box::new(Recurrent::new(1, 0)), RATE, &input, stall(20, 250));
    assert!(stalled.missed_samples > 0, "the stalls made no sample late");
    for (s, (r, e)) in reference.stems.iter().zip(&stalled.stems).enumerate() {
        let (global, worst) = global_and_worst(r, e, RATE);
        assert!(global >= 25.0 && worst >= 10.0, "stem {s}: {global:.1} dB over the clip, {worst:.1} dB at worst");
        let (steps, reference_steps) = (largest_step(e), largest_step(r));
        assert!(steps <= reference_steps * 1.2, "stem {s} steps by {steps} (stall-free: {reference_steps})");
    }
    let null = peak_difference_db(&sum_stems(&stalled.stems), &input);
    assert!(null <= -80.0, "the stems sum to the input within {null:.1} dBFS");
}

/// A model that stops answering for 1.6 s: the held masks carry the first 80 ms (the hold
/// limit), then the separated stem fades to silence (the residual takes the dry signal) without
/// a click, and comes back when the model answers again. Measured on a sine, where a click is a step larger
/// than the sine's own.
#[test]
fn a_model_that_stops_answering_fades_to_dry_and_back_without_a_click() {
    let frames = 9 * RATE as usize / 2;
    let sine: Vec<f32> =
        (0..frames).map(|i| 0.5 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / RATE as f32).sin()).collect();
    let input = vec![sine.clone(), sine];
    let stalled = rendered(Box::new(StandIn::new(Behaviour::AllToFirst)), RATE, &input, stall(1600, 2500));
    let first = &stalled.stems[0];
    // The sine's own largest step, with some room for the fade's slope.
    let sine_step = 0.5 * 2.0 * std::f32::consts::PI * 440.0 / RATE as f32;
    let step = largest_step(first);
    assert!(step <= sine_step * 1.05, "the first stem steps by {step} (the sine: {sine_step})");
    // From the first late sample: the hold limit's 80 ms of the sine on held masks (whole
    // 23 ms frames: 93 ms), then silence until the model is back (the stall outlasts the latency
    // by over a second), then the sine.
    let late = stalled.late_in_stems().next().expect("the stall made samples late");
    let level = |from: f64, to: f64| {
        let at = |s: f64| (late + (s * RATE as f64) as usize).min(frames);
        first[0][at(from)..at(to)].iter().fold(0.0f32, |p, x| p.max(x.abs()))
    };
    assert!(level(0.005, 0.06) > 0.45, "held masks should carry the first 80 ms, not {}", level(0.005, 0.06));
    assert!(level(0.3, 0.9) < 1e-3, "past the hold limit the stem should be silent, not {}", level(0.3, 0.9));
    let back = first[0][frames - RATE as usize / 4..].iter().fold(0.0f32, |p, x| p.max(x.abs()));
    assert!(back > 0.45, "the sine should be back in the first stem at the end, not {back}");
    let null = peak_difference_db(&sum_stems(&stalled.stems), &input);
    assert!(null <= -80.0, "the stems sum to the input within {null:.1} dBFS");
}

/// At a host rate other than the model's, the concealment runs on the host's grid with each
/// bin's mask at its frequency: close to the worker's stems, not equal.
#[test]
fn stalls_are_concealed_at_another_host_rate() {
    let rate = 48_000;
    let input = test_signal(3 * rate as usize, 5);
    let reference = rendered(Box::new(Recurrent::new(1, 0)), rate, &input, None);
    // The resamplers' chunks give the worker some slack: 40 ms stalls make it late.
    let stalled = rendered(Box::new(Recurrent::new(1, 0)), rate, &input, stall(40, 250));
    assert!(stalled.missed_samples > 0, "the stalls made no sample late");
    for (s, (r, e)) in reference.stems.iter().zip(&stalled.stems).enumerate() {
        let (global, worst) = global_and_worst(r, e, rate);
        assert!(global >= 25.0 && worst >= 10.0, "stem {s}: {global:.1} dB over the clip, {worst:.1} dB at worst");
    }
}
