"""What a frog_dcgan.py checkpoint holds, and how a run comes back from it.

One ``checkpoint.npz`` (written atomically by ``minigan.training.save_checkpoint``) holds everything
the loop changes, so that a resumed run repeats the numbers of an uninterrupted one bit for bit:

    generator/..., discriminator/...   the weights, by layer and weight name
    d_optimizer/..., a_optimizer/...   each optimizer's state by name (RMSprop's mean squares, Adam's moments)
    generator_average/...              the running average of G's weights, if the run keeps one
    step, cursor                       the next step, and the index of the next real batch
    random_state                       minigan.random's generator (NumPy only: CuPy's cannot be saved)
    fixed_noise                        the latent vectors of every grid picture
    config                             the run's config as JSON, checked against the command line on --resume
"""

import json
import sys

import minigan
from minigan import training


def save(run):
    """Write ``run`` (a frog_dcgan.Run) to ``run.out / "checkpoint.npz"``."""
    state = {
        "generator": training.model_weights(run.generator),
        "discriminator": training.model_weights(run.discriminator),
        "d_optimizer": run.discriminator.optimizer.get_state(),
        "a_optimizer": run.gan.optimizer.get_state(),
        "step": run.step, "cursor": run.cursor,
        "random_state": minigan.random.get_state(),
        "fixed_noise": run.fixed_noise,
        **({} if run.average is None else {"generator_average": run.average.get_state()}),
        "config": json.dumps(run.config, sort_keys=True),
    }
    training.save_checkpoint(run.out / "checkpoint.npz", training.flatten(state))


def restore(run, flat, path):
    """Put a checkpoint's state (``flat``, read from ``path``) into ``run``, whose models are built and compiled."""
    training.set_model_weights(run.generator, training.section(flat, "generator"), path)
    training.set_model_weights(run.discriminator, training.section(flat, "discriminator"), path)
    run.discriminator.optimizer.set_state(training.section(flat, "d_optimizer"))
    if run.config.get("average_decay") is not None:
        run.average = load_average(run.generator, run.config, flat, path)
    run.gan.optimizer.set_state(training.section(flat, "a_optimizer"))
    run.step, run.cursor = int(flat["step"]), int(flat["cursor"])
    if run.cursor > len(run.x_train) - run.config["batch_size"]:
        run.cursor = 0  # --force with another batch size or data set
    run.fixed_noise = minigan.backend.asarray(flat["fixed_noise"])
    minigan.random.set_state(training.as_str(flat["random_state"]))
    if minigan.get_backend() == "cupy":  # CuPy's generator state cannot be saved: new numbers, not the same
        minigan.random.seed(run.config["seed"] + run.step)
        print("note: on CuPy the random state is not restored (reseeded with seed + step); the losses will "
              "differ from an uninterrupted run", file=sys.stderr)


def load_average(generator, config, flat, path):
    """The checkpoint's running average of ``generator``'s weights (a training.WeightAverage), or a
    training.CheckpointError naming ``path`` when it is missing or does not fit the generator."""
    average = training.WeightAverage(generator, config["average_decay"])
    try:
        average.set_state(training.section(flat, "generator_average"), f"{path}: generator_average")
    except ValueError as error:
        raise training.CheckpointError(str(error)) from None
    return average
