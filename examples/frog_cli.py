"""The command line of frog_dcgan.py: its flags, and how they and a preset become the run's config.

The config is what defines a run -- the preset's table plus the flags that change it (batch size, latent
size, range, class, seed, backend) -- and what a run folder remembers: ``--resume`` continues a run only
under the same config, and ``--force`` starts over (``frog_dcgan.start_run``).

>>> import frog_dcgan
>>> args = parse_args(["--preset", "cpu", "--batch-size", "16", "--class", "cat"], frog_dcgan.PRESETS)
>>> config = make_config(args, frog_dcgan.PRESETS)
>>> config["batch_size"], config["class"], config["d_optimizer"]["name"], config["data"]
(16, 3, 'Adam', 'cifar10')
"""

import argparse
import json
from pathlib import Path

import minigan
from minigan.datasets import cifar10


def parse_args(argv, presets, description=""):
    """The flags of frog_dcgan.py, checked; ``presets`` is its table of presets (for --preset's choices)."""
    p = argparse.ArgumentParser(prog="frog_dcgan.py", description=description,
                                epilog="exit status: 0 done, 1 NaN/inf loss or bad data/checkpoint, 2 bad arguments "
                                       "or config clash, 130 Ctrl-C (checkpoint saved)")
    p.add_argument("--preset", choices=sorted(presets), default="book", help="model and optimizer table (book)")
    p.add_argument("--backend", choices=["numpy", "cupy"], default=minigan.get_backend(),
                   help=f"array library ({minigan.get_backend()}; $MINIGAN_BACKEND sets the default)")
    p.add_argument("--iterations", type=int, metavar="N",
                   help="total steps of the run, also when resuming (10000; 3 with --dry-run)")
    p.add_argument("--batch-size", type=int, metavar="N", help="images of each kind per step (preset: 20)")
    p.add_argument("--latent-dim", type=int, metavar="N", help="length of a latent vector (preset: 32)")
    p.add_argument("--class", dest="class_", type=class_arg, default="frog", metavar="NAME",
                   help="CIFAR-10 class, a name or 0..9 (frog)")
    p.add_argument("--data", metavar="PATH", help="CIFAR-10 folder or tarball ($MINIGAN_DATA, then the cache)")
    p.add_argument("--out", type=Path, default=Path("runs/frogs"), metavar="DIR",
                   help="folder for pictures, log and checkpoint (runs/frogs)")
    p.add_argument("--seed", type=int, default=0, help="seed of minigan.random (0)")
    p.add_argument("--save-every", type=int, default=100, metavar="N", help="save every N steps (100)")
    p.add_argument("--grid", type=int, default=8, metavar="N", help="sample grids of N x N images (8)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (a new run if there is none)")
    p.add_argument("--dry-run", action="store_true", help="a few steps on random pixels: no dataset needed")
    p.add_argument("--fix-range", action=argparse.BooleanOptionalAction, default=None,
                   help="scale real images to [-1, 1] like the tanh output (preset: off, as the book)")
    p.add_argument("--average-decay", type=float, metavar="D", help="draw grids and scores from a running "
                   "average of G's weights with this decay, e.g. 0.999 (preset: none; docs/quality.md)")
    p.add_argument("--force", action="store_true", help="reuse an --out holding another (or a finished) run")
    p.add_argument("--minutes", type=float, metavar="M", help="stop (with a save) once the steps have taken M "
                   "minutes in all, saves and evaluations not counted; --iterations still caps the steps")
    p.add_argument("--eval-every", type=int, default=0, metavar="K",
                   help="score G at steps 0, K, 2K, ...: SWD, g, copy check (0: never; needs the real data)")
    p.add_argument("--eval-samples", type=int, default=500, metavar="N", help="images per evaluation (500)")
    p.add_argument("--eval-patches", type=int, default=32, metavar="N", help="SWD patches per image (32)")
    p.add_argument("--eval-floor-seeds", type=int, default=3, metavar="N", help="subsets for the SWD floor (3)")
    args = p.parse_args(argv)
    if args.iterations is None:
        args.iterations = 3 if args.dry_run else 10000
    for name in ("iterations", "save_every", "grid", "batch_size", "latent_dim", "eval_samples", "eval_patches",
                 "eval_floor_seeds"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.average_decay is not None and not 0 <= args.average_decay < 1:
        p.error(f"--average-decay must be in [0, 1), got {args.average_decay}")
    if args.minutes is not None and not args.minutes > 0:
        p.error(f"--minutes must be positive, got {args.minutes}")
    if args.eval_every < 0:
        p.error(f"--eval-every must be 0 (off) or positive, got {args.eval_every}")
    if args.eval_every and args.dry_run:
        p.error("--eval-every compares with real frogs: it cannot run with --dry-run")
    return args


def class_arg(text):
    try:
        return cifar10.class_index(int(text) if text.strip().isdigit() else text.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def make_config(args, presets):
    """The settings that define a run; a run folder refuses to continue under different ones."""
    config = json.loads(json.dumps(presets[args.preset]))  # a deep copy
    for key in ("batch_size", "latent_dim", "fix_range", "average_decay"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    config.update(preset=args.preset, backend=args.backend, seed=args.seed, grid=args.grid, **{"class": args.class_},
                  data="synthetic" if args.dry_run else "cifar10")
    return config
