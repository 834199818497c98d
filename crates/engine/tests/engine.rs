//! The engine's guarantees (docs/architecture.md), with stand-in models whose behaviour is known.

use sift_test_support as support;

use std::time::Duration;

use sift_engine::render::{render, Blocks};
use sift_engine::{
    AudioProcessor, Engine, EngineConfig, Extension, InferenceFailure, MaskModel, Mode, ModelInput, ModelOutput,
    ModelSpec, PassThrough,
};
use support::{peak_difference_db, sum_stems, test_signal, Behaviour, Recurrent, StandIn};

const RATE: u32 = 44_100;

fn separate(
    model: impl MaskModel + 'static,
    rate: u32,
    mode: Mode,
    blocks: &Blocks,
    input: &[Vec<f32>],
) -> Vec<Vec<Vec<f32>>> {
    let max = sift_engine::render::largest_block(blocks);
    let config = EngineConfig::new(rate, max).mode(mode).realtime(false);
    let (_engine, mut processor) = Engine::start(Box::new(model), config).expect("engine starts");
    render(&mut processor, input, rate, blocks, false, |_| {}).stems
}

/// Renders `input` and `latency` samples of silence through `processor` in 512-sample blocks,
/// calling `at_block(start, processor)` before each block (to swap a model or report a
/// transport jump there), and returns the two stems `[stem][channel]` aligned with the input.
fn render_blocks(
    processor: &mut AudioProcessor,
    input: &[Vec<f32>],
    mut at_block: impl FnMut(usize, &mut AudioProcessor),
) -> Vec<Vec<Vec<f32>>> {
    let latency = processor.latency();
    let total = input[0].len() + latency;
    let mut out = vec![vec![0.0f32; total]; 4];
    for start in (0..total).step_by(512) {
        at_block(start, processor);
        let end = (start + 512).min(total);
        let block: Vec<Vec<f32>> =
            input.iter().map(|c| (start..end).map(|i| c.get(i).copied().unwrap_or(0.0)).collect()).collect();
        let ins: Vec<&[f32]> = block.iter().map(Vec::as_slice).collect();
        let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|c| &mut c[start..end]).collect();
        processor.process(&ins, &mut outs);
    }
    (0..2).map(|stem| (0..2).map(|ch| out[stem * 2 + ch][latency..].to_vec()).collect()).collect()
}

#[test]
fn stems_sum_to_the_input() {
    let input = test_signal(3 * RATE as usize, 7);
    let stems = separate(StandIn::new(Behaviour::Scrambled), RATE, Mode::Live, &Blocks::Fixed(512), &input);
    let null = peak_difference_db(&sum_stems(&stems), &input);
    assert!(null <= -80.0, "sum of stems differs from the input by {null:.1} dBFS");
    // The stand-in really splits the signal: the first stem is neither silent nor everything.
    let vocals_vs_input = peak_difference_db(&stems[0], &input);
    assert!(vocals_vs_input > -20.0, "the stand-in model did not split anything");
}

#[test]
fn stems_sum_to_the_input_when_the_model_fails() {
    let input = test_signal(2 * RATE as usize, 3);
    let mut model = StandIn::new(Behaviour::Scrambled);
    model.fail_every = 2;
    let stems = separate(model, RATE, Mode::Live, &Blocks::Fixed(256), &input);
    assert!(peak_difference_db(&sum_stems(&stems), &input) <= -80.0);
}

#[test]
fn a_panicking_model_does_not_stop_the_engine() {
    let input = test_signal(2 * RATE as usize, 31);
    let mut model = StandIn::new(Behaviour::Scrambled);
    model.panic_every = 3;
    let stems = separate(model, RATE, Mode::Live, &Blocks::Fixed(512), &input);
    assert!(peak_difference_db(&sum_stems(&stems), &input) <= -80.0);
    // Runs that did not panic still separated.
    assert!(peak_difference_db(&stems[0], &vec![vec![0.0; input[0].len()]; 2]) > -40.0);
}

#[test]
fn stems_sum_to_the_input_under_deadline_misses() {
    // Every third run takes far longer than its budget, in a host-paced real-time render.
    let input = test_signal(4 * RATE as usize, 11);
    let mut model = StandIn::new(Behaviour::Scrambled);
    model.slow_every = 3;
    model.slow_for = Duration::from_millis(400);
    let config = EngineConfig::new(RATE, 128).mode(Mode::Live).realtime(true);
    let (engine, mut processor) = Engine::start(Box::new(model), config).unwrap();
    let rendered = render(&mut processor, &input, RATE, &Blocks::Fixed(128), true, |_| {});
    let misses = engine.shared().deadline_misses.load(std::sync::atomic::Ordering::Relaxed);
    assert!(misses > 0 && rendered.missed_samples > 0, "the slow model caused no deadline miss");
    let null = peak_difference_db(&sum_stems(&rendered.stems), &input);
    assert!(null <= -80.0, "with {misses} misses the sum differs by {null:.1} dBFS");
}

#[test]
fn output_does_not_depend_on_the_host_block_size() {
    let input = test_signal(RATE as usize * 3 / 2, 5);
    let reference = separate(StandIn::new(Behaviour::Scrambled), RATE, Mode::Live, &Blocks::Fixed(512), &input);
    let plans = [
        Blocks::Fixed(1),
        Blocks::Fixed(32),
        Blocks::Fixed(441),
        Blocks::Fixed(4096),
        Blocks::Random { max: 3000, seed: 9 },
    ];
    for blocks in plans {
        let stems = separate(StandIn::new(Behaviour::Scrambled), RATE, Mode::Live, &blocks, &input);
        assert!(stems == reference, "blocks {blocks:?} changed the output");
    }
}

/// An impulse comes out of the sum exactly `latency` samples later, and the separated stem
/// lines up with it too, in every mode and at 44.1, 48 and 96 kHz.
#[test]
fn latency_is_exact_in_every_mode_and_rate() {
    for rate in [44_100, 48_000, 96_000] {
        for mode in Mode::ALL {
            assert_impulse_lands_at_latency(rate, mode, StandIn::new(Behaviour::AllToFirst));
        }
    }
}

/// Hosts and validators try any rate from 1 to 768 kHz, odd ones too (a fractional 88 200.5 Hz
/// arrives rounded, as 88 201): the engine starts at every one and its latency stays exact.
#[test]
fn latency_is_exact_at_any_host_rate() {
    for rate in [1_000, 8_000, 11_025, 22_050, 88_201, 176_400, 352_800, 768_000] {
        assert_impulse_lands_at_latency(rate, Mode::Live, StandIn::new(Behaviour::AllToFirst));
    }
}

/// Renders an impulse through `model` and checks that it lands exactly `latency` samples later
/// in the sum of the stems and in the first (separated) stem, which the model must give it to.
fn assert_impulse_lands_at_latency(rate: u32, mode: Mode, model: impl MaskModel + 'static) {
    let config = EngineConfig::new(rate, 512).mode(mode).realtime(false).extension(Extension::EdgeBin);
    let (engine, mut processor) = Engine::start(Box::new(model), config).unwrap();
    let latency = engine.latency().samples;
    assert_eq!(processor.latency(), latency);
    let at = rate as usize / 3;
    let mut impulse = vec![vec![0.0f32; rate as usize]; 2];
    impulse[0][at] = 1.0;
    impulse[1][at] = -0.5;
    // Raw output, latency not removed: render the impulse followed by silence and look where it
    // lands.
    let padded: Vec<Vec<f32>> = impulse.iter().map(|c| [c.as_slice(), &vec![0.0; latency]].concat()).collect();
    let mut raw = vec![vec![0.0f32; padded[0].len()]; 4];
    {
        let ins: Vec<&[f32]> = padded.iter().map(Vec::as_slice).collect();
        let mut outs: Vec<&mut [f32]> = raw.iter_mut().map(Vec::as_mut_slice).collect();
        for start in (0..padded[0].len()).step_by(512) {
            let end = (start + 512).min(padded[0].len());
            let block_in: Vec<&[f32]> = ins.iter().map(|c| &c[start..end]).collect();
            let mut block_out: Vec<&mut [f32]> = outs.iter_mut().map(|c| &mut c[start..end]).collect();
            processor.process(&block_in, &mut block_out);
        }
    }
    for ch in 0..2 {
        let sum: Vec<f32> = raw[ch].iter().zip(&raw[2 + ch]).map(|(a, b)| a + b).collect();
        let peak = sum.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap().0;
        assert_eq!(peak, at + latency, "{rate} Hz {mode}: sum peaks at {peak}, expected {}", at + latency);
        assert!((sum[at + latency] - impulse[ch][at]).abs() < 1e-5, "{rate} Hz {mode}: impulse height changed");
        let stem = &raw[ch];
        let stem_peak = stem.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap().0;
        assert_eq!(
            stem_peak,
            at + latency,
            "{rate} Hz {mode}: separated stem peaks at {stem_peak}, expected {}",
            at + latency
        );
    }
}

/// A file render offline (`throughput`) keeps each frame's context but far more new frames per
/// run: with a model whose masks do not depend on the window, its stems are those of the host
/// schedule, from a tenth of the runs; its own latency is exact, and a host asking what the mode
/// costs still hears the host schedule's latency.
#[test]
fn a_file_render_gets_the_host_schedules_stems_from_far_fewer_runs() {
    let input = test_signal(4 * RATE as usize, 11);
    for mode in Mode::ALL {
        let mut runs = Vec::new();
        let mut outputs = Vec::new();
        let mut latencies = Vec::new();
        for throughput in [false, true] {
            let model = StandIn::new(Behaviour::FrameLocal);
            let config = EngineConfig::new(RATE, 512).mode(mode).realtime(false).throughput(throughput);
            let (engine, mut processor) = Engine::start(Box::new(model), config).unwrap();
            latencies.push((engine.latency().samples, engine.latency_in(mode).samples));
            outputs.push(render(&mut processor, &input, RATE, &Blocks::Fixed(512), false, |_| {}).stems);
            runs.push(engine.shared().model_runs.load(std::sync::atomic::Ordering::Relaxed));
        }
        let difference = peak_difference_db(&outputs[0][0], &outputs[1][0]);
        assert!(difference <= -100.0, "{mode}: throughput changed the vocals by {difference:.1} dBFS");
        assert!(runs[1] * 10 <= runs[0], "{mode}: {} runs for a file, {} in the host schedule", runs[1], runs[0]);
        assert!(latencies[1].0 > latencies[0].0, "{mode}: the throughput schedule's latency is not its own");
        assert_eq!(latencies[1].1, latencies[0].0, "{mode}: latency_in must give the host schedule's latency");
    }
    let spec = support::spleeter_spec();
    for mode in Mode::ALL {
        let (host, file) = (mode.schedule(&spec), mode.throughput_schedule(&spec));
        assert_eq!((file.past(), file.lookahead), (host.past(), host.lookahead), "{mode}: context changed");
        assert!(file.window >= 512 && file.window.is_multiple_of(spec.frame_multiple), "{mode}: {file:?}");
    }
    // A realtime engine ignores the request: its latency must be the host's.
    let config = EngineConfig::new(RATE, 512).mode(Mode::Live).realtime(true).throughput(true);
    let (engine, _processor) = Engine::start(Box::new(StandIn::new(Behaviour::FrameLocal)), config).unwrap();
    assert_eq!(engine.schedule(), &Mode::Live.schedule(&support::spleeter_spec()));
}

/// Through the resampler round trip a stem that takes everything equals the input within
/// the resampler's passband, and only at the right offset: it is aligned to the sample.
#[test]
fn resampled_stems_line_up_with_the_input() {
    for rate in [48_000, 96_000] {
        // 40 sines between 50 Hz and 15 kHz: inside every resampler's passband.
        let frames = rate as usize * 2;
        let input: Vec<Vec<f32>> = (0..2)
            .map(|ch| {
                (0..frames)
                    .map(|i| {
                        let t = i as f64 / rate as f64;
                        (0..40)
                            .map(|k| {
                                let f = 50.0 * (300.0f64).powf(k as f64 / 39.0);
                                0.02 * (2.0 * std::f64::consts::PI * f * t + (k * 7 + ch * 3) as f64).sin()
                            })
                            .sum::<f64>() as f32
                    })
                    .collect()
            })
            .collect();
        let config = EngineConfig::new(rate, 512).mode(Mode::Live).realtime(false).extension(Extension::EdgeBin);
        let (_engine, mut processor) = Engine::start(Box::new(StandIn::new(Behaviour::AllToFirst)), config).unwrap();
        let stems = render(&mut processor, &input, rate, &Blocks::Fixed(512), false, |_| {}).stems;
        // Compare away from the start, where the STFT and resampler are still filling.
        let snr_at = |shift: i64| {
            let (mut energy, mut error) = (0.0f64, 0.0f64);
            for (stem, reference) in stems[0].iter().zip(&input) {
                for i in rate as usize / 2..frames - 8 {
                    let x = reference[i] as f64;
                    energy += x * x;
                    error += (stem[(i as i64 + shift) as usize] as f64 - x).powi(2);
                }
            }
            10.0 * (energy / error).log10()
        };
        let aligned = snr_at(0);
        assert!(aligned > 40.0, "{rate} Hz: stem matches the input to only {aligned:.1} dB");
        for shift in [-1, 1] {
            assert!(snr_at(shift) < aligned - 10.0, "{rate} Hz: a shift of {shift} matches about as well");
        }
    }
}

#[test]
fn nan_and_infinite_input_never_reach_the_output() {
    let mut input = test_signal(RATE as usize, 17);
    for i in (0..input[0].len()).step_by(997) {
        input[0][i] = f32::NAN;
        input[1][i] = f32::INFINITY;
    }
    input[1][5000] = f32::NEG_INFINITY;
    let stems = separate(StandIn::new(Behaviour::Scrambled), RATE, Mode::Live, &Blocks::Fixed(512), &input);
    assert!(stems.iter().flatten().flatten().all(|x| x.is_finite()), "non-finite output");
}

#[test]
fn silence_gives_silence() {
    let input = vec![vec![0.0f32; RATE as usize]; 2];
    let stems = separate(StandIn::new(Behaviour::Scrambled), RATE, Mode::Live, &Blocks::Fixed(512), &input);
    assert!(stems.iter().flatten().flatten().all(|&x| x == 0.0));
}

#[test]
fn mono_input_gives_mono_stems_that_sum_to_it() {
    let input = vec![test_signal(RATE as usize, 19).remove(0)];
    let stems = separate(StandIn::new(Behaviour::Scrambled), RATE, Mode::Live, &Blocks::Fixed(300), &input);
    assert_eq!(stems[0].len(), 1);
    assert!(peak_difference_db(&sum_stems(&stems), &input) <= -80.0);
}

#[test]
fn unsupported_rates_and_block_sizes_are_refused() {
    for (rate, block) in [(999, 512), (768_001, 512), (44_100, 0)] {
        let result = Engine::start(Box::new(StandIn::new(Behaviour::Scrambled)), EngineConfig::new(rate, block));
        let message = result.err().map(|e| e.to_string()).expect("refused");
        assert!(message.contains("sample rate") || message.contains("block"), "{message}");
    }
}

#[test]
fn modes_trade_latency_for_context() {
    let latencies: Vec<usize> = Mode::ALL
        .iter()
        .map(|&mode| {
            let (engine, _) =
                Engine::start(Box::new(StandIn::new(Behaviour::Scrambled)), EngineConfig::new(RATE, 512).mode(mode))
                    .unwrap();
            engine.latency().samples
        })
        .collect();
    assert!(latencies.windows(2).all(|w| w[0] < w[1]), "{latencies:?}");
    // Live at 44.1 kHz: the exact formula, one hop per frame of new + look-ahead + overlap,
    // plus one run's budget.
    let s = Mode::Live.schedule(&ModelSpec::default_grid());
    assert_eq!(latencies[0], (s.new + s.lookahead) * 1024 + 4096 - 1024 - 1 + s.new * 1024);
}

/// Every mode keeps up on a slow machine: an engine fitted to the machine times its model first
/// and, where a run would take more than 60 % of a mode's budget, doubles that mode's new frames
/// per run (and its budget). An engine not fitted (an offline render) does not depend on the
/// machine. Every engine tells the host the latencies the other modes' engines will have, and
/// the modes keep their order.
#[test]
fn modes_double_their_budget_on_a_machine_too_slow_for_them() {
    let slow = || {
        let mut model = StandIn::new(Behaviour::Scrambled);
        // Another model as far as the engine's memory of measured models goes.
        model.spec.name = "slow-stand-in".into();
        model.slow_every = 1;
        // 75 % of live's 92.9 ms budget; a window twice as long is estimated at twice that.
        model.slow_for = Duration::from_millis(70);
        model
    };
    let start = |model: StandIn, mode: Mode, fit: bool| {
        let config = EngineConfig::new(RATE, 512).mode(mode).fit_to_machine(fit);
        Engine::start(Box::new(model), config).unwrap().0
    };
    // Spleeter's grid: (new + look-ahead)·hop + n_fft − hop − 1 + new·hop.
    let latency = |new: usize, lookahead: usize| (new + lookahead) * 1024 + 4096 - 1024 - 1 + new * 1024;
    let defaults = [latency(4, 2), latency(8, 8), latency(16, 32)];
    let stretched = [latency(8, 2), latency(16, 8), latency(32, 32)];
    for (m, mode) in Mode::ALL.into_iter().enumerate() {
        let fast = start(StandIn::new(Behaviour::Scrambled), mode, true);
        assert_eq!((fast.latency().samples, fast.stretch(mode)), (defaults[m], 1), "{mode} on a fast machine");
        let unfitted = start(slow(), mode, false);
        assert_eq!(unfitted.latency().samples, defaults[m], "{mode} must not stretch unless fitted to the machine");
        let fitted = start(slow(), mode, true);
        assert_eq!((fitted.latency().samples, fitted.stretch(mode)), (stretched[m], 2), "{mode} on a slow machine");
        let told: Vec<usize> = Mode::ALL.iter().map(|&other| fitted.latency_in(other).samples).collect();
        assert_eq!(told, stretched, "a {mode} engine tells the host other latencies than the modes will have");
    }
    assert!(stretched.windows(2).all(|w| w[0] < w[1]), "stretched modes lost their order: {stretched:?}");
    // A pass-through standing in for a model that did not load is not timed: it takes the
    // schedule last measured on its grid, so the host's delay compensation does not move.
    let config = EngineConfig::new(RATE, 512).mode(Mode::Balanced).fit_to_machine(true);
    let (dry, _) = Engine::start(Box::new(PassThrough::new(ModelSpec::default_grid())), config).unwrap();
    assert_eq!(dry.latency().samples, stretched[1], "a pass-through does not keep the measured model's latency");
}

/// A model swapped into a running engine takes over between two runs: the stems keep summing to
/// the input throughout, the new model's separation follows, and a model on another grid is
/// refused.
#[test]
fn models_swap_while_running() {
    let input = test_signal(4 * RATE as usize, 37);
    let config = EngineConfig::new(RATE, 512).mode(Mode::Live).realtime(false).extension(Extension::EdgeBin);
    let (mut engine, mut processor) = Engine::start(Box::new(StandIn::new(Behaviour::Scrambled)), config).unwrap();
    let mut swapped = false;
    let stems = render_blocks(&mut processor, &input, |start, _| {
        if !swapped && start >= input[0].len() / 2 {
            let mut other = StandIn::new(Behaviour::AllToFirst);
            other.spec.stems = vec!["vocals".into(), "drums".into()];
            let refused = engine.swap_model(Box::new(other));
            assert!(refused.is_err(), "a model with other stems must not swap in");
            assert!(engine.swap_model(Box::new(StandIn::new(Behaviour::AllToFirst))).is_ok());
            swapped = true;
        }
    });
    assert_eq!(engine.shared().model_swaps.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert!(peak_difference_db(&sum_stems(&stems), &input) <= -80.0, "the sum broke across the swap");
    let second = |signal: &[Vec<f32>], from: usize| -> Vec<Vec<f32>> {
        signal.iter().map(|c| c[from..from + RATE as usize].to_vec()).collect()
    };
    // Before the swap the scrambled split; in the last second everything is in the first stem.
    assert!(peak_difference_db(&second(&stems[0], 0), &second(&input, 0)) > -20.0);
    let last = input[0].len() - RATE as usize;
    assert!(
        peak_difference_db(&second(&stems[0], last), &second(&input, last)) <= -80.0,
        "the new model did not take over"
    );
}

// --- streaming (stateful) models --------------------------------------------------------------

/// The (frames per run, look-ahead) pairs the streaming tests cover: the causal one-frame model
/// the low-latency targets are about, several frames per run, and a lagging model.
const STREAMING: [(usize, usize); 3] = [(1, 0), (4, 0), (1, 2)];

/// A streaming model's impulse lands exactly at the latency in every mode and at 44.1, 48 and
/// 96 kHz, and a causal one-frame model on a 1024/256 grid is as fast as the formula says:
/// `n_fft − 1 + K·hop` samples (29.0 ms at 44.1 kHz) with host blocks of up to 256 samples.
#[test]
fn streaming_latency_is_exact_in_every_mode_and_rate() {
    for (k, lookahead) in STREAMING {
        for rate in [44_100, 48_000, 96_000] {
            for mode in Mode::ALL {
                assert_impulse_lands_at_latency(rate, mode, Recurrent::new(k, lookahead));
            }
        }
    }
    let live_latency = |max_block: usize| {
        let config = EngineConfig::new(RATE, max_block).mode(Mode::Live);
        Engine::start(Box::new(Recurrent::new(1, 0)), config).unwrap().0.latency().samples
    };
    assert_eq!(live_latency(256), 1024 - 1 + 256);
    // A host block longer than a run is the worker's budget: its stems are ready a block later.
    assert_eq!(live_latency(64), 1024 - 1 + 256);
    assert_eq!(live_latency(1024), 1024 - 1 + 1024);
    let latencies: Vec<usize> = Mode::ALL
        .iter()
        .map(|&mode| Engine::start(Box::new(Recurrent::new(1, 0)), EngineConfig::new(RATE, 512).mode(mode)))
        .map(|started| started.unwrap().0.latency().samples)
        .collect();
    assert!(latencies.windows(2).all(|w| w[0] < w[1]), "modes do not order the latency: {latencies:?}");
}

/// With a streaming model the stems still sum to the input, the model really separates, and
/// the output is the same for any host block size.
#[test]
fn streaming_stems_sum_to_the_input_at_any_block_size() {
    let input = test_signal(RATE as usize * 3 / 2, 41);
    for (k, lookahead) in STREAMING {
        let reference = separate(Recurrent::new(k, lookahead), RATE, Mode::Live, &Blocks::Fixed(512), &input);
        let null = peak_difference_db(&sum_stems(&reference), &input);
        assert!(null <= -80.0, "K={k} L={lookahead}: the stems differ from the input by {null:.1} dBFS");
        assert!(peak_difference_db(&reference[0], &input) > -20.0, "K={k} L={lookahead}: nothing was separated");
        for blocks in [Blocks::Fixed(1), Blocks::Fixed(64), Blocks::Fixed(1024), Blocks::Random { max: 3000, seed: 3 }]
        {
            let stems = separate(Recurrent::new(k, lookahead), RATE, Mode::Live, &blocks, &input);
            assert!(stems == reference, "K={k} L={lookahead}: blocks {blocks:?} changed the output");
        }
    }
}

/// The stems a streaming model gives match its closed form: the vocals of frame `f` are the
/// mixture masked by `s_f / (s_f + |X_f|)`, where `s` is the smoother over the frames up to
/// `f + look-ahead`. Checked through the one thing that must hold whatever the framing: a
/// steady sine, where every frame has the same magnitude `x`, so the smoother after `n`
/// frames is `x (1 − 2⁻ⁿ)` and the vocals settle at half the mixture.
#[test]
fn a_streaming_model_carries_its_state_from_run_to_run() {
    let frames = RATE as usize;
    let sine: Vec<f32> =
        (0..frames).map(|i| 0.5 * (i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 44_100.0).sin()).collect();
    let input = vec![sine.clone(), sine];
    for (k, lookahead) in STREAMING {
        let stems = separate(Recurrent::new(k, lookahead), RATE, Mode::Live, &Blocks::Fixed(256), &input);
        // Well after the start every frame is alike: the smoother has converged to x, so the
        // vocals mask is x / (x + x) = 1/2 at every bin.
        let settled = RATE as usize / 2..frames - 2048;
        for (vocals, mixture) in stems[0].iter().zip(&input) {
            let worst = settled.clone().map(|i| (vocals[i] - 0.5 * mixture[i]).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-4, "K={k} L={lookahead}: settled vocals differ from half the mixture by {worst}");
        }
        // Near the start a causal smoother is still rising (mask 1/3 on the first frame, then
        // more): a model without state would be at 1/2 at once. (A lagging one has already
        // seen the frames ahead, so its start is not comparable.)
        if lookahead > 0 {
            continue;
        }
        let early = 0..256;
        let ratio: f32 =
            early.clone().map(|i| stems[0][0][i].abs()).sum::<f32>() / early.map(|i| input[0][i].abs()).sum::<f32>();
        assert!(ratio < 0.45, "K={k} L={lookahead}: vocals are {ratio:.3} of the mixture at the start: no state?");
    }
}

/// On a transport jump the host reports, a streaming model forgets its state at the worker's
/// next run, and nothing else happens: the stems keep summing to the input and carry on
/// without a gap.
#[test]
fn a_transport_jump_resets_the_model_without_a_gap() {
    let input = test_signal(2 * RATE as usize, 59);
    for (k, lookahead) in STREAMING {
        let model = Recurrent::new(k, lookahead);
        let resets = model.resets.clone();
        let config = EngineConfig::new(RATE, 512).mode(Mode::Live).realtime(false);
        let (_engine, mut processor) = Engine::start(Box::new(model), config).unwrap();
        let jump = 512 * 86; // about a second in, on a block boundary
        let stems = render_blocks(&mut processor, &input, |start, processor| {
            if start == jump {
                processor.forget_state();
            }
        });
        assert_eq!(resets.load(std::sync::atomic::Ordering::Relaxed), 1, "K={k} L={lookahead}: no reset");
        let null = peak_difference_db(&sum_stems(&stems), &input);
        assert!(null <= -80.0, "K={k} L={lookahead}: the sum broke at the jump ({null:.1} dBFS)");
        // No gap: every 256-sample stretch of vocals around the jump has signal.
        for at in (jump - 4096..jump + 4096).step_by(256) {
            let energy: f32 = stems[0][0][at..at + 256].iter().map(|x| x * x).sum();
            assert!(energy > 1e-6, "K={k} L={lookahead}: the vocals drop out at sample {at} after the jump");
        }
    }
}

/// A streaming model swapped in mid-stream starts from its initial state, primed with the
/// frames its look-ahead needs: the sum never breaks and its masks line up with the stream, so
/// once the old state has decayed the stems are those of a model that ran all along.
#[test]
fn a_streaming_model_swapped_in_lines_up_with_the_stream() {
    let input = test_signal(3 * RATE as usize, 53);
    for (k, lookahead) in STREAMING {
        let reference = separate(Recurrent::new(k, lookahead), RATE, Mode::Live, &Blocks::Fixed(512), &input);
        let config = EngineConfig::new(RATE, 512).mode(Mode::Live).realtime(false);
        let (mut engine, mut processor) = Engine::start(Box::new(Recurrent::new(k, lookahead)), config).unwrap();
        let stems = render_blocks(&mut processor, &input, |start, _| {
            if start == 512 * 100 {
                assert!(engine.swap_model(Box::new(Recurrent::new(k, lookahead))).is_ok());
            }
        });
        assert_eq!(engine.shared().model_swaps.load(std::sync::atomic::Ordering::Relaxed), 1);
        let null = peak_difference_db(&sum_stems(&stems), &input);
        assert!(null <= -80.0, "K={k} L={lookahead}: the sum broke across the swap ({null:.1} dBFS)");
        let last =
            |s: &[Vec<f32>]| -> Vec<Vec<f32>> { s.iter().map(|c| c[c.len() - RATE as usize..].to_vec()).collect() };
        let drift = peak_difference_db(&last(&stems[0]), &last(&reference[0]));
        assert!(drift <= -90.0, "K={k} L={lookahead}: a second later the swapped-in model is off by {drift:.1} dBFS");
    }
}

/// A model on a fixed segment, like a waveform model, that asks for the window's complex spectra
/// and hands them back as its first stem's spectra ([`ModelOutput::Spectra`]).
struct SpectrumEcho(ModelSpec);

impl SpectrumEcho {
    fn new() -> Self {
        let grid = ModelSpec::default_grid();
        SpectrumEcho(ModelSpec {
            name: "spectrum-echo".into(),
            bins: grid.full_bins(),
            frame_multiple: 48,
            segment: Some(48),
            input: ModelInput::Spectrum,
            output: ModelOutput::Spectra,
            ..grid
        })
    }
}

impl MaskModel for SpectrumEcho {
    fn spec(&self) -> &ModelSpec {
        &self.0
    }

    fn provider(&self) -> &str {
        "test"
    }

    fn infer(&mut self, spectra: &[f32], _frames: usize, stems: &mut [f32]) -> Result<(), InferenceFailure> {
        // The first stem's block has the input's layout, `[channel][frame][bin][re, im]`.
        stems.fill(0.0);
        stems[..spectra.len()].copy_from_slice(spectra);
        Ok(())
    }
}

#[test]
fn a_model_that_hands_back_spectra_gets_exactly_them_in_every_mode() {
    let input = test_signal(3 * RATE as usize, 5);
    let silence = vec![vec![0.0f32; input[0].len()]; 2];
    for mode in Mode::ALL {
        assert_impulse_lands_at_latency(RATE, mode, SpectrumEcho::new());
        let stems = separate(SpectrumEcho::new(), RATE, mode, &Blocks::Fixed(441), &input);
        let echoed = peak_difference_db(&stems[0], &input);
        assert!(echoed < -80.0, "{mode}: the stem built from the echoed spectra is the mixture ({echoed:.1} dBFS off)");
        let residual = peak_difference_db(&stems[1], &silence);
        assert!(residual < -80.0, "{mode}: the residual keeps only rounding ({residual:.1} dBFS)");
    }
}
