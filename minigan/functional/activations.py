"""Activations and dropout: elementwise, each derivative written beside its forward.

The masks and outputs that backward needs are kept from forward, so backward is one
multiplication -- and, being written with Tensor ops, differentiable itself.

>>> import minigan
>>> import minigan.functional as F
>>> x = minigan.tensor([-1.0, 2.0], requires_grad=True)
>>> F.leaky_relu(x).data.tolist()           # Keras 2 default alpha = 0.3
[-0.30000001192092896, 2.0]
"""

from .. import arguments, random
from ..backend import get_array_module
from ..tensor import Function, Tensor, as_tensor
from .arithmetic import require_float


class LeakyReLU(Function):
    """y = x if x > 0 else alpha * x        dy/dx = 1 if x > 0 else alpha

    Keras 2 used alpha = 0.3 by default; the book relies on it (Keras 3 and PyTorch use 0.2 / 0.01).

    Written as y = slope * x with slope = m + (1 - m) alpha, m = 1.0 where x > 0 else 0.0: the slope is
    exactly 1 or alpha, so y is where(x > 0, x, alpha x) to the bit (signed zeros, inf and NaN too:
    tests/test_ops.py). Not ``where``: on a CPU, NumPy's ``where`` over a random sign pattern costs a
    mispredicted branch about every other element, and forward plus backward took ~7 times as long as
    these passes; it was a tenth of the cpu preset's step (benchmarks/activation_bench.py). Backward makes the slope again from x, which the graph
    holds anyway: keeping it from forward holds one more array per layer, and measured slower.
    """

    def forward(self, x, alpha):
        require_float("leaky_relu", x)
        self.x, self.alpha = x, alpha
        return x * self.slope()

    def slope(self):
        m = (self.x > 0).astype(self.x.dtype)
        return m + (1 - m) * self.x.dtype.type(self.alpha)  # (same shape as x): 1 or alpha

    def backward(self, gy):
        return gy * Tensor(self.slope())


class ReLU(Function):
    """y = max(x, 0)        dy/dx = 1 if x > 0 else 0  (read off y: y > 0 exactly where x > 0)"""

    def forward(self, x):
        require_float("relu", x)
        xp = get_array_module(x)
        self.y = y = xp.maximum(x, x.dtype.type(0))
        return y

    def backward(self, gy):
        return gy * Tensor((self.y > 0).astype(self.y.dtype))


class Sigmoid(Function):
    """y = 1 / (1 + e^-x)   dy/dx = y (1 - y)

    Computed as (tanh(x/2) + 1) / 2, which never overflows for large |x|.
    """

    def forward(self, x):
        require_float("sigmoid", x)
        xp = get_array_module(x)
        half = x.dtype.type(0.5)
        return xp.tanh(x * half) * half + half

    def backward(self, gy):
        y = self.outputs[0]()
        return gy * y * (1 - y)


class Tanh(Function):
    """y = tanh x           dy/dx = 1 - y^2"""

    def forward(self, x):
        require_float("tanh", x)
        return get_array_module(x).tanh(x)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy * (1 - y * y)


def leaky_relu(x, alpha=0.3):
    return LeakyReLU()(x, alpha=alpha)


def relu(x):
    return ReLU()(x)


def sigmoid(x):
    return Sigmoid()(x)


def tanh(x):
    return Tanh()(x)


def linear(x):
    """The identity, for ``activation=None``."""
    return as_tensor(x)


ACTIVATIONS = {"linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "leaky_relu": leaky_relu}


def get_activation(name):
    """The activation function called ``name`` (None means linear); a clear error lists the valid names."""
    if name is None:
        return linear
    return arguments.lookup(ACTIVATIONS, name, "activation", "or None")


def dropout(x, rate, training=False):
    """Inverted dropout: while training, zero each element with probability ``rate`` and scale the
    survivors by 1 / (1 - rate), so that the expected value is unchanged and inference is the identity.

    y = x * mask / (1 - rate),  mask ~ Bernoulli(1 - rate)      dy/dx = mask / (1 - rate)

    >>> import minigan, minigan.functional as F
    >>> x = minigan.tensor([1.0, 2.0, 3.0])
    >>> F.dropout(x, 0.5, training=False) is x   # inference: nothing happens
    True
    """
    x = as_tensor(x)
    rate = arguments.number(rate, "rate", "dropout", 0, 1, high_open=True)
    if not training or rate == 0.0:
        return x
    keep = 1.0 - rate
    mask = random.bernoulli_mask(x.shape, keep, dtype=x.dtype)
    mask *= x.dtype.type(1.0 / keep)
    xp = get_array_module(x.data)
    return x * Tensor(xp.asarray(mask))
