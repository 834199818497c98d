//! Which frames a model run sees: what a mode and a model's grid decide together ([`crate::Mode::schedule`]).

/// Which frames one model run sees and which of its masks are kept.
///
/// A windowed model (contract 1) sees `past + new + lookahead` frames per run and keeps the
/// masks of the `new` ones. A stateful (streaming) model sees only the `new` frames, carries
/// the past in its state, and returns masks `lookahead` frames behind its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Frames given to the model per run (a multiple of the model's frame multiple).
    pub window: usize,
    /// New frames whose masks each run keeps; the model runs once every `new` hops.
    pub new: usize,
    /// Frames after the new ones that must be in before their masks are final.
    pub lookahead: usize,
    /// Whether the model keeps its own state between runs (a streaming model).
    pub stateful: bool,
    /// Frames a stateful model swapped in mid-stream is given before its first run (its
    /// look-ahead, rounded up to whole runs), so that its lagging masks line up with the
    /// stream's frames; 0 for a windowed model.
    pub prime: usize,
}

/// The largest stretch of a mode ([`Schedule::stretched`], chosen by `calibrate`): twice its new
/// frames per run, which keeps the modes' order (Spleeter at 44.1 kHz: `live` 488 ms, `balanced`
/// 998 ms, `studio` 2299 ms at most). Every mode's window has room for it (`Mode::schedule`).
pub const MAX_STRETCH: usize = 2;

impl Schedule {
    /// Frames before the new ones that give a windowed run its past context (none for a
    /// stateful model, whose state is its past).
    pub fn past(&self) -> usize {
        if self.stateful {
            0
        } else {
            self.window - self.new - self.lookahead
        }
    }

    /// This schedule with `runs` times the new frames per run (and so `runs` times the budget):
    /// a windowed model keeps its window and sees fewer past frames; a stateful model is given
    /// all the new frames, `runs` of its runs per wake-up.
    ///
    /// # Panics
    /// If a windowed model's window has no room left for a past frame.
    pub fn stretched(self, runs: usize) -> Schedule {
        let new = self.new * runs;
        if self.stateful {
            return Schedule { window: new, new, ..self };
        }
        assert!(new + self.lookahead < self.window, "a stretch of {runs} leaves no past frame");
        Schedule { new, ..self }
    }

    /// Frames whose spectra the engine keeps: the model's window, or for a stateful model the
    /// new frames and those its lagging masks or its priming still refer to.
    pub fn kept_frames(&self) -> usize {
        if self.stateful {
            self.new + self.prime
        } else {
            self.window
        }
    }
}
