"""SDR of a checkpoint: `python -m model.training.evaluate data/runs/bsgru-v2/best.pt`

Prints per-stem SDR (global, and the median over 1 s windows, the figure MUSDB18 papers quote)
on the held-out synthetic renders (each song's own balance, and every stem at the training
mixes' starting RMS) and, for information only, on the real clips: the evaluation clip
(`../shared/eval/musdb18-preview-80s-rock`) and the demo (`demo/falcon69`, from
`cargo xtask setup`), never used for training or model selection.

For each real clip it also prints where each reference stem's energy goes (`leakage`): the
share of stem j's STFT energy that output i's mask passes, per frequency band. That is what
says *why* a stem scores low (the kick's low end taken for bass, a voice's upper harmonics
taken for `other`), which SDR alone does not; and, for the bass below 172 Hz, how much of its
error falls where the kick is loud (`low_end`).
"""
import argparse
import json
import pathlib

import numpy as np
import soundfile
import torch

from . import config, dataset
from .metrics import sdr, windowed_sdr
from .model import Separator
from .stems import STEMS

REPO = pathlib.Path(__file__).resolve().parents[2]
REAL_CLIPS = {"eval_clip": REPO.parent / "shared/eval/musdb18-preview-80s-rock",
              "demo_clip": REPO / "demo/falcon69"}
# frequency bands of the leakage table, in Hz: octaves from the kick and bass up
LEAKAGE_BANDS = (0, 86, 172, 344, 688, 1376, 2752, 5504, 22050)


@torch.no_grad()
def score(separator, mix, stems):
    est = separator.separate(mix.unsqueeze(0))[0]
    return {s: {"sdr": round(sdr(stems[i], est[i]), 2),
                "sdr_1s_median": round(windowed_sdr(stems[i], est[i]), 2)}
            for i, s in enumerate(STEMS) if stems[i].pow(2).mean() > 1e-8}


@torch.no_grad()
def spectra(separator, mix, stems):
    """The network's view of a clip: (the mixture's STFT (2, T, F), the masks (4, 2, T, F),
    the reference stems' STFTs (4, 2, T, F), the bins' frequencies in Hz (F,))."""
    spec, masks = separator(mix.unsqueeze(0))
    freqs = torch.fft.rfftfreq(separator.spec.n_fft, 1 / 44100)
    return spec[0], masks[0], separator.spec.stft(stems), freqs


def leakage(spec, masks, refs, freqs):
    """{reference stem: {band "lo-hi Hz": {"energy": share of the mixture's energy,
    output stem: share of the reference's energy that the output's mask passes}}}, from
    `spectra`."""
    total = spec.abs().pow(2).sum()
    table = {}
    for j, ref in enumerate(STEMS):
        energy = refs[j].abs().pow(2)
        rows = {}
        for lo, hi in zip(LEAKAGE_BANDS, LEAKAGE_BANDS[1:]):
            band = (freqs >= lo) & (freqs < hi)
            e = energy[..., band].sum()
            row = {"energy": round(float(e / total), 3)}
            for i, out in enumerate(STEMS):
                passed = (masks[i][..., band].pow(2) * energy[..., band]).sum()
                row[out] = round(float(passed / (e + 1e-12)), 2)
            rows[f"{lo}-{hi} Hz"] = row
        table[ref] = rows
    return table


def low_end(spec, masks, refs, freqs, top_hz=LEAKAGE_BANDS[2]):
    """The bass estimate below `top_hz` against the kick, from `spectra`: where a record's
    kick and bass share the lowest bins, the leakage table says how much of each goes where,
    this says *when*. Frames are ranked by the drums' energy there (kick quiet: at or under
    the median; then the 50-80th, 80-95th percentile and the loudest 5 %); each row gives the
    frames' share of the reference bass's energy, of the estimate's error, and the estimate's
    energy over the reference's. `drums_in_bass`: the least-squares coefficient of the drums'
    low end in the error (0: none of the kick in the bass; 1: all of it) and `explains`, the
    share of the error it accounts for; `sdr`: the bass estimate's SDR in those bins."""
    low = freqs < top_hz
    b, d = STEMS.index("bass"), STEMS.index("drums")
    bass, drums = refs[b][..., low], refs[d][..., low]
    error = masks[b][..., low] * spec[..., low] - bass

    def per_frame(z):
        return z.abs().pow(2).sum(dim=(0, 2))   # (T,)
    e_bass, e_drums, e_error = per_frame(bass), per_frame(drums), per_frame(error)
    e_est = per_frame(bass + error)
    edges = torch.quantile(e_drums, torch.tensor([0.5, 0.8, 0.95]))
    rank = torch.bucketize(e_drums, edges)   # a frame on an edge goes below it
    rows = {}
    for k, name in enumerate(("kick quiet", "kick 50-80 %", "kick 80-95 %", "kick loudest 5 %")):
        f = rank == k
        level = e_est[f].sum() / (e_bass[f].sum() + 1e-12)
        rows[name] = {"bass_energy": round(float(e_bass[f].sum() / e_bass.sum()), 2),
                      "error": round(float(e_error[f].sum() / e_error.sum()), 2),
                      "estimate_over_reference": round(float(level), 2)}
    coef = float((drums.conj() * error).sum().real / drums.abs().pow(2).sum())
    return {"sdr": round(float(10 * torch.log10(e_bass.sum() / e_error.sum())), 2),
            "drums_in_bass": round(coef, 2),
            "explains": round(float(coef ** 2 * e_drums.sum() / e_error.sum()), 2),
            "frames": rows}


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
    """(the network in eval mode, its effective config, the checkpoint's dict) of a checkpoint."""
    ckpt = torch.load(checkpoint)
    cfg = config.parse(ckpt["config"], config.TRAIN, f"{checkpoint}'s config")
    separator = Separator(cfg["model"], cfg["data"]["sample_rate"])
    separator.load_state_dict(ckpt["model"])
    separator.eval()
    return separator, cfg, ckpt


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
    separator, cfg, ckpt = load(args.checkpoint)
    root = args.data or cfg["data"]["root"]
    result = {"checkpoint": args.checkpoint, "step": ckpt.get("step"), "data": root}

    for key, examples in held_out_sets(root, args.valid_seconds, cfg["data"]).items():
        medians, counts = held_out_sdr(separator, examples)
        result[f"{key}_median_sdr"] = medians
        result[f"{key}_examples"] = counts

    for key, folder in REAL_CLIPS.items():
        if (folder / "mixture.wav").exists():
            mix, stems = read_clip(folder)
            result[key] = score(separator, mix, stems)
            views = spectra(separator, mix, stems)
            result[f"{key}_leakage"] = leakage(*views)
            result[f"{key}_low_end"] = low_end(*views)
    print(json.dumps(result, indent=1))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
