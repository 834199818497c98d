//! The model picker's loader with real ONNX models: background loading, swapping into a
//! running engine, refusals, and models that need the host to restart processing.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use sift::loader::LoadState;
use sift::params::SiftParams;
use sift::shared::Shared;
use sift_engine::render::{render, Blocks};
use sift_engine::{Engine, EngineConfig, Mode};
use sift_inference::{OnnxModel, SessionOptions};
use sift_test_support::{test_models, test_signal};

/// A model picked in the editor loads on a background thread and swaps into the running engine
/// when it has the same grid and stems; a broken file changes nothing; a model with other stems
/// waits for the host to restart processing.
#[test]
fn picked_models_load_in_the_background_and_swap_in() {
    let models = test_models();
    let first = OnnxModel::load(&models.join("tiny-valid.onnx"), &SessionOptions::default()).unwrap();
    let (engine, mut processor) =
        Engine::start(Box::new(first), EngineConfig::new(44_100, 512).mode(Mode::Live).realtime(false)).unwrap();
    let params = Arc::new(SiftParams::default());
    let shared = Arc::new(Shared::new(params.clone()));
    let loader = &shared.loader;
    loader.engine_started(engine.model_inbox());
    let settle = |wanted: fn(&LoadState) -> bool| {
        for _ in 0..200 {
            if wanted(&loader.state()) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("loader stuck at {:?}", loader.state());
    };
    let mut run = |seconds: usize| {
        let input = test_signal(44_100 * seconds, 41);
        render(&mut processor, &input, 44_100, &Blocks::Fixed(512), false, |_| {}).stems
    };

    let magnitude = models.join("tiny-magnitude.onnx");
    shared.request_model(magnitude.clone());
    settle(|s| matches!(s, LoadState::Playing(_)));
    run(2);
    assert_eq!(engine.shared().model_swaps.load(Ordering::Relaxed), 1, "the picked model did not swap in");
    assert_eq!(
        *params.model_path.lock().unwrap(),
        magnitude.display().to_string(),
        "the project does not remember the pick"
    );

    shared.request_model(models.join("garbage.onnx"));
    settle(|s| matches!(s, LoadState::Refused(_)));
    let LoadState::Refused(why) = loader.state() else { unreachable!() };
    assert!(why.to_lowercase().contains("model"), "{why}");
    run(1);
    assert_eq!(engine.shared().model_swaps.load(Ordering::Relaxed), 1, "a refused model must change nothing");
    assert_eq!(*params.model_path.lock().unwrap(), magnitude.display().to_string());

    let three = models.join("tiny-three-stems.onnx");
    shared.request_model(three.clone());
    settle(|s| matches!(s, LoadState::WaitingForRestart(_)));
    assert!(loader.restart_wanted.load(Ordering::Acquire), "the host is not asked to restart");
    let model = loader.take_parked().expect("the model waits for the next activation");
    assert_eq!((model.spec().origin.clone(), model.spec().stem_count()), (Some(three), 3));
}

/// Picks made faster than models load: the last pick wins, whichever load finishes last.
#[test]
fn the_last_of_two_quick_picks_wins() {
    let models = test_models();
    let params = Arc::new(SiftParams::default());
    let shared = Arc::new(Shared::new(params.clone()));
    let loader = &shared.loader;
    // The first pick is the larger, slower file; the second is small and loads first.
    let (slow, quick) = (models.join("tiny-three-stems.onnx"), models.join("tiny-valid.onnx"));
    for _ in 0..5 {
        shared.request_model(slow.clone());
        shared.request_model(quick.clone());
        for _ in 0..200 {
            if !matches!(loader.state(), LoadState::Loading(_)) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // Let the first load finish too, then check it changed nothing.
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_eq!(loader.state(), LoadState::WaitingForRestart(quick.clone()));
        assert_eq!(*params.model_path.lock().unwrap(), quick.display().to_string());
        let parked = loader.take_parked().expect("the last pick waits for an engine");
        assert_eq!(parked.spec().origin.as_deref(), Some(quick.as_path()));
    }
}
