//! Composed models: one model's vocals, another's other stems, as one [`MaskModel`].
//!
//! Spleeter 2-stem gives the best vocals Sift may ship but no drums or bass; Sift's own
//! streaming model gives four stems, weakest on voices. A composed model runs both on the
//! worker and gives the vocal model's vocal mask, and splits what that model leaves (its
//! accompaniment) over the other model's stems in every bin, each by its share of their
//! magnitudes (or powers); the share of the rest's own vocals there goes to the residual stem
//! (`other`). The masks sum to one in every bin, so the stems still sum to the mixture, and the
//! engine sees one windowed model on the vocal model's grid.
//!
//! That rule was chosen on the five real clips of the README's quality table (four-stem mean
//! SDR in `balanced`): 4.64 dB, against 4.51 with the rest's vocals left out of the shares,
//! 4.40 / 4.45 / 4.20 with shares by magnitude to the power 0.5 / 1.25 / 2, 4.14 with the rest
//! model hearing Spleeter's accompaniment instead of the mixture (it was trained on mixtures),
//! and 2.82 for the own model alone in `live`.
//!
//! A description file in a models folder, `<name>.compose.toml`, says which models:
//!
//! ```toml
//! vocals = "spleeter-2stems"  # a windowed two-stem model with a `vocals` stem
//! rest = "sift-4stem"         # a streaming model: every stem of it but `vocals`
//! share = "magnitude"         # each rest stem's share of the accompaniment: "magnitude" or "power"
//! ```
//!
//! How the two grids meet. The engine gives the composed model complex spectra on the vocal
//! model's grid (4096/1024 for Spleeter). Frames new to the stream are inverse-transformed and
//! overlap-added back into the mixture's waveform (exactly: [`Synthesis`] is the engine's own),
//! which the rest model separates on its own grid through a [`SeparationCore`], the
//! single-threaded heart of the engine, as it would alone; its stems are then analysed on the
//! vocal model's grid, where their magnitudes share the accompaniment out. A windowed run must
//! see each sample once by the rest model, so the model follows the engine's [`Schedule`]
//! ([`MaskModel::follow`]) to know which frames are new. The rest's stems of a frame are ready a
//! few frames after it (the window's overlap and the rest's own lag), which is the look-ahead
//! the composed model asks for ([`ModelSpec::min_lookahead`]): Spleeter's `balanced` and
//! `studio` look further ahead anyway, so their latency is Spleeter's, exactly; `live` looks
//! four frames ahead instead of two.

use std::path::{Path, PathBuf};

use realfft::num_complex::Complex32;
use serde::Deserialize;

use sift_engine::masks::normalise_bin;
use sift_engine::{
    Analysis, Extension, InferenceFailure, MaskModel, Mode, ModelInput, ModelOutput, ModelSpec, Schedule,
    SeparationCore, Synthesis, CHANNELS,
};

use super::catalogue;
use super::locations;
use super::onnx_model::OnnxModel;
use super::session::SessionOptions;
use super::InferenceError;

/// The stem the vocal model gives and the rest model leaves out.
const VOCALS: &str = "vocals";

/// How the rest model's stems share the vocal model's accompaniment, bin by bin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Share {
    /// In proportion to each stem's magnitude on the vocal model's grid.
    Magnitude,
    /// In proportion to each stem's power (a Wiener-like split, sharper where one stem leads).
    Power,
}

/// A description file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Description {
    vocals: String,
    rest: String,
    share: Share,
}

/// A composed model (see the module's documentation).
pub struct ComposedModel {
    spec: ModelSpec,
    vocals: OnnxModel,
    rest: OnnxModel,
    share: Share,
    /// Where `vocals` is among the vocal model's stems, and among the rest model's.
    vocal_stem: usize,
    rest_vocal_stem: usize,
    /// The rest model's engine core, on its own grid, and its stems so far: `[rest stem]
    /// [channel][ring sample]`, with the mixture it was fed, `[channel][ring sample]`.
    rest_core: SeparationCore,
    rest_stems: Vec<f32>,
    mixture: Vec<f32>,
    ring: usize,
    /// Stream samples fed to the rest core, and stems it has given back.
    fed: usize,
    given: usize,
    /// The schedule the engine's runs follow, and runs since the stream started.
    schedule: Schedule,
    runs: usize,
    /// Rebuilds the mixture from the engine's spectra, one per channel, and the hop it gives.
    rebuild: Vec<Synthesis>,
    rebuilt: Vec<f32>,
    /// Analyses the rest's stems on the vocal model's grid.
    analysis: Analysis,
    frame: Vec<f32>,
    spectrum: Vec<Complex32>,
    /// Each rest stem's weight per bin of the frame being composed, `[rest stem][bin]`.
    weights: Vec<f32>,
    /// The vocal model's input and output for one window.
    magnitude: Vec<f32>,
    vocal_masks: Vec<f32>,
}

impl ComposedModel {
    /// Loads the description at `path` and both models it names (each from the description's
    /// folder if it is there, else from the installed models), with `options`.
    ///
    /// # Errors
    /// If the file cannot be read or parsed, a model it names is missing or fails to load, or
    /// the two do not fit together (the message says how).
    pub fn load(path: &Path, options: &SessionOptions) -> Result<Self, InferenceError> {
        let unusable = |reason: String| InferenceError::Composition { path: path.to_owned(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                InferenceError::ModelMissing(path.to_owned())
            } else {
                unusable(e.to_string())
            }
        })?;
        let description: Description = toml::from_str(&text).map_err(|e| unusable(e.to_string()))?;
        let part =
            |name: &str| -> Result<OnnxModel, InferenceError> { OnnxModel::load(&part_path(path, name)?, options) };
        let (vocals, rest) = (part(&description.vocals)?, part(&description.rest)?);
        let name = catalogue::model_name(path).unwrap_or_else(|| "composed".to_owned());
        Self::new(name, path.to_owned(), vocals, rest, description.share).map_err(unusable)
    }

    /// Composes `vocals` (a windowed model with a `vocals` stem) with `rest` (a streaming model
    /// on the same sample rate), or says why they do not fit.
    fn new(name: String, origin: PathBuf, vocals: OnnxModel, rest: OnnxModel, share: Share) -> Result<Self, String> {
        let (v, r) = (vocals.spec().clone(), rest.spec().clone());
        let is_plain_masks = |s: &ModelSpec| s.input == ModelInput::Magnitude && s.output == ModelOutput::Masks;
        let vocal_stem = v.stems.iter().position(|s| s == VOCALS);
        let rest_vocal_stem = r.stems.iter().position(|s| s == VOCALS);
        let (Some(vocal_stem), Some(rest_vocal_stem)) = (vocal_stem, rest_vocal_stem) else {
            return Err(format!(
                "both models need a `{VOCALS}` stem ({}: {:?}, {}: {:?})",
                v.name, v.stems, r.name, r.stems
            ));
        };
        if v.stem_count() != 2 || v.streaming.is_some() || v.segment.is_some() || !is_plain_masks(&v) {
            return Err(format!("`vocals` must name a windowed two-stem mask model; {} is not", v.name));
        }
        if r.streaming.is_none() || !is_plain_masks(&r) || r.residual == rest_vocal_stem {
            return Err(format!(
                "`rest` must name a streaming mask model whose residual stem is not `{VOCALS}`; {} is not",
                r.name
            ));
        }
        if v.sample_rate != r.sample_rate {
            return Err(format!(
                "the models run at {} and {} Hz: they must share a rate",
                v.sample_rate, r.sample_rate
            ));
        }
        let rest_schedule = Mode::Live.schedule(&r);
        let rest_lag = SeparationCore::max_lag(&r, &rest_schedule) + 1;
        // A frame's rest stems are complete once the mixture is rebuilt `rest_lag` samples past
        // its end; the mixture is rebuilt up to `n_fft - hop` samples before the newest frame's
        // end.
        let min_lookahead = (v.n_fft + rest_lag).div_ceil(v.hop) - 1;
        let mut stems = vec![VOCALS.to_owned()];
        stems.extend(r.stems.iter().filter(|s| *s != VOCALS).cloned());
        let residual = stems.iter().position(|s| *s == r.stems[r.residual]).expect("the residual is not vocals");
        let stem_models =
            std::iter::once(&v.name).chain(std::iter::repeat(&r.name)).take(stems.len()).cloned().collect();
        let licence =
            if v.licence == r.licence { v.licence.clone() } else { format!("{} AND {}", v.licence, r.licence) };
        let spec = ModelSpec {
            name,
            source: format!(
                "composed: {VOCALS} from {} ({}); {} from {} ({})",
                v.name,
                v.source,
                stems[1..].join(", "),
                r.name,
                r.source
            ),
            licence,
            stems,
            stem_models,
            residual,
            bins: v.full_bins(),
            min_lookahead,
            input: ModelInput::Spectrum,
            output: ModelOutput::Masks,
            origin: Some(origin),
            ..v.clone()
        };
        let schedule = Mode::Live.schedule(&spec);
        let full = spec.full_bins();
        let mut model = Self {
            rest_core: SeparationCore::new(r.clone(), rest_schedule, Extension::default()),
            rest_stems: Vec::new(),
            mixture: Vec::new(),
            ring: 0,
            fed: 0,
            given: 0,
            schedule,
            runs: 0,
            rebuild: (0..CHANNELS).map(|_| Synthesis::new(v.n_fft, v.hop)).collect(),
            rebuilt: vec![0.0; CHANNELS * v.hop],
            analysis: Analysis::new(v.n_fft),
            frame: vec![0.0; v.n_fft],
            spectrum: vec![Complex32::default(); full],
            weights: vec![0.0; r.stem_count() * full],
            magnitude: Vec::new(),
            vocal_masks: Vec::new(),
            spec,
            vocals,
            rest,
            share,
            vocal_stem,
            rest_vocal_stem,
        };
        model.follow(&schedule);
        Ok(model)
    }

    /// Why the models run on the CPU although another device was asked for, if they do.
    pub fn provider_fallback(&self) -> Option<&str> {
        self.vocals.provider_fallback().or(self.rest.provider_fallback())
    }

    /// The device that runs the models.
    pub fn device(&self) -> super::Device {
        self.vocals.device()
    }

    /// Inverse-transforms the window's frame at `position` (global frame `frame`) into the
    /// next hop of the mixture, and separates that hop with the rest model once the stream has
    /// reached it. The first failure of the rest model is returned, after the hop is fed (the
    /// rest must hear every sample, failed or not, to stay in time).
    fn rebuild_frame(
        &mut self,
        input: &[f32],
        frames: usize,
        position: usize,
        frame: i64,
    ) -> Result<(), InferenceFailure> {
        let (full, hop, n_fft) = (self.spec.full_bins(), self.spec.hop, self.spec.n_fft);
        for ch in 0..CHANNELS {
            let values = &input[(ch * frames + position) * 2 * full..][..2 * full];
            let synthesis = &mut self.rebuild[ch];
            for (y, v) in synthesis.spectrum_mut().iter_mut().zip(values.chunks_exact(2)) {
                *y = Complex32::new(v[0], v[1]);
            }
            synthesis.add_frame(&mut self.rebuilt[ch * hop..(ch + 1) * hop]);
        }
        // The hop this frame completes starts where the frame does.
        let start = (frame + 1) * hop as i64 - n_fft as i64;
        if start < 0 {
            return Ok(());
        }
        debug_assert_eq!(start as usize, self.fed);
        for ch in 0..CHANNELS {
            for i in 0..hop {
                self.mixture[ch * self.ring + (self.fed + i) % self.ring] = self.rebuilt[ch * hop + i];
            }
        }
        let (mut done, mut failure) = (0, None);
        while done < hop {
            let (left, right) = self.rebuilt.split_at(hop);
            done += self.rest_core.feed(&left[done..], &right[done..]);
            if self.rest_core.run_due() {
                if let Err(error) = self.rest_core.run(&mut self.rest) {
                    failure.get_or_insert(error);
                }
                self.take_rest_output();
            }
        }
        self.fed += hop;
        failure.map_or(Ok(()), Err)
    }

    /// Moves the rest core's latest output into the stem rings, the residual stem formed as the
    /// mixture minus the others (as the engine does).
    fn take_rest_output(&mut self) {
        let (len, ring, residual) = (self.rest_core.output_len(), self.ring, self.rest.spec().residual);
        let separated = (0..self.rest.spec().stem_count()).filter(|&s| s != residual);
        // The core's output is `[stem][channel]` over the separated stems (the residual skipped).
        for (index, samples) in self.rest_core.output().enumerate() {
            let (k, ch) = (index / CHANNELS, index % CHANNELS);
            let stem = if k < residual { k } else { k + 1 };
            for (i, &x) in samples.iter().enumerate() {
                self.rest_stems[(stem * CHANNELS + ch) * ring + (self.given + i) % ring] = x;
            }
        }
        for ch in 0..CHANNELS {
            for i in 0..len {
                let at = (self.given + i) % ring;
                let others: f32 = separated.clone().map(|s| self.rest_stems[(s * CHANNELS + ch) * ring + at]).sum();
                self.rest_stems[(residual * CHANNELS + ch) * ring + at] = self.mixture[ch * ring + at] - others;
            }
        }
        self.given += len;
    }

    /// Writes the composed masks of the window's frame at `position` (global frame `frame`):
    /// the vocal model's vocals, and its accompaniment shared out over the rest's other stems.
    fn compose_frame(&mut self, frames: usize, position: usize, frame: i64, masks: &mut [f32]) {
        let (full, hop, n_fft, ring) = (self.spec.full_bins(), self.spec.hop, self.spec.n_fft, self.ring);
        let vocal_bins = self.vocals.spec().bins;
        let rest_stems = self.rest.spec().stem_count();
        let start = (frame + 1) * hop as i64 - n_fft as i64;
        debug_assert!(start + n_fft as i64 <= self.given as i64, "the rest's stems are not in yet");
        // Composed stem of each rest stem (the rest's vocals have none).
        let rest_vocal_stem = self.rest_vocal_stem;
        let composed = |s: usize| if s < rest_vocal_stem { s + 1 } else { s };
        for ch in 0..CHANNELS {
            for s in 0..rest_stems {
                for (i, f) in self.frame.iter_mut().enumerate() {
                    let at = start + i as i64;
                    *f = if at < 0 { 0.0 } else { self.rest_stems[(s * CHANNELS + ch) * ring + at as usize % ring] };
                }
                self.analysis.transform(&self.frame, &mut self.spectrum);
                let weights = &mut self.weights[s * full..(s + 1) * full];
                for (w, x) in weights.iter_mut().zip(&self.spectrum) {
                    *w = match self.share {
                        Share::Magnitude => x.norm(),
                        Share::Power => x.norm_sqr(),
                    };
                }
            }
            let at = |stem: usize, bin: usize| ((stem * CHANNELS + ch) * frames + position) * full + bin;
            for b in 0..full {
                // Above the vocal model's bins its masks continue at its highest bin's value (the
                // engine's default extension).
                let vb = b.min(vocal_bins - 1);
                let raw =
                    |stem: usize| self.vocal_masks[((stem * CHANNELS + ch) * frames + position) * vocal_bins + vb];
                let mut pair = [raw(0), raw(1)];
                normalise_bin(&mut pair, 1 - self.vocal_stem);
                let (vocals, accompaniment) = (pair[self.vocal_stem], pair[1 - self.vocal_stem]);
                masks[at(0, b)] = vocals;
                // What the rest calls vocals where the vocal model hears accompaniment (a
                // voice's reverb, a lead synth) is the residual's share.
                let total: f32 = (0..rest_stems).map(|s| self.weights[s * full + b]).sum();
                let leaked = self.weights[rest_vocal_stem * full + b];
                for s in (0..rest_stems).filter(|&s| s != rest_vocal_stem) {
                    let residual = composed(s) == self.spec.residual;
                    let weight = self.weights[s * full + b] + if residual { leaked } else { 0.0 };
                    masks[at(composed(s), b)] = if total > 0.0 && total.is_finite() {
                        accompaniment * weight / total
                    } else if residual {
                        accompaniment
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// The file of the part model `name` of the description at `description`: beside it if it is
/// there (a bundle's models folder), else the installed model of that name.
fn part_path(description: &Path, name: &str) -> Result<PathBuf, InferenceError> {
    let beside = description.with_file_name(format!("{name}.onnx"));
    if beside.is_file() {
        return Ok(beside);
    }
    catalogue::resolve(Some(name), locations::binary_dir().as_deref())
}

impl MaskModel for ComposedModel {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn provider(&self) -> &str {
        self.vocals.provider()
    }

    /// `input`: the window's complex spectra, `[channel][frame][bin][re, im]` over all bins;
    /// `masks`: `[stem][channel][frame][bin]`, filled for the frames whose masks the engine
    /// keeps (the others are zero).
    fn infer(&mut self, input: &[f32], frames: usize, masks: &mut [f32]) -> Result<(), InferenceFailure> {
        let schedule = self.schedule;
        if frames != schedule.window {
            return Err(InferenceFailure(format!(
                "a window of {frames} frames, where the schedule the model follows has {}",
                schedule.window
            )));
        }
        let (full, vocal_bins) = (self.spec.full_bins(), self.vocals.spec().bins);
        for (m, x) in self
            .magnitude
            .iter_mut()
            .zip(input.chunks_exact(2 * full).flat_map(|f| f[..2 * vocal_bins].chunks_exact(2)))
        {
            *m = x[0].hypot(x[1]);
        }
        let (inputs, outputs) = (CHANNELS * frames * vocal_bins, 2 * CHANNELS * frames * vocal_bins);
        // A failed run still feeds the rest its new samples below, to keep it in time.
        let mut failure = self.vocals.infer(&self.magnitude[..inputs], frames, &mut self.vocal_masks[..outputs]);

        // Frame of the stream at window position 0 (frames before the stream are silence).
        let (past, new) = (schedule.past(), schedule.new);
        let first = (self.runs * new) as i64 - past as i64;
        let fresh = if self.runs == 0 { past } else { frames - new };
        for position in fresh..frames {
            if let Err(error) = self.rebuild_frame(input, frames, position, first + position as i64) {
                failure = failure.and(Err(error));
            }
        }
        masks.fill(0.0);
        for position in past..past + new {
            self.compose_frame(frames, position, first + position as i64, masks);
        }
        self.runs += 1;
        failure
    }

    fn reset(&mut self) {
        self.vocals.reset();
        self.rest.reset();
        self.rest_core.reset();
        self.rebuild.iter_mut().for_each(Synthesis::reset);
        self.runs = 0;
        self.fed = 0;
        self.given = 0;
    }

    /// Sizes the buffers for `schedule`'s windows (the worker may allocate) and starts over.
    fn follow(&mut self, schedule: &Schedule) {
        let (hop, n_fft) = (self.spec.hop, self.spec.n_fft);
        let vocal_bins = self.vocals.spec().bins;
        self.schedule = *schedule;
        // A run reads the rest's stems from its first kept frame's start to its last one's end,
        // and the rest has given up to a look-ahead beyond.
        self.ring = (schedule.window + 2) * hop + n_fft;
        self.rest_stems = vec![0.0; self.rest.spec().stem_count() * CHANNELS * self.ring];
        self.mixture = vec![0.0; CHANNELS * self.ring];
        self.magnitude = vec![0.0; CHANNELS * schedule.window * vocal_bins];
        self.vocal_masks = vec![0.0; 2 * CHANNELS * schedule.window * vocal_bins];
        self.reset();
    }
}
