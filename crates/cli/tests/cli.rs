//! The `sift` command line end to end, with the real ONNX Runtime: real music, bad input.

mod common;

use common::{json_of, scratch, separate, sift, text};
use sift_test_support as support;

use std::path::{Path, PathBuf};

use sift_cli::audio_file::{self, Audio};

/// Runs `sift separate` and returns its JSON report, failing the test with its output if it
/// did not succeed.
fn separate_ok(input: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    json_of(&separate(input, out, extra))
}

/// Runs `sift separate` expecting a clean failure whose message contains `expected`.
fn separate_fails(input: &Path, extra: &[&str], env: &[(&str, &str)], expected: &str) {
    let out = scratch("refused");
    let output =
        sift().arg("separate").arg(input).arg("-o").arg(&out).args(extra).envs(env.iter().copied()).output().unwrap();
    let said = text(&output);
    assert_eq!(output.status.code(), Some(2), "expected a clean error exit:\n{said}");
    assert!(said.contains(expected), "expected `{expected}` in:\n{said}");
    assert!(!said.contains("panicked"), "it panicked:\n{said}");
}

fn write_input(dir: &Path, name: &str, audio: &Audio) -> PathBuf {
    let path = dir.join(name);
    audio_file::write_wav(&path, audio).unwrap();
    path
}

#[test]
fn studio_mode_separates_real_music_well() {
    let clip = support::rock_clip();
    let out = scratch("studio");
    let report = separate_ok(&clip.join("mixture.wav"), &out, &["--model", "spleeter-2stems", "--mode", "studio"]);
    for key in
        ["model", "stems", "mode", "latency_samples", "sample_rate", "seconds", "rtf", "deadline_misses", "provider"]
    {
        assert!(report.get(key).is_some(), "JSON lacks `{key}`: {report}");
    }
    assert_eq!(report["provider"], "CPU");
    assert_eq!(report["model"], "spleeter-2stems");
    let input = audio_file::read(&clip.join("mixture.wav")).unwrap();
    for stem in ["vocals", "accompaniment"] {
        let audio = audio_file::read(&out.join(format!("{stem}.wav"))).unwrap();
        assert_eq!((audio.sample_rate, audio.channels.len(), audio.frames()), (input.sample_rate, 2, input.frames()));
    }
    let scores = sift_cli::evaluation::evaluate_dir(&clip, &out).unwrap();
    let sdr = |stem: &str| scores.iter().find(|s| s.stem == stem).map(|s| s.sdr).unwrap();
    // Full-context Spleeter reaches 11.2 / 12.9 dB on this clip.
    assert!(sdr("vocals") >= 10.0, "vocals SDR {:.2} dB", sdr("vocals"));
    assert!(sdr("accompaniment") >= 11.0, "accompaniment SDR {:.2} dB", sdr("accompaniment"));
}

/// Offline, `separate` runs the throughput schedule (each frame's context of the mode, many more
/// new frames per run) unless `--schedule host` asks for exactly a host's; both separate the
/// clip well and report the mode's latency in a host.
#[test]
fn file_renders_run_far_fewer_model_runs_unless_the_host_schedule_is_asked_for() {
    let clip = support::rock_clip();
    let mut runs = Vec::new();
    for schedule in ["throughput", "host"] {
        let out = scratch(&format!("schedule-{schedule}"));
        let args = ["--model", "spleeter-2stems", "--mode", "balanced", "--schedule", schedule];
        let report = separate_ok(&clip.join("mixture.wav"), &out, &args);
        assert_eq!(report["schedule"]["kind"], schedule, "{report}");
        assert_eq!(report["latency_samples"], 27647, "{report}");
        runs.push(report["model_runs"].as_u64().unwrap());
        let scores = sift_cli::evaluation::evaluate_dir(&clip, &out).unwrap();
        for s in &scores {
            // Host: 12.33 / 13.96 dB, throughput 11.98 / 13.61 (README, "Offline renders").
            assert!(s.sdr >= 11.0, "{schedule}: {} SDR {:.2} dB", s.stem, s.sdr);
        }
    }
    assert!(runs[0] * 10 <= runs[1], "throughput made {} runs, the host schedule {}", runs[0], runs[1]);
}

#[test]
fn real_model_output_does_not_depend_on_block_size() {
    let clip = support::rock_clip();
    let mut previous: Option<Vec<Audio>> = None;
    for block in ["441", "4096"] {
        let out = scratch(&format!("blocks-{block}"));
        separate_ok(
            &clip.join("mixture.wav"),
            &out,
            &["--model", "spleeter-2stems", "--mode", "live", "--block", block],
        );
        let stems: Vec<Audio> = ["vocals", "accompaniment"]
            .iter()
            .map(|s| audio_file::read(&out.join(format!("{s}.wav"))).unwrap())
            .collect();
        if let Some(previous) = &previous {
            for (a, b) in previous.iter().zip(&stems) {
                assert!(a.channels == b.channels, "block {block} changed the output");
            }
        }
        previous = Some(stems);
    }
}

#[test]
fn music_at_48_khz_separates_as_well_as_at_44_1() {
    // Resample the clip and its references to 48 kHz with the engine's own resampler type,
    // then check the vocals come out about as well: the rate bridge keeps them aligned.
    let clip = support::rock_clip();
    let dir = scratch("rate48");
    let refs = dir.join("reference");
    for name in ["mixture", "vocals", "drums", "bass", "other"] {
        let audio = audio_file::read(&clip.join(format!("{name}.wav"))).unwrap();
        let mut stage = sift_engine::resample::Stage::new(44_100, 48_000, 1024, 2).unwrap();
        let mut channels = vec![Vec::new(); 2];
        let padded: Vec<Vec<f32>> = audio.channels.iter().map(|c| [c.as_slice(), &vec![0.0; 8192]].concat()).collect();
        let mut offset = 0;
        while offset < padded[0].len() {
            offset += stage.fill(padded.iter().map(Vec::as_slice), offset);
            if stage.ready() {
                for (c, o) in channels.iter_mut().zip(stage.process()) {
                    c.extend_from_slice(o);
                }
            }
        }
        let delay = stage.output_delay();
        let frames = audio.frames() * 48_000 / 44_100;
        let channels = channels.iter().map(|c| c[delay..delay + frames].to_vec()).collect();
        write_input(&refs, &format!("{name}.wav"), &Audio { sample_rate: 48_000, channels });
    }
    let out = dir.join("out");
    let report = separate_ok(&refs.join("mixture.wav"), &out, &["--mode", "balanced"]);
    assert_eq!(report["sample_rate"], 48_000);
    let scores = sift_cli::evaluation::evaluate_dir(&refs, &out).unwrap();
    let vocals = scores.iter().find(|s| s.stem == "vocals").unwrap().sdr;
    assert!(vocals >= 10.0, "vocals at 48 kHz: {vocals:.2} dB");
}

#[test]
fn a_missing_runtime_library_is_a_clear_error() {
    let input = support::rock_clip().join("mixture.wav");
    separate_fails(
        &input,
        &[],
        &[("SIFT_ORT_DYLIB", "/nonexistent/libonnxruntime.so")],
        "ONNX Runtime library was not found",
    );
}

#[test]
fn a_broken_runtime_library_is_a_clear_error() {
    let dir = scratch("broken-lib");
    let lib = dir.join("libonnxruntime.so.1.31.1");
    std::fs::write(&lib, b"not a shared library").unwrap();
    let input = support::rock_clip().join("mixture.wav");
    separate_fails(&input, &[], &[("SIFT_ORT_DYLIB", lib.to_str().unwrap())], "could not be loaded");
}

/// Runs `sift separate` on the real clip with each test model of `make_test_models.py` named in
/// `cases`, expecting a clean failure whose message contains the case's text.
fn test_models_are_refused(cases: &[(&str, &str)]) {
    let input = support::rock_clip().join("mixture.wav");
    for (model, expected) in cases {
        let path = support::test_models().join(format!("{model}.onnx"));
        separate_fails(&input, &["--model", path.to_str().unwrap()], &[], expected);
    }
}

#[test]
fn broken_and_mismatched_models_are_rejected_with_the_reason() {
    test_models_are_refused(&[
        ("garbage", "is not a usable ONNX model"),
        ("no-metadata", "`sift.contract` is missing"),
        ("missing-stems-key", "`sift.stems` is missing"),
        ("wrong-contract-version", "`sift.contract` is `99`"),
        ("wrong-input-bins", "input `magnitude` has shape"),
        ("wrong-stem-count", "output `masks` has shape"),
        ("waveform-output", "`sift.output_kind` `waveform` is not supported"),
        ("stream-missing-state-output", "the model has no state output tensor `nope`"),
        ("stream-state-count-mismatch", "`sift.state_inputs` names 2 tensors and `sift.state_outputs` 1"),
        ("stream-bad-lookahead", "`sift.lookahead` must be a whole number of frames"),
        ("stream-frames-mismatch", "input `magnitude` has shape"),
        ("stream-v1-streaming", "`sift.streaming` needs `sift.contract` 2"),
        ("does-not-exist", "does not exist"),
    ]);
    let input = support::rock_clip().join("mixture.wav");
    separate_fails(&input, &["--model", "no-such-model"], &[], "no installed model is called `no-such-model`");
}

/// Hostile model files (`model/make_test_models.py`): one that declares a grid no machine has
/// the memory for is refused with the reason before anything is allocated for it (until Dec 7
/// the engine's allocation aborted the process, a crash in a host), one whose output is a frame
/// short is refused at load, and one whose masks are all NaN is contained: the stems are finite,
/// the whole mixture is in the residual stem, and the user is told.
#[test]
fn hostile_models_are_refused_or_contained() {
    test_models_are_refused(&[
        ("hostile-huge-fft", "`sift.n_fft` 1099511627776 is over the 32768 samples"),
        ("hostile-huge-window", "`sift.frame_multiple` asks for 1000000000 frames, over the 4096"),
        ("hostile-huge-lookahead", "`sift.lookahead` asks for 1000000000 frames"),
        ("hostile-huge-run", "would take 12288 MiB, over the 1024 MiB"),
        // Its shapes allow it; the test run on silence at load shows its output is a frame short.
        ("hostile-short-output", "a test run failed: output has 258048 values, expected 262144"),
    ]);

    let input = support::rock_clip().join("mixture.wav");
    let out = scratch("nan-masks");
    let model = support::test_models().join("hostile-nan-masks.onnx");
    let output = separate(&input, &out, &["--model", model.to_str().unwrap()]);
    let report = json_of(&output);
    assert!(report["model_runs"].as_u64() > Some(0), "{report}");
    assert_eq!(report["runs_with_unusable_values"], report["model_runs"], "{report}");
    assert!(text(&output).contains("the model gave NaN or infinite values"), "no warning:\n{}", text(&output));
    let mixture = audio_file::read(&input).unwrap().channels;
    let stem = |name: &str| audio_file::read(&out.join(format!("{name}.wav"))).unwrap().channels;
    let (vocals, accompaniment) = (stem("vocals"), stem("accompaniment"));
    assert!(vocals.iter().flatten().all(|&s| s == 0.0), "the vocals of NaN masks are not silence");
    let difference = support::peak_difference_db(&accompaniment, &mixture);
    assert!(difference <= -80.0, "the residual is not the mixture: {difference:.1} dBFS apart");
}

/// A contract-2 streaming model separates real music from the command line with the latency
/// of its formula (`n_fft − 1 + K·hop` = 1279 samples, 29.0 ms, with 256-sample blocks), stems
/// that sum to the mixture,
/// and exactly the stems of the engine running the same recurrence in Rust.
#[test]
fn a_streaming_model_separates_with_its_short_latency() {
    let clip = support::rock_clip();
    let out = scratch("streaming");
    let model = support::test_models().join("stream-smoother.onnx");
    let args = ["--model", model.to_str().unwrap(), "--mode", "live", "--block", "256"];
    let report = separate_ok(&clip.join("mixture.wav"), &out, &args);
    assert_eq!(report["latency_samples"], 1279, "{report}");
    let input = audio_file::read(&clip.join("mixture.wav")).unwrap();
    let stems: Vec<Vec<Vec<f32>>> = ["vocals", "accompaniment"]
        .iter()
        .map(|stem| audio_file::read(&out.join(format!("{stem}.wav"))).unwrap().channels)
        .collect();
    let null = support::peak_difference_db(&support::sum_stems(&stems), &input.channels);
    assert!(null <= -80.0, "the stems differ from the mixture by {null:.1} dBFS");
    let config = sift_engine::EngineConfig::new(44_100, 512).mode(sift_engine::Mode::Live).realtime(false);
    let (_engine, mut processor) = sift_engine::Engine::start(Box::new(support::Recurrent::new(1, 0)), config).unwrap();
    let blocks = sift_engine::render::Blocks::Fixed(512);
    let expected = sift_engine::render::render(&mut processor, &input.channels, 44_100, &blocks, false, |_| {}).stems;
    let difference = support::peak_difference_db(&stems[0], &expected[0]);
    assert!(difference <= -90.0, "the ONNX model's vocals differ from the recurrence's by {difference:.1} dBFS");
}

/// With no `--model`, `live` runs Sift's own four-stem model where setup installed it (29 ms and
/// four stems, where Spleeter would take 300 ms for two), and `balanced` and `studio` the
/// composed four-stem model (Spleeter's vocals, the own model's drums, bass and other) at
/// Spleeter's latency.
#[test]
fn every_mode_runs_four_stems_when_no_model_is_named() {
    let clip = support::rock_clip();
    for (mode, model, latency) in [
        ("live", "sift-4stem", 1279),
        ("balanced", "spleeter+sift-4stem", 27647),
        ("studio", "spleeter+sift-4stem", 68607),
    ] {
        let out = scratch(&format!("{mode}-default"));
        let report = separate_ok(&clip.join("mixture.wav"), &out, &["--mode", mode, "--block", "256"]);
        assert_eq!(report["model"], model, "{report}");
        assert_eq!(report["latency_samples"], latency, "{report}");
        for stem in ["vocals", "drums", "bass", "other"] {
            assert!(out.join(format!("{stem}.wav")).is_file(), "{mode}: no {stem}.wav: {report}");
        }
    }
}

/// Sift's own four-stem model as committed (`model/weights/sift-4stem.onnx`, what setup installs
/// and the plugins ship): in `live` on the real clip it gives vocals, drums, bass and other at the
/// streaming latency, the stems sum to the mixture, each stem is closer to its reference than
/// the mixture itself is (no separation at all), and the separation does not depend on the
/// input's gain (the network divides its input by its own running level).
#[test]
fn the_own_four_stem_model_separates_real_music_live_at_any_gain() {
    let clip = support::rock_clip();
    let model = common::own_model();
    let args = ["--model", model.to_str().unwrap(), "--mode", "live", "--block", "128"];
    let out = scratch("own-model");
    let report = separate_ok(&clip.join("mixture.wav"), &out, &args);
    assert_eq!(report["model"], "sift-4stem", "{report}");
    assert_eq!(report["stems"], serde_json::json!(["vocals", "drums", "bass", "other"]), "{report}");
    assert_eq!(report["licence"], "GPL-3.0-or-later", "{report}");
    assert_eq!(report["latency_samples"], 1279, "{report}");

    let input = audio_file::read(&clip.join("mixture.wav")).unwrap();
    let read_stems = |dir: &Path| -> Vec<Vec<Vec<f32>>> {
        ["vocals", "drums", "bass", "other"]
            .iter()
            .map(|stem| audio_file::read(&dir.join(format!("{stem}.wav"))).unwrap().channels)
            .collect()
    };
    let stems = read_stems(&out);
    let null = support::peak_difference_db(&support::sum_stems(&stems), &input.channels);
    assert!(null <= -80.0, "the stems differ from the mixture by {null:.1} dBFS");
    let scores = sift_cli::evaluation::evaluate_dir(&clip, &out).unwrap();
    for stem in ["vocals", "drums", "bass", "other"] {
        let reference = audio_file::read(&clip.join(format!("{stem}.wav"))).unwrap().channels;
        let unseparated = sift_cli::evaluation::global_sdr(&reference, &input.channels);
        let sdr = scores.iter().find(|s| s.stem == stem).map(|s| s.sdr).unwrap();
        eprintln!("{stem}: SDR {sdr:.2} dB, the mixture as the estimate {unseparated:.2} dB");
        assert!(sdr > unseparated + 1.0, "{stem}: SDR {sdr:.2} dB, no better than the mixture's {unseparated:.2} dB");
    }

    // 20 dB quieter in, 20 dB quieter out, and otherwise the same stems.
    let gain = 0.1f32;
    let scratch_dir = scratch("own-model-quiet");
    let quiet = Audio {
        sample_rate: input.sample_rate,
        channels: input.channels.iter().map(|c| c.iter().map(|x| x * gain).collect()).collect(),
    };
    let quiet_input = write_input(&scratch_dir, "quiet.wav", &quiet);
    let quiet_out = scratch_dir.join("stems");
    separate_ok(&quiet_input, &quiet_out, &args);
    let restored: Vec<Vec<Vec<f32>>> = read_stems(&quiet_out)
        .into_iter()
        .map(|stem| stem.into_iter().map(|c| c.into_iter().map(|x| x / gain).collect()).collect())
        .collect();
    for (name, (loud, quiet)) in ["vocals", "drums", "bass", "other"].iter().zip(stems.iter().zip(&restored)) {
        let difference = support::peak_difference_db(loud, quiet);
        assert!(difference <= -40.0, "{name} at -20 dB differs by {difference:.1} dBFS from the stem at full level");
    }
}

#[test]
fn odd_files_are_handled() {
    let dir = scratch("odd");
    let tiny = support::test_models().join("tiny-valid.onnx");
    let tiny = tiny.to_str().unwrap();
    // Empty: a clear error.
    let empty = write_input(&dir, "empty.wav", &Audio { sample_rate: 44_100, channels: vec![vec![], vec![]] });
    separate_fails(&empty, &["--model", tiny], &[], "empty");
    // Six channels: a clear error.
    let six = write_input(&dir, "six.wav", &Audio { sample_rate: 44_100, channels: vec![vec![0.1; 1000]; 6] });
    separate_fails(&six, &["--model", tiny], &[], "6 channels");
    // Not audio at all.
    let junk = dir.join("junk.wav");
    std::fs::write(&junk, b"RIFF nonsense").unwrap();
    separate_fails(&junk, &["--model", tiny], &[], "junk.wav");
    // One sample, and mono at 96 kHz: separated, same shape out.
    for (name, audio) in [
        ("one.wav", Audio { sample_rate: 44_100, channels: vec![vec![0.5], vec![-0.5]] }),
        ("mono96.wav", Audio { sample_rate: 96_000, channels: vec![support::test_signal(96_000, 3).remove(0)] }),
    ] {
        let input = write_input(&dir, name, &audio);
        let out = dir.join(format!("{name}-out"));
        separate_ok(&input, &out, &["--model", tiny, "--mode", "live"]);
        let mut sum = vec![0.0f32; audio.frames()];
        for stem in ["vocals", "accompaniment"] {
            let got = audio_file::read(&out.join(format!("{stem}.wav"))).unwrap();
            assert_eq!(
                (got.sample_rate, got.channels.len(), got.frames()),
                (audio.sample_rate, audio.channels.len(), audio.frames()),
                "{name}"
            );
            sum.iter_mut().zip(&got.channels[0]).for_each(|(s, x)| *s += x);
        }
        let null = support::peak_difference_db(&[sum], &audio.channels[..1]);
        assert!(null <= -80.0, "{name}: stems differ from the input by {null:.1} dBFS");
    }
}

#[test]
fn eval_scores_a_separation() {
    // Perfect estimates score infinitely well; a silent estimate scores 0 dB.
    let clip = support::rock_clip();
    let dir = scratch("eval");
    let vocals = audio_file::read(&clip.join("vocals.wav")).unwrap();
    write_input(&dir, "vocals.wav", &vocals);
    let silent = Audio { sample_rate: vocals.sample_rate, channels: vec![vec![0.0; vocals.frames()]; 2] };
    write_input(&dir, "drums.wav", &silent);
    let output = sift().args(["eval", "--reference"]).arg(&clip).arg(&dir).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(report["sdr"]["drums"]["sdr"].as_f64(), Some(0.0));
    assert_eq!(report["sdr"]["vocals"]["sdr"], "inf");
}

#[test]
fn magnitude_models_are_adapted_to_masks() {
    // The same tiny network declared as giving masks and as giving stem magnitudes: the
    // magnitude reading squares them into ratio masks, so the split differs, and both sum to
    // the input.
    let dir = scratch("magnitude");
    let audio = Audio { sample_rate: 44_100, channels: support::test_signal(44_100, 29) };
    let input = write_input(&dir, "in.wav", &audio);
    let mut vocals = Vec::new();
    for kind in ["tiny-valid", "tiny-magnitude"] {
        let out = dir.join(kind);
        let model = support::test_models().join(format!("{kind}.onnx"));
        separate_ok(&input, &out, &["--model", model.to_str().unwrap(), "--mode", "live"]);
        let stems: Vec<Vec<Vec<f32>>> = ["vocals", "accompaniment"]
            .iter()
            .map(|s| audio_file::read(&out.join(format!("{s}.wav"))).unwrap().channels)
            .collect();
        assert!(support::peak_difference_db(&support::sum_stems(&stems), &audio.channels) <= -80.0, "{kind}");
        vocals.push(stems[0].clone());
    }
    assert!(support::peak_difference_db(&vocals[0], &vocals[1]) > -40.0, "the output kind made no difference");
}
