//! Loading models through ONNX Runtime, with the small test models of
//! `model/make_test_models.py`.

use sift_engine::{MaskModel, Streaming};
use sift_inference::{OnnxModel, SessionOptions};
use sift_test_support::test_models;

#[test]
fn a_model_file_is_loaded_once_per_process() {
    let path = test_models().join("tiny-valid.onnx");
    let options = SessionOptions::default();
    let first = OnnxModel::load(&path, &options).unwrap();
    let second = OnnxModel::load(&path, &options).unwrap();
    assert_eq!((first.sharers(), second.sharers()), (2, 2), "the second load did not share the first");
    let other_options = OnnxModel::load(&path, &SessionOptions::default().intra_threads(2)).unwrap();
    assert_eq!(other_options.sharers(), 1, "sessions with other options must not be shared");
    drop((first, second));
    // Once every holder is gone the copy is freed, and a new load works.
    assert_eq!(OnnxModel::load(&path, &options).unwrap().sharers(), 1);
}

/// A model file replaced on disk while an instance runs it (a model re-exported under the same
/// name): the next load reads the new file, not the running copy, and the running instance goes
/// on separating with what it loaded, also once the file is gone.
#[test]
fn a_model_replaced_on_disk_is_loaded_afresh_while_the_running_one_keeps_going() {
    let dir = std::env::temp_dir().join(format!("sift-replaced-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mine.onnx");
    std::fs::copy(test_models().join("tiny-valid.onnx"), &path).unwrap();
    let options = SessionOptions::default();
    let mut running = OnnxModel::load(&path, &options).unwrap();
    assert_eq!(running.spec().stem_count(), 2);

    std::fs::copy(test_models().join("tiny-three-stems.onnx"), &path).unwrap();
    let reloaded = OnnxModel::load(&path, &options).unwrap();
    assert_eq!(reloaded.spec().stem_count(), 3, "the second load was handed the file's old contents");
    assert_eq!((running.sharers(), reloaded.sharers()), (1, 1), "the old and the new file share a copy");

    std::fs::remove_dir_all(&dir).unwrap();
    let spec = running.spec().clone();
    let frames = spec.frame_multiple;
    let magnitude: Vec<f32> = (0..spec.input_values(frames)).map(|i| (i % 97) as f32 / 10.0).collect();
    let mut masks = vec![f32::NAN; spec.output_values(frames)];
    running.infer(&magnitude, frames, &mut masks).expect("the running model stopped with its file gone");
    assert!(masks.iter().all(|m| m.is_finite()), "the running model's masks are not finite");
}

/// Frames of random magnitudes, `[channel][frame][bin]`, on the streaming test models' grid.
fn random_frames(frames: usize, seed: u64) -> Vec<f32> {
    let mut rng = sift_test_support::Rng::new(seed);
    (0..2 * frames * STREAM_BINS).map(|_| (rng.next_u64() % 1000) as f32 / 10.0).collect()
}

const STREAM_BINS: usize = 513;

/// Runs `model` on `input` (`[channel][frame][bin]`, `frames` frames) in calls of `per_call`
/// frames and gathers the masks as `[stem (2)][channel][frame][bin]`.
fn stream(model: &mut OnnxModel, input: &[f32], frames: usize, per_call: usize) -> Vec<f32> {
    let bins = STREAM_BINS;
    let mut all = vec![0.0; 2 * 2 * frames * bins];
    for first in (0..frames).step_by(per_call) {
        let mut call_in = vec![0.0; 2 * per_call * bins];
        for ch in 0..2 {
            call_in[ch * per_call * bins..][..per_call * bins]
                .copy_from_slice(&input[(ch * frames + first) * bins..][..per_call * bins]);
        }
        let mut masks = vec![0.0; 2 * 2 * per_call * bins];
        model.infer(&call_in, per_call, &mut masks).unwrap();
        for plane in 0..4 {
            all[(plane * frames + first) * bins..][..per_call * bins]
                .copy_from_slice(&masks[plane * per_call * bins..][..per_call * bins]);
        }
    }
    all
}

/// Contract 2: a streaming model's state is handed from run to run, so its masks follow the
/// closed form of the one-pole smoother it computes; several runs per call, a model with
/// several frames per run, and a reset all give what the contract says.
#[test]
fn streaming_models_carry_their_state_as_the_contract_says() {
    let frames = 12;
    let input = random_frames(frames, 5);
    let load =
        |name: &str| OnnxModel::load(&test_models().join(format!("{name}.onnx")), &SessionOptions::default()).unwrap();
    let mut smoother = load("stream-smoother");
    let spec = smoother.spec().clone();
    assert_eq!((spec.n_fft, spec.hop, spec.bins), (1024, 256, STREAM_BINS));
    assert_eq!(spec.streaming, Some(Streaming { frames_per_run: 1, lookahead: 0 }));
    let one_at_a_time = stream(&mut smoother, &input, frames, 1);
    // Closed form: s_t = (s_{t−1} + |X_t|) / 2 from s = 0; vocals s_t, accompaniment |X_t|.
    let plane = frames * STREAM_BINS;
    for ch in 0..2 {
        for b in 0..STREAM_BINS {
            let mut s = 0.0f32;
            for t in 0..frames {
                let x = input[(ch * frames + t) * STREAM_BINS + b];
                s = 0.5 * s + 0.5 * x;
                let at = (ch * frames + t) * STREAM_BINS + b;
                assert!((one_at_a_time[at] - s).abs() <= 1e-4 * s.max(1.0), "vocals mask at ch {ch} frame {t} bin {b}");
                assert_eq!(one_at_a_time[2 * plane + at], x, "accompaniment mask at ch {ch} frame {t} bin {b}");
            }
        }
    }
    // A reset starts over: the same input gives the same masks again.
    smoother.reset();
    assert_eq!(stream(&mut smoother, &input, frames, 1), one_at_a_time, "a reset did not restore the initial state");
    // Four runs per call (a higher-latency mode) and four frames per run give the same masks.
    smoother.reset();
    assert_eq!(stream(&mut smoother, &input, frames, 4), one_at_a_time, "four runs in one call differ");
    let mut k4 = load("stream-smoother-k4");
    assert_eq!(k4.spec().streaming, Some(Streaming { frames_per_run: 4, lookahead: 0 }));
    assert_eq!(stream(&mut k4, &input, frames, 4), one_at_a_time, "the 4-frame model differs");
    // Two instances of one file share the session but not the state.
    let mut other = load("stream-smoother");
    smoother.reset();
    stream(&mut smoother, &input, frames, 1);
    assert_eq!(stream(&mut other, &input, frames, 1), one_at_a_time, "instances share their state");

    // Look-ahead 1: the masks lag by a frame: vocals |X_t|, accompaniment |X_{t−1}| for mask t.
    let mut lookahead = load("stream-lookahead");
    assert_eq!(lookahead.spec().streaming, Some(Streaming { frames_per_run: 1, lookahead: 1 }));
    let lagged = stream(&mut lookahead, &input, frames, 1);
    for t in 1..frames {
        for b in [0, 100, 512] {
            assert_eq!(lagged[t * STREAM_BINS + b], input[t * STREAM_BINS + b]);
            assert_eq!(lagged[2 * plane + t * STREAM_BINS + b], input[(t - 1) * STREAM_BINS + b]);
        }
    }
}
