"""Layers: Keras names, output shapes (symbolic == eager), initial weights, activations, clear errors."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan import initializers, layers


pytestmark = pytest.mark.usefixtures("fresh_names")  # Keras names from dense, dense_1...; seed 0


# -- names ----------------------------------------------------------------------------------------
def test_generated_names_follow_keras():
    made = [layers.Dense(1), layers.Dense(1), layers.LeakyReLU(), layers.Conv2D(1, 3), layers.Conv2DTranspose(1, 3),
            layers.LeakyReLU(), layers.Reshape((1,)), layers.Flatten(), layers.Dropout(0.1), layers.Activation("tanh"),
            layers.Conv2D(1, 3)]
    assert [layer.name for layer in made] == [
        "dense", "dense_1", "leaky_re_lu", "conv2d", "conv2d_transpose", "leaky_re_lu_1", "reshape", "flatten",
        "dropout", "activation", "conv2d_1"]
    assert [layers.Input(shape=(2,)).node.layer.name for _ in range(2)] == ["input_1", "input_2"]
    assert layers.Dense(1, name="critic").name == "critic"


def test_clear_session_restarts_counters():
    layers.Dense(1)
    minigan.clear_session()
    assert layers.Dense(1).name == "dense"
    assert layers.reset_names is minigan.clear_session


# -- shapes ---------------------------------------------------------------------------------------
def test_dense_applies_to_last_axis():
    d = layers.Dense(5)
    assert d(layers.Input(shape=(7, 3))).shape == (None, 7, 5)
    x = np.random.default_rng(0).normal(size=(2, 7, 3))
    y = d(x)
    kernel, bias = d.get_weights()
    assert y.shape == (2, 7, 5) and y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), x.astype(np.float32) @ kernel + bias, rtol=1e-5, atol=1e-6)


@settings(max_examples=25)
@given(size=st.tuples(st.integers(1, 7), st.integers(1, 7)), channels=st.integers(1, 3),
       kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)), strides=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.sampled_from(["valid", "same"]), transpose=st.booleans())
def test_conv_symbolic_shape_matches_the_computed_one(size, channels, kernel, strides, padding, transpose):
    assume(transpose or padding == "same" or (kernel[0] <= size[0] and kernel[1] <= size[1]))  # else an error
    minigan.clear_session()
    kind = layers.Conv2DTranspose if transpose else layers.Conv2D
    layer = kind(2, kernel, strides=strides, padding=padding)
    symbolic = layer(layers.Input(shape=size + (channels,)))
    eager = layer(np.ones((2,) + size + (channels,), dtype=np.float32))
    assert eager.shape == (2,) + symbolic.shape[1:]


def test_book_shapes_and_param_counts():
    x = layers.Input(shape=(32,))
    dense = layers.Dense(128 * 16 * 16)
    y = layers.Reshape((16, 16, 128))(layers.LeakyReLU()(dense(x)))
    y = layers.Conv2D(256, 5, padding="same")(y)
    up = layers.Conv2DTranspose(256, 4, strides=2, padding="same")
    assert up(y).shape == (None, 32, 32, 256) and up.count_params() == 1048832
    assert dense.count_params() == 1081344
    d = layers.Conv2D(128, 4, strides=2)
    assert d(layers.Input(shape=(30, 30, 128))).shape == (None, 14, 14, 128) and d.count_params() == 262272
    assert layers.Flatten()(layers.Input(shape=(2, 2, 128))).shape == (None, 512)


def test_flatten_keeps_the_channels_last_order_as_keras():
    """Keras flattens NHWC as C would store it: x[n, i, j, c] goes to position (i * W + j) * C + c, so the
    three channels of a pixel stay side by side. A 2 x 2 x 3 input, each value its own index, pins it."""
    x = np.arange(2 * 2 * 2 * 3, dtype=np.float32).reshape(2, 2, 2, 3)
    flat = layers.Flatten()(x).numpy()
    assert flat[0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]  # pixel (0, 0): R G B, then pixel (0, 1)...
    assert flat[1].tolist() == list(range(12, 24))
    image = layers.Input(shape=(2, 2, 3))
    model = minigan.Model(image, layers.Flatten()(image))  # the symbolic path runs the same call
    np.testing.assert_array_equal(model.predict(x), x.reshape(2, 12))


def test_conv1x1_equals_dense_on_channels():
    x = np.random.default_rng(1).normal(size=(2, 4, 5, 3)).astype(np.float32)
    conv, dense = layers.Conv2D(6, 1, activation="relu"), layers.Dense(6, activation="relu")
    conv(x), dense(x)
    kernel, bias = dense.get_weights()
    conv.set_weights([kernel.reshape(1, 1, 3, 6), bias + 0.1])
    dense.set_weights([kernel, bias + 0.1])
    np.testing.assert_allclose(conv(x).numpy(), dense(x).numpy(), rtol=1e-5, atol=1e-6)


def conv_loops(x, kernel, stride, padding):
    """Conv2D by its definition, with TensorFlow's 'same' padding (the odd pixel after)."""
    n, h, w, _ = x.shape
    kh, kw, _, f = kernel.shape
    if padding == "same":
        oh, ow = -(-h // stride), -(-w // stride)
        top = max((oh - 1) * stride + kh - h, 0) // 2
        left = max((ow - 1) * stride + kw - w, 0) // 2
    else:
        oh, ow, top, left = (h - kh) // stride + 1, (w - kw) // stride + 1, 0, 0
    padded = np.zeros((n, h + 2 * kh, w + 2 * kw, x.shape[3]))
    padded[:, kh:kh + h, kw:kw + w] = x
    y = np.zeros((n, oh, ow, f))
    for r in range(oh):
        for c in range(ow):
            r0, c0 = kh + r * stride - top, kw + c * stride - left
            y[:, r, c] = np.einsum("nijc,ijcf->nf", padded[:, r0:r0 + kh, c0:c0 + kw], kernel)
    return y


@pytest.mark.parametrize("size, k, stride, padding, channels", [
    (4, 3, 1, "same", 3), (5, 3, 2, "same", 3), (6, 4, 2, "same", 3), (7, 3, 2, "valid", 3), (32, 5, 1, "same", 3),
    (8, 5, 1, "same", 128),  # the book's 5x5 layers at 128+ channels (the size where conv2d may switch algorithm)
])
def test_conv2d_layer_values(size, k, stride, padding, channels):
    rng = np.random.default_rng(size)
    x = rng.normal(size=(2, size, size, channels)).astype(np.float32)
    conv = layers.Conv2D(channels + 1, k, strides=stride, padding=padding, activation="tanh")
    conv(x)
    kernel, bias = conv.get_weights()
    bias += 0.25
    conv.set_weights([kernel, bias])
    expected = np.tanh(conv_loops(x.astype(np.float64), kernel.astype(np.float64), stride, padding) + bias)
    np.testing.assert_allclose(conv(x).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_box_filter_by_hand():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    box = layers.Conv2D(1, 3, padding="same", use_bias=False)
    box(x)
    box.set_weights([np.ones((3, 3, 1, 1))])
    assert box(x).numpy()[0, :, :, 0].tolist() == [[10, 18, 24, 18], [27, 45, 54, 39], [51, 81, 90, 63],
                                                   [42, 66, 72, 50]]


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv2d_transpose(a, k), b> == <a, conv2d(b, k)>: the layer uses the Conv2D kernel layout."""
    rng = np.random.default_rng(2)
    t = layers.Conv2DTranspose(3, 4, strides=2, padding="same", use_bias=False)
    a = rng.normal(size=(1, 5, 5, 2)).astype(np.float32)
    out = t(a).numpy()
    b = rng.normal(size=out.shape).astype(np.float32)
    back = F.conv2d(minigan.tensor(b), t.kernel, strides=2, padding="same").numpy()
    assert math.isclose(float((out * b).sum()), float((a * back).sum()), rel_tol=1e-4)


# -- weights --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, input_shape, fans", [
    (lambda: layers.Dense(64), (32,), (32, 64)),
    (lambda: layers.Conv2D(16, 5), (9, 9, 3), (5 * 5 * 3, 5 * 5 * 16)),
    (lambda: layers.Conv2DTranspose(16, 4), (9, 9, 8), (4 * 4 * 16, 4 * 4 * 8)),  # kernel (4, 4, 16, 8)
])
def test_glorot_uniform_kernels_and_zero_biases(make, input_shape, fans):
    layer = make()
    layer(layers.Input(shape=input_shape))
    kernel, bias = layer.get_weights()
    assert initializers.compute_fans(kernel.shape) == fans
    limit = math.sqrt(6 / sum(fans))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit
    assert abs(kernel.std() - limit / math.sqrt(3)) < 0.1 * limit  # U[-a, a] has std a / sqrt(3)
    assert kernel.dtype == np.float32 and not bias.any()


def test_initial_weights_are_seeded():
    minigan.random.seed(7)
    a = layers.Dense(4)(layers.Input(shape=(3,)))
    first = a.node.layer.get_weights()[0]
    minigan.random.seed(7)
    b = layers.Dense(4)(layers.Input(shape=(3,)))
    np.testing.assert_array_equal(first, b.node.layer.get_weights()[0])


def test_float64_layers_for_gradient_checks():
    x = layers.Input(shape=(3,), dtype="float64")
    d = layers.Dense(2)
    assert d(x).dtype == np.float64 and d.kernel.dtype == np.float64


# -- activations and dropout ----------------------------------------------------------------------
def test_activations_by_name_and_leaky_alpha():
    x = np.array([[-2.0, 0.5]], dtype=np.float32)
    assert layers.LeakyReLU()(x).numpy().tolist() == [[np.float32(-0.6), 0.5]]
    assert layers.Activation("relu")(x).numpy().tolist() == [[0.0, 0.5]]
    np.testing.assert_allclose(layers.Activation("tanh")(x).numpy(), np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(layers.Activation("sigmoid")(x).numpy(), 1 / (1 + np.exp(-x)), rtol=1e-6)
    assert layers.Activation(None)(x).numpy().tolist() == layers.Activation("linear")(x).numpy().tolist()


def test_sigmoid_outputs_remember_their_logits():
    d = layers.Dense(1, activation="sigmoid")
    y = d(np.ones((2, 3), dtype=np.float32))
    np.testing.assert_allclose(y.numpy(), 1 / (1 + np.exp(-y._keras_logits.numpy())), rtol=1e-6)
    assert not hasattr(layers.Dense(1, activation="tanh")(np.ones((2, 3))), "_keras_logits")


def test_dropout_only_while_training():
    x = np.ones((200, 50), dtype=np.float32)
    drop = layers.Dropout(0.4)
    assert (drop(x).numpy() == 1).all()  # a direct call is inference, as in Keras
    y = drop(x, training=True).numpy()
    assert np.isclose(y, 0).sum() + np.isclose(y, 1 / 0.6).sum() == y.size
    assert abs((y == 0).mean() - 0.4) < 0.03


# -- errors ---------------------------------------------------------------------------------------
def test_unknown_activation_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown activation 'swish'.*'relu'.*'sigmoid'.*'tanh'"):
        layers.Dense(3, activation="swish")


def test_conv_channel_mismatch_names_layer_and_shapes():
    conv = layers.Conv2D(128, 3, name="conv2d_4")
    conv(layers.Input(shape=(32, 32, 3)))
    with pytest.raises(ValueError, match=r"Conv2D 'conv2d_4' expects input with 3 channels \(kernel is "
                                         r"\(3, 3, 3, 128\)\), got an input of shape \(20, 32, 32, 4\)"):
        conv(np.zeros((20, 32, 32, 4), dtype=np.float32))


def test_shape_errors_are_clear():
    d = layers.Dense(2, name="head")
    d(layers.Input(shape=(4,)))
    with pytest.raises(ValueError, match=r"Dense 'head' expects inputs whose last axis is 4 .* shape \(None, 5\)"):
        d(layers.Input(shape=(5,)))
    with pytest.raises(ValueError, match=r"Reshape 'r' cannot turn an input of shape \(None, 10\)"):
        layers.Reshape((3, 3), name="r")(layers.Input(shape=(10,)))
    with pytest.raises(ValueError, match=r"Conv2D 'c' expects images of shape \(batch, height, width, channels\)"):
        layers.Conv2D(1, 3, name="c")(layers.Input(shape=(10,)))
    with pytest.raises(ValueError, match=r"does not fit in an input of shape \(None, 2, 2, 1\)"):
        layers.Conv2D(1, 3)(layers.Input(shape=(2, 2, 1)))
    with pytest.raises(ValueError, match="unknown padding 'full'"):
        layers.Conv2D(1, 3, padding="full")
    with pytest.raises(ValueError, match="a shape must be positive ints"):
        layers.Input(shape=(None, 3))
    with pytest.raises(ValueError, match="is not built yet"):
        layers.Dense(1).count_params()
