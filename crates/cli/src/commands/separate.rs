//! `sift separate`: decode, separate and write as it goes, so memory does not depend on the
//! file's length (a 1-hour mix needs what a 30 s clip does).

use std::time::{Duration, Instant};

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::audio_file::{self, Decoder, WavStreamWriter};
use crate::statistics::Spread;
use sift_engine::{AudioProcessor, Engine, EngineConfig, MaskModel, Stalling, HOST_RATES};
use sift_inference::{catalogue, Model, SessionOptions};

use super::output::{self, PartialStems, Plan};
use super::{signals, ScheduleChoice, SeparateArgs};

/// The largest `--block`: far above any host's, and small enough that the engine's buffers
/// stay a few MiB.
pub const MAX_BLOCK: usize = 65_536;

pub fn run(args: &SeparateArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let block = usize::try_from(args.block).unwrap_or(usize::MAX);
    if !(1..=MAX_BLOCK).contains(&block) {
        bail!("--block {}: the block size must be 1 to {MAX_BLOCK} samples", args.block);
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if !(1..=cores).contains(&args.threads) {
        bail!("--threads {}: this machine has {cores} cores; use 1 to {cores}", args.threads);
    }
    if let Some(model) = args.model.as_deref().map(std::path::Path::new).filter(|m| m.is_dir()) {
        bail!(
            "--model {}: is a folder; pass an .onnx file or the name of an installed model (`sift models` lists them)",
            model.display()
        );
    }
    // Cheap checks first: a bad input or output folder fails in milliseconds, before the model
    // loads.
    let mut decoder = Decoder::open(&args.input)?;
    let mut warned = 0;
    print_new_warnings(&decoder, &mut warned);
    let (sample_rate, channels) = (decoder.sample_rate(), decoder.channels());
    if !(1..=2).contains(&channels) {
        bail!("{}: {channels} channels; Sift separates mono or stereo audio (downmix it first)", args.input.display());
    }
    if !HOST_RATES.contains(&sample_rate) {
        bail!("{}: sample rate {sample_rate} Hz; Sift runs at 1 to 768 kHz", args.input.display());
    }
    let out_dir = output::prepare(&args.output)?;
    let frames_hint = decoder.frames_hint();
    if let Some(frames) = frames_hint {
        WavStreamWriter::check_fits(&args.input, frames, channels)?;
    }

    let binary_dir = sift_inference::locations::binary_dir();
    let path = catalogue::resolve_for(args.model.as_deref(), args.mode, binary_dir.as_deref())?;
    let model = Model::load(&path, &SessionOptions::default().intra_threads(args.threads).device(args.device))?;
    let fallback = model.provider_fallback().map(str::to_owned);
    if let Some(reason) = &fallback {
        audio_file::warn(&format!("--device {}: {reason}", args.device.name()));
    }
    let model: Box<dyn MaskModel> = match args.stall {
        Some(pattern) => Box::new(Stalling::new(Box::new(model), pattern)),
        None => Box::new(model),
    };
    let throughput = !args.realtime && args.schedule == ScheduleChoice::Throughput;
    let config = EngineConfig::new(sample_rate, block)
        .mode(args.mode)
        .realtime(args.realtime)
        .fit_to_machine(args.realtime)
        .throughput(throughput)
        .extension(args.mask_extension);
    let (engine, mut processor) = Engine::start(model, config)?;
    let spec = engine.spec().clone();
    if let sift_engine::Scheduling::Refused { reason } = engine.worker_scheduling() {
        audio_file::warn(&format!("the separation thread runs at normal priority: {reason}"));
    }

    let plan = Plan::new(&out_dir, &spec.stems, &args.input, args.force)?;
    if let Some(frames) = frames_hint {
        output::check_space(&out_dir, frames * channels as u64 * 4 * spec.stems.len() as u64)?;
    }
    signals::check()?;
    let stems = PartialStems::create(plan, sample_rate, channels)?;

    let progress = match frames_hint {
        Some(frames) => ProgressBar::new(frames).with_style(
            ProgressStyle::with_template("{spinner} separating [{bar:40}] {percent}% {elapsed_precise} eta {eta}")
                .expect("static template")
                .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner(),
    };
    let mut pipeline = Pipeline::new(&mut processor, stems, channels, block, sample_rate, args.realtime);
    let result = pipeline.run(&mut decoder, &progress);
    progress.finish_and_clear();
    result?;
    print_new_warnings(&decoder, &mut warned);
    let Pipeline { stems, input_frames, missed_samples, concealed_samples, non_finite, elapsed, .. } = pipeline;

    if non_finite > 0 {
        audio_file::warn(&format!(
            "{}: {non_finite} samples were not finite (NaN or infinity) and were replaced by silence",
            args.input.display()
        ));
    }
    let seconds = input_frames as f64 / f64::from(sample_rate);
    let shared = engine.shared();
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
    let deadline_misses = load(&shared.deadline_misses);
    let output_samples = input_frames + processor.latency() as u64;
    let residual = spec.stems.get(spec.residual).map_or("residual", String::as_str);
    if missed_samples > 0 {
        let percent = |samples: u64| 100.0 * samples as f64 / output_samples.max(1) as f64;
        let dry = missed_samples - concealed_samples;
        let outcome = if dry == 0 {
            "all were separated with the last masks the model gave (concealed)".to_owned()
        } else {
            format!(
                "{concealed_samples} were separated with the last masks the model gave (concealed), {dry} ({:.1} %) fell back to the unseparated input in the `{residual}` stem",
                percent(dry),
            )
        };
        audio_file::warn(&format!(
            "{deadline_misses} blocks missed their deadline: {missed_samples} of {output_samples} samples ({:.1} %) came late from the model; {outcome}; \
             try a slower --mode, more --threads, or run without --realtime",
            percent(missed_samples),
        ));
    }
    let (run_count, failures, unusable) =
        (load(&shared.model_runs), load(&shared.model_failures), load(&shared.unusable_runs));
    if failures > 0 {
        audio_file::warn(&format!(
            "{failures} of {run_count} model runs failed: their frames are unseparated, in the `{residual}` stem"
        ));
    }
    if unusable > 0 {
        audio_file::warn(&format!(
            "the model gave NaN or infinite values in {unusable} of {run_count} runs: those bins are unseparated, in the \
             `{residual}` stem (a broken model file?)"
        ));
    }
    let runs = Spread::of(shared.recent_runs().into_iter().map(|us| f64::from(us) / 1000.0).collect());
    // The latency of the mode as a host runs it; offline the engine ran the throughput schedule
    // (the mode's context, many more new frames per run), whose longer latency was removed.
    let latency = engine.latency_in(args.mode);
    let schedule = engine.schedule();
    let mut report = json!({
        "model": spec.name,
        "stems": spec.stems,
        "mode": args.mode.name(),
        "latency_samples": latency.samples,
        "latency_ms": (latency.millis() * 10.0).round() / 10.0,
        "sample_rate": sample_rate,
        "channels": channels,
        "seconds": seconds,
        "block": block,
        "realtime": args.realtime,
        "rtf": elapsed.as_secs_f64() / seconds.max(f64::MIN_POSITIVE),
        "deadline_misses": deadline_misses,
        "missed_samples": missed_samples,
        "concealed_samples": concealed_samples,
        "non_finite_samples": non_finite,
        "model_runs": run_count,
        "model_failures": failures,
        "runs_with_unusable_values": unusable,
        "run_ms_median": runs.map(|r| r.median),
        "run_ms_p99": runs.map(|r| r.p99),
        "run_budget_ms": (latency.budget as f64 * 1000.0 / f64::from(sample_rate)),
        "schedule": {
            "kind": if throughput { "throughput" } else { "host" },
            "window_frames": schedule.window,
            "new_frames": schedule.new,
            "lookahead_frames": schedule.lookahead,
            // Whether the output is exactly a host's (a DAW bounce through the plugin): true for
            // models whose throughput schedule is the host's (streaming, fixed-segment).
            "same_as_host": *schedule == args.mode.schedule(&spec).stretched(engine.stretch(args.mode)),
        },
        "threads": args.threads,
        "provider": engine.provider(),
        "device": args.device.name(),
        "provider_fallback": fallback,
        "worker_scheduling": engine.worker_scheduling().to_string(),
        "licence": spec.licence,
        "input": std::path::absolute(&args.input).unwrap_or_else(|_| args.input.clone()),
        "output": args.output,
        "peak_rss_mib": crate::memory::peak_rss_mib().map(|mib| (mib * 10.0).round() / 10.0),
        "wall_s": 0.0,
    });
    report["wall_s"] = json!((started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0);
    stems.commit(report.clone())?;
    println!("{report}");
    Ok(())
}

fn print_new_warnings(decoder: &Decoder, shown: &mut usize) {
    for warning in &decoder.warnings()[*shown..] {
        audio_file::warn(warning);
    }
    *shown = decoder.warnings().len();
}

/// Decoded input in, host-sized blocks through the engine, stems out to the files.
///
/// The engine sees the input followed by `latency` samples of silence, cut into blocks of
/// `block` samples (the last one shorter), exactly as a host bounce would; the first `latency`
/// output samples are dropped, so every stem lines up with the input and has its length.
struct Pipeline<'a> {
    processor: &'a mut AudioProcessor,
    stems: PartialStems,
    channels: usize,
    latency: u64,
    /// The block being filled, per channel.
    staged: Vec<Vec<f32>>,
    filled: usize,
    /// `[stem * channels + channel]` output of one block.
    block_out: Vec<Vec<f32>>,
    /// Frames passed to the engine (input and silence).
    processed: u64,
    input_frames: u64,
    missed_samples: u64,
    /// Of the missed samples, those the engine concealed with the last masks.
    concealed_samples: u64,
    non_finite: u64,
    sample_rate: u32,
    paced: bool,
    started: Instant,
    elapsed: Duration,
}

impl<'a> Pipeline<'a> {
    fn new(
        processor: &'a mut AudioProcessor,
        stems: PartialStems,
        channels: usize,
        block: usize,
        sample_rate: u32,
        paced: bool,
    ) -> Self {
        let stem_count = processor.stem_count();
        let latency = processor.latency() as u64;
        Pipeline {
            processor,
            stems,
            channels,
            latency,
            staged: vec![vec![0.0; block]; channels],
            filled: 0,
            block_out: vec![vec![0.0; block]; stem_count * channels],
            processed: 0,
            input_frames: 0,
            missed_samples: 0,
            concealed_samples: 0,
            non_finite: 0,
            sample_rate,
            paced,
            started: Instant::now(),
            elapsed: Duration::ZERO,
        }
    }

    fn run(&mut self, decoder: &mut Decoder, progress: &ProgressBar) -> anyhow::Result<()> {
        self.started = Instant::now();
        let block = self.staged[0].len();
        while let Some(frames) = decoder.next_frames()? {
            let len = frames[0].len();
            let mut offset = 0;
            while offset < len {
                let take = (block - self.filled).min(len - offset);
                for (stage, channel) in self.staged.iter_mut().zip(frames) {
                    let new = &channel[offset..offset + take];
                    self.non_finite += new.iter().filter(|x| !x.is_finite()).count() as u64;
                    stage[self.filled..self.filled + take].copy_from_slice(new);
                }
                self.filled += take;
                offset += take;
                if self.filled == block {
                    self.run_block(None)?;
                }
            }
            self.input_frames += len as u64;
            progress.set_position(self.input_frames);
        }
        // The tail: silence until the last input sample has come out.
        let end = self.input_frames + self.latency;
        while self.processed + (self.filled as u64) < end || self.filled > 0 {
            let take = ((block - self.filled) as u64).min(end - self.processed - self.filled as u64) as usize;
            for stage in &mut self.staged {
                stage[self.filled..self.filled + take].fill(0.0);
            }
            self.filled += take;
            self.run_block(Some(self.input_frames))?;
        }
        self.elapsed = self.started.elapsed();
        Ok(())
    }

    /// Runs the staged block through the engine and writes the output frames that belong to
    /// the input (`input_frames` is known once the input has ended).
    fn run_block(&mut self, input_frames: Option<u64>) -> anyhow::Result<()> {
        signals::check()?;
        let n = std::mem::take(&mut self.filled);
        let start = self.processed;
        if self.paced {
            let due = Duration::from_secs_f64(start as f64 / f64::from(self.sample_rate));
            if let Some(wait) = due.checked_sub(self.started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let ins: Vec<&[f32]> = self.staged.iter().map(|s| &s[..n]).collect();
        let mut outs: Vec<&mut [f32]> = self.block_out.iter_mut().map(|b| &mut b[..n]).collect();
        let report = self.processor.process(&ins, &mut outs);
        self.missed_samples += report.missed as u64;
        self.concealed_samples += report.concealed as u64;
        self.processed += n as u64;
        // Output sample `q` of the engine is input sample `q - latency`.
        let from = self.latency.saturating_sub(start).min(n as u64) as usize;
        let to = match input_frames {
            Some(total) => (total + self.latency).saturating_sub(start).min(n as u64) as usize,
            None => n,
        };
        if from < to {
            for (stem, outputs) in self.block_out.chunks(self.channels).enumerate() {
                let channels: Vec<&[f32]> = outputs.iter().map(|o| &o[from..to]).collect();
                self.stems.write(stem, &channels)?;
            }
        }
        Ok(())
    }
}
