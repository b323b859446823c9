"""Atomic file writes: every file minigan writes (weights, checkpoints, PNGs, logs, downloads).

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
import os
import tempfile
from pathlib import Path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, on error delete it.

    The temporary name starts with a dot and ends with ``suffix`` + ".part" unless ``suffix`` is given
    as the real extension (e.g. ".png", so a library that guesses the format from the name guesses
    right). The file gets the usual permissions (0666 less the umask), not mkstemp's private 0600.
    """
    path = Path(path)
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
    finally:
        if tmp.exists():
            tmp.unlink()
