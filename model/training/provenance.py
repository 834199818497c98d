"""Which code made a checkpoint or a model: the git commit of the repository, and whether
model/training had uncommitted changes to tracked files. train.py records it in its checkpoints
and log, checkpoint.py and calibrate.py keep it, export.py writes it into `sift.source`."""
import pathlib
import subprocess

TRAINING = pathlib.Path(__file__).resolve().parent


def git_commit():
    """{"commit": HEAD's hash, "dirty": model/training differs from it}; both None outside a git
    checkout (a copy of the tree without its history)."""
    def git(*args):
        return subprocess.run(["git", "-C", str(TRAINING), *args], check=True,
                              capture_output=True, text=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "."))
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def describe(git):
    """`git_commit()`'s record as text: the hash, marked when model/training was dirty."""
    if git["commit"] is None:
        return "unknown (not a git checkout)"
    return git["commit"] + (" (with uncommitted changes in model/training)" if git["dirty"] else "")
