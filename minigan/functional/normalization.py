"""Batch normalisation (Ioffe & Szegedy 2015) in training mode: one op, its backward in closed form.

Notation (the statistics are per feature; for channels-last images the feature axis is C):
    x       (N, H, W, C) or (N, C)    input; ``axis`` names the feature axis (-1: C)
    R       every other axis          the statistics are taken over them; m = the number of values per feature
    gamma, beta (C,)                  scale and offset, broadcast along R
    mu      = mean_R x                sigma2 = mean_R (x - mu)^2      (the biased variance, as Keras and PyTorch)
    inv     = 1 / sqrt(sigma2 + eps)  xhat = (x - mu) inv           y = gamma xhat + beta

Backward, for gy = dL/dy (every sum and mean over R, per feature):
    dL/dbeta  = sum gy                dL/dgamma = sum gy xhat
    dL/dx     = inv * (d - mean d - xhat * mean(d xhat))     with d = gy gamma

The last line is the whole chain rule through mu and sigma2 collapsed into one expression: x moves y
directly (d), through the mean (every value shifts every xhat: - mean d) and through the variance (the
scale changes with the spread: - xhat mean(d xhat)). Computing it like this costs a few passes over x
instead of the dozen small ops a chain of primitives would record.

Inference (the moving statistics instead of the batch's) is plain arithmetic and lives in the layer
(``layers/normalization.py``), which also updates the moving statistics from ``mean`` and ``variance``.

>>> import minigan, minigan.functional as F
>>> x = minigan.tensor([[1.0], [3.0]])                        # N = 2, C = 1: mu = 2, sigma2 = 1
>>> y, mean, variance = F.batch_normalization(x, minigan.tensor([1.0]), minigan.tensor([0.0]), epsilon=0.0)
>>> y.data.ravel().tolist(), mean.tolist(), variance.tolist()
([-1.0, 1.0], [2.0], [1.0])
"""

from ..backend import get_array_module
from ..tensor import Function, Tensor, as_tensor, is_grad_enabled
from .arithmetic import require_float


class BatchNormalization(Function):
    """y = gamma (x - mu) / sqrt(sigma2 + eps) + beta with the batch's own mu and sigma2 (see above)."""

    def forward(self, x, gamma, beta, axis, epsilon):
        xp = get_array_module(x)
        self.reduce = tuple(a for a in range(x.ndim) if a != axis)
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        self.broadcast = tuple(shape)  # (1, 1, 1, C): the statistics' shape next to x
        mean = x.mean(axis=self.reduce, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(axis=self.reduce, keepdims=True)
        self.inv = 1.0 / xp.sqrt(variance + x.dtype.type(epsilon))
        self.xhat = centred * self.inv
        self.gamma = gamma.reshape(self.broadcast)
        self.mean, self.variance = mean.reshape(-1), variance.reshape(-1)
        return self.xhat * self.gamma + beta.reshape(self.broadcast)

    def backward(self, gy):
        if is_grad_enabled():  # backward(create_graph=True): this closed form is not itself recorded
            raise NotImplementedError("batch_normalization: gradients of gradients are not implemented "
                                      "(its backward is a closed form on arrays)")
        g = gy.data
        d = g * self.gamma
        dx = self.inv * (d - d.mean(axis=self.reduce, keepdims=True)
                         - self.xhat * (d * self.xhat).mean(axis=self.reduce, keepdims=True))
        return Tensor(dx), Tensor((g * self.xhat).sum(axis=self.reduce)), Tensor(g.sum(axis=self.reduce))


def batch_normalization(x, gamma, beta, axis=-1, epsilon=1e-3):
    """Normalise ``x`` with its batch statistics along every axis but ``axis``; returns (y, mean, variance).

    ``mean`` and ``variance`` (shape (C,), arrays on x's backend, the biased variance) are what a layer
    needs to update its moving statistics; they carry no gradient.
    """
    x, gamma, beta = as_tensor(x), as_tensor(gamma), as_tensor(beta)
    require_float("batch_normalization", x.data, gamma.data, beta.data)
    if x.ndim < 2:
        raise ValueError(f"batch_normalization needs a batch axis and a feature axis, got shape {x.shape}")
    if not -x.ndim <= axis < x.ndim or axis % x.ndim == 0:
        raise ValueError(f"batch_normalization: axis {axis} must name a feature axis of an input of shape {x.shape} "
                         "(not the batch axis 0)")
    axis %= x.ndim
    features = x.shape[axis]
    for name, t in (("gamma", gamma), ("beta", beta)):
        if t.shape != (features,):
            raise ValueError(f"batch_normalization: {name} must have shape ({features},) for an input of shape "
                             f"{x.shape} normalised along axis {axis}, got {t.shape}")
    op = BatchNormalization()
    y = op(x, gamma, beta, axis=axis, epsilon=float(epsilon))
    return y, op.mean, op.variance
