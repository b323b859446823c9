"""Where minigan keeps its files, and how it writes them: atomically, every file (weights, checkpoints,
PNGs, logs, downloads, converted models).

``minigan_home()`` is ``~/.minigan`` (like ``~/.keras``), or ``$MINIGAN_HOME``: the datasets, the
converted FID network and cached statistics live there.

Write into a temporary file beside the target, flush it to disk, then ``os.replace`` it onto the
target name -- one step on POSIX and Windows. A crash or Ctrl-C mid-write leaves the old file
intact (or no file), never half a file where the next run would read it.

>>> import tempfile
>>> from pathlib import Path
>>> target = Path(tempfile.mkdtemp()) / "hello.txt"
>>> with atomic_path(target) as tmp:
...     _ = tmp.write_text("hi")
>>> target.read_text()
'hi'
"""

import contextlib
import errno
import os
import re
import tempfile
from pathlib import Path

# atomic_path's temporary names: "." + the target's name + "." + mkstemp's 8 random characters + an
# optional real extension + ".part", e.g. ".checkpoint.npz.k3j_9qz2.npz.part".
TEMPORARY = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)?\.part$")

# Errors of *writing* (a full disk, a read-only or foreign folder, a quota): reported naming the file.
WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG}


def minigan_home():
    """The folder for minigan's own files: ``$MINIGAN_HOME`` if set, else ``~/.minigan``."""
    home = os.environ.get("MINIGAN_HOME", "").strip()
    return Path(home).expanduser() if home else Path.home() / ".minigan"


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_target(path):
    """``path`` as a Path, if a file can be written there: not a folder, and no file on the way to it."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"{path} is a folder; give a file name")
    parent = next(p for p in path.parents if p.exists())  # the folder that mkdir would start from
    if not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"cannot write {path}: {parent} is a file, not a folder")
    return path


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, on error delete it.

    The temporary name starts with a dot and ends with ``suffix`` + ".part" unless ``suffix`` is given
    as the real extension (e.g. ".png", so a library that guesses the format from the name guesses
    right). The file gets the usual permissions (0666 less the umask), not mkstemp's private 0600.
    """
    path = check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix + ".part")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():
            with open(tmp, "rb+") as f:  # the bytes reach the disk before the name does
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as error:
        if error.errno not in WRITE_ERRORS:  # a network error of a download, say: the caller explains it
            raise
        raise OSError(error.errno, f"{path} could not be written ({error.strerror or error}); the previous "
                                   f"file, if any, is unchanged") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def remove_stale_temporaries(folder):
    """Delete the temporary files that an interrupted atomic write (a ``kill -9``, a power cut) left in
    ``folder``, and only those: names that ``atomic_path`` makes, plain files. Returns [(path, bytes)].

    Call it where one writer owns the folder (a training run starting in its ``--out``): a temporary
    file of ours found then belongs to no write in progress.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / ".checkpoint.npz.k3j9qz2a.npz.part").write_bytes(b"half")    # what kill -9 leaves
    >>> _ = (folder / "notes.part").write_text("someone else's")                 # not ours: kept
    >>> [(path.name, size) for path, size in remove_stale_temporaries(folder)], sorted(p.name for p in folder.iterdir())
    ([('.checkpoint.npz.k3j9qz2a.npz.part', 4)], ['notes.part'])
    """
    removed = []
    for path in sorted(Path(folder).iterdir()):
        if TEMPORARY.match(path.name) and path.is_file() and not path.is_symlink():
            size = path.stat().st_size
            path.unlink()
            removed.append((path, size))
    return removed
