"""Plot separation quality against latency from `cargo xtask eval`'s figures.

    python model/plot_quality.py target/eval/results.json docs/quality-vs-latency.png

One panel per stem (global SDR of the mode's host schedule against its latency, one line per
model and clip: the modes of a model joined from lowest to highest latency), and one panel of
the offline real-time factor (host schedule, and crosses for a file render where its schedule
differs), so what each model and mode gives and costs reads off one picture.
"""

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402  (after the back-end is chosen)

STEMS = ["vocals", "drums", "bass", "other", "accompaniment"]
MODE_ORDER = {"live": 0, "balanced": 1, "studio": 2}


def score(value):
    """`sift eval` writes a number, or "inf"/"-inf"/"nan" (JSON has no infinities); a silent
    reference stem's -inf (its leakage is in `silent_reference_leakage_db`, and in
    `target/eval/means.json` beside the means over the clips) is not plotted."""
    if value is None:
        return math.nan
    value = float(value)
    return value if math.isfinite(value) else math.nan


def series(rows):
    """Rows grouped by (model, clip), each group's modes in order."""
    groups = {}
    for row in rows:
        groups.setdefault((row["model"], row["clip"]), []).append(row)
    for group in groups.values():
        group.sort(key=lambda r: MODE_ORDER.get(r["mode"], 99))
    return groups


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="target/eval/results.json")
    parser.add_argument("out", type=Path, help="the PNG to write")
    args = parser.parse_args()

    rows = json.loads(args.results.read_text())
    stems = [s for s in STEMS if any(s in (r["sdr"] or {}) for r in rows)]
    groups = series(rows)
    # In the order `cargo xtask eval` ran them: the eval clips first (filled markers, labelled
    # modes), then the demo clip.
    models = list(dict.fromkeys(r["model"] for r in rows))
    clips = list(dict.fromkeys(r["clip"] for r in rows))
    colours = {m: plt.get_cmap("tab10")(i) for i, m in enumerate(models)}
    styles = [("o", "-", True), ("s", "--", False), ("^", ":", False)]
    clip_style = {clip: styles[i % len(styles)] for i, clip in enumerate(clips)}

    panels = stems + ["real-time factor"]
    columns = 3
    rows_of_panels = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows_of_panels, columns, figsize=(5 * columns, 3.8 * rows_of_panels), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        for (model, clip), group in groups.items():
            latency = [r["separate"]["latency_ms"] for r in group]
            if panel == "real-time factor":
                values = [r["separate"]["rtf"] for r in group]
                files = [r["file_render"]["separate"]["rtf"] for r in group]
                if files != values and clip_style[clip][2]:
                    ax.plot(latency, files, marker="x", linestyle="none", color=colours[model],
                            label=f"{model} · file render (sift separate)")
            else:
                values = [score((r["sdr"] or {}).get(panel, {}).get("sdr")) for r in group]
            if all(math.isnan(v) for v in values):
                continue
            marker, line, filled = clip_style[clip]
            ax.plot(
                latency,
                values,
                marker=marker,
                linestyle=line,
                color=colours[model],
                markerfacecolor=colours[model] if filled else "white",
                label=f"{model} · {clip}",
            )
            for r, x, y in zip(group, latency, values):
                if filled and not math.isnan(y):
                    ax.annotate(r["mode"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log scale)")
        if panel == "real-time factor":
            ax.set_yscale("log")
            ax.axhline(1.0, color="grey", linewidth=0.8)
            ax.set_ylabel("processing time / audio time (log)")
            ax.set_title("offline real-time factor (below the line: faster than real time)", fontsize=9)
        else:
            ax.set_ylabel("SDR (dB, global)")
            ax.set_title(panel)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    legend = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    labels, handles = list(legend), list(legend.values())
    threads = rows[0].get("threads", "?") if rows else "?"
    fig.legend(handles, labels, loc="lower center", ncol=min(4, max(1, len(labels))), fontsize=8)
    fig.suptitle(f"Sift: separation quality against latency (cargo xtask eval, {threads} threads)")
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"[plot_quality] wrote {args.out}")


if __name__ == "__main__":
    main()
