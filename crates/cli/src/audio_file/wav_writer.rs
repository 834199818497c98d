//! A 32-bit float WAV written as it goes: the `sift separate` stems, never held in memory.

use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::AudioFileError;

/// The most data bytes a RIFF WAV can describe (its sizes are 32-bit), less the header.
const MAX_DATA_BYTES: u64 = u32::MAX as u64 - 80;

/// Writes a 32-bit float WAV frame by frame into a file it creates (never an existing one).
pub struct WavStreamWriter {
    path: PathBuf,
    writer: hound::WavWriter<BufWriter<File>>,
    /// The same file, to `fsync` it once complete.
    file: File,
    channels: usize,
    bytes: u64,
}

impl WavStreamWriter {
    /// Creates `path`, which must not exist (`O_EXCL`: an existing file or symlink there is an
    /// error, so nothing is ever written through a link).
    pub fn create_new(path: &Path, sample_rate: u32, channels: usize) -> Result<Self, AudioFileError> {
        let invalid = |reason| AudioFileError::InvalidAudio { path: path.to_path_buf(), reason };
        let channel_count = u16::try_from(channels)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| invalid("channel count must be 1 to 65535"))?;
        if sample_rate == 0 {
            return Err(invalid("sample rate is 0"));
        }
        let io = |cause| AudioFileError::Io { path: path.to_path_buf(), cause };
        let file = OpenOptions::new().write(true).create_new(true).open(path).map_err(io)?;
        let sync_handle = file.try_clone().map_err(io)?;
        let spec = hound::WavSpec {
            channels: channel_count,
            sample_rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let writer = hound::WavWriter::new(BufWriter::with_capacity(1 << 16, file), spec)
            .map_err(|cause| AudioFileError::WavWrite { path: path.to_path_buf(), cause })?;
        Ok(Self { path: path.to_path_buf(), writer, file: sync_handle, channels, bytes: 0 })
    }

    /// Fails early when `frames` frames would not fit in a WAV file.
    pub fn check_fits(path: &Path, frames: u64, channels: usize) -> Result<(), AudioFileError> {
        let bytes = frames.saturating_mul(channels as u64 * 4);
        if bytes > MAX_DATA_BYTES {
            return Err(AudioFileError::TooLong { path: path.to_path_buf(), gib: bytes as f64 / (1u64 << 30) as f64 });
        }
        Ok(())
    }

    /// Appends frames: one slice per channel, all the same length.
    pub fn write(&mut self, channels: &[&[f32]]) -> Result<(), AudioFileError> {
        assert_eq!(channels.len(), self.channels, "one slice per channel");
        let frames = channels[0].len();
        self.bytes += (frames * self.channels * 4) as u64;
        Self::check_fits(&self.path, self.bytes / (self.channels as u64 * 4), self.channels)?;
        let wav_error = |cause| AudioFileError::WavWrite { path: self.path.clone(), cause };
        for i in 0..frames {
            for channel in channels {
                self.writer.write_sample(channel[i]).map_err(wav_error)?;
            }
        }
        Ok(())
    }

    /// Completes the header and flushes the file to the disk.
    pub fn finish(self) -> Result<(), AudioFileError> {
        let path = self.path;
        self.writer.finalize().map_err(|cause| AudioFileError::WavWrite { path: path.clone(), cause })?;
        self.file.sync_all().map_err(|cause| AudioFileError::Io { path, cause })
    }
}
