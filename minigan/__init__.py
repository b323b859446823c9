"""minigan: a small deep-learning framework on NumPy/CuPy, built to train the DCGAN of
Chollet's *Deep Learning with Python* section 8.5.

``import minigan as keras`` gives the names the book uses (``keras.Input``,
``keras.models.Model``, ``keras.optimizers.RMSprop``, ``keras.datasets.cifar10``...).
The layers of the library, bottom to top: backend -> tensor -> functional -> layers ->
models/optimizers; see docs/architecture.md.
"""

from . import backend, random
from .backend import get_array_module, get_backend, set_backend, to_numpy
from .tensor import Function, Tensor, as_tensor, enable_grad, is_grad_enabled, no_grad, tensor
from . import functional
from .gradcheck import GradcheckError, gradcheck
from . import initializers, layers, losses, models, optimizers
from .engine import clear_session
from .layers import Input
from .models import Model, Sequential
from . import datasets, metrics, preprocessing
from . import applications

__version__ = "0.1.0"
