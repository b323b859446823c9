"""The one seam for arrays: NumPy on the CPU or CuPy on a CUDA GPU.

Every other module of minigan asks this one for its array library instead of
importing numpy or cupy itself (``tests/test_backend.py`` scans the package to
keep it that way). Two idioms cover everything:

* ``xp = get_array_module(x)`` -- the library that *this* array belongs to, for
  code that must follow its inputs (an op's forward and backward);
* ``xp = array_module()`` -- the library of the *active* backend, for code that
  creates new arrays (weights, noise, data put on the device).

``numpy`` is re-exported as the host library, for code that works on host data
by definition (reading CIFAR-10 files, writing PNGs and checkpoints).

>>> import minigan
>>> minigan.get_backend()
'numpy'
>>> x = minigan.backend.asarray([1.0, 2.0])
>>> x.dtype, minigan.to_numpy(x).tolist()
(dtype('float32'), [1.0, 2.0])
"""

import contextlib
import os

import numpy  # the host array library; re-exported for host-side I/O code

BACKENDS = ("numpy", "cupy")
CUPY_INSTALL_HINT = 'pip install "minigan[cupy]"  (CuPy for CUDA 12; see https://docs.cupy.dev for others)'

# Images and weights are float32 unless asked otherwise; gradient checks use float64.
DEFAULT_DTYPE = numpy.float32

_cupy = None  # the cupy module once imported successfully
_active = "numpy"
_env_problem = None  # set when $MINIGAN_BACKEND names no backend: every use says so, until set_backend()


class BackendError(RuntimeError):
    """The requested backend cannot be used here (not installed, no GPU, or a mix of two backends)."""


def _import_cupy():
    """Import CuPy and check that a CUDA device is visible, or raise one clear BackendError."""
    global _cupy
    if _cupy is not None:
        return _cupy
    try:
        import cupy
    except Exception as error:  # ImportError, or a broken CUDA install raising at import time
        raise BackendError(
            f"the 'cupy' backend needs CuPy, which could not be imported ({error.__class__.__name__}: {error}).\n"
            f"Install it with: {CUPY_INSTALL_HINT}"
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:
        raise BackendError(
            f"the 'cupy' backend found CuPy but no usable CUDA device ({error}).\n"
            f"Check the NVIDIA driver, or use the 'numpy' backend. To reinstall: {CUPY_INSTALL_HINT}"
        ) from None
    if count < 1:
        raise BackendError("the 'cupy' backend found CuPy but no CUDA device is visible; use the 'numpy' backend.")
    _cupy = cupy
    return cupy


def set_backend(name):
    """Make ``name`` ("numpy" or "cupy") the backend that new arrays are created on.

    >>> import minigan
    >>> minigan.set_backend("numpy")
    >>> minigan.get_backend()
    'numpy'
    """
    global _active, _env_problem
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {BACKENDS}")
    if name == "cupy":
        _import_cupy()
    _active, _env_problem = name, None


def get_backend():
    """The name of the active backend: "numpy" or "cupy"."""
    if _env_problem:
        raise BackendError(_env_problem)
    return _active


@contextlib.contextmanager
def using_backend(name):
    """Temporarily switch the active backend (handy in tests and benchmarks)."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def array_module():
    """The array library (module) of the active backend: numpy or cupy."""
    if _env_problem:
        raise BackendError(_env_problem)
    if _active == "numpy":
        return numpy
    return _cupy if _cupy is not None else _import_cupy()


def is_cupy_array(a):
    """True for a CuPy array, even before minigan itself has imported CuPy."""
    if _cupy is not None:
        return isinstance(a, _cupy.ndarray)
    return type(a).__module__.partition(".")[0] == "cupy" and hasattr(a, "get")


def get_array_module(*arrays):
    """The library that the given arrays live in; raise if they live in two different ones.

    Non-array arguments (Python numbers, None) are ignored.

    >>> import numpy as np
    >>> get_array_module(np.zeros(2), 3.0).__name__
    'numpy'
    """
    found = None
    for a in arrays:
        if isinstance(a, (numpy.ndarray, numpy.generic)):
            kind = "numpy"
        elif is_cupy_array(a):
            kind = "cupy"
        else:
            continue
        if found is not None and kind != found:
            raise BackendError(
                "arrays from two backends were mixed in one operation (numpy and cupy); "
                "move them to one backend first, e.g. with minigan.backend.asarray(...) or minigan.to_numpy(...)"
            )
        found = kind
    if found == "cupy":
        return _cupy if _cupy is not None else _import_cupy()
    return numpy


def asarray(data, dtype=None):
    """Put ``data`` (nested lists, a NumPy or CuPy array) on the active backend.

    Floating data becomes ``dtype`` (float32 by default); integer and boolean data keep their dtype
    unless ``dtype`` is given. No copy is made when nothing needs to change.
    """
    xp = array_module()
    if dtype is None:
        kind = getattr(data, "dtype", None)
        if kind is None:
            kind = numpy.asarray(data).dtype
        dtype = DEFAULT_DTYPE if numpy.dtype(kind).kind == "f" else kind
    if xp is numpy and is_cupy_array(data):
        return data.get().astype(dtype, copy=False)
    return xp.asarray(data, dtype=dtype)


def to_numpy(x):
    """A host NumPy array holding the values of ``x`` (a Tensor, a CuPy or a NumPy array).

    A NumPy array is returned as it is (no copy); a CuPy array is copied to the host.
    """
    if isinstance(x, numpy.ndarray):
        return x
    if not is_cupy_array(x):
        x = getattr(x, "data", x)  # a Tensor keeps its array in .data
    if is_cupy_array(x):
        return x.get()
    return numpy.asarray(x)


def synchronize():
    """Wait for the GPU to finish queued work (no-op on NumPy); call it before reading a clock."""
    if _cupy is not None and _active == "cupy":
        _cupy.cuda.Device().synchronize()


_requested = os.environ.get("MINIGAN_BACKEND", "").strip().lower()
if _requested:
    # Chosen by the environment. CuPy is imported lazily, at the first array, so that a machine
    # without it still imports minigan and gets the clear BackendError only when arrays are made.
    # A name that is no backend is not an error at import either (a script's --backend may override it):
    # every use of the backend raises it, until set_backend() chooses one.
    if _requested not in BACKENDS:
        _env_problem = (f"the environment variable MINIGAN_BACKEND={_requested!r} names no backend; expected one "
                        f"of {', '.join(BACKENDS)} (or unset it)")
    else:
        _active = _requested
