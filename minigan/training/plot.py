"""The loss-curve picture, drawn with Pillow: no plotting library needed.

``plot_curves`` draws panels stacked vertically, each with its own y axis, sharing the x axis (steps).
With more steps than pixel columns, each column shows the range (min..max, light) and the mean (dark)
of the steps that fall into it: a GAN's losses jump from step to step, and the band shows how much.

>>> import tempfile
>>> from pathlib import Path
>>> from minigan.backend import numpy as np
>>> steps = np.arange(500)
>>> path = Path(tempfile.mkdtemp()) / "curves.png"
>>> img = plot_curves(path, steps, [("losses", {"d_loss": 0.7 + 0.01 * np.sin(steps)}, None),
...                                 ("D outputs", {"D(x)": np.full(500, 0.4)}, (0, 1))])
>>> img.size, path.exists()
((900, 620), True)
"""

import math

from PIL import Image, ImageDraw, ImageFont

from ..backend import numpy as np
from ..preprocessing.image import save_img

COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207)]
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 26, 30


def nice_ticks(low, high, count=5):
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten.

    >>> nice_ticks(0, 1)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    if not high > low:
        high = low + 1.0
    raw = (high - low) / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10) if m * power >= raw), default=10 * power)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int((high - first) / step + 1e-9) + 1)]


def _label(value):
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.0e}"


def _y_range(series):
    """(low, high) for the values; a few huge spikes (a GAN's first steps) do not flatten the rest."""
    values = np.concatenate([np.asarray(v, dtype=np.float64) for v in series.values()])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    p99 = float(np.percentile(values, 99))
    if high - low > 5 * (p99 - low) > 0:
        high = p99 * 1.2 if p99 > 0 else p99 + 1.0
    pad = 0.05 * (high - low or 1.0)
    return low - pad, high + pad


def _columns(steps, values, x_of):
    """Per pixel column: (x, mean, min, max) of the finite values that fall into it."""
    xs = np.floor(x_of(steps)).astype(np.int64)
    finite = np.isfinite(values)
    xs, values = xs[finite], values[finite]
    out = []
    for x in np.unique(xs):
        v = values[xs == x]
        out.append((int(x), float(v.mean()), float(v.min()), float(v.max())))
    return out


def _draw_panel(draw, font, box, steps, title, series, y_range, x_range):
    left, top, right, bottom = box
    x0, x1 = x_range
    y0, y1 = y_range if y_range is not None else _y_range(series)
    x_of = lambda s: left + (np.asarray(s, dtype=np.float64) - x0) * (right - left) / (x1 - x0 or 1)
    y_of = lambda v: bottom - (min(max(v, y0), y1) - y0) * (bottom - top) / (y1 - y0)
    draw.rectangle(box, outline=(0, 0, 0))
    for tick in nice_ticks(y0, y1):
        y = y_of(tick)
        draw.line([(left, y), (right, y)], fill=(225, 225, 225))
        draw.text((left - 6, y), _label(tick), fill=(0, 0, 0), font=font, anchor="rm")
    for tick in nice_ticks(x0, x1, 8):
        x = float(x_of(tick))
        draw.line([(x, top), (x, bottom)], fill=(235, 235, 235))
        draw.text((x, bottom + 4), _label(tick), fill=(0, 0, 0), font=font, anchor="ma")
    draw.text((left, top - 4), title, fill=(0, 0, 0), font=font, anchor="ld")
    lines = []
    for (name, values), color in zip(series.items(), COLORS):  # first every band, then every line on top
        values = np.asarray(values, dtype=np.float64)
        light = tuple(c + (255 - c) * 2 // 3 for c in color)
        columns = _columns(np.asarray(steps), values, x_of)
        if len(columns) < len(values):  # several steps per pixel column: range band + mean line
            for x, _, low, high in columns:
                draw.line([(x, y_of(low)), (x, y_of(high))], fill=light)
            points = [(x, y_of(mean)) for x, mean, _, _ in columns]
        else:
            points = [(float(x_of(s)), y_of(v)) for s, v in zip(steps, values) if math.isfinite(v)]
        lines.append((name, color, points))
    legend_x = left + 8
    for name, color, points in lines:
        if len(points) > 1:
            draw.line(points, fill=color, width=2)
        elif points:
            draw.ellipse([points[0][0] - 2, points[0][1] - 2, points[0][0] + 2, points[0][1] + 2], fill=color)
        draw.rectangle([legend_x, top + 8, legend_x + 14, top + 14], fill=color)
        draw.text((legend_x + 18, top + 11), name, fill=(0, 0, 0), font=font, anchor="lm")
        legend_x += 26 + int(draw.textlength(name, font=font))


def plot_gan_log(path, records, title=None):
    """The loss curve of a GAN run from its log records (``log.jsonl``): the losses, D's outputs and, when
    some records hold an evaluation (``swd``, ``g``: ``--eval-every``), SWD with its floor and g."""
    series = lambda key: [record.get(key) for record in records]
    panels = [
        ("losses (binary cross-entropy)", {"d_loss": series("d_loss"), "a_loss": series("a_loss")}, None),
        ("discriminator outputs: P(fake); healthy runs hover near 0.5",
         {"D(x) real": series("d_x"), "D(G(z)) fake": series("d_g_z")}, (0.0, 1.0)),
    ]
    g = [value for value in series("g") if value is not None]
    if g:
        panels += [("SWD x 1e3 of the samples against the test images (lower is better)",
                    {"SWD": series("swd"), "floor (real images)": series("swd_floor"),
                     "untrained": series("swd_untrained")}, None),
                   ("g = (untrained - SWD) / (untrained - floor): 0 untrained, 1 as close as real images",
                    {"g": series("g")}, (min(0.0, min(g)), 1.0))]
    return plot_curves(path, series("step"), panels, size=(900, 310 * len(panels)), title=title)


def plot_curves(path, steps, panels, size=(900, 620), title=None):
    """Draw ``panels`` over ``steps`` and save a PNG at ``path`` (atomically); returns the PIL image.

    steps   the x values (e.g. training steps), one per point
    panels  a list of ``(title, {series name: values}, y_range)``; ``y_range`` is ``(low, high)``, or
            None to fit the values. Values may be NaN or None (a gap). At most 6 series per panel.
    """
    steps = np.asarray(steps, dtype=np.float64)
    width, height = size
    img = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    if title:
        draw.text((width // 2, 4), title, fill=(0, 0, 0), font=font, anchor="ma")
    x_range = (float(steps.min()), float(steps.max())) if steps.size else (0.0, 1.0)
    panel_height = (height - 16) // max(1, len(panels))
    for i, (panel_title, series, y_range) in enumerate(panels):
        series = {name: [np.nan if v is None else v for v in values] for name, values in series.items()}
        top = 16 + i * panel_height + MARGIN_TOP
        bottom = 16 + (i + 1) * panel_height - MARGIN_BOTTOM
        _draw_panel(draw, font, (MARGIN_LEFT, top, width - MARGIN_RIGHT, bottom), steps, panel_title, series,
                    y_range, x_range)
    save_img(path, img, file_format="png")
    return img
