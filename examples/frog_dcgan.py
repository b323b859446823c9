"""The DCGAN of *Deep Learning with Python* (Chollet), section 8.5, trained on CIFAR-10 frogs with minigan.

It reads as the book's listing -- generator, discriminator, adversarial network, training step -- and
hands the run (checkpoints, log, resume, Ctrl-C, time budget) to ``minigan.training.Trainer``.
``docs/gan.md`` walks through it; ``--help`` lists the flags.

    python examples/frog_dcgan.py --out runs/frogs                    # the book: 10,000 steps of batch 20
    python examples/frog_dcgan.py --out runs/frogs --resume           # continue after a stop or Ctrl-C
    python examples/frog_dcgan.py --out /tmp/try --dry-run            # 3 steps on random pixels, no data
    python examples/frog_dcgan.py --out runs/gpu --backend cupy
    python examples/frog_dcgan.py --out runs/cpu --preset cpu --minutes 30 --eval-every 500   # docs/quality.md

--minutes M alone: M minutes of steps, however many; with --iterations, whichever comes first. Each save
(steps 0, 100, ... and the last) writes grid_000100.png (G, or its weight average, on 64 fixed latent
vectors), the book's generated_frog_100.png and real_frog_100.png, loss_curve.png, log.jsonl and checkpoint.npz.
"""

import argparse
import json
import sys

import minigan
from minigan import layers, training
from minigan.datasets import cifar10
from minigan.preprocessing import image
from minigan.training import cli

# The whole model in one table. "book" is the listing's numbers. "cpu" is Radford et al.'s DCGAN (batch
# normalisation, ReLU in G, LeakyReLU 0.2 in D, Adam 2e-4 / 0.5), for 30 minutes on a 2-core CPU.
PRESETS = {
    "book": {"latent_dim": 32, "batch_size": 20,
             "generator": {"architecture": "book", "seed_filters": 128, "filters": 256},
             "discriminator": {"architecture": "book", "filters": 128, "dropout": 0.4},
             "d_optimizer": {"name": "RMSprop", "lr": 0.0008, "clipvalue": 1.0, "decay": 1e-8},
             "a_optimizer": {"name": "RMSprop", "lr": 0.0004, "clipvalue": 1.0, "decay": 1e-8},
             "fix_range": False},  # the book keeps real images in [0, 1]
    # chosen by FID among BN, DiffAugment, widths, batches: docs/quality.md, rounds 5 and 6
    "cpu": {"latent_dim": 100, "batch_size": 16,  # half of batch 32's step: twice the steps in 30 minutes
            "generator": {"architecture": "dcgan", "filters": [256, 128, 64]},     # 4x4 -> 8 -> 16 -> 32
            "discriminator": {"architecture": "dcgan", "filters": [64, 128, 256]},  # 32 -> 16 -> 8 -> 4
            "d_optimizer": {"name": "Adam", "lr": 0.0002, "beta_1": 0.5},
            "a_optimizer": {"name": "Adam", "lr": 0.0002, "beta_1": 0.5},
            "fix_range": True, "flip": True, "separate_batches": True,
            "augment": "",  # no DiffAugment: it cost FID at 30 minutes (docs/quality.md, round 5)
            "average_decay": 0.999},  # grids, scores from G's weight average: FID 3-13 lower (round 8)
}
height, width, channels = 32, 32, 3


# ---- GAN generator network: a latent vector (latent_dim,) -> an image (32, 32, 3) in [-1, 1] (tanh)
def build_generator(latent_dim, architecture, filters, seed_filters=None):
    generator_input = minigan.Input(shape=(latent_dim,))
    if architecture == "book":
        # Transform the input into a 16x16, 128-channel feature map
        x = layers.Dense(seed_filters * 16 * 16)(generator_input)
        x = layers.LeakyReLU()(x)
        x = layers.Reshape((16, 16, seed_filters))(x)
        x = layers.LeakyReLU()(layers.Conv2D(filters, 5, padding="same")(x))
        # Upsample to 32x32
        x = layers.LeakyReLU()(layers.Conv2DTranspose(filters, 4, strides=2, padding="same")(x))
        x = layers.LeakyReLU()(layers.Conv2D(filters, 5, padding="same")(x))
        x = layers.LeakyReLU()(layers.Conv2D(filters, 5, padding="same")(x))
        # Produce a 32x32, 3-channel feature map (the shape of a CIFAR-10 image)
        x = layers.Conv2D(channels, 7, activation="tanh", padding="same")(x)
    else:  # DCGAN: a 4x4 map, each transposed convolution doubles it and halves the channels; BN + ReLU
        x = layers.Dense(4 * 4 * filters[0], use_bias=False)(generator_input)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.Reshape((4, 4, filters[0]))(x)
        for size_filters in filters[1:]:
            x = layers.Conv2DTranspose(size_filters, 4, strides=2, padding="same", use_bias=False)(x)
            x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="tanh")(x)
    return minigan.models.Model(generator_input, x, name="generator")


# ---- GAN discriminator network: an image (32, 32, 3) -> the probability that it is *fake* (label 1)
def build_discriminator(architecture, filters, dropout=0.0, batch_norm=True):
    discriminator_input = layers.Input(shape=(height, width, channels))
    if architecture == "book":
        x = layers.LeakyReLU()(layers.Conv2D(filters, 3)(discriminator_input))
        for _ in range(3):  # 30x30 -> 14x14 -> 6x6 -> 2x2
            x = layers.LeakyReLU()(layers.Conv2D(filters, 4, strides=2)(x))
    else:  # DCGAN: strided 4x4 convolutions halve the map and double the channels; BN after the first
        x = layers.LeakyReLU(alpha=0.2)(layers.Conv2D(filters[0], 4, strides=2, padding="same")(discriminator_input))
        for size_filters in filters[1:]:
            x = layers.Conv2D(size_filters, 4, strides=2, padding="same", use_bias=not batch_norm)(x)
            x = layers.LeakyReLU(alpha=0.2)(layers.BatchNormalization()(x) if batch_norm else x)
    x = layers.Flatten()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    x = layers.Dense(1, activation="sigmoid")(x)
    return minigan.models.Model(discriminator_input, x, name="discriminator")


def make_optimizer(spec):
    """``{"name": "RMSprop", "lr": 0.0008, ...}`` -> ``minigan.optimizers.RMSprop(lr=0.0008, ...)``."""
    return getattr(minigan.optimizers, spec["name"])(**{key: v for key, v in spec.items() if key != "name"})


# ---- Adversarial network: gan(z) = discriminator(augment(generator(z))), training only the generator
def build_models(config):
    layers.clear_session()  # layer names (and so checkpoint keys) the same in every run: dense, conv2d, ...
    generator = build_generator(config["latent_dim"], **config["generator"])
    discriminator = build_discriminator(**config["discriminator"])
    discriminator.compile(optimizer=make_optimizer(config["d_optimizer"]), loss="binary_crossentropy")

    # Keras 2 semantics: trainable is read at compile() time. The discriminator was compiled above with
    # its weights trainable, so discriminator.train_on_batch still trains them; the gan, compiled below,
    # sees them frozen, so gan.train_on_batch trains the generator only.
    discriminator.trainable = False
    augment = layers.DiffAugment(config["augment"], seed=config["seed"] + 1) if config.get("augment") else None
    gan_input = minigan.Input(shape=(config["latent_dim"],))
    fakes = generator(gan_input)
    gan = minigan.models.Model(gan_input, discriminator(augment(fakes) if augment else fakes), name="gan")
    gan.compile(optimizer=make_optimizer(config["a_optimizer"]), loss="binary_crossentropy")
    return generator, discriminator, gan, augment


# ---- Training the GAN: one step of the book's loop
def gan_step(generator, discriminator, gan, augment, images, cursor, config, pictures):
    """The step function of the Trainer: train D once, then G once; returns the step's log record. The
    step's first fake and real image go to ``pictures`` (BookPictures), for the book's two pictures."""
    batch_size, latent_dim, real = config["batch_size"], config["latent_dim"], config.get("real_label", 0.0)
    xp = minigan.backend.array_module()
    see = (lambda x: augment(x, training=True).data) if augment else (lambda x: x)  # what D is shown
    batch_norm = bool(training.batch_normalization_layers(generator))

    def step(number):
        # Pick real images: consecutive batches, back to 0 when a whole batch no longer fits
        start = cursor.next()
        real_images = images[start: start + batch_size]
        if config.get("flip"):  # mirror a random half of them: D sees twice the frogs
            real_images = random_flip(real_images)
        # Sample random points in the latent space, and decode them to fake images. A generator with batch
        # normalisation draws them as it trains (batch statistics); the book's, by predict.
        random_latent_vectors = minigan.random.normal((batch_size, latent_dim))
        with minigan.no_grad():
            generated_images = generator(random_latent_vectors, training=batch_norm).data
        # What D makes of this batch before learning from it (no dropout): logged as D(G(z)) and D(x)
        predictions = minigan.to_numpy(discriminator.predict(xp.concatenate([generated_images, real_images])))
        # Train the discriminator: fake = 1, real = 0 (the book's labels; real_label smooths it), plus label noise
        noisy = lambda value, n: value + 0.05 * minigan.random.uniform((n, 1))
        if config.get("separate_batches"):  # one batch of each kind: batch normalisation sees one kind at a time
            d_loss = (discriminator.train_on_batch(see(generated_images), noisy(1.0, batch_size)) +
                      discriminator.train_on_batch(see(real_images), noisy(real, batch_size))) / 2
        else:  # the book: one combined batch
            labels = xp.concatenate([noisy(1.0, batch_size), noisy(real, batch_size)])
            d_loss = discriminator.train_on_batch(see(xp.concatenate([generated_images, real_images])), labels)
        # Sample random points in the latent space, claim that all of them are real images (label 0), and
        # train the generator through the gan model (the discriminator is frozen there)
        random_latent_vectors = minigan.random.normal((batch_size, latent_dim))
        a_loss = gan.train_on_batch(random_latent_vectors, xp.zeros((batch_size, 1), "float32"))
        pictures.last = {"generated": generated_images[0], "real": real_images[0]}
        return {"d_loss": float(d_loss), "a_loss": float(a_loss), "d_x": float(predictions[batch_size:].mean()),
                "d_g_z": float(predictions[:batch_size].mean()), "cursor": start,
                **training.optimizer_fields(d=discriminator.optimizer, a=gan.optimizer)}  # d_lr, a_clipped, ...
    return step


def random_flip(images):
    """Each image (N, H, W, C) mirrored left-right with probability 1/2 (a frog facing left is still a frog)."""
    flip = minigan.random.uniform((len(images), 1, 1, 1)) < 0.5
    return minigan.backend.array_module().where(flip, images[:, :, ::-1], images)


class BookPictures(training.Callback):
    """At every save, the book's two pictures: the step's first fake and first real image (generated_frog_100.png)."""

    def __init__(self, config, out):
        self.config, self.out, self.last = config, out, {}

    def on_save(self, number):
        for kind, x in self.last.items():  # the run's value range -> pixels, as the grids
            name = f"{kind}_{cifar10.CLASS_NAMES[self.config['class']]}_{number}.png"
            image.save_img(self.out / name, image.to_uint8(minigan.to_numpy(x), value_range(self.config)), scale=False)


def value_range(config):
    return (-1.0, 1.0) if config["fix_range"] else (0.0, 1.0)


def load_images(config, data_path):
    """The training images of one class as float32 on the backend, in [0, 1] ([-1, 1] with fix_range)."""
    rng = minigan.backend.numpy.random.default_rng(config["seed"])  # --dry-run: random pixels, 8 batches
    x = rng.integers(0, 256, (8 * config["batch_size"], 32, 32, 3), "uint8") if config["data"] == "synthetic" else \
        cifar10.load_class(config["class"], path=data_path)
    if len(x) < config["batch_size"]:
        raise minigan.datasets.DatasetError(f"only {len(x)} training images of class {config['class']}, fewer "
                                            f"than one batch of {config['batch_size']}")
    return minigan.backend.asarray(image.from_uint8(x, value_range(config)))


# ---- Measuring, configuring, running
def make_evaluator(config, data, cache, fid=True, **settings):
    """(Evaluator, untrained anchor) of the run's class, architecture and seed; used by evaluate_frogs.py too."""
    def fresh_generator():  # as the run's was at the start; the training noise stream is not touched
        with minigan.random.scoped_seed(config["seed"]):
            return build_generator(config["latent_dim"], **config["generator"])
    key = {name: config[name] for name in ("latent_dim", "generator", "fix_range", "seed")}
    return training.class_evaluator(config["class"], data, fresh_generator, config["latent_dim"], value_range(config),
                                    key, cache, fid=fid, **settings)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="frog_dcgan.py", description=__doc__.split("\n\n")[0],
                                epilog="exit status: 0 done, 1 NaN/inf or bad data/checkpoint, 2 bad arguments or "
                                       "config clash, 130 Ctrl-C (checkpoint saved)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="book", help="model and optimizer table (book)")
    p.add_argument("--batch-size", type=cli.int_flag("batch_size"), metavar="N", help="images of each kind per step")
    p.add_argument("--latent-dim", type=cli.int_flag("latent_dim"), metavar="N", help="length of a latent vector")
    p.add_argument("--class", dest="class_", type=cli.class_name, default="frog", metavar="NAME",
                   help="CIFAR-10 class, a name or 0..9 (frog)")
    p.add_argument("--data", metavar="PATH", help="CIFAR-10 folder or tarball ($MINIGAN_DATA, then the cache)")
    p.add_argument("--dry-run", action="store_true", help="3 steps on random pixels: no dataset needed")
    p.add_argument("--fix-range", action=argparse.BooleanOptionalAction, default=None,
                   help="scale real images to [-1, 1] like the tanh output (book: off)")
    p.add_argument("--average-decay", type=cli.bounded_float("average_decay", 0, 1, high_open=True), metavar="D",
                   help="draw grids and scores from a running average of G's weights (cpu: 0.999; 0: none)")
    cli.add_run_arguments(p)  # --out, --resume, --force, --iterations, --minutes, --save-every, --eval-every, ...
    args = cli.parse(p, argv)
    if args.iterations is None and (args.dry_run or not args.minutes):  # --minutes alone: as many steps as fit
        args.iterations = 3 if args.dry_run else 10000  # the book: 10,000 steps
    if args.eval_every and args.dry_run:
        p.error("--eval-every compares with real frogs: it cannot run with --dry-run")
    return args


def make_config(args):
    """The settings that define a run (a preset and the flags that change it); a run folder refuses to
    continue under different ones."""
    config = json.loads(json.dumps(PRESETS[args.preset]))  # a deep copy
    flags = ("batch_size", "latent_dim", "fix_range", "average_decay")
    config.update({key: getattr(args, key) for key in flags if getattr(args, key) is not None})
    config.update(preset=args.preset, backend=args.backend, seed=args.seed, grid=args.grid, **{"class": args.class_},
                  data="synthetic" if args.dry_run else "cifar10")
    return config


def main(argv=None, callbacks=()):
    """Train as the command line says; returns the exit status (0, 1, 2 or 130: see --help)."""
    args = parse_args(argv)
    config = make_config(args)
    try:
        minigan.set_backend(config["backend"])
        minigan.random.seed(config["seed"])
        generator, discriminator, gan, augment = build_models(config)
        images = load_images(config, args.data)
        cursor = training.BatchCursor(len(images), config["batch_size"])
        average = training.WeightAverage(generator, config["average_decay"]) if config.get("average_decay") else None
        state = {"generator": generator, "discriminator": discriminator, "d_optimizer": discriminator.optimizer,
                 "a_optimizer": gan.optimizer, "cursor": cursor, "random": minigan.random,
                 **({"augment": augment} if augment else {}), **({"generator_average": average} if average else {})}
        # The pictures (the same latent vectors at every save; with batch normalisation, standing statistics),
        # the vital signs, the plot; an evaluation every K
        fixed_noise = minigan.random.Stream(config["seed"]).normal((config["grid"] ** 2, config["latent_dim"]))
        drawn = training.gan_sampler(average or generator, config["latent_dim"], config["batch_size"],
                                     seed=config["seed"] + 1)
        extras = training.gan_callbacks(args.out, drawn, fixed_noise, images, value_range(config))
        if args.eval_every:
            prepare = lambda: make_evaluator(config, args.data, args.out / "eval_reference.json", fid=args.eval_fid,
                                             samples=args.eval_samples, patches_per_image=args.eval_patches,
                                             floor_seeds=args.eval_floor_seeds)
            extras.append(training.EvaluationCallback(args.eval_every, prepare, drawn,
                                                      config["latent_dim"], value_range(config)))
        pictures = BookPictures(config, args.out)
        step = gan_step(generator, discriminator, gan, augment, images, cursor, config, pictures)
        trainer = training.Trainer(step, state, args.out, config=config, save_every=args.save_every,
                                   callbacks=[*([average] if average else []), *extras, pictures, *callbacks])
        trainer.start(resume=args.resume, force=args.force)
        return {"finished": 0, "out of time": 0, "interrupted": 130}[trainer.run(args.iterations, args.minutes)]
    except training.ConfigMismatchError as error:
        print(f"frog_dcgan.py: error: {error}\nUse another --out, or --force to reuse this one.", file=sys.stderr)
        return 2
    except cli.RUN_ERRORS as error:
        print(f"frog_dcgan.py: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
