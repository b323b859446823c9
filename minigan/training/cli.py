"""The command line of a training run: the flags every run has, with bounds, and the checks of ``--out``.

A script adds its own flags (a preset, a batch size) and calls :func:`add_run_arguments` for the rest:

    --out DIR  --resume  --force  --iterations N  --minutes M  --save-every N  --seed S  --backend NAME
    --eval-every K  --eval-samples N  --eval-fid  --eval-patches N  --eval-floor-seeds N  --grid N

Every number is checked against a range a real run can use, so that a typo does not become hours of
work or gigabytes of memory before the first step (``--grid 1000`` would be a million latent vectors and
a 33,000-pixel picture): a value outside its range is an argparse error naming the flag, the range and
the value (exit status 2).

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="train.py")
>>> add_run_arguments(parser, iterations=10000)
>>> args = parse(parser, ["--out", "runs/x", "--grid", "4"])
>>> args.iterations, args.grid, args.minutes
(10000, 4, None)
"""

import argparse
import math
import os
from pathlib import Path

from .. import backend
from ..applications.inception_v3 import WeightsNotFoundError
from ..datasets import DatasetError, DatasetNotFoundError, cifar10
from ..serialization import StateFileError
from .loop import NonFiniteLossError

# What a run can fail with that is not a bug: a script prints the message and exits with status 1.
# (NonFiniteStateError is a StateFileError; OSError is a full disk or an unwritable file, whose message
# minigan.files.atomic_path makes name the file.)
RUN_ERRORS = (NonFiniteLossError, StateFileError, backend.BackendError, DatasetError, DatasetNotFoundError,
              WeightsNotFoundError, OSError)

LIMITS = {"iterations": (1, 10**9), "save_every": (1, 10**9), "seed": (0, 2**32 - 1), "grid": (1, 32),
          "eval_every": (0, 10**9), "eval_samples": (2, 50_000), "eval_patches": (1, 4096), "eval_floor_seeds": (1, 100),
          "batch_size": (1, 4096), "latent_dim": (1, 4096)}
MAX_MINUTES = 60 * 24 * 365  # a year of training


def bounded_int(name, low, high):
    """An argparse type: an int in [low, high], or an error naming ``--name`` with the range and the value."""
    def parse(text):
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number in {low}..{high}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be in {low}..{high}, got {value}")
        return value
    parse.__name__ = name
    return parse


def bounded_float(name, low, high, low_open=False, high_open=False):
    """An argparse type: a finite float in the range (open ends where asked), or an error with the range."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if not math.isfinite(value) or too_low or too_high:
            span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            raise argparse.ArgumentTypeError(f"must be a number in {span}, got {text}")
        return value
    parse.__name__ = name
    return parse


def int_flag(name):
    return bounded_int(name, *LIMITS[name])


def class_name(text):
    """A CIFAR-10 class given by name ("frog") or index ("6") -> its index, or an argparse error."""
    try:
        return cifar10.class_index(int(text) if text.strip().isdigit() else text.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_run_arguments(parser, iterations=None, out="runs/frogs", save_every=100):
    """Add the flags of the module docstring to ``parser``, with their defaults (``iterations=None``: the
    script decides when --iterations is not given)."""
    add = parser.add_argument
    add("--out", type=Path, default=Path(out), metavar="DIR", help=f"folder for pictures, log and checkpoint ({out})")
    add("--resume", action="store_true", help="continue the run in --out (a new run if there is none)")
    add("--force", action="store_true", help="reuse an --out holding another (or a finished) run")
    add("--iterations", type=int_flag("iterations"), default=iterations, metavar="N",
        help="total steps of the run, also when resuming" + (f" ({iterations})" if iterations else ""))
    add("--minutes", type=bounded_float("minutes", 0, MAX_MINUTES, low_open=True), metavar="M",
        help="stop (with a save) once the steps have taken M minutes in all, saves and evaluations not "
             "counted; with --iterations too, at whichever comes first")
    add("--save-every", type=int_flag("save_every"), default=save_every, metavar="N",
        help=f"save every N steps ({save_every})")
    add("--seed", type=int_flag("seed"), default=0, help="seed of minigan.random (0)")
    default = default_backend()
    add("--backend", choices=list(backend.BACKENDS), default=default,
        help=f"array library ({default or 'none: $MINIGAN_BACKEND is wrong'}; $MINIGAN_BACKEND sets the default)")
    add("--grid", type=int_flag("grid"), default=8, metavar="N", help="sample grids of N x N images (8)")
    add("--eval-every", type=int_flag("eval_every"), default=0, metavar="K",
        help="score the generator at steps 0, K, 2K, ...: FID, KID, SWD, copy check (0: never)")
    add("--eval-samples", type=int_flag("eval_samples"), default=500, metavar="N",
        help="images per evaluation (500; FID only compares at equal N)")
    add("--eval-fid", action=argparse.BooleanOptionalAction, default=True,
        help="include FID and KID in the evaluations (needs the Inception weights; ~70 s per 500 images)")
    add("--eval-patches", type=int_flag("eval_patches"), default=32, metavar="N", help="SWD patches per image (32)")
    add("--eval-floor-seeds", type=int_flag("eval_floor_seeds"), default=3, metavar="N",
        help="real subsets for the SWD floor (3)")


def parse(parser, argv):
    """``parser.parse_args(argv)``, then --out checked before any work (an argparse error, exit status 2)."""
    args = parser.parse_args(argv)
    if args.backend is None:  # $MINIGAN_BACKEND names no backend, and no --backend overrides it
        try:
            backend.get_backend()
        except backend.BackendError as error:
            parser.error(f"{error}; or pass --backend")
    problem = check_out(args.out, "--out")
    if problem:
        parser.error(problem)
    return args


def default_backend():
    """The backend $MINIGAN_BACKEND chose (or numpy), for a --backend flag's default; None when the variable
    names no backend, so that parse() reports it as a bad argument (exit status 2) unless --backend is given."""
    try:
        return backend.get_backend()
    except backend.BackendError:
        return None


def check_out(out, flag=None):
    """A usable output folder: a folder (or nothing yet) whose nearest existing parent is a writable folder.

    Returns an error message starting with ``flag`` (``"--out"``; None: with the folder alone), or None when
    it is fine -- checked before any work is done.
    """
    out = Path(out)
    name = f"{flag} {out}" if flag else str(out)
    if out.exists() and not out.is_dir():
        return f"{name} is a file, not a folder"
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{name} lies below {parent}, which is a file"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{name}: {parent} is not writable"
    return None
