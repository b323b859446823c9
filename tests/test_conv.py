"""conv2d and conv2d_transpose: values against nested loops and PyTorch, gradients, chunking, errors."""

import functools
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import conv_cases, float64_array, float64_tensor, seeds

import minigan
import minigan.functional as F
from minigan import GradcheckError, gradcheck
from minigan.functional import im2col as im2col_module
from minigan.functional.conv import Conv2D, Conv2DKernelGrad, choose_algorithm
from minigan.functional.im2col import col2im, im2col, im2col_reference


# -- obviously-correct references, written from the TensorFlow / Keras definitions --------------
def tf_pads(size, kernel, stride, padding):
    """(before, after) as TensorFlow's 'same': the odd one after. Written again here on purpose."""
    if padding == "valid":
        return 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d_loops(x, k, strides, padding):
    """y[n, r, s] = sum over taps (i, j) of x[n, r*SH + i - PT, s*SW + j - PL] @ k[i, j] (zeros outside)."""
    n, h, w, _ = x.shape
    kh, kw, _, f = k.shape
    (sh, sw), (pt, pl) = strides, (tf_pads(h, kh, strides[0], padding)[0], tf_pads(w, kw, strides[1], padding)[0])
    oh = -(-h // sh) if padding == "same" else (h - kh) // sh + 1
    ow = -(-w // sw) if padding == "same" else (w - kw) // sw + 1
    y = np.zeros((n, oh, ow, f))
    for b in range(n):
        for r in range(oh):
            for s in range(ow):
                for i in range(kh):
                    for j in range(kw):
                        row, col = r * sh + i - pt, s * sw + j - pl
                        if 0 <= row < h and 0 <= col < w:
                            y[b, r, s] += x[b, row, col] @ k[i, j]
    return y


def conv2d_transpose_loops(x, k, strides, padding):
    """Each input pixel (n, r, s) scatters k[i, j] @ x[n, r, s] onto output (r*SH + i - PT, s*SW + j - PL);
    output size as Keras 2: H*SH ('same') or H*SH + max(KH - SH, 0) ('valid')."""
    n, h, w, _ = x.shape
    kh, kw, c_out, _ = k.shape
    sh, sw = strides
    oh = h * sh + (max(kh - sh, 0) if padding == "valid" else 0)
    ow = w * sw + (max(kw - sw, 0) if padding == "valid" else 0)
    pt, pl = tf_pads(oh, kh, sh, padding)[0], tf_pads(ow, kw, sw, padding)[0]
    y = np.zeros((n, oh, ow, c_out))
    for b in range(n):
        for r in range(h):
            for s in range(w):
                for i in range(kh):
                    for j in range(kw):
                        row, col = r * sh + i - pt, s * sw + j - pl
                        if 0 <= row < oh and 0 <= col < ow:
                            y[b, row, col] += k[i, j] @ x[b, r, s]
    return y


def transpose_input_hw(case):
    """An input size for conv2d_transpose: the output size of the conv2d it is the transpose of."""
    (_, h, w, _), (kh, kw), (sh, sw) = case["x_shape"], case["kernel_hw"], case["strides"]
    if case["padding"] == "same":
        return -(-h // sh), -(-w // sw)
    return (h - kh) // sh + 1, (w - kw) // sw + 1


def conv_tensors(case, dtype="float64"):
    n, h, w, c = case["x_shape"]
    kh, kw = case["kernel_hw"]
    f, seed = case["filters"], case["seed"]
    x = float64_tensor((n, h, w, c), seed, name="x")
    kernel = float64_tensor((kh, kw, c, f), seed + 1, name="kernel")
    bias = float64_tensor((f,), seed + 2, name="bias")
    return x, kernel, bias


# -- values -------------------------------------------------------------------------------------
BOTH = ("im2col", "fft")


@given(case=conv_cases(algorithms=BOTH))
def test_conv2d_matches_nested_loops(case):
    x, kernel, bias = conv_tensors(case)
    y = F.conv2d(x, kernel, bias, strides=case["strides"], padding=case["padding"], algorithm=case["algorithm"])
    expected = conv2d_loops(x.data, kernel.data, case["strides"], case["padding"]) + bias.data
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)


@given(case=conv_cases(algorithms=BOTH))
def test_conv2d_transpose_matches_nested_loops(case):
    n, _, _, c = case["x_shape"]
    h, w = transpose_input_hw(case)
    (kh, kw), f, seed = case["kernel_hw"], case["filters"], case["seed"]
    x, kernel = float64_array((n, h, w, f), seed), float64_array((kh, kw, c, f), seed + 1)
    y = F.conv2d_transpose(minigan.tensor(x, dtype="float64"), minigan.tensor(kernel, dtype="float64"),
                           strides=case["strides"], padding=case["padding"], algorithm=case["algorithm"])
    np.testing.assert_allclose(y.data, conv2d_transpose_loops(x, kernel, case["strides"], case["padding"]),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size, kernel, stride, pads", [
    (32, 5, 2, (1, 2)),   # odd total: the extra row goes to the bottom (PyTorch's padding=2 would give (2, 2))
    (32, 4, 1, (1, 2)),   # even kernel, stride 1
    (5, 4, 2, (1, 2)),
    (16, 4, 2, (1, 1)),   # the book's Conv2DTranspose(256, 4, strides=2): symmetric
    (7, 3, 3, (1, 1)),
    (6, 1, 3, (0, 0)),    # pad_total would be negative: no padding
])
def test_same_padding_follows_tensorflow(size, kernel, stride, pads):
    assert F.same_padding(size, kernel, stride) == pads
    assert F.conv_output_length(size, kernel, stride, "same") == -(-size // stride)


def test_conv2d_same_with_even_kernel_pads_bottom_right():
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    y = F.conv2d(minigan.tensor(x), minigan.tensor(np.ones((2, 2, 1, 1))), padding="same").data[0, :, :, 0]
    # each output sums x[r:r+2, s:s+2]; the zero row/column is after the last one
    assert y.tolist() == [[12.0, 16.0, 9.0], [24.0, 28.0, 15.0], [15.0, 17.0, 9.0]]


@pytest.mark.parametrize("h, kernel, stride, padding, expected", [
    (16, 4, 2, "same", 32), (16, 4, 2, "valid", 34), (5, 3, 1, "valid", 7), (5, 1, 3, "valid", 15),
    (5, 5, 3, "same", 15),
])
def test_conv2d_transpose_output_size_is_keras_2(h, kernel, stride, padding, expected):
    x = minigan.tensor(np.ones((1, h, h, 2)))
    y = F.conv2d_transpose(x, minigan.tensor(np.ones((kernel, kernel, 3, 2))), strides=stride, padding=padding)
    assert y.shape == (1, expected, expected, 3)
    assert F.conv_transpose_output_length(h, kernel, stride, padding) == expected


@given(case=conv_cases(), seed=seeds)
def test_conv2d_transpose_is_the_vjp_of_conv2d(case, seed):
    # <conv2d(z, k), y> == <z, conv2d_transpose(y, k)> for every z and y (z of the transpose's output size)
    (n, _, _, c), f = case["x_shape"], case["filters"]
    y = float64_tensor((n,) + transpose_input_hw(case) + (f,), seed, name="y")
    kernel = float64_tensor(case["kernel_hw"] + (c, f), case["seed"], name="kernel")
    back = F.conv2d_transpose(y, kernel, strides=case["strides"], padding=case["padding"])
    z = float64_tensor(back.shape, case["seed"] + 1, name="z")
    y_conv = F.conv2d(z, kernel, strides=case["strides"], padding=case["padding"])
    assert y_conv.shape == y.shape
    assert np.isclose((y_conv.data * y.data).sum(), (z.data * back.data).sum(), rtol=1e-10, atol=1e-10)
    y_conv.backward(y)  # and it is exactly what backward gives as the gradient of the input
    np.testing.assert_allclose(z.grad.data, back.data, rtol=1e-12, atol=1e-12)


@given(case=conv_cases(), seed=seeds)
def test_im2col_matches_its_definition_and_col2im_is_its_adjoint(case, seed):
    (kh, kw), strides = case["kernel_hw"], case["strides"]
    x = float64_array(case["x_shape"], case["seed"])
    pads = tf_pads(x.shape[1], kh, strides[0], case["padding"]) + tf_pads(x.shape[2], kw, strides[1], case["padding"])
    cols = im2col(x, kh, kw, strides, pads)
    np.testing.assert_array_equal(cols, im2col_reference(x, kh, kw, strides, pads))
    other = float64_array(cols.shape, seed)
    assert np.isclose((cols * other).sum(), (x * col2im(other, x.shape[1:3], strides, pads)).sum(), rtol=1e-12)


# -- gradients ----------------------------------------------------------------------------------
@settings(max_examples=40)
@given(case=conv_cases(algorithms=BOTH))
def test_conv2d_gradients(case):
    x, kernel, bias = conv_tensors(case)
    options = dict(strides=case["strides"], padding=case["padding"], algorithm=case["algorithm"])
    gradcheck(lambda x, k, b: F.conv2d(x, k, b, **options), x, kernel, bias)


@settings(max_examples=40)
@given(case=conv_cases(algorithms=BOTH))
def test_conv2d_transpose_gradients(case):
    n, h, w, c = case["x_shape"]
    (kh, kw), f, seed = case["kernel_hw"], case["filters"], case["seed"]
    x = float64_tensor((n,) + transpose_input_hw(case) + (f,), seed, name="x")
    kernel, bias = float64_tensor((kh, kw, c, f), seed + 1, name="kernel"), float64_tensor((c,), seed + 2, name="bias")
    options = dict(strides=case["strides"], padding=case["padding"], algorithm=case["algorithm"])
    gradcheck(lambda x, k, b: F.conv2d_transpose(x, k, b, **options), x, kernel, bias)


@settings(max_examples=15)
@given(case=conv_cases(batch=(1, 2), size=(1, 5)))
def test_kernel_gradient_is_differentiable_too(case):
    # Conv2DKernelGrad's own backward (gradients of gradients) is made of conv2d and conv2d_transpose
    x, kernel, _ = conv_tensors(case)
    (_, h, w, _), (kh, kw), strides = case["x_shape"], case["kernel_hw"], case["strides"]
    pads = tf_pads(h, kh, strides[0], case["padding"]) + tf_pads(w, kw, strides[1], case["padding"])
    y_shape = F.conv2d(x, kernel, strides=strides, padding=case["padding"]).shape
    gy = float64_tensor(y_shape, case["seed"] + 3, name="gy")
    gradcheck(lambda x, gy: Conv2DKernelGrad()(x, gy, kernel_hw=(kh, kw), strides=strides, pads=pads), x, gy)


@pytest.mark.parametrize("op", [F.conv2d, F.conv2d_transpose])
@pytest.mark.parametrize("algorithm, strides", [("im2col", (1, 2)), ("im2col", 1), ("fft", 1)])
def test_second_order_gradients(op, algorithm, strides):
    # d/dk of |d(sum op(x, k)^2)/dx|^2: backward of a backward, against gradcheck
    x = float64_tensor((1, 4, 3, 2), 0, name="x")
    kernel = float64_tensor((2, 3, 2, 2), 1, name="kernel")

    def grad_norm(k):
        x.cleargrad()  # gradcheck's own backward also reaches x
        with minigan.enable_grad():  # gradcheck evaluates under no_grad; this inner backward needs the graph
            y = op(x, k, strides=strides, padding="same", algorithm=algorithm)
            (y * y).sum().backward(create_graph=True)
        g = x.grad  # dL/dx, itself a graph of k
        x.cleargrad()
        k.cleargrad()  # the inner backward also added to k.grad: not part of this function's value
        return (g * g).sum()

    gradcheck(grad_norm, kernel)


class OffByAFactor(Conv2D):
    """A deliberately wrong backward: the kernel gradient is 1% too large."""

    def backward(self, gy):
        gx, gk = super().backward(gy)
        return gx, gk * 1.01


def test_gradcheck_catches_a_wrong_backward_and_names_the_input():
    x, kernel = float64_tensor((2, 4, 5, 2), 0, name="x"), float64_tensor((3, 2, 2, 3), 1, name="kernel")
    wrong = lambda x, k: OffByAFactor()(x, k, strides=(1, 1), pads=(1, 1, 0, 1))  # noqa: E731
    with pytest.raises(GradcheckError, match=r"input 1 'kernel' of shape \(3, 2, 2, 3\)"):
        gradcheck(wrong, x, kernel)
    right = lambda x, k: Conv2D()(x, k, strides=(1, 1), pads=(1, 1, 0, 1))  # noqa: E731
    assert gradcheck(right, x, kernel)


def test_no_input_gradient_is_computed_when_the_input_needs_none(monkeypatch):
    x = float64_tensor((2, 5, 5, 3), 0, requires_grad=False)  # e.g. the images fed to the discriminator
    kernel = float64_tensor((3, 3, 3, 4), 1)
    monkeypatch.setattr("minigan.functional.conv.conv_input_grad", lambda *a, **k: pytest.fail("input grad computed"))
    F.conv2d(x, kernel, strides=2).sum().backward()
    assert x.grad is None and kernel.grad.shape == kernel.shape


def test_float32_stays_float32():
    x = minigan.tensor(np.ones((2, 6, 6, 3)), requires_grad=True)
    kernel = minigan.tensor(np.ones((3, 3, 3, 4)), requires_grad=True)
    bias = minigan.tensor(np.zeros(4), requires_grad=True)
    y = F.conv2d(x, kernel, bias, padding="same")
    F.conv2d_transpose(y, kernel, strides=2).sum().backward()
    assert y.dtype == np.float32
    assert x.grad.dtype == kernel.grad.dtype == bias.grad.dtype == np.float32


# -- bounded memory -----------------------------------------------------------------------------
def watch_column_buffers(monkeypatch):
    made = []
    allocate = im2col_module.column_buffer

    def watched(xp, shape, dtype):
        made.append(allocate(xp, shape, dtype))
        return made[-1]

    monkeypatch.setattr(im2col_module, "column_buffer", watched)
    return made


@pytest.mark.parametrize("transpose", [False, True])
def test_chunked_equals_unchunked_and_the_cap_holds(monkeypatch, transpose):
    op = F.conv2d_transpose if transpose else F.conv2d
    x = float64_tensor((5, 6, 7, 3), 0, name="x")
    kernel, bias = float64_tensor((3, 4, 2 if transpose else 3, 3 if transpose else 2), 1), float64_tensor((2,), 2)
    options = dict(strides=(2, 1), padding="same")
    y = op(x, kernel, bias, **options)
    y.backward(float64_tensor(y.shape, 3))
    whole = [t.grad.data.copy() for t in (x, kernel, bias)]
    for t in (x, kernel, bias):
        t.cleargrad()

    small = x if transpose else y  # the conv2d's output side: one column row per pixel
    per_sample = small.shape[1] * small.shape[2] * 3 * 4 * kernel.shape[2] * 8  # OH*OW rows of KH*KW*C float64
    cap = 2 * per_sample  # two samples per chunk: chunks of 2, 2, 1
    made = watch_column_buffers(monkeypatch)
    chunked = op(x, kernel, bias, max_column_bytes=cap, **options)
    chunked.backward(float64_tensor(y.shape, 3))
    np.testing.assert_allclose(chunked.data, y.data, rtol=1e-12, atol=1e-12)
    for t, g in zip((x, kernel, bias), whole):
        np.testing.assert_allclose(t.grad.data, g, rtol=1e-12, atol=1e-12)
    assert len(made) == 3  # forward, input gradient, kernel gradient: one reused buffer each
    assert all(b.nbytes == cap for b in made), [b.nbytes for b in made]


def test_the_module_cap_is_read_at_call_time(monkeypatch):
    made = watch_column_buffers(monkeypatch)
    monkeypatch.setattr(im2col_module, "MAX_COLUMN_BYTES", 4 * 4 * 3 * 3 * 2 * 4)  # one sample's columns
    F.conv2d(_ones(3, 4, 4, 2), _ones(3, 3, 2, 5), padding="same")
    assert [b.shape[0] for b in made] == [1]


def test_memory_stays_flat_as_the_batch_grows():
    kernel = minigan.tensor(np.ones((5, 5, 8, 4)) / 200, requires_grad=True)
    per_sample = 16 * 16 * 5 * 5 * 8 * 4  # 200 KiB of float32 columns per sample

    def peak(batch, cap):
        x = minigan.tensor(np.ones((batch, 16, 16, 8)), requires_grad=True)
        tracemalloc.start()
        F.conv2d(x, kernel, padding="same", max_column_bytes=cap).sum().backward()
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top, x.data.nbytes

    small, _ = peak(4, per_sample)
    large, x_bytes = peak(32, per_sample)
    unchunked, _ = peak(32, 2**40)
    assert unchunked > 32 * per_sample  # the whole column matrix at once: 6.25 MiB
    # with the cap: one sample's columns plus arrays the size of x, y and their gradients
    assert large < per_sample + 6 * x_bytes, (small, large)


# -- algorithms ---------------------------------------------------------------------------------
def test_auto_picks_im2col_for_small_layers_and_fft_for_the_big_stride_1_ones():
    assert choose_algorithm((3, 3, 3, 8), (1, 1)) == "im2col"
    assert choose_algorithm((3, 3, 3, 128), (1, 1), (30, 30)) == "im2col"  # the discriminator's first layer
    assert choose_algorithm((5, 5, 256, 256), (2, 2)) == "im2col"
    assert choose_algorithm((5, 5, 256, 256), (1, 1), (32, 32)) == "fft"  # the generator's 5x5 layers
    assert choose_algorithm((5, 5, 128, 256), (1, 1), (16, 16)) == "fft"
    assert choose_algorithm((7, 7, 256, 3), (1, 1), (32, 32)) == "fft"    # its last layer: 9-40x faster
    assert choose_algorithm((1, 1, 256, 256), (1, 1), (32, 32)) == "im2col"
    assert choose_algorithm((5, 5, 256, 256), (1, 1), (4, 4)) == "im2col"  # tiny maps: transforms dominate


@pytest.mark.parametrize("op", [F.conv2d, F.conv2d_transpose])
def test_fft_and_im2col_agree_in_float32(op):
    x = minigan.tensor(float64_array((2, 9, 7, 8), 0), requires_grad=True)
    kernel = minigan.tensor(float64_array((5, 4, 8, 8), 1), requires_grad=True)
    results = []
    for algorithm in ("im2col", "fft"):
        y = op(x, kernel, padding="same", algorithm=algorithm)
        (y * y).sum().backward()
        results.append([y.data, x.grad.data, kernel.grad.data])
        x.cleargrad(), kernel.cleargrad()
    for a, b in zip(*results):
        assert b.dtype == np.float32
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * np.abs(a).max())


# -- errors -------------------------------------------------------------------------------------
def _ones(*shape, dtype="float32"):
    return minigan.tensor(np.ones(shape), dtype=dtype)


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.conv2d(_ones(20, 32, 32, 4), _ones(3, 3, 3, 128)), ValueError,
     r"conv2d expects input with 3 channels \(kernel is \(3, 3, 3, 128\), layout \(KH, KW, C_in, C_out\)\), "
     r"got an input of shape \(20, 32, 32, 4\)"),
    (lambda: F.conv2d(_ones(32, 32, 3), _ones(3, 3, 3, 8)), ValueError, r"4-D input \(N, H, W, C\).*\(32, 32, 3\)"),
    (lambda: F.conv2d(_ones(1, 8, 8, 3), _ones(3, 3, 8)), ValueError, r"4-D kernel.*\(3, 3, 8\)"),
    (lambda: F.conv2d(_ones(1, 4, 8, 3), _ones(5, 3, 3, 8)), ValueError,
     r"kernel \(5x3\) is larger than the input \(4x8\) with padding='valid'"),
    (lambda: F.conv2d(_ones(1, 8, 8, 3), _ones(3, 3, 3, 8), strides=0), ValueError,
     r"conv2d: strides must be a positive int or a pair of them, got 0"),
    (lambda: F.conv2d(_ones(1, 8, 8, 3), _ones(3, 3, 3, 8), strides=(1, 1.5)), ValueError, r"pair of them, got \(1, 1.5\)"),
    (lambda: F.conv2d(_ones(1, 8, 8, 3), _ones(3, 3, 3, 8), strides=1.0), ValueError, r"got 1.0"),
    (lambda: F.conv2d(_ones(1, 8, 8, 3), _ones(3, 3, 3, 8), strides=(1, 2, 3)), ValueError, r"got \(1, 2, 3\)"),
    (lambda: F.conv2d(_ones(1, 8, 8, 3), _ones(3, 3, 3, 8), padding="full"), ValueError,
     r"unknown padding 'full'; expected one of \('valid', 'same'\)"),
    (lambda: F.conv2d(_ones(1, 8, 8, 3), _ones(3, 3, 3, 8), algorithm="winograd"), ValueError,
     r"unknown algorithm 'winograd'"),
    (lambda: F.conv2d(_ones(1, 8, 8, 3), _ones(3, 3, 3, 8), strides=2, algorithm="fft"), ValueError,
     r"conv2d: algorithm='fft' needs strides 1, got \(2, 2\)"),
    (lambda: F.conv2d(minigan.tensor(np.ones((1, 8, 8, 3), np.uint8)), _ones(3, 3, 3, 8)), TypeError,
     r"conv2d needs floating-point inputs.*uint8"),
    (lambda: F.conv2d(_ones(1, 8, 8, 3), _ones(3, 3, 3, 8, dtype="float64")), TypeError, r"share one dtype"),
    (lambda: F.conv2d(_ones(1, 8, 8, 3), _ones(3, 3, 3, 8), _ones(3)), ValueError, r"bias must have shape \(8,\)"),
    (lambda: F.conv2d(_ones(1, 8, 8, 3), _ones(3, 3, 3, 8), max_column_bytes=0), ValueError,
     r"max_column_bytes must be a positive number of bytes"),
    (lambda: F.conv2d_transpose(_ones(1, 8, 8, 3), _ones(4, 4, 16, 8)), ValueError,
     r"conv2d_transpose expects input with 8 channels \(kernel is \(4, 4, 16, 8\), layout \(KH, KW, C_out, C_in\)\)"),
    (lambda: F.conv2d_transpose(_ones(1, 8, 8, 8), _ones(4, 4, 16, 8), padding="SAME ", strides=2), ValueError,
     r"unknown padding"),
])
def test_errors_name_the_op_and_the_expected_and_actual_values(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_padding_is_case_insensitive_as_in_keras_and_strides_take_numpy_ints():
    y = F.conv2d(_ones(1, 5, 5, 1), _ones(3, 3, 1, 1), padding="SAME", strides=[np.int64(2), 1])
    assert y.shape == (1, 3, 5, 1)


# -- PyTorch cross-checks (skipped without torch) -----------------------------------------------
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def torch_conv2d(torch, x, k, b, strides, padding):
    """TF-style conv2d in PyTorch: NHWC -> NCHW, kernel (KH, KW, C, F) -> (F, C, KH, KW), asymmetric F.pad."""
    tf = torch.nn.functional
    pt, pb = tf_pads(x.shape[1], k.shape[0], strides[0], padding)
    pl, pr = tf_pads(x.shape[2], k.shape[1], strides[1], padding)
    xn = tf.pad(x.permute(0, 3, 1, 2), (pl, pr, pt, pb))
    return tf.conv2d(xn, k.permute(3, 2, 0, 1).contiguous(), b, stride=strides).permute(0, 2, 3, 1)


def torch_conv2d_transpose(torch, x, k, b, strides, padding):
    """Keras-2-style transposed conv in PyTorch: the full transposed conv, then crop TF's pads."""
    tf = torch.nn.functional
    (h, w), (kh, kw), (sh, sw) = x.shape[1:3], k.shape[:2], strides
    out = [n * s + (max(q - s, 0) if padding == "valid" else 0) for n, q, s in ((h, kh, sh), (w, kw, sw))]
    full = [(n - 1) * s + q for n, q, s in ((h, kh, sh), (w, kw, sw))]
    pads = [tf_pads(o, q, s, padding)[0] for o, q, s in zip(out, (kh, kw), strides)]
    extra = tuple(max(p + o - f, 0) for p, o, f in zip(pads, out, full))  # output_padding (KH < SH)
    y = tf.conv_transpose2d(x.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1).contiguous(), b, stride=strides,
                            output_padding=extra)
    return y[:, :, pads[0]:pads[0] + out[0], pads[1]:pads[1] + out[1]].permute(0, 2, 3, 1)


def compare_with_torch(torch, op, torch_op, x, kernel, bias, strides, padding):
    ours = [minigan.tensor(a, dtype="float64", requires_grad=True) for a in (x, kernel, bias)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, kernel, bias)]
    y = op(*ours, strides=strides, padding=padding)
    y_torch = torch_op(torch, *theirs, strides, padding)
    np.testing.assert_allclose(y.data, y_torch.detach().numpy(), rtol=1e-10, atol=1e-10)
    gy = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(minigan.tensor(gy, dtype="float64"))
    y_torch.backward(torch.tensor(gy))
    for name, a, b in zip(("x", "kernel", "bias"), ours, theirs):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=name)


@settings(max_examples=25)
@given(case=conv_cases(size=(1, 9), algorithms=BOTH))
def test_conv2d_values_and_gradients_match_torch(torch, case):
    x, kernel, bias = (t.data for t in conv_tensors(case))
    op = functools.partial(F.conv2d, algorithm=case["algorithm"])
    compare_with_torch(torch, op, torch_conv2d, x, kernel, bias, case["strides"], case["padding"])


@settings(max_examples=25)
@given(case=conv_cases(size=(1, 9), algorithms=BOTH))
def test_conv2d_transpose_values_and_gradients_match_torch(torch, case):
    (n, _, _, c), (kh, kw), f, seed = case["x_shape"], case["kernel_hw"], case["filters"], case["seed"]
    x = float64_array((n,) + transpose_input_hw(case) + (f,), seed)
    kernel, bias = float64_array((kh, kw, c, f), seed + 1), float64_array((c,), seed + 2)
    op = functools.partial(F.conv2d_transpose, algorithm=case["algorithm"])
    compare_with_torch(torch, op, torch_conv2d_transpose, x, kernel, bias, case["strides"], case["padding"])


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("kernel", [2, 4])
def test_even_kernels_with_stride_2_same_match_torch(torch, transpose, kernel):
    x, c, f = float64_array((2, 9, 8, 3), 0), 3, 5
    if transpose:
        compare_with_torch(torch, F.conv2d_transpose, torch_conv2d_transpose, float64_array((2, 5, 4, f), 0),
                           float64_array((kernel, kernel, c, f), 1), float64_array((c,), 2), (2, 2), "same")
    else:
        compare_with_torch(torch, F.conv2d, torch_conv2d, x, float64_array((kernel, kernel, c, f), 1),
                           float64_array((f,), 2), (2, 2), "same")


# -- CuPy parity (skipped without a usable GPU) -------------------------------------------------
def cupy_or_skip():
    try:
        with minigan.backend.using_backend("cupy"):
            pass
    except minigan.backend.BackendError as error:
        pytest.skip(f"CuPy backend not usable here: {str(error).splitlines()[0]}")


@pytest.mark.parametrize("op, kernel_shape", [(F.conv2d, (5, 4, 3, 6)), (F.conv2d_transpose, (4, 4, 3, 6))])
@pytest.mark.parametrize("strides, padding", [(1, "same"), (2, "same"), ((2, 1), "valid")])
def test_cupy_matches_numpy(op, kernel_shape, strides, padding):
    cupy_or_skip()
    channels = kernel_shape[2] if op is F.conv2d else kernel_shape[3]
    arrays = [float64_array((3, 9, 10, channels), 0), float64_array(kernel_shape, 1),
              float64_array((kernel_shape[3] if op is F.conv2d else kernel_shape[2],), 2)]
    results = {}
    for name in ("numpy", "cupy"):
        with minigan.backend.using_backend(name):
            inputs = [minigan.tensor(a, requires_grad=True) for a in arrays]  # float32
            y = op(*inputs, strides=strides, padding=padding)
            (y * y).sum().backward()
            results[name] = [minigan.to_numpy(y)] + [minigan.to_numpy(t.grad) for t in inputs]
    for a, b in zip(results["numpy"], results["cupy"]):
        np.testing.assert_allclose(b, a, rtol=2e-4, atol=2e-4 * np.abs(a).max())
