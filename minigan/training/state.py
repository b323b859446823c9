"""A checkpoint: every array a run needs to continue exactly where it stopped, in one .npz file.

A GAN run is more than its weights. To continue so that the next losses are *the same numbers* an
uninterrupted run would have printed, a checkpoint must hold, all taken at one step boundary:

    generator/..., discriminator/...     the weights of both networks
    d_optimizer/..., a_optimizer/...     each optimizer's state (RMSprop's running mean of g^2, the
                                         iteration count that the learning-rate decay uses)
    the data cursor, the random state    which real images come next, which noise comes next
    config                               the settings the run was started with (a JSON string)

Keys are paths joined with "/" (``flatten`` / ``section``); values are plain NumPy arrays, and strings
are stored as 0-d unicode arrays, so the file loads with ``allow_pickle=False``: opening a checkpoint
can never run code. Writes are atomic (a temporary file beside the target, then ``os.replace``): a crash
or Ctrl-C while saving leaves the previous checkpoint whole.

>>> import tempfile, json
>>> from pathlib import Path
>>> from minigan.backend import numpy as np
>>> path = Path(tempfile.mkdtemp()) / "checkpoint.npz"
>>> flat = flatten({"model": {"dense/kernel": np.ones((2, 3), np.float32)}, "step": 7,
...                 "config": json.dumps({"batch_size": 20})})
>>> sorted(flat)
['config', 'model/dense/kernel', 'step']
>>> _ = save_checkpoint(path, flat)
>>> loaded = load_checkpoint(path)
>>> section(loaded, "model")["dense/kernel"].shape, int(loaded["step"]), as_str(loaded["config"])
((2, 3), 7, '{"batch_size": 20}')
"""

import json

from ..backend import numpy as np
from ..backend import to_numpy
from ..atomic import atomic_path


class CheckpointError(ValueError):
    """A checkpoint file is missing a key, unreadable, or holds something that cannot be stored safely."""


class ConfigMismatchError(ValueError):
    """A run folder holds a run whose settings differ from the ones asked for now."""

    def __init__(self, message, differences):
        super().__init__(message)
        self.differences = differences  # [(key, saved value, current value), ...]


# ---------------------------------------------------------------------------------------------------
# Keys: nested dicts <-> flat "a/b/c" names
# ---------------------------------------------------------------------------------------------------
def flatten(tree, prefix=""):
    """``{"a": {"b": x}, "c": y}`` -> ``{"a/b": x, "c": y}``, values made storable (see ``to_storable``)."""
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


def to_storable(value, name="value"):
    """A host NumPy array for ``value``: arrays and Tensors (NumPy or CuPy), numbers, bools and strings."""
    if isinstance(value, str):
        return np.array(value, dtype=np.str_)  # 0-d unicode array: no pickle needed
    array = np.asarray(to_numpy(value))
    if array.dtype.kind not in "biufcU":
        raise CheckpointError(
            f"checkpoint entry {name!r} has dtype {array.dtype} (from a {type(value).__name__}); only numbers, "
            f"bools and strings can be stored without pickle"
        )
    return array


def as_str(array):
    """The string stored by ``to_storable`` (a 0-d unicode array)."""
    return str(array[()])


# ---------------------------------------------------------------------------------------------------
# Saving and loading
# ---------------------------------------------------------------------------------------------------
def save_checkpoint(path, flat):
    """Write ``{name: array}`` to ``path`` (.npz, uncompressed) atomically; returns the path.

    The file is flushed to disk (fsync) before the rename, so after a power cut one finds either the
    old checkpoint or the new one, never a torn mixture.
    """
    arrays = {name: to_storable(value, name) for name, value in flat.items()}
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:  # a file object: numpy would otherwise append ".npz" to the name
            np.savez(f, **arrays)  # atomic_path fsyncs before the rename
    return path


def load_checkpoint(path, required=()):
    """``{name: array}`` read from ``path`` (with ``allow_pickle=False``), checked to hold ``required``."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            flat = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint there") from None
    except Exception as error:  # a truncated zip (BadZipFile), a pickle inside (ValueError), ...
        raise CheckpointError(f"{path}: not a readable checkpoint ({error.__class__.__name__}: {error})") from None
    missing = [name for name in required if name not in flat]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {missing}; it holds {sorted(flat)[:12]}...")
    return flat


# ---------------------------------------------------------------------------------------------------
# Model weights by name
# ---------------------------------------------------------------------------------------------------
def model_weights(model):
    """``{weight name: host array}`` of every weight of ``model``, e.g. ``{"dense/kernel": ...}``.

    Keyed by name, not position: Keras lists a frozen model's weights in another order than a trainable
    one's (trainable first), so positions would change with ``trainable``; names do not.
    """
    return {weight.name: weight.numpy().copy() for weight in model.weights}


def set_model_weights(model, arrays, where):
    """Copy ``arrays`` (as from ``model_weights``) into ``model``; ``where`` names the source in errors."""
    missing = [weight.name for weight in model.weights if weight.name not in arrays]
    if missing:
        raise CheckpointError(f"{where}: no values for the weights {missing[:3]} of model '{model.name}' "
                              f"(it holds {sorted(arrays)[:3]}...); was it saved from another architecture?")
    try:
        model.set_weights([arrays[weight.name] for weight in model.weights])
    except ValueError as error:  # a shape differs: another latent_dim or width
        raise CheckpointError(f"{where}: {error}") from None


# ---------------------------------------------------------------------------------------------------
# The config guard
# ---------------------------------------------------------------------------------------------------
def config_differences(saved, current, prefix=""):
    """``[(key, saved value, current value), ...]`` for every key whose value differs; nested dicts give
    dotted keys, and a key present on one side only shows the other side as ``<missing>``.

    >>> config_differences({"batch_size": 20, "d_optimizer": {"lr": 8e-4}},
    ...                    {"batch_size": 4, "d_optimizer": {"lr": 8e-4}, "seed": 0})
    [('batch_size', 20, 4), ('seed', '<missing>', 0)]
    """
    differences = []
    for key in sorted(set(saved) | set(current)):
        name = f"{prefix}{key}"
        a, b = saved.get(key, "<missing>"), current.get(key, "<missing>")
        if isinstance(a, dict) and isinstance(b, dict):
            differences += config_differences(a, b, name + ".")
        elif _normalise(a) != _normalise(b):
            differences.append((name, a, b))
    return differences


def _normalise(value):
    """JSON turns tuples into lists; compare what JSON would store."""
    return json.loads(json.dumps(value))


def check_config(saved, current, where):
    """Raise ConfigMismatchError naming each differing key if ``saved`` and ``current`` differ."""
    differences = config_differences(saved, current)
    if differences:
        lines = "\n".join(f"  {key}: {a!r} in the saved run, {b!r} now" for key, a, b in differences)
        raise ConfigMismatchError(f"{where} holds a run with a different config:\n{lines}", differences)
