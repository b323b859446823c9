"""Nearest-neighbour upsampling, the first half of a resize-convolution (Odena et al. 2016).

Notation (channels-last):
    x   (N, H, W, C)              the input maps
    SH, SW                        the factors: every pixel becomes an SH x SW block of copies
    y   (N, H*SH, W*SW, C)        y[n, i, j, c] = x[n, i // SH, j // SW, c]

Each input pixel feeds SH * SW output pixels with weight 1, so its gradient is the sum of theirs:

    gx[n, h, w, c] = sum over a < SH, b < SW of gy[n, h*SH + a, w*SW + b, c]

which a reshape to (N, H, SH, W, SW, C) and a sum over the two block axes computes. Followed by a
convolution, this upsamples without the uneven overlaps of a strided transposed convolution, the cause
of its checkerboard patterns.

>>> import minigan
>>> x = minigan.tensor([[[[1.0], [2.0]]]], requires_grad=True)      # (1, 1, 2, 1)
>>> y = upsample2d(x, (2, 2))
>>> y.shape, y.data[0, :, :, 0].tolist()
((1, 2, 4, 1), [[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]])
>>> y.sum().backward(); x.grad.data[0, 0, :, 0].tolist()             # 4 copies each
[4.0, 4.0]
"""

from ..tensor import Function, as_tensor


class UpSample2D(Function):
    def forward(self, x, size):
        if x.ndim != 4:
            raise ValueError(f"upsample2d: expected images (N, H, W, C), got an array of shape {x.shape}")
        self.size, self.x_shape = size, x.shape
        sh, sw = size
        return x.repeat(sh, axis=1).repeat(sw, axis=2)

    def backward(self, gy):
        # written with Tensor ops (reshape, sum), so gradients of gradients work too
        n, h, w, c = self.x_shape
        sh, sw = self.size
        return gy.reshape((n, h, sh, w, sw, c)).sum(axis=(2, 4))


def upsample2d(x, size=(2, 2)):
    """Repeat every pixel of ``x`` (N, H, W, C) ``size = (SH, SW)`` times down and across (see above)."""
    sh, sw = size
    if not all(isinstance(s, int) and s > 0 for s in (sh, sw)):
        raise ValueError(f"upsample2d: size must be two positive ints, got {size!r}")
    return x if (sh, sw) == (1, 1) else UpSample2D()(as_tensor(x), size=(sh, sw))
