"""Stores a model's large float32 weights as float16, cast back to float32 when the model loads.

The arithmetic stays float32 (every provider runs the same graph, and ONNX Runtime folds the
casts into float32 weights when it loads the file); only the weights are rounded to half
precision, which halves the file (Spleeter 2-stem: 78.6 -> 39 MB). Used by
`cargo xtask gpu-check --prepare`, since the GPU machine takes at most 64 MiB of files, and by
`model/training/export.py --fp16-weights` for the model committed to the repository.

usage: weights_to_fp16.py IN.onnx OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

MIN_VALUES = 1024  # smaller tensors (biases, norms) stay float32: they weigh nothing


def store_weights_fp16(model):
    """Rewrites `model` (an `onnx.ModelProto`) in place: every float32 initializer of at least
    `MIN_VALUES` values becomes a float16 initializer and a `Cast` back to float32 under the old
    name. Returns how many tensors were converted."""
    graph = model.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < MIN_VALUES:
            continue
        weights = numpy_helper.to_array(init).astype(np.float16)
        half = numpy_helper.from_array(weights, init.name + "_fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
    for node in reversed(casts):
        graph.node.insert(0, node)
    return len(casts)


if __name__ == "__main__":
    model = onnx.load(sys.argv[1])
    converted = store_weights_fp16(model)
    onnx.checker.check_model(model)
    onnx.save(model, sys.argv[2])
    print(f"{converted} weight tensors stored as float16 in {sys.argv[2]}")
