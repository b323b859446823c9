"""The one way minigan stores arrays: an npz file (NumPy's zip of .npy members), written atomically,
read with ``allow_pickle=False``. Weights files and checkpoints are both this.

    save_arrays(path, {name: value})      numbers, bools, strings (as 0-d unicode) and arrays; nothing else
    load_arrays(path, required=())        {name: host array}, checked: a readable npz, the names present,
                                          and no member bigger than the file could honestly hold
    flatten({"a": {"b": x}}) == {"a/b": x};   section(flat, "a") == {"b": x}

Why npz: any NumPy reads it (``numpy.load``), it holds exactly arrays and names, and with
``allow_pickle=False`` opening one can never run code. Why atomic: a checkpoint is rewritten every
few minutes for hours; a crash or Ctrl-C mid-write must leave the previous file whole
(``files.atomic_path``: temporary file, fsync, rename).

Every problem is one exception, :class:`StateFileError`, whose message names the file and, where it
applies, the entry:

>>> import tempfile
>>> from pathlib import Path
>>> from minigan.backend import numpy as np
>>> path = Path(tempfile.mkdtemp()) / "state.npz"
>>> save_arrays(path, flatten({"model": {"dense/kernel": np.ones((2, 3), np.float32)}, "step": 7, "note": "hi"}))
>>> flat = load_arrays(path, required=["step"])
>>> sorted(flat), section(flat, "model")["dense/kernel"].shape, int(flat["step"]), as_str(flat["note"])
(['model/dense/kernel', 'note', 'step'], (2, 3), 7, 'hi')
>>> load_arrays(path, required=["cursor"])
Traceback (most recent call last):
...
minigan.serialization.StateFileError: ...state.npz: lacks the entry 'cursor' (it holds model/dense/kernel, note, step)
"""

import math
import os
import zipfile

from .backend import numpy as np
from .backend import to_numpy
from .files import atomic_path

# A member's header says its shape; a file cannot make the loader allocate more than this per member
# (the biggest real member, the book generator's dense kernel, is 4 MB; the FID network's biggest 6 MB).
MAX_MEMBER_BYTES = 1 << 32  # 4 GiB


class StateFileError(ValueError):
    """A weights or checkpoint file is missing, unreadable, lacks an entry, or an entry cannot be used."""


class NonFiniteStateError(StateFileError):
    """An array that must be finite (a checkpoint's weights, optimizer state) holds NaN or inf."""


def to_storable(value, name="value"):
    """A host NumPy array for ``value``: arrays and Tensors (NumPy or CuPy), numbers, bools and strings."""
    if isinstance(value, str):
        return np.array(value, dtype=np.str_)  # 0-d unicode array: no pickle needed
    array = np.asarray(to_numpy(value))
    if array.dtype.kind not in "biufcU":
        raise StateFileError(f"entry {name!r} has dtype {array.dtype} (from a {type(value).__name__}); only "
                             f"numbers, bools and strings can be stored without pickle")
    return array


def as_str(array):
    """The string stored by ``to_storable`` (a 0-d unicode array)."""
    return str(array[()])


def flatten(tree, prefix=""):
    """``{"a": {"b": x}, "c": y}`` -> ``{"a/b": x, "c": y}``, values made storable (``to_storable``)."""
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        else:
            flat[name] = to_storable(value, name)
    return flat


def section(flat, prefix):
    """The entries of ``flat`` under ``prefix/``, with that prefix removed (deeper "/" are kept).

    >>> section({"g/dense/kernel": 1, "g/dense/bias": 2, "d/x": 3}, "g")
    {'dense/kernel': 1, 'dense/bias': 2}
    """
    start = prefix + "/"
    return {key[len(start):]: value for key, value in flat.items() if key.startswith(start)}


def non_finite_entry(flat):
    """The name of the first floating-point array of ``flat`` holding NaN or inf, else None."""
    for name, array in flat.items():
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            return name
    return None


def file_path(path):
    """``path`` (a str or a pathlib.Path) as a str, or a TypeError saying that a path was expected."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"expected a file path (a str or pathlib.Path), got {path!r}")
    return os.fspath(path)


def _check_members(archive, path):
    """Every member is a .npy array whose header claims no more bytes than the member holds: a crafted
    file cannot make ``numpy.load`` allocate (header shape times itemsize) what it does not contain."""
    for info in archive.infolist():
        if info.file_size > MAX_MEMBER_BYTES:
            raise StateFileError(f"{path}: entry {info.filename!r} claims {info.file_size} bytes, more than "
                                 f"the {MAX_MEMBER_BYTES} allowed; not a minigan file")
        if not info.filename.endswith(".npy"):
            raise StateFileError(f"{path}: entry {info.filename!r} is not an array (.npy); not a minigan file")
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            shape, _, dtype = read.get(version, lambda f: np.lib.format._read_array_header(f, version))(member)
        claimed = math.prod(shape) * dtype.itemsize
        if claimed > info.file_size:
            raise StateFileError(f"{path}: entry {info.filename[:-4]!r} claims an array of shape {shape} "
                                 f"({claimed} bytes) but holds {info.file_size} bytes; the file is damaged or crafted")


def save_arrays(path, arrays, require_finite=False):
    """Write ``{name: value}`` to ``path`` as an uncompressed npz, atomically (whatever the file's suffix).

    ``require_finite``: refuse (``NonFiniteStateError``, nothing written) if a float array holds NaN or
    inf -- a checkpoint that cannot be resumed from is worse than none.
    """
    path = file_path(path)
    arrays = {name: to_storable(value, name) for name, value in arrays.items()}
    if require_finite:
        bad = non_finite_entry(arrays)
        if bad is not None:
            raise NonFiniteStateError(f"{path}: not written: entry {bad!r} holds NaN or inf")
    try:
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as f:  # a file object: numpy.savez(name) would append ".npz" to the name
                np.savez(f, **arrays)
    except OSError as error:  # a full disk, a read-only folder: the old file is untouched
        message = error.strerror or str(error)  # atomic_path's errors name the file already
        raise StateFileError(message if path in message else f"{path}: could not be written ({message}); the "
                             f"previous file, if any, is unchanged") from None


def load_arrays(path, required=()):
    """``{name: host array}`` read from the npz ``path`` with ``allow_pickle=False``; see the module doc."""
    path = file_path(path)
    if not os.path.isfile(path):
        raise StateFileError(f"{path}: no such file" if not os.path.exists(path) else f"{path}: not a file")
    try:
        with zipfile.ZipFile(path) as archive:  # check sizes before NumPy allocates anything
            _check_members(archive, path)
        with np.load(path, allow_pickle=False) as npz:
            flat = {}
            for name in npz.files:
                flat[name] = npz[name]
    except StateFileError:
        raise
    except Exception as error:  # BadZipFile, a pickled member (ValueError), a truncated member, ...
        raise StateFileError(f"{path}: not a readable npz file ({error.__class__.__name__}: {error})") from None
    missing = [name for name in required if name not in flat]
    if missing:
        held = ", ".join(sorted(flat)[:8]) + (", ..." if len(flat) > 8 else "")
        raise StateFileError(f"{path}: lacks the entry {missing[0]!r} (it holds {held})")
    return flat


def finite_or_none(value):
    """A report as strict JSON allows it: NaN and inf become None, in nested dicts and lists too.

    >>> finite_or_none({"g": float("nan"), "levels": [1.0, float("inf")]})
    {'g': None, 'levels': [1.0, None]}
    """
    if isinstance(value, dict):
        return {key: finite_or_none(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value
