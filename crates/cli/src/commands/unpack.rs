//! `sift unpack-stems`.

use std::path::Path;

use anyhow::{bail, Context};

use crate::audio_file::{self, Audio};

/// Track order of a Native Instruments stem file after the mixture.
const STEM_TRACKS: [&str; 4] = ["drums", "bass", "other", "vocals"];

pub fn run(input: &Path, output: &Path) -> anyhow::Result<()> {
    let tracks = audio_file::read_tracks(input)?;
    if tracks.len() != 1 + STEM_TRACKS.len() {
        bail!(
            "{}: {} audio tracks; a stem file has 5 (mixture, drums, bass, other, vocals)",
            input.display(),
            tracks.len()
        );
    }
    std::fs::create_dir_all(output).with_context(|| format!("creating {}", output.display()))?;
    let stems = &tracks[1..];
    let frames = stems.iter().map(Audio::frames).min().unwrap_or(0);
    let first = &stems[0];
    // The coded mixture track is not the sum of the coded stems; the sum is the honest
    // reference for a separator, so it is what `mixture.wav` holds.
    let mut mixture = vec![vec![0.0f32; frames]; first.channels.len()];
    for stem in stems {
        if stem.sample_rate != first.sample_rate || stem.channels.len() != first.channels.len() {
            bail!("{}: the stem tracks differ in rate or channel count", input.display());
        }
        for (sum, ch) in mixture.iter_mut().zip(&stem.channels) {
            sum.iter_mut().zip(ch).for_each(|(s, &x)| *s += x);
        }
    }
    let write = |name: &str, channels: Vec<Vec<f32>>| -> anyhow::Result<()> {
        let path = output.join(format!("{name}.wav"));
        audio_file::write_wav(&path, &Audio { sample_rate: first.sample_rate, channels })?;
        println!("wrote {}", path.display());
        Ok(())
    };
    for (name, stem) in STEM_TRACKS.iter().zip(stems) {
        write(name, stem.channels.iter().map(|c| c[..frames].to_vec()).collect())?;
    }
    write("mixture", mixture)
}
