"""im2col and col2im: a convolution as one matrix product, and its adjoint.

Notation (channels-last, as Keras; see docs/im2col.md for the full story):
    N            batch size
    H, W, C      input height, width, channels
    KH, KW       kernel height, width
    F            filters (output channels)
    SH, SW       strides
    PT, PB       rows of zeros added at the top, bottom   (PH = PT + PB)
    PL, PR       columns of zeros added left, right       (PW = PL + PR)
    OH, OW       output height, width:  OH = (H + PH - KH) // SH + 1

    x      (N, H, W, C)             the input
    kernel (KH, KW, C, F)           Keras layout
    cols   (N, OH, OW, KH, KW, C)   cols[n, oh, ow, i, j, c] = xpad[n, oh*SH + i, ow*SW + j, c]
                                    reshaped for free to (N*OH*OW, KH*KW*C): one row per output
                                    pixel, holding the patch that pixel sees
    y      (N, OH, OW, F)           y = cols @ kernel.reshape(KH*KW*C, F): one GEMM

im2col copies KH*KW strided slices of the padded input (one per kernel tap (i, j)) into cols.
col2im is its adjoint: it *adds* each tap's slice back where it came from, then crops the padding
(the adjoint of padding). Adding tap by tap is deterministic -- no atomic scatter-add.

    conv2d           y  = im2col(x) @ K                     K = kernel.reshape(KH*KW*C, F)
    its input grad   gx = col2im(gy @ K^T)                  (= the transposed convolution)
    its kernel grad  gK = im2col(x)^T @ gy

The column matrix is KH*KW times bigger than the input (a 5x5 kernel: 25x), so the work is cut
into chunks of the batch whose columns fit in ``max_column_bytes`` (256 MiB by default). Memory then
stays flat as the batch grows. Chunking is over whole samples: a single sample whose columns alone
exceed the cap is still done in one piece (the book's heaviest layer needs 25 MiB per sample).

>>> import minigan
>>> x = minigan.backend.asarray([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).reshape(1, 2, 3, 1)
>>> im2col(x, 2, 2, (1, 1), (0, 0, 0, 0)).reshape(-1, 4).tolist()   # two 2x2 patches
[[1.0, 2.0, 4.0, 5.0], [2.0, 3.0, 5.0, 6.0]]
"""

import numbers

from ..backend import get_array_module

PADDINGS = ("valid", "same")
MAX_COLUMN_BYTES = 256 * 2**20  # the default cap on one column buffer: 256 MiB


# -- sizes and padding: the rules the ops and the layers share ---------------------------------
def check_pair(value, what, owner):
    """3 -> (3, 3); (3, 5) stays: Keras' spelling of kernel_size, strides, pool_size and size. Each a
    positive int (a NumPy int too; not a bool, not 2.0), or a ValueError naming ``owner`` and ``what``.

    >>> check_pair(3, "strides", "conv2d"), check_pair((2, 1), "strides", "conv2d")
    ((3, 3), (2, 1))
    """
    if isinstance(value, numbers.Integral):
        pair = (value, value)
    elif isinstance(value, (tuple, list)):
        pair = tuple(value)
    else:
        pair = ()  # a string, a float, None...: fails the check below
    if len(pair) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in pair):
        raise ValueError(f"{owner}: {what} must be a positive int or a pair of them, got {value!r}")
    return tuple(int(v) for v in pair)


def check_padding(padding, owner):
    """'valid' or 'same' (any case), or a ValueError naming ``owner``."""
    name = padding.lower() if isinstance(padding, str) else padding
    if name not in PADDINGS:
        raise ValueError(f"{owner}: unknown padding {padding!r}; expected one of {PADDINGS}")
    return name


def conv_output_length(size, kernel, stride, padding):
    """Output length of a convolution along one axis (TensorFlow / Keras rules).

    ``same``: ceil(size / stride) whatever the kernel;  ``valid``: (size - kernel) // stride + 1.

    >>> conv_output_length(32, 5, 2, "same"), conv_output_length(32, 5, 2, "valid")
    (16, 14)
    """
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


def same_padding(size, kernel, stride):
    """(before, after) zeros that TensorFlow's ``same`` adds along one axis.

    pad_total = max((OH - 1) * SH + KH - H, 0) with OH = ceil(H / SH); before = pad_total // 2, and the
    odd one out goes *after* (bottom / right). PyTorch's symmetric ``padding=k // 2`` differs when
    pad_total is odd, e.g. H = 32, KH = 5, SH = 2: TF pads (1, 2), not (2, 2).

    >>> same_padding(32, 5, 2), same_padding(32, 4, 1), same_padding(5, 1, 1)
    ((1, 2), (1, 2), (0, 0))
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_pads(in_hw, kernel_hw, strides, padding):
    """(PT, PB, PL, PR) for a conv2d of an input of spatial size ``in_hw`` (all zeros for ``valid``)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    return same_padding(in_hw[0], kernel_hw[0], strides[0]) + same_padding(in_hw[1], kernel_hw[1], strides[1])


def conv_transpose_output_length(size, kernel, stride, padding):
    """Output length of a transposed convolution along one axis, exactly as Keras 2 (``deconv_length``).

    ``same``: size * stride;  ``valid``: size * stride + max(kernel - stride, 0), which is
    (size - 1) * stride + kernel whenever kernel >= stride. A conv2d with the same kernel, stride and
    padding maps this length back to ``size``.

    >>> conv_transpose_output_length(16, 4, 2, "same"), conv_transpose_output_length(16, 4, 2, "valid")
    (32, 34)
    """
    if padding == "same":
        return size * stride
    return size * stride + max(kernel - stride, 0)


def padded_size(in_hw, pads):
    return in_hw[0] + pads[0] + pads[1], in_hw[1] + pads[2] + pads[3]


def output_size(in_hw, kernel_hw, strides, pads):
    """(OH, OW) = ((H + PH - KH) // SH + 1, (W + PW - KW) // SW + 1)."""
    hp, wp = padded_size(in_hw, pads)
    return (hp - kernel_hw[0]) // strides[0] + 1, (wp - kernel_hw[1]) // strides[1] + 1


def batch_chunk(n, rows_per_sample, row_length, itemsize, max_column_bytes=None):
    """How many samples go into one column buffer so that it holds at most ``max_column_bytes``
    (None: the module's ``MAX_COLUMN_BYTES``, read at call time, so it can be changed globally).

    One sample's columns take rows_per_sample * row_length * itemsize bytes (OH*OW rows of KH*KW*C).
    At least one sample per chunk, at most the whole batch.

    >>> batch_chunk(20, 32 * 32, 5 * 5 * 256, 4, 256 * 2**20)   # the book's heaviest layer: 25 MiB each
    10
    """
    per_sample = max(rows_per_sample * row_length * itemsize, 1)
    cap = MAX_COLUMN_BYTES if max_column_bytes is None else max_column_bytes
    return max(1, min(n, cap // per_sample))


def column_buffer(xp, shape, dtype):
    """Allocate one column buffer (N_chunk, OH, OW, KH, KW, C). The only place one is made, so the
    tests can check the cap by watching this function."""
    return xp.empty(shape, dtype=dtype)


# -- im2col and col2im (one chunk) ------------------------------------------------------------
def _tap(i, j, out_hw, strides):
    """The strided slice of the padded input that kernel tap (i, j) sees: rows i, i+SH, ..., i+(OH-1)*SH."""
    (oh, ow), (sh, sw) = out_hw, strides
    return slice(None), slice(i, i + (oh - 1) * sh + 1, sh), slice(j, j + (ow - 1) * sw + 1, sw), slice(None)


def im2col(x, kh, kw, strides, pads, out=None):
    """x (N, H, W, C) -> cols (N, OH, OW, KH, KW, C), in one copy from a strided view of the padded input.

    For a kernel row i, the KW taps of one output pixel read KW neighbouring pixels of one input row,
    and all their C channels: one *contiguous* run of KW*C values of xpad (row oh*SH + i, columns
    ow*SW .. ow*SW + KW - 1). So cols is a view of xpad with strides, in elements,

        cols[n, oh, ow, i, (j, c)] = xpad[n, oh*SH + i, ow*SW + (j, c)]
        strides (H'W'C, SH W'C, SW C, W'C, 1)       H', W' = the padded height and width

    copied once (``as_strided``; nothing writes through the view). Copying runs of KW*C values instead of
    KH*KW runs of C is 3-5x faster for the few-channel layers (C = 32: 48 ms against 219 ms for a batch
    of 16 at 147 x 147). ``out`` may be a preallocated buffer of cols' shape (reused across chunks).
    """
    xp = get_array_module(x)
    n, h, w, c = x.shape
    pt, pb, pl, pr = pads
    (oh, ow), (sh, sw) = output_size((h, w), (kh, kw), strides, pads), strides
    if any(pads):  # xpad (N, H + PH, W + PW, C): zeros around a copy of x
        xpad = xp.zeros((n, h + pt + pb, w + pl + pr, c), dtype=x.dtype)
        xpad[:, pt:pt + h, pl:pl + w, :] = x
    else:
        xpad = xp.ascontiguousarray(x)
    s_n, s_h, s_w, s_c = xpad.strides
    rows = xp.lib.stride_tricks.as_strided(xpad, shape=(n, oh, ow, kh, kw * c),
                                           strides=(s_n, sh * s_h, sw * s_w, s_h, s_c))
    cols = xp.empty((n, oh, ow, kh, kw, c), dtype=x.dtype) if out is None else out
    cols.reshape(n, oh, ow, kh, kw * c)[...] = rows
    return cols


def col2im(cols, in_hw, strides, pads, out=None):
    """The adjoint of im2col: cols (N, OH, OW, KH, KW, C) -> (N, H, W, C).

    Every entry of cols is *added* back at the input position it was copied from (overlapping patches
    sum up), then the padding is cropped away. <im2col(x), cols> == <x, col2im(cols)> for all x, cols.
    """
    xp = get_array_module(cols)
    n, oh, ow, kh, kw, c = cols.shape
    h, w = in_hw
    pt, pb, pl, pr = pads
    if out is None:
        out = xp.empty((n, h, w, c), dtype=cols.dtype)
    # With no padding, accumulate straight into out; else into a zero-padded buffer, then crop.
    xpad = xp.zeros((n, h + pt + pb, w + pl + pr, c), dtype=cols.dtype) if any(pads) else out
    if xpad is out:
        out[...] = 0
    for i in range(kh):
        for j in range(kw):
            xpad[_tap(i, j, (oh, ow), strides)] += cols[:, :, :, i, j, :]
    if xpad is not out:
        out[...] = xpad[:, pt:pt + h, pl:pl + w, :]  # crop: the adjoint of padding
    return out


def im2col_reference(x, kh, kw, strides, pads):
    """The same columns by the definition, one element at a time. Slow; for reading and for tests."""
    xp = get_array_module(x)
    n, h, w, c = x.shape
    oh, ow = output_size((h, w), (kh, kw), strides, pads)
    cols = xp.zeros((n, oh, ow, kh, kw, c), dtype=x.dtype)
    for b in range(n):
        for r in range(oh):
            for s in range(ow):
                for i in range(kh):
                    for j in range(kw):
                        row, col = r * strides[0] + i - pads[0], s * strides[1] + j - pads[2]
                        if 0 <= row < h and 0 <= col < w:  # outside: a padding zero
                            cols[b, r, s, i, j, :] = x[b, row, col, :]
    return cols


# -- the three GEMMs of a convolution, chunked over the batch ---------------------------------
# Arrays in, arrays out; the autograd Functions in conv.py call these.
def _chunks(n, step):
    for start in range(0, n, step):
        yield start, min(step, n - start)


def is_pointwise(kernel_shape, strides, pads):
    """A 1x1 kernel, stride 1, no padding: each output pixel sees one input pixel, im2col(x) is x."""
    return tuple(kernel_shape[:2]) == (1, 1) and tuple(strides) == (1, 1) and not any(pads)


def conv_forward(x, kernel, strides, pads, max_column_bytes=None):
    """y (N, OH, OW, F) = im2col(x) @ kernel.reshape(KH*KW*C, F), one chunk of the batch at a time."""
    xp = get_array_module(x, kernel)
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    oh, ow = output_size((h, w), (kh, kw), strides, pads)
    k2 = xp.ascontiguousarray(kernel).reshape(kh * kw * c, f)  # the GEMM operand, made contiguous once
    if is_pointwise(kernel.shape, strides, pads):  # 1x1: the columns are x itself, no copy
        return (xp.ascontiguousarray(x).reshape(n * h * w, c) @ k2).reshape(n, h, w, f)
    y = xp.empty((n, oh, ow, f), dtype=x.dtype)
    step = batch_chunk(n, oh * ow, kh * kw * c, x.dtype.itemsize, max_column_bytes)
    cols = column_buffer(xp, (step, oh, ow, kh, kw, c), x.dtype)  # one buffer, reused by every chunk
    for start, m in _chunks(n, step):
        block = im2col(x[start:start + m], kh, kw, strides, pads, out=cols[:m])
        xp.matmul(block.reshape(m * oh * ow, kh * kw * c), k2, out=y[start:start + m].reshape(m * oh * ow, f))
    return y


def conv_input_grad(gy, kernel, in_hw, strides, pads, max_column_bytes=None):
    """gx (N, H, W, C) = col2im(gy @ K^T): the gradient of conv_forward with respect to its input.

    This *is* the transposed convolution of gy (N, OH, OW, F) with kernel (KH, KW, C, F).
    """
    xp = get_array_module(gy, kernel)
    n, oh, ow, f = gy.shape
    kh, kw, c, _ = kernel.shape
    gy = xp.ascontiguousarray(gy)
    kt = xp.ascontiguousarray(kernel).reshape(kh * kw * c, f).T  # (F, KH*KW*C), a view BLAS reads as is
    gx = xp.empty((n,) + tuple(in_hw) + (c,), dtype=gy.dtype)
    step = batch_chunk(n, oh * ow, kh * kw * c, gy.dtype.itemsize, max_column_bytes)
    dcols = column_buffer(xp, (step, oh, ow, kh, kw, c), gy.dtype)
    for start, m in _chunks(n, step):
        block = dcols[:m]
        xp.matmul(gy[start:start + m].reshape(m * oh * ow, f), kt, out=block.reshape(m * oh * ow, kh * kw * c))
        col2im(block, in_hw, strides, pads, out=gx[start:start + m])
    return gx


def conv_kernel_grad(x, gy, kernel_hw, strides, pads, max_column_bytes=None):
    """gkernel (KH, KW, C, F) = im2col(x)^T @ gy, summed over the chunks of the batch."""
    xp = get_array_module(x, gy)
    n, h, w, c = x.shape
    _, oh, ow, f = gy.shape
    kh, kw = kernel_hw
    gy = xp.ascontiguousarray(gy)
    if is_pointwise((kh, kw), strides, pads):  # 1x1: x^T @ gy directly
        return (xp.ascontiguousarray(x).reshape(-1, c).T @ gy.reshape(-1, f)).reshape(1, 1, c, f)
    gk = xp.zeros((kh * kw * c, f), dtype=x.dtype)
    step = batch_chunk(n, oh * ow, kh * kw * c, x.dtype.itemsize, max_column_bytes)
    cols = column_buffer(xp, (step, oh, ow, kh, kw, c), x.dtype)
    for start, m in _chunks(n, step):
        block = im2col(x[start:start + m], kh, kw, strides, pads, out=cols[:m]).reshape(m * oh * ow, kh * kw * c)
        gk += block.T @ gy[start:start + m].reshape(m * oh * ow, f)
    return gk.reshape(kh, kw, c, f)
