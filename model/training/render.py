"""Render a four-stem training set from MIDI:
`python -m model.training.render model/training/configs/data-v3.toml`

Each example is a folder `<out>/<split>/<id>/` with one FLAC per stem (vocals, drums, bass,
other; a stem that has no notes is left out) and a line in `<out>/<split>/manifest.jsonl`.
Two kinds of example:

* `mma-*`: a random song: tempo, key, chord chart and one of MMA's grooves (drums, bass,
  chords), a melody sung by `voice.Singer` (or, for a share of songs, played by a GM voice
  program), drums on one of four SoundFont drum kits (from data v3 on also one of Hydrogen's
  twelve recorded kits, `drum_kits.py`), the rest on one of two GM SoundFonts.
* `openmsx-*`: consecutive excerpts of the 31 OpenMSX songs (no vocals; the data set mixes
  vocals of other songs in).

Every example has its own random generator seeded by (seed, split, index), so the set is the
same on every machine, and a render that was stopped continues where it stopped (examples
already in the manifest are skipped). Validation uses grooves and OpenMSX songs that training
never sees.
"""
import argparse
import hashlib
import json
import multiprocessing
import pathlib
import time

import numpy as np

from . import compose, config, dataset, midi_stems, sources
from .drum_kits import KitRenderer
from .fluid import FluidRenderer
from .voice import Singer

SPLIT_IDS = {"train": 0, "valid": 1}


def is_valid_groove(name, every):
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % every == 0


class Renderer:
    """Per-process state: the SoundFonts stay loaded between examples."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.sr = cfg["sample_rate"]
        names = set(sources.MELODIC_SOUNDFONTS) | set(sources.DRUM_SOUNDFONTS)
        self.fonts = {n: FluidRenderer(sources.path(n), self.sr,
                                       kit_on_bank0=n in sources.BANK0_KITS)
                      for n in sorted(names)}
        self.drum_kits = sources.drum_kits(cfg)
        self.fonts.update({n: KitRenderer(sources.path(n), self.sr)
                           for n in self.drum_kits if n in sources.HYDROGEN_KITS})

    def _render_stems(self, rng, midi, n, voice_programs_are_vocals):
        parts = midi_stems.split(midi, stems=("drums", "bass", "other", "vocals"),
                                 voice_programs_are_vocals=voice_programs_are_vocals)
        drum_font = str(rng.choice(self.drum_kits))
        melodic_font = str(rng.choice(sources.MELODIC_SOUNDFONTS))
        audio = {}
        for stem, part in parts.items():
            if part is not None:
                font = drum_font if stem == "drums" else melodic_font
                audio[stem] = self.fonts[font].render(part, n)
        return audio, {"drums": drum_font, "melodic": melodic_font}

    def mma_example(self, rng, split):
        cfg = self.cfg
        seconds = cfg["seconds"]
        n = int(seconds * self.sr)
        grooves = [g for g in self.grooves()
                   if is_valid_groove(g, cfg["valid_groove_every"]) == (split == "valid")]
        low, high = cfg["vocals"]["ranges"][rng.integers(len(cfg["vocals"]["ranges"]))]
        song = compose.random_song(rng, grooves, seconds, (low, high))
        audio, fonts = self._render_stems(rng, song.accompaniment, n, False)
        meta = {"groove": song.groove, "tempo": round(song.tempo, 1), "key": song.key,
                "chords": song.chords, "fonts": fonts}
        if rng.random() < cfg["vocals"]["gm_voice_share"]:
            program = int(rng.choice(midi_stems.VOICE_PROGRAMS))
            midi = compose.melody_midi(song.phrases, program)
            voc = self.fonts[fonts["melodic"]].render(midi, n)
            meta["singer"] = f"gm-program-{program}"
        else:
            singer = Singer(rng, self.sr, cfg["vocals"]["flite_share"])
            mono = singer.sing(song.phrases, n)
            pan = rng.uniform(-0.15, 0.15)
            voc = np.stack([mono * (1 - pan), mono * (1 + pan)])
            meta["singer"] = singer.describe()
        # the singer sits around the level of the accompaniment
        acc = sum(audio.values())
        voc *= _rms(acc) / max(_rms(voc), 1e-9) * 10 ** (rng.uniform(-4, 4) / 20)
        audio["vocals"] = voc.astype(np.float32)
        return audio, meta

    def openmsx_examples(self, rng, song):
        """The song rendered once, cut into consecutive excerpts: [(suffix, audio, meta)]."""
        n = int(self.cfg["seconds"] * self.sr)
        midi = pathlib.Path(song).read_bytes()
        length = min(midi_stems.length_seconds(midi), self.cfg["openmsx_max_seconds"])
        count = int((length - 1.0) // self.cfg["seconds"])
        audio, fonts = self._render_stems(rng, midi, count * n, True)
        return [(f"{k:02d}", {s: a[:, k * n:(k + 1) * n] for s, a in audio.items()},
                 {"song": pathlib.Path(song).name, "offset": k * self.cfg["seconds"],
                  "fonts": fonts})
                for k in range(count)]

    def grooves(self):
        if not hasattr(self, "_grooves"):
            self._grooves = compose.list_grooves()
        return self._grooves


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x)) + 1e-12))


def plan(cfg, split):
    """The jobs of one split: (id, kind, argument); an OpenMSX job makes several examples.
    OpenMSX songs come first: they are few, long and varied, so a render that is stopped early
    still has them."""
    jobs = []
    valid_songs = set(cfg["openmsx_valid"])
    if cfg["splits"][split]["openmsx"]:
        for song in sources.openmsx_songs():
            if (song.name in valid_songs) == (split == "valid"):
                jobs.append((f"openmsx-{song.stem}", "openmsx", str(song)))
    jobs += [(f"mma-{i:05d}", "mma", None) for i in range(cfg["splits"][split]["mma_songs"])]
    return jobs


_renderer = None


def _save(cfg, split, ex_id, audio):
    """Write the stems of one example; returns their RMS levels in dBFS."""
    return dataset.write_example(cfg["out"], split, ex_id, audio, cfg["sample_rate"])


def _work(task):
    """Render one job in a worker process; returns its manifest entries."""
    global _renderer
    cfg, split, (job_id, kind, arg) = task
    if _renderer is None:
        _renderer = Renderer(cfg)
    seed = [cfg["seed"], SPLIT_IDS[split], int(hashlib.sha1(job_id.encode()).hexdigest()[:8], 16)]
    rng = np.random.default_rng(seed)
    t0 = time.time()
    if kind == "mma":
        audio, meta = _renderer.mma_example(rng, split)
        examples = [(job_id, audio, meta)]
    else:
        examples = [(f"{job_id}-{suffix}", audio, meta)
                    for suffix, audio, meta in _renderer.openmsx_examples(rng, arg)]
    entries = []
    for ex_id, audio, meta in examples:
        levels = _save(cfg, split, ex_id, audio)
        entries.append({"id": ex_id, "job": job_id, "kind": kind,
                        "seconds": cfg["seconds"], "rms_db": levels, **meta})
    for e in entries:
        e["render_s"] = round((time.time() - t0) / len(entries), 2)
    return entries


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False,
                                 epilog="--render.key=value overrides a key of the config "
                                        "(config.py)")
    ap.add_argument("config", help="a data config (a [render] table over "
                                   "configs/render-defaults.toml)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (at most 2 here)")
    ap.add_argument("--limit", type=int, default=None, help="render at most N per split (tests)")
    ap.add_argument("--splits", default="valid,train")
    args, overrides = ap.parse_known_args()
    try:
        cfg = config.load(args.config, config.RENDER, overrides)["render"]
    except config.ConfigError as error:
        ap.error(str(error))
    out = pathlib.Path(cfg["out"])
    for split, manifest, done in dataset.open_set(out, "render", cfg, sources.used(cfg),
                                                  args.splits.split(",")):
        todo = [j for j in plan(cfg, split) if j[0] not in done][:args.limit]
        print(f"{split}: {len(done)} done, {len(todo)} to render", flush=True)
        t0, audio_s = time.time(), 0.0
        with multiprocessing.Pool(args.jobs) as pool, manifest.open("a") as f:
            for k, entries in enumerate(pool.imap_unordered(_work, [(cfg, split, j) for j in todo])):
                for entry in entries:
                    f.write(json.dumps(entry) + "\n")
                f.flush()
                audio_s += sum(e["seconds"] for e in entries)
                wall = time.time() - t0
                print(f"{split} {k + 1}/{len(todo)} {entries[0]['job']}: {len(entries)} example(s) "
                      f"| {audio_s:.0f} s of audio in {wall:.0f} s, {audio_s / wall:.2f}x real "
                      f"time with {args.jobs} process(es)", flush=True)


if __name__ == "__main__":
    main()
