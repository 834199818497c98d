//! The composed four-stem model (`spleeter+sift-4stem`: Spleeter's vocals, Sift's own drums,
//! bass and other), with the real models and the real runtime, on real music: its masks sum to
//! one in every bin, it splits exactly what Spleeter does between vocals and the rest, at
//! Spleeter's latency, its other stems are the own model's and in time with them, a reset
//! starts it over exactly, and a description that does not fit says why.

mod common;

use common::scratch;
use sift_test_support as support;

use std::path::{Path, PathBuf};

use sift_cli::audio_file;
use sift_cli::evaluation::global_sdr;
use sift_engine::render::{render, Blocks};
use sift_engine::{Engine, EngineConfig, MaskModel, Mode, SeparationCore};
use sift_inference::{InferenceError, Model, SessionOptions};

const RATE: u32 = 44_100;
const BLOCK: usize = 512;

/// The description as committed (its parts: the own model beside it, Spleeter installed).
fn description() -> PathBuf {
    support::repo_root().join("model/weights/spleeter+sift-4stem.compose.toml")
}

fn load(path: &Path) -> Model {
    Model::load(path, &SessionOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn spleeter() -> Model {
    load(&support::repo_root().join("models/spleeter-2stems.onnx"))
}

fn own() -> Model {
    load(&common::own_model())
}

/// The first `seconds` of the rock clip's mixture.
fn music(seconds: f64) -> Vec<Vec<f32>> {
    let mut audio = audio_file::read(&support::rock_clip().join("mixture.wav")).unwrap();
    let frames = (seconds * f64::from(audio.sample_rate)) as usize;
    audio.channels.iter_mut().for_each(|c| c.truncate(frames));
    audio.channels
}

/// An offline render of `model` in `mode` with the host's schedule (as a DAW bounce runs it),
/// and the engine's latency.
fn rendered(model: Model, mode: Mode, input: &[Vec<f32>]) -> (Vec<Vec<Vec<f32>>>, usize) {
    let config = EngineConfig::new(RATE, BLOCK).mode(mode).realtime(false);
    let (engine, mut processor) = Engine::start(Box::new(model), config).expect("engine starts");
    let latency = engine.latency().samples;
    (render(&mut processor, input, RATE, &Blocks::Fixed(BLOCK), false, |_| {}).stems, latency)
}

/// Spleeter's vocals, exactly, and the drums, bass and other summing to its accompaniment, at
/// its latency in `balanced` and `studio` (in `live` two frames later: the own model's stems of
/// a frame need four frames of look-ahead, Spleeter's `live` has two); every stem sums to the
/// mixture with the others.
#[test]
fn it_splits_what_spleeter_splits_at_its_latency() {
    let input = music(4.0);
    let (composed, latency) = rendered(load(&description()), Mode::Balanced, &input);
    let (spleeter_stems, spleeter_latency) = rendered(spleeter(), Mode::Balanced, &input);
    assert_eq!(latency, spleeter_latency, "balanced: the composed model's latency is not Spleeter's");
    let vocals = support::peak_difference_db(&composed[0], &spleeter_stems[0]);
    assert!(vocals <= -90.0, "the vocals differ from Spleeter's by {vocals:.1} dBFS");
    let rest = support::sum_stems(&composed[1..]);
    let accompaniment = support::peak_difference_db(&rest, &spleeter_stems[1]);
    assert!(
        accompaniment <= -90.0,
        "drums + bass + other differ from Spleeter's accompaniment by {accompaniment:.1} dBFS"
    );
    let null = support::peak_difference_db(&support::sum_stems(&composed), &input);
    assert!(null <= -80.0, "the stems differ from the mixture by {null:.1} dBFS");

    for (mode, extra_frames) in [(Mode::Studio, 0), (Mode::Live, 2)] {
        let latency_of = |model: Model| {
            let config = EngineConfig::new(RATE, BLOCK).mode(mode).realtime(false);
            Engine::start(Box::new(model), config).expect("engine starts").0.latency().samples
        };
        let (composed, spleeter) = (latency_of(load(&description())), latency_of(spleeter()));
        assert_eq!(composed, spleeter + extra_frames * 1024, "{mode}: composed {composed}, Spleeter {spleeter}");
    }
}

/// The drums, bass and other are the own model's, in time: each is closer to the own model's
/// stem of the same name (run alone) than to it a quarter or a whole hop earlier or later, and
/// close to it (they differ where Spleeter's vocal mask takes a share: most in `other`, which
/// the own model's weak vocals leak into).
#[test]
fn its_other_stems_are_the_own_models_in_time() {
    let input = music(4.0);
    let (composed, _) = rendered(load(&description()), Mode::Balanced, &input);
    let (own, _) = rendered(own(), Mode::Live, &input);
    let len = input[0].len();
    for (name, s) in [("drums", 1), ("bass", 2), ("other", 3)] {
        let shifted = |shift: i64| -> f64 {
            let at = |i: usize| (i as i64 + shift).clamp(0, len as i64 - 1) as usize;
            let moved: Vec<Vec<f32>> = own[s].iter().map(|c| (0..len).map(|i| c[at(i)]).collect()).collect();
            global_sdr(&moved, &composed[s])
        };
        let aligned = shifted(0);
        eprintln!("{name}: {aligned:.1} dB against the own model's alone");
        assert!(aligned >= 2.0, "{name}: only {aligned:.1} dB against the own model's {name}");
        for shift in [-1024, -256, 256, 1024] {
            let off = shifted(shift);
            eprintln!("  {shift} samples off: {off:.1} dB");
            assert!(aligned > off + 1.0, "{name}: {aligned:.1} dB in time, {off:.1} dB {shift} samples off");
        }
    }
}

/// Straight from the model: for every frame a run keeps, the four masks sum to one in every bin
/// (all 2049, above Spleeter's 1024 too), and are zero in the frames it does not keep; after a
/// reset the same stream gives the same masks, bit for bit.
#[test]
fn its_masks_sum_to_one_and_a_reset_starts_it_over() {
    let mut model = load(&description());
    let spec = model.spec().clone();
    assert_eq!(spec.stems, ["vocals", "drums", "bass", "other"]);
    let schedule = Mode::Balanced.schedule(&spec);
    model.follow(&schedule);
    // The engine's own core frames the music and runs the model, as the worker does.
    let input = music(4.0);
    let run_all = |model: &mut Model| -> Vec<Vec<f32>> {
        let mut core = SeparationCore::new(spec.clone(), schedule, sift_engine::Extension::default());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); core.output().len()];
        let (mut at, mut runs) = (0, 0);
        while at < input[0].len() {
            at += core.feed(&input[0][at..], &input[1][at..]);
            if core.run_due() {
                core.run(model).expect("the run succeeds");
                runs += 1;
                out.iter_mut().zip(core.output()).for_each(|(o, x)| o.extend_from_slice(x));
            }
        }
        assert!(runs >= 10, "only {runs} runs");
        out
    };
    let first = run_all(&mut model);
    model.reset();
    let again = run_all(&mut model);
    assert!(first == again, "after a reset the same music gave other stems");

    // The masks themselves, on one window of the music's spectra (taken from a fresh core).
    let frames = schedule.window;
    let full = spec.full_bins();
    let mut spectra = vec![0.0f32; 2 * frames * full * 2];
    for (ch, channel) in analyse(&input, spec.n_fft, spec.hop, frames).iter().enumerate() {
        for (f, frame) in channel.iter().enumerate() {
            for (b, x) in frame.iter().enumerate() {
                let at = ((ch * frames + f) * full + b) * 2;
                spectra[at] = x.re;
                spectra[at + 1] = x.im;
            }
        }
    }
    model.reset();
    let mut masks = vec![f32::NAN; spec.output_values(frames)];
    model.infer(&spectra, frames, &mut masks).expect("the run succeeds");
    let kept = schedule.past()..schedule.past() + schedule.new;
    for ch in 0..2 {
        for f in 0..frames {
            for b in 0..full {
                let sum: f32 = (0..4).map(|s| masks[((s * 2 + ch) * frames + f) * full + b]).sum();
                let expected = if kept.contains(&f) { 1.0 } else { 0.0 };
                assert!((sum - expected).abs() < 1e-5, "channel {ch}, frame {f}, bin {b}: the masks sum to {sum}");
            }
        }
    }
}

/// The periodic-Hann spectra of the first `frames` frames of `input`, `[channel][frame][bin]`.
fn analyse(
    input: &[Vec<f32>],
    n_fft: usize,
    hop: usize,
    frames: usize,
) -> Vec<Vec<Vec<realfft::num_complex::Complex32>>> {
    let mut analysis = sift_engine::Analysis::new(n_fft);
    input
        .iter()
        .map(|channel| {
            (0..frames)
                .map(|f| {
                    let mut spectrum = vec![realfft::num_complex::Complex32::default(); n_fft / 2 + 1];
                    analysis.transform(&channel[f * hop..f * hop + n_fft], &mut spectrum);
                    spectrum
                })
                .collect()
        })
        .collect()
}

/// A description that does not parse, names a model that is not there, or composes models that
/// do not fit is refused with a message that says which and why.
#[test]
fn a_description_that_does_not_fit_says_why() {
    let dir = scratch("descriptions");
    let cases = [
        (
            "typo",
            "vocals = \"spleeter-2stems\"\nrest = \"sift-4stem\"\nshare = \"power\"\nextra = 1\n",
            "unknown field",
        ),
        ("bad-share", "vocals = \"spleeter-2stems\"\nrest = \"sift-4stem\"\nshare = \"loudest\"\n", "share"),
        ("swapped", "vocals = \"sift-4stem\"\nrest = \"spleeter-2stems\"\nshare = \"power\"\n", "windowed two-stem"),
        ("missing", "vocals = \"spleeter-2stems\"\nrest = \"no-such-model\"\nshare = \"power\"\n", "no-such-model"),
    ];
    for (name, text, expected) in cases {
        let path = dir.join(format!("{name}.compose.toml"));
        std::fs::write(&path, text).unwrap();
        let said = match Model::load(&path, &SessionOptions::default()) {
            Ok(_) => panic!("{name}: loaded"),
            Err(error @ (InferenceError::Composition { .. } | InferenceError::UnknownModel { .. })) => {
                error.to_string()
            }
            Err(other) => panic!("{name}: refused for another reason: {other}"),
        };
        assert!(said.contains(expected), "{name}: expected `{expected}` in: {said}");
    }
}
