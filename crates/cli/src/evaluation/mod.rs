//! Separation quality against reference stems.
//!
//! Scores are energy ratios computed directly ([`global_sdr`], [`framewise_sdr_median`]); they
//! equal museval's v4 SDR without its filter fitting, so a whole directory scores in well under a
//! second.
//! `model/museval_crosscheck.py` compares them with museval's figures.

mod sdr;

use std::path::{Path, PathBuf};

pub use sdr::{framewise_sdr_median, global_sdr, worst_window_sdr};

use crate::audio_file::{self, Audio, AudioFileError};

/// Estimates and references may differ by this many samples per channel (a decoder's rounding,
/// a resampler's last sample); scores then use the common length, and say so. Beyond it, the
/// files do not belong together and scoring is refused.
pub const LENGTH_TOLERANCE: usize = 16;

/// The file `sift separate` writes beside its stems, listing them.
const MANIFEST: &str = "sift-stems.json";

/// One estimated stem's scores, in dB.
#[derive(Clone, Debug, PartialEq)]
pub struct StemScore {
    pub stem: String,
    /// [`global_sdr`] over the whole file: `+inf` for a perfect estimate, `-inf` for a silent
    /// reference with a non-silent estimate.
    pub sdr: f64,
    /// [`framewise_sdr_median`]; `None` when the reference is silent throughout.
    pub median_framewise_sdr: Option<f64>,
    /// What the user should know about how this stem was scored (a length difference within
    /// [`LENGTH_TOLERANCE`], a reference built from other stems).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Audio(#[from] AudioFileError),
    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{}: sample rate is {found} Hz but the reference is {expected} Hz", path.display())]
    SampleRateMismatch { path: PathBuf, found: u32, expected: u32 },
    #[error("{}: {found} channels but the reference has {expected}", path.display())]
    ChannelMismatch { path: PathBuf, found: usize, expected: usize },
    #[error(
        "{}: {found} samples but the reference {} has {expected} ({}); they do not belong together (at most {LENGTH_TOLERANCE} samples may differ)",
        path.display(), reference.display(), difference(*found, *expected)
    )]
    LengthMismatch { path: PathBuf, reference: PathBuf, found: usize, expected: usize },
    #[error("{}: the estimate of `{stem}` is missing", path.display())]
    MissingEstimate { stem: String, path: PathBuf },
    #[error("no reference for `{stem}` in {} ({reason})", dir.display())]
    MissingReference { stem: String, dir: PathBuf, reason: String },
    #[error("{}: unreadable ({reason})", path.display())]
    BadManifest { path: PathBuf, reason: String },
    #[error("nothing to score: {} holds no stems", estimates.display())]
    NothingScored { estimates: PathBuf },
}

fn difference(found: usize, expected: usize) -> String {
    if found < expected {
        format!("{} shorter", expected - found)
    } else {
        format!("{} longer", found - expected)
    }
}

/// Score the estimates in `estimate_dir` against `reference_dir`; see [`evaluate`].
pub fn evaluate_dir(reference_dir: &Path, estimate_dir: &Path) -> Result<Vec<StemScore>, EvalError> {
    evaluate(reference_dir, estimate_dir, None)
}

/// Score each stem's estimate `estimate_dir/<stem>.wav` against `reference_dir/<stem>.wav`.
///
/// The stems scored are `stems` if given, else those `sift separate` listed in the folder's
/// `sift-stems.json`, else every `.wav` in the folder, by name. Every one must have an estimate
/// and a reference, with the same rate and channel count and the same length give or take
/// [`LENGTH_TOLERANCE`] samples: a stem that cannot be scored is an error, never skipped.
///
/// MUSDB-style reference folders have no accompaniment stem but 2-stem separators produce one:
/// without an `accompaniment.wav`, its reference is `drums + bass + other`, and only in a folder
/// that holds exactly those three besides `vocals` and `mixture` (anything else and
/// "accompaniment" would be a guess, so it is an error). The score's notes say so.
pub fn evaluate(
    reference_dir: &Path,
    estimate_dir: &Path,
    stems: Option<&[String]>,
) -> Result<Vec<StemScore>, EvalError> {
    let stems: Vec<String> = match stems {
        Some(stems) => stems.to_vec(),
        None => match manifest_stems(estimate_dir)? {
            Some(stems) => stems,
            None => wav_files(estimate_dir)?.into_iter().map(|(stem, _)| stem).collect(),
        },
    };
    if stems.is_empty() {
        return Err(EvalError::NothingScored { estimates: estimate_dir.to_path_buf() });
    }
    let mut scores = Vec::new();
    for stem in stems {
        let estimate_path = estimate_dir.join(format!("{stem}.wav"));
        if !estimate_path.is_file() {
            return Err(EvalError::MissingEstimate { stem, path: estimate_path });
        }
        let (reference, mut notes) = reference_for(reference_dir, &stem)?;
        let estimate = audio_file::read(&estimate_path)?;
        check_compatible(&estimate_path, &estimate, &reference.audio)?;
        if let Some(note) = check_length(&estimate_path, &estimate, &reference)? {
            notes.push(note);
        }
        let reference = &reference.audio;
        scores.push(StemScore {
            sdr: global_sdr(&reference.channels, &estimate.channels),
            median_framewise_sdr: framewise_sdr_median(&reference.channels, &estimate.channels, reference.sample_rate),
            stem,
            notes,
        });
    }
    Ok(scores)
}

/// The stems listed in `dir`'s manifest, if it has one.
fn manifest_stems(dir: &Path) -> Result<Option<Vec<String>>, EvalError> {
    let path = dir.join(MANIFEST);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
    let bad = |reason: String| EvalError::BadManifest { path: path.clone(), reason };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let stems = json["stems"].as_array().ok_or_else(|| bad("no `stems` list".into()))?;
    stems
        .iter()
        .map(|s| s.as_str().map(str::to_owned).ok_or_else(|| bad("a stem name is not a string".into())))
        .collect::<Result<_, _>>()
        .map(Some)
}

/// `(stem, path)` of every `.wav` file in `dir` (not hidden ones), sorted by file name.
fn wav_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, EvalError> {
    let io_error = |cause| EvalError::Io { path: dir.to_path_buf(), cause };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let path = entry.map_err(io_error)?.path();
        let is_wav = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav"));
        if let (true, Some(stem)) = (is_wav && path.is_file(), path.file_stem()) {
            let stem = stem.to_string_lossy().into_owned();
            if !stem.starts_with('.') {
                files.push((stem, path));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// A reference and the file it came from (the first part, for a sum).
struct Reference {
    audio: Audio,
    path: PathBuf,
}

/// The stems whose sum is a MUSDB accompaniment.
const ACCOMPANIMENT_PARTS: [&str; 3] = ["drums", "bass", "other"];

/// The reference for `stem`, and notes on how it was made.
fn reference_for(reference_dir: &Path, stem: &str) -> Result<(Reference, Vec<String>), EvalError> {
    let path = reference_dir.join(format!("{stem}.wav"));
    if path.is_file() {
        return Ok((Reference { audio: audio_file::read(&path)?, path }, Vec::new()));
    }
    let present: Vec<String> = wav_files(reference_dir)?.into_iter().map(|(s, _)| s).collect();
    let missing = |reason: String| EvalError::MissingReference {
        stem: stem.to_owned(),
        dir: reference_dir.to_path_buf(),
        reason,
    };
    if stem != "accompaniment" {
        return Err(missing(format!("no {stem}.wav; it has {}", listing(&present))));
    }
    let absent: Vec<&str> = ACCOMPANIMENT_PARTS.iter().copied().filter(|p| !present.iter().any(|s| s == p)).collect();
    let extra: Vec<&str> = present
        .iter()
        .map(String::as_str)
        .filter(|s| !ACCOMPANIMENT_PARTS.contains(s) && *s != "vocals" && *s != "mixture")
        .collect();
    if !absent.is_empty() || !extra.is_empty() {
        return Err(missing(format!(
            "no accompaniment.wav, and it is not a MUSDB folder whose drums + bass + other would make one: it has {}",
            listing(&present)
        )));
    }
    let mut sum: Option<Reference> = None;
    for part in ACCOMPANIMENT_PARTS {
        let path = reference_dir.join(format!("{part}.wav"));
        let audio = audio_file::read(&path)?;
        match &mut sum {
            None => sum = Some(Reference { audio, path }),
            Some(sum) => {
                check_compatible(&path, &audio, &sum.audio)?;
                if audio.frames() != sum.audio.frames() {
                    return Err(EvalError::LengthMismatch {
                        path,
                        reference: sum.path.clone(),
                        found: audio.frames(),
                        expected: sum.audio.frames(),
                    });
                }
                for (total, channel) in sum.audio.channels.iter_mut().zip(&audio.channels) {
                    total.iter_mut().zip(channel).for_each(|(t, &s)| *t += s);
                }
            }
        }
    }
    let note = "the accompaniment reference is drums + bass + other (there is no accompaniment.wav)".to_owned();
    Ok((sum.expect("three parts"), vec![note]))
}

fn listing(stems: &[String]) -> String {
    if stems.is_empty() {
        "no stems".to_owned()
    } else {
        stems.iter().map(|s| format!("{s}.wav")).collect::<Vec<_>>().join(", ")
    }
}

/// Sample rates and channel counts must match: comparing across them would score the mismatch,
/// not the separation.
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

/// Lengths may differ by [`LENGTH_TOLERANCE`] samples (scores then use the shorter, and the
/// note says so); more is an error.
fn check_length(path: &Path, estimate: &Audio, reference: &Reference) -> Result<Option<String>, EvalError> {
    let (found, expected) = (estimate.frames(), reference.audio.frames());
    if found.abs_diff(expected) > LENGTH_TOLERANCE {
        return Err(EvalError::LengthMismatch {
            path: path.to_path_buf(),
            reference: reference.path.clone(),
            found,
            expected,
        });
    }
    Ok((found != expected).then(|| {
        format!(
            "the estimate is {} samples {} than the reference; scored over the first {} samples",
            found.abs_diff(expected),
            if found < expected { "shorter" } else { "longer" },
            found.min(expected)
        )
    }))
}

#[cfg(test)]
mod tests;
