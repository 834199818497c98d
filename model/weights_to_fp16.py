"""Stores a model's large float32 weights as float16, cast back to float32 when the model loads.

The arithmetic stays float32 (every provider runs the same graph); only the weights are
rounded to half precision, which halves the file (Spleeter 2-stem: 78.6 -> 39 MB). Used by
`cargo xtask gpu-check --prepare`, since the GPU machine takes at most 64 MiB of files.

usage: weights_to_fp16.py IN.onnx OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

model = onnx.load(sys.argv[1])
graph = model.graph
casts = []
for init in list(graph.initializer):
    if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < 1024:
        continue
    weights = numpy_helper.to_array(init).astype(np.float16)
    half = numpy_helper.from_array(weights, init.name + "_fp16")
    graph.initializer.remove(init)
    graph.initializer.append(half)
    casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
for node in reversed(casts):
    graph.node.insert(0, node)
onnx.checker.check_model(model)
onnx.save(model, sys.argv[2])
print(f"{len(casts)} weight tensors stored as float16 in {sys.argv[2]}")
