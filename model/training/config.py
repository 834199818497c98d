"""Run configs: a defaults file, a run's file of overrides and the command line's, merged and checked.

    cfg = config.load("model/training/configs/bsgru-v13.toml", config.TRAIN, ["--train.steps=1200"])

`configs/train-defaults.toml` (train.py's `[data]`, `[model]`, `[train]`),
`configs/render-defaults.toml` (render.py's `[render]`) and `configs/prepare-defaults.toml`
(prepare.py's `[prepare]`) hold every key with its default; a run's file names only what
differs, and `--table.key=value` arguments after it override both (the value
is read as a TOML value, or else taken as a string: `--train.lr=3e-4`, `--data.root=data/v2`,
`--data.augment.other.amp=0.5`).

The defaults file is the schema: a key is known if and only if the defaults have it, and its
value must have the default's type (an integer where a number is due is taken as that number; a
list's items must have the type of the default list's first item). The one addition:
`[data.augment.<stem>]`, for each of `stems.STEMS`, may set any key of `[data.augment]` (that
stem's own probability of the effect, `augment.StemChain.for_stem`). Anything else is a
`ConfigError` that names the file (or the command line), the table and the key.
"""
import difflib
import json
import pathlib
import re
import tomllib

from .stems import STEMS

CONFIGS = pathlib.Path(__file__).resolve().parent / "configs"
TRAIN = CONFIGS / "train-defaults.toml"
RENDER = CONFIGS / "render-defaults.toml"
PREPARE = CONFIGS / "prepare-defaults.toml"
PER_STEM = ("data", "augment")   # the table whose sub-tables named after a stem take its keys

TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
              list: "a list", dict: "a table"}


class ConfigError(ValueError):
    pass


def load(path, defaults, arguments=()):
    """The effective config of the file `path` over the `defaults` file (`TRAIN`, `RENDER` or
    `PREPARE`), with the overrides `arguments` (`--table.key=value` each) applied last."""
    path = pathlib.Path(path)
    layers = [(str(path), _read(path.read_text(), str(path)))]
    layers += [("command line", override) for override in _overrides(arguments)]
    return _effective(defaults, layers)


def parse(text, defaults, source):
    """The effective config of a config's text (a checkpoint's, a run's `config.toml`) over the
    `defaults` file; `source` names it in errors. A config written before the defaults file
    existed lacks the keys added since, which default to what its lack meant."""
    return _effective(defaults, [(source, _read(text, source))])


def _overrides(arguments):
    """Each `--table.key=value` argument as a nested table: {"table": {"key": value}}."""
    for argument in arguments:
        match = re.fullmatch(r"--([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)+)=(.*)", argument, re.DOTALL)
        if not match:
            raise ConfigError(f"command line: {argument}: not an override (--table.key=value)")
        try:
            value = tomllib.loads(f"value = {match[2]}")["value"]
        except tomllib.TOMLDecodeError:
            value = match[2]
        *tables, key = match[1].split(".")
        override = {key: value}
        for table in reversed(tables):
            override = {table: override}
        yield override


def differences(old, new, where=()):
    """[(dotted key, old value, new value)] where two effective configs differ; a key that one
    of them lacks (a `[data.augment.<stem>]` table's) has the value None there."""
    found = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) or isinstance(b, dict):
            found += differences(a or {}, b or {}, (*where, key))
        elif a != b:
            found.append((".".join((*where, key)), a, b))
    return found


def dumps(cfg):
    """TOML text of a config that `tomllib` reads back as `cfg`: each table's plain keys under its
    header, its sub-tables after them."""
    lines = []

    def table(values, where):
        if where:
            lines.append(f"\n[{'.'.join(where)}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in values.items()
                     if not isinstance(value, dict))
        for key, value in values.items():
            if isinstance(value, dict):
                table(value, (*where, key))
    table(cfg, ())
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)   # a JSON string is a TOML basic string
    return "[" + ", ".join(_toml(v) for v in value) + "]"


def _read(text, source):
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: {error}") from None


def _effective(defaults, layers):
    cfg = tomllib.loads(pathlib.Path(defaults).read_text())
    schema = cfg
    for source, values in layers:
        cfg = _merged(cfg, _checked(values, schema, (), source))
    return cfg


def _merged(base, over):
    out = dict(base)
    for key, value in over.items():
        out[key] = (_merged(base[key], value) if isinstance(value, dict) and key in base
                    else value)
    return out


def _checked(values, schema, where, source):
    """`values`, a table at `where` from `source`, checked against the defaults' table `schema`;
    integers where numbers are due become floats."""
    out = {}
    for key, value in values.items():
        name = f"[{'.'.join(where)}] {key}" if where else key
        if key in schema:
            out[key] = _typed(value, schema[key], (*where, key), name, source)
        elif where == PER_STEM and key in STEMS:
            if not isinstance(value, dict):
                raise _type_error(value, {}, name, source)
            effects = {k: v for k, v in schema.items() if not isinstance(v, dict)}
            out[key] = _checked(value, effects, (*where, key), source)
        else:
            known = [*schema, *(STEMS if where == PER_STEM else ())]
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{source}: {name}: unknown key{hint}")
    return out


def _typed(value, default, where, name, source):
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise _type_error(value, default, name, source)
        return _checked(value, default, where, source)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not type(default):
        raise _type_error(value, default, name, source)
    if isinstance(default, list):
        return [_typed(item, default[0], where, f"{name}[{i}]", source)
                for i, item in enumerate(value)]
    return value


def _type_error(value, default, name, source):
    got = TYPE_NAMES.get(type(value), type(value).__name__)
    return ConfigError(f"{source}: {name}: expected {TYPE_NAMES[type(default)]}, got {got} "
                       f"({value!r})")
