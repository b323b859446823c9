"""CIFAR-10: 60000 colour images of 32x32 pixels in 10 classes, loaded as Keras does.

``load_data()`` returns ``(x_train, y_train), (x_test, y_test)``:

    x  uint8 (N, 32, 32, 3)   channels-last (NHWC): x[i, row, col] is the (R, G, B) of one pixel
    y  uint8 (N, 1)           the class index 0..9 (``CLASS_NAMES[y[i, 0]]``), one column as in Keras

Where the data comes from, first match wins:

    1. the ``path`` argument
    2. the environment variable ``MINIGAN_DATA``
    3. the cache ``~/.minigan/datasets/`` (``$MINIGAN_HOME/datasets`` when MINIGAN_HOME is set)
    4. a download of the official tarball into the cache (163 MB, MD5-checked, then extracted)

A path may name the official ``cifar-10-python.tar.gz``, the extracted ``cifar-10-batches-py`` folder,
or a folder holding either. A folder with only some of the six batch files loads those that are there.

File format (the official "python version"): each batch is a pickle of a dict with
``b'data'`` uint8 (n, 3072) and ``b'labels'`` (n ints). A row of 3072 bytes is the 1024 red values of a
32x32 image in row-major order, then the 1024 green, then the 1024 blue; so
``row.reshape(3, 32, 32)`` is channels-first and ``.transpose(1, 2, 0)`` makes it channels-last.
The pickles are read with a restricted unpickler (``files.safe_unpickle``) that cannot run code.

A whole load on a tiny hand-made batch (two pure-red images), to see the layout:

>>> import pickle, tempfile
>>> folder = Path(tempfile.mkdtemp()) / "cifar-10-batches-py"
>>> folder.mkdir()
>>> rows = np.zeros((2, 3072), np.uint8)
>>> rows[:, :1024] = 255                                   # the red plane of both images
>>> with open(folder / "test_batch", "wb") as f:
...     pickle.dump({b"data": rows, b"labels": [6, 3]}, f, protocol=2)
>>> (x_train, y_train), (x_test, y_test) = load_data(folder)
>>> x_train.shape, x_test.shape, x_test[0, 0, 0].tolist(), y_test.ravel().tolist()
((0, 32, 32, 3), (2, 32, 32, 3), [255, 0, 0], [6, 3])
"""

import io
import numbers
import os
import tarfile
import zlib
from pathlib import Path

from ..backend import numpy as np
from .files import DatasetError, DatasetNotFoundError, atomic_directory, cache_dir, download, md5_of, safe_unpickle

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
DIR_NAME = "cifar-10-batches-py"
TRAIN_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5")
TEST_FILE = "test_batch"
BATCH_FILES = TRAIN_FILES + (TEST_FILE,)
META_FILE = "batches.meta"

CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

IMAGE_SHAPE = (32, 32, 3)  # H, W, C of one image as returned
# What a file may make the loader read into memory. An official batch file is 31 MB and the tarball opens
# to 178 MB; a crafted file claiming more (a gzip bomb, a batch of a million images) is refused first.
MAX_BATCH_BYTES = 1 << 28    # 256 MiB per batch file
MAX_TARBALL_BYTES = 1 << 30  # 1 GiB read out of a tarball, in all
ROW_SIZE = 3 * 32 * 32  # 3072 bytes per image in a batch file


def load_data(path=None):
    """Load CIFAR-10 as ``(x_train, y_train), (x_test, y_test)``; see the module docstring for where from.

    x: uint8 (N, 32, 32, 3) channels-last; y: uint8 (N, 1). Training images come from ``data_batch_1..5``
    in that order, test images from ``test_batch``; missing batch files give fewer (or zero) images.
    """
    batches = _read_batches(locate(path))
    return _stack(batches, TRAIN_FILES), _stack(batches, (TEST_FILE,))


def load_class(name_or_index=6, path=None, split="train"):
    """The images of one class, uint8 (n, 32, 32, 3); by default the training frogs (class 6).

    ``split`` is "train", "test" or "all" (train followed by test).

    >>> CLASS_NAMES.index("frog")
    6
    """
    index = class_index(name_or_index)
    if split not in ("train", "test", "all"):
        raise ValueError(f"cifar10.load_class: split must be 'train', 'test' or 'all', got {split!r}")
    (x_train, y_train), (x_test, y_test) = load_data(path)
    parts = {"train": [(x_train, y_train)], "test": [(x_test, y_test)]}
    parts["all"] = parts["train"] + parts["test"]
    return np.concatenate([x[y[:, 0] == index] for x, y in parts[split]])


def class_index(name_or_index):
    """The class index 0..9 of a class name ("frog") or index (6).

    >>> class_index("frog"), class_index(6)
    (6, 6)
    """
    if isinstance(name_or_index, str):
        if name_or_index not in CLASS_NAMES:
            raise ValueError(f"cifar10: unknown class name {name_or_index!r}; expected one of {CLASS_NAMES}")
        return CLASS_NAMES.index(name_or_index)
    is_int = isinstance(name_or_index, numbers.Integral) and not isinstance(name_or_index, (bool, np.bool_))
    index = int(name_or_index) if is_int else -1  # True is not "automobile", nor 6.0 "frog"
    if not 0 <= index < len(CLASS_NAMES):
        raise ValueError(f"cifar10: class index must be an integer 0..9, got {name_or_index!r}")
    return index


def load_batch(path):
    """One batch file as ``(x, y)``: x uint8 (n, 32, 32, 3) channels-last, y uint8 (n, 1)."""
    return _to_images(_read_batch_file(Path(path)))


# ---------------------------------------------------------------------------------------------------
# Finding the data
# ---------------------------------------------------------------------------------------------------
def locate(path=None):
    """Where the data is: ``("dir", folder)`` or ``("tar", tarball)``, downloading into the cache if needed."""
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"cifar10.load_data: path must be a folder or tarball path (a str or pathlib.Path), "
                            f"got {path!r}")
        if not os.fspath(path).strip():  # --data "": not the current folder
            raise DatasetNotFoundError("cifar10.load_data(path=...) is empty; give the CIFAR-10 folder or tarball")
        return _classify(path, "cifar10.load_data(path=...)")
    env = os.environ.get("MINIGAN_DATA", "").strip()
    if env:
        return _classify(env, "MINIGAN_DATA")
    return ("dir", _from_cache())


def _classify(path, origin):
    """A user-given path as ("dir", folder with batch files) or ("tar", tarball)."""
    p = Path(path).expanduser()
    if p.is_file():
        return ("tar", p)  # if it is no tarball, reading it says so, naming the file
    if p.is_dir():
        if p.name == DIR_NAME or any((p / name).is_file() for name in BATCH_FILES):
            return ("dir", p)
        if (p / DIR_NAME).is_dir():
            return ("dir", p / DIR_NAME)
        if (p / ARCHIVE_NAME).is_file():
            return ("tar", p / ARCHIVE_NAME)
        raise DatasetNotFoundError(
            f"{origin} points to the folder {p}, which holds no CIFAR-10 data: expected the batch files "
            f"{', '.join(BATCH_FILES)}, or a '{DIR_NAME}' folder, or '{ARCHIVE_NAME}' in it"
        )
    raise DatasetNotFoundError(f"{origin} points to {p}, which " + ("is neither a file nor a folder" if p.exists()
                                                                     else "does not exist"))


def _from_cache():
    """The extracted folder in the cache, made from the cached (or freshly downloaded) tarball if needed."""
    cache = cache_dir()
    folder, archive = cache / DIR_NAME, cache / ARCHIVE_NAME
    if folder.is_dir():
        return folder
    if archive.is_file():
        found = md5_of(archive)
        if found != MD5:
            raise DatasetError(
                f"{archive}: MD5 is {found}, expected {MD5}; the cached tarball is damaged or a different "
                f"file. Delete it to download it again."
            )
    else:
        try:
            download(URL, archive, md5=MD5)
        except (OSError, ValueError) as error:  # URLError and timeouts are OSErrors; DatasetError a ValueError
            raise DatasetNotFoundError(_not_found_message(error, archive)) from None
    _extract(archive, folder)
    return folder


def _not_found_message(error, archive):
    return (
        f"CIFAR-10 was not found, and downloading it failed:\n"
        f"  {URL} -> {archive}: {error.__class__.__name__}: {error}\n"
        f"Provide the data in one of three ways (each may be '{ARCHIVE_NAME}', the extracted '{DIR_NAME}' "
        f"folder, or a folder holding either):\n"
        f"  1. pass it:   minigan.datasets.cifar10.load_data(path='/path/to/{DIR_NAME}')\n"
        f"  2. set the environment variable:   MINIGAN_DATA=/path/to/{DIR_NAME}\n"
        f"  3. put it in the cache folder {archive.parent} (the tarball must have MD5 {MD5})"
    )


def _extract(archive, folder):
    """Write the batch files of ``archive`` into ``folder`` at once (temporary folder, then rename).

    Only the known file names are written, by us, so a hostile tarball cannot place files elsewhere
    (the "../" path-traversal problem of a plain ``tar.extractall``).
    """
    members = _tar_members(archive)
    with atomic_directory(folder) as tmp:
        for name, blob in members.items():
            (tmp / name).write_bytes(blob)


def _tar_members(archive):
    """{file name: bytes} of the batch files and batches.meta in a tarball, read to its end."""
    wanted, found = set(BATCH_FILES) | {META_FILE}, {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:  # reading every header to the end also detects a truncated tarball
                name = member.name.rsplit("/", 1)[-1]
                _check_tar_size(archive, member.offset_data + member.size, f"member {member.name!r}")
                if member.isfile() and name in wanted:
                    if member.size > MAX_BATCH_BYTES:
                        raise DatasetError(f"{archive}: member {member.name!r} is {member.size} bytes, more than a "
                                           f"CIFAR-10 batch file can be ({MAX_BATCH_BYTES}); not read")
                    found[name] = tar.extractfile(member).read()
            end = tar.offset
            while chunk := tar.fileobj.read(1 << 20):  # past the end blocks: gzip checks its length and CRC at EOF
                end += len(chunk)
                _check_tar_size(archive, end, "its end")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise DatasetError(
            f"{archive}: not a complete CIFAR-10 tarball ({error.__class__.__name__}: {error}); "
            f"it may be truncated - delete it and download it again"
        ) from None
    if not any(name in found for name in BATCH_FILES):
        raise DatasetError(f"{archive}: the tarball holds none of the CIFAR-10 batch files {', '.join(BATCH_FILES)}")
    return found


def _check_tar_size(archive, offset, where):
    if offset > MAX_TARBALL_BYTES:
        raise DatasetError(f"{archive}: {where} lies {offset} bytes into the unpacked tarball, beyond the "
                           f"{MAX_TARBALL_BYTES} a CIFAR-10 tarball can hold (it opens to 178 MB); not read further")


# ---------------------------------------------------------------------------------------------------
# Reading batches
# ---------------------------------------------------------------------------------------------------
def _read_batches(location):
    """{batch file name: validated dict} for the batch files present at ``location``."""
    kind, where = location
    batches = {}
    if kind == "tar":
        for name, blob in _tar_members(where).items():
            if name in BATCH_FILES:
                batches[name] = read_batch(io.BytesIO(blob), f"{where}:{name}")
    else:
        for name in BATCH_FILES:
            path = where / name
            if path.is_file():
                batches[name] = _read_batch_file(path)
        if not batches:
            raise DatasetNotFoundError(f"{where}: no CIFAR-10 batch files in this folder (expected {', '.join(BATCH_FILES)})")
    return batches


def _read_batch_file(path):
    """One batch file, its size checked before it is read (into memory, so that no claim inside it can make
    a read larger than the file)."""
    size = path.stat().st_size
    if size > MAX_BATCH_BYTES:
        raise DatasetError(f"{path}: {size} bytes, more than a CIFAR-10 batch file can be ({MAX_BATCH_BYTES}; the "
                           f"official ones are 31 MB); not read")
    return read_batch(io.BytesIO(path.read_bytes()), str(path))


def read_batch(file, name):
    """Unpickle one batch (safely) from the binary file ``file`` and check it; ``name`` is used in errors.

    Returns the dict with ``b'data'`` as uint8 (n, 3072) and ``b'labels'`` as uint8 (n,); other keys
    (``b'filenames'``, ``b'batch_label'``) are kept as they are.
    """
    batch = safe_unpickle(file, name)
    if not isinstance(batch, dict):
        raise DatasetError(f"{name}: expected a dict with keys b'data' and b'labels', got a {type(batch).__name__}")
    batch = {k.encode() if isinstance(k, str) else k: v for k, v in batch.items()}  # a file re-saved by Python 3
    missing = [key for key in (b"data", b"labels") if key not in batch]
    if missing:
        raise DatasetError(f"{name}: a CIFAR-10 batch needs keys b'data' and b'labels'; missing {missing}, found {list(batch)}")
    data = batch[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != ROW_SIZE:
        got = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"{name}: b'data' should be a uint8 array of shape (n, {ROW_SIZE}), got a {got}")
    try:
        labels = np.asarray(batch[b"labels"])
    except Exception as error:
        raise DatasetError(f"{name}: b'labels' is not a list of integers ({error})") from None
    if labels.ndim != 1 or labels.shape[0] != data.shape[0] or (labels.size and labels.dtype.kind not in "iu"):
        raise DatasetError(
            f"{name}: b'labels' should be {data.shape[0]} integers (one per row of b'data'), "
            f"got {labels.dtype} values of shape {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise DatasetError(f"{name}: labels must lie in 0..9, found {labels.min()}..{labels.max()}")
    batch[b"labels"] = labels.astype(np.uint8)
    return batch


def _to_images(batch):
    """(x, y): rows of 3072 bytes -> (n, 3, 32, 32) channels-first -> (n, 32, 32, 3) channels-last."""
    data = batch[b"data"]
    x = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return x, batch[b"labels"].reshape(-1, 1)


def _stack(batches, names):
    pairs = [_to_images(batches[name]) for name in names if name in batches]
    if not pairs:
        return np.empty((0,) + IMAGE_SHAPE, np.uint8), np.empty((0, 1), np.uint8)
    return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])

