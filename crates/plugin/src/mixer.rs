//! The audio-thread remix: stems to role buses and the main output, with click-free gains.

use super::buses::RoleBuses;
use super::params::SiftParams;
use super::roles::{Role, RoleMap};

/// How long a gain change, mute or solo takes to ramp: short enough to feel instant to a DJ,
/// long enough not to click.
const RAMP_SECONDS: f32 = 0.010;

/// A linear ramp towards a target, one step per sample. Linear (not logarithmic) so it reaches
/// silence exactly.
#[derive(Clone, Copy, Debug)]
struct Ramp {
    value: f32,
    target: f32,
    step: f32,
    steps_left: u32,
}

impl Ramp {
    fn at(value: f32) -> Self {
        Self { value, target: value, step: 0.0, steps_left: 0 }
    }

    fn set_target(&mut self, target: f32, ramp_samples: u32) {
        if target != self.target {
            self.target = target;
            self.steps_left = ramp_samples.max(1);
            self.step = (target - self.value) / self.steps_left as f32;
        }
    }

    fn next(&mut self) -> f32 {
        if self.steps_left > 0 {
            self.steps_left -= 1;
            self.value = if self.steps_left == 0 { self.target } else { self.value + self.step };
        }
        self.value
    }
}

/// Applies role gains and mixes. Owns only fixed-size state.
pub struct Mixer {
    ramp_samples: u32,
    roles: [Ramp; Role::COUNT],
    output: Ramp,
    /// 1 while processing, 0 while bypassed (crossfades to the delayed dry signal).
    wet: Ramp,
}

/// What one block's mixing needs to know.
pub struct MixTargets {
    /// Linear gain per role, mute and solo applied.
    pub roles: [f32; Role::COUNT],
    /// Linear gain of the main output.
    pub output: f32,
    /// Sift's own bypass.
    pub bypassed: bool,
}

impl MixTargets {
    /// What `params` ask for now (reads atomics only: audio thread).
    pub fn of(params: &SiftParams) -> Self {
        Self { roles: params.role_targets(), output: params.output_gain.value(), bypassed: params.bypass.value() }
    }
}

impl Mixer {
    /// A mixer at unity for `sample_rate`.
    pub fn new(sample_rate: f32) -> Self {
        Self {
            ramp_samples: (RAMP_SECONDS * sample_rate).round() as u32,
            roles: [Ramp::at(1.0); Role::COUNT],
            output: Ramp::at(1.0),
            wet: Ramp::at(1.0),
        }
    }

    /// Jumps to the targets without a ramp (after activation or a state load).
    pub fn snap(&mut self, targets: &MixTargets) {
        for (ramp, &t) in self.roles.iter_mut().zip(&targets.roles) {
            *ramp = Ramp::at(t);
        }
        self.output = Ramp::at(targets.output);
        self.wet = Ramp::at(if targets.bypassed { 0.0 } else { 1.0 });
    }

    /// Mixes one block.
    ///
    /// `stems[s * channels + ch]` are the model's stems (the engine's layout); their sum is the
    /// input delayed by the latency, which bypass crossfades to. Writes each role's stem, post
    /// gain, to its bus in `buses` (silence for roles the model lacks) and the remix, times the
    /// output gain, to `main`; `buses` must have begun a block as long as `main`'s.
    /// With every gain at unity the buses sum to the main output. What leaves is always a
    /// normal float or zero ([`audible`]): no NaN, infinity or subnormal reaches the host.
    pub fn mix(
        &mut self,
        map: &RoleMap,
        targets: &MixTargets,
        stems: &[&[f32]],
        buses: &mut RoleBuses,
        main: &mut [&mut [f32]],
    ) {
        let len = main.first().map_or(0, |c| c.len());
        let channels = buses.channels().min(main.len());
        for (ramp, &t) in self.roles.iter_mut().zip(&targets.roles) {
            ramp.set_target(t, self.ramp_samples);
        }
        self.output.set_target(targets.output, self.ramp_samples);
        self.wet.set_target(if targets.bypassed { 0.0 } else { 1.0 }, self.ramp_samples);
        for i in 0..len {
            let gains: [f32; Role::COUNT] = std::array::from_fn(|r| self.roles[r].next());
            let output = self.output.next();
            let wet = self.wet.next();
            for ch in 0..channels {
                let dry: f32 = stems.iter().skip(ch).step_by(channels).map(|s| s[i]).sum();
                let mut remix = 0.0;
                for role in Role::ALL {
                    let signal: f32 = map.stems(role).map(|s| stems[s * channels + ch][i]).sum();
                    let value = audible(signal * gains[role as usize] * wet);
                    buses.channel_mut(role, ch)[i] = value;
                    remix += value;
                }
                // Bypass is the plain delayed input: no stem or output gain.
                main[ch][i] = audible(output * remix + (1.0 - wet) * dry);
            }
        }
    }
}

/// `x` if it is a normal float, else silence. Subnormals (a fading ramp's tail) cost some CPUs
/// a hundred times a normal multiply in every plugin after this one; NaN and infinity must never
/// reach a host's mix bus.
fn audible(x: f32) -> f32 {
    if x.is_normal() {
        x
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_normal_floats_leave() {
        for x in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MIN_POSITIVE / 2.0, -1e-42, 0.0, -0.0] {
            assert_eq!(audible(x), 0.0, "{x}");
        }
        for x in [1.0, -0.5, f32::MIN_POSITIVE, 1e30] {
            assert_eq!(audible(x), x);
        }
    }

    #[test]
    fn ramps_reach_their_target_exactly() {
        let mut ramp = Ramp::at(1.0);
        ramp.set_target(0.0, 441);
        let values: Vec<f32> = (0..441).map(|_| ramp.next()).collect();
        assert_eq!(*values.last().unwrap(), 0.0);
        assert!(values.windows(2).all(|w| w[1] <= w[0]));
    }
}
