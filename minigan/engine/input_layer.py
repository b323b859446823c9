"""``Input``: where a functional model starts -- a layer with no weights whose one node makes a KerasTensor.

>>> import minigan
>>> minigan.clear_session()
>>> x = minigan.Input(shape=(32, 32, 3))
>>> x.shape, x.node.layer.name
((None, 32, 32, 3), 'input_1')
"""

from .. import backend
from .base_layer import Layer, _shape_tuple, unique_name
from .node import KerasTensor, Node


class InputLayer(Layer):
    """The layer behind :func:`Input`: no weights; its one node produces the model's input tensor."""

    def __init__(self, input_shape=None, batch_size=None, dtype=None, name=None):
        if input_shape is None:
            raise ValueError("InputLayer needs input_shape, the shape of one sample, e.g. (32, 32, 3)")
        super().__init__(name=name if name is not None else unique_name("input", zero_based=False),
                         dtype=backend.DEFAULT_DTYPE if dtype is None else dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"Input '{self.name}': dtype must be floating point (float32 or float64), got {self.dtype}")
        if batch_size is not None:
            batch_size = _shape_tuple((batch_size,), self)[0]
        shape = (batch_size,) + _shape_tuple(input_shape, self)
        Node(self, [], KerasTensor(shape, self.dtype))
        self.output = self._nodes[0].output
        self.built = True

    def __call__(self, x, training=None):
        raise TypeError(f"InputLayer '{self.name}' is not called; use its output, minigan.Input(shape=...)")


def Input(shape=None, batch_size=None, name=None, dtype=None):
    """The symbolic input of a functional model: ``Input(shape=(32,))`` has shape (None, 32).

    >>> import minigan
    >>> minigan.Input(shape=(32, 32, 3)).shape
    (None, 32, 32, 3)
    """
    return InputLayer(input_shape=shape, batch_size=batch_size, dtype=dtype, name=name).output
