//! Activation cycles and robustness: many instances, NaN input, a missing or hostile model.

use sift_clap_host::*;
use sift_test_support::test_models;

#[test]
fn activate_deactivate_cycles() {
    let input = eval_mixture();
    let mut plugin = TestPlugin::sift();
    let cycles: [(f64, u32, bool); 10] = [
        (44_100.0, 512, true),
        (48_000.0, 256, false),
        (96_000.0, 1024, true),
        (44_100.0, 64, false),
        (48_000.0, 4096, true),
        (96_000.0, 128, false),
        (44_100.0, 1, true),
        (48_000.0, 33, true),
        (96_000.0, 4096, true),
        (44_100.0, 512, false),
    ];
    let mut seen: Vec<(f64, u32)> = Vec::new();
    for (i, &(rate, block, offline)) in cycles.iter().enumerate() {
        plugin.set_offline(offline).unwrap();
        plugin.activate(rate, 1, block).unwrap_or_else(|e| panic!("cycle {i}: {e}"));
        let latency = plugin.latency();
        eprintln!("cycle {i}: {rate} Hz, max block {block}, offline {offline}: latency {latency}");
        // Balanced: 627 ms, or 998 ms on a machine that needs its budget doubled (README,
        // "Modes keep up on slow machines"), plus resampling away from 44.1 kHz.
        let ceiling = 1.1 * rate;
        assert!(latency > 0 && (latency as f64) < ceiling, "cycle {i}: latency {latency} at {rate} Hz");
        if let Some(&(_, previous)) = seen.iter().find(|(r, _)| *r == rate) {
            assert_eq!(latency, previous, "cycle {i}: latency at {rate} Hz changed between activations");
        }
        seen.push((rate, latency));
        let n = (block as usize * 8).max(4096).min(input[0].len());
        let clip: Vec<Vec<f32>> = input.iter().map(|c| c[..n].to_vec()).collect();
        let out = plugin.render(&clip, |_| block as usize, &[]).unwrap_or_else(|e| panic!("cycle {i}: {e}"));
        finite(&out).unwrap_or_else(|e| panic!("cycle {i}: {e}"));
        if i % 3 == 2 {
            // Sometimes drop the instance while active (the host tears down without deactivating first).
            plugin = TestPlugin::sift();
        } else {
            plugin.deactivate();
        }
    }
}

#[test]
fn eight_instances_concurrently() {
    let input: Vec<Vec<f32>> = eval_mixture().into_iter().map(|c| c[..44_100 * 2].to_vec()).collect();
    load_bundle();
    type InstanceResult = Result<(usize, Vec<Vec<f32>>), String>;
    let results: Vec<InstanceResult> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|k| {
                let input = &input;
                s.spawn(move || -> InstanceResult {
                    let mut plugin = TestPlugin::new(SIFT_ID)?;
                    plugin.activate_offline(44_100.0, 512)?;
                    let latency = plugin.latency() as usize;
                    let padded = pad(input, latency);
                    let block = [512, 256, 100, 512, 1, 333, 512, 64][k];
                    let out = plugin.render(&padded, |_| block, &[])?;
                    finite(&out)?;
                    let (d, at) = peak_diff_delayed(out.main(), input, latency, 0..padded[0].len());
                    if db(d) > -60.0 {
                        return Err(format!("instance {k}: main is not the delayed input: {:.1} dBFS at {at}", db(d)));
                    }
                    if db(rms(&out.ports[1], latency..padded[0].len())) < -40.0 {
                        return Err(format!("instance {k}: Vocals bus silent"));
                    }
                    Ok((latency, out.ports[1].clone()))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("instance thread panicked".into()))).collect()
    });
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // All instances separate the same input the same way.
    let (latency0, vocals0) = results[0].as_ref().unwrap();
    for (k, r) in results.iter().enumerate().skip(1) {
        let (latency, vocals) = r.as_ref().unwrap();
        assert_eq!(latency, latency0, "instance {k} latency");
        let (d, at) = peak_diff_delayed(vocals, vocals0, 0, 0..vocals0[0].len());
        assert!(
            d == 0.0 || db(d) <= -120.0,
            "instance {k}: Vocals bus differs from instance 0 by {:.1} dB at {at}",
            db(d)
        );
    }
}

#[test]
fn interleaved_instances_on_one_thread() {
    let input: Vec<Vec<f32>> = eval_mixture().into_iter().map(|c| c[..44_100].to_vec()).collect();
    let mut plugins: Vec<TestPlugin> = (0..4).map(|_| TestPlugin::sift()).collect();
    let mut latency = 0;
    for p in &mut plugins {
        p.activate_offline(44_100.0, 512).unwrap();
        latency = p.latency() as usize;
    }
    let padded = pad(&input, latency);
    let mut outs: Vec<Vec<Vec<f32>>> = vec![vec![Vec::new(); 2]; plugins.len()];
    let mut scratch: Vec<Vec<Vec<f32>>> = vec![vec![Vec::new(); 2]; 6];
    for start in (0..padded[0].len()).step_by(512) {
        let end = (start + 512).min(padded[0].len());
        let block: Vec<&[f32]> = padded.iter().map(|c| &c[start..end]).collect();
        for (p, out) in plugins.iter_mut().zip(&mut outs) {
            p.process_block(&block, &mut scratch, &[]).unwrap();
            for ch in 0..2 {
                out[ch].extend_from_slice(&scratch[0][ch][..end - start]);
            }
        }
    }
    for (k, out) in outs.iter().enumerate() {
        let (d, at) = peak_diff_delayed(out, &input, latency, 0..padded[0].len());
        assert!(db(d) <= -60.0, "instance {k}: {:.1} dBFS at {at}", db(d));
    }
}

#[test]
fn nan_input_never_gives_nan_output() {
    let mut input: Vec<Vec<f32>> = eval_mixture().into_iter().map(|c| c[..44_100 * 3].to_vec()).collect();
    // Isolated NaNs, a run of NaNs, infinities, on one or both channels.
    for &i in &[1000usize, 20_000, 20_001, 50_000] {
        input[0][i] = f32::NAN;
    }
    for channel in &mut input {
        channel[60_000..61_024].fill(f32::NAN);
    }
    input[1][70_000] = f32::INFINITY;
    input[0][80_000] = f32::NEG_INFINITY;
    let mut plugin = TestPlugin::sift();
    plugin.activate_offline(44_100.0, 512).unwrap();
    let latency = plugin.latency() as usize;
    let padded = pad(&input, latency + 44_100);
    let out = plugin.render(&padded, |_| 512, &[]).unwrap();
    if let Err(e) = finite(&out) {
        let bad: usize = out.ports.iter().flatten().map(|c| c.iter().filter(|s| !s.is_finite()).count()).sum();
        panic!("non-finite output for NaN/inf input: first {e}; {bad} non-finite output samples in all");
    }
    // Once the bad samples are long gone, the plugin is back to normal: main = input delayed.
    let clean = (90_000 + latency + 44_100 / 2)..(input[0].len() + latency);
    let (d, at) = peak_diff_delayed(out.main(), &input, latency, clean.clone());
    assert!(db(d) <= -60.0, "no recovery after NaN/inf input: main differs from the delayed input by {:.1} dBFS at {at} (checked {clean:?})", db(d));
}

#[test]
fn missing_model_in_state_passes_audio_through() {
    let mut reference = TestPlugin::sift();
    reference.activate_offline(44_100.0, 512).unwrap();
    let default_latency = reference.latency();
    reference.deactivate();
    let state = reference.save_state().unwrap();
    eprintln!("saved state: {}", String::from_utf8_lossy(&state[8..]));
    let edited = state_with_model_path(&state, "/nonexistent/model.onnx");

    let mut plugin = TestPlugin::sift();
    plugin.load_state(&edited).expect("a state naming a missing model should still load");
    let resaved = plugin.save_state().unwrap();
    assert!(
        String::from_utf8_lossy(&resaved).contains("/nonexistent/model.onnx"),
        "the model path was dropped on load: {}",
        String::from_utf8_lossy(&resaved[8..])
    );

    plugin.activate_offline(44_100.0, 512).expect("activation with a missing model should succeed (pass-through)");
    let latency = plugin.latency() as usize;
    eprintln!("latency with the missing model: {latency} (with the model: {default_latency})");
    assert!(latency > 0);
    let input: Vec<Vec<f32>> = eval_mixture().into_iter().map(|c| c[..44_100 * 3].to_vec()).collect();
    let padded = pad(&input, latency);
    let out = plugin.render(&padded, |_| 512, &[]).unwrap();
    finite(&out).unwrap();
    let (d, at) = peak_diff_delayed(out.main(), &input, latency, 0..padded[0].len());
    assert!(db(d) <= -60.0, "with a missing model the main output is not the dry input delayed by the latency ({latency}): {:.1} dBFS at {at}", db(d));
    let logged = plugin.shared(|s| s.log_lines());
    eprintln!("plugin log: {logged:#?}");
    assert_eq!(
        latency as u32, default_latency,
        "pass-through latency should equal the default model's, so the host's delay compensation is unchanged"
    );
}

/// A project naming hostile model files (`model/make_test_models.py`: a 2^40-sample frame, a run
/// too large for any machine's memory) opens, activates and passes the audio through with the
/// latency of the mode's default, where loading the first aborted the host's process until
/// Dec 7.
#[test]
fn a_hostile_model_in_state_passes_audio_through() {
    let input: Vec<Vec<f32>> = eval_mixture().into_iter().map(|c| c[..44_100 * 2].to_vec()).collect();
    for model in ["hostile-huge-fft", "hostile-huge-run"] {
        let mut plugin = TestPlugin::sift();
        plugin.use_model(&test_models().join(format!("{model}.onnx"))).unwrap();
        plugin.activate_offline(44_100.0, 512).unwrap_or_else(|e| panic!("{model}: activation failed: {e}"));
        let latency = plugin.latency() as usize;
        let out = plugin.render(&pad(&input, latency), |_| 512, &[]).unwrap();
        finite(&out).unwrap();
        let (d, at) = peak_diff_delayed(out.main(), &input, latency, 0..input[0].len() + latency);
        assert!(
            db(d) <= -60.0,
            "{model}: the main output is not the dry input delayed by {latency}: {:.1} dBFS at {at}",
            db(d)
        );
    }
}
