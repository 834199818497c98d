//! The Windows build of `sift` (`target/bundled/windows/sift.exe`, from `cargo xtask bundle
//! --target windows`) under Wine, against this Linux build on the same real clip: the same
//! guarantees, and the same stems.
//!
//! `cargo xtask test` builds the Windows download and the Wine prefix first.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{json_of, scratch, separate, text};
use sift_cli::audio_file;
use sift_test_support as support;

/// `EXE separate INPUT -o OUT` under Wine, the paths as Windows names them; callers add options.
fn windows_separate(exe: &Path, input: &Path, out: &Path) -> Command {
    let mut cmd = support::wine(exe);
    cmd.arg("separate").arg(support::wine_path(input)).arg("-o").arg(support::wine_path(out));
    cmd
}

/// `sift.exe separate INPUT -o OUT EXTRA...` under Wine, from the Windows download's folder (so
/// it finds `onnxruntime.dll` and `models\` beside it, as a user's unpacked copy does).
fn separate_on_windows(input: &Path, out: &Path, extra: &[&str]) -> Output {
    windows_separate(&support::windows_bundle().join("sift.exe"), input, out).args(extra).output().unwrap()
}

fn read_stems(dir: &Path, stems: &[&str]) -> Vec<Vec<Vec<f32>>> {
    stems.iter().map(|stem| audio_file::read(&dir.join(format!("{stem}.wav"))).unwrap().channels).collect()
}

#[test]
fn both_shipped_models_separate_on_windows_as_on_linux() {
    let clip = support::rock_clip();
    let mixture = clip.join("mixture.wav");
    let input = audio_file::read(&mixture).unwrap();
    for (model, mode, stems, model_bytes) in [
        ("spleeter-2stems", "balanced", &["vocals", "accompaniment"][..], 78_000_000.0),
        ("sift-4stem", "live", &["vocals", "drums", "bass", "other"][..], 3_000_000.0),
    ] {
        let args = ["--model", model, "--mode", mode, "--block", "256"];
        let linux_out = scratch(&format!("{model}-linux"));
        let windows_out = scratch(&format!("{model}-windows"));
        let linux = json_of(&separate(&mixture, &linux_out, &args));
        let windows = json_of(&separate_on_windows(&mixture, &windows_out, &args));
        for key in ["model", "stems", "mode", "latency_samples", "provider", "sample_rate", "channels"] {
            assert_eq!(windows[key], linux[key], "{model}: {key} differs\nWindows: {windows}\nLinux: {linux}");
        }

        let windows_stems = read_stems(&windows_out, stems);
        let null = support::peak_difference_db(&support::sum_stems(&windows_stems), &input.channels);
        assert!(null <= -80.0, "{model} on Windows: the stems differ from the mixture by {null:.1} dBFS");

        // Scored as `sift eval` scores them (Spleeter's accompaniment against the sum of the other
        // reference stems).
        let on_linux = sift_cli::evaluation::evaluate_dir(&clip, &linux_out).unwrap();
        let on_windows = sift_cli::evaluation::evaluate_dir(&clip, &windows_out).unwrap();
        assert_eq!(on_windows.len(), stems.len(), "{model}: scored {on_windows:?}");
        for stem in stems {
            let sdr = |scores: &[sift_cli::evaluation::StemScore]| {
                scores.iter().find(|s| s.stem == *stem).map(|s| s.sdr).unwrap()
            };
            let (l, w) = (sdr(&on_linux), sdr(&on_windows));
            eprintln!("{model} {stem}: SDR {w:.3} dB on Windows, {l:.3} dB on Linux");
            assert!((w - l).abs() <= 0.05, "{model} {stem}: SDR {w:.3} dB on Windows, {l:.3} dB on Linux");
        }

        // The report's memory figure is the process's own: it holds at least the model's weights.
        let peak = windows["peak_rss_mib"].as_f64().unwrap_or_else(|| panic!("no peak_rss_mib in {windows}"));
        let model_mib = model_bytes / f64::from(1 << 20);
        assert!(
            peak >= model_mib,
            "{model}: Windows reports a peak of {peak:.1} MiB, under the model's {model_mib:.0} MiB"
        );
    }
}

#[test]
fn file_names_beyond_ascii_work_on_windows() {
    let dir = scratch("unicode");
    let input = dir.join("Mélodie – 東京 (live).wav");
    std::fs::copy(support::rock_clip().join("mixture.wav"), &input).unwrap();
    let out = dir.join("stems ü");
    let output = separate_on_windows(&input, &out, &["--model", "sift-4stem", "--mode", "live"]);
    let report = json_of(&output);
    assert!(report["input"].as_str().unwrap().ends_with("Mélodie – 東京 (live).wav"), "{report}");
    for stem in ["vocals", "drums", "bass", "other"] {
        assert!(out.join(format!("{stem}.wav")).is_file(), "no {stem}.wav in {}:\n{}", out.display(), text(&output));
    }
}

#[test]
fn a_windows_copy_without_its_runtime_says_what_is_missing() {
    let dir = scratch("no-runtime");
    std::fs::copy(support::windows_bundle().join("sift.exe"), dir.join("sift.exe")).unwrap();
    let out = dir.join("stems");
    let output = windows_separate(&dir.join("sift.exe"), &support::rock_clip().join("mixture.wav"), &out)
        .arg("--model")
        .arg(support::wine_path(&common::own_model()))
        .output()
        .unwrap();
    assert!(!output.status.success(), "ran without onnxruntime.dll:\n{}", text(&output));
    let said = text(&output);
    assert!(said.contains("onnxruntime.dll"), "the error does not name the missing library:\n{said}");
    assert!(!out.join("vocals.wav").exists(), "a stem was written without a runtime");
}

#[test]
fn gpu_devices_that_cannot_run_fall_back_to_the_cpu_on_windows_and_say_why() {
    // WebGPU: the Windows provider (D3D12 through Dawn), installed as `sift providers install
    // webgpu` installs it; Wine gives it no D3D12 adapter, as a machine without a GPU driver.
    // DirectML: not in the runtime Sift ships (the CPU build of the `onnxruntime` wheel).
    let Some(providers) = std::env::var_os("SIFT_WINE_PROVIDERS") else {
        panic!("SIFT_WINE_PROVIDERS is not set: run the Windows tests through `cargo xtask test`");
    };
    let providers = std::path::PathBuf::from(providers);
    let clip = support::rock_clip();
    let input = audio_file::read(&clip.join("mixture.wav")).unwrap();
    let exe = support::windows_bundle().join("sift.exe");
    for (device, says) in [("webgpu", ["WebGPU", "no device"]), ("directml", ["has no", "DirectML"])] {
        let out = scratch(&format!("{device}-fallback"));
        let output = windows_separate(&exe, &clip.join("mixture.wav"), &out)
            .env("SIFT_PROVIDER_DIR", support::wine_path(&providers))
            .args(["--model", "sift-4stem", "--mode", "live", "--device", device])
            .output()
            .unwrap();
        let report = json_of(&output);
        assert_eq!(report["provider"], "CPU", "{report}");
        let reason = report["provider_fallback"].as_str().unwrap_or_else(|| panic!("no fallback reason in {report}"));
        assert!(says.iter().all(|s| reason.contains(s)), "--device {device}: the reason does not say why: {reason}");
        assert!(
            text(&output).contains(&format!("warning: --device {device}")),
            "--device {device}: no warning on the console:\n{}",
            text(&output)
        );
        let stems = read_stems(&out, &["vocals", "drums", "bass", "other"]);
        let null = support::peak_difference_db(&support::sum_stems(&stems), &input.channels);
        assert!(
            null <= -80.0,
            "--device {device}: the stems of the CPU fall-back differ from the mixture by {null:.1} dBFS"
        );
    }
}
