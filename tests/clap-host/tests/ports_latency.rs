//! Audio ports and latency, as a CLAP host sees them.

use sift_clap_host::*;

#[test]
fn bundle_lists_both_plugins() {
    let ids = plugin_ids();
    assert!(ids.iter().any(|id| id == SIFT_ID), "{SIFT_ID} missing from the factory: {ids:?}");
    assert!(ids.iter().any(|id| id == SIFT_SINGLE_ID), "{SIFT_SINGLE_ID} missing from the factory: {ids:?}");
}

#[test]
fn sift_ports_and_names() {
    let mut plugin = TestPlugin::sift();
    let (inputs, outputs) = plugin.audio_ports();
    eprintln!("inputs: {inputs:#?}\noutputs: {outputs:#?}");

    assert_eq!(inputs.len(), 1, "Sift should have one input port: {inputs:?}");
    assert_eq!(inputs[0].channels, 2, "main input should be stereo: {:?}", inputs[0]);
    assert!(inputs[0].is_main, "input 0 should carry CLAP_AUDIO_PORT_IS_MAIN: {:?}", inputs[0]);

    let names: Vec<&str> = outputs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(outputs.len(), 6, "Sift should have 6 output ports, has {names:?}");
    for port in &outputs {
        assert_eq!(port.channels, 2, "output {:?} should be stereo", port.name);
        assert_eq!(port.port_type.as_deref(), Some("stereo"), "output {:?} port type", port.name);
    }
    assert!(outputs[0].is_main, "output 0 should carry CLAP_AUDIO_PORT_IS_MAIN: {:?}", outputs[0]);
    for port in &outputs[1..] {
        assert!(!port.is_main, "aux output {:?} must not be main", port.name);
    }
    let mut ids: Vec<u32> = outputs.iter().map(|p| p.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "output port ids must be unique: {outputs:?}");
    assert_eq!(names, BUSES, "output port names");
}

#[test]
fn sift_single_ports_and_names() {
    let mut plugin = TestPlugin::new(SIFT_SINGLE_ID).unwrap();
    let (inputs, outputs) = plugin.audio_ports();
    assert_eq!(inputs.len(), 1, "{inputs:?}");
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    assert_eq!((inputs[0].channels, outputs[0].channels), (2, 2));
    assert!(inputs[0].is_main && outputs[0].is_main);
    assert_eq!(inputs[0].name, "Input");
    assert_eq!(outputs[0].name, "Output", "Sift Single's output port name (declared `main_output: Some(\"Output\")`)");
}

#[test]
fn latency_depends_on_rate_and_mode() {
    let mut plugin = TestPlugin::sift();
    plugin.activate_offline(44_100.0, 512).unwrap();
    let at_44k = plugin.latency();
    plugin.activate_offline(48_000.0, 512).unwrap();
    let at_48k = plugin.latency();
    eprintln!("latency: {at_44k} samples at 44.1 kHz, {at_48k} at 48 kHz");
    assert!(at_44k > 0, "latency at 44.1 kHz is {at_44k}");
    assert!(at_48k > 0, "latency at 48 kHz is {at_48k}");
    assert_ne!(at_44k, at_48k, "latency at 48 kHz should differ from 44.1 kHz");
    // Sanity: under a second, and about the same time at both rates.
    assert!(at_44k < 44_100, "latency {at_44k} samples at 44.1 kHz is over a second");
    let ms = |samples: u32, rate: f64| samples as f64 * 1000.0 / rate;
    // (The resampler to the model's 44.1 kHz adds delay at 48 kHz: allow a quarter more.)
    assert!(
        (ms(at_48k, 48_000.0) / ms(at_44k, 44_100.0) - 1.0).abs() < 0.25,
        "latency {} ms at 44.1 kHz vs {} ms at 48 kHz",
        ms(at_44k, 44_100.0),
        ms(at_48k, 48_000.0)
    );
    plugin.deactivate();

    // Mode changes, set while inactive, give other latencies after activation.
    let mode = plugin.param("Mode");
    assert!(mode.stepped, "Mode should be a stepped parameter: {mode:?}");
    let mut by_mode = Vec::new();
    for name in ["Live", "Balanced", "Studio"] {
        let value =
            plugin.text_to_value(mode.id, name).unwrap_or_else(|| panic!("Mode has no value for text {name:?}"));
        plugin.set_params(&[(mode.id, value)]);
        assert_eq!(plugin.get_param(mode.id), value, "Mode did not take {name}");
        plugin.activate_offline(44_100.0, 512).unwrap();
        let latency = plugin.latency();
        eprintln!("mode {name} ({value}): latency {latency}");
        assert!(latency > 0, "mode {name}: latency {latency}");
        by_mode.push((name, latency));
        plugin.deactivate();
    }
    let balanced = by_mode[1].1;
    assert_eq!(balanced, at_44k, "default mode should be Balanced");
    assert!(by_mode[0].1 < balanced, "Live should have less latency than Balanced: {by_mode:?}");
    assert!(by_mode[2].1 > balanced, "Studio should have more latency than Balanced: {by_mode:?}");
}

/// A contract-2 streaming model (`stream-smoother`: causal, one frame per run on a 1024/256
/// grid) loads in both plugins, which report its latency, `n_fft − 1 + K·hop` = 1279 samples
/// at 44.1 kHz in Live with 256-sample host blocks, and delay the remix by exactly that.
#[test]
fn a_streaming_model_reports_its_short_latency_in_both_plugins() {
    let model = sift_test_support::test_models().join("stream-smoother.onnx");
    for id in [SIFT_ID, SIFT_SINGLE_ID] {
        let mut plugin = TestPlugin::new(id).unwrap();
        plugin.use_model(&model).unwrap();
        let mode = plugin.param("Mode");
        let live = plugin.text_to_value(mode.id, "Live").expect("Mode has a Live value");
        plugin.set_params(&[(mode.id, live)]);
        plugin.activate_offline(44_100.0, 256).unwrap();
        let latency = plugin.latency() as usize;
        assert_eq!(latency, 1024 - 1 + 256, "{id}: latency with the streaming model");
        let mut input = vec![vec![0.0f32; 44_100]; 2];
        input[0][10_000] = 1.0;
        input[1][10_000] = -0.5;
        let out = plugin.render(&input, |_| 256, &[]).unwrap();
        for (ch, expected) in [(0, 1.0), (1, -0.5)] {
            let main = &out.main()[ch];
            let peak = (0..main.len()).max_by(|&a, &b| main[a].abs().total_cmp(&main[b].abs())).unwrap();
            assert_eq!(peak, 10_000 + latency, "{id}: the remix's impulse lands at {peak}");
            assert!((main[peak] - expected).abs() < 1e-4, "{id}: the remix's impulse is {}", main[peak]);
        }
        plugin.assert_no_violations();
    }
}
