"""Calibrate a checkpoint's mask power on held-out renders: `python -m model.training.calibrate SRC DST`

A network trained with the L1 loss on magnitudes (train.magnitude_l1, runs 1-7) answers the
median where it cannot tell two stems apart: it commits to one of them. SDR is an energy figure
and rewards the mean; a network trained on SDR itself (`spectral_sdr`, run 8 on) still sees
only the renders, and real records may want softer or harder masks than they do. Raising the
softmax masks to a power p below one and renormalising them over the stems
(`softmax(p * logits)`, model.BandSplitRNN's `mask_power`) moves them toward the mean without
touching a weight, and costs nothing at run time.

For each power this scores the held-out split of the checkpoint's data set at both balances
(evaluate.held_out_sets: each song's own, and every stem at the training mixes' RMS) and takes
the power with the best mean of the eight median SDRs. DST is SRC with `mask_power` written into
its config's `[model]` table, so evaluate.py, export.py and `train.py --init` all see it; the
rest of SRC (its step, its validation figures, the git commit that trained it) is kept. The
real clips (evaluate.REAL_CLIPS) are scored beside it for information only: they never choose.
"""
import argparse
import json
import pathlib
import re
import tomllib

import numpy as np
import torch

from . import evaluate


def with_mask_power(config_text, power):
    """The config text with `mask_power = power` as the first key of its `[model]` table (an
    earlier `mask_power` line there is dropped). Raises ValueError if there is no `[model]`."""
    lines = [line for line in config_text.splitlines()
             if not re.match(r"\s*mask_power\s*=", line)]
    try:
        at = next(i for i, line in enumerate(lines) if line.strip() == "[model]")
    except StopIteration:
        raise ValueError("the checkpoint's config has no [model] table") from None
    lines.insert(at + 1, f"mask_power = {power}            # calibrate.py, on the held-out renders")
    text = "\n".join(lines) + "\n"
    assert tomllib.loads(text)["model"]["mask_power"] == power
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", help="a checkpoint (train.py's or checkpoint.py's)")
    ap.add_argument("dst", help="where to write it with the chosen mask_power")
    ap.add_argument("--powers", default="1.0,0.8,0.6,0.5,0.4,0.3",
                    help="comma-separated mask powers to score (default: %(default)s)")
    ap.add_argument("--valid-seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    separator, cfg, ckpt = evaluate.load(args.src)
    sets = evaluate.held_out_sets(cfg["data"]["root"], args.valid_seconds, cfg["data"])
    clips = {key: evaluate.read_clip(folder) for key, folder in evaluate.REAL_CLIPS.items()
             if (folder / "mixture.wav").exists()}

    rows = []
    for power in (float(p) for p in args.powers.split(",")):
        separator.net.mask_power = power
        row = {"mask_power": power}
        for key, examples in sets.items():
            row[key] = evaluate.held_out_sdr(separator, examples)[0]
        row["held_out_mean"] = round(float(np.mean([v for key in sets
                                                    for v in row[key].values()])), 3)
        for key, (mix, stems) in clips.items():
            row[key] = {s: v["sdr"] for s, v in evaluate.score(separator, mix, stems).items()}
        print(json.dumps(row), flush=True)
        rows.append(row)

    best = max(rows, key=lambda r: r["held_out_mean"])
    ckpt["config"] = with_mask_power(ckpt["config"], best["mask_power"])
    ckpt["calibration"] = rows
    torch.save(ckpt, args.dst)
    print(f"mask_power {best['mask_power']}: held-out mean {best['held_out_mean']} dB "
          f"(power 1: {next((r['held_out_mean'] for r in rows if r['mask_power'] == 1.0), 'not scored')})"
          f"; written to {pathlib.Path(args.dst)}")


if __name__ == "__main__":
    main()
