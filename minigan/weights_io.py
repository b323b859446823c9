"""save_weights / load_weights: one npz file keyed by weight name ("dense/kernel"), Keras' spelling.

The format is ``minigan.serialization``'s, whatever the file is called: the book's
``gan.save_weights('gan.h5')`` writes minigan's npz to ``gan.h5`` (there is no HDF5 in minigan). Arrays
are stored on the host, so weights trained on CuPy load on NumPy and back; loading uses
``allow_pickle=False``: a weights file can hold numbers only, never code; writing is atomic.

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

from .serialization import StateFileError, file_path, load_arrays, save_arrays


def save_weights(model, filepath):
    """Write ``model``'s weights (layer order, trainable or not) to ``filepath`` atomically, keyed by name."""
    save_arrays(file_path(filepath), model.get_state())


def load_weights(model, filepath):
    """Copy the weights in ``filepath`` into ``model``, after checking every name and shape (all or nothing)."""
    filepath = file_path(filepath)
    stored = load_arrays(filepath)
    weights = model.all_weights()
    kind = type(model).__name__
    if set(stored) == {w.name for w in weights}:  # by name: order does not matter
        _set_state(model, stored, filepath)
        return
    # by position, as Keras loads an HDF5 file whose layer names differ
    names = list(stored)
    for k in range(max(len(names), len(weights))):
        w = weights[k] if k < len(weights) else None
        name = names[k] if k < len(names) else None
        if w is None or name is None or w.shape != stored[name].shape:
            model_side = f"'{w.name}' {w.shape}" if w is not None else "(nothing)"
            file_side = f"'{name}' {tuple(stored[name].shape)}" if name is not None else "(nothing)"
            count = "" if len(names) == len(weights) else \
                f"the file holds {len(names)} weights, the model {len(weights)}; first difference: "
            raise StateFileError(f"cannot load {filepath} into {kind} '{model.name}': {count}model weight "
                                 f"{model_side} vs file weight {file_side} (a different architecture?); "
                                 f"nothing was loaded")
    _set_state(model, {w.name: stored[name] for w, name in zip(weights, names)}, filepath)


def _set_state(model, state, filepath):
    """``model.set_state`` (all or nothing), its refusal as the file's error."""
    try:
        model.set_state(state, where=filepath)
    except ValueError as error:
        raise StateFileError(str(error)) from None
