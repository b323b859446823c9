"""Pooling and concatenation: values by loop references, float64 gradient checks (and of the gradients'
own backward), the layers' shapes and errors, and PyTorch cross-checks (skipped without torch)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan import gradcheck, layers
from minigan.functional.im2col import same_padding
from minigan.functional.pooling import AvgPool2DAdjoint, GatherFromWinners, Pooling, RouteToWinners
from strategies import image_shapes, seeds


@st.composite
def pool_cases(draw):
    """(N, H, W, C), window, strides and padding; a 'valid' window always fits."""
    n, h, w, c = draw(image_shapes(size=(1, 7)))
    window = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same"]))
    if padding == "valid":
        window = (min(window[0], h), min(window[1], w))
    return (n, h, w, c), window, strides, padding, draw(seeds)


def distinct_values(shape, seed):
    """Values 0.01 apart in random order: no two elements of a window tie, even after a 1e-6 nudge."""
    values = np.random.default_rng(seed).permutation(math.prod(shape)).reshape(shape)
    return minigan.tensor(values * 0.01 - 1.0, dtype="float64", requires_grad=True)


def windows_by_loops(x, window, strides, padding):
    """For every output position the list of in-image values of its window, by the definition."""
    n, h, w, c = x.shape
    (kh, kw), (sh, sw) = window, strides
    if padding == "same":
        (pt, _), (pl, _) = same_padding(h, kh, sh), same_padding(w, kw, sw)
        oh, ow = -(-h // sh), -(-w // sw)
    else:
        pt = pl = 0
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = {}
    for r in range(oh):
        for s in range(ow):
            rows = [r * sh + i - pt for i in range(kh) if 0 <= r * sh + i - pt < h]
            cols = [s * sw + j - pl for j in range(kw) if 0 <= s * sw + j - pl < w]
            out[r, s] = x[:, rows][:, :, cols].reshape(n, -1, c)
    return out, (oh, ow)


@given(case=pool_cases())
def test_max_pool_values_and_gradients(case):
    shape, window, strides, padding, seed = case
    x = distinct_values(shape, seed)
    y = F.max_pool2d(x, window, strides, padding)
    expected, out_hw = windows_by_loops(x.data, window, strides, padding)
    assert y.shape == (shape[0],) + out_hw + (shape[3],)
    for (r, s), values in expected.items():
        np.testing.assert_array_equal(y.data[:, r, s], values.max(axis=1))
    gradcheck(lambda t: F.max_pool2d(t, window, strides, padding), x)


@given(case=pool_cases())
def test_avg_pool_values_and_gradients(case):
    shape, window, strides, padding, seed = case
    x = distinct_values(shape, seed)
    y = F.avg_pool2d(x, window, strides, padding)
    expected, _ = windows_by_loops(x.data, window, strides, padding)
    for (r, s), values in expected.items():  # 'same' divides by the pixels inside the image only
        np.testing.assert_allclose(y.data[:, r, s], values.mean(axis=1), rtol=1e-13)
    gradcheck(lambda t: F.avg_pool2d(t, window, strides, padding), x)


@given(case=pool_cases())
def test_the_backward_passes_are_adjoint_pairs_and_differentiable(case):
    shape, window, strides, padding, seed = case
    x = distinct_values(shape, seed)
    y = F.max_pool2d(x, window, strides, padding)
    rng = np.random.default_rng(seed)
    gy = minigan.tensor(rng.normal(size=y.shape), dtype="float64", requires_grad=True)
    v = minigan.tensor(rng.normal(size=shape), dtype="float64", requires_grad=True)
    (y * gy.data).sum().backward()
    geometry = Pooling(shape[1:3], window, strides, padding)
    argmax = np.full(y.shape, -1, np.int16)
    taps = [(i, j) for i in range(window[0]) for j in range(window[1])]
    xpad = np.pad(x.data, [(0, 0), geometry.pads[:2], geometry.pads[2:], (0, 0)], constant_values=-np.inf)
    for t, tap in reversed(list(enumerate(taps))):
        argmax[xpad[geometry.slice(*tap)] == y.data] = t
    route = lambda g: RouteToWinners()(g, winner=argmax, geometry=geometry)
    gather = lambda u: GatherFromWinners()(u, winner=argmax, geometry=geometry)
    np.testing.assert_allclose(route(gy).data, x.grad.data, rtol=1e-15)   # the route is max pool's backward
    np.testing.assert_allclose((route(gy).data * v.data).sum(), (gy.data * gather(v).data).sum(), rtol=1e-12)
    gradcheck(route, gy)
    gradcheck(gather, v)
    spread = lambda g: AvgPool2DAdjoint()(g, geometry=geometry)  # average pooling's backward
    np.testing.assert_allclose((spread(gy).data * v.data).sum(),
                               (gy.data * F.avg_pool2d(v.data, window, strides, padding).data).sum(), rtol=1e-12)
    gradcheck(spread, gy)


def test_max_pool_gives_ties_to_the_first_tap():
    x = minigan.tensor(np.ones((1, 2, 2, 1)), dtype="float64", requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    assert x.grad.data.reshape(-1).tolist() == [1.0, 0.0, 0.0, 0.0]


@given(shapes=st.lists(st.integers(1, 3), min_size=1, max_size=4), axis=st.integers(0, 2), seed=seeds)
def test_concatenate_values_and_gradients(shapes, axis, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=tuple(size if a == axis else 2 for a in range(3))) for size in shapes]
    tensors = [minigan.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    np.testing.assert_array_equal(F.concatenate(tensors, axis).data, np.concatenate(arrays, axis))
    gradcheck(lambda *ts: F.concatenate(list(ts), axis), *tensors)


def test_global_average_pooling_is_the_channel_mean():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
    y = layers.GlobalAveragePooling2D()(minigan.tensor(x, dtype="float64"))
    np.testing.assert_allclose(y.data, x.mean(axis=(1, 2)), rtol=1e-14)
    gradcheck(F.global_avg_pool2d, minigan.tensor(x, dtype="float64", requires_grad=True))


def test_layers_shapes_defaults_and_errors(fresh_names):
    x = layers.Input(shape=(35, 35, 288))
    assert layers.MaxPooling2D()(x).shape == (None, 17, 17, 288)                      # strides = pool_size
    assert layers.MaxPooling2D(3, strides=2)(x).shape == (None, 17, 17, 288)
    assert layers.AveragePooling2D(3, strides=1, padding="same")(x).shape == (None, 35, 35, 288)
    assert layers.MaxPooling2D(2, padding="same")(x).shape == (None, 18, 18, 288)
    assert layers.concatenate([x, layers.Conv2D(4, 1)(x)]).shape == (None, 35, 35, 292)
    with pytest.raises(ValueError, match=r"MaxPooling2D 'pool': the \(5, 5\) window does not fit"):
        layers.MaxPooling2D(5, name="pool")(layers.Input(shape=(3, 3, 1)))
    with pytest.raises(ValueError, match="pool_size must be a positive int or a pair"):
        layers.AveragePooling2D(0)
    with pytest.raises(ValueError, match=r"Concatenate 'cat': input 1 has shape \(None, 34, 35, 1\), which does not fit"):
        layers.Concatenate(name="cat")([x, layers.Input(shape=(34, 35, 1))])
    with pytest.raises(TypeError, match="Concatenate 'cat2' takes a non-empty list of inputs"):
        layers.Concatenate(name="cat2")(x)
    with pytest.raises(TypeError, match="only merge layers such as Concatenate take a list"):
        layers.Dense(2)([x, x])
    with pytest.raises(ValueError, match=r"max_pool2d expects images \(N, H, W, C\)"):
        F.max_pool2d(np.zeros((2, 3)))


# -- PyTorch ------------------------------------------------------------------------------------
def torch_pool(torch, kind, x, window, strides, padding):
    """PyTorch's pooling with TF's padding spelled out (PyTorch pads symmetrically, TF puts the odd pad last)."""
    t = torch.from_numpy(x).permute(0, 3, 1, 2)
    h, w = x.shape[1:3]
    if padding == "same":
        (pt, pb), (pl, pr) = same_padding(h, window[0], strides[0]), same_padding(w, window[1], strides[1])
    else:
        pt = pb = pl = pr = 0
    if kind == "max":
        t = torch.nn.functional.pad(t, (pl, pr, pt, pb), value=-math.inf)
        y = torch.nn.functional.max_pool2d(t, window, strides)
    else:  # the sum over the window divided by the in-image count, as count_include_pad=False does
        ones = torch.nn.functional.pad(torch.ones_like(t[:, :1]), (pl, pr, pt, pb))
        t = torch.nn.functional.pad(t, (pl, pr, pt, pb))
        y = torch.nn.functional.avg_pool2d(t, window, strides) / torch.nn.functional.avg_pool2d(ones, window, strides)
    return y.permute(0, 2, 3, 1).numpy()


@given(case=pool_cases(), kind=st.sampled_from(["max", "avg"]))
def test_pooling_matches_torch(case, kind):
    torch = pytest.importorskip("torch")
    shape, window, strides, padding, seed = case
    x = np.random.default_rng(seed).normal(size=shape)
    ours = (F.max_pool2d if kind == "max" else F.avg_pool2d)(minigan.tensor(x, dtype="float64"), window, strides,
                                                            padding)
    np.testing.assert_allclose(ours.data, torch_pool(torch, kind, x, window, strides, padding), rtol=1e-12)


def test_inception_style_avg_pool_matches_torch_count_include_pad_false():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).normal(size=(2, 7, 6, 3))
    expected = torch.nn.functional.avg_pool2d(torch.from_numpy(x).permute(0, 3, 1, 2), 3, 1, 1,
                                              count_include_pad=False).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(F.avg_pool2d(minigan.tensor(x, dtype="float64"), 3, 1, "same").data, expected,
                               rtol=1e-12)
