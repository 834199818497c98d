//! Decoding with symphonia: one pass over the container, one decoder per wanted track.

use std::fs::File;
use std::path::Path;

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::packet::Packet;

use super::{Audio, AudioFileError};

/// Which audio tracks to decode.
pub(super) enum Tracks {
    First,
    All,
}

/// Decode the wanted audio tracks of `path`; the result has at least one element.
pub(super) fn decode(path: &Path, which: Tracks) -> Result<Vec<Audio>, AudioFileError> {
    let err = ErrorContext(path);
    let file = File::open(path).map_err(|source| err.io(source))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(&hint, mss, FormatOptions::default(), MetadataOptions::default())
        .map_err(|e| match e {
            SymphoniaError::IoError(source)
                if source.kind() != std::io::ErrorKind::UnexpectedEof =>
            {
                err.io(source)
            }
            _ => AudioFileError::UnsupportedFormat { path: path.to_path_buf() },
        })?;

    let audio_tracks = format.tracks().iter().filter(|t| t.track_type() == Some(TrackType::Audio));
    let wanted: Vec<_> = match which {
        Tracks::First => audio_tracks.take(1).collect(),
        Tracks::All => audio_tracks.collect(),
    };
    if wanted.is_empty() {
        return Err(AudioFileError::NoAudioTrack { path: path.to_path_buf() });
    }
    // Gapless on (it is symphonia's default, stated here because lengths depend on it): decoders
    // that support it drop the encoder delay and padding the container signals.
    let options = AudioDecoderOptions::default().gapless(true);
    let mut decoders = wanted
        .into_iter()
        .map(|track| {
            let params = track.codec_params.as_ref().and_then(|p| p.audio()).ok_or_else(|| {
                AudioFileError::UnsupportedCodec {
                    path: path.to_path_buf(),
                    detail: format!("track {} has no audio codec parameters", track.id),
                }
            })?;
            let decoder = symphonia::default::get_codecs()
                .make_audio_decoder(params, &options)
                .map_err(|e| AudioFileError::UnsupportedCodec {
                    path: path.to_path_buf(),
                    detail: format!("track {}: {e}", track.id),
                })?;
            Ok(TrackDecoder::new(track.id, decoder))
        })
        .collect::<Result<Vec<_>, _>>()?;

    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            // A file cut short (an interrupted download or copy) still holds good audio up to
            // the cut; players accept it, so do we.
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(e) => return Err(err.corrupt(e)),
        };
        if let Some(decoder) = decoders.iter_mut().find(|d| d.track_id == packet.track_id) {
            decoder.decode(&packet).map_err(|e| err.corrupt(e))?;
        }
    }

    decoders.into_iter().map(|d| d.finish(path)).collect()
}

/// Builds errors that name the file.
struct ErrorContext<'a>(&'a Path);

impl ErrorContext<'_> {
    fn io(&self, source: std::io::Error) -> AudioFileError {
        AudioFileError::Io { path: self.0.to_path_buf(), source }
    }

    fn corrupt(&self, e: impl std::fmt::Display) -> AudioFileError {
        AudioFileError::Corrupt { path: self.0.to_path_buf(), detail: e.to_string() }
    }
}

/// One track's decoder and the audio decoded so far.
struct TrackDecoder {
    track_id: u32,
    decoder: Box<dyn AudioDecoder>,
    sample_rate: u32,
    channels: Vec<Vec<f32>>,
    scratch: Vec<Vec<f32>>,
}

impl TrackDecoder {
    fn new(track_id: u32, decoder: Box<dyn AudioDecoder>) -> Self {
        Self { track_id, decoder, sample_rate: 0, channels: Vec::new(), scratch: Vec::new() }
    }

    /// Decode one packet and append its frames. A packet that fails to decode is an error rather
    /// than skipped (as a player would): a gap would shift everything after it and silently
    /// spoil any comparison against reference stems.
    fn decode(&mut self, packet: &Packet) -> Result<(), String> {
        let buffer = self.decoder.decode(packet).map_err(|e| e.to_string())?;
        let rate = buffer.spec().rate();
        let channel_count = buffer.spec().channels().count();
        if self.channels.is_empty() {
            self.sample_rate = rate;
            self.channels = vec![Vec::new(); channel_count];
        } else if rate != self.sample_rate || channel_count != self.channels.len() {
            return Err(format!(
                "track {}: format changes mid-stream ({} Hz × {}ch to {rate} Hz × {channel_count}ch)",
                self.track_id,
                self.sample_rate,
                self.channels.len(),
            ));
        }
        buffer.copy_to_vecs_planar(&mut self.scratch);
        let (start, end) = untrimmed_range(packet, buffer.frames());
        for (out, decoded) in self.channels.iter_mut().zip(&self.scratch) {
            out.extend_from_slice(&decoded[start..end]);
        }
        Ok(())
    }

    fn finish(self, path: &Path) -> Result<Audio, AudioFileError> {
        let audio = Audio { sample_rate: self.sample_rate, channels: self.channels };
        if audio.frames() == 0 {
            return Err(AudioFileError::Empty { path: path.to_path_buf() });
        }
        Ok(audio)
    }
}

/// The range of decoded frames to keep. Gapless-capable decoders already drop the delay and
/// padding the container signals in `trim_start`/`trim_end`; for the others the decoder returns
/// the whole block (`dur + trim_start + trim_end` frames) and the trim is applied here, so that
/// lengths match the container's stated length whichever decoder ran.
fn untrimmed_range(packet: &Packet, decoded: usize) -> (usize, usize) {
    let trim_start = packet.trim_start.get() as usize;
    let trim_end = packet.trim_end.get() as usize;
    let is_whole_block = (trim_start > 0 || trim_end > 0)
        && decoded as u64 == packet.block_dur().get()
        && decoded >= trim_start + trim_end;
    if is_whole_block {
        (trim_start, decoded - trim_end)
    } else {
        (0, decoded)
    }
}
