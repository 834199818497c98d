//! Reading and writing audio files for the command line (not used on the audio thread).
//!
//! Everything is decoded to planar `f32` at the file's own sample rate and channel count; callers
//! resample or remix as they need. Decoding is done with symphonia so that the command line
//! accepts what users actually have (WAV, FLAC, MP3, AAC in MP4/M4A, NI `.stem.mp4`), and writing
//! is done with hound as 32-bit float WAV so that separated stems are stored without re-quantising.

mod decode;

use std::path::{Path, PathBuf};

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
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
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
    #[error("{}: cannot write WAV: {source}", path.display())]
    WavWrite { path: PathBuf, source: hound::Error },
}

/// Read the first audio track of a file.
pub fn read(path: &Path) -> Result<Audio, AudioFileError> {
    decode::decode(path, decode::Tracks::First).map(|mut tracks| tracks.remove(0))
}

/// Read every audio track of a container, in container order. NI `.stem.mp4` files hold five
/// AAC tracks: mixture, drums, bass, other, vocals.
pub fn read_tracks(path: &Path) -> Result<Vec<Audio>, AudioFileError> {
    decode::decode(path, decode::Tracks::All)
}

/// Write `audio` as a 32-bit float WAV, creating parent directories. Float keeps whatever the
/// separator produced (including peaks above full scale) without quantisation or clipping.
pub fn write_wav(path: &Path, audio: &Audio) -> Result<(), AudioFileError> {
    let invalid = |reason| AudioFileError::InvalidAudio { path: path.to_path_buf(), reason };
    let channel_count = u16::try_from(audio.channels.len())
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| invalid("channel count must be 1 to 65535"))?;
    if audio.sample_rate == 0 {
        return Err(invalid("sample rate is 0"));
    }
    let frames = audio.frames();
    if audio.channels.iter().any(|c| c.len() != frames) {
        return Err(invalid("channels have different lengths"));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|source| AudioFileError::Io { path: dir.to_path_buf(), source })?;
    }

    let wav_error = |source| AudioFileError::WavWrite { path: path.to_path_buf(), source };
    let spec = hound::WavSpec {
        channels: channel_count,
        sample_rate: audio.sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(path, spec).map_err(wav_error)?;
    for i in 0..frames {
        for channel in &audio.channels {
            writer.write_sample(channel[i]).map_err(wav_error)?;
        }
    }
    writer.finalize().map_err(wav_error)
}

#[cfg(test)]
mod tests;
