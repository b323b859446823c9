"""Concatenate: the layer that joins branches, called on a list of tensors (Keras 2's merge layers).

>>> import minigan
>>> from minigan import layers
>>> minigan.clear_session()
>>> x = layers.Input(shape=(35, 35, 192))
>>> towers = [layers.Conv2D(64, 1)(x), layers.Conv2D(32, 1)(x)]
>>> layers.concatenate(towers).shape
(None, 35, 35, 96)
"""

from .. import functional as F
from ..engine.base_layer import Layer


class Concatenate(Layer):
    """y = the inputs side by side along ``axis`` (default -1: the channels, for NHWC images)."""

    takes_list = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise ValueError(f"Concatenate '{self.name}': axis must be an int, got {axis!r}")
        self.axis = axis

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        if not -rank < self.axis < rank or self.axis == 0 or self.axis == -rank:
            raise ValueError(f"Concatenate '{self.name}': axis {self.axis} is not a non-batch axis of inputs of "
                             f"rank {rank}")
        axis = self.axis % rank
        others = [s[:axis] + s[axis + 1:] for s in shapes]
        for k, shape in enumerate(shapes):
            if len(shape) != rank or any(a is not None and b is not None and a != b
                                         for a, b in zip(others[k], others[0])):
                raise ValueError(f"Concatenate '{self.name}': input {k} has shape {shape}, which does not fit input "
                                 f"0's {shapes[0]}: all axes but {axis} must be equal")
        return shapes[0][:axis] + (sum(s[axis] for s in shapes),) + shapes[0][axis + 1:]

    def call(self, xs, training=False):
        return F.concatenate(xs, axis=self.axis)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)``: Keras' functional spelling."""
    return Concatenate(axis=axis, **kwargs)(inputs)
