"""The training pipeline end to end on a tiny data set: augmentation, drawing examples,
the network's streaming equivalence, a seeded run that stops and resumes, the calibration of
the mask power, and the export checked against PyTorch.

The data set is made here (tones and noise bursts written as FLAC with a manifest, the files
render.py writes), so the tests need neither the render's Debian packages nor hours of
rendering; the model is the shipped architecture, shrunk. `cargo xtask test` runs this with
Debian's PyTorch (`model/training/setup_env.sh` says why not PyPI's), from the repository root
(`python -m pytest model/training/tests`), where the package `model.training` is found.
"""
import json
import math
import pathlib
import subprocess
import sys
import tomllib

import numpy as np
import onnx
import pytest
import soundfile
import torch

from model.training import augment, config, dataset, evaluate, metrics, provenance, train
from model.training.model import BandSplitRNN, Separator
from model.training.stems import STEMS

TRAINING = pathlib.Path(__file__).resolve().parents[1]
REPO = TRAINING.parents[1]

SR = 44100
SECONDS = 4.0


def stem_signal(stem, rng):
    """(2, n) of a signal with the character of `stem`: a vibrato voice, decaying noise
    hits with a kick, a low bass line, a bright chord."""
    t = np.arange(int(SECONDS * SR)) / SR
    if stem == "vocals":
        f0 = rng.uniform(180, 320) * (1 + 0.02 * np.sin(2 * np.pi * 5.5 * t))
        phase = 2 * np.pi * np.cumsum(f0) / SR
        x = sum(np.sin(k * phase) / k for k in range(1, 12))
    elif stem == "drums":
        since_hit = t % 0.5
        x = np.exp(-since_hit * 18) * (rng.standard_normal(t.size) * 0.5
                                       + np.sin(2 * np.pi * 55 * since_hit))
    elif stem == "bass":
        x = np.sin(2 * np.pi * rng.uniform(45, 90) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * t))
    else:
        x = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (523, 659, 784, 1568, 2093))
    x = x / np.abs(x).max() * 0.3
    return np.stack([x, x * rng.uniform(0.6, 1.0)]).astype(np.float32)


def write_split(root, split, count, rng):
    (root / split).mkdir(parents=True)
    with (root / split / "manifest.jsonl").open("w") as manifest:
        for i in range(count):
            name = f"tone-{i:02d}"
            (root / split / name).mkdir()
            rms_db = {}
            for stem in STEMS:
                x = stem_signal(stem, rng)
                soundfile.write(root / split / name / f"{stem}.flac", x.T, SR)
                rms_db[stem] = round(float(20 * np.log10(np.sqrt(np.mean(x ** 2)))), 2)
            manifest.write(json.dumps({"id": name, "seconds": SECONDS, "rms_db": rms_db}) + "\n")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """A rendered set of three training and two held-out examples, with the render config
    render.py would have copied into it (export.py reads the sources from it)."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    write_split(root, "train", 3, rng)
    write_split(root, "valid", 2, rng)
    (root / "config.toml").write_text(f'[render]\nout = "{root}"\nhydrogen_kits = false\n')
    return root


def config_text(data_root, run_dir):
    """A run config over configs/train-defaults.toml: configs/bsgru-v8.toml's recipe shrunk, a
    1 s segment and a network of 16 units."""
    return f"""
[data]
root = "{data_root}"
segment_seconds = 1.0
speed_probability = 0.5
bus_compress = 0.5

[data.augment]
tone = 0.5
eq = 0.5
compress = 0.5
saturate = 0.5
reverb = 0.5
pan = 0.5

[data.augment.other]
amp = 0.5

[model]
band_widths = [[32, 8], [96, 16], [224, 32], [480, 64]]
band_dim = 4
hidden = 16
layers = 1
decoder_dim = 8
level_seconds = 4.0
band_rnn = true

[train]
run_dir = "{run_dir}"
seed = 1
data_workers = 0
loss = "spectral_sdr"
batch_size = 2
lr = 1e-3
warmup_steps = 1
decay_steps = 4
steps = 4
log_every = 1
valid_every = 2
valid_seconds = 2.0
valid_examples = 2
valid_balanced = true
select_on = "valid_sdr_balanced"
ckpt_every = 1
"""


def tiny_config(data_root, run_dir):
    """`config_text`'s effective config."""
    return config.parse(config_text(data_root, run_dir), config.TRAIN, "the tests' config")


def rms(x):
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


@pytest.mark.parametrize("name", augment.StemChain.ORDER)
def test_every_effect_keeps_the_shape_and_gives_finite_float32(name):
    rng = np.random.default_rng(1)
    x = stem_signal("other", rng)
    y = augment.StemChain.FUNCS[name](x, rng)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.isfinite(y).all()


@pytest.mark.parametrize("name", ["tone", "amp", "presence", "kick", "bass_di"])
def test_level_matched_effects_keep_the_stems_rms_and_change_its_sound(name):
    rng = np.random.default_rng(2)
    for stem in STEMS:
        x = stem_signal(stem, rng)
        y = augment.StemChain.FUNCS[name](x, rng)
        assert rms(y) == pytest.approx(rms(x), rel=1e-3)
        assert np.abs(y - x).max() > 0.01 * np.abs(x).max()


def band_power(y, lo, hi):
    """Mean power of `y`'s left channel in the band from `lo` to `hi` Hz (open interval)."""
    power = np.abs(np.fft.rfft(y[0])) ** 2
    freqs = np.fft.rfftfreq(y.shape[1], 1 / SR)
    return power[(freqs > lo) & (freqs < hi)].mean()


def band_ratio_db(y, band, reference):
    """`y`'s power in the `band` (Hz) over that in the `reference` band, in dB: 0 for white
    noise."""
    return 10 * np.log10(band_power(y, *band) / band_power(y, *reference))


def test_tone_moves_the_tonal_balance_by_up_to_its_range():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, SR)).astype(np.float32)
    ratio_db = np.array([band_ratio_db(augment.tone(x, rng), (40, 80), (1000, 2000))
                         for _ in range(40)])
    assert ratio_db.max() - ratio_db.min() > 12      # wide: what mixing-desk EQ does not reach
    assert np.abs(ratio_db).max() < 2 * 12 + 3       # and never beyond two octave gains' range


def test_presence_lifts_a_voices_upper_harmonics_and_leaves_its_fundamental():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, SR)).astype(np.float32)
    for _ in range(10):                              # white noise in: 0 dB before
        assert band_ratio_db(augment.presence(x, rng), (2000, 3000), (100, 300)) > 6


def test_amp_adds_harmonics_above_a_pure_tone():
    rng = np.random.default_rng(4)
    t = np.arange(SR) / SR
    x = np.stack([np.sin(2 * np.pi * 220 * t)] * 2).astype(np.float32) * 0.1
    spectrum = np.abs(np.fft.rfft(augment.amp(x, rng)[0]))
    freqs = np.fft.rfftfreq(SR, 1 / SR)
    fundamental = spectrum[np.abs(freqs - 220) < 5].max()
    harmonics = spectrum[(freqs > 300) & (freqs < 3000)].max()
    assert harmonics > 0.05 * fundamental


def test_kick_raises_the_low_end_against_the_rest_of_the_kit():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, SR)).astype(np.float32)
    for _ in range(10):                              # white noise in: 0 dB before
        assert band_ratio_db(augment.kick(x, rng), (55, 80), (1000, 4000)) > 4


def test_low_cut_takes_the_lows_away_and_leaves_the_rest():
    """White noise through the cut: 20-35 Hz, an octave and more under the lowest cut (70 Hz),
    at least 20 dB under 1-4 kHz (24 dB/octave), while 1-4 kHz keeps its level within 0.5 dB."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, SR)).astype(np.float32)
    for _ in range(10):
        y = augment.low_cut(x, rng)
        assert band_ratio_db(y, (20, 35), (1000, 4000)) < -20
        assert abs(10 * np.log10(band_power(y, 1000, 4000) / band_power(x, 1000, 4000))) < 0.5


def test_bass_di_holds_a_fading_bass_notes_level():
    """Notes that fade 24 dB over half a second each (as a plucked General MIDI bass does)
    come out with their 100 ms levels much closer together, and no louder overall."""
    rng = np.random.default_rng(8)
    t = np.arange(2 * SR) / SR
    note = np.sin(2 * np.pi * 55 * t) * 10 ** (-48 * (t % 0.5) / 20)
    x = np.stack([note, note]).astype(np.float32) * 0.2

    def level_spread_db(y):
        levels = np.sqrt(np.mean(y[0].reshape(-1, SR // 10) ** 2, axis=1))
        return 20 * np.log10(levels.max() / levels.min())

    for _ in range(5):
        y = augment.bass_di(x, rng)
        assert level_spread_db(y) < level_spread_db(x) - 6
        assert rms(y) == pytest.approx(rms(x), rel=1e-3)


def test_stem_sub_tables_add_to_the_common_probabilities():
    table = {"eq": 0.6, "tone": 0.5, "other": {"amp": 0.3, "eq": 0.9}}
    assert augment.StemChain.for_stem(table, "other").p == {"eq": 0.9, "tone": 0.5, "amp": 0.3}
    assert augment.StemChain.for_stem(table, "vocals").p == {"eq": 0.6, "tone": 0.5}
    with pytest.raises(ValueError, match="unknown augmentations"):
        augment.StemChain.for_stem({"other": {"fuzz": 1.0}}, "other")


def test_a_sub_table_that_names_no_stem_is_refused(data_root, tmp_path):
    cfg = tiny_config(data_root, tmp_path)["data"]
    cfg["augment"]["guitar"] = {"amp": 1.0}
    with pytest.raises(ValueError, match="name no stem"):
        dataset.MixDataset(str(data_root), cfg, seed=0)


def test_every_drawn_mixture_is_the_sum_of_its_stems(data_root, tmp_path):
    cfg = tiny_config(data_root, tmp_path)["data"]
    data = dataset.MixDataset(str(data_root), cfg, seed=0)
    rng = np.random.default_rng(5)
    for _ in range(12):
        mix, stems = data.draw(rng)
        assert mix.shape == (2, SR) and stems.shape == (len(STEMS), 2, SR)
        assert torch.allclose(mix, stems.sum(dim=0), atol=1e-6)
        assert mix.abs().max() <= 1.0 and mix.abs().max() > 0.1


def test_frame_by_frame_equals_the_whole_sequence():
    """The streaming contract: one frame at a time with the state carried gives the masks
    of the training's whole-sequence pass."""
    torch.manual_seed(0)
    net = BandSplitRNN(band_widths=((32, 8), (96, 16), (224, 32), (480, 64)), band_dim=4,
                       hidden=16, layers=2, decoder_dim=8, level_seconds=4.0,
                       band_rnn=True).eval()
    with torch.no_grad():  # its decoder weights start at zero: make the band recurrence count
        net.dec1_band_w.normal_()
    mag = torch.rand(1, 2, 40, 513) * torch.logspace(0, 2, 40)[None, None, :, None]
    with torch.no_grad():
        whole, _ = net(mag)
        state, frames = None, []
        for t in range(mag.shape[2]):
            masks, state = net(mag[:, :, t:t + 1], state)
            frames.append(masks)
    assert torch.allclose(torch.cat(frames, dim=3), whole, atol=1e-5)
    assert torch.allclose(whole.sum(dim=1), torch.ones(1), atol=1e-5)


def test_a_grown_network_starts_as_the_checkpoint_it_grew_from():
    """`band_rnn` added to a trained network: its new decoder weights are zeros, so until they
    train the masks are the old network's."""
    torch.manual_seed(1)
    kwargs = dict(band_widths=((32, 8), (96, 16), (224, 32), (480, 64)), band_dim=4, hidden=16,
                  layers=1, decoder_dim=8, level_seconds=4.0)
    old = BandSplitRNN(**kwargs).eval()
    grown = BandSplitRNN(**kwargs, band_rnn=True).eval()
    missing, unexpected = grown.load_state_dict(old.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(("band_", "dec1_band")) for k in missing)
    mag = torch.rand(1, 2, 20, 513)
    with torch.no_grad():
        assert torch.allclose(grown(mag)[0], old(mag)[0], atol=1e-6)


def test_mask_power_raises_the_masks_to_it_and_renormalises_them():
    """softmax(p * logits) is each softmax mask to the power p over their sum, the stems
    still sum to one, and below one the masks are softer (nearer a quarter each)."""
    torch.manual_seed(3)
    net = BandSplitRNN(band_widths=((32, 8), (96, 16), (224, 32), (480, 64)), band_dim=4,
                       hidden=16, layers=1, decoder_dim=8).eval()
    mag = torch.rand(1, 2, 20, 513)
    with torch.no_grad():
        plain = net(mag)[0]
        net.mask_power = 0.5
        soft = net(mag)[0]
    expected = plain.pow(0.5) / plain.pow(0.5).sum(dim=1, keepdim=True)
    assert torch.allclose(soft, expected, atol=1e-6)
    assert torch.allclose(soft.sum(dim=1), torch.ones(1), atol=1e-5)
    assert (soft - 0.25).abs().mean() < (plain - 0.25).abs().mean()


def test_a_batch_with_a_non_finite_loss_is_skipped_and_leaves_the_weights_as_they_were(
        data_root, tmp_path):
    torch.manual_seed(4)
    separator = Separator(tiny_config(data_root, tmp_path)["model"], SR)
    opt = torch.optim.AdamW(separator.parameters(), lr=1e-3)
    stems = torch.rand(2, len(STEMS), 2, SR // 4) - 0.5
    mix = stems.sum(dim=1)
    before = {k: v.clone() for k, v in separator.state_dict().items()}
    broken = mix.clone()
    broken[0, 0, 100] = float("nan")
    assert train.train_step(separator, opt, train.spectral_sdr, broken, stems, 5.0) is None
    assert all(torch.equal(before[k], v) for k, v in separator.state_dict().items())
    assert not opt.state                     # no moment estimates taken from it either
    loss, grad_norm = train.train_step(separator, opt, train.spectral_sdr, mix, stems, 5.0)
    assert np.isfinite(loss) and grad_norm > 0
    assert any(not torch.equal(before[k], v) for k, v in separator.state_dict().items())


def test_the_losses_measure_what_their_names_say():
    """spectral_sdr is minus the mean SDR of each example's stems on the STFT, computed here
    from the complex spectra; magnitude_l1 the mean magnitude error over the mean |X|; a stem
    that is silent gives a finite loss (the floor) and an exact estimate the lowest one."""
    torch.manual_seed(4)
    spec = torch.randn(2, 2, 30, 513, dtype=torch.cfloat)
    target = torch.randn(2, 4, 2, 30, 513, dtype=torch.cfloat)
    masks = torch.softmax(torch.randn(2, 4, 2, 30, 513), dim=1)
    est = masks * spec.unsqueeze(1)
    sdr = 10 * torch.log10(target.abs().pow(2).sum(dim=(2, 3, 4))
                           / (est - target).abs().pow(2).sum(dim=(2, 3, 4)))
    assert float(train.spectral_sdr(spec, masks, target, floor=0.0)) == pytest.approx(
        -float(sdr.mean()), abs=1e-3)
    l1 = (est.abs() - target.abs()).abs().mean() / spec.abs().mean()
    assert float(train.magnitude_l1(spec, masks, target)) == pytest.approx(float(l1), rel=1e-5)

    stems = torch.softmax(torch.randn(2, 4, 2, 30, 513), dim=1) * spec.unsqueeze(1)
    stems[:, 2] = 0                                 # bass silent; the masks that sum to the mix
    exact = (stems.abs() / spec.abs().unsqueeze(1)).clamp(0, 1)
    assert np.isfinite(float(train.spectral_sdr(spec, masks, stems)))
    assert float(train.spectral_sdr(spec, exact, stems)) < float(train.spectral_sdr(spec, masks, stems))
    # a wholly silent example (every stem silent: drawn now and then, run 10's step 907) adds
    # a loss of zero and no gradient, not 0/0
    silent_spec, silent_stems = spec.clone(), stems.clone()
    silent_spec[0], silent_stems[0] = 0, 0
    masks.requires_grad_(True)
    loss = train.spectral_sdr(silent_spec, masks, silent_stems)
    loss.backward()
    rest = float(train.spectral_sdr(spec[1:], masks[1:], stems[1:]))
    assert float(loss) == pytest.approx(rest / 2, rel=1e-5)
    assert torch.isfinite(masks.grad).all() and float(masks.grad[0].abs().max()) == 0


def run_module(module, *args):
    """`python -m model.training.<module> args` from the repository root: (exit status, stdout,
    stderr)."""
    result = subprocess.run([sys.executable, "-m", f"model.training.{module}", *map(str, args)],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    return result.returncode, result.stdout, result.stderr


def run_script(module, *args):
    """`run_module`'s stdout; the module must succeed."""
    status, out, err = run_module(module, *args)
    assert status == 0, f"{module} failed:\n{out}\n{err}"
    return out


def expected_git():
    """What `provenance.git_commit` should record, asked of git here."""
    def git(*args):
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--",
                              "model/training"))}


def test_a_run_stops_resumes_and_exports_a_checked_model(data_root, tmp_path):
    run = tmp_path / "run"
    config = tmp_path / "tiny.toml"
    config.write_text(config_text(data_root, run))

    # stopped at step 2 by an override; continued with the file's 4 steps (`train.steps` is a
    # key that may change on resume)
    git = expected_git()
    run_script("train", config, "--train.steps=2")
    assert torch.load(run / "ckpt.pt")["step"] == 2
    out = run_script("train", config)
    assert f"resumed {run / 'ckpt.pt'} at step 2; train.steps 2 -> 4" in out
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log if "loss" in e] == [1, 2, 3, 4]
    validations = [e for e in log if "valid_sdr" in e]
    assert [e["step"] for e in validations] == [2, 4]
    for entry in validations:
        for key in ("valid_sdr", "valid_sdr_balanced"):
            assert set(entry[key]) == {*STEMS, "mean"}
            assert all(np.isfinite(v) for v in entry[key].values())
    assert torch.load(run / "ckpt.pt")["step"] == 4
    best = torch.load(run / "best.pt")
    assert best["step"] in (2, 4)

    # the leakage table of the trained network on a held-out example: with masks that sum to
    # one over four stems, the shares of a band's energy that the four outputs pass add up to
    # between 1/4 (masks of 1/4 each) and 1 (one mask of 1)
    separator, _, _ = evaluate.load(run / "best.pt")
    _, mix, stems = dataset.validation_set(str(data_root), 2.0, SR)[0]
    table = evaluate.leakage(*evaluate.spectra(separator, mix, stems))
    assert set(table) == set(STEMS)
    for ref, rows in table.items():
        assert len(rows) == len(evaluate.LEAKAGE_BANDS) - 1
        for band, row in rows.items():
            if row["energy"] > 1e-3:
                assert 0.25 - 0.02 <= sum(row[out] for out in STEMS) <= 1.0 + 1e-3, (ref, band, row)
    assert sum(row["energy"] for rows in table.values() for row in rows.values()) == \
        pytest.approx(1.0, abs=0.1)  # the stems' energies add up to the mixture's (± overlap)

    onnx_path = tmp_path / "tiny.onnx"
    eval_clip = TRAINING.parents[2] / "shared/eval/musdb18-preview-80s-rock/mixture.wav"
    check = ["--check", "--check-frames", 30] if eval_clip.exists() else []
    report = json.loads(run_script("export", run / "best.pt", "--out", onnx_path,
                                   "--name", "sift-tiny", *check))
    meta = {p.key: p.value for p in onnx.load(onnx_path).metadata_props}
    assert meta["sift.name"] == "sift-tiny" and meta["sift.stems"] == ",".join(STEMS)
    assert f"at git commit {provenance.describe(git)}; exported by" in meta["sift.source"]
    assert meta["sift.state_inputs"] == "state_in,level_in,band_in"
    sources = json.loads(meta["sift.training_sources"])
    assert "fluidr3-gm" in sources and not any(k.startswith("h2-") for k in sources)
    if check:
        assert report["check"]["masks_max_abs_diff"] < 1e-4
        assert report["check"]["mask_sum_max_error"] < 1e-5


@pytest.fixture(scope="module")
def one_step_run(data_root, tmp_path_factory):
    """A run stopped after one step (validated and checkpointed there), its config file and
    the git commit it ran at (asked just before: the repository may gain commits meanwhile)."""
    folder = tmp_path_factory.mktemp("one-step")
    config_file = folder / "tiny.toml"
    config_file.write_text(config_text(data_root, folder / "run"))
    git = expected_git()
    run_script("train", config_file, "--train.steps=1")
    return folder / "run", config_file, git


def test_a_run_refuses_to_continue_with_another_config(one_step_run):
    """Continued with another learning rate and a new per-stem effect (and more steps, which
    may change), the run stops at once, naming the two keys, and leaves ckpt.pt as it was."""
    run, config_file, _ = one_step_run
    status, _, err = run_module("train", config_file, "--train.steps=2", "--train.lr=5e-4",
                                "--data.augment.drums.kick=0.5")
    assert status != 0
    named = [line.strip() for line in err.splitlines() if line.startswith("  ")]
    assert named == ["data.augment.drums.kick: not set in the checkpoint, 0.5 now",
                     "train.lr: 0.001 in the checkpoint, 0.0005 now"], err
    assert "--fresh" in err
    assert torch.load(run / "ckpt.pt")["step"] == 1


def test_a_run_records_its_commit_and_effective_config(one_step_run, tmp_path):
    """ckpt.pt, best.pt, the first line of log.jsonl and what checkpoint.py makes of best.pt
    hold the git commit (and whether model/training was dirty); config.toml and the
    checkpoints hold the effective config."""
    run, config_file, git = one_step_run
    effective = config.load(config_file, config.TRAIN, ["--train.steps=1"])
    for name in ("ckpt.pt", "best.pt"):
        ckpt = torch.load(run / name)
        assert ckpt["git"] == git, name
        assert config.parse(ckpt["config"], config.TRAIN, name) == effective, name
    first = json.loads((run / "log.jsonl").read_text().splitlines()[0])
    assert first["start"] == "fresh" and first["step"] == 0 and first["git"] == git
    assert config.parse((run / "config.toml").read_text(), config.TRAIN, "config.toml") == effective
    small = tmp_path / "small.pt"
    run_script("checkpoint", run / "best.pt", small)
    assert torch.load(small)["git"] == git


def test_low_end_finds_the_kick_in_the_bass():
    """evaluate.low_end on spectra made by hand: bass alone in the first 60 frames, a kick that
    grows louder in the last 40, both in the 43-129 Hz bins. A bass mask of 1 takes all of the
    kick (coefficient 1, all the error where the kick plays, the quiet frames exact); a mask of
    0.5 keeps a quarter of the bass's energy and half of the kick."""
    T, F = 100, 513
    freqs = torch.fft.rfftfreq(2 * (F - 1), 1 / 44100)
    angles = torch.rand(2, T, F, generator=torch.Generator().manual_seed(0))
    phase = torch.exp(2j * torch.pi * angles)
    refs = torch.zeros(4, 2, T, F, dtype=torch.complex64)
    bass, drums = STEMS.index("bass"), STEMS.index("drums")
    refs[bass, :, :60, 1:4] = phase[:, :60, 1:4]
    refs[drums, :, 60:, 1:4] = phase[:, 60:, 1:4] * torch.linspace(2, 20, 40)[:, None]
    spec = refs.sum(0)

    def bass_mask(value):
        masks = torch.zeros(4, 2, T, F)
        masks[bass] = value
        return masks

    whole = evaluate.low_end(spec, bass_mask(1.0), refs, freqs)
    assert whole["drums_in_bass"] == pytest.approx(1.0) and whole["explains"] == pytest.approx(1.0)
    kick = torch.linspace(2, 20, 40) ** 2    # the error's energy per frame, after 60 quiet frames
    assert whole["sdr"] == pytest.approx(10 * math.log10(60 / float(kick.sum())), abs=0.01)
    quiet = whole["frames"]["kick quiet"]
    assert quiet == {"bass_energy": 1.0, "error": 0.0, "estimate_over_reference": 1.0}
    for name, frames in (("kick 50-80 %", slice(0, 20)), ("kick 80-95 %", slice(20, 35)),
                         ("kick loudest 5 %", slice(35, 40))):
        share = float(kick[frames].sum() / kick.sum())
        assert whole["frames"][name]["error"] == pytest.approx(share, abs=0.01)

    half = evaluate.low_end(spec, bass_mask(0.5), refs, freqs)
    assert half["drums_in_bass"] == pytest.approx(0.5)
    assert half["frames"]["kick quiet"]["estimate_over_reference"] == pytest.approx(0.25, abs=0.01)


def write_clip(folder, rng, silent=(), seconds=2.0):
    """A real clip's folder as ../shared/eval holds them: `mixture.wav` (the sum) and a WAV file
    per stem (`silent` ones digital silence, as ssr-how_will_i_know's drums)."""
    folder.mkdir(parents=True)
    n = int(seconds * SR)
    stems = {s: np.zeros((2, n), np.float32) if s in silent else stem_signal(s, rng)[:, :n]
             for s in STEMS}
    for s, x in stems.items():
        soundfile.write(folder / f"{s}.wav", x.T, SR, subtype="PCM_16")
    soundfile.write(folder / "mixture.wav", sum(stems.values()).T, SR, subtype="FLOAT")
    return folder


@pytest.fixture(scope="module")
def real_clips_dir(tmp_path_factory):
    """Three clips in a `../shared/eval`-like folder (the third without drums) and a demo
    clip, as evaluate.py and calibrate.py find them."""
    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(11)
    for name, silent in (("clip-a", ()), ("clip-b", ()), ("clip-no-drums", ("drums",))):
        write_clip(root / "eval" / name, rng, silent)
    (root / "eval" / "not-a-clip").mkdir()             # no mixture.wav: not a clip
    write_clip(root / "demo", rng)
    return root / "eval", root / "demo"


def test_real_clips_are_every_folder_with_a_mixture_and_the_demo(real_clips_dir, tmp_path):
    eval_dir, demo = real_clips_dir
    assert list(evaluate.real_clips(eval_dir, demo)) == ["clip-a", "clip-b", "clip-no-drums", "demo"]
    assert list(evaluate.real_clips(tmp_path / "none", tmp_path / "none")) == []


def test_a_silent_reference_stem_is_scored_as_leakage_and_left_out_of_the_sdr_means():
    """Drums silent in one clip: its drums estimate (a tenth of the mixture's amplitude, a
    hundredth of its energy) is -20 dB of leakage, not an SDR; the drums' mean is over the
    other clip alone, the silent clip's mean over its three other stems."""
    rng = np.random.default_rng(12)
    scores = {}
    for name, silent in (("with", ()), ("without", ("drums",))):
        stems = torch.from_numpy(np.stack([np.zeros((2, SR), np.float32) if s in silent
                                           else stem_signal(s, rng)[:, :SR] for s in STEMS]))
        mix = stems.sum(dim=0)
        est = stems.clone()
        est[STEMS.index("drums")] = 0.1 * mix
        scores[name] = evaluate.score_estimates(mix, stems, est)
    drums = scores["without"]["drums"]
    assert drums == {"silent_reference": True, "leakage_db": pytest.approx(-20.0, abs=0.01)}
    assert "sdr" not in drums
    summary = evaluate.real_summary(scores)
    assert summary["leakage_db"] == {"without": {"drums": drums["leakage_db"]}}
    assert "drums" not in summary["clips"]["without"]
    assert summary["stems"]["drums"] == scores["with"]["drums"]["sdr"]
    others = [scores["without"][s]["sdr"] for s in STEMS if s != "drums"]
    assert summary["clips"]["without"]["mean"] == pytest.approx(np.mean(others), abs=0.01)
    assert "(silent: leakage -20.0 dB)" in evaluate.real_table(summary)
    # the held-out medians skip it too
    assert metrics.is_silent(torch.zeros(2, 100)) and not metrics.is_silent(torch.full((2, 100), 1e-3))
    assert metrics.leakage_db(torch.zeros(2, 100), torch.ones(2, 100)) == -120.0


def test_the_real_mean_is_the_mean_over_every_clip_of_its_clip_mean():
    """Three clips, the third without drums: each stem's mean over the clips that have it, each
    clip's mean over its stems, and the mean of the three clip means: neither one clip's mean
    nor the mean of all eleven figures (7.18)."""
    sdrs = {"clip-0": (1, 2, 3, 4), "clip-1": (5, 6, 7, 8), "clip-2": (20, None, 11, 12)}
    scores = {clip: {s: {"sdr": float(v)} if v is not None else
                     {"silent_reference": True, "leakage_db": -30.0}
                     for s, v in zip(STEMS, values)} for clip, values in sdrs.items()}
    summary = evaluate.real_summary(scores)
    assert summary["clip_count"] == 3
    assert [c["mean"] for c in summary["clips"].values()] == [2.5, 6.5, pytest.approx(14.33)]
    assert summary["stems"] == {"vocals": pytest.approx(8.67), "drums": 4.0, "bass": 7.0,
                                "other": 8.0}
    assert summary["mean"] == pytest.approx((2.5 + 6.5 + 43 / 3) / 3, abs=0.01)
    assert summary["min_clip_mean"] == 2.5
    assert summary["leakage_db"] == {"clip-2": {"drums": -30.0}}


def tiny_checkpoint(data_root, path, seed=2):
    """An untrained network of the tests' config, saved as a checkpoint at `path`."""
    text = config_text(data_root, path.parent / "run")
    torch.manual_seed(seed)
    separator = Separator(config.parse(text, config.TRAIN, "the tests' config")["model"], SR)
    torch.save({"model": separator.state_dict(), "step": 0, "config": text,
                "git": {"commit": "0123abc", "dirty": True}}, path)
    return path


def test_evaluate_reports_every_real_clip_beside_the_held_out_renders(data_root, real_clips_dir,
                                                                      tmp_path):
    eval_dir, demo = real_clips_dir
    ckpt = tiny_checkpoint(data_root, tmp_path / "src.pt")
    figures = tmp_path / "figures.json"
    run_script("evaluate", ckpt, "--valid-seconds", 2, "--eval-dir", eval_dir, "--demo", demo,
               "--json", figures)
    result = json.loads(figures.read_text())
    assert set(result["valid_median_sdr"]) == set(STEMS)
    assert list(result["clips"]) == ["clip-a", "clip-b", "clip-no-drums", "demo"]
    real = result["real"]
    assert real["clip_count"] == 4
    means = [np.mean([v["sdr"] for v in result["clips"][c]["scores"].values() if "sdr" in v])
             for c in result["clips"]]
    assert real["mean"] == pytest.approx(np.mean(means), abs=0.02)
    assert result["clips"]["clip-no-drums"]["scores"]["drums"]["silent_reference"]
    assert set(real["leakage_db"]) == {"clip-no-drums"}
    drums = [result["clips"][c]["scores"]["drums"]["sdr"] for c in ("clip-a", "clip-b", "demo")]
    assert real["stems"]["drums"] == pytest.approx(np.mean(drums), abs=0.01)
    assert "low_end" not in result["clips"]["clip-no-drums"]


@pytest.mark.parametrize("choose_on", ["real", "held_out"])
def test_calibration_writes_the_power_its_chosen_figure_scores_best(data_root, real_clips_dir,
                                                                     tmp_path, choose_on):
    """calibrate.py on an untrained network: each row's held-out mean is the mean of its eight
    medians and its real mean the mean over every real clip (evaluate.real_summary), the power
    written into DST's config is the best row's by the figure chosen on, DST keeps the commit
    that trained SRC, and the calibrated checkpoint exports to an ONNX graph that matches
    PyTorch with that power and names that commit."""
    eval_dir, demo = real_clips_dir
    src, dst = tiny_checkpoint(data_root, tmp_path / "src.pt"), tmp_path / "dst.pt"
    out = run_script("calibrate", src, dst, "--powers", "0.5,0.25", "--valid-seconds", 2,
                     "--eval-dir", eval_dir, "--demo", demo, "--choose-on", choose_on)
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["mask_power"] for r in rows] == [0.5, 0.25]
    for row in rows:
        medians = [v for key in ("valid", "valid_balanced") for v in row[key].values()]
        assert len(medians) == 8
        assert row["held_out_mean"] == pytest.approx(np.mean(medians), abs=1e-3)
        assert row["real"]["clip_count"] == 4
        assert row["real_mean"] == pytest.approx(
            np.mean([c["mean"] for c in row["real"]["clips"].values()]), abs=0.01)
    best = max(rows, key=lambda r: r[f"{choose_on}_mean"])["mask_power"]
    written = torch.load(dst)
    assert tomllib.loads(written["config"])["model"]["mask_power"] == best
    assert written["calibration"] == rows
    assert written["git"] == {"commit": "0123abc", "dirty": True}
    if choose_on == "held_out":
        return

    calibrated, _, _ = evaluate.load(dst)
    assert calibrated.net.mask_power == best
    onnx_path = tmp_path / "calibrated.onnx"
    check = ["--check", "--check-frames", 30] if (evaluate.EVAL_CLIP / "mixture.wav").exists() else []
    report = json.loads(run_script("export", dst, "--out", onnx_path, *check))
    meta = {p.key: p.value for p in onnx.load(onnx_path).metadata_props}
    assert f"masks at power {best}" in meta["sift.source"]
    assert "at git commit 0123abc (with uncommitted changes in model/training); exported" in \
        meta["sift.source"]
    if check:
        assert report["check"]["masks_max_abs_diff"] < 1e-4


def test_calibration_without_real_clips_chooses_on_the_held_out_renders(data_root, tmp_path):
    src, dst = tiny_checkpoint(data_root, tmp_path / "src.pt"), tmp_path / "dst.pt"
    status, out, err = run_module("calibrate", src, dst, "--powers", "0.5,0.25",
                                  "--valid-seconds", 2, "--eval-dir", tmp_path / "none",
                                  "--demo", tmp_path / "none")
    assert status == 0, err
    assert "choosing on held_out_mean" in err
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert all("real_mean" not in r for r in rows)
    best = max(rows, key=lambda r: r["held_out_mean"])["mask_power"]
    assert tomllib.loads(torch.load(dst)["config"])["model"]["mask_power"] == best

if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
