//! `sift eval`'s inputs: a reference folder and an estimate folder of WAV files from elsewhere
//! (a MUSDB download, another separator's output).
//!
//! Input: a flag byte, a little-endian `u16` length `n`, `n` bytes of the reference file, and
//! the estimate file's bytes. Flag bit 0 clear: `vocals.wav` in both folders, stem `vocals`;
//! set: the reference written as `drums.wav`, `bass.wav` and `other.wav` of a MUSDB folder and
//! the estimate as `accompaniment.wav` (the reference is then their sum). Then
//! `sift_cli::evaluation::evaluate`, as `sift eval` calls it.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sift_cli::evaluation;

fn dirs() -> &'static (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("sift-fuzz-eval-{}", std::process::id()));
        let (reference, estimate) = (root.join("reference"), root.join("estimate"));
        std::fs::create_dir_all(&reference).expect("a temporary folder");
        std::fs::create_dir_all(&estimate).expect("a temporary folder");
        (reference, estimate)
    })
}

fuzz_target!(|data: &[u8]| {
    sift_fuzz::crash_only_on_escaping_panics();
    if data.len() < 3 {
        return;
    }
    let musdb = data[0] & 1 == 1;
    let n = usize::from(u16::from_le_bytes([data[1], data[2]])).min(data.len() - 3);
    let (reference, estimate) = data[3..].split_at(n);
    let (reference_dir, estimate_dir) = dirs();
    for dir in [reference_dir, estimate_dir] {
        for entry in std::fs::read_dir(dir).expect("the folder").flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let stem = if musdb { "accompaniment" } else { "vocals" };
    let parts: &[&str] = if musdb { &["drums", "bass", "other", "vocals"] } else { &["vocals"] };
    for part in parts {
        std::fs::write(reference_dir.join(format!("{part}.wav")), reference).expect("the reference written");
    }
    std::fs::write(estimate_dir.join(format!("{stem}.wav")), estimate).expect("the estimate written");
    if let Ok(scores) = evaluation::evaluate(reference_dir, estimate_dir, Some(&[stem.to_owned()])) {
        assert_eq!(scores.len(), 1);
    }
});
