"""training.WeightAverage: the running average of a generator's weights that the cpu preset samples from."""

import numpy as np
import pytest

import minigan
from minigan import layers
from minigan.training import WeightAverage


def small_model():
    layers.clear_session()
    model = minigan.models.Sequential([layers.Input(shape=(3,)), layers.Dense(2, activation="tanh")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return model


def test_update_follows_the_warm_up_then_the_decay():
    model = small_model()
    kernel = model.weights[0]
    start = kernel.numpy().astype(np.float64)
    average = WeightAverage(model, decay=0.3)
    expected = start.copy()
    rng = np.random.default_rng(0)
    for t in range(6):
        values = rng.normal(size=kernel.shape).astype(np.float32)
        model.set_weights([values, model.get_weights()[1]])
        average.update()
        d = min(0.3, (1 + t) / (10 + t))  # 0.1, 0.18, 0.25, then the cap 0.3 (4 / 13 > 0.3)
        expected = d * expected + (1 - d) * values
    assert average.updates == 6
    np.testing.assert_allclose(average.get_state()["dense/kernel"], expected, rtol=1e-5, atol=1e-6)

    average = WeightAverage(model, decay=0.0)  # decay 0: the average is the weights themselves
    model.set_weights([np.ones(kernel.shape, np.float32), model.get_weights()[1]])
    average.update()
    np.testing.assert_array_equal(average.get_state()["dense/kernel"], 1.0)


def test_the_cap_takes_over_once_the_warm_up_passes_it():
    model = small_model()
    average = WeightAverage(model, decay=0.5)
    for _ in range(3):        # d = 0.1, 0.18, 0.25: below the cap
        average.update()
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    before = average.get_state()["dense/kernel"]
    average.updates = 20      # (1 + 20) / 30 = 0.7 > 0.5: the cap, 0.5, applies
    average.update()
    np.testing.assert_allclose(average.get_state()["dense/kernel"], 0.5 * before, rtol=1e-6)


def test_predict_uses_the_average_and_gives_the_weights_back():
    model = small_model()
    average = WeightAverage(model)
    own = model.get_weights()
    model.set_weights([w + 1.0 for w in own])   # the model moves on; the average stays where it started
    moved = model.get_weights()
    x = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    sampled = average.predict(x)
    for got, want in zip(model.get_weights(), moved):
        np.testing.assert_array_equal(got, want)           # own weights restored
    model.set_weights(own)
    np.testing.assert_allclose(sampled, model.predict(x), rtol=1e-6)

    model.set_weights(moved)
    with pytest.raises(RuntimeError):
        with average.applied():
            raise RuntimeError("boom")
    for got, want in zip(model.get_weights(), moved):
        np.testing.assert_array_equal(got, want)           # restored on an error too


def test_state_round_trip_and_clear_errors():
    model = small_model()
    average = WeightAverage(model, decay=0.9)
    for _ in range(4):
        model.set_weights([w * 0.5 + 0.1 for w in model.get_weights()])
        average.update()
    state = average.get_state()
    copy = WeightAverage(model, decay=0.9)
    copy.set_state(state)
    assert copy.updates == 4
    for name in ("dense/kernel", "dense/bias"):
        np.testing.assert_array_equal(copy.get_state()[name], state[name])

    with pytest.raises(ValueError, match=r"'sequential.*dense/bias"):
        copy.set_state({k: v for k, v in state.items() if k != "dense/bias"})
    wrong = {**state, "dense/kernel": np.zeros((4, 2), np.float32)}
    with pytest.raises(ValueError, match=r"dense/kernel: \(4, 2\) \(expected \(3, 2\)\)"):
        copy.set_state(wrong, "run/checkpoint.npz")
    with pytest.raises(ValueError, match="decay must be in"):
        WeightAverage(model, decay=1.0)
