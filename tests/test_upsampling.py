"""UpSampling2D (nearest neighbour): values by a loop reference, gradient checks in float64, the layer's
shapes and errors, and a PyTorch cross-check (skipped without torch)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan import gradcheck, layers

images = st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3))
factors = st.tuples(st.integers(1, 3), st.integers(1, 3))


def upsample_by_loops(x, sh, sw):
    """y[n, i, j, c] = x[n, i // SH, j // SW, c], one element at a time."""
    n, h, w, c = x.shape
    y = np.empty((n, h * sh, w * sw, c), x.dtype)
    for i in range(h * sh):
        for j in range(w * sw):
            y[:, i, j, :] = x[:, i // sh, j // sw, :]
    return y


@given(shape=images, size=factors, seed=st.integers(0, 2**16))
def test_values_match_the_loop_reference_and_gradients_check(shape, size, seed):
    x = minigan.tensor(np.random.default_rng(seed).normal(size=shape), dtype="float64", requires_grad=True)
    np.testing.assert_array_equal(F.upsample2d(x, size).data, upsample_by_loops(x.data, *size))
    gradcheck(lambda t: F.upsample2d(t, size), x)


def test_gradient_of_the_gradient():
    # d/dx sum(up(x)^2) = 2 * 4 * x (each pixel copied 4 times); the gradient of its sum is 8 everywhere
    x = minigan.tensor(np.random.default_rng(1).normal(size=(1, 2, 3, 2)), dtype="float64", requires_grad=True)
    (F.upsample2d(x, (2, 2)) ** 2).sum().backward(create_graph=True)
    gx = x.grad
    np.testing.assert_allclose(gx.data, 8.0 * x.data, rtol=1e-15)
    x.cleargrad()
    gx.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full(x.shape, 8.0))


def test_layer_shapes_name_and_no_weights(fresh_names):
    up = layers.UpSampling2D(size=(2, 3))
    y = up(layers.Input(shape=(4, 5, 7)))
    assert y.shape == (None, 8, 15, 7) and up.name == "up_sampling2d" and up.count_params() == 0
    x = np.arange(2 * 4 * 5 * 7, dtype=np.float32).reshape(2, 4, 5, 7)
    np.testing.assert_array_equal(up(x).data, upsample_by_loops(x, 2, 3))


def test_errors_name_the_layer_and_the_shape():
    with pytest.raises(ValueError, match=r"UpSampling2D 'up' expects images of shape \(batch, height, width, channels\), got an input of shape \(None, 10\)"):
        layers.UpSampling2D(name="up")(layers.Input(shape=(10,)))
    with pytest.raises(ValueError, match="interpolation 'bilinear' is not implemented"):
        layers.UpSampling2D(interpolation="bilinear")
    with pytest.raises(ValueError, match="size must be a positive int or a pair"):
        layers.UpSampling2D(size=0)
    with pytest.raises(ValueError, match=r"upsample2d: expected images \(N, H, W, C\), got an array of shape \(3, 4\)"):
        F.upsample2d(np.zeros((3, 4)), (2, 2))


def test_matches_torch_nearest_upsampling():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).normal(size=(2, 3, 5, 4))
    expected = torch.nn.functional.interpolate(torch.from_numpy(x).permute(0, 3, 1, 2), scale_factor=(2, 3),
                                               mode="nearest").permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(F.upsample2d(minigan.tensor(x, dtype="float64"), (2, 3)).data, expected)
