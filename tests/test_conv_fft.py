"""FFT convolution (minigan/functional/conv_fft.py) against a direct "shift-and-matmul" reference.

The reference is the definition, one kernel tap at a time:

    y[n, i, j, :] = sum_{u, v} xpad[n, i + u, j + v, :] @ kernel[u, v]        ((C,) @ (C, F))
    dx = crop(sum_{u, v} shift_{u, v}(dy @ kernel[u, v]^T))     dk[u, v] = sum_{n, i, j} xpad[..]^T dy[..]
"""

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigan.functional import conv_fft
from minigan.functional.conv_fft import (choose_tiles, fft_conv2d_backward, fft_conv2d_forward,
                                         fft_conv2d_simple, make_plan)


# -- the direct reference ----------------------------------------------------------------------
def reference_forward(x, kernel, pads):
    PT, PB, PL, PR = pads
    KH, KW, C, F = kernel.shape
    xpad = np.pad(x, ((0, 0), (PT, PB), (PL, PR), (0, 0)))
    N, HP, WP, _ = xpad.shape
    OH, OW = HP - KH + 1, WP - KW + 1
    y = np.zeros((N, OH, OW, F), x.dtype)
    for u in range(KH):
        for v in range(KW):
            y += xpad[:, u:u + OH, v:v + OW] @ kernel[u, v]
    return y


def reference_backward(x, kernel, pads, dy):
    PT, PB, PL, PR = pads
    KH, KW, C, F = kernel.shape
    N, OH, OW, _ = dy.shape
    xpad = np.pad(x, ((0, 0), (PT, PB), (PL, PR), (0, 0)))
    dxpad = np.zeros_like(xpad)
    dk = np.zeros_like(kernel)
    for u in range(KH):
        for v in range(KW):
            dxpad[:, u:u + OH, v:v + OW] += dy @ kernel[u, v].T
            dk[u, v] = xpad[:, u:u + OH, v:v + OW].reshape(-1, C).T @ dy.reshape(-1, F)
    dx = dxpad[:, PT:PT + x.shape[1], PL:PL + x.shape[2]]
    return dx, dk


def relative_error(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


# -- hypothesis: float64, every shape, against the reference -----------------------------------
@st.composite
def fft_cases(draw):
    """x (N, H, W, C), kernel (KH, KW, C, F), asymmetric pads with an output of at least 1x1, a tile, a seed."""
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    KH, KW = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    pads = tuple(draw(st.integers(0, 3)) for _ in range(4))
    H = draw(st.integers(max(1, KH - pads[0] - pads[1]), 12))
    W = draw(st.integers(max(1, KW - pads[2] - pads[3]), 12))
    tile = draw(st.one_of(st.none(), st.tuples(st.integers(1, 12), st.integers(1, 12))))
    return dict(x_shape=(N, H, W, C), k_shape=(KH, KW, C, F), pads=pads, tile=tile,
                small_pieces=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)))


@contextlib.contextmanager
def pieces(small):
    """Optionally force the work into its smallest pieces: one image per transform group, one frequency
    column per kernel-spectrum chunk (the book's big layers work like that; tiny test shapes would not)."""
    saved = conv_fft.GROUP_BYTES, conv_fft.CHUNK_BYTES
    if small:
        conv_fft.GROUP_BYTES = conv_fft.CHUNK_BYTES = 1
    try:
        yield
    finally:
        conv_fft.GROUP_BYTES, conv_fft.CHUNK_BYTES = saved


@settings(max_examples=200)  # ~10 ms each: cheap enough to look hard at the odd shapes
@given(fft_cases())
def test_forward_and_gradients_match_direct_float64(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.uniform(-1, 1, case["x_shape"])
    kernel = rng.uniform(-1, 1, case["k_shape"])
    with pieces(case["small_pieces"]):
        y, saved = fft_conv2d_forward(x, kernel, case["pads"], tile=case["tile"])
        dy = rng.uniform(-1, 1, y.shape)
        dx, dk = fft_conv2d_backward(dy, kernel, saved)
    y_ref = reference_forward(x, kernel, case["pads"])
    assert y.shape == y_ref.shape and y.dtype == np.float64
    assert relative_error(y, y_ref) < 1e-10, case
    assert relative_error(fft_conv2d_simple(x, kernel, case["pads"]), y_ref) < 1e-10, case
    dx_ref, dk_ref = reference_backward(x, kernel, case["pads"], dy)
    assert dx.shape == x.shape and dk.shape == kernel.shape
    assert relative_error(dx, dx_ref) < 1e-10, case
    assert relative_error(dk, dk_ref) < 1e-10, case


def test_gradients_only_when_asked():
    rng = np.random.default_rng(0)
    x, kernel = rng.uniform(-1, 1, (2, 5, 6, 3)), rng.uniform(-1, 1, (3, 2, 3, 4))
    y, saved = fft_conv2d_forward(x, kernel, (1, 1, 0, 1))
    dy = rng.uniform(-1, 1, y.shape)
    dx, dk = fft_conv2d_backward(dy, kernel, saved, need_kernel_grad=False)
    assert dk is None and relative_error(dx, reference_backward(x, kernel, (1, 1, 0, 1), dy)[0]) < 1e-10
    dx, dk = fft_conv2d_backward(dy, kernel, saved, need_input_grad=False)
    assert dx is None and relative_error(dk, reference_backward(x, kernel, (1, 1, 0, 1), dy)[1]) < 1e-10


# -- float32 on the book's heaviest layer, at a reduced batch ----------------------------------
@pytest.mark.parametrize("x_shape, k_shape, pads", [
    ((1, 32, 32, 256), (5, 5, 256, 256), (2, 2, 2, 2)),   # generator conv2d_1 / conv2d_2 ("same")
    ((2, 16, 16, 128), (5, 5, 128, 256), (2, 2, 2, 2)),   # generator conv2d
    ((2, 32, 32, 256), (7, 7, 256, 3), (3, 3, 3, 3)),     # generator conv2d_3
])
def test_float32_book_layers(x_shape, k_shape, pads):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape).astype(np.float32)
    kernel = (rng.standard_normal(k_shape) * 0.02).astype(np.float32)
    y, saved = fft_conv2d_forward(x, kernel, pads)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dk = fft_conv2d_backward(dy, kernel, saved)
    assert y.dtype == dx.dtype == dk.dtype == np.float32
    x64, k64, dy64 = x.astype(np.float64), kernel.astype(np.float64), dy.astype(np.float64)
    dx_ref, dk_ref = reference_backward(x64, k64, pads, dy64)
    assert relative_error(y, reference_forward(x64, k64, pads)) < 1e-4
    assert relative_error(dx, dx_ref) < 1e-4
    assert relative_error(dk, dk_ref) < 1e-4


def test_tile_choice_for_the_book_layers():
    """The modelled choices quoted in choose_tiles' docstring (each within noise of the best measured)."""
    assert choose_tiles(20, 32, 32, 5, 5, 256, 256) == (16, 11)
    assert choose_tiles(20, 16, 16, 5, 5, 128, 256) == (8, 16)
    assert choose_tiles(20, 32, 32, 7, 7, 256, 3) == (16, 32)
    plan = make_plan((20, 32, 32, 256), (5, 5, 256, 256), (2, 2, 2, 2))
    assert (plan.SH, plan.SW, plan.Q, plan.tiles_h, plan.tiles_w) == (20, 15, 8, 2, 3)


def test_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match="expects 3 input channels"):
        fft_conv2d_forward(np.zeros((1, 4, 4, 2)), np.zeros((3, 3, 3, 1)), (1, 1, 1, 1))
    with pytest.raises(ValueError, match="at least 1x1"):
        fft_conv2d_forward(np.zeros((1, 2, 2, 1)), np.zeros((5, 5, 1, 1)), (0, 0, 0, 0))
