//! `sift eval`.

use std::path::Path;

use serde_json::{json, Value};

use crate::{audio_file, evaluation};

pub fn run(reference: &Path, estimates: &Path, stems: Option<&[String]>) -> anyhow::Result<()> {
    let scores = evaluation::evaluate(reference, estimates, stems)?;
    for s in &scores {
        for note in &s.notes {
            audio_file::warn(&format!("{}: {note}", s.stem));
        }
    }
    println!("{:<16} {:>10} {:>22}", "stem", "SDR (dB)", "median 1 s SDR (dB)");
    for s in &scores {
        let framewise = s.median_framewise_sdr.map_or("-".to_owned(), text);
        println!("{:<16} {:>10} {:>22}", s.stem, text(s.sdr), framewise);
    }
    let figures: serde_json::Map<String, Value> = scores
        .iter()
        .map(|s| {
            (
                s.stem.clone(),
                json!({ "sdr": number(s.sdr), "median_framewise_sdr": s.median_framewise_sdr.map(number) }),
            )
        })
        .collect();
    println!("{}", json!({ "sdr": figures }));
    Ok(())
}

/// A score for the table: two decimals, or `inf`, `-inf`, `nan`.
fn text(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}")
    } else {
        name(value).to_owned()
    }
}

/// A score for JSON, which has no infinities or NaN: a number, or the string `"inf"`, `"-inf"`
/// or `"nan"` (Python's `float()` reads all three).
fn number(value: f64) -> Value {
    if value.is_finite() {
        json!(value)
    } else {
        json!(name(value))
    }
}

fn name(value: f64) -> &'static str {
    if value.is_nan() {
        "nan"
    } else if value > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}
