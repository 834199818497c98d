"""Real recordings in the pipeline's stem format:
`python -m model.training.prepare model/training/configs/real-v1.toml`

The renders (render.py) teach the network what MIDI played on sampled instruments and re-sung
speech sound like; the records it meets have real voices, real kits and real mixes. This makes
a set of the same files from openly licensed recordings (sources.py: "eir", "pjs"; their
licences and how to get them again: model/README.md, "Real recordings"):

* `eir-*`: **Everything is Remixed** (Software-Entwicklungskit's album "Everything is Free",
  CC0): seven songs, each as 12-37 sample-aligned stems. Each stem is grouped into vocals,
  drums, bass or other by its file name (`EIR_RULES`, `EIR_SYNTH_BASS`; a stem no rule can place
  is left out, and so out of the mixture, which is always the sum of the stems), the groups are
  summed, and each song is cut into consecutive `seconds`-long examples (a cut whose mixture is
  under `silence_db` is left out, and so is a stem that is under it in a cut). The songs in
  `eir_valid` are the `valid` split, the real held-out songs train.py validates on
  (`valid_sdr_real`); the others are `train`.
* `pjs-*`: the **PJS corpus** (Koguchi and Takamichi, CC BY-SA 4.0): 100 short songs sung a
  cappella by one singer (98 in the copy found), each a vocals-only training example (cut like a
  song where it is longer than `seconds`); the data set mixes them with other songs' drums,
  bass and other (dataset.py).

Every source is resampled to `sample_rate` and made stereo (a mono recording on both channels).
The stems are decoded from AAC `.m4a` files (Everything is Remixed: the full-quality file where
the copy has it, else its `_mobile` one, 16-48 kHz; each example's `mobile` says which) with
PyAV, from WAV or FLAC with soundfile. Nothing here is random: the same sources give the same
set, so it needs no seed. Like render.py it writes `<out>/<split>/<id>/<stem>.flac`, a line per
example in `<out>/<split>/manifest.jsonl` (with `song`, `offset` and, for Everything is
Remixed, `parts`: which stems of the song went into each of ours), `sources.json` and
`config.toml`; stopped, the same command continues (songs already in the manifest are skipped).
"""
import argparse
import json
import math
import pathlib
import re
import time

import numpy as np
import soundfile
from scipy.signal import resample_poly

from . import config, dataset, sources
from .stems import STEMS

# Everything is Remixed's stems by name: the first rule whose pattern matches a stem's name (the
# file name without "<n>.<Song>_Stem_" and "_mobile", "_" read as " ") gives its stem; None
# leaves it out. The names say what a stem is; where they do not, its spectrum was looked at
# (the share of its energy under 150 Hz and over 4 kHz, Dec 7, model/training/RUNS.md, run 15).
EIR_RULES = [
    (r"MASTER", None),              # 6.Caesium_Master: the finished mix, not a stem
    (r"^PAD \+ BASS$", "bass"),     # 4.Potassium: the bass line and a pad, 98 % under 150 Hz
    (r"^BREAK$", None),             # 6.Caesium, 7.Francium: a section's stem, content unnamed
    (r"^(BG)?VOX\b", "vocals"),     # lead, backing and echo vocals
    (r"\bBASS\b", "bass"),          # SY BASS (songs 2 and 3), BASS STAB (3): 69-95 % under 150 Hz
    (r"\b(DRUMS?|KICK|HH|HATS?|SNARE|SN|CLAPS?|CRASH|CYMBALS|TOMS?|TOPS|PERC|PRC|BREAKBEAT|BEAT)\b"
     r"|^CRUSH BREAK$", "drums"),   # kits, loops and beats, hats, claps, cymbals, fills
    (r".", "other"),                # synths, pads, plucks, keys, piano, risers, scratches
]
# The Minilogue synth plays the bass line in three songs (90, 97 and 51 % of its energy under
# 150 Hz; a synth bass's harmonics carry the rest) and leads or chords in the other four
# (2-21 %): there it is `other`, by the rules.
EIR_SYNTH_BASS = {("4.Potassium", "MINILOGUE SYNTH"), ("5.Rubidium", "MINILOGUE SYNTH"),
                  ("6.Caesium", "MINILOGUE SYNTH")}
AUDIO = (".m4a", ".flac", ".wav")
SPLITS = ("valid", "train")


def eir_stem(song, name):
    """The stem (one of `STEMS`) that Everything is Remixed's stem `name` of `song` goes to, or
    None where it is left out."""
    if (song, name) in EIR_SYNTH_BASS:
        return "bass"
    return next(stem for pattern, stem in EIR_RULES if re.search(pattern, name))


def eir_songs(root):
    """{song: {stem name: file}} of an Everything is Remixed work tree (`<root>/src/<n>.<Song>/`
    with `<n>.<Song>_Stem_<NAME>[_mobile].m4a`; the master counts as a stem named MASTER); the
    full-quality file where there is one, else the `_mobile` copy."""
    songs = {}
    for folder in sorted(pathlib.Path(root, "src").glob("[0-9]*.*")):
        files = {}
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in AUDIO:
                continue
            stem = path.stem
            mobile = stem.endswith("_mobile")
            stem = stem.removesuffix("_mobile")
            name = stem.split("_Stem_", 1)[1] if "_Stem_" in stem else "MASTER"
            name = name.replace("_", " ").strip()
            if name not in files or not mobile:    # the full-quality file wins
                files[name] = path
        if files:
            songs[folder.name] = files
    return songs


def pjs_songs(root):
    """{song id: file} of the PJS corpus's a cappellas (`<root>/wav/pjsNNN.wav`)."""
    return {p.stem: p for p in sorted(pathlib.Path(root, "wav").glob("pjs*.wav"))}


def decode(path, sample_rate):
    """(2, n) float32 of an audio file at `sample_rate`: AAC (`.m4a`) through PyAV, WAV and FLAC
    through soundfile; mono on both channels, channels beyond two dropped."""
    path = pathlib.Path(path)
    if path.suffix.lower() == ".m4a":
        return _decode_av(path, sample_rate)
    x, sr = soundfile.read(path, dtype="float32", always_2d=True)
    x = x.T
    x = np.repeat(x, 2, axis=0) if x.shape[0] == 1 else x[:2]
    if sr != sample_rate:
        g = math.gcd(sr, sample_rate)
        x = resample_poly(x, sample_rate // g, sr // g, axis=1)
    return np.ascontiguousarray(x, dtype=np.float32)


def _decode_av(path, sample_rate):
    import av   # PyAV (model/training/requirements-no-deps.txt): only this reads AAC
    chunks = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=sample_rate)
        for frame in container.decode(container.streams.audio[0]):
            chunks += [f.to_ndarray() for f in resampler.resample(frame)]
        chunks += [f.to_ndarray() for f in resampler.resample(None)]
    return np.concatenate(chunks, axis=1).astype(np.float32)


def _add(total, x):
    """`total` + `x`, the shorter padded with zeros (a song's stems may end apart)."""
    if total is None:
        return x.copy()
    if x.shape[1] > total.shape[1]:
        total = np.pad(total, ((0, 0), (0, x.shape[1] - total.shape[1])))
    total[:, :x.shape[1]] += x
    return total


def rms_db(x):
    return 20 * float(np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))


def cut(audio, cfg):
    """[(offset in seconds, {stem: (2, n)})]: `audio` ({stem: (2, N)}, all of one length) in
    consecutive `seconds`-long parts, the last kept if at least half as long (a recording
    shorter than that is one part); a part whose mixture is under `silence_db` is left out, and
    so is a stem under it within a part."""
    sr, n = cfg["sample_rate"], int(cfg["seconds"] * cfg["sample_rate"])
    length = max(a.shape[1] for a in audio.values())
    parts = []
    for start in range(0, length, n):
        part = {s: a[:, start:start + n] for s, a in audio.items()}
        if start and next(iter(part.values())).shape[1] < n / 2:
            break
        if rms_db(sum(part.values())) < cfg["silence_db"]:
            continue
        part = {s: a for s, a in part.items() if rms_db(a) >= cfg["silence_db"]}
        if part:
            parts.append((round(start / sr, 3), part))
    return parts


def eir_job(cfg, song, files):
    """The examples of one Everything is Remixed song: [(id, {stem: audio}, meta)]."""
    sr = cfg["sample_rate"]
    audio, parts, mobile = {}, {s: [] for s in STEMS}, []
    for name, path in files.items():
        stem = eir_stem(song, name)
        if stem is None:
            continue
        audio[stem] = _add(audio.get(stem), decode(path, sr))
        parts[stem].append(name)
        if path.stem.endswith("_mobile"):
            mobile.append(name)
    length = max(a.shape[1] for a in audio.values())
    audio = {s: np.pad(a, ((0, 0), (0, length - a.shape[1]))) for s, a in audio.items()}
    slug = re.sub(r"[^a-z0-9]+", "-", song.lower()).strip("-")
    return [(f"eir-{slug}-{k:02d}", part,
             {"song": song, "offset": offset, "parts": {s: parts[s] for s in part},
              "mobile": sorted(n for n in mobile if eir_stem(song, n) in part)})
            for k, (offset, part) in enumerate(cut(audio, cfg))]


def pjs_job(cfg, song, path):
    """The example(s) of one PJS a cappella: vocals only."""
    x = decode(path, cfg["sample_rate"])
    return [(f"pjs-{song.removeprefix('pjs')}" + (f"-{k:02d}" if k else ""), part,
             {"song": song, "offset": offset})
            for k, (offset, part) in enumerate(cut({"vocals": x}, cfg))]


def plan(cfg, split):
    """The jobs of one split: (job id, kind, song, source)."""
    jobs = []
    if cfg["eir"]:
        songs = eir_songs(cfg["eir"])
        missing = set(cfg["eir_valid"]) - set(songs)
        if missing:
            raise SystemExit(f"[prepare] eir_valid names songs {cfg['eir']} lacks: "
                             f"{', '.join(sorted(missing))} (it has {', '.join(songs)})")
        jobs += [(f"eir-{song}", "eir", song, files) for song, files in songs.items()
                 if (song in cfg["eir_valid"]) == (split == "valid")]
    if cfg["pjs"] and split == "train":
        jobs += [(f"pjs-{song.removeprefix('pjs')}", "pjs", song, path)
                 for song, path in pjs_songs(cfg["pjs"]).items()]
    return jobs


def used_sources(cfg):
    """The part of `sources.SOURCES` this config draws on (the set's `sources.json`)."""
    keys = (["eir"] if cfg["eir"] else []) + (["pjs"] if cfg["pjs"] else []) + ["pyav"]
    return {key: sources.SOURCES[key] for key in keys}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False,
                                 epilog="--prepare.key=value overrides a key of the config, e.g. "
                                        "--prepare.eir=DIR for the source folder (config.py)")
    ap.add_argument("config", help="a real-material config (a [prepare] table over "
                                   "configs/prepare-defaults.toml)")
    ap.add_argument("--splits", default=",".join(SPLITS))
    args, overrides = ap.parse_known_args()
    try:
        cfg = config.load(args.config, config.PREPARE, overrides)["prepare"]
    except config.ConfigError as error:
        ap.error(str(error))
    for key in ("eir", "pjs"):
        if cfg[key] and not pathlib.Path(cfg[key]).is_dir():
            ap.error(f"[prepare] {key} = {cfg[key]!r}: no such folder (model/README.md, "
                     f"\"Real recordings\", says how to get it; --prepare.{key}=DIR)")
    out = pathlib.Path(cfg["out"])
    for split, manifest, done in dataset.open_set(out, "prepare", cfg, used_sources(cfg),
                                                  args.splits.split(",")):
        todo = [job for job in plan(cfg, split) if job[0] not in done]
        print(f"{split}: {len(done)} done, {len(todo)} to prepare", flush=True)
        with manifest.open("a") as f:
            for k, (job, kind, song, source) in enumerate(todo):
                t0 = time.time()
                examples = (eir_job(cfg, song, source) if kind == "eir"
                            else pjs_job(cfg, song, source))
                for ex_id, audio, meta in examples:
                    levels = dataset.write_example(out, split, ex_id, audio, cfg["sample_rate"])
                    seconds = next(iter(audio.values())).shape[1] / cfg["sample_rate"]
                    f.write(json.dumps({"id": ex_id, "job": job, "kind": kind,
                                        "seconds": round(seconds, 3), "rms_db": levels,
                                        **meta}) + "\n")
                f.flush()
                print(f"{split} {k + 1}/{len(todo)} {job}: {len(examples)} example(s) in "
                      f"{time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
