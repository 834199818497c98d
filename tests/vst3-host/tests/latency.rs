//! Exact latency and the null test, at two sample rates and two block sizes, offline.

use sift_clap_host::{db, eval_mixture, excerpt, pad, peak_diff_delayed, rms};
use sift_vst3_host::*;

/// Every (sample rate, block size) tested.
const SETUPS: [(f64, usize); 4] = [(44_100.0, 128), (44_100.0, 512), (48_000.0, 128), (48_000.0, 512)];

/// A Sift instance active offline at `rate` with blocks of `block`, and its latency.
fn active_sift(rate: f64, block: usize) -> (Plugin, usize) {
    let mut plugin = Plugin::new(SIFT).unwrap();
    plugin.activate(rate, block, Mode::Offline).unwrap();
    let latency = plugin.latency();
    // Under two seconds: Sift stretches a mode's runs (at most twice) where the first instance
    // of a process measured the machine too slow for them, so a busy machine reports more.
    assert!(latency > 0 && (latency as f64) < 2.0 * rate, "latency {latency} at {rate} Hz");
    (plugin, latency)
}

#[test]
fn an_impulse_comes_out_of_the_remix_exactly_the_reported_latency_later() {
    const AT: usize = 10_000;
    let mut found = Vec::new();
    for (rate, block) in SETUPS {
        let (mut plugin, latency) = active_sift(rate, block);
        let mut input = vec![vec![0.0f32; AT + latency + rate as usize / 4]; 2];
        input[0][AT] = 1.0;
        input[1][AT] = -0.5;
        let out = plugin.render(&input, |_| block, &[]).unwrap();
        for (ch, expected) in [(0, 1.0), (1, -0.5)] {
            let main = &out.main()[ch];
            let peak = (0..main.len()).max_by(|&a, &b| main[a].abs().total_cmp(&main[b].abs())).unwrap();
            assert_eq!(
                peak - AT,
                latency,
                "{rate} Hz, {block}-sample blocks, channel {ch}: the impulse came out {} samples late, not the reported {latency}",
                peak as i64 - AT as i64
            );
            assert!(
                (main[peak] - expected).abs() < 1e-4,
                "{rate} Hz, {block}: the impulse is {} on channel {ch}",
                main[peak]
            );
        }
        found.push(format!("{rate} Hz / {block}: {latency}"));
    }
    eprintln!("latency (samples): {}", found.join(", "));
}

#[test]
fn the_remix_and_the_sum_of_the_stems_are_the_input_delayed_by_the_latency() {
    let input = excerpt(&eval_mixture(), 0.0, 3.0);
    for (rate, block) in SETUPS {
        let (mut plugin, latency) = active_sift(rate, block);
        let padded = pad(&input, latency);
        let total = padded[0].len();
        let out = plugin.render(&padded, |_| block, &[]).unwrap();
        let setup = format!("{rate} Hz, {block}-sample blocks, latency {latency}");

        let (d, at) = peak_diff_delayed(out.main(), &input, latency, 0..total);
        eprintln!("{setup}: remix − input delayed: peak {:.1} dBFS at {at}", db(d));
        assert!(
            db(d) <= -60.0,
            "{setup}: the remix is not the input delayed by the latency: {:.1} dBFS at {at}",
            db(d)
        );
        for wrong in [latency - 1, latency + 1] {
            let (d, _) = peak_diff_delayed(out.main(), &input, wrong, 0..total);
            assert!(
                db(d) > -60.0,
                "{setup}: the remix also matches a delay of {wrong}: the check does not discriminate"
            );
        }

        let stems = sift_test_support::sum_stems(&out.buses[1..]);
        let (d, at) = peak_diff_delayed(&stems, &input, latency, 0..total);
        eprintln!("{setup}: Σ stems − input delayed: peak {:.1} dBFS at {at}", db(d));
        assert!(db(d) <= -60.0, "{setup}: the stems do not sum to the delayed input: {:.1} dBFS at {at}", db(d));

        // A separation, not a copy: the Vocals bus carries part of the music, not all of it.
        let vocals = db(rms(&out.buses[1], latency..total));
        let (to_mix, _) = peak_diff_delayed(&out.buses[1], &input, latency, latency..total);
        assert!(
            vocals > -40.0 && db(to_mix) > -20.0,
            "{setup}: Vocals bus {vocals:.1} dB RMS, {:.1} dB from the mix",
            db(to_mix)
        );
    }
}
