//! The model contract: the metadata of a hostile model file, and its `.sift-meta` sidecar.
//!
//! Input: text. Up to the first `\x01`: the model file's metadata, one `key<TAB>value` a line
//! (what `onnxruntime` hands `pool::Loaded::open`); then up to the first `\x02`: a sidecar's
//! text; then, optionally, the session's tensors, one `in|out<TAB>name<TAB>d0,d1,…` a line.
//! With no tensor section the tensors the contract asks for are made up, so that a valid
//! contract gets through `check_tensors` to the state shapes. The calls are those of
//! `pool::Loaded::open`: `add_sidecar`, `Contract::from_metadata`, `Contract::check_tensors`.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use sift_inference::contract::{add_sidecar, Contract};

type Tensors = Vec<(String, Vec<i64>)>;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (meta_text, rest) = text.split_once('\x01').unwrap_or((&text, ""));
    let (sidecar, tensors) = match rest.split_once('\x02') {
        Some((sidecar, tensors)) => (sidecar, Some(tensors)),
        None => (rest, None),
    };
    let mut meta = HashMap::new();
    for line in meta_text.split('\n') {
        let (key, value) = line.split_once('\t').unwrap_or((line, ""));
        meta.insert(key.to_owned(), value.to_owned());
    }
    if !sidecar.is_empty() && add_sidecar(&mut meta, sidecar).is_err() {
        return;
    }
    let Ok(contract) = Contract::from_metadata(&meta) else { return };
    let (inputs, outputs) = match tensors {
        Some(text) => parse_tensors(text),
        None => expected_tensors(&contract),
    };
    if let Ok(shapes) = contract.check_tensors(&inputs, &outputs) {
        assert_eq!(shapes.len(), if contract.waveform.is_some() { 0 } else { contract.state.len() });
    }
    let spec = &contract.spec;
    assert!(spec.residual < spec.stems.len());
    assert!(spec.hop > 0 && spec.n_fft % spec.hop == 0 && spec.bins <= spec.n_fft / 2 + 1);
});

fn parse_tensors(text: &str) -> (Tensors, Tensors) {
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let mut fields = line.splitn(3, '\t');
        let (Some(side), Some(name)) = (fields.next(), fields.next()) else { continue };
        let shape = fields.next().unwrap_or("").split(',').filter_map(|d| d.trim().parse().ok()).collect();
        if side == "in" { &mut inputs } else { &mut outputs }.push((name.to_owned(), shape));
    }
    (inputs, outputs)
}

/// The tensors a session of a model keeping `contract` would have.
fn expected_tensors(contract: &Contract) -> (Tensors, Tensors) {
    let spec = &contract.spec;
    let stems = spec.stems.len() as i64;
    if let Some(waveform) = &contract.waveform {
        let segment = waveform.segment as i64;
        let (bins, frames) = sift_inference::demucs_spectrogram::shape(waveform.segment);
        let mut inputs = vec![(contract.input.clone(), vec![1, 2, segment])];
        let mut outputs = vec![(contract.output.clone(), vec![1, stems, 2, segment])];
        if let Some(name) = &waveform.spectrogram_input {
            inputs.push((name.clone(), vec![1, 4, bins as i64, frames as i64]));
        }
        if let Some(name) = &waveform.spectrogram_output {
            outputs.push((name.clone(), vec![1, stems, 4, bins as i64, frames as i64]));
        }
        return (inputs, outputs);
    }
    let frames = spec.streaming.map_or(-1, |s| s.frames_per_run as i64);
    let mut inputs = vec![(contract.input.clone(), vec![1, 2, frames, spec.bins as i64])];
    let mut outputs = vec![(contract.output.clone(), vec![1, stems, 2, frames, spec.bins as i64])];
    for (i, (state_in, state_out)) in contract.state.iter().enumerate() {
        inputs.push((state_in.clone(), vec![1, i as i64 + 1, 8]));
        outputs.push((state_out.clone(), vec![1, i as i64 + 1, 8]));
    }
    (inputs, outputs)
}
