//! What the editor shows about the running instance: level meters and status, shared through
//! atomics so the audio thread never waits for the editor (and the editor never for it).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

use nice_plug::prelude::AtomicF32;

use sift_engine::{Mode, Scheduling};
use sift_inference::InferenceError;

use super::roles::{Role, RoleMap};

/// Peak levels since the editor last looked, per role bus and for the main output (linear).
///
/// The audio thread raises each value to the block's peak ([`Meters::record`]); the editor takes
/// them with [`Meters::take`], which resets them, so no peak between two frames is lost.
pub struct Meters {
    roles: [AtomicF32; Role::COUNT],
    output: AtomicF32,
}

impl Default for Meters {
    fn default() -> Self {
        Self { roles: std::array::from_fn(|_| AtomicF32::new(0.0)), output: AtomicF32::new(0.0) }
    }
}

impl Meters {
    /// Records one block's peaks (audio thread: wait-free).
    pub fn record(&self, roles: &[f32; Role::COUNT], output: f32) {
        for (meter, &peak) in self.roles.iter().zip(roles) {
            meter.fetch_max(peak, Ordering::Relaxed);
        }
        self.output.fetch_max(output, Ordering::Relaxed);
    }

    /// The peaks since the last call, per role and for the output (editor).
    pub fn take(&self) -> ([f32; Role::COUNT], f32) {
        (std::array::from_fn(|i| self.roles[i].swap(0.0, Ordering::Relaxed)), self.output.swap(0.0, Ordering::Relaxed))
    }
}

/// The largest absolute sample of `channel` (NaN counts as silence).
pub fn peak(channel: &[f32]) -> f32 {
    channel.iter().fold(0.0f32, |peak, &s| peak.max(s.abs()))
}

/// What was loaded at the last activation, in words (main thread writes, editor reads).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelInfo {
    /// The model's name, empty when none is loaded.
    pub name: String,
    /// Its stems, in order.
    pub stems: Vec<String>,
    /// The model each stem comes from, where the model is composed of others
    /// ([`sift_engine::ModelSpec::stem_models`]); empty for a single model.
    pub stem_models: Vec<String>,
    /// Its licence.
    pub licence: String,
    /// The execution provider running it ("CPU", or "none" for the pass-through).
    pub provider: String,
    /// Why the model runs on the CPU although the Device parameter asked for another provider
    /// (`sift_inference::OnnxModel::provider_fallback`); `None` when it runs where asked.
    pub provider_fallback: Option<String>,
    /// How the worker thread is scheduled (see `sift_engine::priority`); `None` until activated.
    pub worker: Option<Scheduling>,
    /// Why Sift passes audio through unseparated, in a musician's words; `None` when separating.
    pub problem: Option<String>,
    /// The full technical reason behind `problem` (shown on hover).
    pub detail: String,
}

impl ModelInfo {
    /// What to show when Sift passes audio through unseparated: `why`, in a musician's words,
    /// and the technical `detail`.
    pub fn passing_through(why: &str, detail: String) -> Self {
        ModelInfo { problem: Some(format!("{why}; passing audio through unprocessed")), detail, ..ModelInfo::default() }
    }

    /// What to show for `spec` (and the file it came from), run by `provider`.
    pub fn of(spec: &sift_engine::ModelSpec, provider: &str) -> Self {
        ModelInfo {
            name: spec.name.clone(),
            stems: spec.stems.clone(),
            stem_models: spec.stem_models.clone(),
            licence: spec.licence.clone(),
            provider: provider.to_owned(),
            provider_fallback: None,
            worker: None,
            problem: None,
            detail: spec.origin.as_ref().map(|path| path.display().to_string()).unwrap_or_default(),
        }
    }

    /// For each role ([`Role::ALL`] order), the model its stems come from, where this model is
    /// composed of others; `None` for a single model (every stem is its own) and for a role no
    /// stem plays on. The stems are mapped to roles once for all of them.
    pub fn models_by_role(&self) -> [Option<&str>; Role::COUNT] {
        let roles = RoleMap::new(&self.stems);
        Role::ALL.map(|role| roles.stems(role).next().and_then(|first| self.stem_models.get(first)).map(String::as_str))
    }
}

/// The instance's state for the editor.
///
/// [`Status::model`] is filled on activation (main thread) behind a mutex that the audio thread
/// never touches; everything the audio thread updates is an atomic.
pub struct Status {
    /// Whether an engine is running (between activation and deactivation).
    pub active: AtomicBool,
    /// Bit `r` set: role `r` has a stem of the loaded model (see [`RoleMap`]).
    pub active_roles: AtomicU8,
    /// The loaded model, or why there is none.
    pub model: Mutex<ModelInfo>,
    /// The mode the running engine was built for (`Mode as u8`).
    pub running_mode: AtomicU8,
    /// Each mode's latency at the current rate, in milliseconds.
    pub latency_ms: [AtomicF32; Mode::COUNT],
    /// How long one model run may take before the audio thread misses a deadline, µs.
    pub budget_micros: AtomicU32,
    /// The host's sample rate, Hz.
    pub sample_rate: AtomicU32,
    /// The most recent model run, µs.
    pub recent_run_micros: AtomicU32,
    /// The longest model run since activation, µs.
    pub max_run_micros: AtomicU32,
    /// Deadline misses since activation (audio thread copies the engine's counter).
    pub deadline_misses: AtomicU64,
    /// Samples the model was late for that played unseparated (it stayed silent past the
    /// concealment's hold limit), since activation (audio thread copies the engine's counters).
    pub dry_samples: AtomicU64,
    /// The counts at the last press of the editor's Reset.
    pub misses_offset: AtomicU64,
    pub dry_offset: AtomicU64,
    /// Model runs since activation that failed, and that gave NaN or infinite values (audio
    /// thread copies the engine's counters): a broken model, whose frames or bins play
    /// unseparated.
    pub failed_runs: AtomicU64,
    pub unusable_runs: AtomicU64,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            active: AtomicBool::new(false),
            active_roles: AtomicU8::new(0),
            model: Mutex::new(ModelInfo::default()),
            running_mode: AtomicU8::new(Mode::Balanced as u8),
            latency_ms: std::array::from_fn(|_| AtomicF32::new(0.0)),
            budget_micros: AtomicU32::new(0),
            sample_rate: AtomicU32::new(0),
            recent_run_micros: AtomicU32::new(0),
            max_run_micros: AtomicU32::new(0),
            deadline_misses: AtomicU64::new(0),
            dry_samples: AtomicU64::new(0),
            misses_offset: AtomicU64::new(0),
            dry_offset: AtomicU64::new(0),
            failed_runs: AtomicU64::new(0),
            unusable_runs: AtomicU64::new(0),
        }
    }
}

impl Status {
    /// Publishes a fresh activation (main thread).
    pub fn activated(
        &self,
        info: ModelInfo,
        roles: &RoleMap,
        mode: Mode,
        latency_ms: [f32; Mode::COUNT],
        budget_micros: u32,
        sample_rate: u32,
    ) {
        if let Ok(mut model) = self.model.lock() {
            *model = info;
        }
        let mask = Role::ALL.iter().filter(|r| roles.is_active(**r)).fold(0u8, |m, r| m | 1 << *r as u8);
        self.active_roles.store(mask, Ordering::Relaxed);
        self.running_mode.store(mode as u8, Ordering::Relaxed);
        for (slot, ms) in self.latency_ms.iter().zip(latency_ms) {
            slot.store(ms, Ordering::Relaxed);
        }
        self.budget_micros.store(budget_micros, Ordering::Relaxed);
        self.sample_rate.store(sample_rate, Ordering::Relaxed);
        self.recent_run_micros.store(0, Ordering::Relaxed);
        self.max_run_micros.store(0, Ordering::Relaxed);
        // A new engine counts from zero.
        self.deadline_misses.store(0, Ordering::Relaxed);
        self.dry_samples.store(0, Ordering::Relaxed);
        self.misses_offset.store(0, Ordering::Relaxed);
        self.dry_offset.store(0, Ordering::Relaxed);
        self.failed_runs.store(0, Ordering::Relaxed);
        self.unusable_runs.store(0, Ordering::Relaxed);
        self.active.store(true, Ordering::Release);
    }

    /// Everything the editor shows about the instance, read once (one lock of the model's
    /// information, one load of each counter), so a frame draws one consistent picture.
    pub fn snapshot(&self) -> Snapshot {
        let running = Mode::ALL.get(self.running_mode.load(Ordering::Relaxed) as usize).copied();
        Snapshot {
            active: self.active.load(Ordering::Acquire),
            model: self.model.lock().map(|m| m.clone()).unwrap_or_default(),
            running: running.unwrap_or(Mode::Balanced),
            latency_ms: std::array::from_fn(|m| self.latency_ms[m].load(Ordering::Relaxed)),
            load: self.load(),
            peak_load: self.peak_load(),
            misses: self.misses(),
            dry_samples: self.dry_samples(),
            sample_rate: self.sample_rate.load(Ordering::Relaxed),
            live_fallback: self.live_fallback(),
            model_trouble: self.model_trouble(),
        }
    }

    /// What is wrong with the model's runs, in words, when some failed or gave NaN or infinite
    /// values since activation (a broken model file: no check at load can see it); `None` while
    /// every run is sound.
    pub fn model_trouble(&self) -> Option<String> {
        let (failed, unusable) = (self.failed_runs.load(Ordering::Relaxed), self.unusable_runs.load(Ordering::Relaxed));
        match (failed, unusable) {
            (0, 0) => None,
            (failed, 0) => Some(format!("The model failed {failed} runs: their audio played unseparated on Other")),
            (_, unusable) => Some(format!(
                "The model gave NaN or infinite values in {unusable} runs (a broken model file?): \
                 those parts played unseparated on Other"
            )),
        }
    }

    /// Whether `role` has a stem in the loaded model.
    pub fn role_active(&self, role: Role) -> bool {
        self.active_roles.load(Ordering::Relaxed) & (1 << role as u8) != 0
    }

    /// Deadline misses since the last reset.
    pub fn misses(&self) -> u64 {
        self.deadline_misses.load(Ordering::Relaxed).saturating_sub(self.misses_offset.load(Ordering::Relaxed))
    }

    /// Late samples that played unseparated since the last reset.
    pub fn dry_samples(&self) -> u64 {
        self.dry_samples.load(Ordering::Relaxed).saturating_sub(self.dry_offset.load(Ordering::Relaxed))
    }

    /// Starts counting misses from now (editor).
    pub fn reset_misses(&self) {
        self.misses_offset.store(self.deadline_misses.load(Ordering::Relaxed), Ordering::Relaxed);
        self.dry_offset.store(self.dry_samples.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// The last run's share of its deadline, 0 … 1 and beyond (`None` before the first run).
    pub fn load(&self) -> Option<f32> {
        let budget = self.budget_micros.load(Ordering::Relaxed);
        let run = self.recent_run_micros.load(Ordering::Relaxed);
        (budget > 0 && run > 0).then(|| run as f32 / budget as f32)
    }

    /// What live playback will do, when the last model run took longer than its budget: in
    /// real time those samples fall back to the dry signal on Other, while an offline render
    /// waits for every run. `None` while it keeps up or before the first run.
    ///
    /// The worker runs the model as soon as the host processes, playing or not (hosts process
    /// silence while stopped), so a model too slow for live playback (HTDemucs on a 2-core CPU:
    /// seconds per run) is flagged one run after activation, before the user presses play.
    pub fn live_fallback(&self) -> Option<String> {
        let load = self.load().filter(|&l| l > 1.0)?;
        let seconds = |micros: u32| micros as f32 / 1e6;
        Some(format!(
            "Too slow for live playback here: a model run takes {:.1} s, {:.1} s are allowed ({:.0}%). \
             Playing live falls back to the unseparated sound on Other; bounces and offline renders wait \
             for the model and are complete. A slower mode, more cores or a GPU may keep up.",
            seconds(self.recent_run_micros.load(Ordering::Relaxed)),
            seconds(self.budget_micros.load(Ordering::Relaxed)),
            load * 100.0
        ))
    }

    /// The longest run's share of the deadline.
    pub fn peak_load(&self) -> Option<f32> {
        let budget = self.budget_micros.load(Ordering::Relaxed);
        let run = self.max_run_micros.load(Ordering::Relaxed);
        (budget > 0 && run > 0).then(|| run as f32 / budget as f32)
    }
}

/// The editor's picture of the instance for one frame ([`Status::snapshot`]).
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Whether an engine is running.
    pub active: bool,
    pub model: ModelInfo,
    /// The mode the running engine was built for.
    pub running: Mode,
    /// Each mode's latency in ms (`Mode as usize`), 0 where unknown until a restart.
    pub latency_ms: [f32; Mode::COUNT],
    /// [`Status::load`], [`Status::peak_load`], [`Status::misses`], [`Status::dry_samples`],
    /// [`Status::live_fallback`].
    pub load: Option<f32>,
    pub peak_load: Option<f32>,
    pub misses: u64,
    pub dry_samples: u64,
    /// The host's sample rate, Hz (0 before the first activation).
    pub sample_rate: u32,
    pub live_fallback: Option<String>,
    /// [`Status::model_trouble`].
    pub model_trouble: Option<String>,
}

/// Why a model did not load, in words a musician understands.
pub fn problem_in_words(error: &InferenceError) -> String {
    match error {
        InferenceError::RuntimeMissing { .. } => "The AI runtime (ONNX Runtime) is not installed".to_owned(),
        InferenceError::RuntimeBroken { .. } => "The AI runtime (ONNX Runtime) could not be started".to_owned(),
        InferenceError::ModelMissing(path) => format!("Model file not found: {}", path.display()),
        InferenceError::UnknownModel { name, .. } => format!("No installed model is called “{name}”"),
        InferenceError::ModelUnreadable { path, .. } => {
            format!("The model file is damaged or not a model: {}", path.display())
        }
        InferenceError::Composition { path, .. } => {
            format!("The composed model's description cannot be used: {}", path.display())
        }
        InferenceError::Contract(_) => "The model file is not a Sift model".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_runs_are_said_in_words() {
        let status = Status::default();
        assert_eq!(status.model_trouble(), None);
        status.failed_runs.store(3, Ordering::Relaxed);
        assert_eq!(
            status.model_trouble().as_deref(),
            Some("The model failed 3 runs: their audio played unseparated on Other")
        );
        status.unusable_runs.store(2, Ordering::Relaxed);
        assert!(status
            .model_trouble()
            .is_some_and(|t| t.starts_with("The model gave NaN or infinite values in 2 runs")));
    }

    #[test]
    fn a_composed_model_says_where_each_role_comes_from() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let composed = ModelInfo {
            stems: names(&["vocals", "drums", "bass", "other"]),
            stem_models: names(&["spleeter-2stems", "sift-4stem", "sift-4stem", "sift-4stem"]),
            ..ModelInfo::default()
        };
        let by_role = composed.models_by_role();
        assert_eq!(by_role[Role::Vocals as usize], Some("spleeter-2stems"));
        assert_eq!(by_role[Role::Bass as usize], Some("sift-4stem"));
        assert_eq!(by_role[Role::Extra as usize], None, "no stem plays on Extra");
        let single = ModelInfo { stems: names(&["vocals", "accompaniment"]), ..ModelInfo::default() };
        assert_eq!(single.models_by_role()[Role::Vocals as usize], None, "a single model's stems are its own");
    }

    #[test]
    fn a_model_slower_than_its_budget_is_flagged_before_play() {
        let status = Status::default();
        status.budget_micros.store(3_854_512, Ordering::Relaxed);
        assert_eq!(status.live_fallback(), None, "nothing is said before a run is timed");
        status.recent_run_micros.store(3_000_000, Ordering::Relaxed);
        assert_eq!(status.live_fallback(), None, "a run within its budget keeps up");
        status.recent_run_micros.store(14_200_000, Ordering::Relaxed);
        let said = status.live_fallback().expect("flagged");
        assert!(said.contains("14.2 s") && said.contains("3.9 s") && said.contains("falls back"), "{said}");
    }

    #[test]
    fn meters_keep_the_peak_until_taken() {
        let meters = Meters::default();
        meters.record(&[0.5, 0.0, 0.0, 0.0, 0.25], 0.5);
        meters.record(&[0.25, 0.1, 0.0, 0.0, 0.0], 0.75);
        let (roles, output) = meters.take();
        assert_eq!(roles, [0.5, 0.1, 0.0, 0.0, 0.25]);
        assert_eq!(output, 0.75);
        assert_eq!(meters.take(), ([0.0; Role::COUNT], 0.0));
    }

    #[test]
    fn active_roles_and_misses() {
        let status = Status::default();
        let roles = RoleMap::new(&["vocals".to_owned(), "accompaniment".to_owned()]);
        status.activated(ModelInfo::default(), &roles, Mode::Live, [10.0, 20.0, 30.0], 1000, 44_100);
        assert!(status.role_active(Role::Vocals) && status.role_active(Role::Other));
        assert!(!status.role_active(Role::Drums) && !status.role_active(Role::Extra));
        status.deadline_misses.store(7, Ordering::Relaxed);
        assert_eq!(status.misses(), 7);
        status.reset_misses();
        status.deadline_misses.store(9, Ordering::Relaxed);
        assert_eq!(status.misses(), 2);
        status.dry_samples.store(300, Ordering::Relaxed);
        status.reset_misses();
        status.dry_samples.store(420, Ordering::Relaxed);
        assert_eq!(status.dry_samples(), 120);
        status.recent_run_micros.store(250, Ordering::Relaxed);
        assert_eq!(status.load(), Some(0.25));
    }

    #[test]
    fn missing_model_in_words() {
        let text = problem_in_words(&InferenceError::ModelMissing("/m/x.onnx".into()));
        assert_eq!(text, "Model file not found: /m/x.onnx");
    }
}
