"""save_weights / load_weights: one NumPy ``.npz`` file, keyed by weight name ("dense/kernel").

The format is the same whatever the file is called: the book's ``gan.save_weights('gan.h5')`` writes
minigan's npz to ``gan.h5`` (there is no HDF5 in minigan). Arrays are stored on the host, so weights
trained on CuPy load on NumPy and back. Loading uses ``allow_pickle=False``: a weights file can hold
numbers only, never code.

Writing is atomic: the arrays go to a temporary file in the same folder, which is flushed to disk and
then renamed over the target with ``os.replace`` -- a crash mid-save leaves the old file intact, never
half a file. (We write through a file object because ``numpy.savez(path)`` would append ``.npz`` to a
name that lacks it.)

Loading matches weights by name; if the names differ (the same architecture built in another order,
so Keras' counters gave other names) it falls back to Keras' own rule, matching by position. Either way
every shape is checked before anything is copied: a mismatch names the first offending weight with
both shapes, and the model is left untouched.

>>> import os, tempfile
>>> import minigan
>>> from minigan import layers
>>> x = minigan.Input(shape=(3,))
>>> model = minigan.Model(x, layers.Dense(2, name="out")(x))
>>> path = os.path.join(tempfile.mkdtemp(), "gan.h5")
>>> model.save_weights(path)
>>> sorted(minigan.backend.numpy.load(path).files)
['out/bias', 'out/kernel']
>>> model.load_weights(path)
"""

import os
import zipfile

from . import backend
from .atomic import atomic_path
from .backend import numpy as host_numpy


def save_weights(model, filepath):
    """Write ``model``'s weights (layer order) to ``filepath`` atomically, as an npz keyed by weight name."""
    filepath = os.fspath(filepath)
    arrays = {w.name: backend.to_numpy(w.data) for w in model.all_weights()}
    with atomic_path(filepath, suffix=".npz") as temporary:
        with open(temporary, "wb") as file:  # a file object: numpy.savez(name) would append ".npz"
            host_numpy.savez(file, **arrays)


def read_weights(filepath):
    """The arrays of a weights file, in the order they were written: {name: host array}."""
    try:
        with host_numpy.load(os.fspath(filepath), allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{filepath} is not a minigan weights file (an .npz written by save_weights): "
                         f"{error}") from None


def load_weights(model, filepath):
    """Copy the weights in ``filepath`` into ``model``, after checking every name and shape."""
    stored = read_weights(filepath)
    weights = model.all_weights()
    kind = type(model).__name__
    if set(stored) == {w.name for w in weights}:
        pairs = [(w, w.name, stored[w.name]) for w in weights]  # by name: order does not matter
    else:
        pairs = list(zip(weights, stored, stored.values()))  # by position, as Keras loads an HDF5 file
        if len(stored) != len(weights):
            for (w, name, array) in pairs:  # report the first place where the two lists part ways
                if w.shape != array.shape:
                    break
            else:
                w, name, array = (weights[len(stored)], "(nothing)", None) if len(weights) > len(stored) else \
                    (None, list(stored)[len(weights)], stored[list(stored)[len(weights)]])
            model_side = f"'{w.name}' {w.shape}" if w is not None else "(nothing)"
            file_side = f"'{name}' {tuple(array.shape)}" if array is not None else "(nothing)"
            raise ValueError(f"cannot load {filepath} into {kind} '{model.name}': the file holds {len(stored)} "
                             f"weights, the model {len(weights)}; first difference: model weight {model_side} vs "
                             f"file weight {file_side}")
    for w, name, array in pairs:
        if w.shape != array.shape:
            raise ValueError(f"cannot load {filepath} into {kind} '{model.name}': weight '{w.name}' has shape "
                             f"{w.shape} in the model but '{name}' has shape {tuple(array.shape)} in the file "
                             "(a different architecture?); nothing was loaded")
    for w, _, array in pairs:
        w.data[...] = backend.asarray(array, dtype=w.dtype)
