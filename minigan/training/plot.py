"""The curves of a run, drawn with matplotlib: losses, D's outputs, and the scores when they were logged.

``plot_curves`` draws panels stacked vertically that share the x axis (steps). A GAN's losses jump from
step to step, so a series of more than ~200 points is drawn twice: the raw values thin and light, and a
running mean over about 1% of the run on top. Points that are missing (a score logged every K steps
only) or not finite are left out; a series with only a few points gets markers.

matplotlib is used without pyplot (a ``Figure`` with its own Agg canvas), so drawing here never touches
the global state of a notebook's or a script's own plots, and needs no screen.

>>> import tempfile
>>> from pathlib import Path
>>> from minigan.backend import numpy as np
>>> steps = np.arange(500)
>>> path = Path(tempfile.mkdtemp()) / "curves.png"
>>> size = plot_curves(path, steps, [("losses", {"d_loss": 0.7 + 0.01 * np.sin(steps)}, None),
...                                  ("D outputs", {"D(x)": np.full(500, 0.4)}, (0, 1))])
>>> size, path.exists()
((900, 620), True)
"""

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..backend import numpy as np
from ..files import atomic_path

DPI = 100


def running_mean(values, window):
    """At every point, the mean of the finite values among it and the ``window - 1`` points before it.

    >>> running_mean(np.array([1.0, 3.0, np.nan, 5.0]), 2).tolist()
    [1.0, 2.0, 3.0, 5.0]
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    sums = np.cumsum(np.where(finite, values, 0.0))
    counts = np.cumsum(finite)
    before = lambda a: np.concatenate([np.zeros(window), a[:-window]]) if len(a) > window else np.zeros(len(a))
    n = counts - before(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums - before(sums)) / np.maximum(n, 1), np.nan)


def plot_curves(path, steps, panels, size=(900, 620), title=None):
    """Draw ``panels`` over ``steps`` into the PNG ``path`` (atomically); returns the image size in pixels.

    steps   the x values (training steps), one per point
    panels  a list of ``(title, {series name: values}, y_range)``; ``y_range`` is ``(low, high)``, or None
            to fit the values. Values may be NaN or None (a gap).
    """
    steps = np.asarray(steps, dtype=np.float64)
    figure = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (panel_title, series, y_range) in zip(axes, panels):
        for k, (name, values) in enumerate(series.items()):
            values = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            keep = np.isfinite(values)
            color = f"C{k}"
            if keep.sum() > 200:  # dense and noisy: the raw values light, a running mean on top
                ax.plot(steps[keep], values[keep], color=color, alpha=0.25, linewidth=0.6)
                window = max(2, int(keep.sum() // 100))
                ax.plot(steps[keep], running_mean(values[keep], window), color=color, linewidth=1.6,
                        label=f"{name} (mean of {window})")
            else:
                ax.plot(steps[keep], values[keep], color=color, linewidth=1.4, marker="o" if keep.sum() < 40 else None,
                        markersize=3, label=name)
        ax.set_title(panel_title, fontsize=9, loc="left")
        ax.grid(True, color="0.9")
        if y_range is not None:
            ax.set_ylim(*y_range)
        if series:
            ax.legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("step")
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)
    return tuple(int(round(v)) for v in figure.get_size_inches() * DPI)


def plot_gan_log(path, records, title=None):
    """The curves of a GAN run from its log records (``log.jsonl``): the losses, D's outputs, and, when
    some records hold an evaluation (``--eval-every``), FID (with KID beside it) and SWD's g."""
    series = lambda key: [record.get(key) for record in records]
    logged = lambda key: any(record.get(key) is not None for record in records)
    panels = [
        ("losses (binary cross-entropy)", {"d_loss": series("d_loss"), "a_loss": series("a_loss")}, None),
        ("discriminator outputs, P(fake): a balanced game keeps both near 0.5",
         {"D(x) real": series("d_x"), "D(G(z)) fake": series("d_g_z")}, (0.0, 1.0)),
    ]
    if logged("fid"):
        panels.append(("FID against the test images (lower is better)", {"FID": series("fid")}, None))
    if logged("g"):
        panels.append(("g = (untrained - SWD) / (untrained - floor): 0 untrained, 1 as close as real images",
                       {"g": series("g")}, None))
    return plot_curves(path, series("step"), panels, size=(900, 250 * len(panels) + 60), title=title)
