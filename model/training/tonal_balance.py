"""Where in frequency each stem's energy lies, renders next to records:
`python -m model.training.tonal_balance data/v3 [--examples 60]`

For each stem, the share of its energy in each band of `evaluate.LEAKAGE_BANDS` (Welch power,
channels averaged): the median over a random sample of the rendered set's training examples,
then each real clip's (`evaluate.real_clips`; information only, never training data). A stem
whose renders put their energy elsewhere than records do is one the network will mistake in
records: this is what motivated the `tone` and `amp` augmentations (model/training/RUNS.md, run 6).
"""
import argparse
import pathlib

import numpy as np
import soundfile
from scipy import signal

from . import dataset
from .evaluate import LEAKAGE_BANDS, real_clips


def band_shares(x, sr=44100):
    """x (n, channels) -> share of its power in each band of LEAKAGE_BANDS."""
    f, p = signal.welch(x.mean(axis=1), sr, nperseg=4096)
    e = np.array([p[(f >= lo) & (f < hi)].sum() for lo, hi in zip(LEAKAGE_BANDS, LEAKAGE_BANDS[1:])])
    return e / max(e.sum(), 1e-20)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", help="a rendered set (render.py's output folder)")
    ap.add_argument("--examples", type=int, default=60, help="training examples to sample")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    examples = dataset.load_manifest(args.data, "train")
    picked = np.random.default_rng(args.seed).choice(len(examples), args.examples, replace=False)
    bands = " ".join(f"{lo:>5}-" for lo in LEAKAGE_BANDS[:-1])
    print(f"share of each stem's energy (%) in the bands from (Hz): {bands}")
    for stem in dataset.STEMS:
        shares = []
        for i in picked:
            example = examples[i]
            if stem in example["rms_db"]:
                path = pathlib.Path(args.data, "train", example["id"], f"{stem}.flac")
                shares.append(band_shares(soundfile.read(path, dtype="float32", always_2d=True)[0]))
        print(f"{stem:7} renders (median of {len(shares)})".ljust(34),
              " ".join(f"{v * 100:6.1f}" for v in np.median(shares, axis=0)))
        for name, folder in real_clips().items():
            if (folder / f"{stem}.wav").exists():
                x, _ = soundfile.read(folder / f"{stem}.wav", dtype="float32", always_2d=True)
                print(f"{'':7} {folder.name}".ljust(34), " ".join(f"{v * 100:6.1f}" for v in band_shares(x)))


if __name__ == "__main__":
    main()
