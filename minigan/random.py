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

A :class:`Stream` is the other kind of source: an independent generator owned by *one* object (a
DiffAugment call site, say), drawing on the host, so that its numbers and its saved state are the same
on NumPy and CuPy, and several stateful things in one run can each be checkpointed exactly.
"""

import contextlib
import json

from . import backend

_seed = None
_generators = {}  # backend name -> generator; rebuilt by seed()


def seed(value):
    """Reseed minigan's generators (all backends)."""
    global _seed
    _seed = _check_seed(value, "minigan.random.seed: ")  # -1 or 1.5 fail here, not at the first draw
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
    if isinstance(text, backend.numpy.ndarray) and text.ndim == 0 and text.dtype.kind == "U":
        text = str(text[()])  # as an npz file gives it back
    try:
        state = json.loads(text)
        problem = None if isinstance(state, dict) and "seed" in state else "no 'seed'"
    except (TypeError, ValueError) as error:
        state, problem = None, f"invalid JSON ({error})"
    if problem is None and "numpy" in state:
        problem = _pcg64_problem(state["numpy"])
    if problem is None and state["seed"] is not None:  # None: never seeded
        try:
            _check_seed(state["seed"], "")
        except (TypeError, ValueError) as error:
            problem = str(error)
    if problem:
        raise ValueError(f"minigan.random.set_state: not a state written by minigan.random.get_state: {problem}")
    global _seed
    _seed = state["seed"]
    _generators.clear()
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
    _seed, _generators = _check_seed(value, "minigan.random.scoped_seed: "), {}
    try:
        yield
    finally:
        _seed, _generators = saved


# ---------------------------------------------------------------------------------------------------
# Streams: one independent generator per owner, drawing on the host
# ---------------------------------------------------------------------------------------------------
STREAM_KIND = "minigan.random.Stream"  # written into every Stream state; set_state refuses anything else


class Stream:
    """An independent, seeded source of random numbers, owned by one object.

    Draws happen on the host with NumPy's PCG64 (``numpy.random.default_rng(seed)``) whatever the active
    backend, so the same seed gives the same numbers on NumPy and on CuPy, and the state saves and
    restores exactly on both. A stream is meant for small draws -- per-sample factors, shifts, offsets.
    Every method returns a host NumPy array; moving it to the arrays it acts on is the caller's one line,
    ``get_array_module(x).asarray(values)`` (a few hundred bytes per batch). Noise the size of a batch of
    images belongs to the module-level generator above, which draws on the device.

    Streams share nothing, with each other or with ``seed``/``normal``/``uniform`` above: drawing from one
    never changes what another draws next.

    >>> a, b = Stream(7), Stream(7)
    >>> a.integers(0, 10, (5,)).tolist() == b.integers(0, 10, (5,)).tolist()    # same seed, same numbers
    True
    >>> state = a.get_state()                       # one JSON string: seed and PCG64 state
    >>> after = a.uniform((3,))
    >>> a.set_state(state)
    >>> bool((a.uniform((3,)) == after).all())      # continues bit for bit
    True
    >>> a.uniform((2,)).dtype, a.integers(-4, 5, (2,)).dtype
    (dtype('float32'), dtype('int64'))
    """

    def __init__(self, seed):
        self.seed = _check_seed(seed, "Stream: ")
        self._generator = backend.numpy.random.default_rng(self.seed)

    def __repr__(self):
        return f"Stream(seed={self.seed})"

    def uniform(self, shape, low=0.0, high=1.0, dtype=None):
        """Samples of U[low, high) with the given shape, a host array (float32 by default)."""
        u = backend.numpy.asarray(self._generator.random(size=shape, dtype=_dtype(dtype)))
        if low != 0.0 or high != 1.0:
            u = u * u.dtype.type(high - low) + u.dtype.type(low)
        return u

    def normal(self, shape, mean=0.0, std=1.0, dtype=None):
        """Samples of N(mean, std^2) with the given shape, a host array (float32 by default)."""
        z = backend.numpy.asarray(self._generator.standard_normal(size=shape, dtype=_dtype(dtype)))
        if mean != 0.0 or std != 1.0:
            z = z * z.dtype.type(std) + z.dtype.type(mean)
        return z

    def integers(self, low, high, shape):
        """Integers uniform on [low, high) -- ``high`` excluded, as in ``range`` -- a host int64 array."""
        if not high > low:
            raise ValueError(f"Stream.integers: the range [low, high) is empty: low={low}, high={high}")
        return backend.numpy.asarray(self._generator.integers(low, high, size=shape, dtype=backend.numpy.int64))

    def get_state(self):
        """The whole state as one JSON string, ``{"kind": "minigan.random.Stream", "seed": s,
        "bit_generator": <numpy's PCG64 state dict>}``: a checkpoint stores it without pickle (an npz
        file keeps a string as a 0-d unicode array)."""
        state = self._generator.bit_generator.state  # a dict of ints (the 128-bit ones too): JSON keeps them exact
        return json.dumps({"kind": STREAM_KIND, "seed": self.seed, "bit_generator": state})

    def set_state(self, state):
        """Continue exactly where the stream that wrote ``state`` (see :meth:`get_state`) was; its seed too.

        ``state`` is the JSON string, or the 0-d unicode array that an npz file gives back. It is checked
        in full before anything changes: a foreign or corrupt state raises ValueError and leaves this stream
        as it was.
        """
        if isinstance(state, backend.numpy.ndarray) and state.ndim == 0 and state.dtype.kind == "U":
            state = str(state[()])
        if not isinstance(state, str):
            raise TypeError(f"Stream.set_state expects the JSON string written by Stream.get_state, "
                            f"got {type(state).__name__}")
        self.seed, self._generator = _parse_stream_state(state)


def _check_seed(seed, where):
    """``seed`` as an int, or an error starting with ``where``: a seed is a non-negative int (not a bool)."""
    if isinstance(seed, (bool, backend.numpy.bool_)) or not isinstance(seed, (int, backend.numpy.integer)):
        raise TypeError(f"{where}seed must be a non-negative int, got {seed!r} (a {type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"{where}seed must be a non-negative int, got {int(seed)}")
    return int(seed)


def _parse_stream_state(text):
    """(seed, generator) from a Stream state, or a ValueError saying what is wrong with it."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ValueError(f"Stream.set_state: not a Stream state: invalid JSON ({error})") from None
    if not isinstance(data, dict) or data.get("kind") != STREAM_KIND:
        found = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"Stream.set_state: not a Stream state: expected a JSON object with kind "
                         f"{STREAM_KIND!r} (as Stream.get_state writes), got kind {found!r}")
    problem = _pcg64_problem(data.get("bit_generator"))
    try:
        seed = _check_seed(data.get("seed"), "")
    except (TypeError, ValueError) as error:
        problem = problem or str(error)
    if problem:
        raise ValueError(f"Stream.set_state: corrupt Stream state: {problem}")
    generator = backend.numpy.random.default_rng()
    generator.bit_generator.state = data["bit_generator"]
    return seed, generator


def _pcg64_problem(bits):
    """What is wrong with ``bits`` as NumPy's PCG64 state dict, or None. (NumPy's own setter checks less:
    it takes a float, or an even increment, without a word.)"""
    keys = {"bit_generator", "state", "has_uint32", "uinteger"}
    if not isinstance(bits, dict) or bits.get("bit_generator") != "PCG64" or set(bits) != keys:
        return f"bit_generator must be NumPy's PCG64 state, with keys {sorted(keys)}; got {bits!r}"
    inner = bits["state"]
    if not isinstance(inner, dict) or set(inner) != {"state", "inc"}:
        return f"bit_generator.state must have the keys 'state' and 'inc', got {inner!r}"
    for name, value, size in (("state.state", inner["state"], 128), ("state.inc", inner["inc"], 128),
                              ("uinteger", bits["uinteger"], 32), ("has_uint32", bits["has_uint32"], 1)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**size:
            return f"bit_generator.{name} must be an int in [0, 2**{size}), got {value!r}"
    if inner["inc"] % 2 == 0:
        return f"bit_generator.state.inc must be odd (every PCG64 increment is), got {inner['inc']}"
    return None
