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
