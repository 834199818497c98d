use super::*;

const MUSDB_PREVIEW: &str = "/work/shared/eval/musdb18-preview-80s-rock";

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sift-audio-file-test-{}", std::process::id())).join(name)
}

#[test]
fn float_wav_round_trips_exactly() {
    let left: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin() * 1.5).collect();
    let right: Vec<f32> = left.iter().map(|s| -s * 1e-7).collect();
    let audio = Audio { sample_rate: 48_000, channels: vec![left, right] };
    let path = temp_path("nested/dir/round_trip.wav");
    write_wav(&path, &audio).unwrap();
    assert_eq!(read(&path).unwrap(), audio);
}

#[test]
fn one_sample_file_is_fine() {
    let audio = Audio { sample_rate: 8_000, channels: vec![vec![0.25]] };
    let path = temp_path("one_sample.wav");
    write_wav(&path, &audio).unwrap();
    assert_eq!(read(&path).unwrap(), audio);
}

#[test]
fn zero_sample_file_is_an_error() {
    let path = temp_path("empty.wav");
    write_wav(&path, &Audio { sample_rate: 8_000, channels: vec![Vec::new()] }).unwrap();
    let error = read(&path).unwrap_err();
    assert!(matches!(error, AudioFileError::Empty { .. }), "{error}");
    assert!(error.to_string().contains("empty.wav"), "{error}");
}

#[test]
fn missing_and_garbage_files_are_errors() {
    let missing = read(&temp_path("does-not-exist.wav")).unwrap_err();
    assert!(matches!(missing, AudioFileError::Io { .. }), "{missing}");

    let garbage = temp_path("garbage.mp3");
    std::fs::create_dir_all(garbage.parent().unwrap()).unwrap();
    let bytes: Vec<u8> =
        (0..10_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&garbage, bytes).unwrap();
    let error = read(&garbage).unwrap_err();
    assert!(error.to_string().starts_with(&garbage.display().to_string()), "{error}");
}

#[test]
fn truncated_wav_header_is_an_error() {
    let path = temp_path("truncated.wav");
    write_wav(&path, &Audio { sample_rate: 8_000, channels: vec![vec![0.5; 100]] }).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..30]).unwrap();
    assert!(read(&path).is_err());
}

#[test]
fn write_rejects_ragged_channels() {
    let audio = Audio { sample_rate: 8_000, channels: vec![vec![0.0; 3], vec![0.0; 2]] };
    assert!(matches!(
        write_wav(&temp_path("ragged.wav"), &audio),
        Err(AudioFileError::InvalidAudio { .. })
    ));
}

#[test]
fn reads_musdb_preview_mixture() {
    let path = Path::new(MUSDB_PREVIEW).join("mixture.wav");
    if !path.exists() {
        return; // shared evaluation data is not on every machine
    }
    let audio = read(&path).unwrap();
    assert_eq!(audio.sample_rate, 44_100);
    assert_eq!(audio.channels.len(), 2);
    assert_eq!(audio.frames(), 300_032);
    assert!((audio.seconds() - 300_032.0 / 44_100.0).abs() < 1e-12);

    // 16-bit PCM stems decode to the same length.
    assert_eq!(read(&Path::new(MUSDB_PREVIEW).join("vocals.wav")).unwrap().frames(), 300_032);
}

/// Runs only when `SIFT_DEMO_STEMS` names an NI `.stem.mp4` file.
#[test]
fn reads_every_track_of_a_stem_file() {
    let Some(path) = std::env::var_os("SIFT_DEMO_STEMS") else { return };
    let tracks = read_tracks(Path::new(&path)).unwrap();
    assert_eq!(tracks.len(), 5);
    for track in &tracks {
        assert_eq!(track.frames(), tracks[0].frames());
        assert_eq!(track.sample_rate, tracks[0].sample_rate);
    }
    assert_eq!(read(Path::new(&path)).unwrap(), tracks[0]);
}

#[test]
fn reads_integer_wavs_at_full_scale() {
    for bits in [16u16, 24, 32] {
        let path = temp_path(&format!("int{bits}.wav"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22_050,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let half_scale = 1i32 << (bits - 2);
        let mut writer = hound::WavWriter::create(&path, spec).unwrap();
        for sample in [half_scale, -half_scale, 0] {
            writer.write_sample(sample).unwrap();
        }
        writer.finalize().unwrap();
        let audio = read(&path).unwrap();
        assert_eq!(audio.sample_rate, 22_050);
        assert_eq!(audio.channels, vec![vec![0.5, -0.5, 0.0]], "{bits}-bit");
    }
}
