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


# --- Editor (GUI) tests: X11 tools, windows, screenshots --------------------------------------

import shutil
import subprocess
import time

# The programs the editor tests drive, and the apt package that provides each.
X_TOOLS = {"xdotool": "xdotool", "import": "imagemagick", "convert": "imagemagick", "identify": "imagemagick"}


def require_x():
    """Fails (never skips) unless a display and the X tools the editor tests use are there."""
    missing = sorted({pkg for tool, pkg in X_TOOLS.items() if shutil.which(tool) is None})
    if missing:
        tools = [tool for tool, pkg in X_TOOLS.items() if shutil.which(tool) is None]
        pytest.fail(f"missing {', '.join(tools)}: install with `apt-get install {' '.join(missing)}`", pytrace=False)
    if not os.environ.get("DISPLAY"):
        pytest.fail("DISPLAY is not set: run the host tests with `bash tests/hosts/run.sh` (Xvfb + openbox)", pytrace=False)


def xdotool(*args: str, check: bool = True) -> str:
    done = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=20)
    if check and done.returncode != 0:
        raise AssertionError(f"xdotool {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def find_windows(name_regex: str) -> list[int]:
    """Ids of the windows whose name matches `name_regex` (xdotool search --name), each once.

    xdotool can report one window twice (seen while a window manager is still framing it), which
    made the editor fixtures fail now and then with "2 windows named '^Sift$': [w, w]"."""
    out = xdotool("search", "--name", name_regex, check=False)
    return list(dict.fromkeys(int(w) for w in out.split()))


def wait_for_window(name_regex: str, timeout: float, alive=lambda: True) -> int:
    """The one window named like `name_regex`, waiting up to `timeout` s for it to appear."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = find_windows(name_regex)
        if len(found) == 1:
            return found[0]
        assert len(found) <= 1, f"{len(found)} windows named {name_regex!r}: {found}"
        assert alive(), f"the host process ended before a window named {name_regex!r} appeared"
        time.sleep(0.05)
    raise AssertionError(f"no window named {name_regex!r} appeared within {timeout:.0f} s")


def wait_for_no_window(name_regex: str, timeout: float):
    end = time.monotonic() + timeout
    while find_windows(name_regex):
        assert time.monotonic() < end, f"a window named {name_regex!r} is still there after {timeout:.0f} s"
        time.sleep(0.05)


def close_window(window: int):
    """Closes a top-level window the way a user does (Alt+F4 to the window manager, which sends
    WM_DELETE_WINDOW), so the host closes the editor cleanly. Needs a window manager (openbox)."""
    xdotool("windowactivate", "--sync", str(window), "key", "--clearmodifiers", "alt+F4")


def click(window: int, x: int, y: int):
    """A left click at (x, y) relative to `window`'s top-left corner."""
    xdotool("mousemove", "--window", str(window), "--sync", str(x), str(y))
    time.sleep(0.15)  # let the editor see the pointer arrive before the button goes down
    xdotool("click", "1")


def load_png(path) -> np.ndarray:
    """An image as uint8 (height, width, 3) RGB, read through ImageMagick."""
    w, h = map(int, subprocess.check_output(["identify", "-format", "%w %h", str(path)]).split())
    raw = subprocess.check_output(["convert", str(path), "-depth", "8", "rgb:-"])
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


def screenshot(window: int, path) -> np.ndarray:
    """Saves `window`'s contents as PNG at `path` (ImageMagick import) and returns the pixels."""
    subprocess.run(["import", "-window", str(window), f"png:{path}"], check=True, timeout=30, capture_output=True)
    return load_png(path)


def proc_status(pid: int) -> dict:
    """VmRSS (KiB) and Threads of a running process, from /proc/<pid>/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "Threads"):
                out[key] = int(value.split()[0])
    return out
