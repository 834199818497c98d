//! Execution providers end to end: `sift separate --device`, with real provider libraries
//! (fetched into `target/providers/` by `cargo xtask test`), Mesa's software Vulkan driver for
//! WebGPU (`target/lavapipe/`), and the fall-backs: nothing installed, a broken library.

mod common;

use common::{json_of, scratch, sift, text};
use sift_test_support as support;

use std::path::{Path, PathBuf};
use std::process::Command;

use sift_cli::audio_file::{self, Audio};

/// `sift separate IN -o OUT ARGS` with only `providers` as the providers folder.
fn separate_with(providers: &Path, input: &Path, out: &Path, args: &[&str]) -> Command {
    let mut cmd = sift();
    cmd.env("SIFT_PROVIDER_DIR", providers).arg("separate").arg(input).arg("-o").arg(out).arg("--force").args(args);
    cmd
}

/// A short stereo test signal and the tiny test model (fast on any provider).
fn tiny_case(dir: &Path) -> (PathBuf, PathBuf, Audio) {
    let audio = Audio { sample_rate: 44_100, channels: support::test_signal(44_100, 7) };
    let input = dir.join("in.wav");
    audio_file::write_wav(&input, &audio).unwrap();
    (input, support::test_models().join("tiny-valid.onnx"), audio)
}

/// Reads back the stems a run wrote and checks they sum to the input (the null test).
fn assert_stems_null(out: &Path, stems: &[&str], input: &[Vec<f32>], what: &str) {
    let read: Vec<Vec<Vec<f32>>> =
        stems.iter().map(|s| audio_file::read(&out.join(format!("{s}.wav"))).unwrap().channels).collect();
    let null = support::peak_difference_db(&support::sum_stems(&read), input);
    assert!(null <= -80.0, "{what}: the stems differ from the input by {null:.1} dBFS");
}

#[test]
fn auto_with_nothing_installed_runs_on_the_cpu_without_complaint() {
    let dir = scratch("auto-nothing");
    let empty = dir.join("providers");
    std::fs::create_dir_all(&empty).unwrap();
    let (input, model, audio) = tiny_case(&dir);
    let out = dir.join("out");
    let output = separate_with(&empty, &input, &out, &["--model", model.to_str().unwrap()]).output().unwrap();
    let report = json_of(&output);
    assert_eq!(report["device"], "auto");
    assert_eq!(report["provider"], "CPU");
    assert!(report["provider_fallback"].is_null(), "nothing installed is no failure under auto: {report}");
    assert!(!text(&output).contains("warning: --device"), "{}", text(&output));
    assert_stems_null(&out, &["vocals", "accompaniment"], &audio.channels, "auto");
}

#[test]
fn a_device_that_is_not_installed_or_not_of_this_platform_falls_back_and_says_why() {
    let dir = scratch("not-installed");
    let empty = dir.join("providers");
    std::fs::create_dir_all(&empty).unwrap();
    let (input, model, audio) = tiny_case(&dir);
    for (device, expected) in [
        ("webgpu", "install it with `sift providers install webgpu`"),
        ("gpu", "no GPU provider is installed"),
        ("directml", "DirectML runs on Windows only"),
    ] {
        let out = dir.join(device);
        let output = separate_with(&empty, &input, &out, &["--model", model.to_str().unwrap(), "--device", device])
            .output()
            .unwrap();
        let report = json_of(&output);
        assert_eq!(report["provider"], "CPU", "{device}");
        assert_eq!(report["device"], device);
        let reason = report["provider_fallback"].as_str().unwrap_or_else(|| panic!("{device}: no reason in {report}"));
        assert!(reason.contains(expected), "{device}: {reason}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("sift: warning: --device {device}: ")) && stderr.contains(expected),
            "{stderr}"
        );
        assert_stems_null(&out, &["vocals", "accompaniment"], &audio.channels, device);
    }
}

#[test]
fn a_broken_provider_library_falls_back_with_the_loaders_reason_and_audio_flows() {
    let dir = scratch("broken");
    let providers = dir.join("providers");
    std::fs::create_dir_all(providers.join("webgpu")).unwrap();
    // Long enough to have an ELF header's size, so the loader reads it and refuses it.
    std::fs::write(providers.join("webgpu/libonnxruntime_providers_webgpu.so"), "not a shared library\n".repeat(200))
        .unwrap();
    let (input, model, audio) = tiny_case(&dir);
    for device in ["webgpu", "auto"] {
        let out = dir.join(device);
        let output = separate_with(&providers, &input, &out, &["--model", model.to_str().unwrap(), "--device", device])
            .output()
            .unwrap();
        let report = json_of(&output);
        assert_eq!(report["provider"], "CPU", "{device}");
        let reason = report["provider_fallback"].as_str().unwrap_or_else(|| panic!("{device}: no reason in {report}"));
        // The loader's own words (an invalid ELF header) and what to do.
        assert!(reason.contains("could not be loaded") && reason.contains("invalid ELF header"), "{reason}");
        assert!(reason.contains("sift providers install webgpu"), "{reason}");
        assert_stems_null(&out, &["vocals", "accompaniment"], &audio.channels, device);
    }
}

/// The fetched providers folder, or `None` (after saying why) where `cargo xtask test` could not
/// fetch them because a registry was unreachable. Missing for any other reason fails.
fn fetched(name: &str) -> Option<PathBuf> {
    let dir = support::repo_root().join("target/providers");
    if dir.join(name).is_dir() {
        return Some(dir);
    }
    if let Ok(reason) = std::env::var("SIFT_TEST_PROVIDERS_UNAVAILABLE") {
        eprintln!("SKIPPED: the {name} provider was not fetched: {reason}");
        return None;
    }
    panic!("{} is missing: run `cargo xtask test` (it fetches the providers the tests need)", dir.join(name).display());
}

/// SDR of each stem of a separation of the eval clip, and the JSON report.
fn separate_and_score(mut cmd: Command, out: &Path) -> (serde_json::Value, [f64; 2]) {
    let report = json_of(&cmd.output().unwrap());
    let clip = support::rock_clip();
    let scored = sift().args(["eval", "--reference"]).arg(&clip).arg(out).output().unwrap();
    let scores = json_of(&scored);
    let sdr = |stem: &str| scores["sdr"][stem]["sdr"].as_f64().unwrap_or_else(|| panic!("{stem}: {scores}"));
    let mixture = audio_file::read(&clip.join("mixture.wav")).unwrap();
    assert_stems_null(out, &["vocals", "accompaniment"], &mixture.channels, "eval clip");
    (report, [sdr("vocals"), sdr("accompaniment")])
}

/// The CPU provider's separation of `input` with Spleeter in `live` into `dir/cpu`, scored:
/// what every other provider is compared with.
fn cpu_reference(providers: &Path, input: &Path, dir: &Path) -> [f64; 2] {
    let out = dir.join("cpu");
    let (report, sdr) = separate_and_score(
        separate_with(providers, input, &out, &["--model", "spleeter-2stems", "--mode", "live", "--device", "cpu"]),
        &out,
    );
    assert_eq!(report["provider"], "CPU");
    sdr
}

#[test]
fn webgpu_on_software_vulkan_separates_the_eval_clip_as_the_cpu_does() {
    let Some(providers) = fetched("webgpu") else { return };
    let lavapipe = support::repo_root().join("target/lavapipe");
    if !lavapipe.join("lvp_icd.json").is_file() {
        if let Ok(reason) = std::env::var("SIFT_TEST_PROVIDERS_UNAVAILABLE") {
            eprintln!("SKIPPED: lavapipe was not fetched: {reason}");
            return;
        }
        panic!("{} is missing: run `cargo xtask test`", lavapipe.display());
    }
    let clip = support::rock_clip();
    let dir = scratch("webgpu");
    let input = clip.join("mixture.wav");
    let gpu_out = dir.join("webgpu");
    let cpu_sdr = cpu_reference(&providers, &input, &dir);
    let mut on_webgpu = separate_with(
        &providers,
        &input,
        &gpu_out,
        &["--model", "spleeter-2stems", "--mode", "live", "--device", "webgpu"],
    );
    on_webgpu
        .env("VK_ICD_FILENAMES", lavapipe.join("lvp_icd.json"))
        .env("LD_LIBRARY_PATH", lavapipe.join("root/usr/lib/x86_64-linux-gnu"))
        .env("ORT_WEBGPU_EP_ALLOW_SOFTWARE_ADAPTER", "1");
    let (gpu, gpu_sdr) = separate_and_score(on_webgpu, &gpu_out);
    assert_eq!(gpu["provider"], "WebGPU", "WebGPU did not run: {gpu}");
    assert!(gpu["provider_fallback"].is_null());
    assert_eq!(gpu["model_failures"], 0);
    for (stem, (c, g)) in ["vocals", "accompaniment"].iter().zip(cpu_sdr.iter().zip(&gpu_sdr)) {
        assert!((c - g).abs() < 0.1, "{stem}: CPU {c:.3} dB, WebGPU {g:.3} dB");
        assert!(*g > 10.0, "{stem}: WebGPU {g:.2} dB is not a separation");
    }
    eprintln!("CPU {cpu_sdr:?} dB, WebGPU on lavapipe {gpu_sdr:?} dB; run median {} ms", gpu["run_ms_median"]);
}

/// Under Auto, a provider that is installed but finds no device here (WebGPU on a machine
/// without a GPU, as this one is without the software-adapter switch) is passed over in
/// silence, as if it were not installed: no warning on every run of a machine that has no GPU.
/// Asked for by name, the same provider says why it did not run.
#[test]
fn auto_passes_over_an_installed_provider_that_finds_no_device_in_silence() {
    let Some(providers) = fetched("webgpu") else { return };
    let dir = scratch("auto-no-device");
    let (input, model, audio) = tiny_case(&dir);
    for device in ["auto", "webgpu"] {
        let out = dir.join(device);
        let mut cmd =
            separate_with(&providers, &input, &out, &["--model", model.to_str().unwrap(), "--device", device]);
        cmd.env_remove("ORT_WEBGPU_EP_ALLOW_SOFTWARE_ADAPTER").env_remove("VK_ICD_FILENAMES");
        let output = cmd.output().unwrap();
        let report = json_of(&output);
        if report["provider"] == "WebGPU" {
            eprintln!("SKIPPED: this machine has a GPU, so WebGPU found a device");
            return;
        }
        assert_eq!(report["provider"], "CPU", "{device}: {report}");
        if device == "auto" {
            assert!(report["provider_fallback"].is_null(), "auto complained: {report}");
            assert!(!text(&output).contains("warning"), "auto warned:\n{}", text(&output));
        } else {
            let reason = report["provider_fallback"].as_str().unwrap_or_default();
            assert!(reason.contains("offers no device"), "{device}: {reason}");
        }
        assert_stems_null(&out, &["vocals", "accompaniment"], &audio.channels, device);
    }
}

/// Whether this CPU is Intel's (the OpenVINO provider offers only Intel devices).
fn intel_cpu() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| info.contains("GenuineIntel"))
}

#[test]
fn openvino_runs_on_intel_cpus_and_says_why_it_cannot_elsewhere() {
    let Some(providers) = fetched("openvino") else { return };
    let clip = support::rock_clip();
    let dir = scratch("openvino");
    let input = clip.join("mixture.wav");
    let ov_out = dir.join("openvino");
    let cpu_sdr = cpu_reference(&providers, &input, &dir);
    let (ov, ov_sdr) = separate_and_score(
        separate_with(
            &providers,
            &input,
            &ov_out,
            &["--model", "spleeter-2stems", "--mode", "live", "--device", "openvino"],
        ),
        &ov_out,
    );
    if intel_cpu() {
        assert_eq!(ov["provider"], "OpenVINO", "OpenVINO did not run on an Intel CPU: {ov}");
        for (stem, (c, o)) in ["vocals", "accompaniment"].iter().zip(cpu_sdr.iter().zip(&ov_sdr)) {
            assert!((c - o).abs() < 0.1, "{stem}: CPU {c:.3} dB, OpenVINO {o:.3} dB");
        }
    } else {
        // The library loads, but its factory offers only Intel hardware (vendor 0x8086).
        assert_eq!(ov["provider"], "CPU");
        let reason = ov["provider_fallback"].as_str().unwrap_or_default();
        assert!(reason.contains("offers no device") && reason.contains("Intel"), "{reason}");
        assert_eq!(cpu_sdr, ov_sdr, "the fall-back is the CPU provider itself");
    }
}
