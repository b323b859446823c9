"""Weight initializers, with Keras 2's defaults: ``glorot_uniform`` kernels and ``zeros`` biases.

Glorot (Xavier) uniform draws every weight from U[-limit, limit] with

    limit = sqrt(6 / (fan_in + fan_out))

so that, for a linear layer, the variance of the activations (fan_in terms) and of the
back-propagated gradients (fan_out terms) both stay near 1 -- the compromise of Glorot & Bengio, 2010.

The fans come from the kernel's *shape*, exactly as Keras computes them:

    shape (D_in, D_out)             Dense             fan_in = D_in,       fan_out = D_out
    shape (KH, KW, A, B)            Conv2D            fan_in = KH*KW*A,    fan_out = KH*KW*B
                                    Conv2DTranspose   the same formula on its (KH, KW, C_out, C_in) kernel

All numbers come from :mod:`minigan.random`, so ``minigan.random.seed(0)`` makes them repeatable.

>>> import minigan
>>> from minigan import initializers
>>> initializers.compute_fans((5, 5, 3, 128))
(75, 3200)
>>> minigan.random.seed(0)
>>> w = initializers.glorot_uniform((4, 6))
>>> bool(abs(minigan.to_numpy(w)).max() <= (6 / (4 + 6)) ** 0.5)
True
"""

import math

from . import arguments, backend, random


def compute_fans(shape):
    """(fan_in, fan_out) of a kernel of this shape, as ``keras.initializers`` computes them."""
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])  # KH * KW for a 2-D convolution kernel
    return receptive_field * shape[-2], receptive_field * shape[-1]


def glorot_uniform(shape, dtype=None):
    """U[-limit, limit] with limit = sqrt(6 / (fan_in + fan_out)) (Keras' default kernel initializer)."""
    fan_in, fan_out = compute_fans(shape)
    limit = math.sqrt(6.0 / max(1, fan_in + fan_out))
    return random.uniform(tuple(shape), -limit, limit, dtype=dtype)


def zeros(shape, dtype=None):
    """All zeros (Keras' default bias initializer)."""
    return backend.array_module().zeros(tuple(shape), dtype=dtype or backend.DEFAULT_DTYPE)


def ones(shape, dtype=None):
    return backend.array_module().ones(tuple(shape), dtype=dtype or backend.DEFAULT_DTYPE)


INITIALIZERS = {"glorot_uniform": glorot_uniform, "zeros": zeros, "ones": ones}


def get(identifier):
    """The initializer called ``identifier`` (or ``identifier`` itself if it is callable)."""
    return arguments.lookup(INITIALIZERS, identifier, "initializer", "or a function (shape, dtype) -> array")
