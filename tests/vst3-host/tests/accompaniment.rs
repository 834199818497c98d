//! The reason to mute a stem: the eval clip with Vocals muted (automated the way hosts send
//! automation, in `ProcessData::inputParameterChanges`) is the accompaniment.

use sift_clap_host::{db, eval_mixture, pad, peak, read_wav};
use sift_test_support::sdr_db;
use sift_vst3_host::*;

/// Global SDR over every channel of two signals of one length ([`sdr_db`]).
fn sdr(reference: &[Vec<f32>], estimate: &[Vec<f32>]) -> f64 {
    assert!(reference.iter().zip(estimate).all(|(r, e)| r.len() == e.len()), "signals of different lengths");
    sdr_db(reference, estimate, 0..reference[0].len())
}

#[test]
fn the_remix_with_vocals_muted_is_the_accompaniment() {
    let mixture = eval_mixture();
    let (vocals, rate) = read_wav(&sift_test_support::rock_clip().join("vocals.wav"));
    assert_eq!((rate, vocals.len()), (44_100, 2));
    // The clip's mixture is the sample-exact sum of its stems: less the vocals, the other three.
    let accompaniment: Vec<Vec<f32>> =
        mixture.iter().zip(&vocals).map(|(m, v)| m.iter().zip(v).map(|(m, v)| m - v).collect()).collect();

    let mut plugin = Plugin::new(SIFT).unwrap();
    let mute = plugin.param("Vocals Mute");
    assert_eq!((mute.step_count, mute.default), (1, 0.0), "Vocals Mute: {mute:?}");
    plugin.activate(44_100.0, 512, Mode::Offline).unwrap();
    let latency = plugin.latency();
    let out =
        plugin.render(&pad(&mixture, latency), |_| 512, &[ParamChange { time: 0, id: mute.id, value: 1.0 }]).unwrap();
    assert_eq!(plugin.get_param(mute.id), 1.0, "Vocals Mute did not take the automated value");

    let n = mixture[0].len();
    let estimate: Vec<Vec<f32>> = out.main().iter().map(|c| c[latency..latency + n].to_vec()).collect();
    let muted = sdr(&accompaniment, &estimate);
    let unmuted = sdr(&accompaniment, &mixture);
    eprintln!("accompaniment SDR: {muted:.2} dB with Vocals muted (latency {latency}), {unmuted:.2} dB for the mixture itself");
    assert!(muted >= 10.0, "the remix with Vocals muted is {muted:.2} dB SDR from the accompaniment, under 10 dB");
    assert!(
        muted > unmuted + 3.0,
        "muting Vocals barely changed the remix: {muted:.2} dB vs the mixture's {unmuted:.2}"
    );
    // The mute also silences the Vocals bus itself, from the end of its 10 ms ramp on.
    let bus = &out.buses[1];
    let rest = peak(&[&bus[0][441..], &bus[1][441..]]);
    assert!(rest == 0.0 || db(rest) <= -120.0, "the Vocals bus plays while muted: peak {:.1} dBFS", db(rest));
}
