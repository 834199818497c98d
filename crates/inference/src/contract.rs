//! The model-file contract: the metadata a Sift model carries, read and checked.
//!
//! The keys are specified in `model/CONTRACT.md`; this module is their reader. A model that
//! breaks the contract is rejected with a message naming the key and what was expected.

use std::collections::HashMap;

use sift_engine::{Mode, ModelInput, ModelOutput, ModelSpec, Streaming, MAX_STEMS};

use super::InferenceError;

/// The contract versions this build reads: 1 (windowed models) and 2 (adds streaming and
/// waveform models).
pub const CONTRACT_VERSIONS: [&str; 2] = ["1", "2"];

/// The longest STFT frame a model may use (0.74 s at 44.1 kHz; Spleeter's is 4096): a file that
/// declares more is refused before the engine allocates anything for it.
pub const MAX_N_FFT: usize = 1 << 15;

/// The most frames a model may ask for in its frame multiple (a window's unit, or a waveform
/// model's segment) or look ahead by (Spleeter: 64 and none; HTDemucs: a 333-frame segment).
pub const MAX_FRAMES: usize = 4096;

/// The most memory the input and output of one run on a model's largest window (a file render's
/// window) may take: 8 MiB for Spleeter, 90 MiB for HTDemucs. A hostile or broken file that
/// declares an absurd grid is refused with its size, never an allocation that aborts the host.
pub const MAX_RUN_BYTES: usize = 1 << 30;

/// Extension of a model's sidecar file (`htdemucs.onnx` → `htdemucs.sift-meta`): the
/// contract's keys for a model whose file does not carry them, one `key = value` a line.
pub const SIDECAR_EXTENSION: &str = "sift-meta";

/// Adds the keys of a sidecar file's `text` that `meta` (the model file's own metadata) lacks:
/// the file's own keys win.
///
/// # Errors
/// A line that is neither blank, a `#` comment nor `key = value`.
pub fn add_sidecar(meta: &mut HashMap<String, String>, text: &str) -> Result<(), InferenceError> {
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| {
            InferenceError::Contract(format!(
                "line {} of the .{SIDECAR_EXTENSION} file is not `key = value`: `{line}`",
                number + 1
            ))
        })?;
        meta.entry(key.trim().to_owned()).or_insert_with(|| value.trim().to_owned());
    }
    Ok(())
}

/// What the network's output tensor holds, and so how it becomes masks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// Soft masks per stem (used as they are, then normalised).
    Mask,
    /// Magnitude spectrograms per stem: masks are their squared ratios (Wiener-style).
    Magnitude,
    /// Stem waveforms of a fixed segment of the mixture's waveform: adapted to masks by
    /// [`crate::waveform`].
    Waveform,
}

/// The spectrogram convention `demucs`: what a hybrid Demucs takes beside the waveform and
/// gives back beside the stems' waveforms (see [`crate::demucs_spectrogram`]).
pub const DEMUCS_SPECTROGRAM: &str = "demucs";

/// What a waveform model (`sift.output_kind = waveform`) is given and gives back, beyond the
/// tensors every model names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaveformContract {
    /// Samples per channel of the one segment each run takes (`sift.segment`).
    pub segment: usize,
    /// A hybrid model's second input: the segment's spectrogram in the `demucs` convention
    /// (`sift.spectrogram_input`).
    pub spectrogram_input: Option<String>,
    /// A hybrid model's second output: the stems' spectrograms in that convention, whose
    /// inverse is added to the stems' waveforms (`sift.spectrogram_output`).
    pub spectrogram_output: Option<String>,
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
    /// Name of the mask (or magnitude, or for a waveform model the stems' waveform) output tensor.
    pub output: String,
    /// A waveform model's segment and further tensors (`None` for other kinds).
    pub waveform: Option<WaveformContract>,
    /// A streaming model's state tensors, `(input, output)` pairs: each output of one run is
    /// fed back as its input in the next (empty for a windowed model).
    pub state: Vec<StatePair>,
}

/// A streaming model's state tensor names: `(input, output)`.
pub type StatePair = (String, String);

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
        if !CONTRACT_VERSIONS.contains(&version.as_str()) {
            return Err(InferenceError::Contract(format!(
                "`sift.contract` is `{version}`, this version of Sift reads contracts {}",
                CONTRACT_VERSIONS.join(" and ")
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
            "waveform" if version != "1" => OutputKind::Waveform,
            other => {
                return Err(InferenceError::Contract(format!(
                    "`sift.output_kind` `{other}` is not supported: use `mask` or `magnitude` (or `waveform`, with `sift.contract` 2)"
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
        let (n_fft, hop) = (number("sift.n_fft")?, number("sift.hop")?);
        if n_fft > MAX_N_FFT {
            return Err(InferenceError::Contract(format!(
                "`sift.n_fft` {n_fft} is over the {MAX_N_FFT} samples a model's frame may have"
            )));
        }
        // A waveform model is adapted on the whole spectrum of Sift's grid: it must rebuild the
        // window's waveform from it.
        let bins = if output_kind == OutputKind::Waveform { n_fft / 2 + 1 } else { number("sift.bins")? };
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
        let layouts = match output_kind {
            OutputKind::Waveform => {
                [("sift.input_layout", "batch,channel,sample"), ("sift.output_layout", "batch,stem,channel,sample")]
            }
            _ => [
                ("sift.input_layout", "batch,channel,frame,bin"),
                ("sift.output_layout", "batch,stem,channel,frame,bin"),
            ],
        };
        for (key, expected) in layouts {
            let layout = get(key)?.replace(' ', "");
            if layout != expected {
                return Err(InferenceError::Contract(format!("`{key}` is `{layout}`, Sift reads `{expected}`")));
            }
        }
        let (streaming, state) = Self::streaming(meta, &version)?;
        let waveform = match output_kind {
            OutputKind::Waveform if streaming.is_some() => {
                return Err(InferenceError::Contract("a waveform model cannot be a streaming model".into()))
            }
            OutputKind::Waveform => Some(Self::waveform(meta, number("sift.segment")?)?),
            _ => None,
        };
        // Sift frames a waveform model's segment in as many frames as cover it.
        let segment = waveform.as_ref().map(|w| w.segment.saturating_sub(n_fft).div_ceil(hop) + 1);
        let frame_multiple = match (segment, streaming, meta.get("sift.frame_multiple")) {
            (Some(frames), ..) => frames,
            (None, Some(s), None) => s.frames_per_run,
            (None, Some(s), Some(_)) if number("sift.frame_multiple")? != s.frames_per_run => {
                return Err(InferenceError::Contract(format!(
                    "`sift.frame_multiple` must equal `sift.frames_per_run` ({}) in a streaming model",
                    s.frames_per_run
                )))
            }
            _ => number("sift.frame_multiple")?,
        };
        let spec = ModelSpec {
            name: get("sift.name")?,
            stems,
            residual,
            sample_rate: sample_rate as u32,
            n_fft,
            hop,
            bins,
            frame_multiple,
            streaming,
            segment,
            min_lookahead: 0,
            input: if segment.is_some() { ModelInput::Spectrum } else { ModelInput::Magnitude },
            output: if segment.is_some() { ModelOutput::Spectra } else { ModelOutput::Masks },
            licence: get("sift.licence")?,
            source: get("sift.source")?,
            stem_models: Vec::new(),
            origin: None,
        };
        Self::check_size(&spec)?;
        Ok(Contract { spec, output_kind, input: get("sift.input")?, output: get("sift.output")?, waveform, state })
    }

    /// Refuses a grid whose windows would not fit in memory ([`MAX_FRAMES`], [`MAX_RUN_BYTES`]).
    fn check_size(spec: &ModelSpec) -> Result<(), InferenceError> {
        let frame_key = if spec.segment.is_some() { "the segment (`sift.segment`)" } else { "`sift.frame_multiple`" };
        let lookahead = spec.streaming.map_or(0, |s| s.lookahead);
        for (what, frames) in [(frame_key, spec.frame_multiple), ("`sift.lookahead`", lookahead)] {
            if frames > MAX_FRAMES {
                return Err(InferenceError::Contract(format!(
                    "{what} asks for {frames} frames, over the {MAX_FRAMES} a model may have"
                )));
            }
        }
        let window = Mode::ALL
            .into_iter()
            .flat_map(|mode| [mode.schedule(spec).window, mode.throughput_schedule(spec).window])
            .max()
            .unwrap_or(0);
        let bytes = (spec.input_values(window) + spec.output_values(window)) * std::mem::size_of::<f32>();
        if bytes > MAX_RUN_BYTES {
            return Err(InferenceError::Contract(format!(
                "a run on the model's largest window ({window} frames of {} bins, {} stems) would take {} MiB, over the {} MiB Sift gives one",
                spec.bins,
                spec.stem_count(),
                bytes >> 20,
                MAX_RUN_BYTES >> 20
            )));
        }
        Ok(())
    }

    /// Reads a waveform model's keys: its segment and, for a hybrid model, its spectrogram
    /// tensors and their convention.
    fn waveform(meta: &HashMap<String, String>, segment: usize) -> Result<WaveformContract, InferenceError> {
        let value = |key: &str| meta.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let (spectrogram_input, spectrogram_output) =
            (value("sift.spectrogram_input"), value("sift.spectrogram_output"));
        if spectrogram_input.is_some() || spectrogram_output.is_some() {
            match value("sift.spectrogram") {
                Some(convention) if convention == DEMUCS_SPECTROGRAM => {}
                Some(other) => {
                    return Err(InferenceError::Contract(format!(
                        "`sift.spectrogram` `{other}` is not a convention Sift knows: use `{DEMUCS_SPECTROGRAM}`"
                    )))
                }
                None => {
                    return Err(InferenceError::Contract(
                        "metadata key `sift.spectrogram` is missing (a model with spectrogram tensors must name their convention)".into(),
                    ))
                }
            }
        }
        Ok(WaveformContract { segment, spectrogram_input, spectrogram_output })
    }

    /// Reads the streaming keys of contract 2: whether the model streams, its frames per run,
    /// look-ahead and state tensor pairs.
    fn streaming(
        meta: &HashMap<String, String>,
        version: &str,
    ) -> Result<(Option<Streaming>, Vec<StatePair>), InferenceError> {
        let bad = |message: String| Err(InferenceError::Contract(message));
        let value = |key: &str| meta.get(key).map(|v| v.trim());
        match value("sift.streaming") {
            None | Some("false") => return Ok((None, Vec::new())),
            Some("true") if version == "1" => {
                return bad("`sift.streaming` needs `sift.contract` 2; this file says 1".into())
            }
            Some("true") => {}
            Some(other) => return bad(format!("`sift.streaming` must be `true` or `false`, found `{other}`")),
        }
        let Some(text) = value("sift.frames_per_run") else {
            return bad("metadata key `sift.frames_per_run` is missing (a streaming model must say it)".into());
        };
        let Some(frames_per_run) = text.parse::<usize>().ok().filter(|&k| k > 0) else {
            return bad(format!("`sift.frames_per_run` must be a positive whole number, found `{text}`"));
        };
        let lookahead = match value("sift.lookahead") {
            None => 0,
            Some(text) => match text.parse::<usize>() {
                Ok(frames) => frames,
                Err(_) => {
                    return bad(format!(
                        "`sift.lookahead` must be a whole number of frames (0 or more), found `{text}`"
                    ))
                }
            },
        };
        let names = |key: &str| -> Result<Vec<String>, InferenceError> {
            let list = value(key).ok_or_else(|| {
                InferenceError::Contract(format!(
                    "metadata key `{key}` is missing (a streaming model must name its state)"
                ))
            })?;
            Ok(list.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
        };
        let (inputs, outputs) = (names("sift.state_inputs")?, names("sift.state_outputs")?);
        if inputs.len() != outputs.len() {
            return bad(format!(
                "`sift.state_inputs` names {} tensors and `sift.state_outputs` {}: they must pair up",
                inputs.len(),
                outputs.len()
            ));
        }
        Ok((Some(Streaming { frames_per_run, lookahead }), inputs.into_iter().zip(outputs).collect()))
    }

    /// Checks the session's tensors against the contract: names, element type and the fixed
    /// dimensions (frames may be dynamic), and a streaming model's state tensors. Returns the
    /// shape of each state pair.
    pub fn check_tensors(
        &self,
        inputs: &[(String, Vec<i64>)],
        outputs: &[(String, Vec<i64>)],
    ) -> Result<Vec<Vec<usize>>, InferenceError> {
        let spec = &self.spec;
        let find = find_tensor;
        let fits = |shape: &[i64], expected: &[i64]| {
            shape.len() == expected.len() && shape.iter().zip(expected).all(|(&d, &e)| e < 0 || d < 0 || d == e)
        };
        // A streaming model runs on exactly its frames per run; the dimension may be dynamic.
        let (frames, frames_text) = match spec.streaming {
            Some(s) => (s.frames_per_run as i64, s.frames_per_run.to_string()),
            None => (-1, "frames".to_owned()),
        };
        if let Some(waveform) = &self.waveform {
            self.check_waveform_tensors(waveform, inputs, outputs)?;
            return Ok(Vec::new());
        }
        let input = find(inputs, &self.input, "input")?;
        let expected_in = [1, 2, frames, spec.bins as i64];
        if !fits(&input, &expected_in) {
            return Err(InferenceError::Contract(format!(
                "input `{}` has shape {input:?}, the metadata implies [1, 2, {frames_text}, {}]",
                self.input, spec.bins
            )));
        }
        let output = find(outputs, &self.output, "output")?;
        let expected_out = [1, spec.stem_count() as i64, 2, frames, spec.bins as i64];
        if !fits(&output, &expected_out) {
            return Err(InferenceError::Contract(format!(
                "output `{}` has shape {output:?}, the metadata implies [1, {}, 2, {frames_text}, {}]",
                self.output,
                spec.stem_count(),
                spec.bins
            )));
        }
        let mut shapes = Vec::with_capacity(self.state.len());
        for (state_in, state_out) in &self.state {
            let shape = find(inputs, state_in, "state input")?;
            let next = find(outputs, state_out, "state output")?;
            if shape.is_empty() || shape.iter().any(|&d| d <= 0) {
                return Err(InferenceError::Contract(format!(
                    "state input `{state_in}` has shape {shape:?}: state tensors must be float32 with fixed dimensions"
                )));
            }
            if next != shape {
                return Err(InferenceError::Contract(format!(
                    "state output `{state_out}` has shape {next:?} but its input `{state_in}` has {shape:?}"
                )));
            }
            shapes.push(shape.iter().map(|&d| d as usize).collect());
        }
        self.check_all_inputs_named(inputs, &[])?;
        Ok(shapes)
    }

    /// An input nobody feeds would fail every run; says so at load time.
    fn check_all_inputs_named(&self, inputs: &[(String, Vec<i64>)], others: &[&str]) -> Result<(), InferenceError> {
        let unnamed: Vec<&str> = inputs
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| *n != self.input && !others.contains(n) && !self.state.iter().any(|(s, _)| s == n))
            .collect();
        if !unnamed.is_empty() {
            return Err(InferenceError::Contract(format!(
                "the model has inputs the metadata does not name: {unnamed:?} (state inputs go in `sift.state_inputs`, a waveform model's spectrogram in `sift.spectrogram_input`)"
            )));
        }
        Ok(())
    }

    /// Checks a waveform model's tensors: the segment's waveform in, the stems' waveforms out,
    /// and a hybrid model's spectrograms in the `demucs` convention; every dimension fixed.
    fn check_waveform_tensors(
        &self,
        waveform: &WaveformContract,
        inputs: &[(String, Vec<i64>)],
        outputs: &[(String, Vec<i64>)],
    ) -> Result<(), InferenceError> {
        let stems = self.spec.stem_count() as i64;
        let segment = waveform.segment as i64;
        let (bins, frames) = crate::demucs_spectrogram::shape(waveform.segment);
        let (bins, frames) = (bins as i64, frames as i64);
        let mut expected = vec![(inputs, &self.input, "input", vec![1, 2, segment])];
        expected.push((outputs, &self.output, "output", vec![1, stems, 2, segment]));
        if let Some(name) = &waveform.spectrogram_input {
            expected.push((inputs, name, "spectrogram input", vec![1, 4, bins, frames]));
        }
        if let Some(name) = &waveform.spectrogram_output {
            expected.push((outputs, name, "spectrogram output", vec![1, stems, 4, bins, frames]));
        }
        for (list, name, what, shape) in expected {
            let found = find_tensor(list, name, what)?;
            if found != shape {
                return Err(InferenceError::Contract(format!(
                    "{what} `{name}` has shape {found:?}, the metadata implies {shape:?} (a waveform model's dimensions are all fixed)"
                )));
            }
        }
        self.check_all_inputs_named(inputs, &waveform.spectrogram_input.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

/// The shape of the tensor `name` in `list`, or an error naming the tensors there are.
fn find_tensor(list: &[(String, Vec<i64>)], name: &str, what: &str) -> Result<Vec<i64>, InferenceError> {
    list.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone()).ok_or_else(|| {
        let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
        InferenceError::Contract(format!("the model has no {what} tensor `{name}` (it has {names:?})"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HTDemucs's sidecar, as `sift models install htdemucs` writes it.
    fn htdemucs() -> HashMap<String, String> {
        let mut meta = HashMap::new();
        add_sidecar(&mut meta, include_str!("../../../model/htdemucs.sift-meta")).unwrap();
        meta
    }

    /// The one table of the contract's keys (`model/contract_keys.tsv`), which the Python
    /// writers are checked against too: every key this reader uses is in it, and every key it
    /// marks as read is used here.
    #[test]
    fn every_key_it_reads_is_in_the_table() {
        let table = include_str!("../../../model/contract_keys.tsv");
        let rows: Vec<Vec<&str>> = table
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .skip(1)
            .map(|l| l.split('\t').collect())
            .collect();
        assert!(rows.iter().all(|r| r.len() == 5), "every row has key, type, versions, read, meaning");
        let source = include_str!("contract.rs");
        let used: std::collections::BTreeSet<&str> = source
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|s| s.starts_with("sift.") && s[5..].chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .collect();
        let known: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[0]).collect();
        let unknown: Vec<&&str> = used.difference(&known).collect();
        assert!(unknown.is_empty(), "contract.rs reads keys the table does not define: {unknown:?}");
        let unread: Vec<&str> = rows.iter().filter(|r| r[3] == "yes" && !used.contains(r[0])).map(|r| r[0]).collect();
        assert!(unread.is_empty(), "the table says Sift reads {unread:?}, but contract.rs does not");
    }

    #[test]
    fn a_waveform_model_asks_for_spectra_and_a_window_that_covers_its_segment() {
        let contract = Contract::from_metadata(&htdemucs()).unwrap();
        let spec = &contract.spec;
        assert_eq!(spec.stems, ["drums", "bass", "other", "vocals"]);
        assert_eq!(spec.stems[spec.residual], "other");
        assert_eq!((spec.input, spec.output), (ModelInput::Spectrum, ModelOutput::Spectra));
        assert_eq!(spec.bins, 2049, "the whole spectrum, to rebuild the waveform from");
        assert_eq!((spec.segment, spec.frame_multiple), (Some(333), 333));
        let waveform = contract.waveform.unwrap();
        assert_eq!(waveform.segment, 343_980);
        // The window is the fewest frames whose span holds the segment.
        let span = |frames: usize| (frames - 1) * spec.hop + spec.n_fft;
        assert!(span(spec.frame_multiple) >= waveform.segment && span(spec.frame_multiple - 1) < waveform.segment);
        assert_eq!(waveform.spectrogram_input.as_deref(), Some("onnx::ReduceMean_1"));
        assert!(spec.licence.contains("personal and research use only"));
    }

    /// A windowed model with a frame multiple of 10 (the `fuzz/` contract target's first find,
    /// Dec 7: `studio`'s past frame count underflowed while the reader sized its largest run)
    /// is read, and every mode has a past frame.
    #[test]
    fn a_windowed_model_with_a_short_frame_multiple_is_read() {
        let text = "sift.contract=1\nsift.name=short\nsift.output_kind=mask\nsift.stems=vocals,accompaniment\n\
                    sift.residual_stem=accompaniment\nsift.sample_rate=44100\nsift.n_fft=4096\nsift.hop=1024\n\
                    sift.window=hann-periodic\nsift.bins=1024\nsift.frame_multiple=10\nsift.channels=2\n\
                    sift.input=magnitude\nsift.input_layout=batch,channel,frame,bin\nsift.output=masks\n\
                    sift.output_layout=batch,stem,channel,frame,bin\nsift.licence=MIT\nsift.source=test\n";
        let mut meta = HashMap::new();
        add_sidecar(&mut meta, text).unwrap();
        let spec = Contract::from_metadata(&meta).expect("a frame multiple of 10 is within the contract").spec;
        assert!(Mode::ALL.iter().all(|m| m.schedule(&spec).past() >= 1));
    }

    #[test]
    fn the_model_files_own_keys_win_over_its_sidecar() {
        let mut meta = HashMap::from([("sift.name".to_owned(), "renamed".to_owned())]);
        add_sidecar(&mut meta, "# a comment\n\nsift.name = htdemucs\nsift.hop=1024\n").unwrap();
        assert_eq!((meta["sift.name"].as_str(), meta["sift.hop"].as_str()), ("renamed", "1024"));
        let error = add_sidecar(&mut meta, "sift.name htdemucs").unwrap_err().to_string();
        assert!(error.contains("line 1") && error.contains("`key = value`"), "{error}");
    }

    #[test]
    fn broken_waveform_descriptions_are_refused_naming_the_key() {
        let broken = |key: &str, value: Option<&str>| {
            let mut meta = htdemucs();
            match value {
                Some(value) => meta.insert(key.to_owned(), value.to_owned()),
                None => meta.remove(key),
            };
            Contract::from_metadata(&meta).unwrap_err().to_string()
        };
        assert!(broken("sift.segment", None).contains("`sift.segment` is missing"));
        assert!(broken("sift.contract", Some("1")).contains("with `sift.contract` 2"));
        assert!(broken("sift.spectrogram", Some("stft")).contains("`sift.spectrogram` `stft`"));
        assert!(broken("sift.spectrogram", None).contains("`sift.spectrogram` is missing"));
        assert!(
            broken("sift.output_layout", Some("batch,stem,channel,frame,bin")).contains("batch,stem,channel,sample")
        );
        assert!(broken("sift.streaming", Some("true")).contains("frames_per_run"));
    }
}
