"""TF 1's legacy bilinear resize: against a loop written from the definition, TF's own test data, and
against what it is *not* (half-pixel bilinear, as torch and TF 2 do it)."""

from fractions import Fraction
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigan.backend import numpy as np
from minigan.preprocessing import resize_bilinear_legacy
from minigan.preprocessing.resize import interpolation_matrix, legacy_positions

EPS32 = float(np.finfo(np.float32).eps)


def tf_position(i, n_in, n_out):
    """TF 1's input position for output index i: float(i) * float(n_in / n_out), both in float32."""
    return Fraction(float(np.float32(i) * np.float32(n_in / n_out)))


def reference_resize(images, out_h, out_w, position=tf_position):
    """Straight from the definition, one output value at a time, in float64 from the position on.

    y = i * H / OH, y0 = floor(y), y1 = min(y0 + 1, H - 1), w = y - y0 (and the same along columns).
    """
    n, h, w, c = images.shape
    x = images.astype(np.float64)
    out = np.empty((n, out_h, out_w, c))
    for i in range(out_h):
        y = position(i, h, out_h)
        y0 = int(y)
        y1, wy = min(y0 + 1, h - 1), float(y - y0)
        for j in range(out_w):
            xx = position(j, w, out_w)
            x0 = int(xx)
            x1, wx = min(x0 + 1, w - 1), float(xx - x0)
            top = x[:, y0, x0] + (x[:, y0, x1] - x[:, y0, x0]) * wx
            bottom = x[:, y1, x0] + (x[:, y1, x1] - x[:, y1, x0]) * wx
            out[:, i, j] = top + (bottom - top) * wy
    return out


def random_images(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if dtype == "uint8":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return (rng.standard_normal(shape) * 10).astype(dtype)


@given(n=st.integers(1, 2), h=st.integers(1, 9), w=st.integers(1, 9), out_h=st.integers(1, 23),
       out_w=st.integers(1, 23), c=st.integers(1, 4), dtype=st.sampled_from(["uint8", "float32", "float64"]),
       seed=st.integers(0, 2**32 - 1))
def test_matches_the_definition(n, h, w, out_h, out_w, c, dtype, seed):
    # Up- and down-sampling, non-square, each axis on its own; float32 arithmetic against float64.
    images = random_images((n, h, w, c), dtype, seed)
    out = resize_bilinear_legacy(images, (out_h, out_w))
    assert out.dtype == np.float32 and out.shape == (n, out_h, out_w, c)
    expected = reference_resize(images, out_h, out_w)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(out, expected, rtol=0, atol=8 * EPS32 * scale)


def test_float32_positions_are_tf_s():
    # TF computes i * (H / OH) in float32. At 32 -> 299 that is up to ~1e-6 pixel away from the exact
    # fraction 32 i / 299, which moves values by up to ~4e-4 on the 0..255 scale: small, but it is the
    # difference between matching TF 1 and matching the formula, so we match TF 1.
    images = random_images((1, 32, 32, 1), "uint8", 1)
    out = resize_bilinear_legacy(images, (1, 299))
    exact = reference_resize(images, 1, 299, position=lambda i, n_in, n_out: Fraction(i * n_in, n_out))
    np.testing.assert_allclose(out, reference_resize(images, 1, 299), rtol=0, atol=8 * EPS32 * 255)
    assert 1e-5 < np.abs(out - exact).max() < 1e-3


def test_tensorflow_1_test_data():
    # tensorflow/python/ops/image_ops_test.py, ResizeImagesTest.testResizeUpAlignCornersFalse: the values
    # ResizeMethodV1.BILINEAR (TF 1, half_pixel_centers=False) gives for a 3 x 2 image enlarged to 6 x 4.
    image = np.array([64, 32, 32, 64, 50, 100], np.uint8).reshape(1, 3, 2, 1)
    expected = [64, 48, 32, 32, 48, 48, 48, 48, 32, 48, 64, 64, 41, 61.5, 82, 82, 50, 75, 100, 100, 50, 75, 100, 100]
    assert resize_bilinear_legacy(image, (6, 4)).ravel().tolist() == expected


@given(h=st.integers(1, 12), w=st.integers(1, 12), k=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_exact_cases(h, w, k, seed):
    images = random_images((2, h, w, 3), "uint8", seed)
    # The same size: every position is an integer with weight 0, the image comes back unchanged.
    assert np.array_equal(resize_bilinear_legacy(images, (h, w)), images.astype(np.float32))
    # Enlarging k times: every k-th output pixel is an input pixel (position i * H / (k H) = i / k).
    up = resize_bilinear_legacy(images, (k * h, k * w))
    assert np.array_equal(up[:, ::k, ::k], images.astype(np.float32))
    # Shrinking k times reads every k-th pixel, without averaging (TF 1's rule; PIL would average).
    big = random_images((2, k * h, k * w, 3), "uint8", seed)
    assert np.array_equal(resize_bilinear_legacy(big, (h, w)), big[:, ::k, ::k].astype(np.float32))


def test_last_rows_repeat_the_last_input_row():
    # 2 -> 5: positions 0, 0.4, 0.8, 1.2, 1.6; the last two read rows 1 and min(2, 1) = 1.
    y0, y1, w = legacy_positions(2, 5)
    assert y0.tolist() == [0, 0, 0, 1, 1] and y1.tolist() == [1, 1, 1, 1, 1]
    np.testing.assert_allclose(w, [0, 0.4, 0.8, 0.2, 0.6], rtol=0, atol=1e-7)
    matrix = interpolation_matrix(2, 5)
    np.testing.assert_allclose(matrix, [[1, 0], [0.6, 0.4], [0.2, 0.8], [0, 1], [0, 1]], rtol=0, atol=1e-7)
    column = np.array([10, 20], np.uint8).reshape(1, 2, 1, 1)
    np.testing.assert_allclose(resize_bilinear_legacy(column, (5, 1)).ravel(), [10, 14, 18, 20, 20], atol=1e-5)


@given(n_in=st.integers(1, 64), n_out=st.integers(1, 320))
def test_interpolation_matrix_rows_are_convex_weights(n_in, n_out):
    matrix = interpolation_matrix(n_in, n_out)
    assert (matrix >= 0).all() and ((matrix > 0).sum(axis=1) <= 2).all()
    np.testing.assert_allclose(matrix.sum(axis=1), 1, rtol=0, atol=2 * EPS32)


def test_not_half_pixel():
    # torch's bilinear (align_corners=False) and TF 2 read position (i + 0.5) * H / OH - 0.5: another image.
    torch = pytest.importorskip("torch")
    images = random_images((2, 8, 8, 3), "uint8", 0)
    ours = resize_bilinear_legacy(images, (29, 29))
    half_pixel = torch.nn.functional.interpolate(torch.from_numpy(images.astype(np.float32)).permute(0, 3, 1, 2),
                                                 size=(29, 29), mode="bilinear", align_corners=False)
    half_pixel = half_pixel.permute(0, 2, 3, 1).numpy()
    assert np.abs(ours - half_pixel).max() > 10  # not a rounding difference: a shifted grid
    # Our grid reproduced with torch's gathers, as an independent implementation of the same rule.
    y0, y1, wy = (torch.from_numpy(a) for a in legacy_positions(8, 29))
    x = torch.from_numpy(images.astype(np.float32))
    columns = x[:, :, y0] + (x[:, :, y1] - x[:, :, y0]) * wy[:, None]
    gathered = columns[:, y0] + (columns[:, y1] - columns[:, y0]) * wy[:, None, None]
    np.testing.assert_allclose(ours, gathered.numpy(), rtol=0, atol=8 * EPS32 * 255)


@pytest.mark.parametrize("images, size, error, message", [
    (np.zeros((2, 4, 4), np.uint8), (3, 3), ValueError, r"shape \(N, H, W, C\) .* got shape \(2, 4, 4\)"),
    (np.zeros((2, 0, 4, 3), np.uint8), (3, 3), ValueError, r"H, W, C >= 1"),
    (np.zeros((1, 4, 4, 3), np.int32), (3, 3), ValueError, "must be uint8 .* or floating point, got int32"),
    (np.zeros((1, 4, 4, 3), np.uint8), (0, 3), ValueError, r"two positive integers \(height, width\), got \(0, 3\)"),
    (np.zeros((1, 4, 4, 3), np.uint8), 299, ValueError, "two positive integers"),
    (np.zeros((1, 4, 4, 3), np.uint8), (2.5, 3), ValueError, "two positive integers"),
    ([[[[0]]]], (3, 3), TypeError, "must be a NumPy or CuPy array, got list"),
])
def test_bad_arguments(images, size, error, message):
    with pytest.raises(error, match=message):
        resize_bilinear_legacy(images, size)


def test_empty_batch_and_fid_default():
    out = resize_bilinear_legacy(np.zeros((0, 32, 32, 3), np.uint8))
    assert out.shape == (0, 299, 299, 3) and out.dtype == np.float32


def test_cifar_batch_to_299_is_fast():
    # 100 images here, ~0.05 s on 2 cores (1000 in batches of 100: ~0.55 s); the bound is loose for slow CI.
    images = random_images((100, 32, 32, 3), "uint8", 0)
    start = time.perf_counter()
    out = resize_bilinear_legacy(images)
    assert time.perf_counter() - start < 2.0
    assert out.shape == (100, 299, 299, 3)
    np.testing.assert_allclose(out[:1], reference_resize(images[:1], 299, 299), rtol=0, atol=8 * EPS32 * 255)
