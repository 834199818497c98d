//! Separation quality against reference stems.
//!
//! Scores are energy ratios computed directly ([`global_sdr`], [`framewise_sdr_median`]); they
//! equal museval's v4 SDR without its filter fitting, so a whole directory scores in well under a
//! second.
//! `model/museval_crosscheck.py` compares them with museval's figures.

mod sdr;

use std::path::{Path, PathBuf};

pub use sdr::{framewise_sdr_median, global_sdr};

use crate::audio_file::{self, Audio, AudioFileError};

/// One estimated stem's scores, in dB.
#[derive(Clone, Debug, PartialEq)]
pub struct StemScore {
    pub stem: String,
    /// [`global_sdr`] over the whole file.
    pub sdr: f64,
    /// [`framewise_sdr_median`]; `None` when the reference is silent throughout.
    pub median_framewise_sdr: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Audio(#[from] AudioFileError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: sample rate is {found} Hz but the reference is {expected} Hz", path.display())]
    SampleRateMismatch { path: PathBuf, found: u32, expected: u32 },
    #[error("{}: {found} channels but the reference has {expected}", path.display())]
    ChannelMismatch { path: PathBuf, found: usize, expected: usize },
    #[error("no estimate in {} has a reference in {}", estimates.display(), references.display())]
    NothingScored { estimates: PathBuf, references: PathBuf },
}

/// Score every `<stem>.wav` in `estimate_dir` (sorted by name) against `reference_dir/<stem>.wav`.
///
/// MUSDB-style reference directories have no accompaniment stem, but 2-stem separators produce
/// one, so a missing `accompaniment.wav` reference is synthesised as the sum of every reference
/// WAV except `vocals.wav` and `mixture.wav`. Estimates with no reference are skipped (a
/// separator may produce stems the dataset lacks); if none is left, that is an error.
pub fn evaluate_dir(
    reference_dir: &Path,
    estimate_dir: &Path,
) -> Result<Vec<StemScore>, EvalError> {
    let mut scores = Vec::new();
    for (stem, estimate_path) in wav_files(estimate_dir)? {
        let Some(reference) = reference_for(reference_dir, &stem)? else { continue };
        let estimate = audio_file::read(&estimate_path)?;
        check_compatible(&estimate_path, &estimate, &reference)?;
        scores.push(StemScore {
            sdr: global_sdr(&reference.channels, &estimate.channels),
            median_framewise_sdr: framewise_sdr_median(
                &reference.channels,
                &estimate.channels,
                reference.sample_rate,
            ),
            stem,
        });
    }
    if scores.is_empty() {
        return Err(EvalError::NothingScored {
            estimates: estimate_dir.to_path_buf(),
            references: reference_dir.to_path_buf(),
        });
    }
    Ok(scores)
}

/// `(stem, path)` of every `.wav` file in `dir`, sorted by file name.
fn wav_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, EvalError> {
    let io_error = |source| EvalError::Io { path: dir.to_path_buf(), source };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let path = entry.map_err(io_error)?.path();
        let is_wav = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav"));
        if let (true, Some(stem)) = (is_wav && path.is_file(), path.file_stem()) {
            files.push((stem.to_string_lossy().into_owned(), path));
        }
    }
    files.sort();
    Ok(files)
}

/// The reference for `stem`, or `None` if the dataset has none.
fn reference_for(reference_dir: &Path, stem: &str) -> Result<Option<Audio>, EvalError> {
    let path = reference_dir.join(format!("{stem}.wav"));
    if path.is_file() {
        return Ok(Some(audio_file::read(&path)?));
    }
    if stem != "accompaniment" {
        return Ok(None);
    }
    let mut sum: Option<Audio> = None;
    for (name, path) in wav_files(reference_dir)? {
        if name == "vocals" || name == "mixture" {
            continue;
        }
        let part = audio_file::read(&path)?;
        match &mut sum {
            None => sum = Some(part),
            Some(sum) => {
                check_compatible(&path, &part, sum)?;
                add_into(sum, &part);
            }
        }
    }
    Ok(sum)
}

/// Mix `part` into `sum`; a shorter signal is treated as silent after its end.
fn add_into(sum: &mut Audio, part: &Audio) {
    for (total, channel) in sum.channels.iter_mut().zip(&part.channels) {
        if total.len() < channel.len() {
            total.resize(channel.len(), 0.0);
        }
        for (t, &s) in total.iter_mut().zip(channel) {
            *t += s;
        }
    }
    let frames = sum.channels.iter().map(Vec::len).max().unwrap_or(0);
    for channel in &mut sum.channels {
        channel.resize(frames, 0.0);
    }
}

/// Sample rates and channel counts must match: comparing across them would score the mismatch,
/// not the separation. Lengths may differ; scores use the shorter.
fn check_compatible(path: &Path, audio: &Audio, reference: &Audio) -> Result<(), EvalError> {
    if audio.sample_rate != reference.sample_rate {
        return Err(EvalError::SampleRateMismatch {
            path: path.to_path_buf(),
            found: audio.sample_rate,
            expected: reference.sample_rate,
        });
    }
    if audio.channels.len() != reference.channels.len() {
        return Err(EvalError::ChannelMismatch {
            path: path.to_path_buf(),
            found: audio.channels.len(),
            expected: reference.channels.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
