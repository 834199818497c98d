//! `cargo xtask install`: bundles the plugins in release mode (cargo makes that a no-op when
//! nothing changed) and puts them into the per-user plugin folders that hosts scan:
//! `~/.vst3/sift.vst3`, and `~/.clap/sift.clap` as a link to the library inside it (one copy of
//! the library, runtime and models serves both formats; see `bundle.rs`). Linux only for now:
//! on Windows and macOS it says where to copy the bundles by hand.

use crate::bundle::{self, copy_file, shown, size};
use crate::paths::Paths;
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

    let home =
        std::env::var_os("HOME").map(PathBuf::from).context("HOME is not set: cannot find ~/.vst3 and ~/.clap")?;

    let vst3_to = home.join(".vst3").join("sift.vst3");
    println!("==> installing the VST3 plugin");
    replace_dir(&paths.vst3_bundle(), &vst3_to)?;

    println!("==> installing the CLAP plugin (a link into the VST3 bundle)");
    // Earlier versions installed a folder with copies.
    remove_dir(&home.join(".clap").join("Sift"))?;
    let clap_to = home.join(".clap").join("sift.clap");
    let library = std::fs::canonicalize(paths.clap_bundle())
        .with_context(|| format!("resolving {}", paths.clap_bundle().display()))?;
    let installed_library =
        vst3_to.join(library.strip_prefix(paths.vst3_bundle()).context("sift.clap does not link into sift.vst3")?);
    std::fs::create_dir_all(home.join(".clap")).context("creating ~/.clap")?;
    if clap_to.is_symlink() || clap_to.exists() {
        std::fs::remove_file(&clap_to).with_context(|| format!("removing {}", clap_to.display()))?;
    }
    bundle::symlink(&installed_library, &clap_to)
        .with_context(|| format!("linking {} to {}", clap_to.display(), installed_library.display()))?;

    println!("==> installed:");
    println!("    {:>9}  {}", size(&vst3_to)?, shown(paths, &vst3_to));
    println!("    {:>9}  {} -> {}", "link", clap_to.display(), installed_library.display());
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
