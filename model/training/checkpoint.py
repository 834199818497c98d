"""Shrink a checkpoint to a committable one: `python -m model.training.checkpoint SRC DST`

Keeps the weights as float16 (half the size; `train.py --init DST` and `evaluate.py DST` load
them back into float32), the step, the validation SDRs, the config and the git commit that
trained it. The optimizer state is dropped, so a run continued from DST starts a new Adam (a
short warm-up follows).
"""
import argparse

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", help="a best.pt or ckpt.pt written by train.py")
    ap.add_argument("dst")
    args = ap.parse_args()
    ckpt = torch.load(args.src)
    small = {"model": {k: v.half() if v.is_floating_point() else v
                       for k, v in ckpt["model"].items()},
             "step": ckpt["step"], "config": ckpt["config"],
             # the commit (train.py's checkpoints from before it recorded one have none) and
             # every validation figure the run kept (valid_sdr, valid_sdr_balanced)
             **{k: v for k, v in ckpt.items() if k == "git" or k.startswith("valid_sdr")}}
    torch.save(small, args.dst)


if __name__ == "__main__":
    main()
