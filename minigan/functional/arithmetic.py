"""Arithmetic, shapes and reductions: the Functions behind Tensor's operators.

Each backward is written with Tensor operations (not raw arrays), so that with
``backward(create_graph=True)`` it is itself differentiable -- gradients of gradients
come for free for everything in this file.

Broadcasting: ``a + b`` with a (3, 1) and b (4,) gives (3, 4). In backward every
input must receive a gradient of *its own* shape, so the broadcast axes are summed
away again: that is :func:`sum_to`, the adjoint of ``broadcast_to``.

>>> import minigan
>>> a = minigan.tensor([[1.0], [2.0]], requires_grad=True)   # (2, 1)
>>> b = minigan.tensor([10.0, 20.0, 30.0], requires_grad=True)  # (3,)
>>> (a * b).sum().backward()
>>> a.grad.data.tolist(), b.grad.data.tolist()
([[60.0], [60.0]], [3.0, 3.0, 3.0])
"""

from ..backend import get_array_module
from ..tensor import Function, Tensor, as_tensor


def require_float(op, *arrays):
    """Raise a TypeError naming ``op`` when an input is not floating point (e.g. uint8 images)."""
    for a in arrays:
        if a.dtype.kind != "f":
            raise TypeError(f"{op} needs floating-point inputs (float32 or float64), got dtype {a.dtype}; "
                            f"convert first, e.g. x.astype('float32') / 255")


# -- broadcasting -------------------------------------------------------------------------------
class BroadcastTo(Function):
    def forward(self, x, shape):
        self.x_shape = x.shape
        return get_array_module(x).broadcast_to(x, shape)

    def backward(self, gy):
        return sum_to(gy, self.x_shape)


class SumTo(Function):
    """Sum the broadcast axes away: the adjoint of broadcast_to."""

    def forward(self, x, shape):
        self.x_shape = x.shape
        return _sum_to_array(x, shape)

    def backward(self, gy):
        return broadcast_to(gy, self.x_shape)


def _sum_to_array(x, shape):
    lead = x.ndim - len(shape)  # leading axes that broadcasting added
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    y = x.sum(axis=axes, keepdims=True) if axes else x
    return y.reshape(shape) if lead or y.shape != tuple(shape) else y


def broadcast_to(x, shape):
    x = as_tensor(x)
    return x if x.shape == tuple(shape) else BroadcastTo()(x, shape=tuple(shape))


def sum_to(x, shape):
    x = as_tensor(x)
    return x if x.shape == tuple(shape) else SumTo()(x, shape=tuple(shape))


# -- elementwise binary ops ---------------------------------------------------------------------
class Add(Function):
    """y = a + b          dy/da = 1, dy/db = 1 (summed back over broadcast axes)"""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, gy):
        return sum_to(gy, self.shapes[0]), sum_to(gy, self.shapes[1])


class Sub(Function):
    """y = a - b          dy/da = 1, dy/db = -1"""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, gy):
        return sum_to(gy, self.shapes[0]), sum_to(-gy, self.shapes[1])


class Mul(Function):
    """y = a * b          dy/da = b, dy/db = a"""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return sum_to(gy * b, a.shape), sum_to(gy * a, b.shape)


class Div(Function):
    """y = a / b          dy/da = 1 / b, dy/db = -a / b^2"""

    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy / b
        return sum_to(ga, a.shape), sum_to(-ga * a / b, b.shape)


class Maximum(Function):
    """y = max(a, b)      the gradient goes to the larger input (to ``a`` on ties)"""

    def forward(self, a, b):
        self.a_wins = a >= b
        return get_array_module(a).maximum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        mask = Tensor(self.a_wins.astype(gy.dtype))
        return sum_to(gy * mask, a.shape), sum_to(gy * (1 - mask), b.shape)


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Power(Function):
    """y = x^c (c a constant)      dy/dx = c x^(c-1)"""

    def forward(self, x, exponent):
        self.exponent = exponent
        return x ** exponent

    def backward(self, gy):
        (x,) = self.inputs
        c = self.exponent
        return gy * c * x ** (c - 1)


class Exp(Function):
    """y = e^x            dy/dx = e^x = y"""

    def forward(self, x):
        require_float("exp", x)
        return get_array_module(x).exp(x)

    def backward(self, gy):
        return gy * self.outputs[0]()


class Log(Function):
    """y = ln x           dy/dx = 1 / x"""

    def forward(self, x):
        require_float("log", x)
        return get_array_module(x).log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


class Clip(Function):
    """y = min(max(x, low), high)      dy/dx = 1 inside [low, high], 0 outside"""

    def forward(self, x, low, high):
        self.inside = (x >= low) & (x <= high)
        return get_array_module(x).clip(x, low, high)

    def backward(self, gy):
        return gy * Tensor(self.inside.astype(gy.dtype))


class AsType(Function):
    def forward(self, x, dtype):
        self.x_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, gy):
        return astype(gy, self.x_dtype)


# -- matrices and shapes ------------------------------------------------------------------------
class MatMul(Function):
    """y = a @ b   (a: (..., M, K), b: (K, N) or (..., K, N))
    da = gy @ b^T,  db = a^T @ gy   (summed over batch axes that b was broadcast along)"""

    def forward(self, a, b):
        if a.ndim < 1 or b.ndim < 1 or a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not fit: the last axis of the first "
                             f"({a.shape[-1] if a.ndim else None}) must equal the second-to-last of the second")
        return a @ b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy @ swap_last(b)
        gb = swap_last(a) @ gy
        if gb.ndim > b.ndim:  # b was shared by every matrix of a batched a: add their gradients
            gb = gb.reshape((-1,) + b.shape).sum(axis=0)
        return ga, gb


class Reshape(Function):
    def forward(self, x, shape):
        self.x_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape an array of shape {x.shape} ({x.size} elements) "
                             f"into shape {tuple(shape)}") from None

    def backward(self, gy):
        return reshape(gy, self.x_shape)


class Transpose(Function):
    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, gy):
        if self.axes is None:
            return transpose(gy, None)
        inverse = tuple(sorted(range(len(self.axes)), key=lambda i: self.axes[i]))
        return transpose(gy, inverse)


class GetItem(Function):
    def forward(self, x, index):
        self.x_shape, self.index = x.shape, index
        return x[index]

    def backward(self, gy):
        return GetItemGrad()(gy, shape=self.x_shape, index=self.index)


class GetItemGrad(Function):
    """Scatter the gradient of x[index] back into zeros of x's shape (adds up repeated indices)."""

    def forward(self, gy, shape, index):
        self.index = index
        xp = get_array_module(gy)
        gx = xp.zeros(shape, dtype=gy.dtype)
        xp.add.at(gx, index, gy) if xp.__name__ == "numpy" else gx.scatter_add(index, gy)
        return gx

    def backward(self, ggx):
        return get_item(ggx, self.index)


class Sum(Function):
    """y = sum of x over ``axis``     dy/dx = 1 everywhere: the gradient is broadcast back"""

    def forward(self, x, axis, keepdims):
        self.x_shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, gy):
        if not self.keepdims and self.axis is not None:  # put the summed axes back as size 1
            axes = (self.axis,) if isinstance(self.axis, int) else self.axis
            axes = sorted(a % len(self.x_shape) for a in axes)
            shape = list(gy.shape)
            for a in axes:
                shape.insert(a, 1)
            gy = reshape(gy, tuple(shape))
        return broadcast_to(gy, self.x_shape)


# -- the functional API -------------------------------------------------------------------------
def _pair(a, b):
    a = as_tensor(a, like=(b,))
    return a, as_tensor(b, like=(a,))


def add(a, b): return Add()(*_pair(a, b))
def sub(a, b): return Sub()(*_pair(a, b))
def mul(a, b): return Mul()(*_pair(a, b))
def div(a, b): return Div()(*_pair(a, b))
def maximum(a, b): return Maximum()(*_pair(a, b))
def matmul(a, b): return MatMul()(*_pair(a, b))
def neg(x): return Neg()(x)
def power(x, exponent): return Power()(x, exponent=exponent)
def exp(x): return Exp()(x)
def log(x): return Log()(x)
def clip(x, low, high): return Clip()(x, low=low, high=high)
def astype(x, dtype): return x if as_tensor(x).dtype == dtype else AsType()(x, dtype=dtype)
def get_item(x, index): return GetItem()(x, index=index)
def reshape(x, shape): return x if as_tensor(x).shape == tuple(shape) else Reshape()(x, shape=tuple(shape))
def transpose(x, axes=None): return Transpose()(x, axes=None if axes is None else tuple(axes))
def swap_last(x): return transpose(x, tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)) if x.ndim > 1 else x
def sum(x, axis=None, keepdims=False): return Sum()(x, axis=axis, keepdims=keepdims)  # noqa: A001


def mean(x, axis=None, keepdims=False):
    """Average over ``axis`` (all axes by default): sum / count."""
    x = as_tensor(x)
    axes = range(x.ndim) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    count = 1
    for a in axes:
        count *= x.shape[a]
    return sum(x, axis, keepdims) / count


def flatten(x):
    """(N, d1, d2, ...) -> (N, d1*d2*...), as Keras' Flatten."""
    x = as_tensor(x)
    return reshape(x, (x.shape[0], -1)) if x.ndim != 2 else x


# -- Tensor's operators: installed here, so that tensor.py does not import the ops ---------------
def _shape_arguments(args):
    """t.reshape(2, 3) and t.reshape((2, 3)) alike; t.transpose() is None (reverse the axes)."""
    return args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else (args or None)


def install_operators(cls):
    """Give ``cls`` (Tensor) its operators, each one of the Functions above."""
    operators = {
        "__add__": lambda a, b: add(a, b), "__radd__": lambda a, b: add(b, a),
        "__sub__": lambda a, b: sub(a, b), "__rsub__": lambda a, b: sub(b, a),
        "__mul__": lambda a, b: mul(a, b), "__rmul__": lambda a, b: mul(b, a),
        "__truediv__": lambda a, b: div(a, b), "__rtruediv__": lambda a, b: div(b, a),
        "__matmul__": lambda a, b: matmul(a, b), "__rmatmul__": lambda a, b: matmul(b, a),
        "__pow__": lambda a, exponent: power(a, exponent), "__neg__": lambda a: neg(a),
        "__getitem__": lambda a, index: get_item(a, index),
        "reshape": lambda a, *shape: reshape(a, _shape_arguments(shape)),
        "transpose": lambda a, *axes: transpose(a, _shape_arguments(axes)),
        "T": property(lambda a: transpose(a, None)),
        "sum": lambda a, axis=None, keepdims=False: sum(a, axis, keepdims),
        "mean": lambda a, axis=None, keepdims=False: mean(a, axis, keepdims),
        "exp": lambda a: exp(a), "log": lambda a: log(a), "maximum": lambda a, b: maximum(a, b),
        "clip": lambda a, low, high: clip(a, low, high), "astype": lambda a, dtype: astype(a, dtype),
    }
    for name, operator in operators.items():
        setattr(cls, name, operator)


install_operators(Tensor)
