"""Calibrate a checkpoint's mask power on held-out renders: `python -m model.training.calibrate SRC DST`

A network trained with the L1 loss on magnitudes (train.magnitude_l1, runs 1-7) answers the
median where it cannot tell two stems apart: it commits to one of them. SDR is an energy figure
and rewards the mean; a network trained on SDR itself (`spectral_sdr`, run 8 on) still sees
only the renders, and real records may want softer or harder masks than they do. Raising the
softmax masks to a power p below one and renormalising them over the stems
(`softmax(p * logits)`, model.BandSplitRNN's `mask_power`) moves them toward the mean without
touching a weight, and costs nothing at run time.

For each power this scores every real clip (`evaluate.real_clips`: each clip of
`../shared/eval/` and the demo clip) and, beside them, the held-out split of the checkpoint's
data set at both balances (evaluate.held_out_sets: each song's own, and every stem at the
training mixes' RMS), and takes the power with the best `real_mean`: the mean over the real
clips of each clip's mean SDR (`evaluate.real_summary`, a silent reference stem scored as
leakage and left out), the figure the ship rule of every run config since run 15 judges by.
A mask power is one number for the whole network, so choosing it on the clips that judge the
model tunes little to them; `--choose-on held_out` chooses on `held_out_mean` (the mean of the
eight held-out medians) instead, as runs 1-14 did, and so does a machine without real clips
(it says so). DST is SRC with `mask_power` written into its config's `[model]` table, so
evaluate.py, export.py and `train.py --init` all see it; the rest of SRC (its step, its
validation figures, the git commit that trained it) is kept, with every row in `calibration`.
"""
import argparse
import json
import pathlib
import re
import sys
import tomllib

import numpy as np
import torch

from . import evaluate


def with_mask_power(config_text, power, chosen_on="held_out_mean"):
    """The config text with `mask_power = power` as the first key of its `[model]` table (an
    earlier `mask_power` line there is dropped), its comment naming the figure that chose it.
    Raises ValueError if there is no `[model]`."""
    lines = [line for line in config_text.splitlines()
             if not re.match(r"\s*mask_power\s*=", line)]
    try:
        at = next(i for i, line in enumerate(lines) if line.strip() == "[model]")
    except StopIteration:
        raise ValueError("the checkpoint's config has no [model] table") from None
    on = {"held_out_mean": "the held-out renders", "real_mean": "the real clips' mean"}[chosen_on]
    lines.insert(at + 1, f"mask_power = {power}            # calibrate.py, on {on}")
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
    ap.add_argument("--choose-on", choices=("real", "held_out"), default="real",
                    help="the figure that chooses: real_mean (the mean over the real clips) or "
                         "held_out_mean (default: %(default)s)")
    evaluate.clip_arguments(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    separator, cfg, ckpt = evaluate.load(args.src)
    sets = evaluate.held_out_sets(cfg["data"]["root"], args.valid_seconds, cfg["data"])
    clips = {name: evaluate.read_clip(folder)
             for name, folder in evaluate.real_clips(args.eval_dir, args.demo).items()}
    choose_on = f"{args.choose_on}_mean"
    if choose_on == "real_mean" and not clips:
        print(f"no real clip found ({args.eval_dir}, {args.demo}): choosing on held_out_mean",
              file=sys.stderr)
        choose_on = "held_out_mean"

    rows = []
    for power in (float(p) for p in args.powers.split(",")):
        separator.net.mask_power = power
        row = {"mask_power": power}
        for key, examples in sets.items():
            row[key] = evaluate.held_out_sdr(separator, examples)[0]
        row["held_out_mean"] = round(float(np.mean([v for key in sets
                                                    for v in row[key].values()])), 3)
        if clips:
            real = evaluate.real_summary({name: evaluate.score(separator, mix, stems)
                                          for name, (mix, stems) in clips.items()})
            row["real_mean"] = real["mean"]
            row["real"] = real
        print(json.dumps(row), flush=True)
        rows.append(row)

    best = max(rows, key=lambda r: r[choose_on])
    ckpt["config"] = with_mask_power(ckpt["config"], best["mask_power"], choose_on)
    ckpt["calibration"] = rows
    ckpt["calibrated_on"] = choose_on
    torch.save(ckpt, args.dst)
    at_one = next((r for r in rows if r["mask_power"] == 1.0), None)
    print(f"mask_power {best['mask_power']}, chosen on {choose_on}: "
          + ", ".join(f"{key} {best[key]} dB (power 1: {at_one[key] if at_one else 'not scored'})"
                      for key in ("real_mean", "held_out_mean") if key in best)
          + f"; written to {pathlib.Path(args.dst)}")


if __name__ == "__main__":
    main()
