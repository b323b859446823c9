"""2-D convolution and transposed convolution (channels-last, Keras 2 semantics).

Notation (as in im2col.py; docs/im2col.md tells the whole story, with numbers):
    x      (N, H, W, C)          input            kernel (KH, KW, C, F)   F filters of KH x KW over C channels
    y      (N, OH, OW, F)        output           strides (SH, SW)        pads (PT, PB, PL, PR)
    "same":  OH = ceil(H / SH), PT + PB = max((OH - 1) * SH + KH - H, 0), the odd row at the bottom (as TF)
    "valid": OH = (H - KH) // SH + 1, no padding

    conv2d            y  = im2col(x) @ K + b          K = kernel.reshape(KH*KW*C, F)
    d/dx              gx = col2im(gy @ K^T)           = conv2d_transpose(gy, kernel)
    d/dkernel         gK = im2col(x)^T @ gy
    d/db              gb = gy summed over N, OH, OW

The input gradient of a convolution *is* the transposed convolution: ``conv2d_transpose(y, kernel)``
is defined as d<conv2d(x, kernel), y>/dx, for x of the output size Keras 2 gives. So the two ops are
one pair of Functions whose backwards call each other, and a third (the kernel gradient) that both
share. All three are differentiable, so gradients of gradients work too.

A transposed convolution's kernel has Keras' Conv2DTranspose layout (KH, KW, C_out, C_in): read as a
conv2d kernel (KH, KW, C, F) it maps C = C_out channels to F = C_in -- the transpose goes back.

Two algorithms give the same numbers: "im2col" (any stride; im2col.py) and "fft" (stride 1;
conv_fft.py). ``algorithm="auto"`` picks one per layer with :func:`choose_algorithm`.

>>> import minigan, minigan.functional as F
>>> x = minigan.tensor([[1.0, 2.0, 3.0, 4.0]]).reshape(1, 1, 4, 1)     # N=1, H=1, W=4, C=1
>>> k = minigan.tensor([[1.0, 10.0]]).reshape(1, 2, 1, 1)              # KH=1, KW=2
>>> F.conv2d(x, k, padding="same").data.reshape(-1).tolist()          # TF pads the zero on the right
[21.0, 32.0, 43.0, 4.0]
>>> F.conv2d_transpose(x, k, strides=(1, 2)).data.reshape(-1).tolist()  # each input spreads over 2 outputs
[1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0]
"""

from ..backend import get_array_module
from ..tensor import Function, as_tensor, is_grad_enabled
from .arithmetic import require_float, sum
from .conv_fft import fft_conv2d_backward, fft_conv2d_forward
from .im2col import (check_padding, check_pair, conv_forward, conv_input_grad, conv_kernel_grad, conv_output_length,
                     conv_pads, conv_transpose_output_length)

ALGORITHMS = ("auto", "im2col", "fft")


def choose_algorithm(kernel_shape, strides, output_hw=None, backward=True):
    """The algorithm "auto" uses: "fft" where it measured faster than im2col, else "im2col".

    The FFT path (conv_fft.py) does stride 1 only. Per output pixel im2col's GEMM costs
    KH*KW*C*F multiply-adds, while the FFT's per-frequency products cost about C*F (times a
    constant) plus transforms that grow with C + F. So FFT wins when KH*KW*C*F / (C + F) is
    large, and loses on tiny maps (the transforms' fixed cost) and on 1x1 kernels. The rule,
    fitted to the measurements in docs/benchmarks.md (1 thread, batch 20):

        stride 1,  KH*KW >= 9,  OH*OW >= 64,  KH*KW*C*F / (C + F) >= 100

    It sends all five of the book generator's stride-1 convolutions to FFT (5x5 128->256,
    2 x 5x5 256->256, 7x7 256->3) and keeps the discriminator's 3x3 3->128 and every strided
    convolution on im2col.

    Without a backward pass (inference: ``predict``, FID's Inception-v3) only the forward counts, and
    im2col's forward -- one copy of a strided view, then one GEMM -- beats the FFT's for 3x3 kernels
    (Inception's 147x147 32->64: 0.18 s against 0.19 s with FFT and 0.36 s with the old tap-by-tap
    copy, batch 16), while FFT still wins from 5x5 up (its 35x35 48->64: 0.14 s against 0.22 s over
    a batch of 32). So ``backward=False`` also needs KH*KW >= 25.

    >>> choose_algorithm((5, 5, 256, 256), (1, 1), (32, 32)), choose_algorithm((3, 3, 3, 128), (1, 1), (30, 30))
    ('fft', 'im2col')
    >>> choose_algorithm((5, 5, 256, 256), (2, 2)), choose_algorithm((5, 5, 256, 256), (1, 1), (4, 4))
    ('im2col', 'im2col')
    """
    kh, kw, c, f = kernel_shape
    if tuple(strides) != (1, 1) or kh * kw < (9 if backward else 25):
        return "im2col"
    if output_hw is not None and output_hw[0] * output_hw[1] < 64:
        return "im2col"
    return "fft" if kh * kw * c * f / (c + f) >= 100 else "im2col"


# -- where the FFT plugs in ------------------------------------------------------------------
# For stride 1, conv_fft.py computes the same convolution by FFT (fewer flops for big kernels over
# many channels). Its forward keeps the input's spectrum in ``saved``; one fft_conv2d_backward call
# then gives both gradients. The Functions below stay the graph: a gradient computed by that pass
# is handed to its Function as ``precomputed``, and the Function only records how it depends on its
# inputs -- so its own backward (for gradients of gradients) is the same as on the im2col path.
#
# A stride-1 transposed convolution is itself a convolution: the kernel turned by 180 degrees, its
# two channel axes swapped, and K - 1 - P zeros of padding (``flip_kernel``, ``flipped_pads``).
def flip_kernel(kernel):
    """(KH, KW, C, F) -> (KH, KW, F, C) with kernel[KH-1-i, KW-1-j, c, f] at [i, j, f, c]. Its own inverse."""
    return get_array_module(kernel).ascontiguousarray(kernel[::-1, ::-1].transpose(0, 1, 3, 2))


def flipped_pads(kernel_hw, pads):
    """Pads of the stride-1 conv2d with the flipped kernel that equals conv2d_transpose: K - 1 - P."""
    (kh, kw), (pt, pb, pl, pr) = kernel_hw, pads
    return kh - 1 - pt, kh - 1 - pb, kw - 1 - pl, kw - 1 - pr


# -- the three Functions ----------------------------------------------------------------------
class Conv2D(Function):
    """y = conv2d(x, kernel) + bias

    gx = conv2d_transpose(gy, kernel)    gkernel = im2col(x)^T @ gy    gbias = gy summed over N, OH, OW
    """

    def forward(self, x, kernel, bias=None, *, strides, pads, algorithm="im2col", max_column_bytes=None,
                precomputed=None):
        self.setup = dict(strides=strides, pads=pads, algorithm=algorithm, max_column_bytes=max_column_bytes)
        self.fft_saved = None
        if precomputed is not None:
            y = precomputed
        elif algorithm == "fft":  # stride 1; keeps the input's spectrum for backward
            y, self.fft_saved = fft_conv2d_forward(x, kernel, pads)
        else:
            y = conv_forward(x, kernel, strides, pads, max_column_bytes)
        if bias is not None:
            y += bias  # (F,) broadcast over (N, OH, OW, F), in place: no second copy of y
        return y

    def backward(self, gy):
        x, kernel = self.inputs[:2]
        gx = gk = None
        if self.fft_saved is not None:  # one FFT pass for both gradients
            gx, gk = fft_conv2d_backward(gy.data, kernel.data, self.fft_saved,
                                         need_input_grad=x.requires_grad, need_kernel_grad=kernel.requires_grad)
        if x.requires_grad:
            gx = Conv2DTranspose()(gy, kernel, in_hw=x.shape[1:3], precomputed=gx, **self.setup)
        if kernel.requires_grad:
            gk = Conv2DKernelGrad()(x, gy, kernel_hw=kernel.shape[:2], precomputed=gk, **self.setup)
        if len(self.inputs) == 2:
            return gx, gk
        return gx, gk, sum(gy, axis=(0, 1, 2))


class Conv2DTranspose(Function):
    """y = conv2d_transpose(x, kernel) + bias:  the input gradient of a conv2d, y = col2im(x @ K^T).

    Here x plays conv2d's output (N, OH, OW, F) and y its input (N, H, W, C) with (H, W) = ``in_hw``.
    gx = conv2d(gy, kernel)    gkernel = im2col(gy)^T @ x    gbias = gy summed over N, H, W
    """

    def forward(self, x, kernel, bias=None, *, in_hw, strides, pads, algorithm="im2col",
                max_column_bytes=None, precomputed=None):
        self.setup = dict(strides=strides, pads=pads, algorithm=algorithm, max_column_bytes=max_column_bytes)
        self.fft_saved = None
        if precomputed is not None:
            y = precomputed
        elif algorithm == "fft":  # stride 1: a conv2d with the flipped kernel
            y, self.fft_saved = fft_conv2d_forward(x, flip_kernel(kernel), flipped_pads(kernel.shape[:2], pads))
        else:
            y = conv_input_grad(x, kernel, in_hw, strides, pads, max_column_bytes)
        if bias is not None:
            y += bias
        return y

    def backward(self, gy):
        # <conv2d_transpose(x, k), gy> = <x, conv2d(gy, k)>: the roles of input and output swap.
        x, kernel = self.inputs[:2]
        gx = gk = None
        if self.fft_saved is not None:  # gradients of the flipped conv2d; flip the kernel's back
            gx, gk = fft_conv2d_backward(gy.data, flip_kernel(kernel.data), self.fft_saved,
                                         need_input_grad=x.requires_grad, need_kernel_grad=kernel.requires_grad)
            gk = None if gk is None else flip_kernel(gk)
        if x.requires_grad:
            gx = Conv2D()(gy, kernel, precomputed=gx, **self.setup)
        if kernel.requires_grad:
            gk = Conv2DKernelGrad()(gy, x, kernel_hw=kernel.shape[:2], precomputed=gk, **self.setup)
        if len(self.inputs) == 2:
            return gx, gk
        return gx, gk, sum(gy, axis=(0, 1, 2))


class Conv2DKernelGrad(Function):
    """gkernel = im2col(x)^T @ gy  -- bilinear in (x, gy), so its own gradients are convolutions again:

    <ggk, im2col(x)^T gy> = <conv2d(x, ggk), gy> = <x, conv2d_transpose(gy, ggk)>
    d/dx = conv2d_transpose(gy, ggk)        d/dgy = conv2d(x, ggk)

    On its own it always uses im2col: the FFT kernel gradient needs the spectrum of a forward pass.
    """

    def forward(self, x, gy, *, kernel_hw, strides, pads, algorithm="im2col", max_column_bytes=None,
                precomputed=None):
        self.setup = dict(strides=strides, pads=pads, algorithm=algorithm, max_column_bytes=max_column_bytes)
        if precomputed is not None:
            return precomputed
        return conv_kernel_grad(x, gy, kernel_hw, strides, pads, max_column_bytes)

    def backward(self, ggk):
        x, gy = self.inputs
        gx = Conv2DTranspose()(gy, ggk, in_hw=x.shape[1:3], **self.setup) if x.requires_grad else None
        ggy = Conv2D()(x, ggk, **self.setup) if gy.requires_grad else None
        return gx, ggy


# -- checking what the user passed ------------------------------------------------------------
def _check(op, x, kernel, bias, channel_axis, layout):
    """Ranks, dtypes and the channel count; returns the Tensors."""
    x, kernel = as_tensor(x), as_tensor(kernel)
    bias = None if bias is None else as_tensor(bias)
    if x.ndim != 4:
        raise ValueError(f"{op} expects a 4-D input (N, H, W, C) (channels last), got shape {x.shape}")
    if kernel.ndim != 4:
        raise ValueError(f"{op} expects a 4-D kernel {layout}, got shape {kernel.shape}")
    arrays = [x.data, kernel.data] + ([] if bias is None else [bias.data])
    require_float(op, *arrays)
    if len({a.dtype for a in arrays}) > 1:
        raise TypeError(f"{op}: input, kernel and bias must share one dtype, got "
                        f"{', '.join(str(a.dtype) for a in arrays)}; convert with .astype(...)")
    if x.shape[3] != kernel.shape[channel_axis]:
        raise ValueError(f"{op} expects input with {kernel.shape[channel_axis]} channels (kernel is "
                         f"{kernel.shape}, layout {layout}), got an input of shape {x.shape}")
    if min(x.shape[1:3]) < 1 or min(kernel.shape) < 1:
        raise ValueError(f"{op}: empty image or kernel (input {x.shape}, kernel {kernel.shape})")
    out_channels = kernel.shape[5 - channel_axis]  # F for conv2d (axis 3), C_out for conv2d_transpose (axis 2)
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{op}: bias must have shape ({out_channels},) (one per output channel), got {bias.shape}")
    return x, kernel, bias


def _column_cap(op, max_column_bytes):
    if max_column_bytes is not None and (isinstance(max_column_bytes, bool) or not isinstance(max_column_bytes, int)
                                         or max_column_bytes < 1):
        raise ValueError(f"{op}: max_column_bytes must be a positive number of bytes or None (the default, "
                         f"256 MiB), got {max_column_bytes!r}")
    return max_column_bytes


def _algorithm(op, algorithm, kernel_shape, strides, output_hw, inputs):
    if algorithm not in ALGORITHMS:
        raise ValueError(f"{op}: unknown algorithm {algorithm!r}; expected one of {ALGORITHMS}")
    if algorithm == "auto":  # will this call's graph be recorded for a backward pass?
        backward = is_grad_enabled() and any(t.requires_grad for t in inputs)
        return choose_algorithm(kernel_shape, strides, output_hw, backward)
    if algorithm == "fft" and strides != (1, 1):
        raise ValueError(f"{op}: algorithm='fft' needs strides 1, got {strides}; use 'im2col' or 'auto'")
    return algorithm


# -- the functional API -----------------------------------------------------------------------
def conv2d(x, kernel, bias=None, strides=1, padding="valid", algorithm="auto", max_column_bytes=None):
    """2-D convolution, channels last: x (N, H, W, C), kernel (KH, KW, C, F), bias (F,) -> (N, OH, OW, F).

    ``strides``: an int or (SH, SW). ``padding``: "valid" (no padding) or "same" (OH = ceil(H / SH);
    TensorFlow's rule, the odd zero row/column goes to the bottom/right). ``algorithm``: "im2col"
    (always), "fft" (stride 1 only) or "auto" (see :func:`choose_algorithm`). ``max_column_bytes`` caps
    the im2col buffer (default None: ``im2col.MAX_COLUMN_BYTES``, 256 MiB); larger batches are done in
    chunks of whole samples.
    """
    op = "conv2d"
    x, kernel, bias = _check(op, x, kernel, bias, 2, "(KH, KW, C_in, C_out)")
    strides, padding = check_pair(strides, "strides", op), check_padding(padding, op)
    (h, w), (kh, kw) = x.shape[1:3], kernel.shape[:2]
    if padding == "valid" and (kh > h or kw > w):
        raise ValueError(f"{op}: the kernel ({kh}x{kw}) is larger than the input ({h}x{w}) with padding='valid'; "
                         f"use padding='same' or a smaller kernel (input {x.shape}, kernel {kernel.shape})")
    pads = conv_pads((h, w), (kh, kw), strides, padding)
    out_hw = tuple(conv_output_length(n, k, s, padding) for n, k, s in zip((h, w), (kh, kw), strides))
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    algorithm = _algorithm(op, algorithm, kernel.shape, strides, out_hw, inputs)
    max_column_bytes = _column_cap(op, max_column_bytes)
    return Conv2D()(*inputs, strides=strides, pads=pads, algorithm=algorithm, max_column_bytes=max_column_bytes)


def conv2d_transpose(x, kernel, bias=None, strides=1, padding="valid", algorithm="auto",
                     max_column_bytes=None):
    """Transposed convolution: x (N, H, W, C_in), kernel (KH, KW, C_out, C_in) -> (N, OH, OW, C_out).

    Output size as Keras 2: "same": OH = H * SH; "valid": OH = H * SH + max(KH - SH, 0), i.e.
    (H - 1) * SH + KH when KH >= SH. The result is exactly the input gradient of
    ``conv2d(z, kernel, strides=strides, padding=padding)`` for z of that output size:

        <conv2d(z, kernel), x> == <z, conv2d_transpose(x, kernel)>    for every z

    ``algorithm`` and ``max_column_bytes`` as for :func:`conv2d` (its column buffer is gy @ K^T's).
    """
    op = "conv2d_transpose"
    x, kernel, bias = _check(op, x, kernel, bias, 3, "(KH, KW, C_out, C_in)")
    strides, padding = check_pair(strides, "strides", op), check_padding(padding, op)
    (h, w), (kh, kw) = x.shape[1:3], kernel.shape[:2]
    out_hw = tuple(conv_transpose_output_length(n, k, s, padding) for n, k, s in zip((h, w), (kh, kw), strides))
    pads = conv_pads(out_hw, (kh, kw), strides, padding)  # the pads of the conv2d it is the gradient of
    # As a stride-1 convolution the transpose maps x to out_hw with C_in -> C_out: the same cost rule.
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    algorithm = _algorithm(op, algorithm, kernel.shape[:2] + kernel.shape[2:][::-1], strides, out_hw, inputs)
    max_column_bytes = _column_cap(op, max_column_bytes)
    return Conv2DTranspose()(*inputs, in_hw=out_hw, strides=strides, pads=pads, algorithm=algorithm,
                             max_column_bytes=max_column_bytes)
