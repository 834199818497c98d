"""Plot separation quality against latency from `cargo xtask eval`'s figures.

    python model/plot_quality.py target/eval/results.json docs/quality-vs-latency.png

A model is judged by its mean over the clips, never by one clip (issue 30), so each panel draws,
per model, the mean over the clips of each mode (host schedule) against the mode's latency, as a
line from the lowest latency to the highest, and each clip's own figures as faint dots around
it. Panels: the four-stem mean (each clip's mean over the stems it has, then their mean, for the
models that give drums, bass and other), each stem's global SDR, and the offline real-time factor
(host schedule; crosses for a file render where its schedule differs).
"""

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402  (after the back-end is chosen)

STEMS = ["vocals", "drums", "bass", "other", "accompaniment"]
FOUR_STEMS = ["vocals", "drums", "bass", "other"]
MODE_ORDER = {"live": 0, "balanced": 1, "studio": 2}
FOUR_STEM_MEAN = "four-stem mean"
RTF = "real-time factor"


def score(value):
    """`sift eval` writes a number, or "inf"/"-inf"/"nan" (JSON has no infinities); a silent
    reference stem's -inf (its leakage is in `silent_reference_leakage_db`, and in
    `target/eval/means.json` beside the means over the clips) is not plotted."""
    if value is None:
        return math.nan
    value = float(value)
    return value if math.isfinite(value) else math.nan


def clip_mean(row):
    """A clip's mean over the four stems it has a score for (a silent reference stem has none),
    or NaN for a model without drums, bass and other."""
    sdr = row["sdr"] or {}
    if not all(stem in sdr for stem in FOUR_STEMS[1:]):
        return math.nan
    values = [v for v in (score(sdr[stem].get("sdr")) for stem in FOUR_STEMS if stem in sdr) if not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def value(row, panel):
    """What `panel` shows of one separated clip."""
    if panel == RTF:
        return row["separate"]["rtf"]
    if panel == FOUR_STEM_MEAN:
        return clip_mean(row)
    return score((row["sdr"] or {}).get(panel, {}).get("sdr"))


def mean(values):
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def by_mode(rows):
    """{model: [(mode, latency ms, [rows of its clips])]}, modes from the lowest latency up."""
    models = {}
    for row in rows:
        modes = models.setdefault(row["model"], {})
        modes.setdefault(row["mode"], []).append(row)
    return {
        model: sorted(
            ((mode, group[0]["separate"]["latency_ms"], group) for mode, group in modes.items()),
            key=lambda m: MODE_ORDER.get(m[0], 99),
        )
        for model, modes in models.items()
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="target/eval/results.json")
    parser.add_argument("out", type=Path, help="the PNG to write")
    args = parser.parse_args()

    rows = json.loads(args.results.read_text())
    stems = [s for s in STEMS if any(s in (r["sdr"] or {}) for r in rows)]
    models = by_mode(rows)
    colours = {m: plt.get_cmap("tab10")(i) for i, m in enumerate(models)}
    clips = len({r["clip"] for r in rows})

    panels = [FOUR_STEM_MEAN] + stems + [RTF]
    columns = 4
    rows_of_panels = math.ceil((len(panels) + 1) / columns)  # one slot for the legend
    fig, axes = plt.subplots(rows_of_panels, columns, figsize=(4.6 * columns, 3.9 * rows_of_panels), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        for model, modes in models.items():
            colour = colours[model]
            latency = [ms for _, ms, _ in modes]
            per_clip = [[value(r, panel) for r in group] for _, _, group in modes]
            means = [mean(values) for values in per_clip]
            if all(math.isnan(v) for v in means):
                continue
            for x, values in zip(latency, per_clip):
                ax.plot([x] * len(values), values, marker="o", markersize=3, linestyle="none", color=colour, alpha=0.3)
            ax.plot(latency, means, marker="o", linewidth=2, color=colour, label=model)
            for (mode, _, _), x, y in zip(modes, latency, means):
                if not math.isnan(y):
                    ax.annotate(mode, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
            if panel == RTF:
                files = [mean([r["file_render"]["separate"]["rtf"] for r in group]) for _, _, group in modes]
                if files != means:
                    ax.plot(latency, files, marker="x", linestyle="none", color=colour, markersize=7,
                            label=f"{model}: file render (sift separate)")
        ax.set_xscale("log")
        ax.set_xlabel("latency in a host (ms, log scale)")
        if panel == RTF:
            ax.set_yscale("log")
            ax.axhline(1.0, color="grey", linewidth=0.8)
            ax.set_ylabel("processing time / audio time (log)")
            ax.set_title("offline real-time factor (under 1: faster than real time)", fontsize=9)
        else:
            ax.set_ylabel("SDR (dB, global)")
            ax.set_title(panel if panel != FOUR_STEM_MEAN else "four-stem mean (models with drums, bass, other)",
                         fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    spare = list(axes.flat)[len(panels):]
    for ax in spare:
        ax.axis("off")
    legend = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    threads = rows[0].get("threads", "?") if rows else "?"
    spare[0].legend(list(legend.values()), list(legend), loc="center", fontsize=9,
                    title=f"lines: mean over the {clips} clips; dots: each clip", title_fontsize=8)
    fig.suptitle(f"Sift: separation quality against latency (cargo xtask eval, {threads} threads)")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"[plot_quality] wrote {args.out}")


if __name__ == "__main__":
    main()
