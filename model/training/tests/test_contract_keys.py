"""The contract's one table of keys (`model/contract_keys.tsv`) against what documents and writes
them: `model/CONTRACT.md` describes exactly its keys, and every model file the project's scripts
write (`model/training/export.py`'s shipped `sift-4stem`, `model/build_spleeter.py`'s Spleeter,
`model/make_test_models.py`'s test models) uses only its keys, with values of their types.
The Rust reader is held to the same table by `contract.rs`'s `every_key_it_reads_is_in_the_table`.
"""

import pathlib
import re
import subprocess
import sys

import onnx
import pytest

MODEL = pathlib.Path(__file__).resolve().parents[2]
REPO = MODEL.parent

#: The test models that follow the contract; the others break one rule each on purpose.
VALID_TEST_MODELS = ["tiny-valid", "tiny-magnitude", "tiny-three-stems", "stream-smoother", "stream-smoother-k4",
                     "stream-lookahead", "stream-gru"]

TYPES = {
    "int": re.compile(r"[0-9]+"),
    "name": re.compile(r"[A-Za-z0-9_.:/-]+"),
    "names": re.compile(r"[A-Za-z0-9_.:-]+(,[A-Za-z0-9_.:-]+)*"),
    "layout": re.compile(r"[a-z]+(,[a-z]+)*"),
    "bool": re.compile(r"true|false"),
    "text": re.compile(r".+", re.DOTALL),
}


def table():
    """`{key: (type, versions, read)}` from the TSV."""
    lines = [line for line in (MODEL / "contract_keys.tsv").read_text().splitlines() if line and not line.startswith("#")]
    header, *rows = [line.split("\t") for line in lines]
    assert header == ["key", "type", "versions", "read", "meaning"], header
    keys = {}
    for key, kind, versions, read, _meaning in rows:
        assert kind in TYPES, f"{key}: unknown type {kind}"
        assert read in ("yes", "no"), f"{key}: read is {read}"
        assert key not in keys, f"{key} is defined twice"
        keys[key] = (kind, {int(v) for v in versions.split(",")}, read == "yes")
    return keys


def metadata(path):
    return {entry.key: entry.value for entry in onnx.load(str(path), load_external_data=False).metadata_props}


def check_file(path, keys, typed):
    meta = metadata(path)
    unknown = sorted(set(meta) - set(keys))
    assert not unknown, f"{path.name} writes keys the contract does not define: {unknown}"
    if not typed:
        return
    version = int(meta["sift.contract"])
    for key, value in meta.items():
        kind, versions, _ = keys[key]
        assert version in versions, f"{path.name}: {key} is not a key of contract {version}"
        assert TYPES[kind].fullmatch(value), f"{path.name}: {key} = {value!r} is not of type {kind}"


def test_contract_md_describes_exactly_the_tables_keys():
    documented = set(re.findall(r"^\| `(sift\.[a-z_]+)` \|", (MODEL / "CONTRACT.md").read_text(), re.MULTILINE))
    keys = set(table())
    assert documented == keys, f"only in CONTRACT.md: {sorted(documented - keys)}; only in the table: {sorted(keys - documented)}"


def test_the_shipped_models_use_only_the_tables_keys():
    keys = table()
    check_file(MODEL / "weights" / "sift-4stem.onnx", keys, typed=True)
    spleeter = REPO / "models" / "spleeter-2stems.onnx"
    if not spleeter.is_file():
        pytest.skip(f"{spleeter} is not built (`cargo xtask setup` builds it)")
    check_file(spleeter, keys, typed=True)


def test_the_test_models_use_only_the_tables_keys(tmp_path):
    subprocess.run([sys.executable, str(MODEL / "make_test_models.py"), str(tmp_path)], check=True, capture_output=True)
    keys = table()
    written = sorted(p for p in tmp_path.glob("*.onnx") if p.name != "garbage.onnx")
    assert len(written) > len(VALID_TEST_MODELS), [p.name for p in written]
    for path in written:
        check_file(path, keys, typed=path.stem in VALID_TEST_MODELS)
