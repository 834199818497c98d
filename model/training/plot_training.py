"""Plot a training run and its model's SDR per stem: `docs/sift-4stem.png`.

    .venv/bin/python -m model.training.plot_training data/runs/bsgru-v3/log.jsonl \
        --clip "80s Rock=target/own-model/rock.json" --clip "Falcon 69=target/own-model/demo.json" \
        --out docs/sift-4stem.png

Three panels: the training loss against the step, the median validation SDR per stem on the
held-out renders against the step (what `train.py` logs; dashed where the run also scores the
renders with every stem at the training mixes' balance), and the global SDR per stem of the
exported model on real clips, as `sift eval` scored the stems `sift separate --mode live` wrote
(its JSON line, saved to a file), with the issue's first targets marked. Reads JSON only, so it
runs in the project's `.venv` (matplotlib) and needs no PyTorch.
"""
import argparse
import json
import pathlib

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402  (after the back-end is chosen)

from . import config  # noqa: E402
from .stems import STEMS  # noqa: E402

TARGETS = {"vocals": 3.0, "drums": 4.0, "bass": 3.0}  # issue 11, on the 80s Rock clip in `live`
SMOOTH = 10  # log intervals in the loss's moving average
# train.py's `[train] loss`, read from the config.toml beside the log
LOSS_LABELS = {"magnitude_l1": "relative magnitude L1", "spectral_sdr": "minus SDR on the STFT (dB)"}


VALIDATIONS = {"valid_sdr": "-", "valid_sdr_balanced": "--"}  # log key: line style


def read_log(path):
    """(steps, losses), {log key: (validation steps, {stem: SDRs})} from a run's log.jsonl:
    each song's own balance (`valid_sdr`) and, where the run logs it, the training mixes'
    balance (`valid_sdr_balanced`)."""
    steps, losses = [], []
    valid = {key: ([], {s: [] for s in STEMS}) for key in VALIDATIONS}
    for line in pathlib.Path(path).read_text().splitlines():
        entry = json.loads(line)
        if "loss" in entry:
            steps.append(entry["step"])
            losses.append(entry["loss"])
        for key, (valid_steps, scores) in valid.items():
            if key in entry:
                valid_steps.append(entry["step"])
                for s in STEMS:
                    scores[s].append(entry[key][s])
    return (steps, losses), {key: v for key, v in valid.items() if v[0]}


def moving_average(values, n):
    return [sum(values[max(0, i - n + 1):i + 1]) / len(values[max(0, i - n + 1):i + 1])
            for i in range(len(values))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log", help="the run's log.jsonl")
    ap.add_argument("--clip", action="append", default=[], metavar="NAME=FILE",
                    help="a clip's `sift eval` JSON line, saved to FILE (repeatable)")
    ap.add_argument("--title", default="Sift's own four-stem model")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    (steps, losses), valid = read_log(args.log)
    clips = []
    for spec in args.clip:
        name, _, file = spec.partition("=")
        clips.append((name, json.loads(pathlib.Path(file).read_text())["sdr"]))

    fig, (ax_loss, ax_valid, ax_clips) = plt.subplots(1, 3, figsize=(15, 4.2))
    ax_loss.plot(steps, losses, color="0.8", linewidth=0.8, label="per log interval")
    ax_loss.plot(steps, moving_average(losses, SMOOTH), color="C0", label=f"mean of {SMOOTH}")
    run_config = pathlib.Path(args.log).with_name("config.toml")
    loss = config.parse(run_config.read_text() if run_config.exists() else "", config.TRAIN,
                        str(run_config))["train"]["loss"]
    ax_loss.set(xlabel="step", ylabel=LOSS_LABELS[loss], title="training loss")
    ax_loss.legend()

    for key, (valid_steps, scores) in valid.items():
        balanced = key == "valid_sdr_balanced"
        for i, s in enumerate(STEMS):
            ax_valid.plot(valid_steps, scores[s], marker="o", markersize=3, color=f"C{i}",
                          linestyle=VALIDATIONS[key],
                          label=f"{s}, stems at training balance" if balanced else s)
    ax_valid.axhline(0, color="0.6", linewidth=0.8)
    ax_valid.set(xlabel="step", ylabel="median SDR (dB)", title="held-out renders (validation)")
    ax_valid.legend(fontsize=7)

    width = 0.8 / max(1, len(clips))
    for c, (name, scores) in enumerate(clips):
        xs = [i + (c - (len(clips) - 1) / 2) * width for i in range(len(STEMS))]
        values = [scores.get(s, {}).get("sdr", float("nan")) for s in STEMS]
        bars = ax_clips.bar(xs, values, width * 0.95, label=name, color=f"C{c + 4}")
        ax_clips.bar_label(bars, fmt="%.1f", fontsize=8)
    for i, s in enumerate(STEMS):
        if s in TARGETS:
            ax_clips.plot([i - 0.45, i + 0.45], [TARGETS[s]] * 2, color="k", linestyle="--",
                          linewidth=1, label="target (80s Rock)" if i == 0 else None)
    ax_clips.axhline(0, color="0.6", linewidth=0.8)
    ax_clips.set_xticks(range(len(STEMS)), STEMS)
    ax_clips.set(ylabel="global SDR (dB)", title="real clips, `sift separate --mode live`")
    ax_clips.legend(fontsize=8)

    fig.suptitle(args.title)
    fig.tight_layout()
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
