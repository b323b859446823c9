"""Concatenation along one axis, the join of a network's branches (Inception's towers).

    inputs   x_1 (..., C_1, ...), ..., x_k (..., C_k, ...)   equal on every axis but ``axis``
    y        (..., C_1 + ... + C_k, ...)                       y = [x_1 | x_2 | ... | x_k] along ``axis``

Each input's gradient is its own slice of gy: gx_i = gy[..., offset_i : offset_i + C_i, ...]. Slicing
is written with ``get_item`` (a differentiable op), so gradients of gradients work.

>>> import minigan, minigan.functional as F
>>> a = minigan.tensor([[1.0, 2.0]], requires_grad=True)
>>> b = minigan.tensor([[3.0]], requires_grad=True)
>>> y = F.concatenate([a, b], axis=-1)
>>> y.data.tolist()
[[1.0, 2.0, 3.0]]
>>> (y * minigan.tensor([[10.0, 20.0, 30.0]])).sum().backward()
>>> a.grad.data.tolist(), b.grad.data.tolist()
([[10.0, 20.0]], [[30.0]])
"""

from ..backend import get_array_module
from ..tensor import Function, as_tensor
from .arithmetic import get_item


class Concatenate(Function):
    """y = [x_1 | ... | x_k] along ``axis``        d y / d x_i = the identity on x_i's slice of y"""

    def forward(self, *xs, axis):
        self.axis, self.sizes = axis, [x.shape[axis] for x in xs]
        return get_array_module(*xs).concatenate(xs, axis=axis)

    def backward(self, gy):
        grads, start = [], 0
        for size in self.sizes:
            index = [slice(None)] * gy.ndim
            index[self.axis] = slice(start, start + size)
            grads.append(get_item(gy, tuple(index)))
            start += size
        return tuple(grads)


def concatenate(tensors, axis=-1):
    """Join ``tensors`` along ``axis``; every other axis must agree (the error names the first that differs)."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    ndim = tensors[0].ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"concatenate: axis {axis} is out of range for tensors of rank {ndim}")
    axis %= ndim
    for k, t in enumerate(tensors):
        others = lambda shape: shape[:axis] + shape[axis + 1:]
        if t.ndim != ndim or others(t.shape) != others(tensors[0].shape):
            raise ValueError(f"concatenate along axis {axis}: input {k} has shape {t.shape}, which does not fit "
                             f"input 0's {tensors[0].shape} (all axes but {axis} must be equal)")
    if len({t.dtype for t in tensors}) > 1:
        raise TypeError(f"concatenate: inputs have different dtypes {[str(t.dtype) for t in tensors]}")
    return tensors[0] if len(tensors) == 1 else Concatenate()(*tensors, axis=axis)
