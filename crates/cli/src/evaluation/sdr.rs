//! Signal-to-distortion ratios, computed directly from sample differences.
//!
//! These equal museval's BSSEval v4 SDR: in its "images" mode (what SiSEC 2018 and MUSDB18
//! results use) the 512-tap distortion filters only split the error into ISR, SIR and SAR, and
//! the SDR itself is `||ref||² / ||est − ref||²`. Computing that directly skips the filter fitting
//! (seconds per track in museval) and the inputs museval rejects. `model/museval_crosscheck.py`
//! checks the equality on real stems.

/// Global SDR in dB: `10·log10(Σref² / Σ(ref−est)²)` summed over every channel and sample.
///
/// This is the "global SDR" of SiSEC 2018 / MUSDB18 and the MDX challenges (without their tiny
/// `δ` regulariser): one ratio of energies for the whole track, with no distortion filter, so a
/// gain error of ×0.5 costs exactly 6.02 dB. Channels are paired in order and compared over the
/// shorter length, since a separator may pad or trim its last block. Accumulation is in `f64`:
/// a few minutes of stereo audio is tens of millions of squares, beyond what `f32` sums exactly.
///
/// Returns `f64::INFINITY` when the error energy is 0 (a perfect estimate, or nothing to compare)
/// and `f64::NEG_INFINITY` for a silent reference with a non-silent estimate.
pub fn global_sdr(reference: &[Vec<f32>], estimate: &[Vec<f32>]) -> f64 {
    let (signal, error) = energies(reference, estimate, 0, usize::MAX);
    ratio_db(signal, error)
}

/// Median over 1 s windows of the per-window SDR, as museval (BSSEval v4) reports a track.
///
/// Windows are 1 s long with a 1 s hop, and only whole windows count (museval drops the trailing
/// partial window; a signal of 1 s or less is one window), so values match museval's per-frame
/// SDR exactly. Each window's SDR is [`global_sdr`]'s
/// ratio over that window, all channels together. Windows whose reference is entirely silent are
/// skipped, as museval marks them NaN and its median ignores NaN: an SDR there would only measure
/// how quiet the estimate is. Unlike museval, which evaluates a track's stems jointly and also
/// skips a window where *any* stem's reference or estimate is silent, a window where only this
/// *estimate* is silent counts (it scores 0 dB): a separator that drops a present source should
/// be penalised, and one stem's score should not depend on the others.
///
/// `None` when no window counts (empty input, or a silent reference throughout).
pub fn framewise_sdr_median(reference: &[Vec<f32>], estimate: &[Vec<f32>], sample_rate: u32) -> Option<f64> {
    let window = sample_rate as usize;
    let len = common_len(reference, estimate);
    if window == 0 || len == 0 {
        return None;
    }
    let windows = if len > window { (len - window) / window + 1 } else { 1 };
    let mut sdrs: Vec<f64> = (0..windows)
        .filter_map(|w| {
            let start = w * window;
            let (signal, error) = energies(reference, estimate, start, start + window);
            (signal > 0.0).then(|| ratio_db(signal, error))
        })
        .collect();
    median(&mut sdrs)
}

/// The lowest SDR over whole windows of `window` samples: how bad the worst moment is (a
/// dropout, a stall), which a global or median figure averages away. Windows whose reference
/// is quieter than −60 dBFS RMS are skipped: an SDR there would only measure how quiet the
/// estimate is. `None` when no window counts.
pub fn worst_window_sdr(reference: &[Vec<f32>], estimate: &[Vec<f32>], window: usize) -> Option<f64> {
    let len = common_len(reference, estimate);
    let channels = reference.len().min(estimate.len()).max(1);
    if window == 0 {
        return None;
    }
    (0..len / window)
        .filter_map(|w| {
            let (signal, error) = energies(reference, estimate, w * window, (w + 1) * window);
            (signal / (window * channels) as f64 >= 1e-6).then(|| ratio_db(signal, error))
        })
        .min_by(f64::total_cmp)
}

/// Samples per channel compared: the shortest channel of either signal.
fn common_len(reference: &[Vec<f32>], estimate: &[Vec<f32>]) -> usize {
    reference.iter().zip(estimate).map(|(r, e)| r.len().min(e.len())).min().unwrap_or(0)
}

/// `(Σref², Σ(ref−est)²)` over samples `start..end` (clamped to the common length).
fn energies(reference: &[Vec<f32>], estimate: &[Vec<f32>], start: usize, end: usize) -> (f64, f64) {
    let end = end.min(common_len(reference, estimate));
    let mut signal = 0.0;
    let mut error = 0.0;
    for (r, e) in reference.iter().zip(estimate) {
        for (&r, &e) in r[start..end].iter().zip(&e[start..end]) {
            let (r, e) = (f64::from(r), f64::from(e));
            signal += r * r;
            error += (r - e) * (r - e);
        }
    }
    (signal, error)
}

fn ratio_db(signal: f64, error: f64) -> f64 {
    if error == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (signal / error).log10()
    }
}

/// Median as numpy computes it (mean of the two middle values for an even count).
fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(len: usize) -> Vec<Vec<f32>> {
        let left: Vec<f32> = (0..len).map(|i| (i as f32 * 0.05).sin()).collect();
        let right: Vec<f32> = (0..len).map(|i| (i as f32 * 0.031).cos() * 0.3).collect();
        vec![left, right]
    }

    fn scaled(signal: &[Vec<f32>], gain: f32) -> Vec<Vec<f32>> {
        signal.iter().map(|c| c.iter().map(|s| s * gain).collect()).collect()
    }

    #[test]
    fn the_worst_window_is_where_the_estimate_drops_out() {
        let reference = tone(4000);
        let mut estimate = reference.clone();
        // Half of the third 1000-sample window lost: the worst window scores about 3 dB (half
        // its energy in error), the others are perfect.
        estimate.iter_mut().for_each(|c| c[2000..2500].fill(0.0));
        let worst = worst_window_sdr(&reference, &estimate, 1000).unwrap();
        assert!((worst - 3.0).abs() < 0.5, "{worst}");
        assert!(global_sdr(&reference, &estimate) > worst + 5.0);
        // Silent windows do not count.
        let silent = vec![vec![0.0; 4000]; 2];
        assert_eq!(worst_window_sdr(&silent, &estimate, 1000), None);
    }

    #[test]
    fn identical_signals_are_infinite() {
        let reference = tone(1000);
        assert_eq!(global_sdr(&reference, &reference), f64::INFINITY);
    }

    #[test]
    fn silent_estimate_is_zero_db() {
        let reference = tone(1000);
        assert!(global_sdr(&reference, &scaled(&reference, 0.0)).abs() < 1e-12);
    }

    #[test]
    fn half_gain_is_six_db() {
        let reference = tone(1000);
        let sdr = global_sdr(&reference, &scaled(&reference, 0.5));
        assert!((sdr - 20.0 * 2f64.log10()).abs() < 1e-9, "{sdr}");
    }

    #[test]
    fn compares_over_the_shorter_length() {
        let reference = tone(1000);
        let mut estimate = scaled(&reference, 0.5);
        for channel in &mut estimate {
            channel.truncate(600);
        }
        let truncated_reference: Vec<Vec<f32>> = reference.iter().map(|c| c[..600].to_vec()).collect();
        assert_eq!(global_sdr(&reference, &estimate), global_sdr(&truncated_reference, &estimate));
    }

    #[test]
    fn framewise_median_skips_silent_reference_windows() {
        // 4 windows of 100 samples: gains 0.5, 0.5, 0.9 then silence, plus a partial window.
        let rate = 100;
        let mut reference = tone(450);
        for channel in &mut reference {
            channel[300..].fill(0.0);
        }
        let mut estimate = scaled(&reference, 0.5);
        for (channel, reference) in estimate.iter_mut().zip(&reference) {
            for i in 200..300 {
                channel[i] = reference[i] * 0.9;
            }
            // The silent window's estimate is noisy: it must not drag the median to -inf.
            channel[300..].fill(0.25);
        }
        let median = framewise_sdr_median(&reference, &estimate, rate).unwrap();
        assert!((median - 20.0 * 2f64.log10()).abs() < 1e-9, "{median}");
    }

    #[test]
    fn framewise_median_of_silence_is_none() {
        let silence = vec![vec![0.0f32; 300]; 2];
        assert_eq!(framewise_sdr_median(&silence, &tone(300), 100), None);
        assert_eq!(framewise_sdr_median(&[], &[], 100), None);
    }

    #[test]
    fn short_signal_is_one_window() {
        let reference = tone(50);
        let median = framewise_sdr_median(&reference, &scaled(&reference, 0.5), 100).unwrap();
        assert!((median - 20.0 * 2f64.log10()).abs() < 1e-9, "{median}");
    }

    #[test]
    fn even_count_median_averages_the_middle() {
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }
}
