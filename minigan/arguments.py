"""The checks of what a user passes in: every public argument of minigan that is a number, a flag, a name
from a table or a size goes through one of these, so a wrong value fails at once, with one kind of message
-- who (the layer, the function), which argument, what was expected and what came:

    ValueError: Dense 'dense': units must be an int in 1.., got True (a bool)
    ValueError: RMSprop: rho must be a number in [0, 1), got 1.5
    ValueError: Dense 'dense': weight 'dense/kernel' of shape (3, 1000000000000) would take 12 TB, more
                than the 4 GiB one array may take

    integer(value, name, owner, low=1, high=None)    an int (a NumPy int too; not a bool, not 2.0)
    number(value, name, owner, low, high, ...)       a real number (not a bool), finite, in the range, and one
                                                     that float32 holds: lr=1e39 is finite in float64, but the
                                                     first float32 step makes it inf
    flag(value, name, owner)                         True or False
    lookup(table, identifier, what, hint)            a function by name ('relu', 'adam', 'mse'), or a callable
    check_size(shape, itemsize, what, owner)         refuse, before allocating, an array over MAX_ARRAY_BYTES

>>> number(0.9, "rho", "RMSprop", 0, 1, high_open=True)
0.9
>>> number(1e39, "learning_rate", "RMSprop", 0)
Traceback (most recent call last):
...
ValueError: RMSprop: learning_rate must be a finite number in [0, 3.40282e+38] (it meets float32 arrays), got 1e+39
"""

import math
import numbers

from .backend import numpy as np

FLOAT32_MAX = float(np.finfo(np.float32).max)  # 3.4028235e38: beyond it, float32 is inf

# No one array minigan makes for a user -- a weight, a layer's output, a picture -- may take more: a typo
# such as Dense(10**12) or UpSampling2D(10**6) fails with a message instead of eating the machine's memory.
# (The book's biggest weight is 4 MB; the biggest activation of FID's network at batch 32, 180 MB.)
MAX_ARRAY_BYTES = 1 << 32  # 4 GiB


def _got(value):
    return f"{value!r} (a bool)" if isinstance(value, (bool, np.bool_)) else repr(value)


def integer(value, name, owner, low=1, high=None):
    """``value`` as an int in [low, high] (``high=None``: no upper end), or a ValueError naming it."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if not ok or value < low or (high is not None and value > high):
        span = f"{low}..{'' if high is None else high}"
        raise ValueError(f"{owner}: {name} must be an int in {span}, got {_got(value)}")
    return int(value)


def number(value, name, owner, low=-math.inf, high=math.inf, low_open=False, high_open=False, float32=True):
    """``value`` as a float: a real number (not a bool, not a string), finite, in the range (open ends where
    asked) and, with ``float32``, one that float32 holds (so neither inf nor 0 once cast)."""
    clamped = float32 and (low < -FLOAT32_MAX or high > FLOAT32_MAX)  # the range ends where float32 does
    if float32:
        low, high = max(low, -FLOAT32_MAX), min(high, FLOAT32_MAX)
    is_number = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    x = float(value) if is_number else math.nan
    in_range = (x > low if low_open else x >= low) and (x < high if high_open else x <= high)
    if not (is_number and math.isfinite(x) and in_range):
        span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        where = " (it meets float32 arrays)" if clamped else ""
        raise ValueError(f"{owner}: {name} must be a finite number in {span}{where}, got {_got(value)}")
    if float32 and x != 0 and np.float32(x) == 0:
        raise ValueError(f"{owner}: {name} = {x!r} is too small for float32, where it becomes 0")
    return x


def flag(value, name, owner):
    """``value`` as a bool: True or False only (``use_bias="no"`` is an error, not True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def lookup(table, identifier, what, hint):
    """``table[identifier]`` for a name, ``identifier`` itself if it is callable; else a ValueError that lists
    the names (and says what else would do: ``hint``)."""
    if callable(identifier):
        return identifier
    if not isinstance(identifier, str) or identifier not in table:
        raise ValueError(f"unknown {what} {identifier!r}; expected one of {sorted(table)} {hint}")
    return table[identifier]


def format_bytes(count):
    """12 TB, 4 GiB...: a size as a person reads it."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count} bytes"


def check_size(shape, itemsize, what, owner):
    """Raise before ``shape`` x ``itemsize`` bytes are allocated if that is over MAX_ARRAY_BYTES."""
    count = math.prod(int(n) for n in shape) * int(itemsize)
    if count > MAX_ARRAY_BYTES:
        raise ValueError(f"{owner}: {what} of shape {tuple(shape)} would take {format_bytes(count)}, more than "
                         f"the {MAX_ARRAY_BYTES >> 30} GiB one array may take (minigan.arguments.MAX_ARRAY_BYTES)")
    return count
