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
                let separate = |schedule: &str| -> Result<(Value, Value)> {
                    let out = work.join(&model_name).join(mode).join(schedule).join(&clip_name);
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
                let (report, scores) = if file_report["schedule"]["same_as_host"] == json!(true) {
                    (file_report.clone(), file_scores.clone())
                } else {
                    separate("host")?
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
                    "file_render": { "separate": r.file_report, "sdr": r.file_scores["sdr"] } })
        })
        .collect();
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    std::fs::write(&results, serde_json::to_string_pretty(&figures)?)
        .with_context(|| format!("writing {}", results.display()))?;
    println!("==> figures in {}", results.display());

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
    let stem_cells = |scores: &Value| -> Vec<String> {
        stems
            .iter()
            .map(|stem| {
                let score = &scores["sdr"][*stem];
                if score.is_null() {
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
        cells.extend(stem_cells(&r.scores));
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
            cells.extend(stem_cells(&r.file_scores));
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
