//! The worker never allocates once running: a run every 256 samples (a streaming model) must
//! not touch the allocator, whose locks and page faults are what make a real-time thread late.
//! Every allocation in the process is counted while the engine runs in steady state; models
//! are stand-ins that do not allocate themselves (ONNX Runtime's own arena is its business).

use sift_test_support as support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sift_engine::{Engine, EngineConfig, MaskModel, Mode};
use support::{test_signal, Behaviour, Recurrent, StandIn};

/// The system allocator, counting allocations.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Builds a fresh model for each engine.
type MakeModel = fn() -> Box<dyn MaskModel>;

#[test]
fn the_worker_does_not_allocate_while_running() {
    let models: [(&str, MakeModel); 3] = [
        ("windowed", || Box::new(StandIn::new(Behaviour::Scrambled))),
        ("streaming", || Box::new(Recurrent::new(1, 0))),
        ("streaming with look-ahead", || Box::new(Recurrent::new(1, 2))),
    ];
    for (name, model) in models {
        for rate in [44_100, 48_000] {
            let input = test_signal(rate as usize * 2, 61);
            let config = EngineConfig::new(rate, 256).mode(Mode::Live).realtime(true);
            let (engine, mut processor) = Engine::start(model(), config).unwrap();
            let mut out = vec![vec![0.0f32; 256]; 4];
            let mut counted = None;
            for (i, start) in (0..input[0].len() - 256).step_by(256).enumerate() {
                // Counting starts after the first half second: the worker's first runs are
                // allowed to fault pages in and warm up.
                if i == (rate as usize / 2) / 256 {
                    counted = Some(ALLOCATIONS.load(Ordering::SeqCst));
                }
                let ins = [&input[0][start..start + 256], &input[1][start..start + 256]];
                let [a, b, c, d] = &mut out[..] else { unreachable!() };
                processor.process(&ins, &mut [a, b, c, d]);
                std::thread::sleep(Duration::from_micros(256 * 1_000_000 / rate as u64));
            }
            let allocations = ALLOCATIONS.load(Ordering::SeqCst) - counted.unwrap();
            let runs = engine.shared().model_runs.load(Ordering::Relaxed);
            drop(engine);
            assert!(runs >= 15, "{name} at {rate} Hz: only {runs} model runs");
            assert_eq!(allocations, 0, "{name} at {rate} Hz: {allocations} allocations in {runs} runs");
        }
    }
}
