"""The dense (fully connected) layer's op: y = x @ kernel + bias, on the last axis.

Shapes (Keras layout):  x (..., D_in)   kernel (D_in, D_out)   bias (D_out,)   y (..., D_out)

Gradients, with gy = dL/dy flattened to (M, D_out) and x to (M, D_in):
    dL/dx = gy @ kernel^T          dL/dkernel = x^T @ gy          dL/dbias = sum of gy over rows

>>> import minigan, minigan.functional as F
>>> x = minigan.tensor([[1.0, 2.0]])
>>> w = minigan.tensor([[1.0], [1.0]])
>>> F.dense(x, w, minigan.tensor([0.5])).data.tolist()
[[3.5]]
"""

from ..tensor import as_tensor
from .arithmetic import matmul, require_float, reshape


def dense(x, kernel, bias=None):
    """x (..., D_in) @ kernel (D_in, D_out) + bias (D_out,); N-D inputs apply to the last axis as Keras."""
    x, kernel = as_tensor(x), as_tensor(kernel)
    require_float("dense", x.data, kernel.data)
    if kernel.ndim != 2 or x.ndim < 1 or x.shape[-1] != kernel.shape[0]:
        raise ValueError(f"dense: input of shape {x.shape} does not fit kernel {kernel.shape}: "
                         f"the input's last axis must be {kernel.shape[0] if kernel.ndim == 2 else '?'}")
    if x.ndim > 2:  # (..., D_in) -> (M, D_in) so that one GEMM does all rows, then back
        lead = x.shape[:-1]
        y = matmul(reshape(x, (-1, x.shape[-1])), kernel)
        y = reshape(y, lead + (kernel.shape[1],))
    else:
        y = matmul(x, kernel)
    return y if bias is None else y + bias
