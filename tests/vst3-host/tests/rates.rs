//! Activation never fails over a sample rate: outside the rates Sift separates at (1 to
//! 768 kHz) both plugins pass the input through dry, exactly the latency they report later.
//! Steinberg's validator activates at 1,234,567.8 Hz in its *Process Format* test.

use sift_clap_host::{db, pad, peak_diff_delayed};
use sift_test_support::{sum_stems, test_signal};
use sift_vst3_host::*;

/// Rates outside `sift_engine::HOST_RATES`: the validator's, and one under 1 kHz.
const RATES: [f64; 2] = [1_234_567.8, 500.0];

#[test]
fn activation_succeeds_at_any_rate_and_passes_the_input_through_delayed_by_the_latency() {
    let input = test_signal(20_000, 31);
    for class in [SIFT, SIFT_SINGLE] {
        for rate in RATES {
            for mode in [Mode::Realtime, Mode::Offline] {
                let mut plugin = Plugin::new(class).unwrap();
                plugin
                    .activate(rate, 512, mode)
                    .unwrap_or_else(|e| panic!("{class} at {rate} Hz, {mode:?}: activation failed: {e}"));
                let latency = plugin.latency();
                let padded = pad(&input, latency);
                let total = padded[0].len();
                let out = plugin.render(&padded, |start| 64 + start % 449, &[]).unwrap();
                let setup = format!("{class} at {rate} Hz, {mode:?}, latency {latency}");

                let (d, at) = peak_diff_delayed(out.main(), &input, latency, 0..total);
                eprintln!("{setup}: output − input delayed: peak {:.1} dBFS at {at}", db(d));
                assert_eq!(
                    d,
                    0.0,
                    "{setup}: the output is not the input delayed by the latency ({:.1} dBFS at {at})",
                    db(d)
                );
                for wrong in [latency.saturating_sub(1), latency + 1] {
                    let (d, _) = peak_diff_delayed(out.main(), &input, wrong, 0..total);
                    assert!(
                        d > 0.0,
                        "{setup}: the output also matches a delay of {wrong}: the check does not discriminate"
                    );
                }
                if class == SIFT {
                    let stems = sum_stems(&out.buses[1..]);
                    let (d, at) = peak_diff_delayed(&stems, &input, latency, 0..total);
                    assert_eq!(
                        d,
                        0.0,
                        "{setup}: the stems do not sum to the delayed input ({:.1} dBFS at {at})",
                        db(d)
                    );
                }
            }
        }
    }
}
