"""Pooling layers, as Keras 2: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D (channels-last).

    MaxPooling2D(pool_size=(2, 2), strides=None, padding="valid")      y (N, OH, OW, C): each window's maximum
    AveragePooling2D(pool_size=(2, 2), strides=None, padding="valid")  y (N, OH, OW, C): each window's mean
    GlobalAveragePooling2D()                                           y (N, C): the mean of every channel

``strides=None`` means windows side by side (strides = pool_size). Output sizes are the convolution's:
'valid' (H - KH) // SH + 1, 'same' ceil(H / SH). A 'same' average excludes the padding from its count,
as TensorFlow does (``functional/pooling.py`` has the ops and their gradients).

>>> import minigan
>>> from minigan import layers
>>> minigan.clear_session()
>>> x = layers.Input(shape=(147, 147, 64))
>>> layers.MaxPooling2D(3, strides=2)(x).shape, layers.AveragePooling2D(3, 1, "same")(x).shape
((None, 73, 73, 64), (None, 147, 147, 64))
>>> layers.GlobalAveragePooling2D()(x).shape
(None, 64)
"""

from .. import functional as F
from ..engine.base_layer import Layer
from .convolutional import _pair, _padding, check_images


class _Pooling2D(Layer):
    function = None  # F.max_pool2d or F.avg_pool2d

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size", self)
        self.strides = self.pool_size if strides is None else _pair(strides, "strides", self)
        self.padding = _padding(padding, self)

    def compute_output_shape(self, input_shape):
        check_images(self, input_shape)
        n, h, w, c = input_shape
        size = [F.conv_output_length(d, k, s, self.padding) for d, k, s in zip((h, w), self.pool_size, self.strides)]
        if min(size) < 1:
            raise ValueError(f"{type(self).__name__} '{self.name}': the {self.pool_size} window does not fit in an "
                             f"input of shape {tuple(input_shape)} with padding='valid'")
        return (n, size[0], size[1], c)

    def call(self, x, training=False):
        return type(self).function(x, self.pool_size, self.strides, self.padding)


class MaxPooling2D(_Pooling2D):
    """The maximum of each window (the gradient goes to the window's winner)."""
    function = staticmethod(F.max_pool2d)


class AveragePooling2D(_Pooling2D):
    """The mean of each window's pixels inside the image."""
    function = staticmethod(F.avg_pool2d)


class GlobalAveragePooling2D(Layer):
    """(N, H, W, C) -> (N, C): the mean of every channel over the whole image."""

    def compute_output_shape(self, input_shape):
        check_images(self, input_shape)
        return (input_shape[0], input_shape[3])

    def call(self, x, training=False):
        return F.global_avg_pool2d(x)
