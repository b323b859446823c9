"""TensorFlow 1's bilinear resize, the "legacy" one: how the original FID code brought images to 299 x 299.

The TTUR reference implementation of FID (Heusel et al. 2017) fed images to Inception through
``tf.image.resize_bilinear(images, (299, 299), align_corners=False)`` of TensorFlow 1, which had no half-pixel
centres. FID values are only comparable between papers when the preprocessing is the same, so this is
that resize, exactly -- not PIL's (antialiased when shrinking), not ``torch.nn.functional.interpolate``
or TF 2's ``tf.image.resize`` (both half-pixel: they read position (i + 0.5) * H / OH - 0.5).

The rule, per axis (rows shown; columns are the same with W, OW):

    y      = i * (H / OH)               the input position output row i reads (float32, as TF computes it)
    y0     = floor(y),   y1 = min(y0 + 1, H - 1)
    w      = y - y0                     weight of row y1; row y0 gets 1 - w
    out[i] = in[y0] + (in[y1] - in[y0]) * w

Output row 0 is input row 0 exactly, and the grid is *not* centred: when enlarging, the last
OH / H - 1 rows read past the last input row and repeat it (y1 is clamped). A worked example, 2 -> 4
pixels: positions 0, 0.5, 1, 1.5 read [0, 10] as 0, 5, 10 and 10 (clamped: rows 1 and 2 are both row 1).

>>> from minigan.backend import numpy as np
>>> row = np.array([0, 10], np.uint8).reshape(1, 1, 2, 1)     # one 1 x 2 grey image
>>> resize_bilinear_legacy(row, (1, 4))[0, 0, :, 0].tolist()
[0.0, 5.0, 10.0, 10.0]
>>> resize_bilinear_legacy(np.arange(4, dtype=np.uint8).reshape(1, 1, 4, 1), (1, 2))[0, 0, :, 0].tolist()
[0.0, 2.0]

Shrinking 4 -> 2 takes pixels 0 and 2 (positions 0 and 2, weight 0): no averaging, as in TF 1.

How it is computed (x (N, H, W, C) -> (N, OH, OW, C)), separably and in float32 like TF:

    1. columns, by gathers and a lerp:   t = x[:, :, x0] + (x[:, :, x1] - x[:, :, x0]) * wx   (N, H, OW, C)
       -- TF's "top" and "bottom" values, bit for bit;
    2. rows, by one matrix product:      out[n] = R @ t[n].reshape(H, OW*C)                     (N, OH, OW*C)
       where R (OH, H) holds 1 - wy at column y0 and wy at column y1 of each row (two non-zeros a row).

Step 2 is where the output is made (268 M values for 1000 images at 299 x 299 x 3); as a batched
matrix product it writes them once, which is about 10x faster than gathering two rows and
interpolating: 1000 CIFAR images take ~0.55 s on 2 cores in batches of 100 (against ~7 s), while a
single call for all 1000 also pays a few seconds to first touch its 1.07 GB result. It differs from
TF's ``top + (bottom - top) * wy`` only in float32 rounding, a few 1e-5 on the 0..255 scale.

The positions are float32 on purpose: TF computes i * (H / OH) in float32, which at 32 -> 299 is up
to ~1e-6 pixel off the exact fraction 32 i / 299 (values move by up to ~4e-4 on the 0..255 scale);
we follow TF rather than the fraction.
"""

from ..backend import get_array_module
from ..backend import numpy as np

FID_SIZE = (299, 299)  # Inception's input size in the FID code


def legacy_positions(n_in, n_out):
    """Per output index along one axis: (y0, y1, w) of TF 1's half_pixel_centers=False rule (host arrays).

    y0, y1 int64 (n_out,) the two input indices read; w float32 (n_out,) the weight of y1.

    >>> y0, y1, w = legacy_positions(2, 4)
    >>> y0.tolist(), y1.tolist(), w.tolist()
    ([0, 0, 1, 1], [1, 1, 1, 1], [0.0, 0.5, 0.0, 0.5])
    """
    scale = np.float32(n_in / n_out)  # TF: CalculateResizeScale, a float
    position = np.arange(n_out, dtype=np.float32) * scale  # float32 product, as TF's LegacyScaler
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, n_in - 1)
    return lower, upper, (position - lower).astype(np.float32)


def interpolation_matrix(n_in, n_out):
    """R (n_out, n_in) float32 with out = R @ in along one axis: 1 - w at y0 and w at y1 of each row.

    >>> interpolation_matrix(2, 4).tolist()
    [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.0, 1.0]]
    """
    lower, upper, weight = legacy_positions(n_in, n_out)
    rows = np.arange(n_out)
    matrix = np.zeros((n_out, n_in), np.float32)
    matrix[rows, lower] += 1 - weight
    matrix[rows, upper] += weight  # y1 == y0 on the last rows: the two weights add up to 1 there
    return matrix


def _check(images, size):
    where = "resize_bilinear_legacy"
    if not hasattr(images, "dtype") or not hasattr(images, "shape"):
        raise TypeError(f"{where}: images must be a NumPy or CuPy array, got {type(images).__name__}")
    if images.ndim != 4 or 0 in images.shape[1:]:
        raise ValueError(f"{where}: images must have shape (N, H, W, C) with H, W, C >= 1 (channels last), "
                         f"got shape {images.shape}")
    if images.dtype != np.uint8 and images.dtype.kind != "f":
        raise ValueError(f"{where}: images must be uint8 (0..255) or floating point, got {images.dtype}")
    try:
        out_h, out_w = (int(s) for s in size)
        valid = (out_h, out_w) == tuple(size) and out_h >= 1 and out_w >= 1
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(f"{where}: size must be two positive integers (height, width), got {size!r}")
    return out_h, out_w


def resize_bilinear_legacy(images, size=FID_SIZE):
    """Resize a batch as TF 1's ``tf.image.resize_bilinear(align_corners=False)``; see the module docstring.

    images  (N, H, W, C) uint8 or float, NumPy or CuPy; values are kept in their scale (0..255 for uint8)
    size    (OH, OW), 299 x 299 for FID
    returns (N, OH, OW, C) float32, on the images' backend

    Memory: the result is N * OH * OW * C * 4 bytes, 1.07 GB for 1000 images at 299 x 299 x 3; resize a
    few hundred at a time when the network takes them in batches anyway.
    """
    out_h, out_w = _check(images, size)
    xp = get_array_module(images)
    n, h, w, c = images.shape
    # 1. Columns: gather the two source columns of every output column (small: H rows only), then lerp.
    x0, x1, wx = (xp.asarray(a) for a in legacy_positions(w, out_w))
    left = images[:, :, x0].astype(xp.float32)
    right = images[:, :, x1].astype(xp.float32)
    columns = left + (right - left) * wx[:, None]  # (N, H, OW, C); wx broadcasts over C
    # 2. Rows: one (OH, H) @ (H, OW*C) product per image, straight into the (N, OH, OW, C) layout.
    rows = xp.asarray(interpolation_matrix(h, out_h))
    out = xp.matmul(rows, columns.reshape(n, h, out_w * c))
    return out.reshape(n, out_h, out_w, c)
