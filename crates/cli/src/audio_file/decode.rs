//! Decoding with symphonia: one pass over the container, one decoder per wanted track.
//!
//! [`Decoder`] streams the first audio track packet by packet (what `sift separate` uses, so its
//! memory does not grow with the file's length); [`decode`] collects whole tracks.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::packet::Packet;

use super::{Audio, AudioFileError};

/// Which audio tracks to decode.
pub(super) enum Tracks {
    First,
    All,
}

/// Opens `path` and probes its container. Returns the reader and what was learnt about a
/// WAV header that claims more data than the file holds (already corrected: see [`WavFix`]).
fn open_format(path: &Path) -> Result<(Box<dyn FormatReader>, Vec<String>), AudioFileError> {
    let err = ErrorContext(path);
    if path.is_dir() {
        return Err(AudioFileError::IsADirectory { path: path.to_path_buf() });
    }
    let mut file = File::open(path).map_err(|source| err.io(source))?;
    let mut warnings = Vec::new();
    let source: Box<dyn MediaSource> = match WavFix::inspect(&mut file).map_err(|source| err.io(source))? {
        Some(fix) => {
            warnings.extend(fix.warning.map(|w| format!("{}: {w}", path.display())));
            Box::new(PatchedFile { file, patches: fix.patches, pos: 0 })
        }
        None => Box::new(file),
    };
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probe =
        || symphonia::default::get_probe().probe(&hint, mss, FormatOptions::default(), MetadataOptions::default());
    let probed = contained(probe).map_err(|()| AudioFileError::Corrupt {
        path: path.to_path_buf(),
        detail: "its header is malformed (the decoder gave up reading it)".to_owned(),
    })?;
    let format = probed.map_err(|e| match e {
        SymphoniaError::IoError(source) if source.kind() != std::io::ErrorKind::UnexpectedEof => err.io(source),
        _ => AudioFileError::UnsupportedFormat { path: path.to_path_buf() },
    })?;
    Ok((format, warnings))
}

/// Runs one call into symphonia, a panic in it becoming `Err(())`. symphonia 0.6 panics on some
/// hostile input (a WAV `fmt ` chunk claiming 65,280 channels overflows a multiplication in its
/// RIFF reader, found by `fuzz/`); a file must give a clear error, never take the process down.
/// The reader or decoder that panicked is not used again: its caller stops with the error.
fn contained<T>(call: impl FnOnce() -> T) -> Result<T, ()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).map_err(drop)
}

fn make_decoder(path: &Path, track: &symphonia::core::formats::Track) -> Result<TrackDecoder, AudioFileError> {
    // Gapless on (it is symphonia's default, stated here because lengths depend on it): decoders
    // that support it drop the encoder delay and padding the container signals.
    let options = AudioDecoderOptions::default().gapless(true);
    let params =
        track.codec_params.as_ref().and_then(|p| p.audio()).ok_or_else(|| AudioFileError::UnsupportedCodec {
            path: path.to_path_buf(),
            detail: format!("track {} has no audio codec parameters", track.id),
        })?;
    let decoder = symphonia::default::get_codecs().make_audio_decoder(params, &options).map_err(|e| {
        AudioFileError::UnsupportedCodec { path: path.to_path_buf(), detail: format!("track {}: {e}", track.id) }
    })?;
    Ok(TrackDecoder::new(track.id, decoder))
}

/// What reading the next packet gave.
enum Next {
    Packet(Packet),
    End,
    /// The container ended in the middle of a packet (a file cut short).
    CutShort,
}

fn next_packet(format: &mut dyn FormatReader, path: &Path) -> Result<Next, AudioFileError> {
    let read = contained(|| format.next_packet())
        .map_err(|()| ErrorContext(path).corrupt("a packet is malformed (the decoder gave up reading it)"))?;
    match read {
        Ok(Some(packet)) => Ok(Next::Packet(packet)),
        Ok(None) => Ok(Next::End),
        // A file cut short (an interrupted download or copy) still holds good audio up to the
        // cut; players accept it, so do we, and the caller warns.
        Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(Next::CutShort),
        Err(e) => Err(ErrorContext(path).corrupt(e)),
    }
}

fn cut_short_warning(path: &Path, frames: u64, rate: u32) -> String {
    format!(
        "{}: the file ends in the middle of its audio (cut short?); read the {:.2} s that are there",
        path.display(),
        frames as f64 / f64::from(rate.max(1))
    )
}

/// Decode the wanted audio tracks of `path`; the result has at least one element.
pub(super) fn decode(path: &Path, which: Tracks) -> Result<(Vec<Audio>, Vec<String>), AudioFileError> {
    if let Tracks::First = which {
        let mut decoder = Decoder::open(path)?;
        let mut channels = vec![Vec::new(); decoder.channels()];
        while let Some(frames) = decoder.next_frames()? {
            for (all, new) in channels.iter_mut().zip(frames) {
                all.extend_from_slice(new);
            }
        }
        let warnings = decoder.warnings().to_vec();
        return Ok((vec![Audio { sample_rate: decoder.sample_rate(), channels }], warnings));
    }
    let (mut format, mut warnings) = open_format(path)?;
    let wanted: Vec<_> = format.tracks().iter().filter(|t| t.track_type() == Some(TrackType::Audio)).collect();
    if wanted.is_empty() {
        return Err(AudioFileError::NoAudioTrack { path: path.to_path_buf() });
    }
    let mut decoders = wanted.into_iter().map(|track| make_decoder(path, track)).collect::<Result<Vec<_>, _>>()?;
    let mut tracks: Vec<Vec<Vec<f32>>> = vec![Vec::new(); decoders.len()];
    loop {
        let packet = match next_packet(format.as_mut(), path)? {
            Next::Packet(packet) => packet,
            Next::End => break,
            Next::CutShort => {
                let frames = tracks[0].first().map_or(0, Vec::len) as u64;
                warnings.push(cut_short_warning(path, frames, decoders[0].sample_rate));
                break;
            }
        };
        if let Some(i) = decoders.iter().position(|d| d.track_id == packet.track_id) {
            let frames = decoders[i].decode(&packet).map_err(|e| ErrorContext(path).corrupt(e))?;
            let track = &mut tracks[i];
            if track.is_empty() {
                *track = vec![Vec::new(); frames.len()];
            }
            for (all, new) in track.iter_mut().zip(frames) {
                all.extend_from_slice(new);
            }
        }
    }
    let audio = decoders
        .iter()
        .zip(tracks)
        .map(|(d, channels)| {
            let audio = Audio { sample_rate: d.sample_rate, channels };
            if audio.frames() == 0 {
                return Err(AudioFileError::Empty { path: path.to_path_buf() });
            }
            Ok(audio)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((audio, warnings))
}

/// Streams the first audio track of a file, a packet at a time, in memory that does not depend
/// on the file's length.
pub struct Decoder {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    track: TrackDecoder,
    /// Frames the container says the track holds, when it says.
    frames_hint: Option<u64>,
    /// The first packet's frames, decoded by [`Decoder::open`] to learn the format.
    pending: bool,
    done: bool,
    frames: u64,
    warnings: Vec<String>,
}

impl Decoder {
    /// Opens `path` and decodes its first packet, so the sample rate and channel count are known.
    pub fn open(path: &Path) -> Result<Self, AudioFileError> {
        let (format, warnings) = open_format(path)?;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.track_type() == Some(TrackType::Audio))
            .ok_or_else(|| AudioFileError::NoAudioTrack { path: path.to_path_buf() })?;
        let frames_hint = track.num_frames;
        let track = make_decoder(path, track)?;
        let mut decoder = Decoder {
            path: path.to_path_buf(),
            format,
            track,
            frames_hint,
            pending: false,
            done: false,
            frames: 0,
            warnings,
        };
        if !decoder.decode_next()? {
            return Err(AudioFileError::Empty { path: path.to_path_buf() });
        }
        decoder.pending = true;
        Ok(decoder)
    }

    /// The file's sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.track.sample_rate
    }

    /// The file's channel count.
    pub fn channels(&self) -> usize {
        self.track.frames.len()
    }

    /// Frames the container says it holds, when it says (a progress estimate, not a promise).
    pub fn frames_hint(&self) -> Option<u64> {
        self.frames_hint
    }

    /// What the user should know about the file (a header that claims more than is there, a file
    /// cut short). Complete once [`Decoder::next_frames`] has returned `None`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The next decoded frames, planar (one slice per channel, at least one frame), or `None`
    /// at the end.
    pub fn next_frames(&mut self) -> Result<Option<&[Vec<f32>]>, AudioFileError> {
        if self.pending {
            self.pending = false;
        } else if !self.decode_next()? {
            return Ok(None);
        }
        Ok(Some(&self.track.frames))
    }

    /// Decodes packets until one yields frames; false at the end of the track.
    fn decode_next(&mut self) -> Result<bool, AudioFileError> {
        while !self.done {
            let packet = match next_packet(self.format.as_mut(), &self.path)? {
                Next::Packet(packet) => packet,
                Next::End => {
                    self.done = true;
                    break;
                }
                Next::CutShort => {
                    self.done = true;
                    self.warnings.push(cut_short_warning(&self.path, self.frames, self.track.sample_rate));
                    break;
                }
            };
            if packet.track_id != self.track.track_id {
                continue;
            }
            let n = self
                .track
                .decode(&packet)
                .map_err(|e| ErrorContext(&self.path).corrupt(e))?
                .first()
                .map_or(0, Vec::len);
            if n > 0 {
                self.frames += n as u64;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Builds errors that name the file.
struct ErrorContext<'a>(&'a Path);

impl ErrorContext<'_> {
    fn io(&self, cause: std::io::Error) -> AudioFileError {
        AudioFileError::Io { path: self.0.to_path_buf(), cause }
    }

    fn corrupt(&self, e: impl std::fmt::Display) -> AudioFileError {
        AudioFileError::Corrupt { path: self.0.to_path_buf(), detail: e.to_string() }
    }
}

/// One track's decoder and the frames of the packet decoded last.
struct TrackDecoder {
    track_id: u32,
    decoder: Box<dyn AudioDecoder>,
    sample_rate: u32,
    /// The last packet's frames, planar, trimmed.
    frames: Vec<Vec<f32>>,
    scratch: Vec<Vec<f32>>,
}

impl TrackDecoder {
    fn new(track_id: u32, decoder: Box<dyn AudioDecoder>) -> Self {
        Self { track_id, decoder, sample_rate: 0, frames: Vec::new(), scratch: Vec::new() }
    }

    /// Decode one packet; returns its frames. A packet that fails to decode is an error rather
    /// than skipped (as a player would): a gap would shift everything after it and silently
    /// spoil any comparison against reference stems.
    fn decode(&mut self, packet: &Packet) -> Result<&[Vec<f32>], String> {
        let decoded = contained(|| self.decoder.decode(packet))
            .map_err(|()| "a packet is malformed (the decoder gave up decoding it)".to_owned())?;
        let buffer = decoded.map_err(|e| e.to_string())?;
        let rate = buffer.spec().rate();
        let channel_count = buffer.spec().channels().count();
        if self.frames.is_empty() {
            self.sample_rate = rate;
            self.frames = vec![Vec::new(); channel_count];
        } else if rate != self.sample_rate || channel_count != self.frames.len() {
            return Err(format!(
                "track {}: format changes mid-stream ({} Hz × {}ch to {rate} Hz × {channel_count}ch)",
                self.track_id,
                self.sample_rate,
                self.frames.len(),
            ));
        }
        buffer.copy_to_vecs_planar(&mut self.scratch);
        let (start, end) = untrimmed_range(packet, buffer.frames());
        for (out, decoded) in self.frames.iter_mut().zip(&self.scratch) {
            out.clear();
            out.extend_from_slice(&decoded[start..end]);
        }
        Ok(&self.frames)
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

/// A WAV file whose header claims more audio than the file holds: a recording or copy that was
/// cut short, or a writer that never fixed the sizes up. Common readers (libsndfile, ffmpeg,
/// sox) read the audio that is there; symphonia refuses such a file, or drops its last partial
/// packet without a word. So the sizes are corrected on the fly (the file is not changed) and
/// the user is told.
struct WavFix {
    /// `(offset, little-endian u32)` to read in place of the file's bytes.
    patches: Vec<(u64, [u8; 4])>,
    /// What to tell the user, if anything.
    warning: Option<String>,
}

impl WavFix {
    /// Walks the RIFF chunks up to `data`; `None` when the file is not a WAV or its sizes are
    /// consistent.
    fn inspect(file: &mut File) -> std::io::Result<Option<WavFix>> {
        let len = file.metadata()?.len();
        let mut header = [0u8; 12];
        if len < 12 || file.read_exact(&mut header).is_err() || &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" {
            file.seek(SeekFrom::Start(0))?;
            return Ok(None);
        }
        let riff_len = u64::from(u32::from_le_bytes(header[4..8].try_into().unwrap()));
        let mut pos = 12u64;
        let mut block_align = 1u64;
        let mut byte_rate = 0u64;
        let mut fix = None;
        while pos + 8 <= len {
            let mut chunk = [0u8; 8];
            file.seek(SeekFrom::Start(pos))?;
            file.read_exact(&mut chunk)?;
            let size = u64::from(u32::from_le_bytes(chunk[4..8].try_into().unwrap()));
            if &chunk[0..4] == b"fmt " && size >= 16 {
                let mut fmt = [0u8; 16];
                file.read_exact(&mut fmt)?;
                byte_rate = u64::from(u32::from_le_bytes(fmt[8..12].try_into().unwrap()));
                block_align = u64::from(u16::from_le_bytes(fmt[12..14].try_into().unwrap())).max(1);
            }
            if &chunk[0..4] == b"data" {
                let start = pos + 8;
                let unknown = u64::from(u32::MAX);
                let present = (len - start) / block_align * block_align;
                // 0xFFFFFFFF: "length unknown", what a writer to a pipe puts there.
                let streamed = size == unknown && present < unknown;
                let claimed_too_much = size != unknown && size > len - start;
                let riff_too_short = riff_len != unknown && riff_len < pos + size.min(len - start);
                if streamed || claimed_too_much || riff_too_short {
                    let data = if streamed || claimed_too_much { present } else { size };
                    let seconds = |bytes: u64| {
                        if byte_rate > 0 {
                            format!("{:.2} s", bytes as f64 / byte_rate as f64)
                        } else {
                            format!("{bytes} bytes")
                        }
                    };
                    let warning = claimed_too_much.then(|| {
                        format!(
                            "the WAV header claims {} of audio but the file holds {} (cut short?); reading the {} that are there",
                            seconds(size),
                            seconds(present),
                            seconds(present)
                        )
                    });
                    let data = u32::try_from(data).unwrap_or(u32::MAX - 1);
                    fix = Some(WavFix {
                        patches: vec![(4, u32::MAX.to_le_bytes()), (pos + 4, data.to_le_bytes())],
                        warning,
                    });
                }
                break;
            }
            pos = start_of_next(pos, size);
        }
        file.seek(SeekFrom::Start(0))?;
        Ok(fix)
    }
}

/// RIFF chunks are padded to an even length.
fn start_of_next(pos: u64, size: u64) -> u64 {
    pos + 8 + size + (size & 1)
}

/// A file read with a few 4-byte fields replaced.
struct PatchedFile {
    file: File,
    patches: Vec<(u64, [u8; 4])>,
    pos: u64,
}

impl Read for PatchedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        for &(offset, bytes) in &self.patches {
            for (i, &b) in bytes.iter().enumerate() {
                let at = offset + i as u64;
                if at >= self.pos && at < self.pos + n as u64 {
                    buf[(at - self.pos) as usize] = b;
                }
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PatchedFile {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.file.seek(to)?;
        Ok(self.pos)
    }
}

impl MediaSource for PatchedFile {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        self.file.metadata().ok().map(|m| m.len())
    }
}
