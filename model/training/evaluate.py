"""SDR of a checkpoint: `python -m model.training.evaluate data/runs/bsgru-v2/best.pt`

Prints, as JSON on stdout (and the real clips' table in Markdown on stderr):

* the held-out synthetic renders: per-stem median SDR (each song's own balance, and every stem
  at the training mixes' starting RMS);
* beside them, **every real clip**: each folder of `../shared/eval/` that holds a `mixture.wav`
  (80s Rock, ssr-rohaar, ssr-las_vegas_tango, ssr-how_will_i_know; read their READMEs) and the
  demo clip (`demo/falcon69`, from `cargo xtask setup`), never used for training. Per clip, each
  stem's global SDR (and the median over 1 s windows, the figure MUSDB18 papers quote); and
  `real`, the summary that judges a model (`real_summary`): each stem's mean over the clips,
  each clip's mean over its stems, and `mean`, the mean over the clips of the clip means (the
  figure of issue 30's table and of every run config's ship rule since run 15). A reference
  stem that is silent (ssr-how_will_i_know has no drums) has no SDR: it is scored as leakage,
  the estimate's energy against the mixture's in dB (`metrics.leakage_db`), reported beside
  the means and left out of them.

For each real clip it also prints where each reference stem's energy goes (`leakage`): the
share of stem j's STFT energy that output i's mask passes, per frequency band. That is what
says *why* a stem scores low (the kick's low end taken for bass, a voice's upper harmonics
taken for `other`), which SDR alone does not; and, for the bass below 172 Hz, how much of its
error falls where the kick is loud (`low_end`; on clips with both a bass and drums).
"""
import argparse
import json
import pathlib
import sys

import numpy as np
import soundfile
import torch

from . import config, dataset
from .metrics import is_silent, leakage_db, sdr, windowed_sdr
from .model import Separator
from .stems import STEMS

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED_EVAL = REPO.parent / "shared/eval"      # the real multitracks, one folder per clip
DEMO_CLIP = REPO / "demo/falcon69"              # the demo's stems (`cargo xtask setup`)
EVAL_CLIP = SHARED_EVAL / "musdb18-preview-80s-rock"   # export.py's check feeds its mixture
# frequency bands of the leakage table, in Hz: octaves from the kick and bass up
LEAKAGE_BANDS = (0, 86, 172, 344, 688, 1376, 2752, 5504, 22050)


def real_clips(shared=SHARED_EVAL, demo=DEMO_CLIP):
    """{clip name: folder} of every real clip: each folder of `shared` holding a `mixture.wav`,
    by name, then the demo clip (where `cargo xtask setup` has unpacked it). The same clips as
    `cargo xtask eval` (xtask/src/eval.rs)."""
    shared, demo = pathlib.Path(shared), pathlib.Path(demo)
    clips = {}
    if shared.is_dir():
        clips = {f.name: f for f in sorted(shared.iterdir()) if (f / "mixture.wav").is_file()}
    if (demo / "mixture.wav").is_file():
        clips[demo.name] = demo
    return clips


@torch.no_grad()
def score(separator, mix, stems):
    """{stem: figures} of one clip or example: `sdr` and `sdr_1s_median` where the reference
    is not silent; where it is (`metrics.is_silent`), `leakage_db` (`metrics.leakage_db`: the
    estimate's energy against the mixture's) and `silent_reference`."""
    return score_estimates(mix, stems, separator.separate(mix.unsqueeze(0))[0])


def score_estimates(mix, stems, est):
    """`score` of estimates already made: mixture (2, n), references and estimates (4, 2, n)."""
    out = {}
    for i, s in enumerate(STEMS):
        if is_silent(stems[i]):
            out[s] = {"silent_reference": True, "leakage_db": round(leakage_db(est[i], mix), 2)}
        else:
            out[s] = {"sdr": round(sdr(stems[i], est[i]), 2),
                      "sdr_1s_median": round(windowed_sdr(stems[i], est[i]), 2)}
    return out


def real_summary(scores):
    """The figures that judge a model on the real clips, from {clip: `score`'s dict}:

    * `clips`: {clip: {stem: SDR, ..., "mean": the mean over the clip's stems that have a
      reference}}, a silent reference stem left out (it has no SDR);
    * `stems`: {stem: mean SDR over the clips where that stem has a reference};
    * `mean`: the mean over the clips of the clip means (issue 30's table: 2.82 dB for run 13
      in Sift), the ship rule's figure; `min_clip_mean`: the lowest clip mean;
    * `leakage_db`: {clip: {stem: dB}} for each silent reference stem, reported beside the means
      (the estimate's energy against the mixture's: lower is better);
    * `clip_count`: the clips averaged over."""
    clips, leak = {}, {}
    for clip, figures in scores.items():
        row = {s: v["sdr"] for s, v in figures.items() if not v.get("silent_reference")}
        if row:
            clips[clip] = {**row, "mean": round(float(np.mean(list(row.values()))), 2)}
        silent = {s: v["leakage_db"] for s, v in figures.items() if v.get("silent_reference")}
        if silent:
            leak[clip] = silent
    stems = {s: round(float(np.mean(v)), 2)
             for s in STEMS if (v := [row[s] for row in clips.values() if s in row])}
    means = [row["mean"] for row in clips.values()]
    return {"clips": clips, "stems": stems,
            "mean": round(float(np.mean(means)), 2) if means else float("nan"),
            "min_clip_mean": round(float(min(means)), 2) if means else float("nan"),
            "leakage_db": leak, "clip_count": len(clips)}


def real_table(summary):
    """`real_summary` as a Markdown table: a row per clip (each stem's SDR, a silent reference's
    leakage in brackets, the clip's mean) and the means over the clips."""
    lines = ["| clip | " + " | ".join(STEMS) + " | mean |", "|---|" + "--:|" * (len(STEMS) + 1)]
    for clip, row in summary["clips"].items():
        leak = summary["leakage_db"].get(clip, {})
        cells = [f"{row[s]:.2f}" if s in row else
                 (f"(silent: leakage {leak[s]:.1f} dB)" if s in leak else "–") for s in STEMS]
        lines.append(f"| {clip} | " + " | ".join(cells) + f" | {row['mean']:.2f} |")
    cells = [f"**{summary['stems'][s]:.2f}**" if s in summary["stems"] else "–" for s in STEMS]
    lines.append(f"| **mean over {summary['clip_count']} clips** | " + " | ".join(cells)
                 + f" | **{summary['mean']:.2f}** |")
    return "\n".join(lines)


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
            if not v.get("silent_reference"):
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


def clip_arguments(ap):
    """The options that say where the real clips are (`real_clips`), for evaluate and calibrate."""
    ap.add_argument("--eval-dir", default=str(SHARED_EVAL),
                    help="the folder of real clips, one folder each (default: %(default)s)")
    ap.add_argument("--demo", default=str(DEMO_CLIP),
                    help="the demo clip's folder, scored with them (default: %(default)s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--valid-seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--data", help="the rendered set whose held-out split to score (default: the "
                    "checkpoint's own, its config's [data] root), to compare runs across data sets")
    clip_arguments(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    separator, cfg, ckpt = load(args.checkpoint)
    root = args.data or cfg["data"]["root"]
    result = {"checkpoint": args.checkpoint, "step": ckpt.get("step"), "data": root}

    for key, examples in held_out_sets(root, args.valid_seconds, cfg["data"]).items():
        medians, counts = held_out_sdr(separator, examples)
        result[f"{key}_median_sdr"] = medians
        result[f"{key}_examples"] = counts

    clips = real_clips(args.eval_dir, args.demo)
    scores, details = {}, {}
    for name, folder in clips.items():
        mix, stems = read_clip(folder)
        scores[name] = score(separator, mix, stems)
        views = spectra(separator, mix, stems)
        details[name] = {"leakage": leakage(*views)}
        if not any(is_silent(stems[STEMS.index(s)]) for s in ("bass", "drums")):
            details[name]["low_end"] = low_end(*views)
    result["real"] = real_summary(scores)
    result["clips"] = {name: {"scores": scores[name], **details[name]} for name in clips}
    print(json.dumps(result, indent=1))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    if clips:
        print(real_table(result["real"]), file=sys.stderr)
    else:
        print(f"no real clip found ({args.eval_dir}, {args.demo}): held-out renders only",
              file=sys.stderr)


if __name__ == "__main__":
    main()
