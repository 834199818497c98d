//! What `sift separate` does to the files around it: it fails before any work on a bad output,
//! never overwrites its input or writes through a link, never mixes two runs' stems, leaves no
//! truncated stem on a write failure or a signal, streams long files in constant memory, and
//! says what went wrong once. Also `sift eval`'s honesty and `sift models`' checks. Every file
//! is made by the test.

mod common;

use common::{json_of, scratch, separate, sift, text};
use sift_test_support as support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sift_cli::audio_file::{self, Audio};

fn model(name: &str) -> String {
    support::test_models().join(format!("{name}.onnx")).to_str().unwrap().to_owned()
}

/// Asserts a clean failure: exit code 2, one line on stderr containing `expected`.
fn assert_fails(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "expected a clean error:\n{}", text(output));
    assert!(stderr.contains(expected), "expected `{expected}` in:\n{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Asserts that `output` said `expected` on stderr (a warning or an error), showing all it
/// said if not.
fn assert_said(output: &Output, expected: &str) {
    assert!(String::from_utf8_lossy(&output.stderr).contains(expected), "expected `{expected}` in:\n{}", text(output));
}

/// A stereo test signal of `seconds` at 44.1 kHz written as a float WAV.
fn input(dir: &Path, name: &str, seconds: usize) -> PathBuf {
    let path = dir.join(name);
    audio_file::write_wav(&path, &Audio { sample_rate: 44_100, channels: support::test_signal(44_100 * seconds, 7) })
        .unwrap();
    path
}

/// Names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn a_bad_output_folder_fails_at_once_before_the_model_loads() {
    let dir = scratch("bad-output");
    let song = input(&dir, "song.wav", 1);
    let file = dir.join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    for (out, expected) in [
        (file.clone(), "the output must be a folder, but this is a file"),
        (file.join("sub"), "cannot create the output folder"),
    ] {
        let started = Instant::now();
        // The default model (Spleeter) takes a second or more to load: failing sooner shows
        // the output was checked first.
        let output = separate(&song, &out, &[]);
        assert_fails(&output, expected);
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a folder");
}

#[test]
fn existing_stems_need_force_and_two_runs_never_mix() {
    let dir = scratch("force");
    let song = input(&dir, "song.wav", 2);
    let out = dir.join("out");
    json_of(&separate(&song, &out, &["--model", &model("tiny-three-stems"), "--mode", "live"]));
    assert_eq!(listing(&out), ["accompaniment.wav", "drums.wav", "sift-stems.json", "vocals.wav"]);
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::copy(&song, out.join("song.wav")).unwrap();
    let vocals_before = std::fs::read(out.join("vocals.wav")).unwrap();

    // Another model into the same folder: refused, naming the files, and nothing changes.
    let output = separate(&song, &out, &["--model", &model("tiny-valid"), "--mode", "live"]);
    assert_fails(&output, "already holds stems: vocals.wav, accompaniment.wav, and the previous run's drums.wav");
    assert!(text(&output).contains("--force"));
    assert_eq!(std::fs::read(out.join("vocals.wav")).unwrap(), vocals_before);

    // With --force: the new stems replace the old, the previous run's drums go, the user's own
    // files stay.
    let report = json_of(&separate(&song, &out, &["--model", &model("tiny-valid"), "--mode", "live", "--force"]));
    assert_eq!(listing(&out), ["accompaniment.wav", "notes.txt", "sift-stems.json", "song.wav", "vocals.wav"]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sift-stems.json")).unwrap()).unwrap();
    assert_eq!(manifest["files"], serde_json::json!(["vocals.wav", "accompaniment.wav"]));
    assert_eq!(manifest["model"], report["model"]);
    assert_ne!(std::fs::read(out.join("vocals.wav")).unwrap(), vocals_before);
}

#[test]
fn the_input_and_link_targets_are_never_written() {
    let dir = scratch("input-safety");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let tiny = model("tiny-valid");
    let args = ["--model", tiny.as_str(), "--mode", "live"];
    // The input is one of the stems this run would write, however the folder is spelt.
    let own = input(&out, "vocals.wav", 1);
    let before = std::fs::read(&own).unwrap();
    for (o, force) in [(out.clone(), false), (out.clone(), true), (out.join("../out"), true)] {
        let extra: Vec<&str> = args.iter().copied().chain(force.then_some("--force")).collect();
        assert_fails(&separate(&own, &o, &extra), "refusing to overwrite the input");
    }
    assert_eq!(std::fs::read(&own).unwrap(), before);
    // A hard link to the input at a stem's name.
    let linked = dir.join("linked");
    std::fs::create_dir_all(&linked).unwrap();
    let song = input(&dir, "song.wav", 1);
    std::fs::hard_link(&song, linked.join("accompaniment.wav")).unwrap();
    let extra: Vec<&str> = args.iter().copied().chain(["--force"]).collect();
    assert_fails(&separate(&song, &linked, &extra), "refusing to overwrite the input");

    // A symbolic link at a stem's name: an existing stem without --force; with it, the link is
    // replaced by the stem and its target is untouched.
    let precious = dir.join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    let links = dir.join("links");
    std::fs::create_dir_all(&links).unwrap();
    std::os::unix::fs::symlink(&precious, links.join("vocals.wav")).unwrap();
    assert_fails(&separate(&song, &links, &args), "already holds stems: vocals.wav");
    json_of(&separate(&song, &links, &extra));
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    assert!(links.join("vocals.wav").symlink_metadata().unwrap().file_type().is_file());
    assert_eq!(audio_file::read(&links.join("vocals.wav")).unwrap().frames(), 44_100);

    // An input beside its stems under another name is fine.
    let fresh = dir.join("beside");
    std::fs::create_dir_all(&fresh).unwrap();
    let beside = input(&fresh, "song.wav", 1);
    let before = std::fs::read(&beside).unwrap();
    json_of(&separate(&beside, &fresh, &args));
    assert_eq!(std::fs::read(&beside).unwrap(), before);
    assert_eq!(listing(&fresh), ["accompaniment.wav", "sift-stems.json", "song.wav", "vocals.wav"]);
}

/// No stem file, complete or partial, and no hidden temporary is left in `dir`.
fn assert_no_stems(dir: &Path) {
    let names = listing(dir);
    assert!(names.iter().all(|n| !n.ends_with(".wav") && !n.contains("sift-partial")), "{names:?}");
}

#[test]
fn a_write_failure_leaves_no_stem_and_keeps_the_previous_ones() {
    // A file-size limit makes the stems' writes fail part-way, as a full disk does.
    let dir = scratch("write-failure");
    let song = input(&dir, "song.wav", 4);
    let tiny = model("tiny-valid");
    let limited = |out: &Path, extra: &[&str]| {
        Command::new("sh")
            .arg("-c")
            .arg("ulimit -f 256 && exec \"$@\"")
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_sift"))
            .args([OsStr::new("separate"), song.as_os_str(), OsStr::new("-o"), out.as_os_str()])
            .args(["--model", &tiny, "--mode", "live"])
            .args(extra)
            .output()
            .unwrap()
    };
    let fresh = dir.join("fresh");
    assert_fails(&limited(&fresh, &[]), "File too large");
    assert_no_stems(&fresh);

    let kept = dir.join("kept");
    let short = input(&dir, "short.wav", 1);
    json_of(&separate(&short, &kept, &["--model", &tiny, "--mode", "live"]));
    let before: Vec<Vec<u8>> = ["vocals.wav", "accompaniment.wav", "sift-stems.json"]
        .iter()
        .map(|f| std::fs::read(kept.join(f)).unwrap())
        .collect();
    assert_fails(&limited(&kept, &["--force"]), "File too large");
    let after: Vec<Vec<u8>> = ["vocals.wav", "accompaniment.wav", "sift-stems.json"]
        .iter()
        .map(|f| std::fs::read(kept.join(f)).unwrap())
        .collect();
    assert!(before == after, "the previous stems changed");
    assert_eq!(listing(&kept), ["accompaniment.wav", "sift-stems.json", "vocals.wav"]);
}

/// Starts a paced (`--realtime`) separation and waits until it is writing its stems.
fn start_paced(song: &Path, out: &Path) -> Child {
    let child = sift()
        .arg("separate")
        .arg(song)
        .arg("-o")
        .arg(out)
        .args(["--model", &model("tiny-valid"), "--mode", "live", "--realtime"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !out.is_dir() || !listing(out).iter().any(|n| n.contains("sift-partial")) {
        assert!(started.elapsed() < Duration::from_secs(60), "no partial stems appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn signal(child: &Child, name: &str) {
    assert!(Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()).status().unwrap().success());
}

#[test]
fn a_signal_stops_the_run_and_removes_the_partial_files() {
    let dir = scratch("signals");
    let song = input(&dir, "song.wav", 30);
    for (name, code, said) in [("INT", 130, "interrupted by Ctrl-C (SIGINT)"), ("TERM", 143, "interrupted by SIGTERM")]
    {
        let out = dir.join(name);
        let child = start_paced(&song, &out);
        std::thread::sleep(Duration::from_millis(500));
        let asked = Instant::now();
        signal(&child, name);
        let output = child.wait_with_output().unwrap();
        assert!(asked.elapsed() < Duration::from_secs(5), "took {:?} to stop", asked.elapsed());
        assert_eq!(output.status.code(), Some(code), "{}", text(&output));
        assert_said(&output, said);
        assert_no_stems(&out);
    }
}

#[test]
fn realtime_deadline_misses_are_reported() {
    // Stopping the process for a while makes the paced host race to catch up, faster than the
    // worker can follow: those blocks fall back to the dry input.
    let dir = scratch("misses");
    let song = input(&dir, "song.wav", 6);
    let out = dir.join("out");
    let child = start_paced(&song, &out);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "STOP");
    std::thread::sleep(Duration::from_millis(2000));
    signal(&child, "CONT");
    let output = child.wait_with_output().unwrap();
    let report = json_of(&output);
    let missed = report["missed_samples"].as_u64().unwrap();
    assert!(missed > 0, "no misses: {report}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!("{} blocks missed their deadline: {missed} of ", report["deadline_misses"]);
    assert!(stderr.contains(&expected) && stderr.contains("%) fell back to the unseparated input"), "{stderr}");
    // Without misses, nothing is said.
    let quiet = separate(
        &input(&dir, "short.wav", 1),
        &dir.join("quiet"),
        &["--model", &model("tiny-valid"), "--mode", "live"],
    );
    assert_eq!(json_of(&quiet)["missed_samples"], 0);
    assert!(quiet.stderr.is_empty(), "{}", text(&quiet));
}

#[test]
fn block_and_thread_bounds_are_clear_errors() {
    let dir = scratch("bounds");
    let song = input(&dir, "song.wav", 1);
    for (extra, expected) in [
        (["--block", "0"], "--block 0: the block size must be 1 to 65536 samples"),
        (["--block", "2147483648"], "--block 2147483648: the block size must be 1 to 65536 samples"),
        (["--block", "18446744073709551615"], "the block size must be 1 to 65536 samples"),
        (["--threads", "0"], "--threads 0: this machine has"),
        (["--threads", "999"], "--threads 999: this machine has"),
    ] {
        assert_fails(&separate(&song, &dir.join("out"), &extra), expected);
    }
    // The largest block works.
    json_of(&separate(
        &song,
        &dir.join("big"),
        &["--model", &model("tiny-valid"), "--mode", "live", "--block", "65536"],
    ));
}

#[test]
fn odd_inputs_are_named_and_reported() {
    let dir = scratch("odd-inputs");
    let tiny = model("tiny-valid");
    let args = ["--model", tiny.as_str(), "--mode", "live"];
    // One cause, once.
    let output = separate(&dir.join("missing.wav"), &dir.join("o1"), &args);
    assert_fails(&output, "missing.wav: No such file or directory (os error 2)");
    assert_eq!(String::from_utf8_lossy(&output.stderr).matches("No such file").count(), 1);
    // A folder as input, and as model.
    assert_fails(&separate(&dir, &dir.join("o2"), &args), "is a directory, not an audio file");
    let song = input(&dir, "song.wav", 1);
    assert_fails(
        &separate(&song, &dir.join("o3"), &["--model", dir.to_str().unwrap()]),
        "is a folder; pass an .onnx file",
    );

    // NaN and infinite samples: separated as silence, and said.
    let mut channels = support::test_signal(44_100, 3);
    channels[0][100] = f32::NAN;
    channels[1][200] = f32::INFINITY;
    channels[1][300] = f32::NEG_INFINITY;
    let nan = dir.join("nan.wav");
    audio_file::write_wav(&nan, &Audio { sample_rate: 44_100, channels }).unwrap();
    let output = separate(&nan, &dir.join("o4"), &args);
    assert_eq!(json_of(&output)["non_finite_samples"], 3);
    assert_said(&output, "3 samples were not finite (NaN or infinity) and were replaced by silence");

    // A WAV cut short: separated to where it ends, with a warning, never silently in part.
    let bytes = std::fs::read(&song).unwrap();
    let data = bytes.windows(4).position(|w| w == b"data").unwrap() + 8;
    let cut = dir.join("cut.wav");
    std::fs::write(&cut, &bytes[..data + 8 * 12_345 + 5]).unwrap();
    let output = separate(&cut, &dir.join("o5"), &args);
    json_of(&output);
    assert_said(&output, "claims 1.00 s of audio but the file holds 0.28 s (cut short?)");
    assert_eq!(audio_file::read(&dir.join("o5/vocals.wav")).unwrap().frames(), 12_345);
}

#[test]
fn models_lists_broken_files_as_broken() {
    let dir = scratch("models");
    std::fs::copy(support::test_models().join("tiny-valid.onnx"), dir.join("good.onnx")).unwrap();
    std::fs::write(
        dir.join("noise.onnx"),
        (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    let output = sift().arg("models").env("SIFT_MODEL_DIR", &dir).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = |name: &str| {
        stdout.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in\n{stdout}")).to_owned()
    };
    assert!(line("good").contains("stems: vocals, accompaniment"), "{stdout}");
    assert!(line("noise").contains("BROKEN:") && line("noise").contains("is not a usable ONNX model"), "{stdout}");
}

fn eval(reference: &Path, estimates: &Path, extra: &[&str]) -> Output {
    sift().args(["eval", "--reference"]).arg(reference).arg(estimates).args(extra).output().unwrap()
}

#[test]
fn eval_is_honest_about_lengths_missing_stems_and_infinities() {
    let dir = scratch("eval");
    let (refs, ests) = (dir.join("refs"), dir.join("ests"));
    let tone = Audio { sample_rate: 8_000, channels: support::test_signal(24_000, 5) };
    let silence = Audio { sample_rate: 8_000, channels: vec![vec![0.0; 24_000]; 2] };
    let mut broken = tone.clone();
    broken.channels[0][10] = f32::NAN;
    for (name, reference, estimate) in
        [("vocals", &tone, &tone), ("drums", &silence, &tone), ("bass", &tone, &broken), ("other", &tone, &silence)]
    {
        audio_file::write_wav(&refs.join(format!("{name}.wav")), reference).unwrap();
        audio_file::write_wav(&ests.join(format!("{name}.wav")), estimate).unwrap();
    }
    // JSON has no inf or NaN: strings say them.
    let report = json_of(&eval(&refs, &ests, &[]));
    assert_eq!(report["sdr"]["vocals"]["sdr"], "inf");
    assert_eq!(report["sdr"]["drums"]["sdr"], "-inf");
    assert_eq!(report["sdr"]["drums"]["median_framewise_sdr"], serde_json::Value::Null);
    assert_eq!(report["sdr"]["bass"]["sdr"], "nan");
    assert_eq!(report["sdr"]["other"]["sdr"].as_f64(), Some(0.0));

    // A few samples short: scored, and said; far shorter: refused.
    let mut short = tone.clone();
    short.channels.iter_mut().for_each(|c| c.truncate(23_997));
    audio_file::write_wav(&ests.join("vocals.wav"), &short).unwrap();
    let output = eval(&refs, &ests, &["--stems", "vocals"]);
    json_of(&output);
    assert_said(&output, "vocals: the estimate is 3 samples shorter than the reference");
    short.channels.iter_mut().for_each(|c| c.truncate(23_000));
    audio_file::write_wav(&ests.join("vocals.wav"), &short).unwrap();
    assert_fails(&eval(&refs, &ests, &[]), "23000 samples but the reference");

    // A stem asked for and missing, and an estimate with no reference: errors, not skipped.
    audio_file::write_wav(&ests.join("vocals.wav"), &tone).unwrap();
    assert_fails(&eval(&refs, &ests, &["--stems", "vocals,piano"]), "the estimate of `piano` is missing");
    audio_file::write_wav(&ests.join("piano.wav"), &tone).unwrap();
    assert_fails(&eval(&refs, &ests, &[]), "no reference for `piano`");
    // No accompaniment made up of whatever stems are there: without `other`, drums + bass is
    // not one.
    std::fs::remove_file(refs.join("other.wav")).unwrap();
    audio_file::write_wav(&ests.join("accompaniment.wav"), &tone).unwrap();
    assert_fails(&eval(&refs, &ests, &["--stems", "accompaniment"]), "no reference for `accompaniment`");
}

/// Peak memory of separating `seconds` of stereo 16-bit audio, from the JSON report.
fn peak_rss_for(dir: &Path, seconds: usize) -> (f64, f64) {
    let path = dir.join(format!("{seconds}s.wav"));
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&path, spec).unwrap();
    let mut rng = support::Rng::new(seconds as u64);
    for i in 0..seconds * 44_100 {
        let tone = (i as f32 * 0.031).sin() * 6_000.0 + (i as f32 * 0.0021).sin() * 4_000.0;
        let noise = (rng.next_u64() % 2_001) as f32 - 1_000.0;
        writer.write_sample((tone + noise) as i16).unwrap();
        writer.write_sample((tone * 0.5 - noise) as i16).unwrap();
    }
    writer.finalize().unwrap();
    let out = dir.join(format!("{seconds}s"));
    let started = Instant::now();
    let report =
        json_of(&separate(&path, &out, &["--model", &model("tiny-valid"), "--mode", "live", "--block", "4096"]));
    let wall = started.elapsed().as_secs_f64();

    // Same length, aligned to the end: the stems sum to the input over the last second.
    let frames = seconds * 44_100;
    let tail = |file: &Path| -> Vec<Vec<f32>> {
        let mut reader = hound::WavReader::open(file).unwrap();
        assert_eq!(reader.duration() as usize, frames, "{}", file.display());
        reader.seek((frames - 44_100) as u32).unwrap();
        let spec = reader.spec();
        let samples: Vec<f32> = match spec.sample_format {
            hound::SampleFormat::Float => reader.samples::<f32>().map(Result::unwrap).collect(),
            hound::SampleFormat::Int => reader.samples::<i16>().map(|s| f32::from(s.unwrap()) / 32_768.0).collect(),
        };
        (0..2).map(|c| samples.iter().skip(c).step_by(2).copied().collect()).collect()
    };
    let sum = support::sum_stems(&[tail(&out.join("vocals.wav")), tail(&out.join("accompaniment.wav"))]);
    assert!(support::peak_difference_db(&sum, &tail(&path)) <= -80.0, "{seconds} s: the stems do not sum to the input");
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_file(&path);
    (report["peak_rss_mib"].as_f64().expect("peak_rss_mib on Linux"), wall)
}

#[test]
fn a_long_file_separates_in_the_memory_of_a_short_one() {
    // Before streaming, memory grew by ~1 MB per second of stereo (the decoded input and every
    // stem held to the end): 10 minutes took ~600 MB more than 30 s.
    let dir = scratch("streaming");
    let (short, short_wall) = peak_rss_for(&dir, 30);
    let (long, long_wall) = peak_rss_for(&dir, 600);
    eprintln!("peak RSS: 30 s {short:.1} MiB ({short_wall:.1} s), 10 min {long:.1} MiB ({long_wall:.1} s)");
    assert!(long - short <= 30.0, "peak RSS grew from {short:.1} MiB (30 s) to {long:.1} MiB (10 min)");
}
