"""Optimizers against hand-written NumPy references of Keras 2's formulas; clipping; named state."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
from minigan import layers, optimizers


# -- references, written from the Keras 2 (TF 2.x OptimizerV2) source, in float64 -----------------
def clip(g, clipvalue, clipnorm):  # keras-team/keras 2.x Optimizer.get_gradients: only when > 0
    if clipnorm is not None and clipnorm > 0:
        g = g * clipnorm / max(np.sqrt((g ** 2).sum()), clipnorm)
    if clipvalue is not None and clipvalue > 0:
        g = np.clip(g, -clipvalue, clipvalue)
    return g


def rmsprop_reference(p, grads, lr, rho=0.9, eps=1e-7, decay=0.0, clipvalue=None, clipnorm=None):
    acc = np.zeros_like(p)
    for step, g in enumerate(grads):
        g = clip(g, clipvalue, clipnorm)
        lr_t = lr / (1 + decay * step)  # iterations before the increment
        acc = rho * acc + (1 - rho) * g ** 2
        p = p - lr_t * g / (np.sqrt(acc) + eps)
    return p, acc


def adam_reference(p, grads, lr, b1=0.9, b2=0.999, eps=1e-7, decay=0.0, clipvalue=None, clipnorm=None):
    m, v = np.zeros_like(p), np.zeros_like(p)
    for step, g in enumerate(grads):
        g = clip(g, clipvalue, clipnorm)
        t = step + 1
        lr_t = lr / (1 + decay * step) * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        p = p - lr_t * m / (np.sqrt(v) + eps)
    return p, m, v


def sgd_reference(p, grads, lr, momentum=0.0, nesterov=False, decay=0.0, clipvalue=None, clipnorm=None):
    velocity = np.zeros_like(p)
    for step, g in enumerate(grads):
        g = clip(g, clipvalue, clipnorm)
        lr_t = lr / (1 + decay * step)
        velocity = momentum * velocity - lr_t * g
        p = p + (momentum * velocity - lr_t * g if nesterov else velocity)
    return p


def run(optimizer, p0, grads):
    w = minigan.tensor(p0, name="dense/kernel")
    for g in grads:
        optimizer.apply_gradients([(minigan.tensor(g), w)])
    assert w.dtype == np.float32
    return w.numpy()


clipping = st.sampled_from([(None, None), (1.0, None), (None, 0.5), (0.3, 2.0), (0.0, 0.0)])


@settings(max_examples=25)
@given(seed=st.integers(0, 1000), steps=st.integers(1, 6), lr=st.sampled_from([0.1, 0.0008, 1e-3]),
       decay=st.sampled_from([0.0, 1e-8, 0.1]), clips=clipping)
def test_rmsprop_matches_keras2(seed, steps, lr, decay, clips):
    rng = np.random.default_rng(seed)
    p0, grads = rng.normal(size=(3, 4)), [rng.normal(scale=2, size=(3, 4)) for _ in range(steps)]
    opt = optimizers.RMSprop(lr=lr, decay=decay, clipvalue=clips[0], clipnorm=clips[1])
    got = run(opt, p0, grads)
    expected, acc = rmsprop_reference(p0, grads, lr, decay=decay, clipvalue=clips[0], clipnorm=clips[1])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(opt.get_state()["dense/kernel/rms"], acc, rtol=1e-5, atol=1e-7)
    assert opt.iterations == steps


@settings(max_examples=25)
@given(seed=st.integers(0, 1000), steps=st.integers(1, 6), decay=st.sampled_from([0.0, 0.1]), clips=clipping)
def test_adam_matches_keras2(seed, steps, decay, clips):
    rng = np.random.default_rng(seed)
    p0, grads = rng.normal(size=(5,)), [rng.normal(size=(5,)) for _ in range(steps)]
    got = run(optimizers.Adam(0.01, decay=decay, clipvalue=clips[0], clipnorm=clips[1]), p0, grads)
    expected, _, _ = adam_reference(p0, grads, 0.01, decay=decay, clipvalue=clips[0], clipnorm=clips[1])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@settings(max_examples=25)
@given(seed=st.integers(0, 1000), steps=st.integers(1, 6), momentum=st.sampled_from([0.0, 0.9]),
       nesterov=st.booleans(), clips=clipping)
def test_sgd_matches_keras2(seed, steps, momentum, nesterov, clips):
    rng = np.random.default_rng(seed)
    p0, grads = rng.normal(size=(2, 3)), [rng.normal(size=(2, 3)) for _ in range(steps)]
    opt = optimizers.SGD(0.05, momentum=momentum, nesterov=nesterov, clipvalue=clips[0], clipnorm=clips[1])
    got = run(opt, p0, grads)
    expected = sgd_reference(p0, grads, 0.05, momentum, nesterov, clipvalue=clips[0], clipnorm=clips[1])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_adam_adds_epsilon_to_the_uncorrected_root_as_keras_2():
    """Keras 2: p -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps), eps beside the *uncorrected*
    sqrt(v). PyTorch adds eps to the corrected sqrt(v / (1 - b2^t)) instead. The two agree while |g| >> eps
    and part once gradients are as small as eps: here, by a factor of 16 on the first step."""
    lr, b2, eps = 0.001, 0.999, 1e-7  # and beta_1 = 0.9, which the first step does not show
    grads = [np.array([1e-7, -3e-7, 1e-6, 2e-8]), np.array([2e-7, -1e-7, 1e-6, 1e-8]), np.array([1e-7] * 4)]
    got = run(optimizers.Adam(lr), np.zeros(4), grads)
    # the first step by hand: m = (1 - b1) g, v = (1 - b2) g^2, so p = -lr sqrt(1 - b2) g / (sqrt(1 - b2) |g| + eps)
    g = grads[0]
    first = -lr * math.sqrt(1 - b2) * g / (math.sqrt(1 - b2) * np.abs(g) + eps)
    np.testing.assert_allclose(run(optimizers.Adam(lr), np.zeros(4), grads[:1]), first, rtol=1e-5)
    assert first[0] == pytest.approx(-3.0654e-5, rel=1e-4)  # PyTorch's placement: -lr g / (|g| + eps) = -5e-4
    expected, _, _ = adam_reference(np.zeros(4), grads, lr)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_last_learning_rate_is_the_rate_the_last_step_used():
    """lr / (1 + decay * (iterations - 1)): with SGD and a gradient of 1 each step moves the weight by
    exactly that rate, so the property can be checked against the step itself."""
    opt, w = optimizers.SGD(0.1, decay=0.5), minigan.tensor([0.0], dtype="float64", name="w")
    assert opt.last_learning_rate is None
    rates, before = [], 0.0
    for _ in range(3):
        opt.apply_gradients([(minigan.tensor([1.0], dtype="float64"), w)])
        moved, before = before - float(w.numpy()[0]), float(w.numpy()[0])
        assert moved == pytest.approx(opt.last_learning_rate, rel=1e-12)
        rates.append(opt.last_learning_rate)
    assert rates == [0.1, 0.1 / 1.5, 0.1 / 2.0]


def test_clipping_at_zero_is_off_as_in_keras_2():
    """keras-team/keras 2.x clips only when clipvalue > 0 (clipnorm > 0): 0 means no clipping, as None does
    (docs/keras-fidelity.md). TF 2.0-2.10's OptimizerV2 would clip every gradient to 0 and never learn."""
    grads = [np.array([0.5, -4.0, 2.0])]
    plain = run(optimizers.RMSprop(0.01), np.zeros(3), grads)
    for kwargs in ({"clipvalue": 0}, {"clipnorm": 0.0}, {"clipvalue": 0.0, "clipnorm": 0}):
        opt = optimizers.RMSprop(0.01, **kwargs)
        np.testing.assert_array_equal(run(opt, np.zeros(3), grads), plain)
        assert opt.last_clipped_fraction == 0.0
    zero = minigan.tensor([0.0, 0.0], name="z")  # a zero gradient under clipnorm: no 0 / 0
    optimizers.SGD(0.1, clipnorm=1.0).apply_gradients([(minigan.tensor([0.0, 0.0]), zero)])
    assert zero.numpy().tolist() == [0.0, 0.0]


def test_keras_defaults_and_the_book_spelling():
    r, a, s = optimizers.get("rmsprop"), optimizers.get("adam"), optimizers.get("sgd")
    assert (r.learning_rate, r.rho, r.epsilon, r.decay) == (0.001, 0.9, 1e-7, 0.0)
    assert (a.learning_rate, a.beta_1, a.beta_2, a.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert (s.learning_rate, s.momentum, s.nesterov) == (0.01, 0.0, False)
    book = minigan.optimizers.RMSprop(lr=0.0008, clipvalue=1.0, decay=1e-8)
    assert (book.lr, book.learning_rate, book.clipvalue, book.decay) == (0.0008, 0.0008, 1.0, 1e-8)
    with pytest.raises(ValueError, match=r"clipvalue must be a finite number in \[0, 3.40282e\+38\]"):
        optimizers.RMSprop(clipvalue=-1)


def test_clipped_fraction_is_recorded_per_step():
    opt = optimizers.RMSprop(clipvalue=1.0)
    assert opt.last_clipped_fraction is None
    a, b = minigan.tensor(np.zeros(4), name="a"), minigan.tensor(np.zeros(6), name="b")
    opt.apply_gradients([(minigan.tensor([0.5, 2.0, -3.0, 1.0]), a), (minigan.tensor([0.0] * 5 + [-1.5]), b)])
    assert opt.last_clipped_fraction == pytest.approx(3 / 10)  # |g| > 1 in 3 of 10 elements
    assert opt.last_clipped_fraction_device.shape == ()  # a 0-d array on the device, read lazily
    opt.apply_gradients([(minigan.tensor([0.1] * 4), a)])
    assert opt.last_clipped_fraction == 0.0
    unclipped = optimizers.Adam()
    unclipped.apply_gradients([(minigan.tensor([9.0]), minigan.tensor([0.0], name="c"))])
    assert unclipped.last_clipped_fraction == 0.0


# -- named state ----------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: optimizers.RMSprop(0.01, clipvalue=1.0, decay=1e-3),
                                  lambda: optimizers.Adam(0.01), lambda: optimizers.SGD(0.1, momentum=0.9)])
def test_state_round_trip_resumes_exactly(make):
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(3, 2)).astype(np.float32) for _ in range(5)]
    w1, first = minigan.tensor(np.ones((3, 2)), name="d/kernel"), make()
    for g in grads[:3]:
        first.apply_gradients([(g, w1)])
    state = first.get_state()
    assert list(state)[0] == "iterations" and int(state["iterations"]) == 3
    assert all(isinstance(v, np.ndarray) for v in state.values())
    w2, second = minigan.tensor(w1.numpy().copy(), name="d/kernel"), make()
    second.set_state(state)
    state["iterations"][...] = 99  # set_state copied: changing the dict afterwards changes nothing
    for g in grads[3:]:
        first.apply_gradients([(g, w1)])
        second.apply_gradients([(g, w2)])
    np.testing.assert_array_equal(w1.numpy(), w2.numpy())
    assert second.iterations == 5
    for key, value in first.get_state().items():
        np.testing.assert_array_equal(value, second.get_state()[key])


def test_state_is_keyed_by_weight_names_of_a_compiled_model():
    minigan.clear_session()
    x = minigan.Input(shape=(2,))
    hidden = layers.Dense(3)(x)
    model = minigan.Model(x, layers.Dense(1)(hidden))
    model.compile("adam", "mse")
    assert list(model.optimizer.get_state()) == ["iterations", "dense/kernel/m", "dense/kernel/v", "dense/bias/m",
                                                 "dense/bias/v", "dense_1/kernel/m", "dense_1/kernel/v",
                                                 "dense_1/bias/m", "dense_1/bias/v"]


def test_bad_state_is_rejected_before_anything_changes():
    opt = optimizers.RMSprop()
    opt.build([minigan.tensor(np.zeros((2, 2)), name="w")])
    good = opt.get_state()
    with pytest.raises(ValueError, match=r"'w/rms' has shape \(3,\) in the state but \(2, 2\) here"):
        opt.set_state({**good, "w/rms": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="unexpected entry 'w/m'"):
        opt.set_state({**good, "w/m": np.zeros((2, 2), np.float32)})
    with pytest.raises(ValueError, match="not update, first 'v/rms'"):
        opt.set_state({**good, "v/rms": np.zeros((2, 2), np.float32)})
    with pytest.raises(ValueError, match="no 'iterations'"):
        opt.set_state({"w/rms": np.zeros((2, 2), np.float32)})
    assert opt.get_state().keys() == good.keys() and opt.iterations == 0


def test_update_moves_by_about_lr_on_the_first_rmsprop_step():
    """With acc = (1 - rho) g^2 the first step is lr g / (sqrt(0.1) |g|): about 3.16 lr, whatever g."""
    w = minigan.tensor([0.0], name="w")
    optimizers.RMSprop(0.001).apply_gradients([(minigan.tensor([123.0]), w)])
    assert w.numpy()[0] == pytest.approx(-0.001 / math.sqrt(0.1), rel=1e-5)
