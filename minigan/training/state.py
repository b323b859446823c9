"""The state of a training run: named stateful objects, saved and restored together as one checkpoint.

A GAN run is more than its weights. To continue so that the next losses are *the same numbers* an
uninterrupted run would have printed, a checkpoint must hold, all taken at one step boundary, the
state of everything the loop changes: both networks (and BatchNormalization's moving statistics, which
are weights too), both optimizers (Adam's moments, the iteration count that decays the learning rate),
the data cursor, every random stream, a weight average. Each of those objects already keeps its own
state behind one protocol,

    get_state()        -> a dict of arrays (a model: {weight name: array}), or one string/array
    set_state(state)   restores it exactly, checked first (a foreign state raises and changes nothing)

so a run is a dict ``{name: object}`` and its checkpoint is each object's state under its name:

    generator/dense/kernel, generator/batch_normalization/moving_mean, d_optimizer/iterations,
    cursor/position, random (a JSON string), augment (a JSON string), ..., plus step and config

A new stateful thing (the next issue's) joins a run by being one more entry of the dict: no new
checkpoint code. ``minigan.random`` itself (the module) follows the protocol, and so do ``Model``,
``Optimizer``, ``WeightAverage``, ``Stream``, ``DiffAugment`` and :class:`BatchCursor`.

Restoring is all or nothing: if one object refuses its state, the ones already restored are put back
as they were, and the error names the file and the entry.

The config guard: a run folder remembers the config it was started with; continuing it under another
one is refused, naming every differing key (``check_config``).

>>> import minigan
>>> from minigan.serialization import save_arrays, load_arrays
>>> cursor = BatchCursor(length=10, batch_size=4)
>>> [cursor.next() for _ in range(3)]              # positions 0, 4, then back to 0: 8 + 4 > 10
[0, 4, 0]
>>> flat = collect({"cursor": cursor, "random": minigan.random})
>>> sorted(flat)
['cursor/position', 'random']
>>> restore({"cursor": BatchCursor(10, 4)}, {"cursor/position": flat["cursor/position"]}, "example")
"""

import json

from ..serialization import StateFileError, as_str, flatten, section


class ConfigMismatchError(ValueError):
    """A run folder holds a run whose settings differ from the ones asked for now."""

    def __init__(self, message, differences):
        super().__init__(message)
        self.differences = differences  # [(key, saved value, current value), ...]


class BatchCursor:
    """Consecutive batches of a dataset of ``length`` items, in order, as the book takes its frogs:
    ``next()`` returns the first index of the next batch, and goes back to 0 when a whole batch of
    ``batch_size`` no longer fits after it (so every batch is full, and no item is skipped before
    the wrap). Its state is the position of the next batch."""

    def __init__(self, length, batch_size):
        if not 1 <= batch_size <= length:
            raise ValueError(f"BatchCursor: batch_size must be in 1..{length} (the dataset's size), got {batch_size}")
        self.length, self.batch_size, self.position = int(length), int(batch_size), 0

    def next(self):
        start = self.position
        self.position = start + self.batch_size
        if self.position > self.length - self.batch_size:  # the next batch would not be whole
            self.position = 0
        return start

    def get_state(self):
        return {"position": self.position}

    def set_state(self, state):
        position = int(state["position"])
        if not 0 <= position <= self.length - self.batch_size:
            position = 0  # another batch size or dataset (--force): start the epoch again
        self.position = position


# ---------------------------------------------------------------------------------------------------
# Collecting and restoring
# ---------------------------------------------------------------------------------------------------
def collect(objects):
    """``{flat name: host array}`` of every object's ``get_state()``, under its name."""
    return flatten({name: obj.get_state() for name, obj in objects.items()})


def _state_of(flat, name):
    """The stored state of ``name``: a dict of its entries, or its one entry (a string if it was one)."""
    if name in flat:
        value = flat[name]
        return as_str(value) if value.dtype.kind == "U" else value
    entries = section(flat, name)
    if not entries:
        return None
    return {key: (as_str(v) if v.dtype.kind == "U" else v) for key, v in entries.items()}


def restore(objects, flat, where):
    """Give every object its state from ``flat`` (as ``collect`` made it), all or nothing.

    A missing or unfitting entry raises ``StateFileError`` naming ``where`` (the file) and the entry;
    the objects restored before it get their previous state back.
    """
    states = {}
    for name in objects:
        state = _state_of(flat, name)
        if state is None:
            raise StateFileError(f"{where}: lacks the entry {name!r} (a checkpoint of another kind of run?)")
        states[name] = state
    backups = {name: obj.get_state() for name, obj in objects.items()}
    done = []
    for name, obj in objects.items():
        try:
            obj.set_state(states[name])
        except (ValueError, KeyError, TypeError) as error:
            for earlier in done:
                objects[earlier].set_state(backups[earlier])
            raise StateFileError(f"{where}: entry {name!r} does not fit this run: {error}") from None
        done.append(name)


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
