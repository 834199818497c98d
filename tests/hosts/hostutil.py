"""Shared helpers for the VST3 host tests: paths, the eval clip, and audio measures."""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
RATE = 44100
BLOCK = 512
CLIP = "musdb18-preview-80s-rock"
# Main output + five stem buses, two channels each, in this order.
BUSES = ["Remix", "Vocals", "Drums", "Bass", "Other", "Extra"]


def bundle_path() -> Path:
    """The VST3 bundle under test; a missing bundle fails the test (never skips)."""
    path = Path(os.environ.get("SIFT_VST3", REPO / "target" / "bundled" / "sift.vst3"))
    if not (path / "Contents" / "x86_64-linux" / "sift.so").is_file():
        pytest.fail(
            f"no Sift VST3 bundle at {path} (Contents/x86_64-linux/sift.so missing): "
            "build it with `cargo xtask bundle sift --release` or set SIFT_VST3",
            pytrace=False,
        )
    return path


def eval_dir() -> Path:
    path = Path(os.environ.get("SIFT_EVAL_DIR", REPO.parent / "shared" / "eval")) / CLIP
    if not (path / "mixture.wav").is_file():
        pytest.fail(f"eval clip missing: {path}/mixture.wav (set SIFT_EVAL_DIR)", pytrace=False)
    return path


def load_clip(name: str) -> np.ndarray:
    """One stem of the eval clip as float32, shape (2, samples)."""
    data, rate = sf.read(eval_dir() / f"{name}.wav", dtype="float32", always_2d=True)
    assert rate == RATE, f"{name}.wav is {rate} Hz"
    return np.ascontiguousarray(data.T)


def db(x: float) -> float:
    return 20.0 * np.log10(max(float(x), 1e-30))


def peak(x: np.ndarray) -> float:
    return float(np.max(np.abs(x))) if x.size else 0.0


def sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """10·log10(Σref² / Σ(ref−est)²) over all channels."""
    ref = ref.astype(np.float64)
    err = ref - est.astype(np.float64)
    return 10.0 * np.log10(np.sum(ref**2) / max(np.sum(err**2), 1e-30))


def aligned(out: np.ndarray, latency: int, length: int) -> np.ndarray:
    """The output samples that correspond to input samples 0..length."""
    seg = out[:, latency : latency + length]
    assert seg.shape[1] == length, f"output too short: {out.shape[1]} samples for latency {latency} + {length}"
    return seg


def find_delay(x: np.ndarray, y: np.ndarray, max_lag: int) -> int:
    """The delay d (0 ≤ d ≤ max_lag) that best aligns y[d:] with x, by FFT cross-correlation."""
    a = x.astype(np.float64).sum(axis=0)
    b = y.astype(np.float64).sum(axis=0)
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)
    return int(np.argmax(corr[: max_lag + 1]))


def rms_db(x: np.ndarray) -> float:
    return db(np.sqrt(np.mean(x.astype(np.float64) ** 2)) if x.size else 0.0)


def report(**figures):
    """Prints measured figures (shown with `pytest -s` or in the failure output)."""
    print(" ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()))
