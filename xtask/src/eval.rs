//! `cargo xtask eval`: what every installed model gives and costs in every mode.
//!
//! For each usable model that `sift models --json` lists (or those named with `--model`), each
//! mode and each clip with reference stems (every folder of `../shared/eval` holding a
//! `mixture.wav`, and the demo clip), it runs `sift separate` as a file render (its default,
//! the throughput schedule) and, where that schedule is not the host's, again with
//! `--schedule host`, scoring both with `sift eval`. It prints the tables (latency, real-time
//! factors, per-stem SDR: global and the museval-style 1 s median), writes every figure to
//! `target/eval/results.json` and plots SDR against latency into
//! `docs/quality-vs-latency.png` (`model/plot_quality.py`, matplotlib in `.venv`).
//!
//! A model and mode are judged by the **mean over every clip**, never by one clip (issue 30):
//! for each, each stem's mean SDR over the clips, each clip's mean over its stems and the mean
//! of those clip means (the figure `model/training/evaluate.py`'s `real_summary` gives and run
//! configs' ship rules use), printed after the per-clip table and written to
//! `target/eval/means.json`. A reference stem that is silent (a song without drums:
//! `ssr-how_will_i_know`) has no SDR (`sift eval` gives `-inf`): it is scored as leakage, the
//! estimate's energy against the mixture's in dB, `10 log10(Σ est² / Σ mix²)` over channels and
//! samples ([`leakage_db`]), shown beside the means and left out of them. "Silent" is the
//! training pipeline's rule (`model/training/metrics.py`): a mean square at or under
//! [`SILENT_MEAN_SQUARE`].
//!
//! Each separation runs with as many intra-op threads as the machine has cores, so the
//! real-time factor is the best this CPU does offline; the latencies are the modes' designed
//! ones (a real-time host on a slow machine may stretch them: README, "Modes keep up on slow
//! machines").

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::paths::Paths;
use crate::process::command;
use crate::{product, python, setup};

/// Every mode, the default of `--modes`.
pub const MODES: [&str; 3] = ["live", "balanced", "studio"];

/// Host block size for every separation: a common real-time setting, at which a streaming
/// model's latency is its own (larger blocks add to it).
const HOST_BLOCK: &str = "256";

/// Stems in the order the table shows them.
const STEMS: [&str; 5] = ["vocals", "drums", "bass", "other", "accompaniment"];

/// A reference stem whose mean square over channels and samples is at or under this is silent
/// (an RMS of -80 dBFS): `model/training/metrics.py`'s `SILENT_MEAN_SQUARE`.
const SILENT_MEAN_SQUARE: f64 = 1e-8;

/// Where an estimate of exact zeros puts [`leakage_db`] (as `metrics.leakage_db`).
const LEAKAGE_FLOOR_DB: f64 = -120.0;

/// What `cargo xtask eval` was asked for.
pub struct Options {
    /// Installed model names or `.onnx` paths; empty = every usable installed model.
    pub models: Vec<String>,
    /// Modes to run, from [`MODES`].
    pub modes: Vec<String>,
    /// Write the table and figures but leave the committed plot alone.
    pub no_plot: bool,
}

/// One separated clip: the model, mode and clip, and what `separate` and `eval` reported.
struct Row {
    model: String,
    licence: String,
    mode: String,
    clip: String,
    /// `sift separate --schedule host`: what the mode gives in a host.
    report: Value,
    scores: Value,
    /// `sift separate` offline (the throughput schedule), the same as the above where the
    /// model's throughput schedule is its host schedule.
    file_report: Value,
    file_scores: Value,
    /// {stem: leakage dB} of each estimated stem whose reference is silent ([`leakage_db`], in
    /// the host schedule's output); such a stem's SDR is left out of every mean.
    leakage: serde_json::Map<String, Value>,
    /// The same for the file render.
    file_leakage: serde_json::Map<String, Value>,
}

pub fn run(paths: &Paths, options: Options) -> Result<()> {
    setup::run(paths)?;
    let sift = product::build_sift(paths)?;
    let models = if options.models.is_empty() { installed_models(paths, &sift)? } else { options.models.clone() };
    let clips = clips(paths)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).to_string();
    let work = paths.target.join("eval");

    let mut rows = Vec::new();
    let total = models.len() * options.modes.len() * clips.len();
    let mut done = 0;
    for model in &models {
        let model_name = Path::new(model).file_stem().map_or(model.clone(), |s| s.to_string_lossy().into_owned());
        for mode in &options.modes {
            for clip in &clips {
                done += 1;
                let clip_name = clip.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                println!("==> [{done}/{total}] {model_name} {mode} on {clip_name}");
                let out_dir = |schedule: &str| work.join(&model_name).join(mode).join(schedule).join(&clip_name);
                let separate = |schedule: &str| -> Result<(Value, Value)> {
                    let out = out_dir(schedule);
                    let report = last_json_line(
                        command(paths, &sift)
                            .arg("separate")
                            .arg(clip.join("mixture.wav"))
                            .arg("-o")
                            .arg(&out)
                            .args(["--force", "--model", model, "--mode", mode, "--schedule", schedule])
                            .args(["--threads", &threads, "--block", HOST_BLOCK]),
                    )?;
                    let scores =
                        last_json_line(command(paths, &sift).arg("eval").arg("--reference").arg(clip).arg(&out))?;
                    Ok((report, scores))
                };
                // The file render (`sift separate`'s default) first; where its schedule is not
                // the host's, the host schedule again, for what the mode gives in a host.
                let (file_report, file_scores) = separate("throughput")?;
                let host_same = file_report["schedule"]["same_as_host"] == json!(true);
                let (report, scores) =
                    if host_same { (file_report.clone(), file_scores.clone()) } else { separate("host")? };
                let file_leakage = silent_stem_leakage(clip, &out_dir("throughput"), &file_scores)?;
                let leakage = if host_same {
                    file_leakage.clone()
                } else {
                    silent_stem_leakage(clip, &out_dir("host"), &scores)?
                };
                rows.push(Row {
                    model: model_name.clone(),
                    licence: report["licence"].as_str().unwrap_or("").to_owned(),
                    mode: mode.clone(),
                    clip: clip_name,
                    report,
                    scores,
                    file_report,
                    file_scores,
                    leakage,
                    file_leakage,
                });
            }
        }
    }

    print_table(&rows, &threads);
    let results = work.join("results.json");
    let figures: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({ "model": r.model, "licence": r.licence, "mode": r.mode, "clip": r.clip,
                    "threads": threads, "block": HOST_BLOCK, "separate": r.report, "sdr": r.scores["sdr"],
                    "silent_reference_leakage_db": r.leakage,
                    "file_render": { "separate": r.file_report, "sdr": r.file_scores["sdr"],
                                     "silent_reference_leakage_db": r.file_leakage } })
        })
        .collect();
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    std::fs::write(&results, serde_json::to_string_pretty(&figures)?)
        .with_context(|| format!("writing {}", results.display()))?;
    println!("==> figures in {}", results.display());
    let means = means_over_clips(&rows);
    print_means(&means);
    let means_path = work.join("means.json");
    std::fs::write(&means_path, serde_json::to_string_pretty(&means)?)
        .with_context(|| format!("writing {}", means_path.display()))?;
    println!("==> means over the clips in {}", means_path.display());

    if !options.no_plot {
        let plot = paths.root.join("docs").join("quality-vs-latency.png");
        crate::process::run(
            command(paths, python::venv_python(paths))
                .arg(paths.root.join("model").join("plot_quality.py"))
                .arg(&results)
                .arg(&plot),
            "plotting failed: see the Python error above",
        )?;
    }
    Ok(())
}

/// The usable installed models, by name, from `sift models --json`; broken ones are said and
/// skipped.
fn installed_models(paths: &Paths, sift: &Path) -> Result<Vec<String>> {
    let list = last_json_line(command(paths, sift).args(["models", "--json"]))?;
    let mut names = Vec::new();
    for model in list["installed"].as_array().into_iter().flatten() {
        let name = model["name"].as_str().unwrap_or_default().to_owned();
        if model["usable"] == json!(true) {
            names.push(name);
        } else {
            println!("    skipping {name}: {}", model["problem"].as_str().unwrap_or("not usable"));
        }
    }
    for missing in list["not_installed"].as_array().into_iter().flatten() {
        let name = missing["name"].as_str().unwrap_or_default();
        println!("    {name} is not installed, so not measured (`cargo xtask setup --model {name}` installs it)");
    }
    if names.is_empty() {
        bail!("no usable model installed: run `cargo xtask setup`");
    }
    Ok(names)
}

/// Folders holding `mixture.wav` and reference stems: each one under `../shared/eval`, then the
/// demo clip (unpacked by setup).
fn clips(paths: &Paths) -> Result<Vec<PathBuf>> {
    let mut clips = Vec::new();
    let shared = paths.eval_data();
    if let Ok(entries) = std::fs::read_dir(&shared) {
        let mut found: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join("mixture.wav").is_file()).collect();
        found.sort();
        clips.extend(found);
    } else {
        println!("    {} is not there: only the demo clip is measured", shared.display());
    }
    clips.push(paths.demo_reference());
    Ok(clips)
}

/// {stem: leakage dB} of each stem `scores` holds whose reference `clip/<stem>.wav` is silent
/// ([`SILENT_MEAN_SQUARE`]): the estimate `out/<stem>.wav`'s energy against `clip/mixture.wav`'s.
fn silent_stem_leakage(clip: &Path, out: &Path, scores: &Value) -> Result<serde_json::Map<String, Value>> {
    let mut leakage = serde_json::Map::new();
    let Some(stems) = scores["sdr"].as_object() else { return Ok(leakage) };
    for stem in stems.keys() {
        let reference = clip.join(format!("{stem}.wav"));
        if !reference.is_file() {
            continue; // a sum of other stems (the accompaniment): not a silent recording
        }
        let (energy, samples) = wav_energy(&reference)?;
        if energy / samples.max(1) as f64 <= SILENT_MEAN_SQUARE {
            let (estimate, _) = wav_energy(&out.join(format!("{stem}.wav")))?;
            let (mixture, _) = wav_energy(&clip.join("mixture.wav"))?;
            leakage.insert(stem.clone(), json!((leakage_db(estimate, mixture) * 100.0).round() / 100.0));
        }
    }
    Ok(leakage)
}

/// The estimate's energy against the mixture's, in dB: `10 log10(Σ est² / Σ mix²)`, both sums
/// over channels and samples, floored at [`LEAKAGE_FLOOR_DB`]. For a stem whose reference is
/// silent, what the separator wrongly put there: 0 dB is the whole mixture's energy; lower is
/// better. The same figure as `model/training/metrics.py`'s `leakage_db`.
fn leakage_db(estimate_energy: f64, mixture_energy: f64) -> f64 {
    if estimate_energy <= 0.0 || mixture_energy <= 0.0 {
        return LEAKAGE_FLOOR_DB;
    }
    (10.0 * (estimate_energy / mixture_energy).log10()).max(LEAKAGE_FLOOR_DB)
}

/// (Σ x² over every sample of every channel, the number of samples summed) of a WAV file of
/// 16-, 24- or 32-bit integer or 32-bit float PCM (plain or `WAVE_FORMAT_EXTENSIBLE`): what the
/// eval clips and `sift separate`'s stems are. Integer samples are scaled to ±1.
fn wav_energy(path: &Path) -> Result<(f64, u64)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let bad = |why: &str| anyhow::anyhow!("{}: {why}", path.display());
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let (mut format, mut bits, mut at) = (None, 0u16, 12usize);
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into()?) as usize;
        let body = &bytes[at + 8..(at + 8 + size).min(bytes.len())];
        if id == b"fmt " && body.len() >= 16 {
            let mut tag = u16::from_le_bytes([body[0], body[1]]);
            bits = u16::from_le_bytes([body[14], body[15]]);
            if tag == 0xFFFE && body.len() >= 26 {
                tag = u16::from_le_bytes([body[24], body[25]]); // the sub-format GUID's first two bytes
            }
            format = Some(tag);
        } else if id == b"data" {
            let sample = |chunk: &[u8]| -> Option<f64> {
                Some(match (format?, bits) {
                    (1, 16) => f64::from(i16::from_le_bytes([chunk[0], chunk[1]])) / 32768.0,
                    (1, 24) => f64::from(i32::from_le_bytes([0, chunk[0], chunk[1], chunk[2]]) >> 8) / 8_388_608.0,
                    (1, 32) => f64::from(i32::from_le_bytes(chunk.try_into().ok()?)) / 2_147_483_648.0,
                    (3, 32) => f64::from(f32::from_le_bytes(chunk.try_into().ok()?)),
                    _ => return None,
                })
            };
            let width = usize::from(bits / 8).max(1);
            let (mut energy, mut count) = (0.0, 0u64);
            for chunk in body.chunks_exact(width) {
                let x =
                    sample(chunk).ok_or_else(|| bad(&format!("unsupported sample format {format:?}, {bits} bits")))?;
                energy += x * x;
                count += 1;
            }
            return Ok((energy, count));
        }
        at += 8 + size + (size & 1);
    }
    Err(bad("no data chunk"))
}

/// Per model and mode (host schedule), the figures over every clip: each stem's mean SDR over
/// the clips where it has a non-silent reference, each clip's mean over those stems, `mean`
/// (the mean of the clip means) and `min_clip_mean`, and the silent stems' leakage beside them.
fn means_over_clips(rows: &[Row]) -> Vec<Value> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rows {
        let key = (r.model.clone(), r.mode.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let mean = |v: &[f64]| if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
    let rounded = |x: f64| if x.is_finite() { json!((x * 100.0).round() / 100.0) } else { Value::Null };
    keys.into_iter()
        .map(|(model, mode)| {
            let group: Vec<&Row> = rows.iter().filter(|r| r.model == model && r.mode == mode).collect();
            let mut per_stem: Vec<(&str, Vec<f64>)> = STEMS.iter().map(|s| (*s, Vec::new())).collect();
            let mut clips = serde_json::Map::new();
            let mut clip_means = Vec::new();
            let mut leakage = serde_json::Map::new();
            for r in &group {
                let mut figures = serde_json::Map::new();
                let mut scored = Vec::new();
                for (stem, values) in per_stem.iter_mut() {
                    if r.leakage.contains_key(*stem) {
                        continue;
                    }
                    if let Some(sdr) = sdr_value(&r.scores["sdr"][*stem]["sdr"]) {
                        values.push(sdr);
                        scored.push(sdr);
                        figures.insert((*stem).to_owned(), rounded(sdr));
                    }
                }
                if !scored.is_empty() {
                    let m = mean(&scored);
                    clip_means.push(m);
                    figures.insert("mean".to_owned(), rounded(m));
                    clips.insert(r.clip.clone(), Value::Object(figures));
                }
                if !r.leakage.is_empty() {
                    leakage.insert(r.clip.clone(), Value::Object(r.leakage.clone()));
                }
            }
            let stems: serde_json::Map<String, Value> = per_stem
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(s, v)| ((*s).to_owned(), rounded(mean(v))))
                .collect();
            let min = clip_means.iter().copied().fold(f64::INFINITY, f64::min);
            json!({ "model": model, "mode": mode, "clip_count": clip_means.len(), "stems": stems,
                    "clips": clips, "mean": rounded(mean(&clip_means)), "min_clip_mean": rounded(min),
                    "leakage_db": leakage })
        })
        .collect()
}

/// A finite SDR from `sift eval`'s JSON (a number; `"inf"`, `"-inf"` and `"nan"` are not).
fn sdr_value(value: &Value) -> Option<f64> {
    value.as_f64().filter(|x| x.is_finite())
}

/// The means over the clips (Markdown): a row per model and mode.
fn print_means(means: &[Value]) {
    println!();
    println!(
        "Mean over the clips (host schedule; global SDR in dB; a silent reference stem is scored as leakage, \
         the estimate's energy against the mixture's, and left out of the means):"
    );
    println!();
    let stems: Vec<&str> = STEMS.into_iter().filter(|s| means.iter().any(|m| m["stems"].get(*s).is_some())).collect();
    let header: Vec<String> = ["model", "mode", "clips"]
        .iter()
        .map(|s| s.to_string())
        .chain(stems.iter().map(|s| s.to_string()))
        .chain(["mean of clip means", "lowest clip mean", "silent stems' leakage (dB)"].iter().map(|s| s.to_string()))
        .collect();
    println!("| {} |", header.join(" | "));
    println!("|{}", " --- |".repeat(header.len()));
    for m in means {
        let mut cells = vec![
            m["model"].as_str().unwrap_or("").to_owned(),
            m["mode"].as_str().unwrap_or("").to_owned(),
            m["clip_count"].to_string(),
        ];
        cells.extend(stems.iter().map(|s| figure(&m["stems"][*s])));
        cells.push(figure(&m["mean"]));
        cells.push(figure(&m["min_clip_mean"]));
        let leakage: Vec<String> = m["leakage_db"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(clip, stems)| {
                stems.as_object().into_iter().flatten().map(move |(stem, db)| format!("{clip} {stem} {}", figure(db)))
            })
            .collect();
        cells.push(if leakage.is_empty() { "–".to_owned() } else { leakage.join(", ") });
        println!("| {} |", cells.join(" | "));
    }
}

/// Runs `cmd` (its stderr passed through: progress and warnings) and parses the last line of
/// its standard output, where every `sift` command puts its JSON.
fn last_json_line(cmd: &mut std::process::Command) -> Result<Value> {
    let shown = format!("`{}`", crate::process::display(cmd));
    println!("    $ {}", crate::process::display(cmd));
    let output = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("could not start {shown}: build it with `cargo build --release -p sift-cli`"))?;
    if !output.status.success() {
        bail!("{shown} failed ({}): see its message above", output.status);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).with_context(|| format!("{shown} printed no JSON"))?;
    serde_json::from_str(line).with_context(|| format!("{shown} printed unreadable JSON: {line}"))
}

/// The tables (Markdown, so they can go into the README as they are): what each mode gives and
/// costs in a host, one row per model, mode and clip, each stem's global SDR with the 1 s median
/// in brackets; then the file renders whose schedule differs from the host's.
fn print_table(rows: &[Row], threads: &str) {
    let stems: Vec<&str> =
        STEMS.into_iter().filter(|s| rows.iter().any(|r| r.scores["sdr"].get(*s).is_some())).collect();
    let stem_cells = |scores: &Value, leakage: &serde_json::Map<String, Value>| -> Vec<String> {
        stems
            .iter()
            .map(|stem| {
                let score = &scores["sdr"][*stem];
                if let Some(db) = leakage.get(*stem) {
                    format!("silent: leakage {} dB", figure(db))
                } else if score.is_null() {
                    "–".to_owned()
                } else {
                    format!("{} ({})", figure(&score["sdr"]), figure(&score["median_framewise_sdr"]))
                }
            })
            .collect()
    };
    let print_header = |first: &[&str]| {
        let header: Vec<String> =
            first.iter().map(|s| s.to_string()).chain(stems.iter().map(|s| s.to_string())).collect();
        println!("| {} |", header.join(" | "));
        println!("|{}", " --- |".repeat(header.len()));
    };
    let rtf = |report: &Value| format!("{:.2}", report["rtf"].as_f64().unwrap_or(f64::NAN));

    println!();
    println!(
        "In a host ({HOST_BLOCK}-sample blocks): SDR in dB (global, 1 s median in brackets); real-time factor \
         offline with {threads} threads in the host schedule and as a file render (`sift separate`)"
    );
    println!();
    print_header(&["model", "mode", "clip", "latency ms", "RTF host", "RTF file"]);
    for r in rows {
        let mut cells = vec![
            r.model.clone(),
            r.mode.clone(),
            r.clip.clone(),
            format!("{:.1}", r.report["latency_ms"].as_f64().unwrap_or(f64::NAN)),
            rtf(&r.report),
            rtf(&r.file_report),
        ];
        cells.extend(stem_cells(&r.scores, &r.leakage));
        println!("| {} |", cells.join(" | "));
    }

    let differing: Vec<&Row> =
        rows.iter().filter(|r| r.file_report["schedule"]["same_as_host"] != json!(true)).collect();
    if !differing.is_empty() {
        println!();
        println!("File renders (`sift separate`, throughput schedule) where it differs from the host's:");
        println!();
        print_header(&["model", "mode", "clip", "window / new / look-ahead frames"]);
        for r in differing {
            let schedule = &r.file_report["schedule"];
            let mut cells = vec![
                r.model.clone(),
                r.mode.clone(),
                r.clip.clone(),
                format!(
                    "{} / {} / {}",
                    schedule["window_frames"], schedule["new_frames"], schedule["lookahead_frames"]
                ),
            ];
            cells.extend(stem_cells(&r.file_scores, &r.file_leakage));
            println!("| {} |", cells.join(" | "));
        }
    }
}

/// A score as `sift eval` writes it: a number, or `"inf"`/`"-inf"`/`"nan"`, or null.
fn figure(value: &Value) -> String {
    match value {
        Value::Number(n) => format!("{:.2}", n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => s.clone(),
        _ => "–".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV file of `samples` (interleaved) as 16-bit PCM or 32-bit float.
    fn write_wav(path: &Path, samples: &[f32], float: bool) {
        let (tag, bits): (u16, u16) = if float { (3, 32) } else { (1, 16) };
        let data: Vec<u8> = samples
            .iter()
            .flat_map(|&x| {
                if float {
                    x.to_le_bytes().to_vec()
                } else {
                    ((x * 32768.0).round().clamp(-32768.0, 32767.0) as i16).to_le_bytes().to_vec()
                }
            })
            .collect();
        let mut bytes = b"RIFF".to_vec();
        bytes.extend((36 + data.len() as u32).to_le_bytes());
        bytes.extend(b"WAVEfmt ");
        bytes.extend(16u32.to_le_bytes());
        bytes.extend(tag.to_le_bytes());
        bytes.extend(2u16.to_le_bytes()); // channels
        bytes.extend(44100u32.to_le_bytes());
        bytes.extend((44100 * 2 * u32::from(bits / 8)).to_le_bytes());
        bytes.extend((2 * (bits / 8)).to_le_bytes());
        bytes.extend(bits.to_le_bytes());
        bytes.extend(b"data");
        bytes.extend((data.len() as u32).to_le_bytes());
        bytes.extend(data);
        std::fs::write(path, bytes).unwrap();
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-eval-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn wav_energy_reads_integer_and_float_files_alike() {
        let dir = temp_dir("energy");
        let samples: Vec<f32> = (0..2000).map(|i| 0.5 * ((i as f32) * 0.01).sin()).collect();
        let expected: f64 = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        write_wav(&dir.join("int.wav"), &samples, false);
        write_wav(&dir.join("float.wav"), &samples, true);
        for name in ["int.wav", "float.wav"] {
            let (energy, count) = wav_energy(&dir.join(name)).unwrap();
            assert_eq!(count, 2000, "{name}");
            assert!((energy - expected).abs() < 1e-3 * expected, "{name}: {energy} against {expected}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_silent_reference_stem_is_scored_as_leakage_against_the_mixture() {
        let dir = temp_dir("leakage");
        let (clip, out) = (dir.join("clip"), dir.join("out"));
        std::fs::create_dir_all(&clip).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        let mixture: Vec<f32> = (0..4000).map(|i| 0.4 * ((i as f32) * 0.03).sin()).collect();
        write_wav(&clip.join("mixture.wav"), &mixture, true);
        write_wav(&clip.join("drums.wav"), &vec![0.0; 4000], false);
        write_wav(&clip.join("bass.wav"), &mixture, false);
        // the drums estimate a tenth of the mixture's amplitude: a hundredth of its energy
        let tenth: Vec<f32> = mixture.iter().map(|x| x * 0.1).collect();
        write_wav(&out.join("drums.wav"), &tenth, true);
        write_wav(&out.join("bass.wav"), &mixture, true);
        let scores = json!({ "sdr": { "drums": { "sdr": "-inf" }, "bass": { "sdr": 30.0 } } });
        let leakage = silent_stem_leakage(&clip, &out, &scores).unwrap();
        assert_eq!(leakage.keys().collect::<Vec<_>>(), ["drums"]);
        assert!((leakage["drums"].as_f64().unwrap() + 20.0).abs() < 0.01, "{leakage:?}");
        assert_eq!(leakage_db(0.0, 1.0), LEAKAGE_FLOOR_DB);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn row(clip: &str, sdr: Value, leakage: Value) -> Row {
        Row {
            model: "m".into(),
            licence: String::new(),
            mode: "live".into(),
            clip: clip.into(),
            report: Value::Null,
            scores: json!({ "sdr": sdr }),
            file_report: Value::Null,
            file_scores: Value::Null,
            leakage: leakage.as_object().unwrap().clone(),
            file_leakage: serde_json::Map::new(),
        }
    }

    #[test]
    fn the_mean_is_over_every_clip_and_leaves_silent_stems_out() {
        let rows = [
            row("a", json!({ "vocals": { "sdr": 4.0 }, "drums": { "sdr": 2.0 } }), json!({})),
            row("b", json!({ "vocals": { "sdr": 6.0 }, "drums": { "sdr": "-inf" } }), json!({ "drums": -12.5 })),
        ];
        let means = means_over_clips(&rows);
        assert_eq!(means.len(), 1);
        let m = &means[0];
        assert_eq!(m["clip_count"], json!(2));
        assert_eq!(m["stems"]["vocals"], json!(5.0)); // over both clips
        assert_eq!(m["stems"]["drums"], json!(2.0)); // clip b's silent drums left out
        assert_eq!(m["clips"]["a"]["mean"], json!(3.0));
        assert_eq!(m["clips"]["b"]["mean"], json!(6.0));
        assert_eq!(m["mean"], json!(4.5)); // the mean of the clip means, not of clip a alone
        assert_eq!(m["min_clip_mean"], json!(3.0));
        assert_eq!(m["leakage_db"]["b"]["drums"], json!(-12.5));
    }
}
