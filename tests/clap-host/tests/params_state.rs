//! The parameters a CLAP host lists, and saving and loading state.

use sift_clap_host::*;

#[test]
fn parameter_list() {
    let mut plugin = TestPlugin::sift();
    let params = plugin.params();
    for p in &params {
        eprintln!(
            "{:>10} {:?} module {:?} range {}..{} default {} stepped {} automatable {} bypass {}",
            p.id.get(),
            p.name,
            p.module,
            p.min,
            p.max,
            p.default,
            p.stepped,
            p.automatable,
            p.bypass
        );
    }
    let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    let mut expected: Vec<String> = Vec::new();
    for role in &BUSES[1..] {
        for what in ["Gain", "Mute", "Solo"] {
            expected.push(format!("{role} {what}"));
        }
    }
    for name in ["Mode", "Device", "Output Gain", "Bypass"] {
        expected.push(name.to_owned());
    }
    let missing: Vec<&String> = expected.iter().filter(|e| !names.contains(&e.as_str())).collect();
    assert!(missing.is_empty(), "parameters missing: {missing:?}; the plugin lists {names:?}");

    let mut ids: Vec<u32> = params.iter().map(|p| p.id.get()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), params.len(), "parameter ids are not unique");
    let mut unique_names = names.clone();
    unique_names.sort();
    unique_names.dedup();
    assert_eq!(unique_names.len(), names.len(), "parameter names are not unique: {names:?}");

    for role in &BUSES[1..] {
        let gain = params.iter().find(|p| p.name == format!("{role} Gain")).unwrap();
        assert!(gain.automatable, "{role} Gain should be automatable");
        let mute = params.iter().find(|p| p.name == format!("{role} Mute")).unwrap();
        assert!(mute.stepped && mute.min == 0.0 && mute.max == 1.0 && mute.default == 0.0, "{role} Mute: {mute:?}");
    }
    let bypass = params.iter().find(|p| p.name == "Bypass").unwrap();
    assert!(bypass.bypass, "Bypass should carry CLAP_PARAM_IS_BYPASS");
    let gain = plugin.param_id("Vocals Gain");
    let default = plugin.get_param(gain);
    assert_eq!(
        plugin.value_to_text(gain, default).as_deref().map(str::trim),
        Some("0.0 dB"),
        "Vocals Gain default text"
    );
    let mode = plugin.param("Mode");
    assert_eq!(plugin.value_to_text(mode.id, mode.default).as_deref(), Some("Balanced"));
}

/// Every parameter's `(name, value)`.
fn values(plugin: &mut TestPlugin) -> Vec<(String, f64)> {
    let params = plugin.params();
    params.into_iter().map(|p| (p.name.clone(), plugin.get_param(p.id))).collect()
}

#[test]
fn state_round_trip() {
    let mut plugin = TestPlugin::sift();
    let defaults = values(&mut plugin);
    let gain = plugin.param_id("Vocals Gain");
    let drums_mute = plugin.param_id("Drums Mute");
    let mode = plugin.param_id("Mode");
    let minus_6 = plugin.text_to_value(gain, "-6").expect("Vocals Gain parses \"-6\"");
    let live = plugin.text_to_value(mode, "Live").expect("Mode parses \"Live\"");
    plugin.set_params(&[(gain, minus_6), (drums_mute, 1.0), (mode, live)]);
    let current = plugin.get_param(gain);
    let text = plugin.value_to_text(gain, current).unwrap();
    assert!(text.starts_with("-6"), "Vocals Gain reads {text:?} after setting -6 dB");
    assert_eq!(plugin.get_param(drums_mute), 1.0);
    assert_eq!(plugin.get_param(mode), live);
    let set = values(&mut plugin);
    assert_ne!(set, defaults);

    let state = plugin.save_state().expect("state save");
    eprintln!("state: {} bytes: {}", state.len(), String::from_utf8_lossy(&state[8.min(state.len())..]));

    let mut fresh = TestPlugin::sift();
    assert_eq!(values(&mut fresh), defaults);
    fresh.load_state(&state).expect("state load");
    assert_eq!(values(&mut fresh), set, "parameters after loading the state differ from those saved");
    // And saving again gives the same state.
    assert_eq!(fresh.save_state().unwrap(), state, "re-saved state differs");

    // The loaded mode is used on activation.
    fresh.activate_offline(44_100.0, 512).unwrap();
    let loaded_latency = fresh.latency();
    let mut live_plugin = TestPlugin::sift();
    live_plugin.set_params(&[(mode, live)]);
    live_plugin.activate_offline(44_100.0, 512).unwrap();
    assert_eq!(loaded_latency, live_plugin.latency(), "latency after loading a Live-mode state");
}

/// A property over random settings: 40 seeded draws of every parameter at once (stepped ones on
/// their steps, continuous ones anywhere in their range), each saved and loaded into a fresh
/// instance of both plugins, which then reads exactly the values saved and saves the same bytes.
#[test]
fn random_settings_survive_a_round_trip() {
    let mut rng = sift_test_support::Rng::new(0x57a7e);
    for id in [SIFT_ID, SIFT_SINGLE_ID] {
        let mut plugin = TestPlugin::new(id).unwrap();
        let params = plugin.params();
        for draw in 0..40 {
            let changes: Vec<(ClapId, f64)> = params
                .iter()
                .map(|p| {
                    let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                    let value = p.min + unit * (p.max - p.min);
                    (p.id, if p.stepped { value.round().clamp(p.min, p.max) } else { value })
                })
                .collect();
            plugin.set_params(&changes);
            let set = values(&mut plugin);
            for (p, &(_, drawn)) in params.iter().zip(&changes) {
                let read = plugin.get_param(p.id);
                // A value travels as an f32 between host and plugin: a step reads back within its rounding.
                let tolerance = if p.stepped { 1e-6 } else { 1e-3 * (p.max - p.min) };
                assert!(
                    (read - drawn).abs() <= tolerance,
                    "{id}, draw {draw}: {} reads {read}, set to {drawn}",
                    p.name
                );
            }
            let state = plugin.save_state().unwrap();
            let mut fresh = TestPlugin::new(id).unwrap();
            fresh.load_state(&state).unwrap_or_else(|e| panic!("{id}, draw {draw}: the state does not load: {e}"));
            assert_eq!(values(&mut fresh), set, "{id}, draw {draw}: the loaded settings differ from those saved");
            assert_eq!(fresh.save_state().unwrap(), state, "{id}, draw {draw}: the state saved again differs");
        }
    }
}

/// A CLAP state as nice-plug writes it: the JSON's length (u64, little-endian), then the JSON.
fn state_json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(&bytes[8..]).expect("a Sift state is JSON after its length")
}

fn state_bytes(json: &serde_json::Value) -> Vec<u8> {
    let text = serde_json::to_vec(json).unwrap();
    (text.len() as u64).to_le_bytes().into_iter().chain(text).collect()
}

/// A project saved in Live with no model picked, before Live ran Sift's own model (a state
/// without the `defaults` field), opens with what it played then: Spleeter, at Spleeter's Live
/// latency, and Spleeter stays picked when it is saved again. The same project saved now opens
/// with Sift's own model.
#[test]
fn an_old_live_project_keeps_the_model_it_played() {
    const SPLEETER_LIVE: [u32; 2] = [13_311, 21_503]; // as designed, and stretched on a slow machine
    const OWN_LIVE: u32 = 1535; // 1023 + 512 samples
    let mut plugin = TestPlugin::sift();
    let mode = plugin.param_id("Mode");
    let live = plugin.text_to_value(mode, "Live").expect("Mode parses \"Live\"");
    plugin.set_params(&[(mode, live)]);
    let saved_now = plugin.save_state().unwrap();
    let mut old = state_json(&saved_now);
    assert_eq!(old["fields"]["model-path"], "\"\"", "no model picked: {old}");
    assert!(old["fields"].as_object_mut().unwrap().remove("defaults").is_some(), "no `defaults` field: {old}");

    let mut opened = TestPlugin::sift();
    opened.load_state(&state_bytes(&old)).expect("an old state loads");
    assert_eq!(opened.get_param(mode), live);
    opened.activate_offline(44_100.0, 512).unwrap();
    let latency = opened.latency();
    assert!(SPLEETER_LIVE.contains(&latency), "an old Live project runs at {latency} samples, not Spleeter's");
    opened.deactivate();
    let resaved = state_json(&opened.save_state().unwrap());
    assert_eq!(resaved["fields"]["model-path"], "\"spleeter-2stems\"", "{resaved}");

    let mut current = TestPlugin::sift();
    current.load_state(&saved_now).unwrap();
    current.activate_offline(44_100.0, 512).unwrap();
    assert_eq!(current.latency(), OWN_LIVE, "a Live project saved now runs Sift's own model");
}

/// A project saved in Balanced with no model picked before Balanced ran the composed four-stem
/// model (`defaults` 2) opens with Spleeter picked, as it played then (two stems: a muted Other
/// stays the whole accompaniment, the Drums bus is silent); one saved now keeps no model picked,
/// so it runs the composed model, whose Drums bus plays the drums.
#[test]
fn an_old_balanced_project_keeps_spleeter() {
    let mut plugin = TestPlugin::sift();
    let saved_now = plugin.save_state().unwrap();
    let mut old = state_json(&saved_now);
    assert_eq!(old["fields"]["defaults"], "3", "{old}");
    old["fields"]["defaults"] = serde_json::Value::String("2".to_owned());

    let mut opened = TestPlugin::sift();
    opened.load_state(&state_bytes(&old)).expect("an old state loads");
    let resaved = state_json(&opened.save_state().unwrap());
    assert_eq!(resaved["fields"]["model-path"], "\"spleeter-2stems\"", "{resaved}");
    opened.activate_offline(44_100.0, 512).unwrap();
    let mut current = TestPlugin::sift();
    current.load_state(&saved_now).unwrap();
    let kept = state_json(&current.save_state().unwrap());
    assert_eq!(kept["fields"]["model-path"], "\"\"", "{kept}");
    current.activate_offline(44_100.0, 512).unwrap();

    const DRUMS_BUS: usize = 2;
    let input = excerpt(&eval_mixture(), 0.0, 4.0);
    let drums_level = |plugin: &mut TestPlugin| {
        let latency = plugin.latency() as usize;
        let out = plugin.render(&pad(&input, latency), |_| 512, &[]).unwrap();
        db(rms(&out.ports[DRUMS_BUS], latency..latency + input[0].len()))
    };
    let (old_drums, new_drums) = (drums_level(&mut opened), drums_level(&mut current));
    eprintln!("Drums bus: {old_drums:.1} dBFS in the old project, {new_drums:.1} dBFS in the new one");
    assert!(
        old_drums < -120.0,
        "the old project does not run two-stem Spleeter: its Drums bus plays at {old_drums:.1} dBFS"
    );
    assert!(new_drums > -40.0, "the new project does not run four stems: its Drums bus is at {new_drums:.1} dBFS");
}

#[test]
fn garbage_state_is_rejected_and_instance_still_works() {
    let mut plugin = TestPlugin::sift();
    let defaults = values(&mut plugin);
    let good = plugin.save_state().unwrap();

    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("short", vec![1, 2, 3]),
        ("text", b"this is not a Sift state at all, just some bytes".to_vec()),
        ("huge length", u64::MAX.to_le_bytes().iter().copied().chain(*b"{}").collect()),
    ];
    let mut json_garbage = 12u64.to_le_bytes().to_vec();
    json_garbage.extend_from_slice(b"{not json!!}");
    cases.push(("bad json", json_garbage));
    let mut truncated = good.clone();
    truncated.truncate(good.len() / 2);
    cases.push(("truncated", truncated));
    let mut rng = Rng::new(99);
    cases.push(("random", (0..4096).map(|_| rng.next_u64() as u8).collect()));

    let mut accepted = Vec::new();
    for (name, bytes) in &cases {
        match plugin.load_state(bytes) {
            Ok(()) => accepted.push(*name),
            Err(e) => eprintln!("{name}: rejected ({e})"),
        }
    }
    assert!(accepted.is_empty(), "garbage states accepted by clap_plugin_state.load: {accepted:?}");
    assert_eq!(values(&mut plugin), defaults, "parameters changed by rejected states");

    // Still works: the null test on a short clip.
    plugin.activate_offline(44_100.0, 512).unwrap();
    let latency = plugin.latency() as usize;
    let input: Vec<Vec<f32>> = eval_mixture().into_iter().map(|c| c[..44_100 * 2].to_vec()).collect();
    let padded = pad(&input, latency);
    let out = plugin.render(&padded, |_| 512, &[]).unwrap();
    let (d, at) = peak_diff_delayed(out.main(), &input, latency, 0..padded[0].len());
    assert!(db(d) <= -60.0, "after garbage states the main output is not the delayed input: {:.1} dBFS at {at}", db(d));
    assert!(db(rms(&out.ports[1], latency..padded[0].len())) > -40.0, "after garbage states the Vocals bus is silent");
}

/// Where a user's pick of Sift's own model in the editor points on each platform, with the
/// plugins installed where the README says: the other machine's path, which does not exist on
/// this one (under Wine every Linux path would, through drive `Z:`, so the test machine's own
/// paths would prove nothing there).
fn installed_own_model_path(platform: &str) -> &'static str {
    match platform {
        "linux" => "/home/producer/.vst3/sift.vst3/Contents/Resources/models/sift-4stem.onnx",
        _ => r"C:\Users\producer\AppData\Local\Sift\models\sift-4stem.onnx",
    }
}

/// A project saved with the Linux plugin opens in the Windows one as it was saved, and the
/// reverse: the same parameters, and the picked model, whose path names the other machine's
/// file, runs from this install (found by its name). Saved again, the project keeps that path.
/// Without the lookup by name the model would be missing and the plugin would pass audio
/// through at another latency.
///
/// `cargo xtask test` runs this on Linux (which saves `linux.state` into `$SIFT_STATE_EXCHANGE`),
/// then on Windows under Wine (which opens it and saves `windows.state`), then on Linux again
/// (which opens that), the last two with `SIFT_STATE_FROM_OTHER_PLATFORM` set: there the other
/// platform's state must be there.
#[test]
fn a_project_saved_on_the_other_platform_opens_as_saved() {
    const OWN_LIVE: u32 = 1535; // Sift's own model in Live at 512-sample blocks
    let exchange = std::env::var_os("SIFT_STATE_EXCHANGE")
        .map(std::path::PathBuf::from)
        .expect("SIFT_STATE_EXCHANGE is not set: `cargo xtask test` runs this test on both platforms");
    let (this, other) = if cfg!(windows) { ("windows", "linux") } else { ("linux", "windows") };

    let mut plugin = TestPlugin::sift();
    let (gain, drums_mute, mode) =
        (plugin.param_id("Vocals Gain"), plugin.param_id("Drums Mute"), plugin.param_id("Mode"));
    let minus_6 = plugin.text_to_value(gain, "-6").unwrap();
    let live = plugin.text_to_value(mode, "Live").unwrap();
    plugin.set_params(&[(gain, minus_6), (drums_mute, 1.0), (mode, live)]);
    let expected = values(&mut plugin);
    let saved = state_with_model_path(&plugin.save_state().unwrap(), installed_own_model_path(this));
    std::fs::create_dir_all(&exchange).unwrap();
    std::fs::write(exchange.join(format!("{this}.state")), &saved).unwrap();

    let foreign_file = exchange.join(format!("{other}.state"));
    if !foreign_file.is_file() {
        assert!(
            std::env::var_os("SIFT_STATE_FROM_OTHER_PLATFORM").is_none(),
            "no state saved by the {other} plugin at {}",
            foreign_file.display()
        );
        eprintln!("no state from the {other} plugin yet: this run saved the {this} one");
        return;
    }
    let foreign = std::fs::read(&foreign_file).unwrap();
    let foreign_path = state_json(&foreign)["fields"]["model-path"].clone();
    assert!(
        !std::path::Path::new(installed_own_model_path(other)).exists(),
        "the {other} project's model path exists here: the test would not show the model is found by name"
    );
    let mut opened = TestPlugin::sift();
    opened.load_state(&foreign).expect("the other platform's state loads");
    assert_eq!(values(&mut opened), expected, "parameters from the {other} project differ");
    opened.activate_offline(44_100.0, 512).unwrap();
    assert_eq!(opened.latency(), OWN_LIVE, "the {other} project's model ({foreign_path}) does not run here");
    let logged = opened.shared(|s| s.log_lines());
    assert!(logged.iter().all(|(_, m)| !m.contains("passes audio through")), "{logged:?}");
    opened.deactivate();
    let resaved = state_json(&opened.save_state().unwrap());
    assert_eq!(resaved["fields"]["model-path"], foreign_path, "saving again lost the project's model path");
}
