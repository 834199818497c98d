//! `sift providers` and `sift providers install NAME`: the execution providers this machine can
//! use, and fetching their libraries from PyPI.
//!
//! Provider libraries are wheels on PyPI (`onnxruntime-ep-webgpu`, `onnxruntime-ep-openvino`,
//! `onnxruntime-gpu` and NVIDIA's CUDA wheels). They are fetched with pip, the registry's own
//! client, unpacked with Python's `zipfile`, and only their shared libraries are kept, in
//! `<providers folder>/<name>/`, outside any plugin bundle, where the plugin and this command
//! find them (`sift_inference::locations::provider_dirs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use sift_engine::MaskModel;
use sift_inference::providers::{self, Device, ProviderPackage, PACKAGES};
use sift_inference::{catalogue, locations, OnnxModel, SessionOptions};

/// Environment variable naming the Python used to run pip (default [`DEFAULT_PYTHON`]).
const PYTHON_ENV: &str = "SIFT_PYTHON";
/// The Python found on `PATH`: `python3` on Unix, `python` on Windows (python.org's installer
/// and the Microsoft Store's put no `python3` there).
const DEFAULT_PYTHON: &str = if cfg!(windows) { "python" } else { "python3" };

/// Lists the folders searched, each provider with whether it is installed, and what each device
/// choice runs on here with the default model (loading it once per choice that is installed).
pub fn list() -> anyhow::Result<()> {
    let dir = locations::binary_dir();
    println!("provider folders searched, in order:");
    for d in locations::provider_dirs(dir.as_deref()) {
        println!("  {}", d.display());
    }
    for (package, found) in providers::installed(dir.as_deref()) {
        let state = match found {
            Some(path) => format!("installed: {}", path.display()),
            None => format!("not installed: `sift providers install {}` ({})", package.name, package.size),
        };
        println!("{:<10} {state}", package.device.label());
    }
    let model = catalogue::resolve(None, dir.as_deref())?;
    println!("what each choice runs on here ({}):", model.display());
    for device in Device::ALL {
        let installed = device.package().is_none_or(|p| providers::find_library(p, dir.as_deref()).is_ok());
        if !installed || device.unsupported_here().is_some() {
            continue;
        }
        match OnnxModel::load(&model, &SessionOptions::default().device(device)) {
            Ok(loaded) => match loaded.provider_fallback() {
                Some(reason) => println!("{:<10} -> {} ({reason})", device.name(), loaded.provider()),
                None => println!("{:<10} -> {}", device.name(), loaded.provider()),
            },
            Err(e) => println!("{:<10} -> cannot load the model: {e}", device.name()),
        }
    }
    Ok(())
}

/// Fetches and installs the provider `name` into `dir/<name>/` (default: the user's providers
/// folder). Already-installed providers are fetched again (an upgrade or a repair).
///
/// # Errors
/// An unknown name, no providers folder, Python or pip missing or failing (no registry), or a
/// folder that cannot be written; each says what to do.
pub fn install(name: &str, dir: Option<&Path>) -> anyhow::Result<()> {
    let Some(package) = providers::package_named(name) else {
        let mut names: Vec<&str> = PACKAGES.iter().map(|p| p.name).collect();
        names.dedup();
        bail!("`{name}` is not a provider Sift can install: choose one of {}", names.join(", "));
    };
    if let Some(why) = package.device.unsupported_here() {
        bail!("{} cannot run on this platform: {why}", package.device.label());
    }
    let root = match dir {
        Some(dir) => dir.to_owned(),
        None => locations::user_provider_dir()
            .context(format!("no providers folder: set {}, or pass --dir FOLDER", locations::USER_DIR_VARIABLES))?,
    };
    let target = root.join(package.name);
    std::fs::create_dir_all(&root).with_context(|| format!("creating the providers folder {}", root.display()))?;
    println!("fetching {} from PyPI with pip ({})...", package.wheels.join(" "), package.size);
    let scratch = root.join(format!(".{}.download", package.name));
    let _ = std::fs::remove_dir_all(&scratch);
    let result = fetch(package, &scratch, &target);
    let _ = std::fs::remove_dir_all(&scratch);
    result?;
    let library = target.join(package.library);
    anyhow::ensure!(library.is_file(), "the wheel held no {} (nothing usable was installed)", package.library);
    println!("installed the {} provider at {}", package.device.label(), library.display());
    println!("use it with `sift separate --device {} ...` or the plugin's Device parameter", package.device.name());
    Ok(())
}

/// Downloads the wheels into `scratch`, unpacks their libraries into a new folder and swaps it
/// in for `target` (so a failed fetch leaves the old install as it was).
fn fetch(package: &ProviderPackage, scratch: &Path, target: &Path) -> anyhow::Result<()> {
    let python = std::env::var_os(PYTHON_ENV).map_or_else(|| PathBuf::from(DEFAULT_PYTHON), PathBuf::from);
    let wheels = scratch.join("wheels");
    std::fs::create_dir_all(&wheels).with_context(|| format!("creating {}", wheels.display()))?;
    run(
        Command::new(&python)
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-q"])
            .args(package.wheels)
            .arg("-d")
            .arg(&wheels),
        &format!(
            "pip could not fetch the wheels: install Python 3 with pip (or set {PYTHON_ENV}) and check that PyPI is reachable"
        ),
    )?;
    let staged = scratch.join("staged");
    std::fs::create_dir_all(staged.join("lib"))?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&wheels)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for wheel in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "whl")) {
        let unpacked = scratch.join("unpacked");
        let _ = std::fs::remove_dir_all(&unpacked);
        run(
            Command::new(&python).args(["-m", "zipfile", "-e"]).arg(wheel).arg(&unpacked),
            "Python could not unpack a wheel (damaged download?): run the command again",
        )?;
        let nvidia = wheel.file_name().is_some_and(|n| n.to_string_lossy().starts_with("nvidia_"));
        // NVIDIA's libraries go to `lib/` (loaded before CUDA's provider); a provider wheel's
        // own files stay together, as their run paths expect.
        let into = if nvidia { staged.join("lib") } else { staged.clone() };
        keep_libraries(&unpacked, &into)?;
    }
    let _ = std::fs::remove_dir(staged.join("lib"));
    let _ = std::fs::remove_dir_all(target);
    std::fs::rename(&staged, target).with_context(|| format!("installing into {}", target.display()))
}

/// Moves every shared library (and OpenVINO's device cache, `cache.json`) found under `from`
/// into `into`, flat. Python files, licences' duplicates and the Python bindings are left.
fn keep_libraries(from: &Path, into: &Path) -> anyhow::Result<()> {
    let mut pending = vec![from.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let library = (name.contains(".so") || name.ends_with(".dll") || name.ends_with(".dylib"))
                && !name.contains("pybind11")
                && !name.starts_with("libonnxruntime.so");
            if library || name == "cache.json" {
                std::fs::rename(&path, into.join(&name)).with_context(|| format!("moving {name}"))?;
            }
        }
    }
    Ok(())
}

fn run(command: &mut Command, hint: &str) -> anyhow::Result<()> {
    let output = command.output().with_context(|| format!("running {:?}: {hint}", command.get_program()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!("{hint} ({})", stderr.trim().lines().last().unwrap_or("no message"));
    }
    Ok(())
}
