"""How good are the frogs? Score a generator from frog_dcgan.py against the 1,000 CIFAR-10 test frogs.

    python examples/evaluate_frogs.py runs/cpu/checkpoint.npz --json runs/cpu/eval.json
    python examples/evaluate_frogs.py generator.h5 --preset book      # weights from generator.save_weights
    python examples/evaluate_frogs.py runs/cpu/checkpoint.npz --samples 300 --patches-per-image 32   # quick
    python examples/evaluate_frogs.py runs/cpu/checkpoint.npz --raw     # G's own weights, not their average

It samples --samples images (1,000) and prints, as docs/quality.md explains:

    SWD per level   patch statistics of the samples against the test frogs (x 1e3, lower is better)
    floor           the same for as many *real* training frogs (mean of --floor-seeds random subsets)
    untrained       the same for the architecture freshly initialised: where training starts
    g               (untrained - generated) / (untrained - floor): 0 untrained, 1 as close as real frogs
    copy check      z < -3: copies of training frogs; diversity ratio < 0.5: collapse onto a few images

A checkpoint of a run that kept a running average of G's weights (--average-decay) is scored with the
average, as its grids are drawn; --raw scores the generator's own, last weights instead.
The generator's tanh output is turned into pixels in the run's range: [-1, 1] -> 0..255 with fix_range,
else the book's [0, 1] -> 0..255, negatives clipped to 0. The floor and the untrained SWD take a minute;
they are kept in --cache (eval_reference.json beside the checkpoint) for the next call.

Exit status: 0 done, 1 an unreadable checkpoint or missing data, 2 bad arguments.
"""

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # frog_dcgan.py, beside this file

import frog_dcgan  # noqa: E402  (the model's builders and presets)
import minigan  # noqa: E402
from minigan import layers, metrics, training  # noqa: E402
from minigan.atomic import atomic_path  # noqa: E402
from minigan.datasets import cifar10  # noqa: E402


def load_generator(path, args):
    """The generator of a checkpoint (its config says the architecture) or of a weights file (--preset says):
    something with ``predict``, the generator itself or (a checkpoint's, unless --raw) its weight average."""
    flat = training.load_checkpoint(path)
    checkpoint = "config" in flat
    if checkpoint:
        config, step = json.loads(training.as_str(flat["config"])), int(flat["step"])
    else:
        config, step = json.loads(json.dumps(frog_dcgan.PRESETS[args.preset])), None
        config.update(preset=args.preset, seed=0, **{"class": args.class_})
        for key in ("latent_dim", "fix_range"):
            if getattr(args, key) is not None:
                config[key] = getattr(args, key)
    layers.clear_session()  # the weight names of a run: dense, conv2d, ...
    generator = frog_dcgan.build_generator(config["latent_dim"], **config["generator"])
    if checkpoint:
        training.set_model_weights(generator, training.section(flat, "generator"), path)
        if config.get("average_decay") is not None and not args.raw:
            average = frog_dcgan.frog_checkpoint.load_average(generator, config, flat, path)
            return average, config, step, "G's weight average"
    else:
        generator.load_weights(path)  # by name, else by position (Keras' rule); shapes checked
    return generator, config, step, "G's own weights"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="evaluate_frogs.py", description=__doc__.split("\n\n")[0])
    p.add_argument("weights", type=Path, help="checkpoint.npz of frog_dcgan.py, or a generator weights file")
    p.add_argument("--json", type=Path, metavar="PATH", help="write the full report there")
    p.add_argument("--samples", type=int, default=1000, metavar="N", help="images to generate (1000)")
    p.add_argument("--patches-per-image", type=int, default=128, metavar="N", help="SWD patches per image (128)")
    p.add_argument("--floor-seeds", type=int, default=5, metavar="N", help="real subsets for the floor (5)")
    p.add_argument("--seed", type=int, default=0, help="latents, patches and directions (0)")
    p.add_argument("--data", metavar="PATH", help="CIFAR-10 folder or tarball ($MINIGAN_DATA, then the cache)")
    p.add_argument("--cache", type=Path, metavar="PATH", help="floor and untrained SWD (eval_reference.json "
                   "beside the weights)")
    p.add_argument("--raw", action="store_true", help="score G's own weights, not their running average")
    p.add_argument("--backend", choices=["numpy", "cupy"], default=minigan.get_backend(), help="array library")
    weights_only = p.add_argument_group("for a weights file (a checkpoint holds its own config)")
    weights_only.add_argument("--preset", choices=sorted(frog_dcgan.PRESETS), default="book", help="(book)")
    weights_only.add_argument("--fix-range", action=argparse.BooleanOptionalAction, default=None,
                              help="the generator was trained on [-1, 1] images (preset's value)")
    weights_only.add_argument("--latent-dim", type=int, metavar="N", help="(preset's value)")
    weights_only.add_argument("--class", dest="class_", type=frog_dcgan.frog_cli.class_arg, default="frog", metavar="NAME")
    args = p.parse_args(argv)
    for name, least in (("samples", 2), ("patches_per_image", 1), ("floor_seeds", 1)):
        if getattr(args, name) < least:
            p.error(f"--{name.replace('_', '-')} must be at least {least}, got {getattr(args, name)}")
    return args


def finite_or_none(value):
    """The report as strict JSON allows it: NaN (g when the anchors coincide) becomes null."""
    if isinstance(value, dict):
        return {key: finite_or_none(v) for key, v in value.items()}
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def main(argv=None):
    args = parse_args(argv)
    try:
        minigan.set_backend(args.backend)
        generator, config, step, scored = load_generator(args.weights, args)
        cache = args.cache or args.weights.resolve().parent / "eval_reference.json"
        evaluator, untrained = frog_dcgan.make_evaluator(config, args.data, cache, samples=args.samples,
                                                         patches_per_image=args.patches_per_image,
                                                         floor_seeds=args.floor_seeds, seed=args.seed)
        report = evaluator.evaluate(generator, config["latent_dim"], frog_dcgan.value_range(config), untrained)
    except (training.CheckpointError, minigan.datasets.DatasetError, minigan.datasets.DatasetNotFoundError,
            minigan.backend.BackendError, ValueError) as error:
        print(f"evaluate_frogs.py: error: {error}", file=sys.stderr)
        return 1
    report.update(weights=str(args.weights), step=step, config=config, backend=args.backend, scored=scored)
    where = f" after {step} steps" if step is not None else ""
    print(f"{args.weights}{where} ({cifar10.CLASS_NAMES[config['class']]}, preset {config['preset']}, "
          f"{'fix_range' if config['fix_range'] else 'range [0, 1]'}, {scored})")
    print(metrics.evaluation.format_report(report))
    if args.json:
        with atomic_path(args.json, suffix=".json") as tmp:
            tmp.write_text(json.dumps(finite_or_none(report), indent=1))
        print(f"report written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
