//! `sift eval`.

use std::path::Path;

use serde_json::json;

use crate::evaluation;

pub fn run(reference: &Path, estimates: &Path) -> anyhow::Result<()> {
    let scores = evaluation::evaluate_dir(reference, estimates)?;
    println!("{:<16} {:>10} {:>22}", "stem", "SDR (dB)", "median 1 s SDR (dB)");
    for s in &scores {
        let framewise = s.median_framewise_sdr.map_or("-".to_owned(), |v| format!("{v:.2}"));
        println!("{:<16} {:>10.2} {:>22}", s.stem, s.sdr, framewise);
    }
    let figures: serde_json::Map<String, serde_json::Value> = scores
        .iter()
        .map(|s| (s.stem.clone(), json!({ "sdr": s.sdr, "median_framewise_sdr": s.median_framewise_sdr })))
        .collect();
    println!("{}", json!({ "sdr": figures }));
    Ok(())
}
