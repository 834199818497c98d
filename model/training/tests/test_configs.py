"""The run configs and their loader (config.py): each committed checkpoint was trained with
what its run's config now says, every config reads back from the text train.py stores, the
schema (the defaults file) refuses unknown keys and values of another type, naming the file and
the key, and overrides from the command line go through the same checks."""
import tomllib

import pytest
import torch

from model.training import augment, config

CHECKPOINTS = config.CONFIGS.parent / "checkpoints"
RUNS = sorted(config.CONFIGS.glob("bsgru-v*.toml"))
DATA = sorted(config.CONFIGS.glob("data-v*.toml"))
REAL = sorted(config.CONFIGS.glob("real-v*.toml"))


def flat(table, where=()):
    """(dotted key, value) of every plain key of a config."""
    for key, value in table.items():
        if isinstance(value, dict):
            yield from flat(value, (*where, key))
        else:
            yield ".".join((*where, key)), value


def write(tmp_path, text):
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("checkpoint", sorted(CHECKPOINTS.glob("*.pt")), ids=lambda p: p.stem)
def test_each_committed_checkpoint_was_trained_with_its_runs_config(checkpoint):
    """The checkpoint stores the full config its run trained with (a file from before the
    defaults existed): every key it names has that value in the run's effective config, and
    the keys it lacks default alike in both; only the mask power differs, which calibrate.py
    wrote into the checkpoint after training."""
    stored = torch.load(checkpoint)["config"]
    run = config.load(config.CONFIGS / f"{checkpoint.stem}.toml", config.TRAIN)
    named = dict(flat(tomllib.loads(stored)))
    ran = dict(flat(run))
    assert {k: ran.get(k) for k in named if k != "model.mask_power"} == \
        {k: v for k, v in named.items() if k != "model.mask_power"}
    trained = config.parse(stored, config.TRAIN, str(checkpoint))
    assert [key for key, _, _ in config.differences(trained, run)] == \
        (["model.mask_power"] if trained["model"]["mask_power"] != 1.0 else [])


def test_the_shipped_run_is_among_them():
    """bsgru-v13 is the model Sift ships (model/weights/sift-4stem.onnx): the test above
    covers it, at its calibrated power."""
    assert (CHECKPOINTS / "bsgru-v13.pt").is_file()
    trained = config.parse(torch.load(CHECKPOINTS / "bsgru-v13.pt")["config"], config.TRAIN, "v13")
    assert trained["model"]["mask_power"] == 0.8


@pytest.mark.parametrize("path", RUNS + DATA + REAL, ids=lambda p: p.stem)
def test_every_config_reads_back_from_its_dump(path):
    defaults = {"data-": config.RENDER, "real-": config.PREPARE}.get(path.name[:5], config.TRAIN)
    cfg = config.load(path, defaults)
    text = config.dumps(cfg)
    assert tomllib.loads(text) == cfg
    assert config.parse(text, defaults, "dump") == cfg


def test_the_data_configs_differ_where_their_renders_do():
    out = {p.stem: config.load(p, config.RENDER)["render"] for p in DATA}
    assert [(r["out"], r["hydrogen_kits"]) for r in out.values()] == \
        [("data/v1", False), ("data/v2", False), ("data/v3", True)]


def test_the_defaults_know_every_effect_and_no_other():
    defaults = tomllib.loads(config.TRAIN.read_text())
    assert list(defaults["data"]["augment"]) == list(augment.StemChain.ORDER)


def test_an_unknown_key_is_refused_with_its_file_and_the_key_it_may_mean(tmp_path):
    path = write(tmp_path, "[train]\nwarmup_step = 3\n")
    with pytest.raises(config.ConfigError) as error:
        config.load(path, config.TRAIN)
    assert str(error.value) == \
        f"{path}: [train] warmup_step: unknown key (did you mean warmup_steps?)"
    path = write(tmp_path, "[trian]\nlr = 1e-3\n")
    with pytest.raises(config.ConfigError,
                       match=r"run.toml: trian: unknown key \(did you mean train\?\)$"):
        config.load(path, config.TRAIN)
    path = write(tmp_path, "[render]\nseconds = 20.0\ncolour = 3\n")
    with pytest.raises(config.ConfigError, match=r"run.toml: \[render\] colour: unknown key$"):
        config.load(path, config.RENDER)


@pytest.mark.parametrize("text, message", [
    ('[train]\nsteps = "600"', r"\[train\] steps: expected an integer, got a string \('600'\)"),
    ("[train]\nsteps = 600.0", r"\[train\] steps: expected an integer, got a number"),
    ("[train]\nsteps = true", r"\[train\] steps: expected an integer, got a boolean"),
    ("[model]\nband_rnn = 1", r"\[model\] band_rnn: expected a boolean, got an integer"),
    ('[data]\nstem_gain_db = [-9.0, "6"]', r"\[data\] stem_gain_db\[1\]: expected a number"),
    ("[data]\nroot = [1]", r"\[data\] root: expected a string, got a list"),
    ("train = 3", r"train: expected a table, got an integer"),
])
def test_a_value_of_another_type_than_its_default_is_refused(tmp_path, text, message):
    path = write(tmp_path, text + "\n")
    with pytest.raises(config.ConfigError, match=f"^{path}: {message}"):
        config.load(path, config.TRAIN)


def test_an_integer_is_taken_where_a_number_is_due(tmp_path):
    cfg = config.load(write(tmp_path, "[train]\nlr = 1\n[data]\nstem_gain_db = [-9, 6]\n"),
                      config.TRAIN)
    assert cfg["train"]["lr"] == 1.0 and type(cfg["train"]["lr"]) is float
    assert [type(v) for v in cfg["data"]["stem_gain_db"]] == [float, float]


def test_a_stem_table_of_augment_takes_the_effects_and_nothing_else(tmp_path):
    cfg = config.load(write(tmp_path, "[data.augment.other]\namp = 0.5\nlow_cut = 1\n"),
                      config.TRAIN)
    assert cfg["data"]["augment"]["other"] == {"amp": 0.5, "low_cut": 1.0}
    assert cfg["data"]["augment"]["eq"] == 0.6    # the defaults' common table stays
    for text, message in (
            ("[data.augment.guitar]\namp = 0.5", r"\[data.augment\] guitar: unknown key"),
            ("[data.augment.other]\nfuzz = 0.5", r"\[data.augment.other\] fuzz: unknown key"),
            ('[data.augment.other]\namp = "x"', r"\[data.augment.other\] amp: expected a number"),
            ("[data.augment]\nother = 0.5", r"\[data.augment\] other: expected a table"),
            ("[data.augment.other.drums]\namp = 0.5",
             r"\[data.augment.other\] drums: unknown key")):
        with pytest.raises(config.ConfigError, match=message):
            config.load(write(tmp_path, text + "\n"), config.TRAIN)


def test_command_line_overrides_apply_over_the_file_and_are_checked(tmp_path):
    path = write(tmp_path, '[train]\nlr = 1e-4\nloss = "spectral_sdr"\n')
    cfg = config.load(path, config.TRAIN, ["--train.lr=3e-4", "--train.steps=1200",
                                           "--data.root=data/v2", "--model.band_rnn=true",
                                           "--data.augment.other.amp=0.5",
                                           "--data.stem_gain_db=[-6, 3]"])
    assert cfg["train"]["lr"] == 3e-4 and cfg["train"]["steps"] == 1200
    assert cfg["train"]["loss"] == "spectral_sdr"          # the file's, where not overridden
    assert cfg["data"]["root"] == "data/v2" and cfg["model"]["band_rnn"] is True
    assert cfg["data"]["augment"]["other"] == {"amp": 0.5}
    assert cfg["data"]["stem_gain_db"] == [-6.0, 3.0]
    for argument, message in (
            ("--train.lerning_rate=3e-4", r"^command line: \[train\] lerning_rate: unknown key"),
            ("--train.steps=1.5e3",
             r"^command line: \[train\] steps: expected an integer, got a number"),
            ("--train.steps=lots",
             r"^command line: \[train\] steps: expected an integer, got a string"),
            ("--train.steps", r"^command line: --train.steps: not an override"),
            ("--fresh-start", r"^command line: --fresh-start: not an override")):
        with pytest.raises(config.ConfigError, match=message):
            config.load(path, config.TRAIN, [argument])


def test_differences_name_each_changed_key_with_both_values():
    old = config.parse('[train]\nlr = 1e-4\n', config.TRAIN, "old")
    new = config.parse('[train]\nlr = 3e-4\n[data.augment.bass]\nkick = 0.5\n', config.TRAIN, "new")
    assert config.differences(old, new) == [("data.augment.bass.kick", None, 0.5),
                                            ("train.lr", 1e-4, 3e-4)]
    assert config.differences(new, new) == []
