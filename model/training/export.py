"""Export a checkpoint as a streaming Sift model: `python -m model.training.export CKPT --out F.onnx`

Writes one `.onnx` file that follows Sift's model contract version 2 for streaming models
(model/CONTRACT.md, "Contract version 2"): per call one new frame `magnitude` [1, 2, 1, 513] and
the state go in (`state_in` [layers, 1, hidden], the minGRU blocks'; with the level tracker also
`level_in` [1, 2]), `masks` [1, 4, 2, 1, 513] and the next state (`state_out`, `level_out`) come
out; the engine feeds each `*_out` back as the next call's `*_in` and starts from zeros.

Why the graph needs no front end of its own:

* Scaling. Training computes magnitudes with `model.Spectrogram`: `torch.stft` with a periodic
  Hann window and no normalisation, i.e. |unnormalised rfft| of the windowed frame, which is
  exactly what Sift feeds. `BandSplitRNN` does its own log compression, so it goes into the graph
  with it. `--check` measures the equivalence on real audio.
* Framing. Training's STFT is centred (frame t covers samples [t·hop − n_fft/2, t·hop + n_fft/2)
  after zero padding), Sift's is not (frame j covers [(j+1)·hop − n_fft, (j+1)·hop)). For
  n_fft = 4·hop, Sift's frame j is training's frame j − 1: the same samples, so the same
  magnitudes. The network is causal, so the shift moves its output in time and nothing else; the
  engine aligns masks to the frames it fed. Sift's first frame (three quarters zeros) comes one
  hop before training's first, as if the clip had 6 ms more silence in front.
* State. `BandSplitRNN.initial_state` is zeros, which is the contract's reset state, so nothing
  needs folding into the graph. Both minGRU blocks' states travel as one tensor; the level
  tracker's (bias-corrected, so zeros are its start) as another.
* Output. The network ends in a softmax over stems: masks that sum to one in every bin
  (`sift.output_kind` = `mask`). Sift's own normalisation then changes nothing, and `other`, the
  residual stem, has no bins above `sift.bins` to take since all 513 are modelled.

`--fp16-weights` stores the weights as float16 (`model/weights_to_fp16.py`; the arithmetic
stays float32), halving the file for the copy committed to the repository. The network's weights
are rounded to float16 before the export, so the file and `--check`'s PyTorch reference hold the
same weights; a committed checkpoint (`checkpoints/*.pt`) is float16 already and loses nothing.

`--check` runs the exported file with ONNX Runtime frame by frame over the start of the
evaluation clip, carrying the state as the engine does, compares its masks with the PyTorch
full-sequence forward on the same frames, and times one call on one thread; it exits non-zero
if the masks differ by `TOLERANCE` or more.

Needs, besides the training venv: Debian's `python3-onnx` and the `onnxruntime` 1.31.1 wheel,
the version Sift runs, installed with `pip install --no-deps`: running a model needs none of its
requirements beyond numpy, and pip's protobuf would shadow the Debian one python3-onnx uses.
"""
import argparse
import io
import json
import os
import pathlib
import statistics
import sys
import time
import warnings

import numpy as np
import onnx
import onnxruntime
import soundfile
import torch
from torch import nn

from ..weights_to_fp16 import store_weights_fp16
from . import config, provenance, sources
from .evaluate import EVAL_CLIP, load
from .prepare import used_sources
from .stems import STEMS

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_CHECKPOINT = REPO / "model/training/checkpoints/bsgru-v2.pt"
OPSET = 17
TOLERANCE = 1e-4  # max |ONNX − PyTorch| of the masks that --check accepts, as build_spleeter.py
LICENCE = "GPL-3.0-or-later"  # Sift's own licence (Cargo.toml); the weights are trained here


class StreamingStep(nn.Module):
    """One call of the contract: one frame's magnitude and the state in, masks and state out.

    `BandSplitRNN.forward` already takes and returns the state and, for one frame, runs the
    recurrences themselves instead of the training scan; this wrapper only makes each state
    tensor a required input so that the traced graph has it."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, magnitude, *state):
        masks, next_state = self.net(magnitude, state)
        return (masks, *next_state)


def state_names(net, suffix):
    """The graph's names of the state tensors: `state_in`, `level_in`, ... (or `_out`)."""
    return [f"{name}{suffix}" for name in net.state_names]


def set_config(root, pattern, defaults, table):
    """The `[table]` of the committed config (`configs/<pattern>`) that makes the data set at
    `root` (a render's `data-v*.toml`, real material's `real-v*.toml`), so the sources are known
    without the data on this machine; else the copy the set keeps (`<root>/config.toml`)."""
    for path in sorted(config.CONFIGS.glob(pattern)):
        found = config.load(path, defaults)[table]
        if found["out"] == root:
            return found
    own = pathlib.Path(root, "config.toml")
    if own.exists():
        return config.load(own, defaults)[table]
    raise SystemExit(f"no model/training/configs/{pattern} makes {root}, and it has no "
                     f"config.toml of its own")


def metadata(name, cfg, net, checkpoint, ckpt):
    """The contract's metadata_props; `sift.training_sources` adds the outside sources of the
    training data with their licences (`sources.used`), for the credit their licences ask
    for; `sift.source` the git commits that trained (where the checkpoint records it) and
    exported the model."""
    mcfg = cfg["model"]
    used = sources.used(set_config(cfg["data"]["root"], "data-*.toml", config.RENDER, "render"))
    real_root = cfg["data"]["real_root"]
    if real_root:
        used.update(used_sources(set_config(real_root, "real-*.toml", config.PREPARE, "prepare")))
    training_sources = {key: {k: s[k] for k in ("package", "licence", "role")}
                        for key, s in used.items()}
    on = {"held_out_mean": "held-out renders", "real_mean": "the real clips' mean"}
    calibration = (f"; masks at power {mcfg['mask_power']}, calibrated on "
                   f"{on[ckpt.get('calibrated_on', 'held_out_mean')]}"
                   if "calibration" in ckpt else "")
    real = (f", and on real recordings (data set {real_root}: "
            + " and ".join(n for k, n in (("eir", "Everything is Remixed's stems"),
                                          ("pjs", "the PJS corpus's a cappellas")) if k in used)
            + ")") if real_root else ""
    trained_at = f" at git commit {provenance.describe(ckpt['git'])}" if "git" in ckpt else ""
    return {
        "sift.contract": "2",
        "sift.name": name,
        "sift.output_kind": "mask",
        "sift.stems": ",".join(STEMS),
        "sift.residual_stem": "other",
        "sift.sample_rate": str(cfg["data"]["sample_rate"]),
        "sift.n_fft": str(mcfg["n_fft"]),
        "sift.hop": str(mcfg["hop"]),
        "sift.window": "hann-periodic",
        "sift.bins": str(mcfg["n_fft"] // 2 + 1),
        "sift.channels": "2",
        "sift.input": "magnitude",
        "sift.input_layout": "batch,channel,frame,bin",
        "sift.output": "masks",
        "sift.output_layout": "batch,stem,channel,frame,bin",
        "sift.magnitude": "abs of unnormalised rfft of the periodic-Hann-windowed frame "
                          "(no 1/N scaling)",
        "sift.licence": LICENCE,
        "sift.source": (
            f"Sift's own four-stem model: the causal band-split minGRU of model/training/model.py "
            f"({mcfg['layers']} blocks of {mcfg['hidden']}{calibration}), trained in the Sift "
            f"repository on "
            f"multitracks rendered from MIDI with Debian and PyPI packages (SoundFonts"
            f"{', recorded Hydrogen drum kits' if any(k in sources.HYDROGEN_KITS for k in training_sources) else ''}"
            f", MMA grooves, OpenMSX songs, Flite and eSpeak NG voices; sift.training_sources lists "
            f"them with their licences), data set {cfg['data']['root']}{real}; run "
            f"{cfg['train']['run_dir']}, step {ckpt.get('step')} ({checkpoint.name}){trained_at}; "
            f"exported by model/training/export.py at git commit "
            f"{provenance.describe(provenance.git_commit())}."),
        "sift.training_sources": json.dumps(training_sources, separators=(",", ":")),
        "sift.streaming": "true",
        "sift.frames_per_run": "1",
        "sift.lookahead": "0",
        "sift.state_inputs": ",".join(state_names(net, "_in")),
        "sift.state_outputs": ",".join(state_names(net, "_out")),
    }


def export(net, meta, out, fp16_weights=False):
    """Trace one streaming step to ONNX, attach `meta` and write `out` atomically; with
    `fp16_weights`, the weights are stored as float16 (round the network's weights first to
    keep PyTorch and the file equal)."""
    if any(s.any() for s in net.initial_state()):
        raise ValueError("the model's initial state is not zeros: fold it into the graph")
    step = StreamingStep(net)
    inputs = (torch.zeros(1, net.channels, 1, net.n_bins), *net.initial_state())
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer warns that the one-frame branch of MinGRU and the loop over the layers'
        # states are fixed in the graph: intended, the graph is for one frame and fixed shapes;
        # torch 1.13's exporter warns about shape inference of its own constants: harmless
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", "The shape inference of prim::Constant")
        outputs = step(*inputs)
        torch.onnx.export(step, inputs, buffer, opset_version=OPSET,
                          input_names=["magnitude", *state_names(net, "_in")],
                          output_names=["masks", *state_names(net, "_out")])
    model = onnx.load_model_from_string(buffer.getvalue())
    # the exporter leaves symbolic dimensions on `state_out` (it comes from a Concat), but the
    # contract wants every state shape fixed, and they are: write the traced shapes in
    for value, tensor in zip(model.graph.output, outputs):
        for dim, size in zip(value.type.tensor_type.shape.dim, tensor.shape):
            dim.dim_value = size
    if fp16_weights:
        store_weights_fp16(model)
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model, full_check=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(model.SerializeToString())
    os.replace(tmp, out)


def engine_frames(audio, n_fft, hop, frames):
    """audio (2, N) -> magnitudes (1, 2, frames, n_fft/2+1) framed as Sift's engine frames a
    stream: frame j is |rfft| of the Hann-windowed samples [(j+1)·hop − n_fft, (j+1)·hop), zeros
    before the start."""
    padded = nn.functional.pad(audio, (n_fft - hop, 0))
    chunks = padded.unfold(-1, n_fft, hop)[:, :frames]                  # (2, frames, n_fft)
    window = torch.hann_window(n_fft, periodic=True)
    return torch.fft.rfft(chunks * window).abs().unsqueeze(0)


def check(separator, path, frames, timed_calls=1000):
    """Figures of the exported file against PyTorch on the first `frames` frames of the eval
    clip (module docstring): max differences and the median time of one call on one thread."""
    net, spec = separator.net, separator.spec
    x, sr = soundfile.read(EVAL_CLIP / "mixture.wav", dtype="float32", always_2d=True)
    assert sr == 44100
    audio = torch.from_numpy(x.T.copy())[:, :frames * spec.hop]
    mags = engine_frames(audio, spec.n_fft, spec.hop, frames)
    # training's centred STFT: its frame t is the engine's frame t + 1 (module docstring)
    centred = spec.stft(audio.unsqueeze(0)).abs()[:, :, :frames - 1]
    framing = float((centred - mags[:, :, 1:]).abs().max() / mags.abs().max())
    with torch.no_grad():
        ref_masks, ref_state = net(mags)

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    names_in, names_out = state_names(net, "_in"), state_names(net, "_out")
    state = [s.numpy() for s in net.initial_state()]
    inputs = [np.ascontiguousarray(mags[:, :, j:j + 1].numpy()) for j in range(frames)]
    masks = []
    for frame in inputs:
        m, *state = session.run(["masks", *names_out],
                                {"magnitude": frame, **dict(zip(names_in, state))})
        masks.append(m)
    masks = np.concatenate(masks, axis=3)

    times = []
    for i in range(timed_calls + 50):  # the first 50 warm up
        t0 = time.perf_counter()
        session.run(["masks", *names_out],
                    {"magnitude": inputs[i % frames], **dict(zip(names_in, state))})
        times.append(time.perf_counter() - t0)
    return {
        "frames": frames,
        "masks_max_abs_diff": float(np.abs(masks - ref_masks.numpy()).max()),
        "state_max_rel_diff": max(float(np.abs(s - r.numpy()).max() / np.abs(r.numpy()).max())
                                  for s, r in zip(state, ref_state)),
        "mask_sum_max_error": float(np.abs(masks.sum(axis=1) - 1).max()),
        "framing_max_rel_diff": framing,
        "ms_per_call_1_thread": round(1e3 * statistics.median(times[50:]), 4),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint", nargs="?", default=str(DEFAULT_CHECKPOINT),
                    help="a best.pt, ckpt.pt or committed checkpoint (default: %(default)s)")
    ap.add_argument("--out", required=True, help="the .onnx file to write")
    ap.add_argument("--name", help="sift.name (default: sift-RUN, RUN from [train] run_dir, "
                                   "e.g. sift-bsgru-v2)")
    ap.add_argument("--fp16-weights", action="store_true",
                    help="store the weights as float16 (half the file; float32 arithmetic)")
    ap.add_argument("--check", action="store_true",
                    help="verify the file against PyTorch on the eval clip and time it")
    ap.add_argument("--check-frames", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)
    checkpoint, out = pathlib.Path(args.checkpoint), pathlib.Path(args.out)
    separator, cfg, ckpt = load(checkpoint)
    net = separator.net
    name = args.name or "sift-" + pathlib.Path(cfg["train"]["run_dir"]).name
    if args.fp16_weights:
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(p.half().float())
    export(net, metadata(name, cfg, net, checkpoint, ckpt), out, args.fp16_weights)
    report = {"out": str(out), "bytes": out.stat().st_size, "step": ckpt.get("step"),
              "parameters": sum(p.numel() for p in net.parameters())}
    if args.check:
        report["check"] = check(separator, out, args.check_frames)
    print(json.dumps(report, indent=1))
    if args.check and report["check"]["masks_max_abs_diff"] >= TOLERANCE:
        sys.exit(f"masks differ from PyTorch by {report['check']['masks_max_abs_diff']:.2e}")


if __name__ == "__main__":
    main()
