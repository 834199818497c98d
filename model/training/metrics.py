"""The figures of the pipeline's reports: validation (train.py), evaluation (evaluate.py) and
calibration (calibrate.py) all score with these.

A reference stem that is silent (a song without drums: `../shared/eval/ssr-how_will_i_know`)
has no SDR worth the name: any estimate scores -inf dB against it, and a mean over stems or clips
that took it in would say nothing. Such a stem is scored by `leakage_db` instead, the energy the
separator put there against the mixture's, and is left out of every SDR mean (the reports give
it beside them).
"""
import numpy as np
import torch

# A reference stem whose mean square (over channels and samples) is at or under this is silent:
# an RMS of -80 dBFS. The held-out renders' missing stems are zeros (dataset.read_stem); the
# real clips' silent stems are digital silence.
SILENT_MEAN_SQUARE = 1e-8


def sdr(ref, est, eps=1e-9):
    """Global SDR in dB over channels and samples (as model/reference_separate.py)."""
    return float(10 * torch.log10((ref.pow(2).sum() + eps) / ((ref - est).pow(2).sum() + eps)))


def is_silent(ref):
    """Whether a reference stem is silent (`SILENT_MEAN_SQUARE`): scored by `leakage_db`, not
    `sdr`."""
    return float(ref.pow(2).mean()) <= SILENT_MEAN_SQUARE


def leakage_db(est, mix, floor_db=-120.0):
    """The estimate's energy against the mixture's, in dB: 10 * log10(sum est^2 / sum mix^2),
    both sums over channels and samples, floored at `floor_db` (an estimate of exact zeros).
    For a stem whose reference is silent this is what the separator wrongly put there: 0 dB is
    the whole mixture's energy, -10 dB a tenth of it; lower is better."""
    e_est, e_mix = float(est.pow(2).sum()), float(mix.pow(2).sum())
    if e_est <= 0 or e_mix <= 0:
        return floor_db
    return max(floor_db, 10 * float(np.log10(e_est / e_mix)))


def windowed_sdr(ref, est, sr=44100, window=1.0):
    """Median of the SDRs of the 1 s windows in which the reference is not silent (the figure
    MUSDB18 papers quote)."""
    n = int(window * sr)
    scores = []
    for start in range(0, ref.shape[-1] - n + 1, n):
        r, e = ref[..., start:start + n], est[..., start:start + n]
        if r.pow(2).mean() > SILENT_MEAN_SQUARE:
            scores.append(sdr(r, e))
    return float(np.median(scores)) if scores else float("nan")
