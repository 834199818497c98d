"""Training examples mixed on the fly from rendered stems (see render.py for the files).

`MixDataset` draws endless random segments: with probability `coherent`, the four stems of one
song at one offset; otherwise each stem from a different song and offset (incoherent remixing;
a real mix rarely has the MIDI's perfect timing between parts, and the model must not rely on
it). Every stem then goes through its own `augment.StemChain` and gain, a stem is left silent
with probability `silent_stem`, songs may be played faster or slower, and the mix bus may be
compressed. The mixture is the sum of the stems, always.

A second set may be mixed in (`[data] real_root`, `real_share`; run 15 on): prepare.py's real
recordings (Everything is Remixed's stems, PJS's a cappellas) beside the renders of `root`.
Each draw takes its song from `real_root` with probability `real_share`, and so does each
stem drawn from another song (incoherent draws, and a stem the song lacks: a PJS a cappella
has only vocals), where `real_root` has examples with that stem; every other choice is the
renders'. `real_stems` limits what the real set gives (run 16: its voices alone): the other
stems of a real song are drawn from the renders, as for a stem it lacks. Within a set, every
example is as likely as any other.

`validation_set` gives fixed, unaugmented, coherent examples of a set's held-out split.

A training set may still be rendering while a run trains on it (render.py appends to the
manifest as each example is written): `MixDataset` reads the manifest again every
`RELOAD_EVERY` draws, so a fresh machine can start training on the first examples instead of
waiting the ~15 minutes (more on a busy machine) a whole render takes.
"""
import itertools
import json
import pathlib
import sys

import numpy as np
import soundfile
import torch

from . import augment, config
from .stems import STEMS

RELOAD_EVERY = 64   # draws between looks at a manifest that may still be growing


def load_manifest(root, split):
    """The examples of a split; a last line still being written (no newline yet) is left out."""
    text = pathlib.Path(root, split, "manifest.jsonl").read_text()
    lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
    return [json.loads(line) for line in lines]


def open_set(out, table, cfg, used_sources, splits):
    """Starts (or continues) writing a data set into `out`: its `sources.json` and `config.toml`
    (`{table: cfg}`), then for each split the manifest and the jobs it already holds. Yields
    `(split, manifest path, set of done job ids)`: render.py and prepare.py write the jobs not
    done yet, so running either again continues a stopped one."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sources.json").write_text(json.dumps(used_sources, indent=1))
    (out / "config.toml").write_text(config.dumps({table: cfg}))
    for split in splits:
        manifest = out / split / "manifest.jsonl"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        done = set()
        if manifest.exists():
            done = {json.loads(line)["job"] for line in manifest.read_text().splitlines()}
        yield split, manifest, done


def write_example(out, split, ex_id, audio, sample_rate):
    """Write one example's stems `{stem: (2, n) float}` as `<out>/<split>/<ex_id>/<stem>.flac`
    (24-bit), all scaled by one factor where the loudest peak would pass 0.95, a stem whose
    peak is under 1e-4 left out (silent); returns their RMS levels in dBFS, the manifest's
    `rms_db`. The files render.py and prepare.py write."""
    peak = max(float(np.abs(a).max()) for a in audio.values())
    scale = 0.95 / peak if peak > 0.95 else 1.0
    folder = pathlib.Path(out, split, ex_id)
    folder.mkdir(parents=True, exist_ok=True)
    levels = {}
    for stem, a in audio.items():
        if np.abs(a).max() * scale < 1e-4:
            continue  # silent: leave the stem out
        soundfile.write(folder / f"{stem}.flac", (a * scale).T, sample_rate, subtype="PCM_24")
        levels[stem] = round(20 * float(np.log10(np.sqrt(np.mean(np.square(a * scale)) + 1e-12)
                                                 + 1e-12)), 2)
    return levels


def read_stem(root, split, example, stem, start, length):
    """`(2, length)` float32 of one stem; zeros when the example has no such stem."""
    if stem not in example["rms_db"]:
        return np.zeros((2, length), dtype=np.float32)
    path = pathlib.Path(root, split, example["id"], f"{stem}.flac")
    try:
        x, _ = soundfile.read(path, start=start, frames=length, dtype="float32", always_2d=True)
    except soundfile.LibsndfileError as err:
        # libsndfile 1.2.0 (Debian bookworm) fails to seek to some positions of a FLAC file
        # that decodes whole without error (error 39; data/v2's mma-00110/vocals.flac at frame
        # 433140, every time), and the data worker's exception ended run bsgru-v3 twice, after
        # ~37,000 and ~7,000 reads (3,000 random seeks found no other). Such a read is done
        # again without seeking: decoding from the start, slower but plain.
        # Run bsgru-v4 then died when that read failed too (data/v2 mma-00292/drums.flac,
        # frame 654191, read whole without error a minute later): a stem that cannot be read is
        # left silent in this one draw, as `silent_stem` leaves stems out anyway, and the run
        # goes on.
        print(f"reading {path} from frame {start} failed ({err.code}): decoding from its start",
              file=sys.stderr, flush=True)
        try:
            x, _ = soundfile.read(path, frames=start + length, dtype="float32", always_2d=True)
        except soundfile.LibsndfileError as again:
            print(f"reading {path} from its start failed too ({again.code}): silent in this draw",
                  file=sys.stderr, flush=True)
            return np.zeros((2, length), dtype=np.float32)
        x = x[start:]
    x = x.T
    if x.shape[1] < length:
        x = np.pad(x, ((0, 0), (0, length - x.shape[1])))
    return x


def refuse_unknown_stems(names, what):
    """Raises ValueError, naming `what` and the stems there are, if `names` holds a name that
    is no stem."""
    unknown = sorted(set(names) - set(STEMS))
    if unknown:
        raise ValueError(f"{what}: {unknown} name no stem (stems: {', '.join(STEMS)})")


class MixDataset(torch.utils.data.IterableDataset):
    def __init__(self, root, cfg, seed, split="train"):
        """`cfg`: the `[data]` table of a training config; `root` the rendered set (its
        `real_root`, if set, is mixed in at `real_share`)."""
        super().__init__()
        self.root, self.split, self.cfg, self.seed = root, split, cfg, seed
        self.roots = [root] + ([cfg["real_root"]] if cfg["real_root"] else [])
        self.real_share = cfg["real_share"] if cfg["real_root"] else 0.0
        self.real_stems = set(cfg["real_stems"])
        refuse_unknown_stems(self.real_stems, "[data] real_stems")
        self.sr = cfg["sample_rate"]
        refuse_unknown_stems({k for k, v in cfg["augment"].items() if isinstance(v, dict)},
                             "[augment] sub-tables")
        self.chains = {s: augment.StemChain.for_stem(cfg["augment"], s) for s in STEMS}
        self.epoch = 0
        self.reload()

    def reload(self):
        """Read the manifests (again): each set's examples, and for incoherent draws the
        examples that have each stem, each example tagged with its set (`_root`)."""
        self.sets = []
        for root in self.roots:
            examples = [{**e, "_root": root} for e in load_manifest(root, self.split)]
            self.sets.append({"examples": examples,
                              "pools": {s: [e for e in examples if s in e["rms_db"]]
                                        for s in STEMS}})
        self.examples = self.sets[0]["examples"]
        self.pools = self.sets[0]["pools"]

    def _set(self, rng, stem=None):
        """The set a choice comes from: the real set with probability `real_share` (for a
        stem, only one of `real_stems` and where it has examples with that stem), else the
        renders. With no real set, or a share of 0, no number is drawn: the stream of examples
        is the renders' alone."""
        if stem is not None and stem not in self.real_stems:
            return self.sets[0]
        if len(self.sets) > 1 and self.real_share > 0 and rng.random() < self.real_share:
            real = self.sets[1]
            if real["examples"] if stem is None else real["pools"][stem]:
                return real
        return self.sets[0]

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        rng = np.random.default_rng([self.seed, self.epoch, worker])
        for draws in itertools.count(1):
            yield self.draw(rng)
            if draws % RELOAD_EVERY == 0:
                self.reload()

    def draw(self, rng):
        cfg = self.cfg
        n = int(cfg["segment_seconds"] * self.sr)
        max_ratio = 2 ** (cfg["max_speed_semitones"] / 12)
        n_read = int(n * max_ratio * 1.02) + 64  # speed() rounds the ratio up to 1/64
        coherent = rng.random() < cfg["coherent"]
        song_ratio = 2 ** (rng.uniform(-1, 1) * cfg["max_speed_semitones"] / 12)
        if rng.random() >= cfg["speed_probability"]:
            song_ratio = 1.0
        base_set = self._set(rng)
        base = base_set["examples"][rng.integers(len(base_set["examples"]))]
        stems = []
        for stem in STEMS:
            if rng.random() < cfg["silent_stem"]:
                stems.append(np.zeros((2, n), dtype=np.float32))
                continue
            example, ratio = base, song_ratio
            # incoherent: another song; also when the song has no such stem (OpenMSX: vocals)
            # or is a real one that may not give it (`real_stems`)
            withheld = base_set is not self.sets[0] and stem not in self.real_stems
            if not coherent or stem not in base["rms_db"] or withheld:
                pool = self._set(rng, stem)["pools"][stem]
                example = pool[rng.integers(len(pool))]
                if not coherent and rng.random() < cfg["speed_probability"]:
                    ratio = 2 ** (rng.uniform(-1, 1) * cfg["max_speed_semitones"] / 12)
            total = int(example["seconds"] * self.sr)
            start = int(rng.integers(0, max(1, total - n_read)))
            x = read_stem(example["_root"], self.split, example, stem, start, n_read)
            # every stem starts from the same loudness (renders differ by 20 dB and more:
            # quiet drums would teach little), then gets its random gain
            x *= np.float32(10 ** ((cfg["stem_rms_db"] - example["rms_db"][stem]) / 20))
            if ratio != 1.0:
                x = augment.speed(x, ratio)
            x = x[:, :n]
            x = self.chains[stem](x, rng)
            x = augment.gain(x, rng, *cfg["stem_gain_db"])
            stems.append(x.astype(np.float32))
        stems = np.stack(stems)
        if rng.random() < cfg["bus_compress"]:
            stems = augment.bus_compress(stems, rng)
        # a random overall level, never clipping
        mix_peak = np.abs(stems.sum(axis=0)).max() + 1e-6
        level = 10 ** (rng.uniform(*cfg["mix_peak_db"]) / 20) / mix_peak
        stems = (stems * level).astype(np.float32)
        return torch.from_numpy(stems.sum(axis=0)), torch.from_numpy(stems)


def validation_set(root, seconds, sample_rate, limit=None, stem_rms_db=None):
    """[(id, mixture (2, n), stems (4, 2, n))] of the held-out split, unaugmented.

    By default each song keeps its own balance (in most MMA renders the drums sit 20-25 dB
    under the mix). With `stem_rms_db` every stem is brought to that RMS over its whole example
    first, the balance training mixes start from (`MixDataset.draw`), so that no stem's figure
    is set by how quietly one arranger mixed it."""
    out = []
    n = int(seconds * sample_rate)
    for example in load_manifest(root, "valid")[:limit]:
        stems = np.stack([read_stem(root, "valid", example, s, 0, n) for s in STEMS])
        if stem_rms_db is not None:
            for i, s in enumerate(STEMS):
                if s in example["rms_db"]:
                    stems[i] *= np.float32(10 ** ((stem_rms_db - example["rms_db"][s]) / 20))
        out.append((example["id"], torch.from_numpy(stems.sum(axis=0)), torch.from_numpy(stems)))
    return out
