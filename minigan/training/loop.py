"""The Trainer: runs a step function for a number of steps or minutes, and owns everything around it.

A training script writes only what is its own -- the models and one step (for a GAN: train D, then G)
-- and hands the rest to a Trainer, as Chainer's Trainer owns its run:

    trainer = Trainer(step, state={"generator": G, "discriminator": D, ...}, out="runs/x", config=config)
    trainer.start(resume=True)          # a checkpoint in out? its state comes back, the log is cut there
    status = trainer.run(iterations=10_000, minutes=30)   # whichever comes first
    status = trainer.run(minutes=30)                      # no step limit: 30 minutes of steps

``step(step_number) -> dict`` does one step and returns its log record (the losses at least). Around
every step the Trainer

* times it (after a GPU sync) and counts those times against ``minutes``: saves and evaluations do
  not count, and a resumed run goes on counting from the times in its log;
* calls the callbacks' ``on_batch_end(step, logs)``, which may add keys to the record, then writes the
  record as one line of ``log.jsonl``;
* stops with :class:`NonFiniteLossError` when a loss (a key ending in "loss") is NaN or inf;
* saves every ``save_every`` steps and after the last one: first the callbacks' ``on_save`` (pictures,
  the plot), then the checkpoint -- the state of every object of ``state``, ``step`` and ``config``
  (``state.py``) -- so a checkpoint on disk means everything before it is there too. A checkpoint is
  never written with NaN or inf in it (:class:`NonFiniteStateError`: the last good one stays);
* on the first Ctrl-C finishes the step, saves, and returns "interrupted"; a second one inside a step
  leaves at once and saves nothing (``interrupt.py``);
* drives a progress bar (``tqdm.auto``: a terminal or a notebook) of steps, or of the time budget.

``run`` returns "finished" (the steps are done), "out of time" (``minutes`` reached) or "interrupted".
Statuses rather than exit codes: a script maps them (frog_dcgan.py: 0, 0, 130).
"""

import itertools
import json
import math
import sys
import time

from tqdm.auto import tqdm

from .. import backend, random
from ..files import remove_stale_temporaries
from ..serialization import NonFiniteStateError, StateFileError, as_str, load_arrays, save_arrays
from . import state as run_state
from .interrupt import StopAtBoundary
from .log import read_log, truncate_log, write_log_line


class NonFiniteLossError(FloatingPointError):
    """A loss of a step is NaN or inf; the run stopped without saving that step."""


class Trainer:
    """See the module docstring. ``state``: {name: object with get_state/set_state}; ``config``: a
    JSON-able dict that defines the run (a folder refuses to continue under another one)."""

    def __init__(self, step, state, out, config=None, save_every=100, callbacks=(), log_name="log.jsonl",
                 checkpoint_name="checkpoint.npz", progress=True, write=None, clock=time.perf_counter):
        if not isinstance(save_every, int) or isinstance(save_every, bool) or save_every < 1:
            raise ValueError(f"Trainer: save_every must be a positive int, got {save_every!r}")
        self.step_fn, self.state, self.out, self.config = step, dict(state), out, dict(config or {})
        self.save_every, self.callbacks, self.progress, self.clock = save_every, list(callbacks), progress, clock
        self.log_path, self.checkpoint_path = out / log_name, out / checkpoint_name
        self.write = write or (lambda line: tqdm.write(line, file=sys.stderr))
        self.step = 0            # steps finished = the number of the next step
        self.saved_at = None     # the step whose checkpoint is on disk
        self.iterations = None   # the last step + 1, set by run() (None there: no step limit)

    # -- starting: fresh, or from the checkpoint in out ---------------------------------------------------
    def start(self, resume=False, force=False):
        """Prepare ``out``: restore its checkpoint (``resume``), or refuse to mix runs, or start afresh.

        A checkpoint of another config is refused (``ConfigMismatchError``), and so is the same config
        without ``resume`` (a finished run is not overwritten by accident); ``force`` overrides both: with
        ``resume`` the old state continues under the new config, without it the run starts over.
        Returns True when a checkpoint was restored.
        """
        self.out.mkdir(parents=True, exist_ok=True)
        removed = remove_stale_temporaries(self.out)
        if removed:
            count, size = len(removed), sum(size for _, size in removed)
            self.write(f"note: removed {count} temporary file{'s' * (count > 1)} ({size / 2**20:.1f} MB) left in "
                       f"{self.out} by an interrupted write")
        flat = load_arrays(self.checkpoint_path, required=("step", "config")) if self.checkpoint_path.exists() else None
        if flat is not None and not force:
            saved = _config_of(flat, self.checkpoint_path)
            run_state.check_config(saved, self.config, f"--out {self.out}")
            if not resume:
                raise run_state.ConfigMismatchError(
                    f"--out {self.out} already holds this run (at step {int(flat['step'])}); pass --resume to "
                    f"continue it, or --force to start over and overwrite it", [])
        if flat is None or not resume:
            if resume:
                self.write(f"note: no checkpoint in {self.out}; starting a new run")
            self.log_path.unlink(missing_ok=True)
            return False
        run_state.restore(self.state, flat, str(self.checkpoint_path))
        self.step = int(flat["step"])
        self.saved_at = self.step - 1
        if backend.get_backend() == "cupy" and any(obj is random for obj in self.state.values()):
            # CuPy's generator state cannot be saved: draw new numbers rather than repeat those of step 0
            random.seed(self.config.get("seed", 0) + self.step)
            self.write("note: on CuPy the random state is not restored (reseeded with seed + step); the losses "
                       "will differ from an uninterrupted run")
        truncate_log(self.log_path, self.step)  # steps after the checkpoint will be redone
        return True

    # -- the loop -------------------------------------------------------------------------------------
    def will_save(self, step):
        """Whether a save follows ``step``: every ``save_every`` steps, and the last step of the run."""
        return step % self.save_every == 0 or self._is_last(step)

    def _is_last(self, step):
        return self.iterations is not None and step == self.iterations - 1

    def run(self, iterations=None, minutes=None):
        """Run steps ``self.step .. iterations - 1``, or until their times add up to ``minutes``: whichever
        comes first. Either may be None (no limit of that kind), not both."""
        if iterations is None and minutes is None:
            raise ValueError("Trainer.run: give iterations, minutes or both; with neither the run never ends")
        self.iterations = iterations
        seconds = sum(record.get("time", 0.0) for record in read_log(self.log_path))  # a resumed run's time
        if minutes is not None and seconds >= 60 * minutes:
            self.write(f"{self.out} has trained for {seconds / 60:.1f} minutes already (--minutes {minutes:g}); "
                       f"nothing to do")
            return "out of time"
        if iterations is not None and self.step >= iterations:
            self.write(f"{self.out} is at step {self.step} already (--iterations {iterations}); nothing to do")
            return "finished"
        for callback in self.callbacks:
            callback.on_train_begin(self)
        bar = self._progress_bar(iterations, minutes, seconds)
        status, pending, in_step = "finished", None, False
        try:
            with StopAtBoundary() as stop, bar:
                for step in itertools.count(self.step) if iterations is None else range(self.step, iterations):
                    start, in_step = self.clock(), True
                    logs = dict(self.step_fn(step))
                    backend.synchronize()
                    elapsed, in_step = self.clock() - start, False
                    self.step, seconds = step + 1, seconds + elapsed
                    out_of_time = minutes is not None and seconds >= 60 * minutes
                    pending = {"step": step, **logs, "time": elapsed}
                    saving = self.will_save(step) or out_of_time
                    for callback in self.callbacks:
                        callback.on_batch_end(step, pending)
                    write_log_line(self.log_path, pending)
                    record, pending = pending, None
                    self._check_losses(step, record)
                    self._advance(bar, record, elapsed, minutes)
                    if saving:
                        self.save()
                    if out_of_time and not self._is_last(step):
                        self.write(f"--minutes {minutes:g}: stopped after step {step}, {seconds / 60:.2f} minutes of "
                                   f"training (checkpoint saved; a larger --minutes with --resume continues)")
                        status = "out of time"
                        break
                    if stop.requested:
                        raise KeyboardInterrupt
        except KeyboardInterrupt:
            if in_step:  # a second Ctrl-C inside a step: its state is half-updated, do not save it
                self.write(f"interrupted inside step {self.step}; nothing saved, {self._kept()}")
                return "interrupted"
            if pending is not None:  # the step finished but its log line was not written yet
                write_log_line(self.log_path, pending)
            if self.saved_at != self.step - 1:
                self.save()
            self.write(f"stopped: checkpoint saved after step {self.step - 1}; continue with --resume")
            return "interrupted"
        finally:
            for callback in self.callbacks:
                callback.on_train_end(self)
        return status

    def save(self):
        """The callbacks' ``on_save``, then the checkpoint (refused with NaN or inf in the state)."""
        step = self.step - 1
        for callback in self.callbacks:
            callback.on_save(step)
        flat = run_state.collect(self.state)
        flat.update(step=self.step, config=_json(self.config))
        try:
            save_arrays(self.checkpoint_path, flat, require_finite=True)
        except NonFiniteStateError as error:
            raise NonFiniteStateError(f"after step {step} the state of the run is not finite ({error}); stopping, "
                                      f"{self._kept()}") from None
        self.saved_at = step

    def _kept(self):
        return f"the checkpoint of step {self.saved_at} is kept" if self.saved_at is not None else \
            "no checkpoint was written"

    def _check_losses(self, step, record):
        bad = {key: value for key, value in record.items()
               if key.endswith("loss") and isinstance(value, float) and not math.isfinite(value)}
        if bad:
            losses = ", ".join(f"{key} {value}" for key, value in bad.items())
            raise NonFiniteLossError(f"step {step}: a loss is not finite ({losses}); stopping without saving "
                                     f"this step: {self._kept()}")

    # -- the progress bar: steps, or the time budget ----------------------------------------------------
    def _progress_bar(self, iterations, minutes, seconds):
        if minutes is None:
            return tqdm(total=iterations, initial=self.step, unit="step", dynamic_ncols=True, disable=not self.progress)
        return tqdm(total=round(60 * minutes), initial=min(round(seconds), round(60 * minutes)), unit="s",
                    dynamic_ncols=True, disable=not self.progress, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} "
                    "s of training [{elapsed}<{remaining}{postfix}]")

    def _advance(self, bar, record, elapsed, minutes):
        losses = {key: f"{value:.4f}" for key, value in record.items() if key.endswith("loss") and
                  isinstance(value, float)}
        bar.set_postfix(step=record["step"], **losses, refresh=False)
        bar.update(1 if minutes is None else elapsed)


def _config_of(flat, path):
    try:
        return json.loads(as_str(flat["config"]))
    except (ValueError, TypeError) as error:
        raise StateFileError(f"{path}: entry 'config' is not a JSON string ({error})") from None


def _json(config):
    return json.dumps(config, sort_keys=True)
