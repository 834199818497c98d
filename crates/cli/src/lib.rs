//! The `sift` command line and what only it needs: decoding and encoding audio files, and
//! scoring separations against reference stems.
//!
//! - [`commands`]: argument parsing and the sub-commands (`separate`, `eval`, `models`,
//!   `unpack-stems`).
//! - [`audio_file`]: reading WAV/FLAC/MP3/AAC (symphonia) and writing float WAV (hound).
//! - [`evaluation`]: separation quality (SDR) against reference stems.
//! - [`memory`]: the process's peak memory, for the reports.
//! - [`statistics`]: median, p99 and maximum of timings, defined once.
//!
//! The plugin library does not link this crate, so hosts never load the decoders.

pub mod audio_file;
pub mod commands;
pub mod evaluation;
pub mod memory;
pub mod statistics;

pub use commands::main;
