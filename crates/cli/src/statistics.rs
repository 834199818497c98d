//! The one definition of the figures Sift quotes for a set of timings: median, p99 and
//! maximum, as `sift separate`'s report and the benchmark print them.
//!
//! A percentile is the value at rank `round((n − 1) · p)` of the sorted values (0-based): the
//! nearest rank on a scale from the smallest (p = 0) to the largest (p = 1), always one of the
//! measured values, never an interpolation between two.

/// Median, 99th percentile and maximum of a set of measurements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub p99: f64,
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(mut values: Vec<f64>) -> Option<Spread> {
        values.sort_unstable_by(f64::total_cmp);
        Some(Spread { median: percentile(&values, 0.5)?, p99: percentile(&values, 0.99)?, max: *values.last()? })
    }
}

/// The value at fraction `p` (0 to 1) of `sorted`, which must be in ascending order; `None`
/// when it is empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied()
}

#[cfg(test)]
mod tests {
    use super::{percentile, Spread};

    #[test]
    fn percentiles_are_measured_values_at_the_nearest_rank() {
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        // Rank round(99 * 0.99) = 98 (0-based): the 99th value.
        assert_eq!(percentile(&hundred, 0.99), Some(99.0));
        // Rank round(99 * 0.5) = 50: the 51st value (49.5 rounds away from zero).
        assert_eq!(percentile(&hundred, 0.5), Some(51.0));
        assert_eq!(percentile(&[], 0.5), None);
        let spread = Spread::of(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!(spread, Spread { median: 2.0, p99: 3.0, max: 3.0 });
    }
}
