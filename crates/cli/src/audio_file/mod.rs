//! Reading and writing audio files for the command line (not used on the audio thread).
//!
//! Everything is decoded to planar `f32` at the file's own sample rate and channel count; callers
//! resample or remix as they need. Decoding is done with symphonia so that the command line
//! accepts what users actually have (WAV, FLAC, MP3, AAC in MP4/M4A, NI `.stem.mp4`), and writing
//! is done with hound as 32-bit float WAV so that separated stems are stored without re-quantising.

mod decode;
mod wav_writer;

use std::path::{Path, PathBuf};

pub use decode::Decoder;
pub use wav_writer::WavStreamWriter;

/// Decoded audio: planar samples, all channels the same length.
#[derive(Clone, Debug, PartialEq)]
pub struct Audio {
    pub sample_rate: u32,
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    /// Samples per channel (0 if there are no channels).
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Duration in seconds (0 for a zero sample rate rather than a division by zero).
    pub fn seconds(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.frames() as f64 / f64::from(self.sample_rate)
        }
    }
}

/// Why a file could not be read or written. Every message starts with the path, because the
/// command line reports these errors as they are and users may pass many files at once.
#[derive(Debug, thiserror::Error)]
pub enum AudioFileError {
    // The cause is part of the message, so it is not a `source` (which would print it twice).
    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{}: is a directory, not an audio file", path.display())]
    IsADirectory { path: PathBuf },
    #[error("{}: unsupported format", path.display())]
    UnsupportedFormat { path: PathBuf },
    #[error("{}: no audio track", path.display())]
    NoAudioTrack { path: PathBuf },
    #[error("{}: unsupported codec ({detail})", path.display())]
    UnsupportedCodec { path: PathBuf, detail: String },
    #[error("{}: corrupt or unreadable audio ({detail})", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("{}: empty file (no samples)", path.display())]
    Empty { path: PathBuf },
    #[error("{}: cannot write: {reason}", path.display())]
    InvalidAudio { path: PathBuf, reason: &'static str },
    #[error("{}: cannot write WAV: {cause}", path.display())]
    WavWrite { path: PathBuf, cause: hound::Error },
    #[error("{}: a WAV file holds at most 4 GiB of audio; this one would need {gib:.1} GiB (split the input)", path.display())]
    TooLong { path: PathBuf, gib: f64 },
}

/// Read the first audio track of a file. What the user should know about the file (a header
/// that claims more audio than there is, a file cut short) is printed to stderr.
pub fn read(path: &Path) -> Result<Audio, AudioFileError> {
    let (mut tracks, warnings) = decode::decode(path, decode::Tracks::First)?;
    warnings.iter().for_each(|w| warn(w));
    Ok(tracks.remove(0))
}

/// Read every audio track of a container, in container order. NI `.stem.mp4` files hold five
/// AAC tracks: mixture, drums, bass, other, vocals.
pub fn read_tracks(path: &Path) -> Result<Vec<Audio>, AudioFileError> {
    let (tracks, warnings) = decode::decode(path, decode::Tracks::All)?;
    warnings.iter().for_each(|w| warn(w));
    Ok(tracks)
}

/// Prints a warning for the user on stderr, as `sift: warning: ...`.
pub fn warn(message: &str) {
    eprintln!("sift: warning: {message}");
}

/// Write `audio` as a 32-bit float WAV, creating parent directories. Float keeps whatever the
/// separator produced (including peaks above full scale) without quantisation or clipping.
///
/// The file appears complete or not at all: it is written under a hidden temporary name beside
/// `path` and renamed when done (which replaces a symbolic link at `path` rather than writing
/// through it).
pub fn write_wav(path: &Path, audio: &Audio) -> Result<(), AudioFileError> {
    let invalid = |reason| AudioFileError::InvalidAudio { path: path.to_path_buf(), reason };
    let frames = audio.frames();
    if audio.channels.iter().any(|c| c.len() != frames) {
        return Err(invalid("channels have different lengths"));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|cause| AudioFileError::Io { path: dir.to_path_buf(), cause })?;
    let name = path.file_name().ok_or_else(|| invalid("no file name"))?;
    let temp = dir.join(format!(".{}.sift-partial-{}", name.to_string_lossy(), std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let written = (|| {
        let mut writer = WavStreamWriter::create_new(&temp, audio.sample_rate, audio.channels.len())?;
        for start in (0..frames).step_by(1 << 16) {
            let end = (start + (1 << 16)).min(frames);
            let block: Vec<&[f32]> = audio.channels.iter().map(|c| &c[start..end]).collect();
            writer.write(&block)?;
        }
        writer.finish()?;
        std::fs::rename(&temp, path).map_err(|cause| AudioFileError::Io { path: path.to_path_buf(), cause })
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.map_err(|e| match e {
        // Name the file asked for, not the temporary.
        AudioFileError::InvalidAudio { reason, .. } => {
            AudioFileError::InvalidAudio { path: path.to_path_buf(), reason }
        }
        AudioFileError::Io { cause, .. } => AudioFileError::Io { path: path.to_path_buf(), cause },
        AudioFileError::WavWrite { cause, .. } => AudioFileError::WavWrite { path: path.to_path_buf(), cause },
        AudioFileError::TooLong { gib, .. } => AudioFileError::TooLong { path: path.to_path_buf(), gib },
        other => other,
    })
}

#[cfg(test)]
mod tests;
