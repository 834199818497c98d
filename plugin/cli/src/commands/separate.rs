//! `sift separate`.

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::audio_file::{self, Audio};
use sift_engine::{Engine, EngineConfig, HOST_RATES};
use sift_inference::{catalogue, OnnxModel, SessionOptions};
use sift_engine::render::{self, Blocks};

use super::SeparateArgs;

pub fn run(args: &SeparateArgs) -> anyhow::Result<()> {
    if args.block == 0 {
        bail!("--block must be at least 1 sample");
    }
    let input = audio_file::read(&args.input)?;
    let channels = input.channels.len();
    if !(1..=2).contains(&channels) {
        bail!("{}: {channels} channels; Sift separates mono or stereo audio (downmix it first)", args.input.display());
    }
    if !HOST_RATES.contains(&input.sample_rate) {
        bail!("{}: sample rate {} Hz; Sift runs at 1 to 768 kHz", args.input.display(), input.sample_rate);
    }
    let path = catalogue::resolve(args.model.as_deref(), sift_inference::binary_location::binary_dir().as_deref())?;
    let model = OnnxModel::load(&path, &SessionOptions::default().intra_threads(args.threads))?;
    let config = EngineConfig::new(input.sample_rate, args.block)
        .mode(args.mode)
        .realtime(args.realtime)
        .extension(args.mask_extension);
    let (engine, mut processor) = Engine::start(Box::new(model), config)?;

    let progress = ProgressBar::new(input.frames() as u64);
    progress.set_style(
        ProgressStyle::with_template("{spinner} separating [{bar:40}] {percent}% {elapsed_precise} eta {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    let rendered = render::render(&mut processor, &input.channels, input.sample_rate, &Blocks::Fixed(args.block), args.realtime, |done| {
        progress.set_position(done as u64)
    });
    progress.finish_and_clear();

    std::fs::create_dir_all(&args.output).with_context(|| format!("creating {}", args.output.display()))?;
    let spec = engine.spec();
    for (name, channels) in spec.stems.iter().zip(rendered.stems) {
        let path = args.output.join(format!("{name}.wav"));
        audio_file::write_wav(&path, &Audio { sample_rate: input.sample_rate, channels })?;
    }
    let seconds = input.seconds();
    let mut runs: Vec<u32> = engine.shared().recent_runs();
    runs.sort_unstable();
    let percentile = |p: f64| runs.get(((runs.len() as f64 - 1.0) * p).round() as usize).map(|&us| us as f64 / 1000.0);
    let latency = engine.latency();
    let shared = engine.shared();
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
    let report = json!({
        "model": spec.name,
        "stems": spec.stems,
        "mode": args.mode.name(),
        "latency_samples": latency.samples,
        "latency_ms": (latency.millis() * 10.0).round() / 10.0,
        "sample_rate": input.sample_rate,
        "channels": channels,
        "seconds": seconds,
        "block": args.block,
        "realtime": args.realtime,
        "rtf": rendered.elapsed.as_secs_f64() / seconds.max(f64::MIN_POSITIVE),
        "deadline_misses": load(&shared.deadline_misses),
        "missed_samples": rendered.missed_samples,
        "model_runs": load(&shared.model_runs),
        "model_failures": load(&shared.model_failures),
        "run_ms_median": percentile(0.5),
        "run_ms_p99": percentile(0.99),
        "run_budget_ms": (latency.budget as f64 * 1000.0 / input.sample_rate as f64),
        "threads": args.threads,
        "provider": engine.provider(),
        "output": args.output,
    });
    println!("{report}");
    Ok(())
}
