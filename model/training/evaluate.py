"""SDR of a checkpoint: `python model/training/evaluate.py data/runs/bsgru-v2/best.pt`

Prints per-stem SDR (global, and the median over 1 s windows, the figure MUSDB18 papers quote)
on the held-out synthetic renders (each song's own balance, and every stem at the training
mixes' starting RMS) and, for information only, on the real clips: the evaluation clip
(`../shared/eval/musdb18-preview-80s-rock`) and the demo (`demo/falcon69`, from
`cargo xtask setup`), never used for training or model selection.

For each real clip it also prints where each reference stem's energy goes (`leakage`): the
share of stem j's STFT energy that output i's mask passes, per frequency band. That is what
says *why* a stem scores low (the kick's low end taken for bass, a voice's upper harmonics
taken for `other`), which SDR alone does not.
"""
import argparse
import json
import os
import pathlib
import sys
import tomllib

import numpy as np
import soundfile
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataset  # noqa: E402
from model import STEMS, Separator  # noqa: E402
from train import sdr  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
REAL_CLIPS = {"eval_clip": REPO.parent / "shared/eval/musdb18-preview-80s-rock",
              "demo_clip": REPO / "demo/falcon69"}
# frequency bands of the leakage table, in Hz: octaves from the kick and bass up
LEAKAGE_BANDS = (0, 86, 172, 344, 688, 1376, 2752, 5504, 22050)


def windowed_sdr(ref, est, sr=44100, window=1.0):
    """Median of the SDRs of the 1 s windows in which the reference is not silent."""
    n = int(window * sr)
    scores = []
    for start in range(0, ref.shape[-1] - n + 1, n):
        r, e = ref[..., start:start + n], est[..., start:start + n]
        if r.pow(2).mean() > 1e-8:
            scores.append(sdr(r, e))
    return float(np.median(scores)) if scores else float("nan")


@torch.no_grad()
def score(separator, mix, stems):
    est = separator.separate(mix.unsqueeze(0))[0]
    return {s: {"sdr": round(sdr(stems[i], est[i]), 2),
                "sdr_1s_median": round(windowed_sdr(stems[i], est[i]), 2)}
            for i, s in enumerate(STEMS) if stems[i].pow(2).mean() > 1e-8}


@torch.no_grad()
def leakage(separator, mix, stems):
    """{reference stem: {band "lo-hi Hz": {"energy": share of the mixture's energy,
    output stem: share of the reference's energy that the output's mask passes}}}."""
    spec, masks = separator(mix.unsqueeze(0))
    freqs = torch.fft.rfftfreq(separator.spec.n_fft, 1 / 44100)
    total = spec.abs().pow(2).sum()
    table = {}
    for j, ref in enumerate(STEMS):
        energy = separator.spec.stft(stems[j].unsqueeze(0)).abs().pow(2)         # (1, C, T, F)
        rows = {}
        for lo, hi in zip(LEAKAGE_BANDS, LEAKAGE_BANDS[1:]):
            band = (freqs >= lo) & (freqs < hi)
            e = energy[..., band].sum()
            row = {"energy": round(float(e / total), 3)}
            for i, out in enumerate(STEMS):
                passed = (masks[:, i, ..., band].pow(2) * energy[..., band]).sum()
                row[out] = round(float(passed / (e + 1e-12)), 2)
            rows[f"{lo}-{hi} Hz"] = row
        table[ref] = rows
    return table


def held_out_sets(root, seconds, data_cfg):
    """The held-out split of a rendered set, read once at both balances: `valid` (each song's
    own balance) and `valid_balanced` (every stem at the training mixes' starting RMS)."""
    return {key: dataset.validation_set(root, seconds, data_cfg["sample_rate"],
                                        stem_rms_db=stem_rms_db)
            for key, stem_rms_db in (("valid", None), ("valid_balanced", data_cfg["stem_rms_db"]))}


def held_out_sdr(separator, examples):
    """({stem: median global SDR}, {stem: examples scored}) over held-out examples; a stem
    silent in an example is not scored there."""
    per_stem = {s: [] for s in STEMS}
    for _, mix, stems in examples:
        for s, v in score(separator, mix, stems).items():
            per_stem[s].append(v["sdr"])
    return ({s: round(float(np.median(v)), 2) for s, v in per_stem.items()},
            {s: len(v) for s, v in per_stem.items()})


def read_clip(folder):
    """(mixture (2, n), stems (4, 2, n)) of a folder of 44.1 kHz WAV files."""
    def read(name):
        x, sr = soundfile.read(folder / f"{name}.wav", dtype="float32", always_2d=True)
        assert sr == 44100, f"{folder / name}.wav: {sr} Hz, expected 44100"
        return torch.from_numpy(x.T.copy())
    return read("mixture"), torch.stack([read(s) for s in STEMS])


def load(checkpoint):
    ckpt = torch.load(checkpoint)
    cfg = tomllib.loads(ckpt["config"])
    separator = Separator(cfg["model"], cfg["data"]["sample_rate"])
    separator.load_state_dict(ckpt["model"])
    separator.eval()
    return separator, cfg, ckpt.get("step")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--valid-seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--data", help="the rendered set whose held-out split to score (default: the "
                    "checkpoint's own, its config's [data] root), to compare runs across data sets")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    separator, cfg, step = load(args.checkpoint)
    root = args.data or cfg["data"]["root"]
    result = {"checkpoint": args.checkpoint, "step": step, "data": root}

    for key, examples in held_out_sets(root, args.valid_seconds, cfg["data"]).items():
        medians, counts = held_out_sdr(separator, examples)
        result[f"{key}_median_sdr"] = medians
        result[f"{key}_examples"] = counts

    for key, folder in REAL_CLIPS.items():
        if (folder / "mixture.wav").exists():
            mix, stems = read_clip(folder)
            result[key] = score(separator, mix, stems)
            result[f"{key}_leakage"] = leakage(separator, mix, stems)
    print(json.dumps(result, indent=1))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
