//! Audio files as `sift separate` and `sift eval` read them (symphonia behind
//! `sift_cli::audio_file`, with Sift's WAV header repair in front).
//!
//! Input: one byte choosing the file name's extension (the probe's hint) and the reader, then
//! the file's bytes. The bytes are written to a file of this process's own (the readers take a
//! path), then read with the streaming [`Decoder`] (`separate`: the first audio track, packet by
//! packet) or [`audio_file::read_tracks`] (`separate` on a `.stem.mp4` and `eval`: every track).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sift_cli::audio_file::{self, Decoder};

const EXTENSIONS: [&str; 8] = ["wav", "flac", "mp3", "m4a", "stem.mp4", "aac", "ogg", "aiff"];

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sift-fuzz-audio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    sift_fuzz::crash_only_on_escaping_panics();
    let Some((&choice, bytes)) = data.split_first() else { return };
    let path = dir().join(format!("input.{}", EXTENSIONS[usize::from(choice) % EXTENSIONS.len()]));
    std::fs::write(&path, bytes).expect("the input written");
    if choice & 0x80 == 0 {
        if let Ok(mut decoder) = Decoder::open(&path) {
            let channels = decoder.channels();
            assert!(channels > 0, "a decoder with no channels");
            let mut frames = 0u64;
            while let Ok(Some(block)) = decoder.next_frames() {
                assert_eq!(block.len(), channels, "the channel count changed mid-stream");
                assert!(block.iter().all(|c| c.len() == block[0].len()), "channels of unequal length");
                frames += block[0].len() as u64;
            }
            let _ = (frames, decoder.sample_rate(), decoder.warnings().len());
        }
    } else if let Ok(tracks) = audio_file::read_tracks(&path) {
        assert!(!tracks.is_empty());
        for track in &tracks {
            assert!(track.frames() > 0);
            let _ = track.seconds();
        }
    }
    let _ = std::fs::remove_file(&path);
});
