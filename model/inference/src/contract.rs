//! The model-file contract: the metadata a Sift model carries, read and checked.
//!
//! The keys are documented in `model/README.md`; this module is their reader. A model that
//! breaks the contract is rejected with a message naming the key and what was expected.

use std::collections::HashMap;

use sift_engine::{ModelSpec, MAX_STEMS};

use super::InferenceError;

/// The contract version this build reads.
pub const CONTRACT_VERSION: &str = "1";

/// What the network's output tensor holds, and so how it becomes masks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// Soft masks per stem (used as they are, then normalised).
    Mask,
    /// Magnitude spectrograms per stem: masks are their squared ratios (Wiener-style).
    Magnitude,
}

/// Everything the metadata says about a model.
#[derive(Clone, Debug)]
pub struct Contract {
    /// The grid and stems, for the engine.
    pub spec: ModelSpec,
    /// What the output tensor holds.
    pub output_kind: OutputKind,
    /// Name of the magnitude input tensor.
    pub input: String,
    /// Name of the mask (or magnitude) output tensor.
    pub output: String,
}

impl Contract {
    /// Reads the contract from a model's `metadata_props`.
    pub fn from_metadata(meta: &HashMap<String, String>) -> Result<Self, InferenceError> {
        let get = |key: &str| {
            meta.get(key)
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| InferenceError::Contract(format!("metadata key `{key}` is missing")))
        };
        let number = |key: &str| -> Result<usize, InferenceError> {
            let text = get(key)?;
            text.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                InferenceError::Contract(format!("`{key}` must be a positive whole number, found `{text}`"))
            })
        };
        let version = get("sift.contract")?;
        if version != CONTRACT_VERSION {
            return Err(InferenceError::Contract(format!(
                "`sift.contract` is `{version}`, this version of Sift reads contract {CONTRACT_VERSION}"
            )));
        }
        let stems: Vec<String> =
            get("sift.stems")?.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        if !(2..=MAX_STEMS).contains(&stems.len()) {
            return Err(InferenceError::Contract(format!(
                "`sift.stems` must name 2 to {MAX_STEMS} stems, found {}",
                stems.len()
            )));
        }
        let residual_name = get("sift.residual_stem")?;
        let residual = stems.iter().position(|s| *s == residual_name).ok_or_else(|| {
            InferenceError::Contract(format!(
                "`sift.residual_stem` `{residual_name}` is not one of the stems {stems:?}"
            ))
        })?;
        let output_kind = match get("sift.output_kind")?.as_str() {
            "mask" => OutputKind::Mask,
            "magnitude" => OutputKind::Magnitude,
            other => {
                return Err(InferenceError::Contract(format!(
                    "`sift.output_kind` `{other}` is not supported: use `mask` or `magnitude` (waveform models need an adapter that Sift does not have yet)"
                )))
            }
        };
        let window = get("sift.window")?;
        if window != "hann-periodic" {
            return Err(InferenceError::Contract(format!(
                "`sift.window` `{window}` is not supported: use `hann-periodic`"
            )));
        }
        let channels = number("sift.channels")?;
        if channels != 2 {
            return Err(InferenceError::Contract(format!(
                "`sift.channels` is {channels}: Sift's models take stereo (2)"
            )));
        }
        let (n_fft, hop, bins) = (number("sift.n_fft")?, number("sift.hop")?, number("sift.bins")?);
        if !n_fft.is_multiple_of(hop) || n_fft / hop < 2 {
            return Err(InferenceError::Contract(format!(
                "`sift.hop` {hop} must divide `sift.n_fft` {n_fft} at least twice"
            )));
        }
        if bins > n_fft / 2 + 1 {
            return Err(InferenceError::Contract(format!(
                "`sift.bins` {bins} exceeds the {} bins of a {n_fft}-point STFT",
                n_fft / 2 + 1
            )));
        }
        let sample_rate = number("sift.sample_rate")?;
        if !(8_000..=192_000).contains(&sample_rate) {
            return Err(InferenceError::Contract(format!("`sift.sample_rate` {sample_rate} is outside 8 to 192 kHz")));
        }
        for (key, expected) in
            [("sift.input_layout", "batch,channel,frame,bin"), ("sift.output_layout", "batch,stem,channel,frame,bin")]
        {
            let layout = get(key)?.replace(' ', "");
            if layout != expected {
                return Err(InferenceError::Contract(format!("`{key}` is `{layout}`, Sift reads `{expected}`")));
            }
        }
        let spec = ModelSpec {
            name: get("sift.name")?,
            stems,
            residual,
            sample_rate: sample_rate as u32,
            n_fft,
            hop,
            bins,
            frame_multiple: number("sift.frame_multiple")?,
            streaming: None,
            licence: get("sift.licence")?,
            source: get("sift.source")?,
            origin: None,
        };
        Ok(Contract { spec, output_kind, input: get("sift.input")?, output: get("sift.output")? })
    }

    /// Checks the session's tensors against the contract: names, element type and the fixed
    /// dimensions (frames may be dynamic).
    pub fn check_tensors(
        &self,
        inputs: &[(String, Vec<i64>)],
        outputs: &[(String, Vec<i64>)],
    ) -> Result<(), InferenceError> {
        let spec = &self.spec;
        let find = |list: &[(String, Vec<i64>)], name: &str, what: &str| {
            list.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone()).ok_or_else(|| {
                let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
                InferenceError::Contract(format!("the model has no {what} tensor `{name}` (it has {names:?})"))
            })
        };
        let fits = |shape: &[i64], expected: &[i64]| {
            shape.len() == expected.len() && shape.iter().zip(expected).all(|(&d, &e)| e < 0 || d < 0 || d == e)
        };
        let input = find(inputs, &self.input, "input")?;
        let expected_in = [1, 2, -1, spec.bins as i64];
        if !fits(&input, &expected_in) {
            return Err(InferenceError::Contract(format!(
                "input `{}` has shape {input:?}, the metadata implies [1, 2, frames, {}]",
                self.input, spec.bins
            )));
        }
        let output = find(outputs, &self.output, "output")?;
        let expected_out = [1, spec.stem_count() as i64, 2, -1, spec.bins as i64];
        if !fits(&output, &expected_out) {
            return Err(InferenceError::Contract(format!(
                "output `{}` has shape {output:?}, the metadata implies [1, {}, 2, frames, {}]",
                self.output,
                spec.stem_count(),
                spec.bins
            )));
        }
        Ok(())
    }
}
