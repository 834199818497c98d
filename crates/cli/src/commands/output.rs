//! Where `sift separate` puts its stems, and how it never loses or clobbers a file doing so.
//!
//! - The output folder is checked (created if missing, tested for writing) before any work.
//! - Every stem is written to a hidden temporary file in the output folder
//!   (`.vocals.wav.sift-partial-<pid>`); only when all are complete and on the disk are they
//!   renamed to their names, so an error, a full disk or a signal leaves no stem at all, never a
//!   truncated one or half a set. Renaming replaces a symbolic link at a stem's name: its target
//!   is never written.
//! - Each run lists what it wrote in `OUTDIR/sift-stems.json` (its report, plus `files`). Existing
//!   stems (the names this run writes, and the stems the folder's previous run listed) are
//!   refused without `--force`; with it they are replaced, and the previous run's stems this
//!   run does not write (another model's) are removed, so the folder never holds two runs'
//!   stems. Files no run listed are never touched.
//! - The input is never among the files replaced or removed, `--force` or not.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::audio_file::WavStreamWriter;

/// The list of what the last run in a folder wrote.
pub const MANIFEST: &str = "sift-stems.json";

/// Checks `dir` is (or can be made) a writable folder, creating it if missing; returns it.
pub fn prepare(dir: &Path) -> anyhow::Result<PathBuf> {
    if dir.exists() && !dir.is_dir() {
        bail!("{}: the output must be a folder, but this is a file", dir.display());
    }
    fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: cannot create the output folder: {e}", dir.display()))?;
    let probe = dir.join(format!(".sift-write-test-{}", std::process::id()));
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| anyhow::anyhow!("{}: cannot write in the output folder: {e}", dir.display()))?;
    let _ = fs::remove_file(&probe);
    Ok(dir.to_path_buf())
}

/// What a run will replace and remove, checked against what is there.
pub struct Plan {
    dir: PathBuf,
    /// `(temporary, final)` path of each stem, in the model's order.
    files: Vec<(PathBuf, PathBuf)>,
    /// The previous run's stems this run does not write.
    stale: Vec<PathBuf>,
}

impl Plan {
    /// Plans writing `stems` into `dir`; refuses to touch the input, and to replace existing
    /// stems without `force`.
    pub fn new(dir: &Path, stems: &[String], input: &Path, force: bool) -> anyhow::Result<Self> {
        let pid = std::process::id();
        let files: Vec<(PathBuf, PathBuf)> = stems
            .iter()
            .map(|s| (dir.join(format!(".{s}.wav.sift-partial-{pid}")), dir.join(format!("{s}.wav"))))
            .collect();
        let stale: Vec<PathBuf> = previous_stems(dir)
            .into_iter()
            .filter(|p| !files.iter().any(|(_, f)| f == p) && p.symlink_metadata().is_ok())
            .collect();
        for path in files.iter().map(|(_, f)| f).chain(&stale) {
            if is_same_file(input, path) {
                bail!(
                    "refusing to overwrite the input: {} is also the output stem {}; choose another output folder",
                    input.display(),
                    path.display()
                );
            }
            if path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                bail!("{}: a folder is in the way of a stem file", path.display());
            }
        }
        let existing: Vec<&PathBuf> = files.iter().map(|(_, f)| f).filter(|f| f.symlink_metadata().is_ok()).collect();
        if !force && (!existing.is_empty() || !stale.is_empty()) {
            let names = |paths: &[&PathBuf]| {
                paths
                    .iter()
                    .map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut message = format!("{} already holds stems", dir.display());
            if !existing.is_empty() {
                message += &format!(": {}", names(&existing));
            }
            if !stale.is_empty() {
                let stale: Vec<&PathBuf> = stale.iter().collect();
                message += &format!(
                    "{} the previous run's {} (which this run would remove)",
                    if existing.is_empty() { ":" } else { ", and" },
                    names(&stale)
                );
            }
            bail!("{message}; pass --force to replace them, or choose another output folder");
        }
        Ok(Plan { dir: dir.to_path_buf(), files, stale })
    }

    /// The final path of each stem.
    pub fn finals(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(_, f)| f.as_path())
    }
}

/// The stems of the previous run in `dir`, from its manifest: plain `.wav` names only, so a
/// doctored manifest cannot point outside the folder.
fn previous_stems(dir: &Path) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string(dir.join(MANIFEST)) else { return Vec::new() };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { return Vec::new() };
    json["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str())
        .filter(|f| f.ends_with(".wav") && Path::new(f).file_name() == Some(f.as_ref()) && !f.starts_with('.'))
        .map(|f| dir.join(f))
        .collect()
}

/// Whether writing or removing `target` would change the file at `input`: the same path, or
/// the same file reached through a link.
fn is_same_file(input: &Path, target: &Path) -> bool {
    let lexical = |p: &Path| -> Option<PathBuf> {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Some(fs::canonicalize(parent).ok()?.join(p.file_name()?))
    };
    if lexical(input).is_some_and(|a| Some(a) == lexical(target)) {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (fs::metadata(input), fs::metadata(target)) {
            return a.dev() == b.dev() && a.ino() == b.ino();
        }
    }
    false
}

/// Fails early when the folder's file system has clearly too little room for `bytes`; says
/// nothing where the free space cannot be read.
pub fn check_space(dir: &Path, bytes: u64) -> anyhow::Result<()> {
    let Some(free) = free_bytes(dir) else { return Ok(()) };
    if bytes > free {
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        bail!("{}: the stems need {:.0} MiB but only {:.0} MiB are free there", dir.display(), mib(bytes), mib(free));
    }
    Ok(())
}

/// The bytes this user may still write in `dir`'s file system.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the zeroed struct; the path is a valid C string.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } == 0)
        .then(|| (stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

/// The bytes this user may still write in `dir`'s volume (quotas included).
#[cfg(windows)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::windows::ffi::OsStrExt;
    let wide: Vec<u16> = dir.as_os_str().encode_wide().chain(std::iter::once(0)).collect();
    let mut available: u64 = 0;
    // SAFETY: `wide` is a NUL-terminated path; the two totals not wanted may be null.
    let ok = unsafe {
        windows_sys::Win32::Storage::FileSystem::GetDiskFreeSpaceExW(
            wide.as_ptr(),
            &mut available,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    (ok != 0).then_some(available)
}

#[cfg(not(any(unix, windows)))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// The stems being written, under temporary names until [`PartialStems::commit`]. Dropped
/// without committing (an error, a signal, a panic), it removes its temporary files.
pub struct PartialStems {
    plan: Plan,
    writers: Vec<WavStreamWriter>,
}

impl PartialStems {
    /// Creates every stem's temporary file.
    pub fn create(plan: Plan, sample_rate: u32, channels: usize) -> anyhow::Result<Self> {
        let mut stems = PartialStems { writers: Vec::new(), plan };
        for i in 0..stems.plan.files.len() {
            let writer = WavStreamWriter::create_new(&stems.plan.files[i].0, sample_rate, channels)?;
            stems.writers.push(writer);
        }
        Ok(stems)
    }

    /// Appends frames to stem `stem`: one slice per channel.
    pub fn write(&mut self, stem: usize, channels: &[&[f32]]) -> anyhow::Result<()> {
        self.writers[stem].write(channels)?;
        Ok(())
    }

    /// Completes every stem, then puts them all in place at once: renames them to their
    /// names, removes the previous run's other stems and writes the manifest `report`
    /// (with `files` added).
    pub fn commit(mut self, mut report: serde_json::Value) -> anyhow::Result<()> {
        for writer in self.writers.drain(..) {
            writer.finish()?;
        }
        super::signals::check()?;
        let names: Vec<String> =
            self.plan.finals().map(|f| f.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
        report["files"] = serde_json::json!(names);
        let manifest = self.plan.dir.join(MANIFEST);
        let manifest_temp = self.plan.dir.join(format!(".{MANIFEST}.sift-partial-{}", std::process::id()));
        fs::write(&manifest_temp, format!("{report}\n"))
            .with_context(|| format!("writing {}", manifest_temp.display()))?;
        // From here on, nothing can fail but a rename within one folder.
        for (temp, last) in &self.plan.files {
            fs::rename(temp, last).map_err(|e| anyhow::anyhow!("{}: {e}", last.display()))?;
        }
        for stale in &self.plan.stale {
            let _ = fs::remove_file(stale);
        }
        fs::rename(&manifest_temp, &manifest).map_err(|e| anyhow::anyhow!("{}: {e}", manifest.display()))?;
        #[cfg(unix)]
        if let Ok(dir) = fs::File::open(&self.plan.dir) {
            let _ = dir.sync_all();
        }
        self.plan.files.clear();
        Ok(())
    }
}

impl Drop for PartialStems {
    fn drop(&mut self) {
        self.writers.clear();
        for (temp, _) in &self.plan.files {
            let _ = fs::remove_file(temp);
        }
        let _ = fs::remove_file(self.plan.dir.join(format!(".{MANIFEST}.sift-partial-{}", std::process::id())));
    }
}
