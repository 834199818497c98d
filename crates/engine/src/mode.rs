//! The three latency modes and the model-run schedule each one implies.

use std::fmt;
use std::str::FromStr;

use super::model::ModelSpec;
use super::schedule::{Schedule, MAX_STRETCH};

/// How much latency Sift may add in exchange for context.
///
/// A windowed model's run sees `past + new + lookahead` STFT frames and keeps the masks of the
/// `new` frames. Look-ahead improves the masks a little; `new` sets how often the model runs
/// and therefore the time budget of each run, which on a CPU is what bounds the lowest latency.
/// A streaming model brings its own look-ahead; for it a mode sets how many runs one wake-up
/// of the worker makes. An engine fitted to the machine may double a mode's `new`
/// ([`Schedule::stretched`]) where the machine is too slow for the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The lowest latency that keeps up on a 2-core CPU: for playing live.
    Live,
    /// More look-ahead and a relaxed run budget: for tracking and mixing.
    Balanced,
    /// Long windows close to full-song context: for rendering and auditioning.
    Studio,
}

impl Mode {
    /// How many modes there are: the length of every per-mode table.
    pub const COUNT: usize = 3;

    /// All modes, from lowest to highest latency (`mode as usize` is the index).
    pub const ALL: [Mode; Mode::COUNT] = [Mode::Live, Mode::Balanced, Mode::Studio];

    /// The lower-case name used on the command line and in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Balanced => "balanced",
            Mode::Studio => "studio",
        }
    }

    /// The model-run schedule of this mode for `spec`'s model.
    pub fn schedule(self, spec: &ModelSpec) -> Schedule {
        if let Some(streaming) = spec.streaming {
            // A streaming model has no window to widen and its look-ahead is its own; what a
            // mode changes is how many of its runs one wake-up of the worker makes, which is
            // the time budget of each wake-up: `live` runs it every K hops.
            let runs = match self {
                Mode::Live => 1,
                Mode::Balanced => 4,
                Mode::Studio => 16,
            };
            let k = streaming.frames_per_run;
            let prime = streaming.lookahead.next_multiple_of(k);
            let one_run = Schedule { window: k, new: k, lookahead: streaming.lookahead, stateful: true, prime };
            return one_run.stretched(runs);
        }
        if let Some(segment) = spec.segment {
            // A model with a fixed segment (a waveform model) always sees exactly that window;
            // a mode chooses how much of it is new, and so how often the model runs, and how
            // far ahead it looks. `studio` keeps the middle half of each segment: a quarter of
            // context on either side, and half as many runs as `balanced`.
            let (new, lookahead) = match self {
                Mode::Live => (segment / 8, segment / 8),
                Mode::Balanced => (segment / 4, segment / 4),
                Mode::Studio => (segment / 2, segment / 4),
            };
            return Schedule { window: segment, new: new.max(1), lookahead, stateful: false, prime: 0 };
        }
        // Windows are expressed in units of the model's frame multiple (64 for Spleeter), so a
        // model with another stride gets windows of the same shape. The figures behind these
        // choices are in the README ("Quality against latency").
        let m = spec.frame_multiple.max(1);
        let (multiples, new, lookahead) = match self {
            Mode::Live => (1, 4, 2),
            Mode::Balanced => (2, 8, 8),
            Mode::Studio => (4, 16, 32),
        };
        let lookahead = lookahead.max(spec.min_lookahead);
        // A model with a short frame multiple (a frame-local model's is 1) still gets room for
        // the new frames at the largest stretch, the look-ahead and a frame of past; without it
        // `studio`'s past frame count underflowed (found by `fuzz/`'s contract target).
        let room = (MAX_STRETCH * new + lookahead + 1).next_multiple_of(m);
        Schedule { window: (multiples * m).max(room), new, lookahead, stateful: false, prime: 0 }
    }
}

impl Mode {
    /// The schedule of this mode for a render that is fed a whole recording offline and
    /// removes the latency itself (`sift separate` without `--realtime`).
    ///
    /// A windowed run keeps the masks of only `new` of its `window` frames, so the host
    /// schedules recompute most of each window again at the next run (16 times over in
    /// `balanced`): the price of a low latency. With the whole file there, a run can keep many
    /// more frames: this schedule keeps the mode's past and look-ahead, so every frame still
    /// sees at least the context it has in the host schedule, and makes the window at least
    /// twice the mode's and at least eight frame multiples (512 frames for Spleeter, its
    /// training length), all of the rest new. Its latency is larger, which is why a host
    /// must never use it: its latency would change between playing and bouncing.
    ///
    /// Streaming models (their cost is per frame already) and fixed-segment models (their
    /// window is the segment) keep the host schedule.
    pub fn throughput_schedule(self, spec: &ModelSpec) -> Schedule {
        let host = self.schedule(spec);
        if host.stateful || spec.segment.is_some() {
            return host;
        }
        let window = (2 * host.window).max(8 * spec.frame_multiple.max(1));
        Schedule { window, new: window - host.past() - host.lookahead, ..host }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown mode `{s}`: use live, balanced or studio"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every mode of a windowed model with any frame multiple (a frame-local model's is 1) has
    /// past frames at every stretch the machine may need, and its file render too; Spleeter's
    /// windows (64 frames a multiple) are those the README's figures were measured with.
    #[test]
    fn windows_have_room_for_every_stretch_whatever_the_frame_multiple() {
        for m in 1..=130 {
            let spec = ModelSpec { frame_multiple: m, ..ModelSpec::default_grid() };
            for mode in Mode::ALL {
                let schedule = mode.schedule(&spec);
                assert_eq!(schedule.window % m, 0, "{mode} with a frame multiple of {m}: {schedule:?}");
                for stretch in 1..=MAX_STRETCH {
                    assert!(schedule.stretched(stretch).past() >= 1, "{mode}, multiple {m}, stretch {stretch}");
                }
                let file = mode.throughput_schedule(&spec);
                assert!(file.window >= file.new + file.lookahead + schedule.past(), "{mode}, multiple {m}: {file:?}");
            }
        }
        let spleeter = ModelSpec::default_grid();
        let windows = Mode::ALL.map(|mode| mode.schedule(&spleeter).window);
        assert_eq!(windows, [64, 128, 256]);
    }
}
