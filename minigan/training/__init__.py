"""What a training run needs besides the network: the loop, its state, its log, its pictures.

    loop.py        Trainer: runs a step function for N steps or M minutes; saves, resumes, Ctrl-C, NaN stop
    state.py       a run's state as named objects with get_state/set_state, one checkpoint; BatchCursor;
                   the config guard that refuses to mix two runs in one folder
    callbacks.py   Callback (Keras' hooks) and the GAN ones: vital signs, evaluations, grids, the plot
    log.py         log.jsonl: one JSON object per training step, appended as the run goes
    plot.py        the curves of a run (matplotlib)
    interrupt.py   Ctrl-C that stops at the next step boundary instead of in the middle of an update
    vitals.py      GAN vital signs: D winning outright, a collapsing grid, G outside the data range
    average.py     a running average of the generator's weights, to draw steadier pictures from
    standing.py    sampling with batch-normalisation statistics recomputed for the weights of now

``examples/frog_dcgan.py`` is a Trainer with a GAN step; ``docs/gan.md`` shows it at work.
"""

from .average import WeightAverage
from .callbacks import (Callback, EvaluationCallback, FixedGrid, GridCallback, PlotCallback, RealGridCallback,
                        VitalSignsCallback, class_evaluator, gan_callbacks)
from .interrupt import StopAtBoundary
from .log import optimizer_fields, read_log, truncate_log, write_log_line
from .loop import NonFiniteLossError, Trainer
from .plot import plot_curves, plot_gan_log
from .standing import StandingStatistics, batch_normalization_layers, gan_sampler
from .state import BatchCursor, ConfigMismatchError, check_config, collect, config_differences, restore
from .vitals import VitalSigns

__all__ = ["Trainer", "NonFiniteLossError", "BatchCursor", "ConfigMismatchError", "check_config",
           "config_differences", "collect", "restore", "Callback", "VitalSignsCallback", "EvaluationCallback",
           "FixedGrid", "GridCallback", "RealGridCallback", "PlotCallback", "gan_callbacks", "class_evaluator", "StopAtBoundary", "read_log", "truncate_log",
           "write_log_line", "optimizer_fields", "plot_curves", "plot_gan_log", "VitalSigns", "WeightAverage",
           "StandingStatistics", "gan_sampler", "batch_normalization_layers"]
