"""Files for datasets: the cache folder, a checked download, atomic writes and a safe unpickler.

Nothing here knows about CIFAR-10; ``cifar10.py`` uses these pieces. Three promises hold:

* **Nothing half-written lands where a reader looks.** Every file and folder is first written under a
  temporary name in the same directory and then renamed with ``os.replace``, which the operating system
  performs in one step. A download cut off halfway, or a checksum that does not match, leaves only a
  temporary file behind, and that is deleted.
* **A download is checked before it is used**: its MD5 must match the published one.
* **A pickle cannot run code.** ``pickle.load`` calls whatever functions the file names; a file that names
  ``os.system`` runs a shell command. ``safe_unpickle`` allows only the handful of NumPy functions that
  rebuild an array and refuses every other name (see ``ALLOWED_GLOBALS``; the mechanism, shared with the
  TorchScript reader, is ``minigan/safe_pickle.py``).

>>> import io, pickle
>>> from minigan.backend import numpy as np
>>> blob = pickle.dumps({b"data": np.arange(3, dtype=np.uint8)}, protocol=2)
>>> safe_unpickle(io.BytesIO(blob), "example.pkl")[b"data"].tolist()
[0, 1, 2]
"""

import contextlib
import hashlib
import math
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from .. import safe_pickle
from ..files import atomic_path, minigan_home  # noqa: F401  (re-exported: datasets writes through them)
from ..backend import numpy as np


class DatasetNotFoundError(FileNotFoundError):
    """No copy of a dataset was found, and it could not be downloaded."""


class DatasetError(ValueError):
    """A dataset file exists but is not what it should be (checksum, truncated, unexpected content)."""


class UnsafePickleError(safe_pickle.UnsafePickleError, DatasetError):
    """A pickle names a function or class outside ``ALLOWED_GLOBALS``; it was not loaded.

    Both a ``DatasetError`` (a bad dataset file) and a ``minigan.safe_pickle.UnsafePickleError`` (the one
    kind of refusal every restricted load in minigan raises), so either ``except`` catches it.
    """


def cache_dir():
    """The folder that downloaded datasets are kept in: ``<minigan_home()>/datasets``."""
    return minigan_home() / "datasets"


# ---------------------------------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------------------------------
def atomic_directory(path):
    """Like ``atomic_path`` for a folder: fill the yielded temporary folder, it is renamed onto ``path``."""
    return _AtomicDirectory(Path(path))


class _AtomicDirectory:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".part"))
        return self.tmp

    def __exit__(self, kind, error, traceback):
        try:
            if kind is None:
                if self.path.exists():  # another process finished first; keep its copy
                    return False
                os.replace(self.tmp, self.path)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False


# ---------------------------------------------------------------------------------------------------
# Checked download
# ---------------------------------------------------------------------------------------------------
CHUNK = 1 << 20  # read the response 1 MiB at a time

# The function that opens a URL. Tests replace it (monkeypatch) to simulate a server or no network.
_urlopen = urllib.request.urlopen


def md5_of(path):
    """The MD5 hex digest of a file, read in 1 MiB chunks (the tarball is 163 MB)."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url, destination, md5=None, timeout=60, progress=True):
    """Download ``url`` to ``destination``; the file appears there only when complete and checked.

    The bytes go to a temporary file beside ``destination`` while their MD5 is computed. A response shorter
    than its announced Content-Length, or an MD5 that differs from ``md5``, raises ``DatasetError`` and the
    temporary file is deleted, so a partial download never lands in the cache. Network errors
    (``urllib.error.URLError``, ``OSError``) propagate unchanged for the caller to explain.
    """
    destination = Path(destination)
    with atomic_path(destination) as tmp:
        with _urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
            total = int(length) if length and length.isdigit() else None
            digest, received = hashlib.md5(), 0
            with _progress_bar(total, destination.name, progress) as bar:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if total is not None and received != total:
            raise DatasetError(f"download of {url} was cut off: got {received} of {total} bytes; nothing was saved")
        if md5 is not None and digest.hexdigest() != md5:
            raise DatasetError(
                f"download of {url} has MD5 {digest.hexdigest()}, expected {md5} "
                f"(a corrupted or truncated transfer, or a different file); nothing was saved"
            )
    return destination


class _NoBar:
    def update(self, n):
        pass


@contextlib.contextmanager
def _progress_bar(total, name, enabled):
    """A tqdm bar counting bytes when tqdm is installed and ``enabled``; else a silent stand-in."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    if not enabled or tqdm is None:
        yield _NoBar()
        return
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"Downloading {name}") as bar:
        yield bar


# ---------------------------------------------------------------------------------------------------
# A pickle loader that cannot run code
# ---------------------------------------------------------------------------------------------------
# A pickle is a small program: GLOBAL "module name" pushes any importable object, REDUCE calls it with
# arguments from the file. The official CIFAR-10 batches (written by Python 2 and NumPy) name only three
# globals, the ones NumPy uses to rebuild an array: numpy.core.multiarray._reconstruct, numpy.ndarray,
# numpy.dtype. We also allow what the same dict needs when re-saved by Python 3 / NumPy 2 (the newer module
# name numpy._core, _codecs.encode which protocol 2 uses for bytes, NumPy scalars and _frombuffer used by
# protocol 5). Each of them only builds data; none can reach the file system, a shell or an import.
_RECONSTRUCT = np.zeros(1).__reduce__()[0]  # numpy._core.multiarray._reconstruct (numpy.core in NumPy 1)
_SCALAR = np.float64(0).__reduce__()[0]  # numpy._core.multiarray.scalar
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]  # numpy._core.numeric._frombuffer


def _codecs_encode(text, encoding="utf-8", errors="strict"):
    return text.encode(encoding, errors)  # what _codecs.encode does for a str, and nothing else


ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _codecs_encode,
}


def _array_makers(limit, name):
    """The allowlist's two entries that allocate the shape they are *told*, not what the file holds --
    ``numpy.ndarray(shape, dtype)`` and ``_reconstruct(ndarray, shape, dtype)`` -- made to refuse a claim of
    more bytes than ``limit`` (the pickle's own size) before allocating. NumPy's own pickles always ask for
    shape (0,) there and take the real bytes from the file afterwards (``__setstate__``, which checks them)."""
    def check(shape, dtype):
        try:
            dims = (int(shape),) if isinstance(shape, int) else tuple(int(n) for n in shape)
            claimed = math.prod(dims) * np.dtype(dtype).itemsize
        except (TypeError, ValueError) as error:
            raise DatasetError(f"{name}: not a CIFAR-10 batch: an array of shape {shape!r}, dtype {dtype!r} "
                               f"({error})") from None
        if claimed > limit:
            raise DatasetError(f"{name}: claims an array of shape {dims} ({claimed} bytes), more than the "
                               f"{limit} bytes of the file could hold; refused before allocating it")

    def ndarray(shape, dtype=float, *args, **kwargs):  # what "numpy.ndarray" is in a batch (also as a subtype)
        check(shape, dtype)
        return np.ndarray(shape, dtype, *args, **kwargs)

    def reconstruct(subtype, shape, dtype):
        check(shape, dtype)
        return _RECONSTRUCT(np.ndarray if subtype is ndarray else subtype, shape, dtype)
    makers = {key: reconstruct for key, value in ALLOWED_GLOBALS.items() if value is _RECONSTRUCT}
    return {**makers, ("numpy", "ndarray"): ndarray}


def safe_unpickle(file, name):
    """Unpickle from the binary file object ``file`` with only ``ALLOWED_GLOBALS``; ``name`` is for errors.

    Python 2 strings come back as bytes (``encoding='bytes'``). An array may not claim more bytes than the
    file holds (``_array_makers``). Any other failure (truncated or garbled data) is raised as
    ``DatasetError`` naming the file.
    """
    start = file.tell()
    limit = file.seek(0, os.SEEK_END) - start  # the bytes left to read: what any array in them can hold
    file.seek(start)
    allowed = {**ALLOWED_GLOBALS, **_array_makers(limit, name)}
    try:
        # encoding="bytes": Python 2 str -> bytes, as Keras loads CIFAR-10
        return safe_pickle.RestrictedUnpickler(file, name, allowed, purpose="a dataset batch",
                                               error=UnsafePickleError, encoding="bytes").load()
    except (UnsafePickleError, DatasetError):
        raise
    except Exception as error:  # UnpicklingError, EOFError, ValueError, ... from a damaged file
        raise DatasetError(f"{name}: not a readable pickle ({error.__class__.__name__}: {error})") from None
