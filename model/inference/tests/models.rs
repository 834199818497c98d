//! Loading models through ONNX Runtime, with the small test models of
//! `model/make_test_models.py`.

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
