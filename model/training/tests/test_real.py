"""Real recordings in the training data (prepare.py, dataset.py's `real_root`): Everything is
Remixed's stems grouped by name, songs cut into examples and held out by name, a cappellas as
vocals-only examples, a stopped preparation continued, and the real set mixed into the draws at
its share.

The sources are made here as WAV and FLAC files laid out as the real ones are (the real stems
are AAC, which only PyAV reads; the tests' venv does not have it), so nothing here needs the
downloaded material.
"""
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch

from model.training import config, dataset, export, prepare, train
from model.training.model import Separator
from model.training.stems import STEMS

REPO = pathlib.Path(__file__).resolve().parents[3]
SR = 44100


@pytest.mark.parametrize("song, name, stem", [
    ("2.Lithium", "VOX LEAD", "vocals"), ("2.Lithium", "BGVOX AAAAAHHHH", "vocals"),
    ("3.Sodium", "K & SN", "drums"), ("3.Sodium", "HVY KICK", "drums"),
    ("2.Lithium", "TOM BREAK", "drums"), ("2.Lithium", "CRUSH BREAK", "drums"),
    ("6.Caesium", "SCRATCH HATS", "drums"), ("4.Potassium", "BREAKBEAT", "drums"),
    ("2.Lithium", "SY BASS", "bass"), ("3.Sodium", "BASS STAB", "bass"),
    ("4.Potassium", "PAD + BASS", "bass"),
    ("4.Potassium", "MINILOGUE SYNTH", "bass"), ("7.Francium", "MINILOGUE SYNTH", "other"),
    ("5.Rubidium", "MELODY BREAK", "other"), ("2.Lithium", "FILL PIANO", "other"),
    ("7.Francium", "FILL SCRATCH", "other"),
    ("6.Caesium", "MASTER", None), ("7.Francium", "BREAK", None),
])
def test_everything_is_remixed_stems_go_to_their_stem_by_name(song, name, stem):
    assert prepare.eir_stem(song, name) == stem


def tone(freq, seconds, sr, channels=2, level=0.2):
    t = np.arange(int(seconds * sr)) / sr
    x = level * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([x, 0.5 * x][:channels])


def write(path, x, sr):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, x.T, sr, subtype="FLOAT" if path.suffix == ".wav" else "PCM_24")


@pytest.fixture(scope="module")
def sources_dir(tmp_path_factory):
    """Two Everything is Remixed songs of 5 s (48 kHz; a `_mobile` copy at 24 kHz beside one
    full-quality file, a master, a stem no rule places), the second silent for its first 2 s
    and without an `other` stem; and one PJS a cappella (48 kHz mono, 3 s)."""
    root = tmp_path_factory.mktemp("sources")
    eir = root / "eir" / "src"
    alpha = eir / "1.Alpha"
    write(alpha / "1.Alpha_Stem_VOX LEAD.flac", tone(330, 5, 48000), 48000)
    write(alpha / "1.Alpha_Stem_KICK.wav", tone(55, 5, 48000), 48000)
    write(alpha / "1.Alpha_Stem_SY BASS_mobile.flac", tone(80, 5, 24000), 24000)
    write(alpha / "1.Alpha_Stem_PLUCK.flac", tone(990, 5, 48000), 48000)
    write(alpha / "1.Alpha_Stem_PLUCK_mobile.flac", tone(2000, 5, 24000), 24000)
    write(alpha / "1.Alpha_Master_mobile.flac", tone(440, 5, 24000, level=0.9), 24000)
    beta = eir / "2.Beta"
    for name, freq in (("BGVOX MAIN", 300), ("HATS", 7000), ("SY BASS", 70), ("BREAK", 500)):
        x = tone(freq, 5, 48000)
        x[:, :2 * 48000] = 0
        write(beta / f"2.Beta_Stem_{name}.flac", x, 48000)
    (eir / "images").mkdir()                  # not a song
    write(root / "pjs" / "wav" / "pjs001.wav", tone(250, 3, 48000, channels=1), 48000)
    return root


def prepare_config(tmp_path, sources_dir, out):
    path = tmp_path / "real.toml"
    path.write_text(f'[prepare]\nout = "{out}"\nseconds = 2.0\neir = "{sources_dir / "eir"}"\n'
                    f'eir_valid = ["1.Alpha"]\npjs = "{sources_dir / "pjs"}"\n')
    return path


def run_prepare(*args):
    result = subprocess.run([sys.executable, "-m", "model.training.prepare", *map(str, args)],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def real_root(sources_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("prepared")
    out = folder / "real"
    run_prepare(prepare_config(folder, sources_dir, out))
    return out


def test_songs_are_cut_into_examples_and_the_held_out_song_is_the_valid_split(real_root):
    valid = dataset.load_manifest(real_root, "valid")
    train_ = dataset.load_manifest(real_root, "train")
    # 5 s in 2 s cuts: 0-2, 2-4 and the last second (half a cut is kept)
    assert [e["id"] for e in valid] == ["eir-1-alpha-00", "eir-1-alpha-01", "eir-1-alpha-02"]
    assert [e["seconds"] for e in valid] == [2.0, 2.0, 1.0]
    assert all(e["song"] == "1.Alpha" for e in valid)
    assert not any(e["song"] == "1.Alpha" for e in train_)
    # 2.Beta is silent for 2 s: its first cut is left out; BREAK is placed nowhere
    beta = [e for e in train_ if e["kind"] == "eir"]
    assert [e["offset"] for e in beta] == [2.0, 4.0]
    assert all(set(e["rms_db"]) == {"vocals", "drums", "bass"} for e in beta)
    assert beta[0]["parts"] == {"vocals": ["BGVOX MAIN"], "drums": ["HATS"], "bass": ["SY BASS"]}
    alpha = valid[0]
    assert set(alpha["rms_db"]) == set(STEMS) and alpha["mobile"] == ["SY BASS"]
    assert alpha["parts"]["other"] == ["PLUCK"]          # the full-quality file, not the copy


def test_stems_are_the_sources_at_44_1_khz_in_stereo(real_root):
    """The 48 kHz vocals and the 24 kHz `_mobile` bass come out at 44.1 kHz, with their level
    and frequency; the full-quality PLUCK (990 Hz) was read, not its copy (2 kHz); no master."""
    folder = real_root / "valid" / "eir-1-alpha-00"
    assert sorted(p.stem for p in folder.glob("*.flac")) == sorted(STEMS)
    for stem, freq in (("vocals", 330), ("bass", 80), ("other", 990)):
        x, sr = soundfile.read(folder / f"{stem}.flac", always_2d=True)
        assert sr == SR and x.shape == (2 * SR, 2)
        spectrum = np.abs(np.fft.rfft(x[SR // 2:, 0]))
        peak = np.fft.rfftfreq(len(x) - SR // 2, 1 / SR)[spectrum.argmax()]
        assert abs(peak - freq) < 3, (stem, peak)
        assert np.sqrt(np.mean(x[SR // 2:, 0] ** 2)) == pytest.approx(0.2 / np.sqrt(2), rel=0.02)


def test_an_a_cappella_is_a_vocals_only_training_example(real_root):
    pjs = [e for e in dataset.load_manifest(real_root, "train") if e["kind"] == "pjs"]
    assert [(e["id"], e["seconds"]) for e in pjs] == [("pjs-001", 2.0), ("pjs-001-01", 1.0)]
    assert all(set(e["rms_db"]) == {"vocals"} for e in pjs)
    x, sr = soundfile.read(real_root / "train" / "pjs-001" / "vocals.flac", always_2d=True)
    assert sr == SR and x.shape == (2 * SR, 2) and np.array_equal(x[:, 0], x[:, 1])
    sources = json.loads((real_root / "sources.json").read_text())
    assert set(sources) == {"eir", "pjs", "pyav"}
    assert "CC-BY-SA-4.0" in sources["pjs"]["licence"] and "CC0" in sources["eir"]["licence"]


def test_a_stopped_preparation_continues_where_it_stopped(real_root, sources_dir, tmp_path):
    before = {s: (real_root / s / "manifest.jsonl").read_text() for s in ("train", "valid")}
    # the last training job's lines lost, as if stopped before it was written
    lines = before["train"].splitlines(keepends=True)
    last_job = json.loads(lines[-1])["job"]
    (real_root / "train" / "manifest.jsonl").write_text(
        "".join(line for line in lines if json.loads(line)["job"] != last_job))
    out = run_prepare(prepare_config(tmp_path, sources_dir, real_root))
    assert "valid: 1 done, 0 to prepare" in out and "train: 1 done, 1 to prepare" in out
    after = {s: (real_root / s / "manifest.jsonl").read_text() for s in ("train", "valid")}
    assert after == before


def test_a_held_out_song_that_does_not_exist_is_refused(sources_dir, tmp_path):
    path = prepare_config(tmp_path, sources_dir, tmp_path / "out")
    result = subprocess.run([sys.executable, "-m", "model.training.prepare", str(path),
                             "--prepare.eir_valid=[\"9.Nothing\"]"],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0 and "9.Nothing" in result.stderr


def data_cfg(renders, real, share, stems=None):
    text = (f'[data]\nroot = "{renders}"\nsegment_seconds = 0.5\nreal_root = "{real}"\n'
            f"real_share = {share}\n" + (f"real_stems = {json.dumps(stems)}\n" if stems else ""))
    return config.parse(text, config.TRAIN, "test")["data"]


@pytest.fixture(scope="module")
def renders_root(tmp_path_factory):
    """A rendered set as render.py writes it: two training and one held-out example, each with
    all four stems (tones)."""
    root = tmp_path_factory.mktemp("renders")
    for split, count in (("train", 2), ("valid", 1)):
        entries = []
        for i in range(count):
            audio = {s: tone(100 * (k + 1) * (i + 1), 2, SR) for k, s in enumerate(STEMS)}
            levels = dataset.write_example(root, split, f"r-{i}", audio, SR)
            entries.append(json.dumps({"id": f"r-{i}", "seconds": 2.0, "rms_db": levels}))
        (root / split / "manifest.jsonl").write_text("\n".join(entries) + "\n")
    return root


def test_at_share_zero_the_draws_are_the_renders_alone(renders_root, real_root):
    """A real set at share 0 changes nothing: the stream of examples is the one without it."""
    alone = dataset.MixDataset(str(renders_root), data_cfg(renders_root, "", 0.0), seed=3)
    mixed = dataset.MixDataset(str(renders_root), data_cfg(renders_root, real_root, 0.0), seed=3)
    a, b = np.random.default_rng(1), np.random.default_rng(1)
    for _ in range(5):
        (mix_a, stems_a), (mix_b, stems_b) = alone.draw(a), mixed.draw(b)
        assert torch.equal(mix_a, mix_b) and torch.equal(stems_a, stems_b)


def test_the_real_set_is_drawn_at_its_share_where_it_has_the_stem(renders_root, real_root):
    data = dataset.MixDataset(str(renders_root), data_cfg(renders_root, real_root, 0.3), seed=3)
    rng = np.random.default_rng(2)
    real = data.sets[1]
    share = np.mean([data._set(rng) is real for _ in range(4000)])
    assert share == pytest.approx(0.3, abs=0.03)
    assert np.mean([data._set(rng, "vocals") is real for _ in range(4000)]) == \
        pytest.approx(0.3, abs=0.03)
    # the real training split has no `other` (2.Beta has none, PJS only vocals): renders' alone
    assert not any(data._set(rng, "other") is real for _ in range(200))
    every = dataset.MixDataset(str(renders_root), data_cfg(renders_root, real_root, 1.0), seed=3)
    for _ in range(20):
        mix, stems = every.draw(rng)
        assert torch.allclose(mix, stems.sum(dim=0), atol=1e-6)


def test_real_stems_limit_what_the_real_set_gives(renders_root, real_root, monkeypatch):
    """With `real_stems = ["vocals"]` and every draw real, every vocal comes from the real set
    and every other stem from the renders, a real song's own drums and bass included."""
    data = dataset.MixDataset(str(renders_root), data_cfg(renders_root, real_root, 1.0, ["vocals"]),
                              seed=3)
    rng = np.random.default_rng(4)
    assert data._set(rng, "vocals") is data.sets[1]
    assert data._set(rng, "drums") is data.sets[0] and data._set(rng, "bass") is data.sets[0]
    read = []
    original = dataset.read_stem
    monkeypatch.setattr(dataset, "read_stem",
                        lambda root, split, example, stem, *a: read.append((stem, root)) or
                        original(root, split, example, stem, *a))
    for _ in range(10):
        mix, stems = data.draw(rng)
        assert torch.allclose(mix, stems.sum(dim=0), atol=1e-6)
    assert read and all((root == str(real_root)) == (stem == "vocals") for stem, root in read)
    with pytest.raises(ValueError, match="voice"):
        dataset.MixDataset(str(renders_root), data_cfg(renders_root, real_root, 1.0, ["voice"]), seed=3)


def test_a_run_with_a_real_set_validates_on_its_held_out_songs(renders_root, real_root):
    dcfg = data_cfg(renders_root, real_root, 0.3)
    tcfg = config.parse("", config.TRAIN, "test")["train"] | {"valid_seconds": 1.0}
    sets = train.validation_sets(dcfg, tcfg)
    assert list(sets) == ["valid_sdr", "valid_sdr_real"]
    assert [ex_id for ex_id, _, _ in sets["valid_sdr_real"]] == \
        ["eir-1-alpha-00", "eir-1-alpha-01", "eir-1-alpha-02"]


def test_the_exported_model_credits_the_real_recordings(real_root, renders_root):
    """export.py's metadata: the renders' sources and the real set's, named in sift.source."""
    (renders_root / "config.toml").write_text(f'[render]\nout = "{renders_root}"\n')
    text = (f'[data]\nroot = "{renders_root}"\nreal_root = "{real_root}"\nreal_share = 0.3\n'
            f'[model]\nband_widths = [[32, 8], [96, 16], [224, 32], [480, 64]]\nband_dim = 4\n'
            f'hidden = 16\nlayers = 1\ndecoder_dim = 8\n[train]\nrun_dir = "x"\n')
    cfg = config.parse(text, config.TRAIN, "test")
    net = Separator(cfg["model"], SR).net
    meta = export.metadata("sift-test", cfg, net, pathlib.Path("best.pt"), {"step": 1})
    credited = json.loads(meta["sift.training_sources"])
    assert {"eir", "pjs", "fluidr3-gm"} <= set(credited)
    assert "PJS corpus" in meta["sift.source"] and "Everything is Remixed" in meta["sift.source"]
