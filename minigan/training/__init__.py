"""Pieces of a long training run that are not about the network: saving and resuming, logging, plotting.

    checkpoint.py  one .npz holding everything a run needs to continue bit for bit; atomic writes;
                   the config guard that refuses to mix two runs in one folder
    log.py         log.jsonl: one JSON object per training step, appended as the run goes
    plot.py        the loss-curve PNG, drawn with Pillow (no plotting library needed)
    interrupt.py   Ctrl-C that stops at the next step boundary instead of in the middle of an update
    vitals.py      GAN vital signs at every save: D winning outright, a collapsing grid, G outside the data range
    callbacks.py   per-step callbacks of the loop: the vital signs, and an evaluation (SWD, g) every K steps
    average.py     a running average of the generator's weights, to draw steadier pictures from

``examples/frog_dcgan.py`` uses them all; ``docs/gan.md`` shows them at work.
"""

from .checkpoint import (CheckpointError, ConfigMismatchError, as_str, check_config, config_differences, flatten,
                         load_checkpoint, model_weights, save_checkpoint, section,
                         set_model_weights)
from .interrupt import StopAtBoundary
from .log import read_log, truncate_log, write_log_line
from .plot import plot_curves, plot_gan_log
from .vitals import VitalSigns
from .callbacks import EvaluationCallback, VitalSignsCallback
from .average import WeightAverage

__all__ = ["CheckpointError", "ConfigMismatchError", "check_config", "config_differences", "flatten",
           "section", "as_str", "model_weights", "set_model_weights", "load_checkpoint", "save_checkpoint", "StopAtBoundary", "read_log", "truncate_log",
           "write_log_line", "plot_curves", "plot_gan_log", "VitalSigns",
           "VitalSignsCallback", "EvaluationCallback", "WeightAverage"]
