#!/bin/sh
# The training pipeline's environment, in one command (from any directory):
#
#     model/training/setup_env.sh [VENV]        VENV: the venv to create, default .venv-train
#                                               in the repository root (gitignored)
#
# 1. The Debian packages below, installed with apt-get where they are missing and this runs as
#    root; otherwise it stops with the command to run. PyTorch's wheels on PyPI are CUDA builds
#    (torch 2.15.0 needs libcudart, libcublasLt, libcudnn, ... from ~3 GB of nvidia-* wheels just
#    to import, even on a CPU), so the pipeline runs on Debian bookworm's CPU-only python3-torch
#    (1.13.1+dfsg-4), with Debian's numpy (1.24.2), scipy (1.10.1) and soundfile (0.12.1), which
#    match its ABI, and python3-onnx (1.12.0). The rest render the data: FluidSynth, the
#    SoundFonts and drum kits, MMA, the OpenMSX songs, Flite, eSpeak NG (sources.py).
# 2. VENV: a venv of Debian's Python 3.11 that sees those packages, with requirements.txt's pins,
#    then requirements-no-deps.txt's without their dependencies: pyworld's wheel lists numpy>=2
#    (a build-time pin only) and would replace the numpy Debian's torch is built against;
#    onnxruntime's would bring pip's protobuf, which shadows the Debian one python3-onnx uses.
#
# `cargo xtask test` makes its own venv for the tests (xtask/src/training_tests.rs): the same
# step 2 without pyworld, its ONNX Runtime wheel the version Sift's build pins, and the Debian
# packages the tests need checked with every other test's (xtask/src/system_packages.rs).
set -eu

training=$(cd "$(dirname "$0")" && pwd)
venv=${1:-$training/../../.venv-train}
packages="python3-torch python3-scipy python3-soundfile python3-venv python3-onnx
    libopenblas0-pthread fluidsynth libfluidsynth3 fluid-soundfont-gm
    musescore-general-soundfont-lossless avldrums.lv2 mma openttd-openmsx flite espeak-ng sox
    hydrogen-drumkits"

missing=
for package in $packages; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" != installed ]; then
        missing="$missing $package"
    fi
done
if [ -n "$missing" ]; then
    install="apt-get install -y --no-install-recommends$missing"
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "missing Debian packages:$missing; install them with" >&2
        echo "    sudo apt-get update && sudo $install" >&2
        exit 1
    fi
    echo "installing the missing Debian packages: apt-get update && $install"
    apt-get update
    DEBIAN_FRONTEND=noninteractive $install
fi

/usr/bin/python3.11 -m venv --system-site-packages "$venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$venv/bin/pip" install -r "$training/requirements.txt"
"$venv/bin/pip" install --no-deps -r "$training/requirements-no-deps.txt"
echo "the training environment is $venv: run the pipeline from the repository root with $venv/bin/python -m model.training.<script>"
