//! Sift: real-time AI stem separation.
//!
//! - [`engine`]: the real-time engine (audio-thread half, worker, STFT, masks); knows nothing
//!   about ONNX Runtime or plugin formats.
//! - [`inference`]: ONNX Runtime, the model-file contract, adapters from model outputs to masks.
//! - [`audio_file`]: reading and writing audio files for the command line.
//! - [`evaluation`]: separation quality (SDR) against reference stems.
//! - [`render`]: drives the audio-thread half over a whole recording like a host.
//! - [`cli`]: the `sift` command line.
//! - [`plugin`]: the CLAP and VST3 plugins `Sift` and `Sift Single` (nice-plug glue).
//! - [`binary_location`]: finds the folder of the running executable or plugin library.

pub mod audio_file;
pub mod binary_location;
pub mod cli;
pub mod engine;
pub mod evaluation;
pub mod inference;
pub mod plugin;
pub mod render;
