//! `cargo xtask install`: bundles the plugins in release mode (cargo makes that a no-op when
//! nothing changed) and copies them into the per-user plugin folders that hosts scan:
//! `~/.vst3/sift.vst3` and `~/.clap/Sift/` (the CLAP file with the runtime library and `models/`
//! beside it; CLAP hosts search their folders recursively). Linux only for now: on Windows and
//! macOS it says where to copy the bundles by hand.

use crate::bundle::{self, copy_file, shown, size};
use crate::paths::{ort_library_name, Paths};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

pub fn run(paths: &Paths) -> Result<()> {
    if !cfg!(target_os = "linux") {
        bail!(
            "`cargo xtask install` only knows Linux so far. Run `cargo xtask bundle sift --release` \
             and copy target/bundled/sift.vst3 into your VST3 folder (Windows: \
             %COMMONPROGRAMFILES%\\VST3, macOS: ~/Library/Audio/Plug-Ins/VST3) and sift.clap with \
             the runtime library and models beside it into your CLAP folder (Windows: \
             %COMMONPROGRAMFILES%\\CLAP\\Sift, macOS: ~/Library/Audio/Plug-Ins/CLAP)"
        );
    }
    bundle::run(paths, &["--release".to_string()])?;

    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .context("HOME is not set: cannot find ~/.vst3 and ~/.clap")?;

    let vst3_to = home.join(".vst3").join("sift.vst3");
    println!("==> installing the VST3 plugin");
    replace_dir(&paths.vst3_bundle(), &vst3_to)?;

    let clap_to = home.join(".clap").join("Sift");
    println!("==> installing the CLAP plugin");
    remove_dir(&clap_to)?;
    let bundled = paths.bundled();
    copy_file(&paths.clap_bundle(), &clap_to.join("sift.clap"))?;
    copy_file(
        &bundled.join(ort_library_name()),
        &clap_to.join(ort_library_name()),
    )?;
    copy_dir(&bundled.join("models"), &clap_to.join("models"))?;

    println!("==> installed:");
    for path in [&vst3_to, &clap_to] {
        println!("    {:>9}  {}", size(path)?, shown(paths, path));
    }
    println!("    rescan plugins in your host to pick up Sift and Sift Single");
    Ok(())
}

/// Replaces `to` with a copy of the folder `from`, so no file of an older version is left.
fn replace_dir(from: &Path, to: &Path) -> Result<()> {
    remove_dir(to)?;
    copy_dir(from, to)
}

fn remove_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            copy_file(&entry.path(), &target)?;
        }
    }
    Ok(())
}
