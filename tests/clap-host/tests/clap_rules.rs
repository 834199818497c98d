//! The CLAP specification's rules that hosts rely on, for both plugins:
//!
//! - a latency change while active goes through `request_restart()` and the next `activate()`
//!   (`clap_host_latency.changed()` is `[main-thread & being-activated]`); the host restarts
//!   the plugin between blocks, reads the new latency, and it is the true delay;
//! - `activate()` succeeds at any sample rate from 1 kHz to 768 kHz, fractional ones included,
//!   and the output is finite, free of subnormals, and the input delayed by exactly the
//!   reported latency in the remix.
//!
//! Every `TestPlugin` also fails its test if the plugin broke a thread or lifecycle rule
//! (`sift_clap_host::rules`); these tests say so at the point where it matters.

use sift_clap_host::*;

const RATE: f64 = 44_100.0;
/// The README's latencies at 44.1 kHz with the default models at 512-sample blocks: Live runs
/// Sift's own streaming model (1023 + 512 samples); Balanced runs the composed four-stem model on
/// Spleeter's schedule, as designed and with the run budget doubled on a machine too slow for it
/// (README, "Modes keep up on slow machines"). So a Mode change from Balanced to Live also
/// changes the model.
const LIVE_LATENCIES: [u32; 1] = [1535];
const BALANCED_LATENCIES: [u32; 2] = [27_647, 44_031];

/// The latency a fresh instance of `id` reports in Live at 44.1 kHz: what a Mode change to
/// Live must lead to on this machine.
fn live_latency(id: &str) -> u32 {
    let mut probe = remix_plugin(id).unwrap();
    let mode = probe.param("Mode");
    let live = probe.text_to_value(mode.id, "Live").expect("Mode value for Live");
    probe.set_params(&[(mode.id, live)]);
    probe.activate_offline(RATE, 512).unwrap();
    let latency = probe.latency();
    assert!(
        LIVE_LATENCIES.contains(&latency),
        "{id}: Live's latency at 44.1 kHz is {latency}, not one of {LIVE_LATENCIES:?}"
    );
    latency
}

/// A fresh instance of `id` whose main output is the remix (Sift Single's `Stem` = Remix).
fn remix_plugin(id: &str) -> Result<TestPlugin, String> {
    let mut plugin = TestPlugin::new(id)?;
    if id == SIFT_SINGLE_ID {
        let stem = plugin.param("Stem");
        let remix = plugin.text_to_value(stem.id, "Remix").ok_or("Sift Single's Stem has no value for \"Remix\"")?;
        plugin.set_params(&[(stem.id, remix)]);
    }
    Ok(plugin)
}

/// Deterministic noise at about −20 dBFS on two channels with a full-scale impulse at `impulse`
/// (so the delay can be seen by eye as well as in the null test).
fn test_signal(len: usize, impulse: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    let mut channels: Vec<Vec<f32>> = (0..2)
        .map(|_| (0..len).map(|_| ((rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2).collect())
        .collect();
    for c in &mut channels {
        if impulse < len {
            c[impulse] = 0.9;
        }
    }
    channels
}

/// Where the loudest sample of channel 0 is.
fn loudest(channel: &[f32]) -> usize {
    channel
        .iter()
        .enumerate()
        .fold((0, 0.0f32), |(at, max), (i, &s)| if s.abs() > max { (i, s.abs()) } else { (at, max) })
        .0
}

/// The first subnormal sample in any port, named.
fn subnormals(out: &Rendered) -> Result<(), String> {
    for (p, port) in out.ports.iter().enumerate() {
        for (c, ch) in port.iter().enumerate() {
            let count = ch.iter().filter(|s| s.is_subnormal()).count();
            if let Some(i) = ch.iter().position(|s| s.is_subnormal()) {
                return Err(format!(
                    "port {p} channel {c} sample {i} is subnormal ({:e}); {count} subnormal samples on that channel",
                    ch[i]
                ));
            }
        }
    }
    Ok(())
}

/// The main output is `input` delayed by exactly `latency` samples, and by no other delay.
fn delayed_exactly(out: &Rendered, input: &[Vec<f32>], latency: usize, impulse: usize) -> Result<(), String> {
    let total = out.main()[0].len();
    let (d, at) = peak_diff_delayed(out.main(), input, latency, 0..total);
    if db(d) > -60.0 {
        return Err(format!(
            "the main output is not the input delayed by the reported latency {latency}: difference {:.1} dBFS at sample {at} \
             (the impulse at {impulse} comes out at {}, a delay of {})",
            db(d),
            loudest(&out.main()[0]),
            loudest(&out.main()[0]) as i64 - impulse as i64
        ));
    }
    for wrong in [latency.saturating_sub(1), latency + 1] {
        let (d, _) = peak_diff_delayed(out.main(), input, wrong, 0..total);
        if db(d) <= -60.0 {
            return Err(format!(
                "the main output also matches a delay of {wrong}: the signal does not tell delays apart"
            ));
        }
    }
    Ok(())
}

/// Changing Mode while the plugin processes: the plugin asks for a restart (it may not call
/// `latency.changed()` from `process()` or anywhere but inside `activate()`, nor report another
/// latency before it is re-activated), the host restarts it between blocks and reads the new
/// latency, and an impulse comes out exactly that late. Every failed check is reported.
fn mode_change_while_active(id: &str) {
    let mut plugin = remix_plugin(id).unwrap();
    let mode = plugin.param("Mode");
    let live = plugin.text_to_value(mode.id, "Live").expect("Mode value for Live");
    plugin.activate_offline(RATE, 512).unwrap();
    let balanced = plugin.host_latency();
    assert!(
        balanced.is_some_and(|l| BALANCED_LATENCIES.contains(&l)),
        "{id}: latency in the default mode (Balanced) at 44.1 kHz is {balanced:?}, not one of {BALANCED_LATENCIES:?}"
    );
    let live_latency = live_latency(id);
    let silence = vec![vec![0.0f32; 2048]; 2];
    plugin.render(&silence, |_| 512, &[]).unwrap();
    plugin.assert_no_violations();
    let (requests, restarts, changed) =
        (plugin.restart_requests(), plugin.restarts().len(), plugin.latency_changed_calls());

    // Automate the mode from the audio thread, inside a block, as a host does.
    plugin.render(&silence, |_| 512, &[ParamChange { time: 100, id: mode.id, value: live }]).unwrap();
    assert_eq!(plugin.get_param(mode.id), live, "{id}: Mode did not take the automated value");
    let mut failures = Vec::new();
    let violations = plugin.take_violations();
    if !violations.is_empty() {
        failures.push(format!("a Mode change while active broke the CLAP rules:\n{}", rules::list(&violations)));
    }
    if plugin.restart_requests() == requests {
        failures.push("a Mode change while active must call request_restart() (the latency changes)".to_owned());
    }
    eprintln!(
        "{id}: restarts {:?}; latency.changed() calls {changed} -> {}",
        plugin.restarts(),
        plugin.latency_changed_calls()
    );
    match plugin.restarts().get(restarts) {
        None => failures.push("the host did not restart the plugin".to_owned()),
        Some(restart) if restart.latency != Some(live_latency) => failures.push(format!(
            "after the restart the plugin reports a latency of {:?}, not Live's {live_latency} at 44.1 kHz",
            restart.latency
        )),
        Some(_) => {
            if plugin.latency_changed_calls() == changed {
                failures.push(
                    "the new latency was not announced with latency.changed() from the restart's activate()".to_owned(),
                );
            }
            // The new latency is the true delay.
            let latency = live_latency as usize;
            let impulse = 1000;
            let input = test_signal(44_100, impulse, 7);
            let out = plugin.render(&pad(&input, latency), |_| 512, &[]).unwrap();
            let checks = finite(&out).and_then(|()| delayed_exactly(&out, &input, latency, impulse));
            if let Err(e) = checks {
                failures.push(format!("after the restart: {e}"));
            } else if loudest(&out.main()[0]) != impulse + latency {
                failures.push(format!(
                    "the impulse comes out at {}, not exactly {latency} samples late",
                    loudest(&out.main()[0])
                ));
            }
            let violations = plugin.take_violations();
            if !violations.is_empty() {
                failures.push(format!("after the restart, CLAP rules broken:\n{}", rules::list(&violations)));
            }
        }
    }
    assert!(failures.is_empty(), "{id}, Mode Balanced -> Live while active at 44.1 kHz:\n- {}", failures.join("\n- "));
}

#[test]
fn sift_mode_change_while_active_restarts_with_the_new_latency() {
    mode_change_while_active(SIFT_ID);
}

#[test]
fn sift_single_mode_change_while_active_restarts_with_the_new_latency() {
    mode_change_while_active(SIFT_SINGLE_ID);
}

/// Sample rates a host or validator may use, fractional and far outside 22.05–192 kHz included.
const RATES: [f64; 14] = [
    1000.0, 8000.0, 11_025.0, 22_050.0, 44_100.0, 48_000.0, 88_200.5, 96_000.0, 176_400.0, 192_000.0, 352_800.0,
    384_000.0, 705_600.0, 768_000.0,
];

/// Activates `id` at `rate` and runs one second of noise with an impulse through it: finite,
/// no subnormals on any port, the remix equal to the input delayed by the reported latency, the
/// stem buses summing to it, and no rule broken. Returns a summary line.
fn check_rate(id: &str, rate: f64) -> Result<String, String> {
    let mut plugin = remix_plugin(id)?;
    let result = render_at(&mut plugin, rate);
    // Reported here rather than when the instance is dropped, so that every rate is tried.
    let violations = plugin.take_violations();
    match (result, violations.is_empty()) {
        (Ok(summary), true) => Ok(summary),
        (Ok(_), false) => Err(format!("CLAP rules broken:\n{}", rules::list(&violations))),
        (Err(e), true) => Err(e),
        (Err(e), false) => Err(format!("{e}; and CLAP rules broken:\n{}", rules::list(&violations))),
    }
}

fn render_at(plugin: &mut TestPlugin, rate: f64) -> Result<String, String> {
    plugin.activate_offline(rate, 512)?;
    let latency = plugin.latency() as usize;
    // Balanced is 627 ms at 44.1 kHz; a delay of seconds is no use on a track.
    if latency as f64 > 2.0 * rate {
        return Err(format!(
            "latency {latency} samples ({:.0} ms) is over 2 s in the default mode (Balanced, 627 ms at 44.1 kHz)",
            latency as f64 * 1000.0 / rate
        ));
    }
    let len = (rate as usize).max(4096);
    let impulse = len / 4;
    let input = test_signal(len, impulse, rate as u64);
    let restarts = plugin.restarts().len();
    let out = plugin.render(&pad(&input, latency), |_| 512, &[])?;
    finite(&out)?;
    subnormals(&out)?;
    delayed_exactly(&out, &input, latency, impulse).map_err(|e| match plugin.restarts().len() - restarts {
        0 => e,
        n => format!("{e}; the host restarted the plugin {n} time(s) on its request during the render"),
    })?;
    if out.ports.len() > 1 {
        let total = out.main()[0].len();
        let mut worst = (0.0f32, 0usize);
        for ch in 0..2 {
            for i in 0..total {
                let sum: f32 = out.ports[1..].iter().map(|p| p[ch][i]).sum();
                let d = (sum - out.main()[ch][i]).abs();
                if d > worst.0 || d.is_nan() {
                    worst = (d, i);
                }
            }
        }
        if db(worst.0) > -60.0 {
            return Err(format!(
                "the stem buses do not sum to the main output: {:.1} dBFS at {}",
                db(worst.0),
                worst.1
            ));
        }
    }
    let separated = out.ports.get(1).map(|vocals| db(rms(vocals, latency..latency + len)));
    Ok(format!(
        "latency {latency} ({:.1} ms), vocals bus {}, restarts {:?}",
        latency as f64 * 1000.0 / rate,
        separated.map_or("-".to_owned(), |v| format!("{v:.1} dB")),
        plugin.restarts()
    ))
}

fn any_rate(id: &str) {
    let mut failures = Vec::new();
    for rate in RATES {
        match check_rate(id, rate) {
            Ok(summary) => eprintln!("{id} at {rate} Hz: {summary}"),
            Err(e) => {
                eprintln!("{id} at {rate} Hz: FAILED: {e}");
                failures.push(format!("{rate} Hz: {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{id} fails at {} of {} sample rates:\n{}",
        failures.len(),
        RATES.len(),
        failures.join("\n")
    );
}

#[test]
fn sift_activates_at_any_rate_from_1_to_768_khz() {
    any_rate(SIFT_ID);
}

#[test]
fn sift_single_activates_at_any_rate_from_1_to_768_khz() {
    any_rate(SIFT_SINGLE_ID);
}
