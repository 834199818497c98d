//! Without its ONNX Runtime library Sift still loads and passes the dry signal through with the
//! latency the host was told. Its own test binary: the runtime is loaded once per process, so
//! the missing library must be the first and only one this process sees.

use sift_clap_host::*;

#[test]
fn a_missing_runtime_gives_a_latency_compensated_dry_pass_through() {
    // Set before anything in this process loads the plugin (and so the runtime).
    std::env::set_var("SIFT_ORT_DYLIB", "/nonexistent/libonnxruntime.so.1.31.1");
    let mut plugin = TestPlugin::sift();
    plugin.activate_offline(44_100.0, 512).expect("activation without the runtime should succeed (pass-through)");
    let latency = plugin.latency() as usize;
    assert_eq!(latency, 27_647, "the pass-through must keep the default model's latency");
    let input: Vec<Vec<f32>> = eval_mixture().into_iter().map(|c| c[..44_100 * 2].to_vec()).collect();
    let out = plugin.render(&pad(&input, latency), |_| 512, &[]).unwrap();
    finite(&out).unwrap();
    let (d, at) = peak_diff_delayed(out.main(), &input, latency, 0..input[0].len() + latency);
    assert!(db(d) <= -60.0, "without the runtime the main output is not the delayed input: {:.1} dBFS at {at}", db(d));
    let vocals = out.ports[1].iter().flatten().fold(0.0f32, |m, x| m.max(x.abs()));
    assert_eq!(vocals, 0.0, "nothing can be separated without the runtime");
}
