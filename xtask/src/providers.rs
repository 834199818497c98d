//! Execution providers for development, CI and the GPU machine.
//!
//! - `setup --gpu NAME`: installs a provider for this user through `sift providers install`, the
//!   installer users have (one way to install it).
//! - [`ensure_for_tests`]: what the provider tests need, cached under `target/`: the WebGPU and
//!   OpenVINO provider libraries (`target/providers/`, where a development build of `sift`
//!   finds them) and Mesa's software Vulkan driver (lavapipe) from Debian bookworm-backports
//!   (`target/lavapipe/`). Bookworm's own Mesa 22.3 lavapipe lacks a feature Dawn requires
//!   ("Vulkan shaderUniform*ArrayDynamicIndexing required": no adapter); Mesa 25.0.7 from
//!   backports works. It is unpacked privately, with a private apt state, so the system's
//!   OpenGL Mesa (which the editor's pixel tests render with) is left as it is.
//! - `gpu-check`: one script for the GPU machine (see [`gpu_check`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::paths::Paths;
use crate::{process, product, python};

/// The environment variable through which `cargo xtask test` tells the provider tests why their
/// providers could not be fetched (PyPI or the Debian archive unreachable): they then skip,
/// printing it. Unset, a missing provider fails them.
pub const UNAVAILABLE_ENV: &str = "SIFT_TEST_PROVIDERS_UNAVAILABLE";

/// `setup --gpu NAME`.
pub fn install_for_user(paths: &Paths, name: &str) -> Result<()> {
    println!("==> execution provider {name} (into the user's providers folder, outside any bundle)");
    let sift = product::build_sift(paths)?;
    process::run(
        process::command(paths, sift)
            .args(["providers", "install", name])
            .env("SIFT_PYTHON", python::venv_python(paths)),
        "the provider could not be installed: see the message above",
    )
}

/// Where the test copies of the providers go.
pub fn test_provider_dir(paths: &Paths) -> PathBuf {
    paths.root.join("target/providers")
}

/// Where lavapipe is unpacked; its ICD file is `lvp_icd.json` in it.
pub fn lavapipe_dir(paths: &Paths) -> PathBuf {
    paths.root.join("target/lavapipe")
}

/// Fetches what the provider tests need unless it is there. Returns the reason they cannot run
/// (for [`UNAVAILABLE_ENV`]) when a registry cannot be reached; other failures are errors.
pub fn ensure_for_tests(paths: &Paths) -> Result<Option<String>> {
    let sift = product::build_sift(paths)?;
    let dir = test_provider_dir(paths);
    for name in ["webgpu", "openvino"] {
        let package = sift_package_library(name);
        if dir.join(name).join(package).is_file() {
            println!("    {name} provider: cached in {}", dir.display());
            continue;
        }
        let output = process::command(paths, &sift)
            .args(["providers", "install", name, "--dir"])
            .arg(&dir)
            .env("SIFT_PYTHON", python::venv_python(paths))
            .output()
            .context("running sift providers install")?;
        if !output.status.success() {
            let text = String::from_utf8_lossy(&output.stderr).into_owned();
            if text.contains("PyPI is reachable") {
                return Ok(Some(format!("the {name} provider could not be fetched from PyPI: {}", text.trim())));
            }
            bail!("sift providers install {name} failed: {}", text.trim());
        }
    }
    if let Err(e) = ensure_lavapipe(paths) {
        return Ok(Some(format!("lavapipe (Mesa 25 from bookworm-backports) could not be fetched: {e:#}")));
    }
    Ok(None)
}

/// The library file a package installs (as `sift_inference::providers` names it on Linux).
fn sift_package_library(name: &str) -> &'static str {
    match name {
        "webgpu" => "libonnxruntime_providers_webgpu.so",
        "openvino" => "libonnxruntime_providers_openvino_plugin.so",
        _ => "libonnxruntime_providers_cuda.so",
    }
}

/// Mesa's lavapipe (software Vulkan) from bookworm-backports, unpacked into `target/lavapipe`
/// with a private apt state (no root needed, nothing installed system-wide).
pub fn ensure_lavapipe(paths: &Paths) -> Result<()> {
    let dir = lavapipe_dir(paths);
    let icd = dir.join("lvp_icd.json");
    if icd.is_file() {
        println!("    lavapipe: cached in {}", dir.display());
        return Ok(());
    }
    let apt = dir.join("apt");
    for sub in ["lists/partial", "cache/archives/partial", "debs"] {
        std::fs::create_dir_all(apt.join(sub))?;
    }
    let sources = apt.join("sources.list");
    std::fs::write(&sources, "deb http://deb.debian.org/debian bookworm-backports main\n")?;
    let options = |cmd: &mut Command| {
        cmd.arg("-o")
            .arg(format!("Dir::Etc::SourceList={}", sources.display()))
            .args(["-o", "Dir::Etc::SourceParts=/nonexistent"])
            .arg("-o")
            .arg(format!("Dir::State::Lists={}", apt.join("lists").display()))
            .arg("-o")
            .arg(format!("Dir::Cache={}", apt.join("cache").display()))
            .args(["-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root", "-qq"]);
    };
    let mut update = Command::new("apt-get");
    options(&mut update);
    update.arg("update");
    process::run(&mut update, "apt-get update for bookworm-backports failed (is deb.debian.org reachable?)")?;
    let mut download = Command::new("apt-get");
    options(&mut download);
    download
        .current_dir(apt.join("debs"))
        .args(["download", "mesa-vulkan-drivers/bookworm-backports", "libdrm2/bookworm-backports"])
        .arg("libdrm-amdgpu1/bookworm-backports");
    process::run(&mut download, "apt-get download of Mesa 25 from bookworm-backports failed")?;
    let root = dir.join("root");
    for deb in std::fs::read_dir(apt.join("debs"))? {
        let deb = deb?.path();
        process::run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root), "dpkg-deb could not unpack a package")?;
    }
    let library = root.join("usr/lib/x86_64-linux-gnu/libvulkan_lvp.so");
    if !library.is_file() {
        bail!("the Mesa package held no {}", library.display());
    }
    std::fs::write(
        &icd,
        format!(
            "{{\"ICD\": {{\"api_version\": \"1.4.305\", \"library_path\": \"{}\"}}, \"file_format_version\": \"1.0.1\"}}\n",
            library.display()
        ),
    )?;
    println!("    lavapipe: Mesa 25 unpacked into {}", dir.display());
    Ok(())
}

/// The environment that makes the WebGPU provider use lavapipe: its ICD, its libdrm beside it,
/// and ONNX Runtime's switch that lets the WebGPU provider offer a software adapter.
pub fn lavapipe_env(paths: &Paths) -> Vec<(&'static str, String)> {
    let dir = lavapipe_dir(paths);
    vec![
        ("VK_ICD_FILENAMES", dir.join("lvp_icd.json").display().to_string()),
        ("LD_LIBRARY_PATH", dir.join("root/usr/lib/x86_64-linux-gnu").display().to_string()),
        ("ORT_WEBGPU_EP_ALLOW_SOFTWARE_ADAPTER", "1".to_owned()),
    ]
}

/// `cargo xtask gpu-check [--prepare] [--lavapipe]`.
///
/// The GPU machine gets 64 MiB of ignored files, 10 minutes, and no network, so everything is
/// prepared here: `--prepare` packs into `target/gpu-check/` a stripped release `sift`, the
/// runtime, the WebGPU provider, the default model with its weights stored as float16
/// (`model/weights_to_fp16.py`: 78.6 -> 39 MB; the arithmetic stays float32, and on the CPU it
/// scores the same SDR to 0.01 dB) and the eval clip, xz-compressed (about 52 MiB), with
/// `run.sh`. Carry `target/gpu-check` there and run `bash target/gpu-check/run.sh`: it separates
/// the clip on the CPU and on WebGPU in `live` and `studio`, scores both, and writes the
/// reports and the machine's `nvidia-smi` and `vulkaninfo` summaries to `$OUT`. Without
/// `--prepare` it prepares if needed and runs the script here (`--lavapipe`: on lavapipe).
pub fn gpu_check(paths: &Paths, prepare: bool, lavapipe: bool) -> Result<()> {
    let dir = paths.root.join("target/gpu-check");
    if prepare || !dir.join("run.sh").is_file() {
        prepare_gpu_check(paths, &dir)?;
    }
    if prepare {
        return Ok(());
    }
    let mut run = Command::new("bash");
    run.arg(dir.join("run.sh")).current_dir(&paths.root);
    if lavapipe {
        ensure_lavapipe(paths)?;
        for (key, value) in lavapipe_env(paths) {
            run.env(key, value);
        }
    }
    process::run(&mut run, "gpu-check failed: see its output above")
}

fn prepare_gpu_check(paths: &Paths, dir: &Path) -> Result<()> {
    let sift = product::build_sift(paths)?;
    let webgpu = test_provider_dir(paths).join("webgpu").join(sift_package_library("webgpu"));
    if !webgpu.is_file() {
        process::run(
            process::command(paths, &sift)
                .args(["providers", "install", "webgpu", "--dir"])
                .arg(test_provider_dir(paths))
                .env("SIFT_PYTHON", python::venv_python(paths)),
            "could not fetch the WebGPU provider",
        )?;
    }
    let _ = std::fs::remove_dir_all(dir);
    let staged = dir.join("pack");
    std::fs::create_dir_all(staged.join("providers/webgpu"))?;
    std::fs::create_dir_all(staged.join("models"))?;
    std::fs::create_dir_all(staged.join("clip"))?;
    process::run(Command::new("strip").arg("-o").arg(staged.join("sift")).arg(&sift), "strip failed")?;
    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display())).map(drop)
    };
    copy(&paths.ort_library(), &staged.join(crate::paths::ort_library_name()))?;
    copy(&webgpu, &staged.join("providers/webgpu").join(sift_package_library("webgpu")))?;
    process::run(
        Command::new(python::venv_python(paths))
            .arg(paths.root.join("model/weights_to_fp16.py"))
            .arg(paths.default_model())
            .arg(staged.join("models/spleeter-2stems.onnx")),
        "could not store the model's weights as float16",
    )?;
    let clip = paths.eval_data().join("musdb18-preview-80s-rock");
    for stem in ["mixture", "vocals", "drums", "bass", "other"] {
        copy(&clip.join(format!("{stem}.wav")), &staged.join(format!("clip/{stem}.wav")))?;
    }
    println!("==> packing target/gpu-check/pack.tar.xz (xz -6; a minute)");
    process::run(
        Command::new("tar").arg("-C").arg(&staged).args(["-cJf"]).arg(dir.join("pack.tar.xz")).arg("."),
        "tar failed",
    )?;
    std::fs::remove_dir_all(&staged)?;
    std::fs::write(dir.join("run.sh"), GPU_CHECK_SCRIPT)?;
    let size = std::fs::metadata(dir.join("pack.tar.xz"))?.len();
    println!(
        "==> gpu-check prepared in {} ({:.1} MiB); carry `target/gpu-check`",
        dir.display(),
        size as f64 / 1048576.0
    );
    if size > 60 << 20 {
        bail!("the gpu-check pack is {:.1} MiB, over what the GPU machine takes", size as f64 / 1048576.0);
    }
    Ok(())
}

/// The script the GPU machine runs: only `target/gpu-check/`, no network, well under 10 minutes
/// (WebGPU on lavapipe, the slowest case, takes about 2 min per run on a 2-core CPU; the GPU
/// run is bounded by `timeout`).
const GPU_CHECK_SCRIPT: &str = r#"#!/usr/bin/env bash
# cargo xtask gpu-check: Sift on a GPU through the WebGPU provider (Vulkan), against the CPU.
# Prepared by `cargo xtask gpu-check --prepare`; needs only target/gpu-check/.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-$here/out}"
work="$(mktemp -d)"
mkdir -p "$out"
tar -C "$work" -xJf "$here/pack.tar.xz"
export SIFT_ORT_DYLIB="$work/libonnxruntime.so.1.31.1"
export SIFT_PROVIDER_DIR="$work/providers"
export SIFT_MODEL_DIR="$work/models"
sift="$work/sift"
{
  date -u
  uname -a
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
  (vulkaninfo --summary 2>&1 || echo "no vulkaninfo") | grep -E "deviceName|driverName|driverInfo|apiVersion" | head -20
  nproc; grep -m1 "model name" /proc/cpuinfo
} > "$out/machine.txt" 2>&1
cat "$out/machine.txt"
"$sift" providers > "$out/providers.txt" 2>&1; cat "$out/providers.txt"
status=0
for mode in live studio; do
  for device in cpu webgpu; do
    echo "==> separate --device $device --mode $mode"
    if timeout 240 "$sift" separate "$work/clip/mixture.wav" -o "$out/$device-$mode" --device "$device" --mode "$mode" \
        --force > "$out/$device-$mode.json" 2> "$out/$device-$mode.stderr"; then
      tail -1 "$out/$device-$mode.json"
      "$sift" eval --reference "$work/clip" "$out/$device-$mode" > "$out/$device-$mode.eval.json" 2>/dev/null
      tail -1 "$out/$device-$mode.eval.json"
      grep -q '"provider":"CPU"' "$out/$device-$mode.json" && [ "$device" = webgpu ] && { echo "WebGPU FELL BACK"; status=1; }
    else
      echo "FAILED (see $out/$device-$mode.stderr)"; tail -5 "$out/$device-$mode.stderr"; status=1
    fi
    rm -f "$out/$device-$mode"/*.wav
  done
done
echo "==> --realtime --mode live on webgpu (deadline misses on a GPU)"
timeout 60 "$sift" separate "$work/clip/mixture.wav" -o "$out/webgpu-live-rt" --device webgpu --mode live --realtime \
  --force > "$out/webgpu-live-rt.json" 2> "$out/webgpu-live-rt.stderr" && tail -1 "$out/webgpu-live-rt.json" || status=1
rm -f "$out/webgpu-live-rt"/*.wav
rm -rf "$work"
exit $status
"#;
