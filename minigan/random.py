"""Seeded random numbers that do not depend on which backend is active.

One generator per backend, created from one seed. On NumPy the numbers come from a
PCG64 ``numpy.random.Generator``, so the same seed gives the same numbers run after
run; on CuPy from ``cupy.random.Generator`` seeded the same way (reproducible on the
GPU, but not the same numbers as on NumPy). Layers draw their initial weights and
dropout masks here, so ``minigan.random.seed(0)`` makes a whole run repeatable.

>>> import minigan
>>> minigan.random.seed(0)
>>> a = minigan.to_numpy(minigan.random.normal((2,)))
>>> minigan.random.seed(0)
>>> bool((a == minigan.to_numpy(minigan.random.normal((2,)))).all())
True
"""

import contextlib
import json

from . import backend

_seed = None
_generators = {}  # backend name -> generator; rebuilt by seed()


def seed(value):
    """Reseed minigan's generators (all backends)."""
    global _seed
    _seed = int(value)
    _generators.clear()


def _generator():
    name = backend.get_backend()
    if name not in _generators:
        xp = backend.array_module()
        _generators[name] = xp.random.default_rng(_seed)
    return _generators[name]


def _dtype(dtype):
    return backend.DEFAULT_DTYPE if dtype is None else dtype


def normal(shape, mean=0.0, std=1.0, dtype=None):
    """Samples of N(mean, std^2) with the given shape, on the active backend (float32 by default)."""
    z = _generator().standard_normal(size=shape, dtype=_dtype(dtype))
    if mean != 0.0 or std != 1.0:
        z *= std
        z += mean
    return z


def uniform(shape, low=0.0, high=1.0, dtype=None):
    """Samples of U[low, high) with the given shape, on the active backend (float32 by default)."""
    u = _generator().random(size=shape, dtype=_dtype(dtype))
    if low != 0.0 or high != 1.0:
        u *= high - low
        u += low
    return u


def bernoulli_mask(shape, keep_prob, dtype=None):
    """A mask of ones (probability ``keep_prob``) and zeros, as floats: the mask of inverted dropout."""
    return (uniform(shape, dtype=dtype) < keep_prob).astype(_dtype(dtype))


def get_state():
    """The NumPy generator's full state as a JSON string, so that a checkpoint can restore it exactly.

    (CuPy's generator state is not exposed by CuPy; a resumed CuPy run is reseeded instead.)
    """
    state = {"seed": _seed}
    if "numpy" in _generators:
        state["numpy"] = _generators["numpy"].bit_generator.state
    return json.dumps(state)


def set_state(text):
    """Restore a state written by :func:`get_state`."""
    state = json.loads(text)
    seed(state["seed"])
    if "numpy" in state:
        generator = backend.numpy.random.default_rng()
        generator.bit_generator.state = state["numpy"]
        _generators["numpy"] = generator


@contextlib.contextmanager
def scoped_seed(value):
    """Inside the block, draws come from fresh generators seeded with ``value``; afterwards the outer
    stream continues exactly where it was, as if the block had drawn nothing (also on CuPy).

    For side work during training -- building a freshly initialised model to compare against, say --
    that must not change the numbers the training loop draws next.

    >>> seed(0)
    >>> with scoped_seed(7):
    ...     inner = float(normal((1,))[0])
    >>> after = float(normal((1,))[0])
    >>> seed(0)
    >>> after == float(normal((1,))[0])
    True
    """
    global _seed, _generators
    saved = _seed, _generators
    _seed, _generators = int(value), {}
    try:
        yield
    finally:
        _seed, _generators = saved
