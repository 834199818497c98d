"""Compare `sift eval`'s SDR definitions with museval's (BSSEval v4) on the same files.

Usage: museval_crosscheck.py ESTIMATE_DIR REFERENCE_DIR

For every `<stem>.wav` in ESTIMATE_DIR with a reference (`REFERENCE_DIR/<stem>.wav`, or for
`accompaniment` the sum of every reference except vocals and mixture, as `sift eval` does) it
prints:

- museval: median over 1 s frames of museval's v4 SDR, as SiSEC 2018 reports a track.
- framewise / global: `sift eval`'s energy ratios, re-implemented here in numpy: the median of
  10·log10(Σref² / Σ(ref−est)²) over whole 1 s windows whose reference is not silent, and the
  same ratio over the whole file.
- museval-fw: museval minus our framewise median.

museval fits 512-tap distortion filters, but in v4 "images" mode (what `museval.evaluate` and
SiSEC use) they only split the error into spatial, interference and artefact parts (ISR, SIR,
SAR): its SDR is ||s_true||² / ||est − s_true||² with s_true the unfiltered reference, i.e. the
same ratio as ours. museval-fw is therefore ~0 (float rounding) unless the silence rules differ:
museval skips a window when *any* reference stem or *any* estimate is silent in it (judged on the
sum of the channels), while we skip only windows where this stem's reference is silent.

Needs `pip install museval` (numpy, scipy). museval's package import pulls in stempeg, which
refuses to load without ffmpeg; only `museval.metrics` is needed, so it is loaded on its own
when the package import fails.
"""

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
from scipy.io import wavfile


def load_museval_metrics():
    try:
        import museval.metrics

        return museval.metrics
    except RuntimeError:  # stempeg: "ffmpeg or ffprobe could not be found"
        package = importlib.util.find_spec("museval")
        if package is None:
            sys.exit("museval is not installed: pip install museval")
        path = Path(package.submodule_search_locations[0]) / "metrics.py"
        spec = importlib.util.spec_from_file_location("museval_metrics", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


def read_wav(path):
    """(sample_rate, float64 array of shape (samples, channels))."""
    rate, data = wavfile.read(path)
    if data.dtype == np.uint8:
        data = (data.astype(np.float64) - 128) / 128
    elif np.issubdtype(data.dtype, np.integer):
        data = data.astype(np.float64) / -np.iinfo(data.dtype).min
    data = np.asarray(data, dtype=np.float64)
    return rate, data.reshape(len(data), -1)


def reference_for(reference_dir, stem):
    path = reference_dir / f"{stem}.wav"
    if path.is_file():
        return read_wav(path)
    if stem != "accompaniment":
        return None
    parts = [
        read_wav(p)
        for p in sorted(reference_dir.glob("*.wav"))
        if p.stem not in ("vocals", "mixture")
    ]
    if not parts:
        return None
    length = max(len(d) for _, d in parts)
    total = np.zeros((length, parts[0][1].shape[1]))
    for _, d in parts:
        total[: len(d)] += d
    return parts[0][0], total


def sdr_db(ref, est):
    error = np.sum((ref - est) ** 2)
    return np.inf if error == 0 else 10 * np.log10(np.sum(ref**2) / error)


def framewise_median(ref, est, rate):
    """Same windows as museval: whole 1 s windows only, or one window if the signal is shorter."""
    n = len(ref)
    windows = (n - rate) // rate + 1 if n > rate else 1
    sdrs = [
        sdr_db(ref[w * rate : (w + 1) * rate], est[w * rate : (w + 1) * rate])
        for w in range(windows)
        if np.any(ref[w * rate : (w + 1) * rate] != 0)
    ]
    return float(np.median(sdrs)) if sdrs else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("estimate_dir", type=Path)
    parser.add_argument("reference_dir", type=Path)
    args = parser.parse_args()

    stems, refs, ests, rate = [], [], [], None
    for path in sorted(args.estimate_dir.glob("*.wav")):
        reference = reference_for(args.reference_dir, path.stem)
        if reference is None:
            continue
        ref_rate, ref = reference
        est_rate, est = read_wav(path)
        if est_rate != ref_rate or (rate is not None and ref_rate != rate):
            sys.exit(f"{path}: sample rate {est_rate} Hz, reference {ref_rate} Hz")
        rate = ref_rate
        stems.append(path.stem)
        refs.append(ref)
        ests.append(est)
    if not stems:
        sys.exit(f"no estimate in {args.estimate_dir} has a reference in {args.reference_dir}")

    # museval evaluates a track's stems jointly, so all must share one length (it pads or
    # truncates estimates to the references); we compare over the shortest, as `sift eval` does.
    length = min(len(a) for a in refs + ests)
    refs = np.stack([r[:length] for r in refs])
    ests = np.stack([e[:length] for e in ests])

    metrics = load_museval_metrics()
    # Exactly what museval.evaluate(..., mode="v4") does (1 s windows and hop at the track's rate).
    sdr_frames, _, _, _, _ = metrics.bss_eval(
        refs,
        ests,
        compute_permutation=False,
        window=rate,
        hop=rate,
        framewise_filters=False,
        bsseval_sources_version=False,
    )

    print(f"{'stem':<16}{'museval':>10}{'framewise':>11}{'global':>10}{'museval-fw':>14}  (dB)")
    for stem, ref, est, frames in zip(stems, refs, ests, sdr_frames):
        museval_sdr = float(np.nanmedian(frames)) if np.any(~np.isnan(frames)) else None
        ours_fw = framewise_median(ref, est, rate)
        ours_global = sdr_db(ref, est)
        diff = museval_sdr - ours_fw if None not in (museval_sdr, ours_fw) else None
        cells = [museval_sdr, ours_fw, ours_global, diff]
        formats = [(10, ".2f"), (11, ".2f"), (10, ".2f"), (14, ".2e")]
        row = "".join(
            f"{'-' if v is None else format(v, f):>{w}}" for v, (w, f) in zip(cells, formats)
        )
        print(f"{stem:<16}{row}")


if __name__ == "__main__":
    main()
