//! The three latency modes and the model-run schedule each one implies.

use std::fmt;
use std::str::FromStr;

/// How much latency Sift may add in exchange for context.
///
/// Each model run sees a window of `past + new + lookahead` STFT frames and keeps the masks of
/// the `new` frames. Look-ahead improves the masks a little; `new` sets how often the model runs
/// and therefore the time budget of each run, which on a CPU is what bounds the lowest latency.
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
    /// All modes, from lowest to highest latency.
    pub const ALL: [Mode; 3] = [Mode::Live, Mode::Balanced, Mode::Studio];

    /// The lower-case name used on the command line and in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Balanced => "balanced",
            Mode::Studio => "studio",
        }
    }

    /// The model-run schedule of this mode for a model whose frame count must be a multiple
    /// of `frame_multiple`.
    pub fn schedule(self, frame_multiple: usize) -> Schedule {
        // Windows are expressed in units of the model's frame multiple (64 for Spleeter), so a
        // model with another stride gets windows of the same shape. The figures behind these
        // choices are in the README ("Quality against latency").
        let m = frame_multiple.max(1);
        let (window, new, lookahead) = match self {
            Mode::Live => (m, 4, 2),
            Mode::Balanced => (2 * m, 8, 8),
            Mode::Studio => (4 * m, 16, 32),
        };
        Schedule { window, new, lookahead }
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

/// Which frames one model run sees and which of its masks are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Frames per model run (a multiple of the model's frame multiple).
    pub window: usize,
    /// New frames whose masks each run keeps; the model runs once every `new` hops.
    pub new: usize,
    /// Frames after the new ones that the run sees but whose masks it discards.
    pub lookahead: usize,
}

impl Schedule {
    /// Frames before the new ones that give the run its past context.
    pub fn past(&self) -> usize {
        self.window - self.new - self.lookahead
    }
}
