"""save_weights / load_weights / get_weights / set_weights: round trips, mismatches, atomic writes."""

import os
import zipfile

import numpy as np
import pytest

import minigan
from minigan import layers, serialization
from minigan.serialization import StateFileError


pytestmark = pytest.mark.usefixtures("fresh_names")  # Keras names from dense, dense_1...; seed 0


def classifier(width=4):
    x = minigan.Input(shape=(3,))
    hidden = layers.Dense(width, activation="relu")(x)
    return minigan.Model(x, layers.Dense(1, activation="sigmoid")(hidden))


def test_round_trip_to_any_file_name(tmp_path):
    model = classifier()
    path = tmp_path / "gan.h5"  # the book's name: the file is minigan's npz, and keeps this exact name
    model.save_weights(path)
    assert os.listdir(tmp_path) == ["gan.h5"] and zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as data:
        assert data.files == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    expected = model.get_weights()
    model.set_weights([np.zeros_like(w) for w in expected])
    model.load_weights(path)
    for a, b in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(a, b)


def test_same_architecture_built_under_other_names_loads_by_position(tmp_path):
    first = classifier()
    first.save_weights(tmp_path / "w.npz")
    second = classifier()  # dense_2, dense_3: names differ, shapes agree -> Keras' positional rule
    second.load_weights(tmp_path / "w.npz")
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_other_architecture_is_named_and_nothing_is_loaded(tmp_path):
    classifier(width=4).save_weights(tmp_path / "w.npz")
    other = classifier(width=5)
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"model weight 'dense_2/kernel' \(3, 5\) vs file weight "
                                         r"'dense/kernel' \(3, 4\).*nothing was loaded"):
        other.load_weights(tmp_path / "w.npz")
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = minigan.Input(shape=(3,))
    smaller = minigan.Model(x, layers.Dense(4)(x))
    with pytest.raises(ValueError, match=r"the file holds 4 weights, the model 2; first difference"):
        smaller.load_weights(tmp_path / "w.npz")


@pytest.mark.parametrize("names", ["same", "other"])  # by name, and by position (Keras' rule for other names)
@pytest.mark.parametrize("last", ["shape", "strings", "nan", "beyond float32"])
def test_a_bad_last_array_leaves_every_weight_unchanged(tmp_path, names, last):
    """All or nothing: every array is checked (shape, kind, finite once cast) before the first is copied, so a
    file whose *last* array does not fit changes no weight -- not even the three before it."""
    model = classifier()  # dense/kernel (3, 4), dense/bias (4,), dense_1/kernel (4, 1), dense_1/bias (1,)
    before = model.get_state()
    arrays = [np.full(a.shape, 7.0, np.float32) for a in before.values()]
    arrays[-1] = {"shape": np.zeros(2, np.float32), "strings": np.array(["x"]), "nan": np.array([np.nan]),
                  "beyond float32": np.array([1e39])}[last]
    keys = list(before) if names == "same" else [f"other_{i}" for i in range(len(arrays))]
    path = tmp_path / "weights.npz"
    serialization.save_arrays(path, dict(zip(keys, arrays)))
    message = {"shape": r"\(1,\).*\(2,\)", "strings": "<U1 values, not real numbers", "nan": "NaN or inf",
               "beyond float32": "NaN or inf"}[last]
    with pytest.raises(StateFileError, match=message):
        model.load_weights(path)
    for name, array in model.get_state().items():
        np.testing.assert_array_equal(array, before[name], err_msg=name)


def test_pickles_and_garbage_are_refused(tmp_path):
    model = classifier()
    np.savez(tmp_path / "evil.npz", **{"dense/kernel": np.array([object()], dtype=object)})
    with pytest.raises(StateFileError, match="evil.npz: not a readable npz file"):
        model.load_weights(tmp_path / "evil.npz")
    (tmp_path / "junk.h5").write_bytes(b"not a zip")
    with pytest.raises(StateFileError, match="junk.h5: not a readable npz file"):
        model.load_weights(tmp_path / "junk.h5")
    with pytest.raises(StateFileError, match="missing.npz: no such file"):
        model.load_weights(tmp_path / "missing.npz")


def test_write_is_atomic(tmp_path, monkeypatch):
    model = classifier()
    path = tmp_path / "w.npz"
    model.save_weights(path)
    good = path.read_bytes()

    def crash(file, **arrays):
        file.write(b"half a file")
        raise KeyboardInterrupt  # the run is killed in the middle of a save

    monkeypatch.setattr(serialization.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save_weights(path)
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["w.npz"]  # old file intact, no temp left


def test_stored_arrays_are_host_numpy_and_float32(tmp_path):
    model = classifier()
    model.save_weights(tmp_path / "w.npz")
    arrays = serialization.load_arrays(tmp_path / "w.npz")
    assert all(type(a) is np.ndarray and a.dtype == np.float32 for a in arrays.values())


def test_get_set_weights_keras_order_and_errors():
    x = minigan.Input(shape=(2,))
    first, second = layers.Dense(3), layers.Dense(1)
    model = minigan.Model(x, second(first(x)))
    assert [w.shape for w in model.get_weights()] == [(2, 3), (3,), (3, 1), (1,)]
    first.trainable = False  # Keras order: trainable weights first, then the non-trainable ones
    assert [w.shape for w in model.get_weights()] == [(3, 1), (1,), (2, 3), (3,)]
    copies = model.get_weights()
    copies[0][...] = 7  # get_weights returns copies
    assert not (model.get_weights()[0] == 7).any()
    with pytest.raises(ValueError, match=r"weight 'dense_1/kernel' has shape \(3, 1\), but set_weights got an array "
                                         r"of shape \(1, 3\)"):
        model.set_weights([np.zeros((1, 3)), np.zeros(1), np.zeros((2, 3)), np.zeros(3)])
    with pytest.raises(ValueError, match="has 4 weights"):
        model.set_weights([])
