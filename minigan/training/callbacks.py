"""Callbacks of the Trainer, in Keras' vocabulary: what to do around steps besides training.

A callback subclasses :class:`Callback` and overrides what it needs; the Trainer (``loop.py``) calls

    on_train_begin(trainer)      once, before the first step of this call to ``run`` (a resumed run too)
    on_batch_end(step, logs)     after every step, before its log line is written: ``logs`` (a dict of the
                                 step's record) may be given more keys; the state is at a step boundary
    on_save(step)                at each save, before the checkpoint is written (pictures, plots)
    on_train_end(trainer)        once, when ``run`` returns or raises

``step`` is the number of the step just finished (0-based); ``trainer.will_save(step)`` says whether a
save follows it. The callbacks here:

    VitalSignsCallback   GAN vital signs at every save: D winning, a collapsing grid, pixels out of range
    EvaluationCallback   every K steps, an evaluation of the generator (SWD, g, copy check, FID, KID)
    GridCallback         at every save, the generator's images of fixed latent vectors: a timeline
    RealGridCallback     once, real images drawn as the grids are
    PlotCallback         at every save, the log drawn as curves (matplotlib)

``gan_callbacks`` makes the usual set of a GAN run; a ``WeightAverage`` is a callback too (updated
after every step).

Their lines go through ``tqdm.write`` (standard output), so they do not break the progress bar.
None of them touches ``minigan.random``, and all act at fixed steps (multiples of K counted from step
0, and saves), never "at the end": so a run with callbacks draws the same noise as one without, and a
run stopped and resumed writes the same log as an uninterrupted one.
"""

import math

from tqdm.auto import tqdm

from .. import backend
from ..applications import FrechetInceptionDistance
from ..datasets import cifar10
from ..metrics import Evaluator
from ..metrics.evaluation import log_fields
from ..preprocessing.image import save_grid
from .log import read_log
from .plot import plot_gan_log
from .vitals import VitalSigns


class Callback:
    """Base class: every hook does nothing. See the module docstring for when each is called."""

    def on_train_begin(self, trainer):
        pass

    def on_batch_end(self, step, logs):
        pass

    def on_save(self, step):
        pass

    def on_train_end(self, trainer):
        pass


class FixedGrid:
    """The sampler's images of fixed latent vectors, predicted at most once per step (the vital signs
    check them and the grid picture shows them at the same save).

    sampler        what the pictures come from (``predict``): a generator, or its WeightAverage
    fixed_noise    (count, latent_dim) latent vectors, the same at every save
    """

    def __init__(self, sampler, fixed_noise):
        self.sampler, self.fixed_noise, self._memo = sampler, fixed_noise, (None, None)

    def at(self, step):
        if self._memo[0] != step:
            self._memo = (step, self.sampler.predict(self.fixed_noise))
        return self._memo[1]


class VitalSignsCallback(Callback):
    """At every regular save (``step % save_every == 0``): ``VitalSigns.check`` on the fixed-noise grid, its fields (``alarms``,
    ``grid_diversity``, ``grid_out_of_range``) added to the record, a line written for each alarm that
    starts or clears. It reads D's mean outputs from each record's ``d_x`` (real images) and ``d_g_z``
    (fakes) -- the keys a GAN step must log -- and, on a resumed run, from the log so far.

    grid           a FixedGrid;  real_images: as many real training images, in ``value_range``
    """

    def __init__(self, grid, real_images, value_range, log_path, write=tqdm.write, **thresholds):
        self.grid, self.real_images, self.value_range, self.log_path = grid, real_images, value_range, log_path
        self.write, self.thresholds, self.vitals, self.trainer = write, thresholds, None, None

    def on_train_begin(self, trainer):
        self.trainer = trainer
        self.vitals = VitalSigns(self.value_range, trainer.save_every, self.real_images,
                                 history=read_log(self.log_path), **self.thresholds)

    def on_batch_end(self, step, logs):
        self.vitals.observe(logs)
        if step % self.trainer.save_every == 0:  # not at the last step: a resumed run logs what a straight one does
            logs.update(self.vitals.check(step, self.grid.at(step)))
            for line in self.vitals.messages(step, logs):
                self.write(line)


class EvaluationCallback(Callback):
    """Every ``every`` steps (0, every, 2 every, ...): ``evaluator.evaluate`` of the sampler, its
    ``log_fields`` (swd, g, copy check, and fid/kid with an FID scorer) added to the record and a summary
    line written. ``prepare() -> (Evaluator, untrained anchor)`` runs once, at the first evaluation:
    loading the data and measuring the anchors takes a while, and a run that never evaluates should not
    pay it."""

    def __init__(self, every, prepare, sampler, latent_dim, value_range, write=tqdm.write):
        self.every, self.prepare, self.sampler, self.latent_dim = every, prepare, sampler, latent_dim
        self.value_range, self.write, self.evaluator, self.untrained = value_range, write, None, None

    def on_batch_end(self, step, logs):
        if step % self.every:
            return
        if self.evaluator is None:
            self.evaluator, self.untrained = self.prepare()
        report = self.evaluator.evaluate(self.sampler, self.latent_dim, self.value_range, self.untrained)
        logs.update(log_fields(report))
        number = lambda key, spec: format(logs[key], spec) if isinstance(logs.get(key), float) and \
            math.isfinite(logs[key]) else "n/a"
        fid = f"FID {number('fid', '.1f')}, KID {number('kid', '.4f')}, " if "fid" in logs else ""
        self.write(f"step {step}: {fid}SWD {number('swd', '.1f')} (floor {number('swd_floor', '.1f')}, untrained "
                   f"{number('swd_untrained', '.1f')}), g = {number('g', '.2f')}, copy z = {number('copy_z', '+.1f')}, "
                   f"diversity {number('diversity', '.2f')}"
                   + "".join(f", {name.upper()}" for name in ("copying_alarm", "collapse_alarm") if logs.get(name)))


class GridCallback(Callback):
    """At every save: ``grid_<step>.png``, the FixedGrid's images in a square, in ``value_range``."""

    def __init__(self, grid, out, value_range, upscale=2):
        self.grid, self.out, self.value_range, self.upscale = grid, out, value_range, upscale

    def on_save(self, step):
        save_grid(self.out / f"grid_{step:06d}.png", self.grid.at(step), value_range=self.value_range,
                  upscale=self.upscale)


class RealGridCallback(Callback):
    """Once, at the start of a run: ``real_grid.png``, real training images as the grids draw them."""

    def __init__(self, images, out, value_range, upscale=2):
        self.images, self.out, self.value_range, self.upscale = images, out, value_range, upscale

    def on_train_begin(self, trainer):
        if not (self.out / "real_grid.png").exists():
            save_grid(self.out / "real_grid.png", self.images, value_range=self.value_range, upscale=self.upscale)


class PlotCallback(Callback):
    """At every save: the log so far drawn to ``path`` (losses, D's outputs, and the scores if logged)."""

    def __init__(self, path, log_path):
        self.path, self.log_path = path, log_path

    def on_save(self, step):
        records = read_log(self.log_path)
        if records:
            plot_gan_log(self.path, records, title=f"{self.path.parent.name}: step {records[-1]['step']}")


def gan_callbacks(out, sampler, fixed_noise, real_images, value_range, write=None):
    """The callbacks every GAN run of frog_dcgan.py has: the real grid once; at every save the vital signs,
    the fixed-noise grid and the plot of ``out / "log.jsonl"``. ``fixed_noise`` (host or device) are the
    latent vectors of every grid; ``real_images`` the training images (the first ``len(fixed_noise)`` are
    drawn and measured)."""
    grid = FixedGrid(sampler, backend.asarray(fixed_noise))
    real = real_images[:len(fixed_noise)]
    vitals = VitalSignsCallback(grid, real, value_range, out / "log.jsonl", write=write or tqdm.write)
    return [RealGridCallback(real, out, value_range), vitals, GridCallback(grid, out, value_range),
            PlotCallback(out / "loss_curve.png", out / "log.jsonl")]


def class_evaluator(class_index, data, fresh_generator, latent_dim, value_range, key, cache, fid=True, **settings):
    """An Evaluator of a CIFAR-10 class (its training images for the floor, its test images as the
    reference) and its untrained anchor: ``(Evaluator, anchor)``, what EvaluationCallback's ``prepare``
    returns. ``fresh_generator()`` builds the run's architecture as it was at step 0 (without touching the
    run's random stream: build it under ``minigan.random.scoped_seed``); ``key`` (JSON-able) names it in
    the ``cache`` file. With ``fid``, FID and KID too. ``settings`` go to ``metrics.Evaluator``."""
    train, test = (cifar10.load_class(class_index, path=data, split=split) for split in ("train", "test"))
    evaluator = Evaluator(train, test, cache=cache, fid=FrechetInceptionDistance(test) if fid else None, **settings)
    return evaluator, evaluator.untrained(fresh_generator, latent_dim, value_range, key=key)
