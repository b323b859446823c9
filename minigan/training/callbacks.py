"""Per-step callbacks for a GAN training loop: the vital signs, and an evaluation every K steps.

A callback is ``f(run, step, record)``, called after every finished step, before the step's log line is
written; it may add keys to ``record``. ``run`` is the loop's state; these two read from it:

    run.sampler       what to draw pictures from (``predict``): the generator, or its WeightAverage
    run.fixed_noise   the latent vectors of the grid pictures (the same at every save)
    run.fixed_grid()  the sampler's images of ``fixed_noise`` now (a run may predict them once per step)
    run.x_train       the real training images, in the data's value range
    run.out           the run's folder (``log.jsonl`` in it; caches go there)

Neither touches ``minigan.random``, and both act at fixed steps (multiples of K, counted from step 0),
never "at the end": so a run with callbacks draws the same noise as one without, and a run stopped and
resumed writes the same log as an uninterrupted one.
"""

import math

from ..metrics.evaluation import log_fields
from .log import read_log
from .vitals import VitalSigns


class VitalSignsCallback:
    """At every save (``step % save_every == 0``): ``VitalSigns.check`` on the fixed-noise grid, its
    fields (``alarms``, ``grid_diversity``, ``grid_out_of_range``) added to the record, and a line
    written for each alarm that starts or clears. ``thresholds`` go to ``VitalSigns``."""

    def __init__(self, save_every, value_range, write=print, **thresholds):
        self.save_every, self.value_range, self.write, self.thresholds = save_every, value_range, write, thresholds
        self.vitals = None

    def __call__(self, run, step, record):
        if self.vitals is None:  # the log so far (a resumed run's) fills D's recent outputs
            self.vitals = VitalSigns(self.value_range, self.save_every, run.x_train[:len(run.fixed_noise)],
                                     history=read_log(run.out / "log.jsonl"), **self.thresholds)
        self.vitals.observe(record)
        if step % self.save_every == 0:
            record.update(self.vitals.check(step, run.fixed_grid()))
            for line in self.vitals.messages(step, record):
                self.write(line)


class EvaluationCallback:
    """Every ``every`` steps (steps 0, every, 2 every, ...): ``Evaluator.evaluate`` on the generator,
    its ``log_fields`` (swd, swd_32, swd_16, swd_floor, swd_untrained, g, copy_z, copy_closer,
    diversity, copying_alarm, collapse_alarm, eval_time) added to the record and a summary line written.

    prepare(run) -> (Evaluator, untrained anchor) is called once, at the first evaluation: loading the
    data and measuring the anchors takes a while, and a run that never evaluates should not pay it.
    """

    def __init__(self, every, prepare, latent_dim, value_range, write=print):
        self.every, self.prepare, self.latent_dim, self.value_range, self.write = (every, prepare, latent_dim,
                                                                                    value_range, write)
        self.evaluator = self.untrained = None

    def __call__(self, run, step, record):
        if step % self.every:
            return
        if self.evaluator is None:
            self.evaluator, self.untrained = self.prepare(run)
        report = self.evaluator.evaluate(run.sampler, self.latent_dim, self.value_range, self.untrained)
        record.update(log_fields(report))
        g = f"{record['g']:.2f}" if record["g"] is not None and math.isfinite(record["g"]) else "n/a"
        self.write(f"step {step}: SWD {record['swd']:.1f} (floor {record['swd_floor']:.1f}, untrained "
                   f"{record['swd_untrained']:.1f}), g = {g}, copy z = {record['copy_z']:+.1f}, "
                   f"diversity {record['diversity']:.2f}"
                   + "".join(f", {name.upper()}" for name in ("copying_alarm", "collapse_alarm") if record[name]))
