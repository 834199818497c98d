//! Test fixtures shared by Sift's test crates (engine, command line, plugin, CLAP host), so
//! each exists once: stand-in models with known behaviour, the eval clip's location, a small
//! seeded random generator and test signals, signal measures, and the plugin's bus names.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sift_engine::{InferenceFailure, MaskModel, ModelSpec, Streaming};

/// The grid and stems of the default Spleeter model.
pub fn spleeter_spec() -> ModelSpec {
    ModelSpec { name: "stand-in".into(), ..ModelSpec::default_grid() }
}

/// What a [`StandIn`] model does.
#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Masks that depend on the input in an arbitrary but deterministic way.
    Scrambled,
    /// Everything to the first stem (which is not the residual).
    AllToFirst,
    /// Masks that depend on each bin's magnitude in its own frame only, not on the frame's
    /// place in the window: any schedule gives the same stems.
    FrameLocal,
}

/// A model with known behaviour that needs no runtime, optionally slow or failing.
pub struct StandIn {
    pub spec: ModelSpec,
    pub behaviour: Behaviour,
    /// Every `slow_every`-th run sleeps `slow_for` first (0: never).
    pub slow_every: usize,
    pub slow_for: Duration,
    /// Every `fail_every`-th run fails (0: never).
    pub fail_every: usize,
    /// Every `panic_every`-th run panics (0: never).
    pub panic_every: usize,
    pub runs: usize,
}

impl StandIn {
    pub fn new(behaviour: Behaviour) -> Self {
        Self {
            spec: spleeter_spec(),
            behaviour,
            slow_every: 0,
            slow_for: Duration::ZERO,
            fail_every: 0,
            panic_every: 0,
            runs: 0,
        }
    }
}

impl MaskModel for StandIn {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn provider(&self) -> &str {
        "stand-in"
    }

    fn infer(&mut self, magnitude: &[f32], _frames: usize, masks: &mut [f32]) -> Result<(), InferenceFailure> {
        self.runs += 1;
        if self.slow_every > 0 && self.runs.is_multiple_of(self.slow_every) {
            std::thread::sleep(self.slow_for);
        }
        if self.panic_every > 0 && self.runs.is_multiple_of(self.panic_every) {
            panic!("injected panic");
        }
        if self.fail_every > 0 && self.runs.is_multiple_of(self.fail_every) {
            return Err(InferenceFailure("injected failure".into()));
        }
        let half = masks.len() / 2;
        let (first, second) = masks.split_at_mut(half);
        for (i, (a, b)) in first.iter_mut().zip(second.iter_mut()).enumerate() {
            let m = magnitude[i % magnitude.len()];
            (*a, *b) = match self.behaviour {
                Behaviour::Scrambled => {
                    let v = 0.5 + 0.5 * (m * 3.7 + i as f32 * 0.01).sin();
                    (v, 1.0 - v * 0.5)
                }
                Behaviour::AllToFirst => (1.0, 0.0),
                Behaviour::FrameLocal => {
                    let v = 0.5 + 0.5 * (m * 3.7).sin();
                    (v, 1.0 - v)
                }
            };
        }
        Ok(())
    }
}

/// A streaming stand-in with recurrent state whose masks are known in closed form, for the
/// engine's guarantees with stateful models (the `stream-smoother` test model computes the same
/// with `lookahead` 0 and one frame per run).
///
/// On a 1024/256 grid with every bin (513). For each input frame `t` it updates a one-pole
/// smoother `s ← (s + |X_t|) / 2` per channel and bin, and returns, for frame `t − lookahead`,
/// vocals `s` and accompaniment `|X_{t − lookahead}|` (zero before the stream began).
pub struct Recurrent {
    pub spec: ModelSpec,
    /// The smoother, `[channel][bin]`.
    smooth: Vec<f32>,
    /// The last `lookahead + 1` input frames, `[frame][channel][bin]`, a ring indexed by frame.
    recent: Vec<f32>,
    /// Frames seen since the last reset.
    seen: usize,
    /// Calls to [`MaskModel::reset`] so far (shared, so a test can watch a model the engine owns).
    pub resets: Arc<AtomicUsize>,
}

impl Recurrent {
    pub const BINS: usize = 513;

    pub fn new(frames_per_run: usize, lookahead: usize) -> Self {
        let spec = ModelSpec {
            name: "recurrent-stand-in".into(),
            n_fft: 1024,
            hop: 256,
            bins: Self::BINS,
            frame_multiple: frames_per_run,
            streaming: Some(Streaming { frames_per_run, lookahead }),
            ..ModelSpec::default_grid()
        };
        Self {
            spec,
            smooth: vec![0.0; 2 * Self::BINS],
            recent: vec![0.0; (lookahead + 1) * 2 * Self::BINS],
            seen: 0,
            resets: Arc::default(),
        }
    }
}

impl MaskModel for Recurrent {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn provider(&self) -> &str {
        "stand-in"
    }

    fn infer(&mut self, magnitude: &[f32], frames: usize, masks: &mut [f32]) -> Result<(), InferenceFailure> {
        let bins = Self::BINS;
        let depth = self.recent.len() / (2 * bins);
        let lookahead = depth - 1;
        for f in 0..frames {
            let t = self.seen;
            for ch in 0..2 {
                let x = &magnitude[(ch * frames + f) * bins..][..bins];
                let ring = &mut self.recent[((t % depth) * 2 + ch) * bins..][..bins];
                ring.copy_from_slice(x);
                let smooth = &mut self.smooth[ch * bins..][..bins];
                for (s, &x) in smooth.iter_mut().zip(x) {
                    *s = 0.5 * *s + 0.5 * x;
                }
                let vocals = &mut masks[(ch * frames + f) * bins..][..bins];
                vocals.copy_from_slice(smooth);
                let own = &mut masks[((2 + ch) * frames + f) * bins..][..bins];
                if t >= lookahead {
                    own.copy_from_slice(&self.recent[(((t - lookahead) % depth) * 2 + ch) * bins..][..bins]);
                } else {
                    own.fill(0.0);
                }
            }
            self.seen += 1;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.smooth.fill(0.0);
        self.recent.fill(0.0);
        self.seen = 0;
        self.resets.fetch_add(1, Ordering::Relaxed);
    }
}

/// The plugin's output buses in order: the remix on the main output, then the five stem roles.
pub const BUSES: [&str; 6] = ["Remix", "Vocals", "Drums", "Bass", "Other", "Extra"];

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `$variable` where it is set, else `default` under the repository: how the tests find what
/// `cargo xtask` built or laid out, and what a developer may point elsewhere.
pub fn path_from_env_or(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable).map(PathBuf::from).unwrap_or_else(|| repo_root().join(default))
}

/// The folder of real multitrack clips (`$SIFT_EVAL_DIR`, else `../shared/eval` beside the
/// repository).
pub fn eval_dir() -> PathBuf {
    path_from_env_or("SIFT_EVAL_DIR", "../shared/eval")
}

/// The real eval clip used by the quality tests: a folder with `mixture.wav` and the four
/// reference stems.
///
/// # Panics
/// If the clip is not there, saying where it was looked for.
pub fn rock_clip() -> PathBuf {
    let clip = eval_dir().join("musdb18-preview-80s-rock");
    assert!(clip.join("mixture.wav").is_file(), "eval clip not found at {} (set SIFT_EVAL_DIR)", clip.display());
    clip
}

/// The Windows download's folder (`$SIFT_WINDOWS_BUNDLE`, else `target/bundled/windows`).
///
/// # Panics
/// If it has not been built, saying with what.
pub fn windows_bundle() -> PathBuf {
    let dir = path_from_env_or("SIFT_WINDOWS_BUNDLE", "target/bundled/windows");
    assert!(
        dir.join("sift.exe").is_file(),
        "the Windows build is not at {} (run `cargo xtask bundle --target windows`)",
        dir.display()
    );
    dir
}

/// `program` (a Windows executable) under Wine, in the test prefix that `cargo xtask test`
/// prepares (`$SIFT_WINEPREFIX`, else `target/wine/prefix`), quiet.
///
/// # Panics
/// If the prefix has not been prepared.
pub fn wine(program: &Path) -> Command {
    let prefix = path_from_env_or("SIFT_WINEPREFIX", "target/wine/prefix");
    assert!(
        prefix.join("drive_c/windows/system32/bcryptprimitives.dll").is_file(),
        "no Wine prefix for the tests at {} (`cargo xtask test` prepares it)",
        prefix.display()
    );
    let mut cmd = Command::new("/usr/lib/wine/wine64");
    cmd.arg(program).env("WINEPREFIX", prefix).env("WINEDEBUG", "-all").env("WINEDLLOVERRIDES", "mscoree,mshtml=");
    cmd
}

/// `path` as a Windows program under Wine names it: on drive `Z:`, which Wine maps to `/`.
pub fn wine_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap();
    format!("Z:{}", absolute.display()).replace('/', "\\")
}

/// Small valid and broken models from `model/make_test_models.py`, built once per test process
/// into a folder of its own (test binaries of different crates may run at the same time), or
/// the folder `$SIFT_TEST_MODELS` where they were built already (the Windows tests under Wine,
/// which cannot run the project's Linux Python).
///
/// # Panics
/// If the project's Python environment is missing (`cargo xtask setup` makes it) or the script
/// fails.
pub fn test_models() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(built) = std::env::var_os("SIFT_TEST_MODELS") {
            return PathBuf::from(built);
        }
        let dir = std::env::temp_dir().join(format!("sift-test-models-{}", std::process::id()));
        let python = repo_root().join(".venv/bin/python");
        let status = Command::new(&python)
            .arg(repo_root().join("model/make_test_models.py"))
            .arg(&dir)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {} (run `cargo xtask setup`): {e}", python.display()));
        assert!(status.success());
        dir
    })
}

/// A small deterministic random generator (xorshift64), seeded, for test signals and block sizes.
pub struct Rng(u64);

impl Rng {
    /// A generator; seed 0 is replaced by 1 (xorshift would stay at 0).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// Uniform in `-0.5..0.5`.
    pub fn centred(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

/// Peak of `a - b` over all channels, in dB relative to full scale.
pub fn peak_difference_db(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    let peak = a.iter().zip(b).flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs())).fold(0.0f32, f32::max);
    20.0 * (peak.max(1e-30) as f64).log10()
}

/// Global signal-to-distortion ratio of `estimate` against `reference` (both
/// `[channel][sample]`) over the samples `range` of every channel, in dB:
/// `10·log10(Σ reference² / Σ (reference − estimate)²)`, as the eval clips' READMEs define it
/// (a floor of 1e-12 on both sums keeps silence and exact copies finite).
pub fn sdr_db(reference: &[Vec<f32>], estimate: &[Vec<f32>], range: std::ops::Range<usize>) -> f64 {
    let (mut signal, mut error) = (1e-12f64, 1e-12f64);
    for (r, e) in reference.iter().zip(estimate) {
        for i in range.clone() {
            signal += f64::from(r[i]).powi(2);
            error += f64::from(r[i] - e[i]).powi(2);
        }
    }
    10.0 * (signal / error).log10()
}

/// Sums the stems of a render, channel by channel.
pub fn sum_stems(stems: &[Vec<Vec<f32>>]) -> Vec<Vec<f32>> {
    let mut sum = stems[0].clone();
    for stem in &stems[1..] {
        for (s, ch) in sum.iter_mut().zip(stem) {
            s.iter_mut().zip(ch).for_each(|(a, b)| *a += b);
        }
    }
    sum
}

/// A few seconds of stereo noise shaped like music (pink-ish, uncorrelated channels), seeded.
pub fn test_signal(frames: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed | 1);
    let mut next = move || rng.centred();
    (0..2)
        .map(|_| {
            let mut low = 0.0f32;
            (0..frames)
                .map(|i| {
                    low = 0.99 * low + 0.05 * next();
                    0.3 * low + 0.1 * next() + 0.2 * (i as f32 * 0.031).sin()
                })
                .collect()
        })
        .collect()
}
