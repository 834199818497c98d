//! Turning a model's raw masks into masks that split the mixture exactly.

use std::fmt;
use std::str::FromStr;

/// How masks are continued above the model's highest bin (Spleeter sees only 0–11 kHz).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Extension {
    /// Every stem keeps, above the model's range, the mask value of the model's highest bin.
    /// Best of the three on the mean of two real clips (README, "Mask extension").
    #[default]
    EdgeBin,
    /// Every stem keeps the mean of its mask over the top octave the model sees.
    TopOctaveMean,
    /// Everything above the model's range goes to the residual stem.
    Residual,
}

impl Extension {
    /// All strategies, for measurements.
    pub const ALL: [Extension; 3] = [Extension::EdgeBin, Extension::TopOctaveMean, Extension::Residual];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Extension::TopOctaveMean => "top-octave-mean",
            Extension::Residual => "residual",
            Extension::EdgeBin => "edge-bin",
        }
    }
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Extension {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Extension::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| format!("unknown mask extension `{s}`: use edge-bin, top-octave-mean or residual"))
    }
}

/// Normalises one bin's stem masks in place so that they are finite, non-negative and sum to
/// one. A bin where the model gave nothing usable (all zero, NaN or infinite) goes wholly to
/// the residual stem, so the stems still sum to the mixture.
pub fn normalise_bin(masks: &mut [f32], residual: usize) {
    let mut sum = 0.0f32;
    for m in masks.iter_mut() {
        if !m.is_finite() || *m < 0.0 {
            *m = 0.0;
        }
        sum += *m;
    }
    if sum > 0.0 && sum.is_finite() {
        let inv = 1.0 / sum;
        masks.iter_mut().for_each(|m| *m *= inv);
    } else {
        masks.fill(0.0);
        masks[residual] = 1.0;
    }
}

/// Fills `out` (the masks of bins above the model's range, for one stem and frame) from the
/// stem's normalised masks `seen` over the model's bins.
pub fn extend(strategy: Extension, seen: &[f32], is_residual: bool, out: &mut [f32]) {
    let value = match strategy {
        Extension::TopOctaveMean => {
            let top = &seen[seen.len() / 2..];
            top.iter().sum::<f32>() / top.len() as f32
        }
        Extension::Residual => {
            if is_residual {
                1.0
            } else {
                0.0
            }
        }
        Extension::EdgeBin => seen[seen.len() - 1],
    };
    out.fill(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_masks_sum_to_one() {
        let mut m = [0.2, 0.6];
        normalise_bin(&mut m, 1);
        assert!((m[0] + m[1] - 1.0).abs() < 1e-6);
        assert!((m[0] - 0.25).abs() < 1e-6);
    }

    #[test]
    fn unusable_bins_go_to_the_residual() {
        for bad in [[f32::NAN, 0.5], [0.0, 0.0], [f32::INFINITY, f32::INFINITY]] {
            let mut m = bad;
            normalise_bin(&mut m, 0);
            let sum: f32 = m.iter().sum();
            assert!((sum - 1.0).abs() < 1e-6, "{bad:?} -> {m:?}");
        }
        let mut m = [f32::NAN, f32::NAN];
        normalise_bin(&mut m, 0);
        assert_eq!(m, [1.0, 0.0]);
    }

    #[test]
    fn extensions_of_normalised_masks_sum_to_one() {
        let vocals: Vec<f32> = (0..16).map(|i| i as f32 / 16.0).collect();
        let accomp: Vec<f32> = vocals.iter().map(|v| 1.0 - v).collect();
        for strategy in Extension::ALL {
            let (mut a, mut b) = ([0.0; 4], [0.0; 4]);
            extend(strategy, &vocals, false, &mut a);
            extend(strategy, &accomp, true, &mut b);
            for (x, y) in a.iter().zip(&b) {
                assert!((x + y - 1.0).abs() < 1e-5, "{strategy}");
            }
        }
    }
}
