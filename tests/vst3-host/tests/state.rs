//! State: what `IComponent::getState` saves, a fresh instance's `setState` restores.

use sift_clap_host::{db, eval_mixture, excerpt, pad, peak, peak_diff_delayed};
use sift_vst3_host::*;

/// nice-plug's VST3 parameter id of a string id (`nice_plug::wrapper::util::hash_param_id`):
/// hosts key their projects' automation by it, so it must not change.
fn vst3_id(id: &str) -> u32 {
    id.bytes().fold(0u32, |hash, b| hash.wrapping_mul(31).wrapping_add(b as u32)) & !(1 << 31)
}

#[test]
fn a_saved_state_restores_every_parameter_and_a_muted_vocals_stays_muted() {
    let mut saved_from = Plugin::new(SIFT).unwrap();
    let mute = saved_from.param("Vocals Mute");
    let gain = saved_from.param("Drums Gain");
    assert_eq!((mute.id, gain.id), (vst3_id("mute_1"), vst3_id("gain_2")), "parameter ids");
    let changed = [(mute.id, 1.0), (gain.id, 0.25)];
    for (id, value) in changed {
        saved_from.set_param(id, value).unwrap();
        assert_eq!(saved_from.get_param(id), value, "parameter {id} did not take {value}");
    }
    let state = saved_from.save_state().unwrap();
    eprintln!("state: {} bytes", state.len());
    assert!(!state.is_empty(), "getState wrote nothing");

    let mut opened = Plugin::new(SIFT).unwrap();
    assert_eq!(opened.get_param(mute.id), 0.0, "a fresh instance starts with Vocals unmuted");
    opened.load_state(&state).unwrap();
    let params = saved_from.params();
    let differ: Vec<String> = params
        .iter()
        .filter(|p| (saved_from.get_param(p.id) - opened.get_param(p.id)).abs() > 1e-6)
        .map(|p| format!("{}: saved {}, restored {}", p.title, saved_from.get_param(p.id), opened.get_param(p.id)))
        .collect();
    assert!(differ.is_empty(), "parameters not restored:\n{}", differ.join("\n"));
    eprintln!("{} parameters restored", params.len());
    drop(saved_from);

    // And it plays as saved: the Vocals bus silent, the remix no longer the whole mix.
    opened.activate(44_100.0, 512, Mode::Offline).unwrap();
    let latency = opened.latency();
    let input = excerpt(&eval_mixture(), 0.0, 2.0);
    let out = opened.render(&pad(&input, latency), |_| 512, &[]).unwrap();
    let vocals = peak(&[&out.buses[1][0], &out.buses[1][1]]);
    assert!(
        vocals == 0.0 || db(vocals) <= -120.0,
        "the restored Vocals mute lets the bus play: {:.1} dBFS",
        db(vocals)
    );
    let (d, _) = peak_diff_delayed(out.main(), &input, latency, 0..input[0].len() + latency);
    assert!(db(d) > -20.0, "the remix is still the whole mix ({:.1} dBFS from it) with Vocals muted", db(d));
}

/// A host that sets parameters on the controller while the plugin processes, without sending
/// them to `process()`, and saves right away (Ardour does; so does Steinberg's validator in
/// *Parameter Bypass persistence*): the controller, the saved state and the audio all have the
/// new values at once. nice-plug's wrapper used to answer `kResultOk` and change nothing.
#[test]
fn parameters_set_on_the_controller_while_processing_are_saved_and_heard() {
    let mut plugin = Plugin::new(SIFT).unwrap();
    let (mute, gain, bypass) = (plugin.param("Vocals Mute"), plugin.param("Drums Gain"), plugin.param("Bypass"));
    plugin.activate(44_100.0, 512, Mode::Realtime).unwrap();
    let input = sift_test_support::test_signal(44_100, 7);
    let blocks = |from: usize, to: usize| -> Vec<Vec<f32>> { input.iter().map(|c| c[from..to].to_vec()).collect() };
    let mut out: Vec<Vec<Vec<f32>>> = plugin.outputs().iter().map(|b| vec![Vec::new(); b.channels as usize]).collect();
    let mut play = |plugin: &mut Plugin, from: usize, to: usize| {
        for start in (from..to).step_by(512) {
            let block = blocks(start, (start + 512).min(to));
            let refs: Vec<&[f32]> = block.iter().map(|c| c.as_slice()).collect();
            plugin.process_block(&refs, &mut out, &[]).unwrap();
        }
    };
    play(&mut plugin, 0, 8_192);

    let changed = [(mute.id, 1.0), (gain.id, 0.25), (bypass.id, 1.0), (bypass.id, 0.0)];
    for (id, value) in changed {
        plugin.set_param(id, value).unwrap();
        assert_eq!(plugin.get_param(id), value, "while processing, parameter {id} did not take {value}");
    }
    let state = plugin.save_state().unwrap();
    let mut opened = Plugin::new(SIFT).unwrap();
    opened.load_state(&state).unwrap();
    for (id, value) in [(mute.id, 1.0), (gain.id, 0.25), (bypass.id, 0.0)] {
        assert_eq!(
            opened.get_param(id),
            value,
            "parameter {id} set while processing was saved as {}",
            opened.get_param(id)
        );
    }

    // The processor has them too (the host never sent them to process()): after the mixer's
    // ramp the Vocals bus is silent, and the values stay as set.
    play(&mut plugin, 8_192, 44_100);
    let vocals = sift_clap_host::peak(&[&out[1][0], &out[1][1]]);
    assert_eq!(
        vocals,
        0.0,
        "the Vocals bus still plays ({:.1} dBFS) after Vocals Mute was set",
        sift_clap_host::db(vocals)
    );
    for (id, value) in [(mute.id, 1.0), (gain.id, 0.25), (bypass.id, 0.0)] {
        assert_eq!(plugin.get_param(id), value, "processing changed parameter {id} back");
    }
}
