use super::*;
use crate::audio_file::write_wav;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sift-evaluation-test-{}", std::process::id())).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn tone(frequency: f32, len: usize, sample_rate: u32) -> Audio {
    let channel: Vec<f32> =
        (0..len).map(|i| (i as f32 * frequency * std::f32::consts::TAU / sample_rate as f32).sin()).collect();
    Audio { sample_rate, channels: vec![channel.clone(), channel] }
}

fn scaled(audio: &Audio, gain: f32) -> Audio {
    Audio {
        sample_rate: audio.sample_rate,
        channels: audio.channels.iter().map(|c| c.iter().map(|s| s * gain).collect()).collect(),
    }
}

fn write_musdb_references(references: &Path) -> (Audio, Audio) {
    let vocals = tone(440.0, 2000, 1000);
    let drums = tone(110.0, 2000, 1000);
    let bass = tone(55.0, 2000, 1000);
    let other = tone(220.0, 2000, 1000);
    write_wav(&references.join("vocals.wav"), &vocals).unwrap();
    write_wav(&references.join("drums.wav"), &drums).unwrap();
    write_wav(&references.join("bass.wav"), &bass).unwrap();
    write_wav(&references.join("other.wav"), &other).unwrap();
    write_wav(&references.join("mixture.wav"), &tone(1.0, 2000, 1000)).unwrap();
    let mut accompaniment = drums;
    for part in [&bass, &other] {
        for (a, b) in accompaniment.channels.iter_mut().zip(&part.channels) {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        }
    }
    (vocals, accompaniment)
}

#[test]
fn scores_stems_and_synthesises_accompaniment() {
    let (references, estimates) = (temp_dir("refs"), temp_dir("ests"));
    let (vocals, accompaniment) = write_musdb_references(&references);
    write_wav(&estimates.join("vocals.wav"), &scaled(&vocals, 0.5)).unwrap();
    write_wav(&estimates.join("accompaniment.wav"), &accompaniment).unwrap();

    let scores = evaluate_dir(&references, &estimates).unwrap();
    let stems: Vec<&str> = scores.iter().map(|s| s.stem.as_str()).collect();
    assert_eq!(stems, ["accompaniment", "vocals"]);
    assert_eq!(scores[0].sdr, f64::INFINITY);
    assert!(scores[0].notes[0].contains("drums + bass + other"), "{:?}", scores[0].notes);
    assert!((scores[1].sdr - 6.0206).abs() < 1e-3, "{:?}", scores[1]);
    assert!((scores[1].median_framewise_sdr.unwrap() - 6.0206).abs() < 1e-3);
    assert!(scores[1].notes.is_empty());
}

#[test]
fn accompaniment_is_not_invented_from_whatever_stems_exist() {
    // No `other`: drums + bass is not an accompaniment.
    let (references, estimates) = (temp_dir("acc-refs"), temp_dir("acc-ests"));
    let (_, accompaniment) = write_musdb_references(&references);
    std::fs::remove_file(references.join("other.wav")).unwrap();
    write_wav(&estimates.join("accompaniment.wav"), &accompaniment).unwrap();
    let error = evaluate_dir(&references, &estimates).unwrap_err();
    assert!(matches!(error, EvalError::MissingReference { .. }), "{error}");
    assert!(error.to_string().contains("bass.wav, drums.wav, mixture.wav, vocals.wav"), "{error}");
    // A stem beyond MUSDB's four: ambiguous, refused too.
    write_wav(&references.join("other.wav"), &tone(220.0, 2000, 1000)).unwrap();
    write_wav(&references.join("piano.wav"), &tone(330.0, 2000, 1000)).unwrap();
    assert!(matches!(evaluate_dir(&references, &estimates), Err(EvalError::MissingReference { .. })));
    // An explicit accompaniment.wav is always used as it is.
    write_wav(&references.join("accompaniment.wav"), &accompaniment).unwrap();
    let scores = evaluate_dir(&references, &estimates).unwrap();
    assert_eq!((scores[0].sdr, scores[0].notes.len()), (f64::INFINITY, 0));
}

#[test]
fn sample_rate_mismatch_is_an_error() {
    let (references, estimates) = (temp_dir("rate-refs"), temp_dir("rate-ests"));
    write_wav(&references.join("vocals.wav"), &tone(440.0, 100, 1000)).unwrap();
    write_wav(&estimates.join("vocals.wav"), &tone(440.0, 100, 2000)).unwrap();
    assert!(matches!(
        evaluate_dir(&references, &estimates),
        Err(EvalError::SampleRateMismatch { found: 2000, expected: 1000, .. })
    ));
}

#[test]
fn a_stem_without_reference_is_an_error_not_skipped() {
    let (references, estimates) = (temp_dir("none-refs"), temp_dir("none-ests"));
    write_wav(&references.join("vocals.wav"), &tone(440.0, 100, 1000)).unwrap();
    write_wav(&estimates.join("vocals.wav"), &tone(440.0, 100, 1000)).unwrap();
    write_wav(&estimates.join("guitar.wav"), &tone(440.0, 100, 1000)).unwrap();
    let error = evaluate_dir(&references, &estimates).unwrap_err();
    assert!(matches!(error, EvalError::MissingReference { ref stem, .. } if stem == "guitar"), "{error}");
    // Asked for explicitly, the subset is scored.
    let scores = evaluate(&references, &estimates, Some(&["vocals".to_owned()])).unwrap();
    assert_eq!(scores.len(), 1);
}

#[test]
fn a_missing_estimate_is_an_error() {
    let (references, estimates) = (temp_dir("missing-refs"), temp_dir("missing-ests"));
    write_musdb_references(&references);
    write_wav(&estimates.join("vocals.wav"), &tone(440.0, 2000, 1000)).unwrap();
    // The manifest of `sift separate` lists the stems it wrote; one is gone.
    std::fs::write(estimates.join("sift-stems.json"), r#"{"stems":["vocals","accompaniment"]}"#).unwrap();
    let error = evaluate_dir(&references, &estimates).unwrap_err();
    assert!(matches!(error, EvalError::MissingEstimate { ref stem, .. } if stem == "accompaniment"), "{error}");
    let error = evaluate(&references, &estimates, Some(&["drums".to_owned()])).unwrap_err();
    assert!(matches!(error, EvalError::MissingEstimate { .. }), "{error}");
    // An empty folder has nothing to score.
    assert!(matches!(
        evaluate_dir(&references, &temp_dir("empty-ests")),
        Err(EvalError::Io { .. } | EvalError::NothingScored { .. })
    ));
}

#[test]
fn lengths_must_match_within_a_few_samples() {
    let (references, estimates) = (temp_dir("len-refs"), temp_dir("len-ests"));
    let vocals = tone(440.0, 2000, 1000);
    write_wav(&references.join("vocals.wav"), &vocals).unwrap();
    // A few samples short: scored over the common part, and said.
    let mut short = vocals.clone();
    short.channels.iter_mut().for_each(|c| c.truncate(1997));
    write_wav(&estimates.join("vocals.wav"), &short).unwrap();
    let scores = evaluate_dir(&references, &estimates).unwrap();
    assert_eq!(scores[0].sdr, f64::INFINITY);
    assert_eq!(
        scores[0].notes,
        ["the estimate is 3 samples shorter than the reference; scored over the first 1997 samples"]
    );
    // A quarter of the file short: an error, not a flattering score over the part there.
    short.channels.iter_mut().for_each(|c| c.truncate(1500));
    write_wav(&estimates.join("vocals.wav"), &short).unwrap();
    let error = evaluate_dir(&references, &estimates).unwrap_err();
    assert!(matches!(error, EvalError::LengthMismatch { found: 1500, expected: 2000, .. }), "{error}");
    assert!(error.to_string().contains("500 shorter"), "{error}");
}
