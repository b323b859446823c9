"""The DCGAN of *Deep Learning with Python* (Chollet), section 8.5, trained on CIFAR-10 frogs with minigan.

It reads as the book's listing does -- generator, discriminator, adversarial network, training loop --
plus what a run of hours needs: checkpoints that resume bit for bit, a log, pictures along the way.
``docs/gan.md`` walks through the loop; ``python examples/frog_dcgan.py --help`` lists the flags.

    python examples/frog_dcgan.py --out runs/frogs                    # the book: 10,000 steps of batch 20
    python examples/frog_dcgan.py --out runs/frogs --resume           # continue after a stop or Ctrl-C
    python examples/frog_dcgan.py --out /tmp/try --dry-run            # 3 steps on random pixels, no data
    python examples/frog_dcgan.py --out runs/gpu --backend cupy --fix-range
    python examples/frog_dcgan.py --out runs/cpu --preset cpu --minutes 30 --eval-every 250   # docs/quality.md

What lands in --out at every save (after steps 0, 100, 200, ... and the last; docs/gan.md has the details):
grid_000100.png (G on 64 fixed latent vectors: a timeline), the book's generated_frog_100.png and
real_frog_100.png, loss_curve.png, log.jsonl (a line per step) and checkpoint.npz; real_grid.png once.
At every save the vital signs (minigan/training/vitals.py) check for a discriminator that wins outright,
a collapsing grid and pixels outside the data range; alarms are printed and logged.

Exit status: 0 done, 1 a loss became NaN/inf or a file is wrong, 2 bad arguments or a config clash,
130 stopped by Ctrl-C (after saving a checkpoint at the last finished step).
"""

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

import minigan
from minigan import layers, metrics, training
from minigan.datasets import cifar10
from minigan.preprocessing import image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # frog_cli.py and frog_checkpoint.py, beside this file
import frog_checkpoint  # noqa: E402  (what a checkpoint holds; saving and restoring a run)
import frog_cli  # noqa: E402  (the flags, and the config they make)

# The whole model in one table. The book's numbers are the "book" preset; "cpu" is a DCGAN of the same
# family and layer types, tapered as Radford et al. 2016 do it (G halves its width as its maps double, D
# doubles it as they halve), with their Adam (its rate decaying) and mirrored real images: chosen by
# measurement for 30 minutes on a 2-core CPU (docs/quality.md, section 4). Flags (--batch-size,
# --latent-dim, --fix-range, --average-decay) override; an "average_decay" draws the grids from a running
# average of G's weights.
PRESETS = {
    "book": {
        "latent_dim": 32,
        "batch_size": 20,
        "generator": {"seed_filters": 128, "filters": 256},       # Dense -> 16x16x128, then 256-filter convs
        "discriminator": {"filters": 128, "dropout": 0.4},
        "d_optimizer": {"name": "RMSprop", "lr": 0.0008, "clipvalue": 1.0, "decay": 1e-8},
        "a_optimizer": {"name": "RMSprop", "lr": 0.0004, "clipvalue": 1.0, "decay": 1e-8},
        "fix_range": False,                                          # the book keeps real images in [0, 1]
    },
    "cpu": {
        "latent_dim": 32,
        "batch_size": 32,
        # Dense -> 8x8x128, 5x5 conv 128; up to 16x16x64, 32x32x32; one 5x5 conv at 32x32; 7x7 tanh
        "generator": {"seed_filters": 128, "filters": [128, 64, 32], "seed_size": 8, "full_size_convs": 1},
        "discriminator": {"filters": [64, 64, 128, 256], "dropout": 0.4},
        # Radford et al.'s Adam, its learning rate halving by step ~3,300 (Keras 2's decay: lr / (1 + decay * t))
        "d_optimizer": {"name": "Adam", "lr": 0.0002, "beta_1": 0.5, "decay": 0.0003},
        "a_optimizer": {"name": "Adam", "lr": 0.0002, "beta_1": 0.5, "decay": 0.0003},
        "fix_range": True,
        "flip": True,  # real images mirrored left-right at random (no key: as they are)
    },
}
height, width, channels = 32, 32, 3
GRID_UPSCALE = 2  # grid pictures: each pixel drawn 2 x 2


# --------------------------------------------------------------------------------------------------
# GAN generator network: a latent vector (latent_dim,) -> an image (32, 32, 3) in [-1, 1] (tanh)
# --------------------------------------------------------------------------------------------------
def build_generator(latent_dim, seed_filters, filters, seed_size=16, full_size_convs=2, upsampling="transpose"):
    # The book: seed_size 16, full_size_convs 2, one width. `filters` may also be a list, a width per map
    # size, e.g. [128, 64, 32] for 8x8, 16x16, 32x32 (the cpu preset): DCGAN's taper, which puts the
    # channels where the maps are small and cheap (docs/quality.md, section 4, round 3). `upsampling`
    # "nearest" swaps each Conv2DTranspose for UpSampling2D + a 3x3 Conv2D (a resize-convolution;
    # quality.md, section 4, round 4)
    if upsampling not in ("transpose", "nearest"):
        raise ValueError(f"generator: upsampling must be 'transpose' or 'nearest', got {upsampling!r}")
    upsamplings = int(math.log2(height // seed_size))
    widths = [filters] * (upsamplings + 1) if isinstance(filters, int) else list(filters)
    if len(widths) != upsamplings + 1:
        raise ValueError(f"generator: filters {filters} needs {upsamplings + 1} widths, one per map size "
                         f"from {seed_size}x{seed_size} to {height}x{width}; got {len(widths)}")
    generator_input = minigan.Input(shape=(latent_dim,))

    # Transform the input into a 16x16, 128-channel feature map
    x = layers.Dense(seed_filters * seed_size * seed_size)(generator_input)
    x = layers.LeakyReLU()(x)
    x = layers.Reshape((seed_size, seed_size, seed_filters))(x)

    x = layers.Conv2D(widths[0], 5, padding="same")(x)
    x = layers.LeakyReLU()(x)

    # Upsample to 32x32 (from 16x16 once; from 8x8 twice)
    for size_filters in widths[1:]:
        if upsampling == "transpose":
            x = layers.Conv2DTranspose(size_filters, 4, strides=2, padding="same")(x)
        else:
            x = layers.Conv2D(size_filters, 3, padding="same")(layers.UpSampling2D()(x))
        x = layers.LeakyReLU()(x)

    for _ in range(full_size_convs):
        x = layers.Conv2D(widths[-1], 5, padding="same")(x)
        x = layers.LeakyReLU()(x)

    # Produce a 32x32, 3-channel feature map (the shape of a CIFAR-10 image)
    x = layers.Conv2D(channels, 7, activation="tanh", padding="same")(x)
    return minigan.models.Model(generator_input, x, name="generator")


# --------------------------------------------------------------------------------------------------
# GAN discriminator network: an image (32, 32, 3) -> the probability that it is *fake* (label 1)
# --------------------------------------------------------------------------------------------------
def build_discriminator(filters, dropout):
    # `filters`: one width for all four convolutions (the book), or a list of four
    widths = [filters] * 4 if isinstance(filters, int) else list(filters)
    if len(widths) != 4:
        raise ValueError(f"discriminator: filters {filters} needs 4 widths, one per convolution; got {len(widths)}")
    discriminator_input = layers.Input(shape=(height, width, channels))

    x = layers.Conv2D(widths[0], 3)(discriminator_input)
    x = layers.LeakyReLU()(x)
    for size_filters in widths[1:]:  # 30x30 -> 14x14 -> 6x6 -> 2x2
        x = layers.Conv2D(size_filters, 4, strides=2)(x)
        x = layers.LeakyReLU()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)

    x = layers.Dense(1, activation="sigmoid")(x)
    return minigan.models.Model(discriminator_input, x, name="discriminator")


def make_optimizer(spec):
    """``{"name": "RMSprop", "lr": 0.0008, ...}`` -> ``minigan.optimizers.RMSprop(lr=0.0008, ...)``."""
    kwargs = {key: value for key, value in spec.items() if key != "name"}
    return getattr(minigan.optimizers, spec["name"])(**kwargs)


# --------------------------------------------------------------------------------------------------
# Adversarial network: gan(z) = discriminator(generator(z)), training only the generator
# --------------------------------------------------------------------------------------------------
def build_models(config):
    layers.clear_session()  # layer names (and so checkpoint keys) the same in every run: dense, conv2d, ...
    generator = build_generator(config["latent_dim"], **config["generator"])
    discriminator = build_discriminator(**config["discriminator"])
    discriminator.compile(optimizer=make_optimizer(config["d_optimizer"]), loss="binary_crossentropy")

    # Keras 2 semantics: trainable is read at compile() time. The discriminator was compiled above with
    # its weights trainable, so discriminator.train_on_batch still trains them; the gan, compiled below,
    # sees them frozen, so gan.train_on_batch trains the generator only.
    discriminator.trainable = False
    gan_input = minigan.Input(shape=(config["latent_dim"],))
    gan_output = discriminator(generator(gan_input))
    gan = minigan.models.Model(gan_input, gan_output, name="gan")
    gan.compile(optimizer=make_optimizer(config["a_optimizer"]), loss="binary_crossentropy")
    return generator, discriminator, gan


# --------------------------------------------------------------------------------------------------
# Training the GAN
# --------------------------------------------------------------------------------------------------
@dataclass
class Run:
    """Everything the loop changes, and so everything a checkpoint holds."""
    config: dict
    out: Path
    generator: object
    discriminator: object
    gan: object
    x_train: object        # (N, 32, 32, 3) float32 on the backend, in [0, 1] (or [-1, 1] with fix_range)
    fixed_noise: object    # (grid**2, latent_dim): the same latent vectors for every grid picture
    step: int = 0          # steps finished so far = the number of the next step
    cursor: int = 0        # index of the next batch's first real image
    average: object = None  # training.WeightAverage of G's weights, with the config's average_decay
    _grid: tuple = field(default=(None, None), repr=False)  # (step, images): fixed_grid's memo

    @property
    def sampler(self):
        """What the grids and scores are drawn from: G's weight average if the run keeps one, else G."""
        return self.generator if self.average is None else self.average

    def fixed_grid(self):
        """The sampler's images of the fixed noise at this step, predicted once a step (the vital signs
        check them and save_outputs draws them)."""
        if self._grid[0] != self.step:
            self._grid = (self.step, self.sampler.predict(self.fixed_noise))
        return self._grid[1]


def train_step(run, real_images):
    """One step of the book's loop. Returns (d_loss, a_loss, generated images, D's outputs on the batch)."""
    batch_size, latent_dim = len(real_images), run.config["latent_dim"]
    xp = minigan.backend.array_module()

    # Sample random points in the latent space (float32; the book's np.random.normal gives float64)
    random_latent_vectors = minigan.random.normal((batch_size, latent_dim))
    # Decode them to fake images
    generated_images = minigan.backend.asarray(run.generator.predict(random_latent_vectors))

    # Combine fake and real images, with labels: fake 1, real 0 (the book's convention), plus noise
    combined_images = xp.concatenate([generated_images, real_images])
    labels = xp.concatenate([xp.ones((batch_size, 1), "float32"), xp.zeros((batch_size, 1), "float32")])
    labels += 0.05 * minigan.random.uniform(labels.shape)

    # What D makes of this batch before learning from it (no dropout): logged as D(G(z)) and D(x)
    predictions = run.discriminator.predict(combined_images)
    # Train the discriminator
    d_loss = run.discriminator.train_on_batch(combined_images, labels)

    # Sample random points in the latent space, and claim that all of them are real images (label 0)
    random_latent_vectors = minigan.random.normal((batch_size, latent_dim))
    misleading_targets = xp.zeros((batch_size, 1), "float32")
    # Train the generator through the gan model (the discriminator is frozen there)
    a_loss = run.gan.train_on_batch(random_latent_vectors, misleading_targets)
    return float(d_loss), float(a_loss), generated_images, minigan.to_numpy(predictions)


def train(run, iterations, save_every, callbacks=(), minutes=None):
    """Run steps ``run.step .. iterations - 1``, or until the steps have taken ``minutes`` in all (their
    logged times, so saves and evaluations do not count, and a resumed run goes on counting); returns
    the exit status (0 done, 130 Ctrl-C)."""
    batch_size = run.config["batch_size"]
    d_optimizer, a_optimizer = run.discriminator.optimizer, run.gan.optimizer
    seconds = sum(r["time"] for r in training.read_log(run.out / "log.jsonl"))  # training time so far
    if minutes is not None and seconds >= 60 * minutes:
        print(f"{run.out} has trained for {seconds / 60:.1f} minutes already (--minutes {minutes}); nothing to do")
        return 0
    bar = tqdm(total=iterations, initial=run.step, unit="step", desc="frog_dcgan", dynamic_ncols=True)
    in_step, pending = False, None
    saved_at = run.step - 1 if run.step > 0 else None  # the step of the checkpoint on disk, if any
    try:
        with training.StopAtBoundary() as stop, bar:
            for step in range(run.step, iterations):
                start_time = time.perf_counter()
                in_step = True
                # Pick real images: consecutive batches, back to 0 when a whole batch no longer fits
                start = run.cursor
                real_images = run.x_train[start: start + batch_size]
                if run.config.get("flip"):  # mirror a random half of them: D sees twice the frogs
                    real_images = random_flip(real_images)
                d_loss, a_loss, generated_images, predictions = train_step(run, real_images)
                if run.average is not None:
                    run.average.update()
                run.cursor = start + batch_size
                if run.cursor > len(run.x_train) - batch_size:
                    run.cursor = 0
                minigan.backend.synchronize()
                run.step, in_step = step + 1, False
                step_time = time.perf_counter() - start_time
                seconds += step_time
                last = step == iterations - 1 or (minutes is not None and seconds >= 60 * minutes)

                pending = {
                    "step": step, "d_loss": d_loss, "a_loss": a_loss,
                    "d_x": float(predictions[batch_size:].mean()),        # D(x): real images (label 0)
                    "d_g_z": float(predictions[:batch_size].mean()),      # D(G(z)): fakes (label 1)
                    "d_lr": d_optimizer.last_learning_rate, "a_lr": a_optimizer.last_learning_rate,
                    "d_clipped": d_optimizer.last_clipped_fraction, "a_clipped": a_optimizer.last_clipped_fraction,
                    "time": step_time, "cursor": start,
                }
                for callback in callbacks:  # e.g. an evaluation every N steps, adding keys to the record
                    callback(run, step, pending)
                training.write_log_line(run.out / "log.jsonl", pending)
                pending = None
                if not (math.isfinite(d_loss) and math.isfinite(a_loss)):
                    raise NonFiniteLossError(step, d_loss, a_loss, saved_at)
                bar.set_postfix(d_loss=f"{d_loss:.4f}", a_loss=f"{a_loss:.4f}", refresh=False)
                bar.update(1)

                if step % save_every == 0 or last:
                    save_outputs(run, step, generated_images, real_images)
                    saved_at = step
                    bar.write(f"step {step}: discriminator loss: {d_loss}, adversarial loss: {a_loss}")
                if last and step < iterations - 1:
                    bar.write(f"--minutes {minutes}: stopped after step {step}, {seconds / 60:.2f} minutes of training "
                              f"(checkpoint saved; a larger --minutes with --resume continues)")
                    break
                if stop.requested:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        if in_step:  # a second Ctrl-C in the middle of a step: its state is half-updated, do not save it
            kept = f"the checkpoint of step {saved_at} stays" if saved_at is not None else "no checkpoint exists"
            print(f"\ninterrupted inside step {run.step}; nothing saved, {kept}", file=sys.stderr)
            return 130
        if pending is not None:  # the step finished but its log line was not written yet
            training.write_log_line(run.out / "log.jsonl", pending)
        if saved_at != run.step - 1:
            frog_checkpoint.save(run)
        print(f"\nstopped: checkpoint saved after step {run.step - 1}; continue with --resume", file=sys.stderr)
        return 130
    return 0


def random_flip(images):
    """Each image (N, H, W, C) mirrored left-right with probability 1/2 (a frog facing left is still a frog)."""
    xp = minigan.backend.array_module()
    flip = minigan.random.uniform((len(images), 1, 1, 1)) < 0.5
    return xp.where(flip, images[:, :, ::-1], images)


class NonFiniteLossError(FloatingPointError):
    def __init__(self, step, d_loss, a_loss, saved_at):
        kept = f"the checkpoint of step {saved_at} is kept" if saved_at is not None else "no checkpoint was written"
        super().__init__(f"step {step}: a loss is not finite (discriminator {d_loss}, adversarial {a_loss}); "
                         f"stopping without saving: {kept}")


# --------------------------------------------------------------------------------------------------
# Saving: pictures, the loss curve, the checkpoint (frog_checkpoint.py)
# --------------------------------------------------------------------------------------------------
def value_range(config):
    return (-1.0, 1.0) if config["fix_range"] else (0.0, 1.0)


def save_outputs(run, step, generated_images, real_images):
    low, high = value_range(run.config)
    name = cifar10.CLASS_NAMES[run.config["class"]]
    image.save_grid(run.out / f"grid_{step:06d}.png", run.fixed_grid(), value_range=(low, high), upscale=GRID_UPSCALE)
    # The book's two pictures: values taken as pixels, *255 (so with fix_range, first mapped to [0, 1])
    for kind, x in (("generated", generated_images[0]), ("real", real_images[0])):
        x = (minigan.to_numpy(x) - low) / (high - low)
        image.save_img(run.out / f"{kind}_{name}_{step}.png", x * 255.0, scale=False)
    plot_log(run)
    frog_checkpoint.save(run)  # last: a checkpoint on disk means everything before it is there too


def plot_log(run):
    records = training.read_log(run.out / "log.jsonl")
    if records:  # losses, D's outputs and, with --eval-every, SWD and g over the steps
        training.plot_gan_log(run.out / "loss_curve.png", records, title=f"{run.out.name}: step {records[-1]['step']}")


# --------------------------------------------------------------------------------------------------
# Data, configuration, command line
# --------------------------------------------------------------------------------------------------
def load_images(config, data_path):
    """The training images of one class as float32 on the backend, in [0, 1] ([-1, 1] with fix_range)."""
    if config["data"] == "synthetic":  # --dry-run: random pixels, enough for a few batches
        x = np.random.default_rng(config["seed"]).integers(0, 256, (8 * config["batch_size"], 32, 32, 3), np.uint8)
    else:
        x = cifar10.load_class(config["class"], path=data_path)
    x = x.astype("float32") / 255.0
    if config["fix_range"]:
        x = x * 2.0 - 1.0  # match the generator's tanh output range
    if len(x) < config["batch_size"]:
        raise minigan.datasets.DatasetError(f"only {len(x)} training images of class {config['class']}, fewer "
                                            f"than one batch of {config['batch_size']}")
    return minigan.backend.asarray(x)


def start_run(args, config):
    """Build the models and either restore the checkpoint in --out or start afresh."""
    out, path = args.out, args.out / "checkpoint.npz"
    flat = training.load_checkpoint(path) if path.exists() else None
    if flat is not None and not args.force:
        saved = json.loads(training.as_str(flat["config"]))
        training.check_config(saved, config, f"--out {out}")  # raises ConfigMismatchError naming the keys
        if not args.resume:
            raise training.ConfigMismatchError(
                f"--out {out} already holds this run (at step {int(flat['step'])}); pass --resume to continue it, "
                f"or --force to start over and overwrite it", [])
    if flat is not None and args.force and not args.resume:
        flat = None  # start over: the old log goes too
        (out / "log.jsonl").unlink(missing_ok=True)
    if args.resume and flat is None:
        print(f"note: no checkpoint in {out}; starting a new run", file=sys.stderr)

    minigan.set_backend(config["backend"])
    minigan.random.seed(config["seed"])
    generator, discriminator, gan = build_models(config)
    run = Run(config, out, generator, discriminator, gan, load_images(config, args.data), fixed_noise=None)
    if flat is not None:
        frog_checkpoint.restore(run, flat, path)  # also G's weight average, if the config keeps one
        training.truncate_log(out / "log.jsonl", run.step)  # steps after the checkpoint will be redone
    else:
        if config.get("average_decay") is not None:  # the average starts at G's initial weights
            run.average = training.WeightAverage(generator, config["average_decay"])
        run.fixed_noise = minigan.random.normal((config["grid"] ** 2, config["latent_dim"]))
        (out / "log.jsonl").unlink(missing_ok=True)
        low_high = value_range(config)
        image.save_grid(out / "real_grid.png", run.x_train[: config["grid"] ** 2], value_range=low_high,
                        upscale=GRID_UPSCALE)
    return run


def make_callbacks(args, config):
    """Callbacks ``f(run, step, record)``, called after every finished step, before its log line is written.

    They may add keys to ``record``. The state is at a step boundary: raising KeyboardInterrupt stops the
    run with a checkpoint. Here: the vital signs at every save, and with --eval-every the SWD, g and copy
    check every K steps (minigan/training/callbacks.py).
    """
    low_high = value_range(config)
    callbacks = [training.VitalSignsCallback(args.save_every, low_high, write=tqdm.write)]
    if args.eval_every:
        settings = dict(samples=args.eval_samples, patches_per_image=args.eval_patches,
                        floor_seeds=args.eval_floor_seeds)
        prepare = lambda run: make_evaluator(run.config, args.data, run.out / "eval_reference.json", **settings)
        callbacks.append(training.EvaluationCallback(args.eval_every, prepare, config["latent_dim"], low_high,
                                                     write=tqdm.write))
    return callbacks


def make_evaluator(config, data, cache, **settings):
    """The real frogs, the SWD floor and the untrained generator's SWD (both kept in the JSON file ``cache``).

    ``settings`` go to ``metrics.Evaluator`` (samples, patches_per_image, floor_seeds, seed); the untrained
    generator is this run's architecture initialised with its seed. Also used by evaluate_frogs.py.
    """
    def fresh_generator():  # as the run's was at the start; the training noise stream is not touched
        with minigan.random.scoped_seed(config["seed"]):
            return build_generator(config["latent_dim"], **config["generator"])

    frogs = lambda split: cifar10.load_class(config["class"], path=data, split=split)
    evaluator = metrics.Evaluator(frogs("train"), frogs("test"), cache=cache, **settings)
    untrained = evaluator.untrained(fresh_generator, config["latent_dim"], value_range(config),
                                    key={key: config[key] for key in ("latent_dim", "generator", "fix_range", "seed")})
    return evaluator, untrained


def main(argv=None, callbacks=()):
    """Train as the command line says; returns the exit status (0, 1, 2 or 130: see the module docstring)."""
    args = frog_cli.parse_args(argv, PRESETS, description=__doc__.split("\n\n")[0])
    config = frog_cli.make_config(args, PRESETS)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        run = start_run(args, config)
        if run.step >= args.iterations:
            print(f"{args.out} is at step {run.step} already (--iterations {args.iterations}); nothing to do")
            return 0
        return train(run, args.iterations, args.save_every, [*make_callbacks(args, config), *callbacks], args.minutes)
    except training.ConfigMismatchError as error:
        print(f"frog_dcgan.py: error: {error}\nUse another --out, or --force to reuse this one.", file=sys.stderr)
        return 2
    except (NonFiniteLossError, training.CheckpointError, minigan.backend.BackendError,
            minigan.datasets.DatasetError, minigan.datasets.DatasetNotFoundError) as error:
        print(f"frog_dcgan.py: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
