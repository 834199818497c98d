use super::*;
use crate::audio_file::write_wav;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("sift-evaluation-test-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn tone(frequency: f32, len: usize, sample_rate: u32) -> Audio {
    let channel: Vec<f32> = (0..len)
        .map(|i| (i as f32 * frequency * std::f32::consts::TAU / sample_rate as f32).sin())
        .collect();
    Audio { sample_rate, channels: vec![channel.clone(), channel] }
}

fn scaled(audio: &Audio, gain: f32) -> Audio {
    Audio {
        sample_rate: audio.sample_rate,
        channels: audio.channels.iter().map(|c| c.iter().map(|s| s * gain).collect()).collect(),
    }
}

#[test]
fn scores_stems_and_synthesises_accompaniment() {
    let (references, estimates) = (temp_dir("refs"), temp_dir("ests"));
    let vocals = tone(440.0, 2000, 1000);
    let drums = tone(110.0, 2000, 1000);
    let bass = tone(55.0, 2000, 1000);
    write_wav(&references.join("vocals.wav"), &vocals).unwrap();
    write_wav(&references.join("drums.wav"), &drums).unwrap();
    write_wav(&references.join("bass.wav"), &bass).unwrap();
    write_wav(&references.join("mixture.wav"), &tone(1.0, 2000, 1000)).unwrap();

    let mut accompaniment = drums.clone();
    for (a, b) in accompaniment.channels.iter_mut().zip(&bass.channels) {
        a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
    }
    write_wav(&estimates.join("vocals.wav"), &scaled(&vocals, 0.5)).unwrap();
    write_wav(&estimates.join("accompaniment.wav"), &accompaniment).unwrap();
    write_wav(&estimates.join("piano.wav"), &vocals).unwrap();

    let scores = evaluate_dir(&references, &estimates).unwrap();
    let stems: Vec<&str> = scores.iter().map(|s| s.stem.as_str()).collect();
    assert_eq!(stems, ["accompaniment", "vocals"]);
    assert_eq!(scores[0].sdr, f64::INFINITY);
    assert!((scores[1].sdr - 6.0206).abs() < 1e-3, "{:?}", scores[1]);
    assert!((scores[1].median_framewise_sdr.unwrap() - 6.0206).abs() < 1e-3);
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
fn nothing_to_score_is_an_error() {
    let (references, estimates) = (temp_dir("none-refs"), temp_dir("none-ests"));
    write_wav(&references.join("vocals.wav"), &tone(440.0, 100, 1000)).unwrap();
    write_wav(&estimates.join("guitar.wav"), &tone(440.0, 100, 1000)).unwrap();
    assert!(matches!(evaluate_dir(&references, &estimates), Err(EvalError::NothingScored { .. })));
}
