"""Max and average pooling over 2-D windows (channels-last, TensorFlow's 'valid' / 'same' rules).

Notation (as in im2col.py):
    x      (N, H, W, C)        input                       KH, KW   window size
    y      (N, OH, OW, C)      output                      SH, SW   strides
    PT, PB, PL, PR             padding ("same" only)        OH = ceil(H / SH) "same", (H - KH) // SH + 1 "valid"
    tap (i, j)                 one position inside the window; its strided slice of the padded input is
                               xpad[:, i : i + (OH-1)*SH + 1 : SH, j : ... : SW, :], shape (N, OH, OW, C)

A pooling is a reduction over the KH * KW taps, so, like im2col, both poolings loop over the taps and
never over pixels:

    max pool   y = max over taps of xpad[tap]          padding with -inf: a pad never wins
               dy/dx: each output's gradient goes to the one input that won (the first tap in
               row-major order on ties, as TensorFlow and PyTorch do); nothing to the others
    avg pool   y = (sum over taps of xpad[tap]) / count   padding with 0, and count = how many taps of
               this window lie inside the image (TF's "same" average excludes the pads; PyTorch's
               count_include_pad=False). For "valid", count = KH * KW everywhere.
               dy/dx: every input of a window gets gy / count: the adjoint scatters gy / count back

Both backward passes are linear maps of gy, so each is a Function whose own backward is its adjoint:
max pooling's "route gy to the winners" and "gather from the winners" are each other's adjoint, and
average pooling's "sum the window / count" and "spread gy / count over the window" are too. So
gradients of gradients work, as for the convolutions.

>>> import minigan, minigan.functional as F
>>> x = minigan.tensor([[1.0, 5.0, 2.0], [4.0, 3.0, 6.0]]).reshape(1, 2, 3, 1)
>>> F.max_pool2d(x, (2, 2), (1, 1)).data.reshape(-1).tolist()
[5.0, 6.0]
>>> F.avg_pool2d(x, (2, 2), (2, 2), "same").data.reshape(-1).tolist()   # windows of 4 and 2 inside pixels
[3.25, 4.0]
"""

from ..backend import get_array_module
from ..tensor import Function, as_tensor
from .arithmetic import mean, require_float
from .im2col import _tap, check_padding, check_pair, conv_output_length, conv_pads


def _pad(x, pads, value):
    """x (N, H, W, C) with PT, PB rows and PL, PR columns of ``value`` around it (no copy without pads)."""
    if not any(pads):
        return x
    xp = get_array_module(x)
    n, h, w, c = x.shape
    pt, pb, pl, pr = pads
    xpad = xp.full((n, h + pt + pb, w + pl + pr, c), value, dtype=x.dtype)
    xpad[:, pt:pt + h, pl:pl + w, :] = x
    return xpad


def _crop(xpad, in_hw, pads):
    """The adjoint of padding: the inside of ``xpad``."""
    (h, w), (pt, _, pl, _) = in_hw, pads
    return xpad[:, pt:pt + h, pl:pl + w, :] if any(pads) else xpad


def _taps(window):
    kh, kw = window
    return [(i, j) for i in range(kh) for j in range(kw)]


class Pooling:
    """The geometry of one pooling: window, strides, pads, input and output sizes."""

    def __init__(self, in_hw, window, strides, padding):
        self.in_hw, self.window, self.strides = tuple(in_hw), tuple(window), tuple(strides)
        self.pads = conv_pads(self.in_hw, self.window, self.strides, padding)
        self.out_hw = tuple(conv_output_length(n, k, s, padding) for n, k, s in zip(in_hw, window, strides))

    def slice(self, i, j):
        return _tap(i, j, self.out_hw, self.strides)

    def count(self, xp, dtype):
        """(1, OH, OW, 1): how many taps of each window lie inside the image."""
        inside = xp.ones((1,) + self.in_hw + (1,), dtype=dtype)
        padded = _pad(inside, self.pads, 0)
        return sum(padded[self.slice(i, j)] for i, j in _taps(self.window))


# -- max pooling --------------------------------------------------------------------------------
class MaxPool2D(Function):
    """y = max over each window of x          dy/dx = 1 at the (first) maximum of the window, else 0"""

    def forward(self, x, geometry):
        self.geometry = g = geometry
        xp = get_array_module(x)
        self.xpad = xpad = _pad(x, g.pads, -xp.inf)
        taps = _taps(g.window)
        self.y = y = xpad[g.slice(*taps[0])].copy()
        for tap in taps[1:]:
            xp.maximum(y, xpad[g.slice(*tap)], out=y)
        return y

    def backward(self, gy):
        # Which tap won each window is found only now: inference (no backward) never pays for it.
        # winner[n, oh, ow, c] = the first tap whose value equals the window's maximum.
        g, xp = self.geometry, get_array_module(self.y)
        winner = xp.full(self.y.shape, -1, dtype=xp.int16)
        for t, tap in reversed(list(enumerate(_taps(g.window)))):  # reversed: the first tap is written last
            winner[self.xpad[g.slice(*tap)] == self.y] = t
        return RouteToWinners()(gy, winner=winner, geometry=g)


class RouteToWinners(Function):
    """gx = each gy element added at its window's winning input (zeros elsewhere). Adjoint: the gather."""

    def forward(self, gy, winner, geometry):
        self.winner, self.geometry = winner, geometry
        g, xp = geometry, get_array_module(gy)
        n, _, _, c = gy.shape
        padded_hw = (g.in_hw[0] + g.pads[0] + g.pads[1], g.in_hw[1] + g.pads[2] + g.pads[3])
        gxpad = xp.zeros((n,) + padded_hw + (c,), dtype=gy.dtype)
        for t, tap in enumerate(_taps(g.window)):
            gxpad[g.slice(*tap)] += xp.where(winner == t, gy, 0)  # one tap's slice has no repeats
        return xp.ascontiguousarray(_crop(gxpad, g.in_hw, g.pads))

    def backward(self, ggx):
        return GatherFromWinners()(ggx, winner=self.winner, geometry=self.geometry)


class GatherFromWinners(Function):
    """y = the value of x at each window's winning position (the winners of a max pool). Adjoint: the route."""

    def forward(self, x, winner, geometry):
        self.winner, self.geometry = winner, geometry
        g, xp = geometry, get_array_module(x)
        xpad = _pad(x, g.pads, 0)
        y = xp.zeros(winner.shape, dtype=x.dtype)
        for t, tap in enumerate(_taps(g.window)):
            y += xp.where(winner == t, xpad[g.slice(*tap)], 0)
        return y

    def backward(self, gy):
        return RouteToWinners()(gy, winner=self.winner, geometry=self.geometry)


# -- average pooling ----------------------------------------------------------------------------
class AvgPool2D(Function):
    """y = (sum of the window's pixels inside the image) / count     dy/dx = 1 / count of each window"""

    def forward(self, x, geometry):
        self.geometry = g = geometry
        xpad = _pad(x, g.pads, 0)
        taps = _taps(g.window)
        total = xpad[g.slice(*taps[0])].copy()
        for tap in taps[1:]:
            total += xpad[g.slice(*tap)]
        total /= g.count(get_array_module(x), x.dtype)
        return total

    def backward(self, gy):
        return AvgPool2DAdjoint()(gy, geometry=self.geometry)


class AvgPool2DAdjoint(Function):
    """gx = gy / count spread over every window position (overlaps add up). Adjoint: the average pool."""

    def forward(self, gy, geometry):
        self.geometry = g = geometry
        xp = get_array_module(gy)
        share = gy / g.count(xp, gy.dtype)
        n, _, _, c = gy.shape
        padded_hw = (g.in_hw[0] + g.pads[0] + g.pads[1], g.in_hw[1] + g.pads[2] + g.pads[3])
        gxpad = xp.zeros((n,) + padded_hw + (c,), dtype=gy.dtype)
        for tap in _taps(g.window):
            gxpad[g.slice(*tap)] += share
        return xp.ascontiguousarray(_crop(gxpad, g.in_hw, g.pads))

    def backward(self, ggx):
        return AvgPool2D()(ggx, geometry=self.geometry)


# -- the functional API -------------------------------------------------------------------------
def _geometry(op, x, pool_size, strides, padding):
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"{op} expects images (N, H, W, C) (channels last), got shape {x.shape}")
    require_float(op, x.data)
    window = check_pair(pool_size, "pool_size", op)
    strides = window if strides is None else check_pair(strides, "strides", op)
    name = check_padding(padding, op)
    h, w = x.shape[1:3]
    if name == "valid" and (window[0] > h or window[1] > w):
        raise ValueError(f"{op}: the {window[0]}x{window[1]} window is larger than the {h}x{w} input with "
                         f"padding='valid'; use padding='same' or a smaller pool_size (input {x.shape})")
    return x, Pooling((h, w), window, strides, name)


def max_pool2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    """The maximum of each ``pool_size`` window, moved by ``strides`` (default: ``pool_size``)."""
    x, geometry = _geometry("max_pool2d", x, pool_size, strides, padding)
    return MaxPool2D()(x, geometry=geometry)


def avg_pool2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    """The average of each window's pixels inside the image (TF: pads excluded from the count)."""
    x, geometry = _geometry("avg_pool2d", x, pool_size, strides, padding)
    return AvgPool2D()(x, geometry=geometry)


def global_avg_pool2d(x):
    """(N, H, W, C) -> (N, C): the mean over all pixels of each channel."""
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"global_avg_pool2d expects images (N, H, W, C), got shape {x.shape}")
    return mean(x, axis=(1, 2))
