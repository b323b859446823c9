"""DiffAugment: random colour, translation and cutout that gradients flow through (Zhao et al. 2020).

With little data a GAN's discriminator memorises the real images. DiffAugment ("Differentiable
Augmentation for Data-Efficient GAN Training", NeurIPS 2020) applies the same kind of random
augmentation T to every image D sees -- reals and fakes, when D trains and when G trains -- so D
compares T(real) with T(fake) and cannot memorise the exact reals, while G is still pushed towards the
un-augmented reals (augmenting the reals alone would teach G to draw augmented images). Because each T
is differentiable in x, G's gradient passes through it: G trains through D(T(G(z))). Every step here
is linear or affine in x.

Notation (channels-last, as the rest of minigan):
    x       (N, H, W, C)    a batch of images, values in about [-1, 1] (a tanh generator's range)
    r       (N,)            one U[0, 1) draw per sample for each colour step
    th, tw  (N,)            each image's shift in rows and in columns: integers in [-SH, SH], [-SW, SW]
                            with SH = int(H / 8 + 0.5), SW = int(W / 8 + 0.5)            (4, 4 for 32 x 32)
    KH, KW                  the cutout square: int(H / 2 + 0.5) x int(W / 2 + 0.5)      (16 x 16 for 32 x 32)
    ch, cw  (N,)            each square's centre: integers in [0, H + 1 - KH % 2), [0, W + 1 - KW % 2)

The policy names a list of steps, applied in order (``"color,translation,cutout"``, the paper's best
for CIFAR-10):

    color        brightness  y = x + (r - 1/2)
                 saturation  y = (x - m) * 2r + m          m[n, i, j] = mean of x[n, i, j, :] over C
                 contrast    y = (x - m) * (r + 1/2) + m   m[n] = mean of x[n] over H, W and C
    translation  y[n, i, j] = x[n, i + th, j + tw]  where that pixel exists, else 0
    cutout       y = x * M,  M[n, i, j] = 0 on the KH x KW square around (ch, cw) (clipped to the image), else 1

Conventions, as in the authors' ``DiffAugment_pytorch.py``: a positive th moves the picture *up* (output
row i reads input row i + th; their grid_x + translation_x into a zero-padded image); the cutout square
covers rows ch - KH // 2 ... ch - KH // 2 + KH - 1 (their clamp at the borders only ever folds the part
outside onto border rows that the square covers anyway, so it is the square clipped to the image).

Every random number of a call is drawn first, on the host, from the given ``minigan.random.Stream``, in
this order: per colour step r for all N samples (brightness, saturation, contrast), then th, tw, then ch,
cw; only small arrays go to the device (factors (N,), indices (N, H) and (N, W)). So the same stream
state gives the same augmentation on NumPy and CuPy, in float32 and float64 (factors are drawn in
float64, then rounded to x's dtype), and a checkpoint that saves the stream resumes the same sequence.

>>> import minigan, minigan.functional as F
>>> x = minigan.tensor(minigan.backend.numpy.zeros((2, 8, 8, 3)), requires_grad=True)
>>> y = F.diff_augment(x, "translation,cutout", stream=minigan.random.Stream(0))
>>> y.shape
(2, 8, 8, 3)
>>> F.diff_augment(x, "", stream=None) is x      # the empty policy is the identity
True
"""

from .. import backend
from ..backend import get_array_module
from ..backend import numpy as np
from ..random import Stream
from ..tensor import Function, Tensor, as_tensor
from .arithmetic import require_float

POLICIES = ("color", "translation", "cutout")
TRANSLATION_RATIO = 1 / 8  # the largest shift, as a fraction of the side (the paper's 0.125)
CUTOUT_RATIO = 1 / 2  # the square's side, as a fraction of the image's side


def translation_limits(h, w):
    """(SH, SW): the largest shift in rows and in columns, int(side / 8 + 0.5) -- (4, 4) for 32 x 32."""
    return int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)


def cutout_size(h, w):
    """(KH, KW): the side of the cutout square, int(side / 2 + 0.5) -- (16, 16) for 32 x 32."""
    return int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)


# -- the random parameters of one call ----------------------------------------------------------
def parse_policy(policy):
    """The step names of ``policy`` ("color,translation", say) as a tuple; "" or None gives ()."""
    if policy is None:
        return ()
    if not isinstance(policy, str):
        raise TypeError(f"diff_augment: policy must be a string such as 'color,translation,cutout', "
                        f"got {type(policy).__name__}")
    if not policy.strip():
        return ()
    names = tuple(name.strip() for name in policy.split(","))
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise ValueError(f"diff_augment: unknown policy {unknown[0]!r} in {policy!r}; valid policies are "
                         f"{', '.join(POLICIES)} (comma-separated, applied in order), or '' for none")
    return names


def draw_parameters(shape, names, stream):
    """Every random number that ``names`` (from :func:`parse_policy`) needs for images of ``shape``,
    drawn on the host from ``stream``: a list of (name, dict of (N,) host arrays), in the policy's order."""
    n, h, w, _ = shape
    steps = []
    for name in names:
        if name == "color":  # three U[0, 1) per sample, in float64 whatever x's dtype
            params = {step: stream.uniform((n,), dtype=np.float64) for step in ("brightness", "saturation",
                                                                                  "contrast")}
        elif name == "translation":
            sh, sw = translation_limits(h, w)
            params = {"shift_h": stream.integers(-sh, sh + 1, (n,)), "shift_w": stream.integers(-sw, sw + 1, (n,))}
        else:  # cutout; an even side gets one more possible centre, so that the square can reach both edges
            kh, kw = cutout_size(h, w)
            params = {"centre_h": stream.integers(0, h + (1 - kh % 2), (n,)),
                      "centre_w": stream.integers(0, w + (1 - kw % 2), (n,)), "size": (kh, kw)}
        steps.append((name, params))
    return steps


# -- colour: built from Tensor ops, so autograd writes their backward -------------------------------
def _per_sample(values, x):
    """Host factors (N,) as a constant (N, 1, 1, 1) Tensor on x's backend and in x's dtype."""
    xp = get_array_module(x.data)
    return Tensor(xp.asarray(np.asarray(values).reshape(-1, 1, 1, 1), dtype=x.dtype))


def adjust_color(x, brightness, saturation, contrast):
    """The colour step with given draws r (three host arrays of shape (N,), each in [0, 1)): brightness
    x + (r - 1/2), then saturation (x - m) * 2r + m, then contrast (x - m) * (r + 1/2) + m (see above).

    Brightness has dy/dx = 1; saturation and contrast are y = k x + (1 - k) m with m a mean over K
    elements (K = C, or H*W*C), so dy[e]/dx[e'] = k [e = e'] + (1 - k) / K for the K elements e' averaged
    into m[e], and 0 for the others. Autograd works this out from the ops."""
    x = x + _per_sample(np.asarray(brightness) - 0.5, x)
    # Each pixel's grey level m, already repeated over its C channels: the rows of x (N*H*W, C) times
    # J = ones(C, C) / C. Same numbers as x.mean(axis=3, keepdims=True), but with no broadcast along C:
    # NumPy's sum over a last axis of 3 (in the mean, and in the backward of x - m) costs ~0.9 ms for
    # 64 x 32 x 32 x 3, the product ~0.1 ms: this step's forward + backward went from 4.9 to 2.3 ms.
    n, h, w, c = x.shape
    xp = get_array_module(x.data)
    m = (x.reshape(n * h * w, c) @ Tensor(xp.full((c, c), 1.0 / c, dtype=x.dtype))).reshape(x.shape)
    x = (x - m) * _per_sample(2.0 * np.asarray(saturation), x) + m
    m = x.mean(axis=(1, 2, 3), keepdims=True)  # (N, 1, 1, 1): each image's mean
    return (x - m) * _per_sample(np.asarray(contrast) + 0.5, x) + m


# -- translation: a Function, forward and adjoint --------------------------------------------------
def _shift_array(x, shift_h, shift_w):
    """y[n, i, j] = x[n, i + th[n], j + tw[n]], 0 where that pixel does not exist: pad with zeros, then
    gather every output pixel at once from the padded batch viewed as (N * HP * WP, C) rows."""
    xp = get_array_module(x)
    n, h, w, c = x.shape
    ph, pw = int(np.abs(shift_h).max(initial=0)), int(np.abs(shift_w).max(initial=0))
    if ph == 0 and pw == 0:
        return x.copy()
    padded = xp.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))  # (N, HP, WP, C), HP = H + 2 ph
    hp, wp = h + 2 * ph, w + 2 * pw
    # Row i of image k reads padded row i + th[k] + ph, in [0, HP): built on the host, (N, H) and (N, W).
    rows = np.arange(h)[None, :] + shift_h[:, None] + ph + (np.arange(n) * hp)[:, None]
    cols = np.arange(w)[None, :] + shift_w[:, None] + pw
    index = xp.asarray(rows)[:, :, None] * wp + xp.asarray(cols)[:, None, :]  # (N, H, W) flat pixel indices
    return padded.reshape(n * hp * wp, c).take(index.reshape(-1), axis=0).reshape(n, h, w, c)


class Translate(Function):
    """y[n, i, j, c] = x[n, i + th, j + tw, c] inside, else 0        gx = translate(gy, -th, -tw)

    The derivative is the adjoint T*: each input pixel (a, b) feeds at most the one output pixel
    (a - th, b - tw), with weight 1, so

        <T x, g> = sum over (i, j) of x[i + th, j + tw] g[i, j]     (the terms whose pixels exist)
                 = sum over (a, b) of x[a, b] g[a - th, b - tw]     (a = i + th, b = j + tw)

    i.e. gx[n, a, b] = gy[n, a - th, b - tw] (0 where that does not exist): the opposite shift, again with
    zero fill -- itself a Translate, so gradients of gradients work too.
    """

    def forward(self, x, shift_h, shift_w):
        self.shifts = shift_h, shift_w
        return _shift_array(x, shift_h, shift_w)

    def backward(self, gy):
        shift_h, shift_w = self.shifts
        return translate(gy, -shift_h, -shift_w)


def _shifts(values, n, name):
    """A host int64 array of shape (N,) from a list, a NumPy or a CuPy array, or a clear error."""
    values = np.asarray(backend.to_numpy(values))
    if values.shape != (n,) or values.dtype.kind not in "iu":
        raise ValueError(f"translate: {name} must be {n} integers, one per image, got {values.dtype} "
                         f"of shape {values.shape}")
    return values.astype(np.int64)


def translate(x, shift_h, shift_w):
    """Shift each image of ``x`` (N, H, W, C) by its own whole number of rows and columns, with zeros
    coming in (see Translate): y[n, i, j] = x[n, i + shift_h[n], j + shift_w[n]].

    >>> import minigan
    >>> x = minigan.tensor([[[[1.0], [2.0], [3.0]]]])              # (1, 1, 3, 1): one row 1 2 3
    >>> translate(x, [0], [1]).data[0, 0, :, 0].tolist()          # output pixel j reads input j + 1
    [2.0, 3.0, 0.0]
    """
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"translate: expected images (N, H, W, C), got an array of shape {x.shape}")
    n = x.shape[0]
    return Translate()(x, shift_h=_shifts(shift_h, n, "shift_h"), shift_w=_shifts(shift_w, n, "shift_w"))


# -- cutout: a constant 0/1 mask -------------------------------------------------------------------
def cutout_mask(shape, centre_h, centre_w, size, xp=np, dtype=None):
    """M (N, H, W, 1): 0 on the KH x KW square of rows ch - KH // 2 ... + KH - 1 (columns alike), 1
    elsewhere; built on ``xp`` from the (N,) centres, one comparison per row and per column."""
    n, h, w, _ = shape
    kh, kw = size
    top = xp.asarray(np.asarray(backend.to_numpy(centre_h)) - kh // 2)[:, None]  # (N, 1)
    left = xp.asarray(np.asarray(backend.to_numpy(centre_w)) - kw // 2)[:, None]
    rows, cols = xp.arange(h)[None, :], xp.arange(w)[None, :]
    in_rows = (rows >= top) & (rows < top + kh)  # (N, H)
    in_cols = (cols >= left) & (cols < left + kw)  # (N, W)
    inside = in_rows[:, :, None] & in_cols[:, None, :]  # (N, H, W)
    return (~inside).astype(dtype or backend.DEFAULT_DTYPE)[..., None]


def cutout(x, centre_h, centre_w, size):
    """y = x * M with M from :func:`cutout_mask`          dy/dx = M (the mask is a constant)"""
    x = as_tensor(x)
    xp = get_array_module(x.data)
    mask = cutout_mask(x.shape, centre_h, centre_w, size, xp, x.dtype)
    # Broadcast to x's shape up front (a view, no copy): Mul's backward also forms the gradient of the
    # constant mask, and summing it over C back to (N, H, W, 1) would cost more than the whole cutout.
    return x * Tensor(xp.broadcast_to(mask, x.shape))


# -- the whole augmentation ------------------------------------------------------------------------
def diff_augment(x, policy="color,translation,cutout", stream=None):
    """Augment a batch of images ``x`` (N, H, W, C), differentiably in x, with per-sample random
    parameters from ``stream`` (a ``minigan.random.Stream``): the steps of ``policy`` in order (see the
    top of this file). The empty policy "" (or None) returns ``x`` itself and needs no stream.

    >>> import minigan, minigan.functional as F
    >>> images = minigan.tensor(minigan.backend.numpy.ones((4, 32, 32, 3)))
    >>> y = F.diff_augment(images, "cutout", stream=minigan.random.Stream(1))
    >>> [int((y.data[k] == 0).all(axis=-1).sum()) <= 16 * 16 for k in range(4)]   # at most 16 x 16 zeroed
    [True, True, True, True]
    """
    names = parse_policy(policy)
    x = as_tensor(x)
    if not names:
        return x
    if x.ndim != 4:
        raise ValueError(f"diff_augment: expected images (N, H, W, C), got an array of shape {x.shape}")
    require_float("diff_augment", x.data)
    if not isinstance(stream, Stream):
        raise TypeError(f"diff_augment: stream must be a minigan.random.Stream, e.g. stream=Stream(seed), "
                        f"got {type(stream).__name__}")
    for name, params in draw_parameters(x.shape, names, stream):  # all draws first, then the arithmetic
        if name == "color":
            x = adjust_color(x, params["brightness"], params["saturation"], params["contrast"])
        elif name == "translation":
            x = translate(x, params["shift_h"], params["shift_w"])
        else:
            x = cutout(x, params["centre_h"], params["centre_w"], params["size"])
    return x
