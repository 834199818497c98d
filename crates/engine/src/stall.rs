//! A testing aid: a model that makes the worker late on purpose, so anyone can hear and measure
//! what a stall does (`sift separate --realtime --stall MS/EVERY_MS`, the tests, the bench).

use std::time::{Duration, Instant};

use super::model::{InferenceFailure, Interrupter, MaskModel, ModelSpec};
use super::schedule::Schedule;

/// How long and how often the worker stalls: `stall` once every `every`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StallPattern {
    /// How long each stall lasts.
    pub stall: Duration,
    /// Time from one stall's start to the next one's.
    pub every: Duration,
}

impl std::str::FromStr for StallPattern {
    type Err = String;

    /// `MS/EVERY_MS`, e.g. `20/1000`: 20 ms stalls once a second.
    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || format!("`{text}` is not MS/EVERY_MS (e.g. 20/1000: a 20 ms stall every second)");
        let (stall, every) = text.split_once('/').ok_or_else(usage)?;
        let ms = |s: &str| s.trim().parse::<u64>().map(Duration::from_millis).map_err(|_| usage());
        let (stall, every) = (ms(stall)?, ms(every)?);
        if every.is_zero() || stall >= every {
            return Err(format!("`{text}`: the stall must be shorter than the time between stalls"));
        }
        Ok(Self { stall, every })
    }
}

/// Wraps a model and sleeps, before a run, whenever a stall is due: the worker is then late by
/// the stall, as if the system had taken its core away. The masks are the model's own.
pub struct Stalling {
    model: Box<dyn MaskModel>,
    pattern: StallPattern,
    /// When the next stall is due (the first run starts the clock).
    next: Option<Instant>,
}

impl Stalling {
    /// `model`, stalling by `pattern`.
    pub fn new(model: Box<dyn MaskModel>, pattern: StallPattern) -> Self {
        Self { model, pattern, next: None }
    }
}

impl MaskModel for Stalling {
    fn spec(&self) -> &ModelSpec {
        self.model.spec()
    }

    fn provider(&self) -> &str {
        self.model.provider()
    }

    fn infer(&mut self, magnitude: &[f32], frames: usize, masks: &mut [f32]) -> Result<(), InferenceFailure> {
        let now = Instant::now();
        let next = *self.next.get_or_insert(now + self.pattern.every);
        if now >= next {
            std::thread::sleep(self.pattern.stall);
            // Due again one period after this one was due, so stalls keep their rhythm.
            self.next = Some(next + self.pattern.every);
        }
        self.model.infer(magnitude, frames, masks)
    }

    fn interrupter(&self) -> Option<Interrupter> {
        self.model.interrupter()
    }

    fn reset(&mut self) {
        self.model.reset();
    }

    fn follow(&mut self, schedule: &Schedule) {
        self.model.follow(schedule);
    }

    fn is_pass_through(&self) -> bool {
        self.model.is_pass_through()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_read_as_ms_every_ms() {
        let pattern: StallPattern = "20/1000".parse().unwrap();
        assert_eq!(pattern, StallPattern { stall: Duration::from_millis(20), every: Duration::from_secs(1) });
        for bad in ["20", "x/100", "100/100", "5/0"] {
            assert!(bad.parse::<StallPattern>().is_err(), "{bad}");
        }
    }
}
