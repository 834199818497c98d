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

/// A WAV whose `fmt ` chunk claims 65,280 channels made symphonia's RIFF reader panic (an
/// overflowing multiplication, found by `fuzz/`'s `audio_file` target): a clear error instead.
#[test]
fn a_wav_header_that_crashes_the_decoder_is_a_clear_error() {
    let hex = "52494646a402000057415645666d7420100000000100fff8401f0000007d00000400100064617461800200004703460358394f394f8a3b8a3b57215821b902b90239e438e499c89900524946c8e6b3e546b3a40200dd";
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    let path = temp_path("hostile/channels.wav");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let error = read(&path).expect_err("a file with 65,280 channels in 87 bytes is not audio");
    assert!(error.to_string().contains("channels.wav"), "{error}");
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
    let bytes: Vec<u8> = (0..10_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
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
    assert!(matches!(write_wav(&temp_path("ragged.wav"), &audio), Err(AudioFileError::InvalidAudio { .. })));
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

/// A float WAV of `frames` mono samples `i / frames`, and its bytes.
fn ramp_wav(name: &str, frames: usize) -> (PathBuf, Vec<u8>, Vec<f32>) {
    let samples: Vec<f32> = (0..frames).map(|i| i as f32 / frames as f32).collect();
    let path = temp_path(name);
    write_wav(&path, &Audio { sample_rate: 8_000, channels: vec![samples.clone()] }).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes, samples)
}

fn data_size_offset(bytes: &[u8]) -> usize {
    bytes.windows(4).position(|w| w == b"data").unwrap() + 4
}

#[test]
fn a_wav_cut_short_is_read_to_its_end_with_a_warning() {
    // 10 000 frames written, the file cut after 6 001.5 frames: the header claims more data than
    // there is. Every whole frame there is read (none of the last packet is dropped), and the
    // warning says what happened.
    let (path, bytes, samples) = ramp_wav("cut.wav", 10_000);
    let data = data_size_offset(&bytes) + 4;
    std::fs::write(&path, &bytes[..data + 6_001 * 4 + 2]).unwrap();
    let (tracks, warnings) = decode::decode(&path, decode::Tracks::First).unwrap();
    assert_eq!(tracks[0].channels[0], samples[..6_001]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("claims 1.25 s of audio but the file holds 0.75 s"), "{warnings:?}");
}

#[test]
fn a_wav_whose_data_size_exceeds_its_riff_size_is_read() {
    // The RIFF size is right for the file, the data size claims more: symphonia alone refuses
    // this; common readers take the data that is there.
    let (path, mut bytes, samples) = ramp_wav("overlong.wav", 1_200);
    let at = data_size_offset(&bytes);
    bytes[at..at + 4].copy_from_slice(&40_000u32.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let (tracks, warnings) = decode::decode(&path, decode::Tracks::First).unwrap();
    assert_eq!(tracks[0].channels[0], samples);
    assert!(warnings[0].contains("the file holds 0.15 s"), "{warnings:?}");
}

#[test]
fn a_wav_of_unknown_length_is_read_whole_without_a_warning() {
    // Written to a pipe, a WAV's sizes are 0xFFFFFFFF: read to the end, nothing to warn about.
    let (path, mut bytes, samples) = ramp_wav("streamed.wav", 3_333);
    let at = data_size_offset(&bytes);
    bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let (tracks, warnings) = decode::decode(&path, decode::Tracks::First).unwrap();
    assert_eq!(tracks[0].channels[0], samples);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn a_folder_is_not_an_audio_file() {
    let dir = temp_path("a-folder.wav");
    std::fs::create_dir_all(&dir).unwrap();
    let error = read(&dir).unwrap_err();
    assert!(error.to_string().ends_with("a-folder.wav: is a directory, not an audio file"), "{error}");
}

#[test]
fn io_errors_name_their_cause_once() {
    let error = anyhow::Error::from(read(&temp_path("nowhere.wav")).unwrap_err());
    let chain: Vec<String> = error.chain().map(ToString::to_string).collect();
    assert_eq!(chain.len(), 1, "{chain:?}");
    assert_eq!(chain[0].matches("No such file or directory").count(), 1, "{chain:?}");
}

#[test]
fn streaming_decoder_yields_the_whole_file_in_packets() {
    let audio = Audio {
        sample_rate: 44_100,
        channels: vec![(0..100_000).map(|i| (i as f32 * 0.001).sin()).collect(), vec![0.25; 100_000]],
    };
    let path = temp_path("stream.wav");
    write_wav(&path, &audio).unwrap();
    let mut decoder = Decoder::open(&path).unwrap();
    assert_eq!((decoder.sample_rate(), decoder.channels(), decoder.frames_hint()), (44_100, 2, Some(100_000)));
    let mut got = vec![Vec::new(); 2];
    let mut packets = 0;
    while let Some(frames) = decoder.next_frames().unwrap() {
        assert!(frames[0].len() <= 100_000 / 4, "a packet is a small part of the file");
        got.iter_mut().zip(frames).for_each(|(g, f)| g.extend_from_slice(f));
        packets += 1;
    }
    assert!(packets > 4);
    assert_eq!(got, audio.channels);
    assert!(decoder.warnings().is_empty());
}

#[test]
fn stream_writer_never_writes_over_an_existing_file_or_link() {
    let dir = temp_path("writer");
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.join("link.wav");
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    std::os::unix::fs::symlink(&target, &link).unwrap();
    #[cfg(unix)]
    assert!(WavStreamWriter::create_new(&link, 8_000, 1).is_err());
    assert!(WavStreamWriter::create_new(&target, 8_000, 1).is_err());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");

    let path = dir.join("new.wav");
    let _ = std::fs::remove_file(&path);
    let mut writer = WavStreamWriter::create_new(&path, 8_000, 2).unwrap();
    writer.write(&[&[0.5, 0.25], &[-1.0, 2.0]]).unwrap();
    writer.write(&[&[0.125], &[0.0]]).unwrap();
    writer.finish().unwrap();
    assert_eq!(read(&path).unwrap().channels, vec![vec![0.5, 0.25, 0.125], vec![-1.0, 2.0, 0.0]]);
    assert!(WavStreamWriter::check_fits(&path, 600_000_000, 2).is_err(), "4.5 GB does not fit a WAV");
    assert!(WavStreamWriter::check_fits(&path, 3_600 * 48_000, 2).is_ok());
}
