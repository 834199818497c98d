"""The SDR figures of the pipeline's reports: validation (train.py), evaluation (evaluate.py) and
calibration (calibrate.py) all score with these."""
import numpy as np
import torch


def sdr(ref, est, eps=1e-9):
    """Global SDR in dB over channels and samples (as model/reference_separate.py)."""
    return float(10 * torch.log10((ref.pow(2).sum() + eps) / ((ref - est).pow(2).sum() + eps)))


def windowed_sdr(ref, est, sr=44100, window=1.0):
    """Median of the SDRs of the 1 s windows in which the reference is not silent (the figure
    MUSDB18 papers quote)."""
    n = int(window * sr)
    scores = []
    for start in range(0, ref.shape[-1] - n + 1, n):
        r, e = ref[..., start:start + n], est[..., start:start + n]
        if r.pow(2).mean() > 1e-8:
            scores.append(sdr(r, e))
    return float(np.median(scores)) if scores else float("nan")
