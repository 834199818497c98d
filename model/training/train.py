"""Train a four-stem mask model: `python -m model.training.train model/training/configs/bsgru-v13.toml`

One config per run (config.py): `[data]` (rendered set, segment length, augmentation),
`[model]`, `[train]`, over `configs/train-defaults.toml`; `--table.key=value` arguments override
it (`--train.steps=1200`). The run directory (`[train] run_dir`) gets:

  log.jsonl     a line per start (fresh or resumed: the step, the git commit), per log interval
                (loss, seconds per step) and per validation (SDR)
  ckpt.pt       everything needed to continue: weights, optimizer, step, best SDR, config, commit
  best.pt       weights with the best mean validation SDR so far (with its config and commit)
  config.toml   the effective config the run started with

Running the same command again continues from `ckpt.pt`. The effective config must be the one
the checkpoint was written with, but for the keys in `RESUMABLE`: `train.steps` (to extend or
shorten a run; the learning rate's schedule is set by `decay_steps`, not by it) and
`train.threads` (the machine's cores, not the recipe). Any other difference stops the run with
the keys that differ: `--fresh` starts over, another `run_dir` keeps both runs. `--init W`
starts a new run from the weights W (e.g. a committed checkpoint) with a new optimizer.
Threads: torch uses `[train] threads`; one data worker process mixes examples (numpy/scipy,
single-threaded), so a run takes threads + 1 cores.
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")       # numpy/scipy in the data worker
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from . import config, dataset, provenance  # noqa: E402
from .metrics import sdr  # noqa: E402
from .model import Separator  # noqa: E402
from .stems import STEMS  # noqa: E402


MIN_MASK_SPREAD = 1e-3   # below this, the masks are (nearly) one fixed split per bin
INIT_BATCHES = 4         # batches that set the decoder's starting masks in a fresh run
RESUMABLE = ("train.steps", "train.threads")   # keys that may differ from ckpt.pt's (docstring)


def magnitude_l1(spec, masks, target):
    """Mean |M |X| - |S|| over stems, channels, frames and bins, relative to mean |X|
    (`spec` X (B, C, T, F) and `target` S (B, S, C, T, F) complex, `masks` M real).

    On magnitudes, not complex spectra: a soft mask keeps the mixture's phase, so the phase
    error of the complex L1 is one the mask cannot remove, and real tensors halve the largest
    passes of a step (the stem spectra; on this CPU they were over half of its time).
    Runs 1-7 trained with it; where the network cannot tell stems apart its best answer is the
    median, so it commits to one stem (calibrate.py measures how much that costs in SDR)."""
    mix_mag = spec.abs()
    return (masks * mix_mag.unsqueeze(1) - target.abs()).abs().mean() / (mix_mag.mean() + 1e-8)


def spectral_sdr(spec, masks, target, floor=1e-3, eps=1e-8):
    """Minus the SDR (dB) of each stem of each example, on the STFT, averaged: the figure the
    evaluation measures (the inverse STFT keeps energies to within its overlap's ripple).

    |M X - S|^2 = M^2 |X|^2 - 2 M Re(X* S) + |S|^2, summed over channels, frames and bins, is
    computed from real tensors (the products with X need no gradient). Against the L1 above:
    each stem counts the same whatever its level, and where stems overlap the best mask is the
    mean (Re(X* S) / |X|^2, a projection that also accounts for the phase the mask cannot
    change), not the median. `floor` times the mixture's energy is added to the error and the
    reference, so a silent stem (`silent_stem`) asks for little leakage, not none at any cost;
    `eps` makes a wholly silent example (every stem silent, drawn now and then) count zero
    instead of 0/0, which turned every weight of run 10's first attempt into NaN."""
    with torch.no_grad():
        x = torch.view_as_real(spec).unsqueeze(1)                      # (B, 1, C, T, F, 2)
        s = torch.view_as_real(target)                                 # (B, S, C, T, F, 2)
        mix_energy = x.pow(2).sum(-1)                                  # |X|^2
        cross = (x * s).sum(-1)                                        # Re(X* S)
        ref = s.pow(2).sum(dim=(2, 3, 4, 5))                           # (B, S)
        floor_energy = floor * mix_energy.sum(dim=(2, 3, 4))           # (B, 1)
    error = (masks * (masks * mix_energy - 2 * cross)).sum(dim=(2, 3, 4)) + ref
    return 10 * torch.log10((error.clamp_min(0) + floor_energy + eps)
                            / (ref + floor_energy + eps)).mean()


LOSSES = {"magnitude_l1": magnitude_l1, "spectral_sdr": spectral_sdr}   # [train] loss
MAX_SKIPPED_IN_A_ROW = 20


def train_step(separator, opt, loss_fn, mix, stems, clip_grad):
    """One optimiser step on a batch: `(loss, gradient norm)`, or None, with the weights and
    the optimiser's state untouched, when the loss or the gradient is not finite.

    One such batch is enough to turn every weight into NaN for good (run 10's first attempt,
    Dec 3, at step ~155 of 1,200 from finite weights and a gradient norm of 6: a wholly silent
    example, 0/0 in `spectral_sdr` until its `eps`), so it is dropped and counted instead;
    `main` keeps the first for a look and stops if they come in a row."""
    spec, masks = separator(mix)
    with torch.no_grad():
        target = separator.spec.stft(stems.flatten(0, 1)).unflatten(0, stems.shape[:2])
    loss = loss_fn(spec, masks, target)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(separator.parameters(), clip_grad)
    if not (torch.isfinite(loss) and torch.isfinite(grad_norm)):
        opt.zero_grad(set_to_none=True)
        return None
    opt.step()
    return loss.item(), float(grad_norm)


@torch.no_grad()
def validate(separator, examples, min_ref_db=-50.0):
    """Median SDR per stem over the validation examples (stems that are silent are skipped),
    and `mask_spread`: how much the masks move over time (mean over stems, channels and bins
    of their standard deviation over frames). A network that has collapsed to one fixed mask
    per bin (run bsgru-v1) shows a spread near zero long before its SDR says so."""
    separator.eval()
    scores, spreads = {s: [] for s in STEMS}, []
    for _, mix, stems in examples:
        spec, masks = separator(mix.unsqueeze(0))
        spreads.append(float(masks.std(dim=3).mean()))
        est = separator.spec.istft(masks * spec.unsqueeze(1), mix.shape[-1])[0]
        for i, s in enumerate(STEMS):
            ref_db = 10 * torch.log10(stems[i].pow(2).mean() + 1e-12)
            if ref_db > min_ref_db:
                scores[s].append(sdr(stems[i], est[i]))
    separator.train()
    medians = {s: float(np.median(v)) if v else float("nan") for s, v in scores.items()}
    medians["mean"] = float(np.mean([medians[s] for s in STEMS]))
    return medians, float(np.mean(spreads))


@torch.no_grad()
def mean_masks(separator, batches):
    """(stems, bins): each stem's share of the magnitude in each bin over `batches`."""
    total = 0
    for _, stems in batches:
        mag = separator.spec.stft(stems.flatten(0, 1)).abs().unflatten(0, stems.shape[:2])
        total = total + mag.sum(dim=(0, 2, 3))                      # (S, F)
    return total / total.sum(dim=0, keepdim=True).clamp_min(1e-8)


def learning_rate(tcfg, step):
    """Linear warm-up over `warmup_steps`, then constant `lr`, or, when `decay_steps` is not 0,
    a cosine from `lr` down to `lr_min` at step `decay_steps` (constant after). Run 3's constant
    rate left validation swinging by ~0.5 dB between checkpoints; a decayed rate settles the
    weights at the end of a run."""
    lr = tcfg["lr"] * min(1.0, (step + 1) / tcfg["warmup_steps"])
    if not tcfg["decay_steps"] or step < tcfg["warmup_steps"]:
        return lr
    done = min(1.0, (step - tcfg["warmup_steps"]) / (tcfg["decay_steps"] - tcfg["warmup_steps"]))
    return tcfg["lr_min"] + (tcfg["lr"] - tcfg["lr_min"]) * 0.5 * (1 + np.cos(np.pi * done))


def validation_sets(dcfg, tcfg):
    """{log key: examples}: `valid_sdr` keeps each held-out song's own balance; with
    `[train] valid_balanced = true` also `valid_sdr_balanced`, every stem at the training
    mixes' starting RMS (`dataset.validation_set`); with a `[data] real_root`, `valid_sdr_real`:
    its held-out real songs (prepare.py: Everything is Remixed songs never trained on) at their
    own balance."""
    sets = {"valid_sdr": dataset.validation_set(dcfg["root"], tcfg["valid_seconds"],
                                                dcfg["sample_rate"], limit=tcfg["valid_examples"])}
    if tcfg["valid_balanced"]:
        sets["valid_sdr_balanced"] = dataset.validation_set(
            dcfg["root"], tcfg["valid_seconds"], dcfg["sample_rate"],
            limit=tcfg["valid_examples"], stem_rms_db=dcfg["stem_rms_db"])
    if dcfg["real_root"]:
        sets["valid_sdr_real"] = dataset.validation_set(
            dcfg["real_root"], tcfg["valid_seconds"], dcfg["sample_rate"],
            limit=tcfg["valid_examples"])
    return sets


def save(path, obj):
    tmp = pathlib.Path(str(path) + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def resumable_changes(ckpt_path, ckpt_config, cfg):
    """The differences between `cfg` and the config `ckpt_path` was written with (its text,
    `ckpt_config`), all of them `RESUMABLE`; any other difference stops the run, naming them."""
    changes = config.differences(config.parse(ckpt_config, config.TRAIN, str(ckpt_path)), cfg)
    refused = [(key, old, new) for key, old, new in changes if key not in RESUMABLE]
    if refused:
        def shown(value):
            return "not set" if value is None else repr(value)
        rows = "".join(f"\n  {key}: {shown(old)} in the checkpoint, {shown(new)} now"
                       for key, old, new in refused)
        sys.exit(f"{ckpt_path} was written with another config:{rows}\n"
                 f"To train with this config, start over (--fresh) or in a new run directory "
                 f"(another [train] run_dir, e.g. --train.run_dir=...); to continue the run, use "
                 f"its config ({ckpt_path.with_name('config.toml')}). Only "
                 f"{', '.join(RESUMABLE)} may change when a run is continued.")
    return changes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False,
                                 epilog="--table.key=value overrides a key of the config, e.g. "
                                        "--train.steps=1200 (config.py)")
    ap.add_argument("config")
    ap.add_argument("--fresh", action="store_true", help="ignore an existing ckpt.pt")
    ap.add_argument("--init", help="start from these weights (a best.pt or ckpt.pt)")
    args, overrides = ap.parse_known_args()
    try:
        cfg = config.load(args.config, config.TRAIN, overrides)
    except config.ConfigError as error:
        ap.error(str(error))
    config_text = config.dumps(cfg)
    tcfg, dcfg = cfg["train"], cfg["data"]
    run = pathlib.Path(tcfg["run_dir"])
    run.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(tcfg["threads"])
    torch.manual_seed(tcfg["seed"])

    if tcfg["loss"] not in LOSSES:
        sys.exit(f"[train] loss = {tcfg['loss']!r}: not one of {', '.join(LOSSES)}")
    loss_fn = LOSSES[tcfg["loss"]]
    separator = Separator(cfg["model"], dcfg["sample_rate"])
    opt = torch.optim.AdamW(separator.parameters(), lr=tcfg["lr"],
                            weight_decay=tcfg["weight_decay"])
    step, best = 0, -float("inf")
    git = provenance.git_commit()
    start = {"start": "fresh"}   # the log's line for this start
    ckpt_path = run / "ckpt.pt"
    if ckpt_path.exists() and not args.fresh:
        ckpt = torch.load(ckpt_path)
        changes = resumable_changes(ckpt_path, ckpt["config"], cfg)
        separator.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        step, best = ckpt["step"], ckpt["best"]
        torch.set_rng_state(ckpt["torch_rng"])
        start = {"start": "resumed",
                 **({"changed": {key: [old, new] for key, old, new in changes}} if changes else {})}
        print(f"resumed {ckpt_path} at step {step}"
              + "".join(f"; {key} {old} -> {new}" for key, old, new in changes), flush=True)
    else:
        if args.init:
            # a network grown since the checkpoint (a `[model]` switch such as `band_rnn`)
            # keeps its new parts as initialised; a weight the network lacks is an error
            missing, unexpected = separator.load_state_dict(torch.load(args.init)["model"],
                                                            strict=False)
            if unexpected:
                sys.exit(f"{args.init} has weights this network lacks: {unexpected}")
            print(f"initialised from {args.init}"
                  + (f"; new, as initialised: {', '.join(missing)}" if missing else ""), flush=True)
            start["init"] = args.init
        (run / "config.toml").write_text(f"# the effective config of {args.config}"
                                         f"{''.join(' ' + o for o in overrides)}\n{config_text}")
    n_params = sum(p.numel() for p in separator.parameters())
    print(f"{n_params / 1e6:.2f} M parameters, {separator.net.n_bands} bands", flush=True)

    data = dataset.MixDataset(dcfg["root"], dcfg, seed=tcfg["seed"])
    data.epoch = step  # a resumed run draws a new (but reproducible) stream of examples
    loader = torch.utils.data.DataLoader(data, batch_size=tcfg["batch_size"],
                                         num_workers=tcfg["data_workers"],
                                         persistent_workers=tcfg["data_workers"] > 0)
    if step == 0 and not args.init:
        separator.net.init_mask_bias(mean_masks(separator, itertools.islice(loader, INIT_BATCHES)))
        print(f"decoder bias set to the mean masks of {INIT_BATCHES} batches", flush=True)
    valid = validation_sets(dcfg, tcfg)
    select_on = tcfg["select_on"]   # the figure best.pt is chosen by
    if select_on not in valid:
        sys.exit(f"[train] select_on = {select_on!r}: not one of this run's validations "
                 f"({', '.join(valid)})")
    steps = tcfg["steps"]
    log = (run / "log.jsonl").open("a")
    entry = {"step": step, **start, "git": git, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    print(json.dumps(entry), flush=True)
    log.write(json.dumps(entry) + "\n")
    log.flush()
    losses, t_last = [], time.time()
    skipped = in_a_row = 0   # batches dropped for a non-finite loss or gradient (train_step)
    first_skipped = run / "nonfinite-batch.pt"
    for mix, stems in loader:
        if step >= steps:
            break
        lr = learning_rate(tcfg, step)
        for group in opt.param_groups:
            group["lr"] = lr
        result = train_step(separator, opt, loss_fn, mix, stems, tcfg["clip_grad"])
        if result is None:
            skipped += 1
            in_a_row += 1
            if skipped == 1:
                torch.save({"step": step, "mix": mix, "stems": stems}, first_skipped)
            print(f"step {step}: non-finite loss or gradient, batch skipped ({skipped} so far; "
                  f"the first is in {first_skipped})", file=sys.stderr, flush=True)
            if in_a_row >= MAX_SKIPPED_IN_A_ROW:
                sys.exit(f"{in_a_row} batches in a row gave a non-finite loss or gradient: the "
                         f"weights are not the cause (they are never updated by such a batch); "
                         f"look at {first_skipped} and the data pipeline")
            continue
        loss, grad_norm = result
        in_a_row = 0
        step += 1
        losses.append(loss)
        if step % tcfg["log_every"] == 0:
            dt = (time.time() - t_last) / tcfg["log_every"]
            entry = {"step": step, "loss": float(np.mean(losses)), "lr": lr,
                     "grad_norm": grad_norm, "skipped": skipped, "s_per_step": round(dt, 3),
                     "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
            print(json.dumps(entry), flush=True)
            log.write(json.dumps(entry) + "\n")
            log.flush()
            losses, t_last = [], time.time()
        if step % tcfg["valid_every"] == 0 or step == steps:
            t0 = time.time()
            entry = {"step": step}
            spreads = {}
            for key, examples in valid.items():
                entry[key], spreads[key] = validate(separator, examples)
            spread = spreads["valid_sdr"]
            entry.update(mask_spread=round(spread, 5), valid_s=round(time.time() - t0, 1))
            if spread < MIN_MASK_SPREAD:
                entry["warning"] = "masks barely move over time: the network may have collapsed"
            print(json.dumps(entry), flush=True)
            log.write(json.dumps(entry) + "\n")
            log.flush()
            if entry[select_on]["mean"] > best:
                best = entry[select_on]["mean"]
                save(run / "best.pt", {"model": separator.state_dict(), "step": step,
                                       "valid_sdr": entry["valid_sdr"], select_on: entry[select_on],
                                       "config": config_text, "git": git})
            t_last = time.time()
        if step % tcfg["ckpt_every"] == 0 or step == steps:
            save(ckpt_path, {"model": separator.state_dict(), "optimizer": opt.state_dict(),
                             "step": step, "best": best, "torch_rng": torch.get_rng_state(),
                             "config": config_text, "git": git})


if __name__ == "__main__":
    main()
