"""minigan: a small deep-learning framework on NumPy/CuPy, built to train the DCGAN of
Chollet's *Deep Learning with Python* section 8.5."""

from . import backend, random
from .backend import get_array_module, get_backend, set_backend, to_numpy

__version__ = "0.1.0"
from .tensor import Function, Tensor, as_tensor, enable_grad, is_grad_enabled, no_grad, tensor
from . import functional
from .gradcheck import GradcheckError, gradcheck
