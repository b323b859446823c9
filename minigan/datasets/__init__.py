"""Datasets, loaded as Keras loads them: ``minigan.datasets.cifar10.load_data()``.

Where the files come from (argument, ``MINIGAN_DATA``, the ``~/.minigan/datasets`` cache, a download) and
why batch pickles are read with a restricted unpickler: see ``docs/data.md`` and ``files.py``.
"""

from . import cifar10, files
from .files import DatasetError, DatasetNotFoundError, UnsafePickleError

__all__ = ["cifar10", "files", "DatasetError", "DatasetNotFoundError", "UnsafePickleError"]
