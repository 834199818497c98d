//! `cargo xtask bundle sift [--release]`: builds the plugin library, lays it out as CLAP and VST3
//! bundles with nice-plug-xtask (`target/bundled/sift.clap`, `target/bundled/sift.vst3`), then
//! puts the ONNX Runtime library and the models Sift ships with (Spleeter 2-stem and Sift's own
//! four-stem model) where the plugin looks for them, relative to its own library (see
//! `library_candidates` and `model_dirs` in `crates/inference/src/locations.rs`):
//!
//! | OS      | bundle | plugin binary                          | runtime library         | models                     |
//! |---------|--------|----------------------------------------|-------------------------|----------------------------|
//! | Linux   | VST3   | `sift.vst3/Contents/<arch>-linux/sift.so` | beside the binary    | `sift.vst3/Contents/Resources/models/` |
//! | Linux   | CLAP   | `sift.clap` (one file)                 | beside it, in `bundled/` | `bundled/models/`         |
//! | Windows | VST3   | `sift.vst3/Contents/x86_64-win/sift.vst3` | beside the binary    | `sift.vst3/Contents/Resources/models/` |
//! | Windows | CLAP   | `sift.clap` (one file)                 | beside it               | `bundled/models/`          |
//! | macOS   | both   | `<bundle>/Contents/MacOS/sift`         | `<bundle>/Contents/Resources/` | `<bundle>/Contents/Resources/models/` |
//!
//! Only the Linux layout is exercised; the others follow nice-plug's bundle layout and the same
//! search rules.
//!
//! On Linux the two formats share one copy of everything: the plugin library exports both the
//! VST3 and the CLAP entry points, so `sift.clap` is a symbolic link to the library inside
//! `sift.vst3` (the plugin resolves links when it looks for its runtime and models). A VST3
//! bundle must be a self-contained folder (Steinberg's bundle format); a CLAP plugin on Linux is
//! any shared library named `.clap`, which a link satisfies. On Windows a CLAP is one `.clap`
//! file (links need privileges there) and on macOS a bundle folder of its own, so both keep
//! their own copies there.
//!
//! Bundles carry no debug info: it is split into `target/bundled/symbols/sift.so.debug` (linked
//! from the library by a `.gnu_debuglink`, so gdb and crash tools find it when it is placed
//! beside the library or under `/usr/lib/debug`); the library keeps its symbol table, so a
//! crash's stack still names functions.

use crate::paths::{ort_library_name, Paths};
use crate::process;
use crate::setup;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The only package of the workspace that exports plugins.
pub const PACKAGE: &str = "sift";

/// `cargo xtask bundle <args>`: `args` are what follows `bundle`, i.e. `sift` (or `-p sift`) and
/// any `cargo build` options such as `--release` or `--profile <name>`.
pub fn command(paths: &Paths, args: &[String]) -> Result<()> {
    let cargo_args = match args {
        [package, rest @ ..] if package == PACKAGE => rest,
        [flag, package, rest @ ..] if flag == "-p" && package == PACKAGE => rest,
        _ => bail!(
            "usage: cargo xtask bundle {PACKAGE} [--release] [other `cargo build` options]\n   \
             or: cargo xtask bundle --target windows"
        ),
    };
    run(paths, cargo_args)
}

/// Sets up, builds and bundles `sift` with the given `cargo build` options, then stages the
/// runtime library and the shipped models into the bundles.
pub fn run(paths: &Paths, cargo_args: &[String]) -> Result<()> {
    if cargo_args.iter().any(|arg| arg == "--target" || arg.starts_with("--target=")) {
        bail!(
            "`cargo xtask bundle sift` builds for this machine: for Windows use \
             `cargo xtask bundle --target windows`"
        );
    }
    setup::run(paths)?;
    bundle_after_setup(paths, cargo_args)
}

/// [`run`] without the setup step, for commands that already ran it.
pub fn bundle_after_setup(paths: &Paths, cargo_args: &[String]) -> Result<()> {
    println!("==> building and bundling the {PACKAGE} plugins (nice-plug-xtask)");
    // nice-plug-xtask runs `cargo build` in the current folder and reads `bundler.toml` from it.
    std::env::set_current_dir(&paths.root).with_context(|| format!("entering {}", paths.root.display()))?;
    let packages = [PACKAGE.to_string()];
    nice_plug_xtask::build(&packages, cargo_args)
        .context("the sift package does not build: fix the compile errors above")?;
    let vst3 = paths.vst3_bundle();
    let clap = paths.clap_bundle();
    // nice-plug-xtask copies the library onto `sift.clap`; through last time's link that would
    // write into the VST3 bundle.
    if clap.is_symlink() {
        std::fs::remove_file(&clap).with_context(|| format!("removing {}", clap.display()))?;
    }
    nice_plug_xtask::bundle(&paths.target, PACKAGE, cargo_args, false)
        .context("nice-plug-xtask could not bundle the plugin library")?;

    for bundle in [&vst3, &clap] {
        if !bundle.exists() {
            bail!(
                "{} was not created: does the sift library still export `GetPluginFactory` and \
                 `clap_entry`?",
                bundle.display()
            );
        }
    }

    // nice-plug-xtask copies a `target/<profile>/sift` executable as a "standalone" build of the
    // plugin; that name is the command-line tool here, which the plugin bundles do not need.
    remove_if_present(&paths.bundled().join(format!("sift{}", std::env::consts::EXE_SUFFIX)))?;
    let layouts = if cfg!(target_os = "linux") {
        let library = vst3_binary_dir(&vst3).join("sift.so");
        println!("==> splitting the debug info off the plugin library");
        split_debug_info(&library, &paths.bundled().join("symbols"))?;
        println!("==> sift.clap: a link to the VST3 bundle's library (one copy of everything)");
        share_library(&clap, &library)?;
        // What earlier layouts put beside the CLAP file.
        remove_if_present(&paths.bundled().join(ort_library_name()))?;
        remove_if_present(&paths.bundled().join("models"))?;
        vec![vst3_layout(&vst3)]
    } else {
        vec![vst3_layout(&vst3), clap_layout(&paths.bundled(), &clap)]
    };

    println!("==> adding the ONNX Runtime library and the models Sift ships with");
    let mut written = Vec::new();
    for layout in layouts {
        written.push(copy_file(&paths.ort_library(), &layout.library_dir.join(ort_library_name()))?);
        for model in paths.shipped_models() {
            let model_name = model.file_name().context("a shipped model has no file name")?;
            written.push(copy_file(&model, &layout.models_dir.join(model_name))?);
        }
    }

    println!("==> plugin bundles in {}:", paths.bundled().display());
    for path in plugin_binaries(&vst3, &clap).iter().chain(&written) {
        if path.is_symlink() {
            let target = std::fs::read_link(path).with_context(|| format!("reading {}", path.display()))?;
            println!("    {:>9}  {} -> {}", "link", shown(paths, path), target.display());
        } else {
            println!("    {:>9}  {}", size(path)?, shown(paths, path));
        }
    }
    println!("    {:>9}  {} (everything users download)", size(&vst3)?, shown(paths, &vst3));
    Ok(())
}

/// Moves `library`'s debug info into `symbols/<name>.debug` and leaves a `.gnu_debuglink` to it;
/// the symbol table stays, so stack traces still name functions.
fn split_debug_info(library: &Path, symbols: &Path) -> Result<()> {
    std::fs::create_dir_all(symbols).with_context(|| format!("creating {}", symbols.display()))?;
    let name = library.file_name().context("the plugin library has no file name")?.to_string_lossy();
    let debug = symbols.join(format!("{name}.debug"));
    let hint = "objcopy (GNU binutils, which the Rust linker setup needs anyway) must be installed:                 `apt-get install binutils`";
    process::run(Command::new("objcopy").arg("--only-keep-debug").arg(library).arg(&debug), hint)?;
    process::run(
        Command::new("objcopy")
            .arg("--strip-debug")
            .arg(format!("--add-gnu-debuglink={}", debug.display()))
            .arg(library),
        hint,
    )
}

/// Replaces the file `clap` by a relative link to `library`.
fn share_library(clap: &Path, library: &Path) -> Result<()> {
    remove_if_present(clap)?;
    let folder = clap.parent().context("the CLAP file has no folder")?;
    let relative = library.strip_prefix(folder).context("the VST3 bundle is not beside the CLAP file")?;
    symlink(relative, clap).with_context(|| format!("linking {} to {}", clap.display(), relative.display()))
}

#[cfg(unix)]
pub fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
pub fn symlink(_target: &Path, _link: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other("the shared layout is only used on Linux"))
}

fn remove_if_present(path: &Path) -> Result<()> {
    let result =
        if path.is_dir() && !path.is_symlink() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Where the runtime library and the models go for one bundle.
struct Layout {
    library_dir: PathBuf,
    models_dir: PathBuf,
}

/// Steinberg's architecture folder names, as nice-plug-xtask uses them.
fn vst3_binary_dir(bundle: &Path) -> PathBuf {
    let contents = bundle.join("Contents");
    let arch = match std::env::consts::ARCH {
        "x86" if cfg!(target_os = "windows") => "x86",
        "x86" => "i386",
        "aarch64" if cfg!(target_os = "windows") => "arm_64",
        arch => arch,
    };
    if cfg!(target_os = "macos") {
        contents.join("MacOS")
    } else if cfg!(target_os = "windows") {
        contents.join(format!("{arch}-win"))
    } else {
        contents.join(format!("{arch}-linux"))
    }
}

fn vst3_layout(bundle: &Path) -> Layout {
    let resources = bundle.join("Contents").join("Resources");
    Layout {
        // The plugin looks in its own folder and in `../Resources`; a macOS bundle keeps
        // everything that is not the executable in Resources.
        library_dir: if cfg!(target_os = "macos") { resources.clone() } else { vst3_binary_dir(bundle) },
        models_dir: resources.join("models"),
    }
}

fn clap_layout(bundled: &Path, clap: &Path) -> Layout {
    if cfg!(target_os = "macos") {
        let resources = clap.join("Contents").join("Resources");
        Layout { library_dir: resources.clone(), models_dir: resources.join("models") }
    } else {
        // A single file: what it needs lies beside it.
        Layout { library_dir: bundled.to_path_buf(), models_dir: bundled.join("models") }
    }
}

/// The plugin library inside each bundle, for the summary.
fn plugin_binaries(vst3: &Path, clap: &Path) -> Vec<PathBuf> {
    let vst3_binary = if cfg!(target_os = "windows") {
        "sift.vst3"
    } else if cfg!(target_os = "macos") {
        "sift"
    } else {
        "sift.so"
    };
    let clap_binary =
        if cfg!(target_os = "macos") { clap.join("Contents").join("MacOS").join("sift") } else { clap.to_path_buf() };
    vec![vst3_binary_dir(vst3).join(vst3_binary), clap_binary]
}

/// Copies `from` to `to`, creating `to`'s folder, skipping the copy when `to` already has the
/// same size and is not older (the runtime and the model are tens of megabytes).
pub fn copy_file(from: &Path, to: &Path) -> Result<PathBuf> {
    if !from.is_file() {
        bail!("{} is missing: run `cargo xtask setup` to fetch it", from.display());
    }
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if !up_to_date(from, to) {
        std::fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    Ok(to.to_path_buf())
}

fn up_to_date(from: &Path, to: &Path) -> bool {
    let (Ok(source), Ok(copy)) = (std::fs::metadata(from), std::fs::metadata(to)) else {
        return false;
    };
    match (source.modified(), copy.modified()) {
        (Ok(source_time), Ok(copy_time)) => source.len() == copy.len() && copy_time >= source_time,
        _ => false,
    }
}

/// A file's size, or a folder's total size, in human units.
pub fn size(path: &Path) -> Result<String> {
    let bytes = total_size(path)?;
    Ok(if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    })
}

fn total_size(path: &Path) -> Result<u64> {
    let metadata = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !metadata.is_dir() {
        return Ok(metadata.len());
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))? {
        total += total_size(&entry?.path())?;
    }
    Ok(total)
}

/// Paths under the repository shown relative to it.
pub fn shown(paths: &Paths, path: &Path) -> String {
    path.strip_prefix(&paths.root).unwrap_or(path).display().to_string()
}
