"""GAN vital signs: three ways a run fails that its losses do not shout about, checked at every save.

A GAN's losses stay roughly flat whether it is learning or not, so a run of hours can go wrong
unnoticed. These checks are cheap (the 64 fixed-noise grid images, a few numbers of the log) and
each names what it saw:

    d_wins    The discriminator wins outright. With the book's labels (fake = 1, real = 0) D outputs
              P(fake), and the log's ``d_x`` and ``d_g_z`` are its mean outputs on the real and the
              generated images. D wins when D(x) -> 0 (real frogs called real) *and* D(G(z)) -> 1
              (fakes called fake): mean D(x) < ``margin`` and mean D(G(z)) > 1 - ``margin`` in each of
              the last ``saves`` save windows. The generator's gradient then comes from a saturated
              sigmoid and it stops improving. (A balanced game keeps both near 0.5.)
    collapse  The fixed-noise batch collapses: its within-batch diversity (mean distance from each
              image to its nearest *other* image, pixels in [0, 1]) falls below ``collapse_ratio``
              times that of as many real images. The same latent vectors at every save, so a drop is
              the generator's doing, not the noise's.
    range     The generator's pixels do not fit the data range: more than ``range_fraction`` of them
              lie outside it. Only possible with the book's real images in [0, 1] against a tanh
              output in [-1, 1] (``--fix-range`` off): every negative pixel tells D "fake".

A freshly initialised generator draws near-uniform grey images (no diversity; half its pixels below
0), so ``collapse`` and ``range`` are measured from the start but raise no alarm before step
``warmup``.

>>> vitals = VitalSigns(value_range=(0.0, 1.0), window=2, saves=2)
>>> for d_x, d_g_z in [(0.5, 0.5), (0.5, 0.6), (0.05, 0.97), (0.02, 0.99), (0.01, 0.98), (0.03, 0.99)]:
...     vitals.observe({"d_x": d_x, "d_g_z": d_g_z})
>>> vitals.discriminator_wins()
True
"""

from collections import deque

from ..backend import get_array_module
from ..backend import numpy as np
from ..metrics import nearest_neighbour_distances, to_uint8

ALARMS = ("d_wins", "collapse", "range")


def batch_diversity(images):
    """Mean distance from each uint8 image to its nearest other image of the same batch (pixels in [0, 1]);
    None for a batch of one (``--grid 1``), which has no other image."""
    if len(images) < 2:
        return None
    return float(nearest_neighbour_distances(images, images, exclude_self=True).mean())


def out_of_range_fraction(x, value_range):
    """Fraction of the values of ``x`` (generator output) more than half a grey level outside ``value_range``."""
    xp = get_array_module(x)
    low, high = value_range
    tolerance = 0.5 / 255.0 * (high - low)
    return float(xp.mean((x < low - tolerance) | (x > high + tolerance)))


class VitalSigns:
    """The three checks of the module doc, for one run.

    value_range     the data's range: (0, 1) for the book, (-1, 1) with fix_range
    window          steps between two saves (``--save-every``): D's outputs are averaged per window
    real_images     a batch of real training images in ``value_range`` (the grid's size), for diversity
    history         earlier log records (a resumed run), so ``d_wins`` sees the windows before it
    """

    def __init__(self, value_range, window, real_images=None, history=(), *, saves=3, margin=0.1,
                 collapse_ratio=0.5, range_fraction=0.1, warmup=500):
        self.value_range, self.window, self.saves, self.margin = value_range, int(window), int(saves), margin
        self.collapse_ratio, self.range_fraction, self.warmup = collapse_ratio, range_fraction, warmup
        self.real_diversity = None if real_images is None else batch_diversity(to_uint8(real_images, value_range))
        self.d_x, self.d_g_z = deque(maxlen=self.window * self.saves), deque(maxlen=self.window * self.saves)
        self.active = set()
        for record in history:
            self.observe(record)

    def observe(self, record):
        """Remember D's outputs of one step (a log record with ``d_x`` and ``d_g_z``)."""
        if record.get("d_x") is not None and record.get("d_g_z") is not None:
            self.d_x.append(record["d_x"])
            self.d_g_z.append(record["d_g_z"])

    def discriminator_wins(self):
        """True when D won outright in each of the last ``saves`` windows (see the module doc)."""
        if len(self.d_x) < self.d_x.maxlen:
            return False
        d_x, d_g_z = list(self.d_x), list(self.d_g_z)
        for start in range(0, len(d_x), self.window):
            real, fake = np.mean(d_x[start:start + self.window]), np.mean(d_g_z[start:start + self.window])
            if not (real < self.margin and fake > 1.0 - self.margin):
                return False
        return True

    def check(self, step, grid):
        """Measure the fixed-noise ``grid`` (generator output, on any backend) and D's recent outputs.

        Returns the fields for the log record: ``grid_diversity`` (ratio to real images, when a real
        batch was given), ``grid_out_of_range`` and ``alarms`` (a sorted list of names from ALARMS).
        """
        fields = {"grid_out_of_range": round(out_of_range_fraction(grid, self.value_range), 4)}
        alarms = ["d_wins"] if self.discriminator_wins() else []
        if self.real_diversity:
            fields["grid_diversity"] = round(batch_diversity(to_uint8(grid, self.value_range)) / self.real_diversity, 4)
        if step >= self.warmup:
            if fields.get("grid_diversity", 1.0) < self.collapse_ratio:
                alarms.append("collapse")
            if fields["grid_out_of_range"] > self.range_fraction:
                alarms.append("range")
        fields["alarms"] = sorted(alarms)
        return fields

    def messages(self, step, fields):
        """Lines to print for alarms that start or stop at this check (an active alarm is said once)."""
        now = set(fields["alarms"])
        lines = [f"step {step}: ALARM {name}: {self.explain(name, fields)}" for name in sorted(now - self.active)]
        lines += [f"step {step}: alarm {name} cleared" for name in sorted(self.active - now)]
        self.active = now
        return lines

    def explain(self, name, fields):
        if name == "d_wins":
            return (f"the discriminator wins outright: over the last {self.saves} x {self.window} steps it called "
                    f"real images fake with p = {np.mean(self.d_x):.3f} and fakes fake with p = "
                    f"{np.mean(self.d_g_z):.3f} (a balanced game keeps both near 0.5); the generator learns little")
        if name == "collapse":
            return (f"the fixed-noise grid is collapsing: its images are {fields['grid_diversity']:.2f} x as varied "
                    f"as real ones (nearest-neighbour distance; alarm below {self.collapse_ratio})")
        low, high = self.value_range
        return (f"{100 * fields['grid_out_of_range']:.0f}% of the generator's pixels lie outside the data range "
                f"[{low:g}, {high:g}]: the discriminator can spot fakes by range alone (the book's tanh output "
                f"is in [-1, 1]; --fix-range scales the real images to match)")
