//! The audio thread never allocates: every `process()` call runs under an allocation guard
//! that aborts the test on any allocation or free (armed in debug builds, as `cargo xtask test`
//! runs them).

use sift_test_support as support;

use assert_no_alloc::{assert_no_alloc, AllocDisabler};
use sift_engine::{Engine, EngineConfig, MaskModel, Mode};
use support::{test_signal, Behaviour, Recurrent, StandIn};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

#[test]
#[allow(clippy::assertions_on_constants)]
fn process_never_allocates() {
    // The guard is compiled out without debug assertions; refuse to pass vacuously.
    assert!(
        cfg!(debug_assertions),
        "the allocation guard is only armed with debug assertions (run `cargo xtask test`)"
    );
    for (rate, realtime, streaming) in
        [(44_100, true, false), (48_000, true, false), (44_100, false, false), (48_000, true, true)]
    {
        let input = test_signal(rate as usize * 3, 23);
        let model: Box<dyn MaskModel> = if streaming {
            Box::new(Recurrent::new(1, 1))
        } else {
            let mut model = StandIn::new(Behaviour::Scrambled);
            // Slow runs force the fall-back path too.
            model.slow_every = 5;
            model.slow_for = std::time::Duration::from_millis(300);
            Box::new(model)
        };
        let config = EngineConfig::new(rate, 1024).mode(Mode::Live).realtime(realtime);
        let (engine, mut processor) = Engine::start(model, config).unwrap();
        let mut out = vec![vec![0.0f32; 1024]; 4];
        for (i, start) in (0..input[0].len()).step_by(1024).enumerate() {
            let n = [1024, 1, 333, 64][i % 4].min(input[0].len() - start);
            let ins = [&input[0][start..start + n], &input[1][start..start + n]];
            let [a, b, c, d] = &mut out[..] else { unreachable!() };
            let mut outs = [&mut a[..n], &mut b[..n], &mut c[..n], &mut d[..n]];
            assert_no_alloc(|| {
                // A transport jump now and then, as a host reports it from its audio thread.
                if i % 50 == 25 {
                    processor.forget_state();
                }
                processor.process(&ins, &mut outs);
            });
            if realtime {
                std::thread::sleep(std::time::Duration::from_micros(n as u64 * 1_000_000 / rate as u64));
            }
        }
        drop(engine);
    }
}
