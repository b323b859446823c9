"""Layers: each owns its weights and calls one functional op (``minigan/functional``) on its input.

    Dense(units)                      x (..., D_in)      kernel (D_in, units)          y (..., units)
    Conv2D(filters, k, strides)       x (N, H, W, C)     kernel (KH, KW, C, filters)   y (N, OH, OW, filters)
    Conv2DTranspose(filters, k, s)    x (N, H, W, C)     kernel (KH, KW, filters, C)   y (N, H*S, W*S, filters) 'same'
    UpSampling2D(size)                x (N, H, W, C)     no weights                    y (N, H*SH, W*SW, C)
    LeakyReLU, Activation, Dropout, Reshape, Flatten: no weights

Output sizes follow TensorFlow / Keras 2 exactly:
    Conv2D           'same': ceil(H / S)        'valid': (H - KH) // S + 1
    Conv2DTranspose  'same': H * S              'valid': H * S + max(KH - S, 0)   (= (H - 1) * S + KH when KH >= S)

The base class, symbolic tensors and :func:`Input` live in ``graph.py``; this file only has the layers.

>>> import minigan
>>> from minigan import layers
>>> minigan.clear_session()
>>> x = layers.Input(shape=(16, 16, 128))
>>> y = layers.Conv2DTranspose(256, 4, strides=2, padding="same")(x)
>>> y.shape
(None, 32, 32, 256)
>>> layers.LeakyReLU()(y).shape
(None, 32, 32, 256)
"""

import math

from . import functional as F
from .graph import Input, InputLayer, KerasTensor, Layer, clear_session, reset_names  # noqa: F401 (re-exported)

__all__ = ["Input", "InputLayer", "Layer", "KerasTensor", "reset_names", "clear_session", "Dense", "Conv2D",
           "Conv2DTranspose", "UpSampling2D", "LeakyReLU", "Dropout", "Reshape", "Flatten", "Activation"]


def _activate(activation, z):
    """Apply ``activation``. A sigmoid output remembers its input as ``_keras_logits``, as tf.keras does,
    so that binary cross-entropy in ``train_on_batch`` can work from the logits (see ``losses.py``)."""
    y = activation(z)
    if activation is F.sigmoid:
        y._keras_logits = z
    return y


def _pair(value, what, layer):
    """3 -> (3, 3); (3, 5) stays. Keras accepts both for kernel_size and strides."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ValueError(f"{type(layer).__name__}: {what} must be a positive int or a pair of them, got {value!r}")
    return pair


def _padding(padding, layer):
    name = padding.lower() if isinstance(padding, str) else padding
    if name not in ("valid", "same"):
        raise ValueError(f"{type(layer).__name__}: unknown padding {padding!r}; expected 'valid' or 'same'")
    return name


class Dense(Layer):
    """y = activation(x @ kernel + bias), on the last axis of x (so (N, T, D_in) works too, as in Keras).

    >>> import minigan
    >>> from minigan import layers
    >>> d = layers.Dense(3, activation="relu")
    >>> d(minigan.backend.asarray([[1.0, 2.0]])).shape, d.kernel.shape, d.count_params()
    ((1, 3), (2, 3), 9)
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units < 1:
            raise ValueError(f"Dense '{self.name}': units must be a positive int, got {units!r}")
        self.units, self.use_bias = units, use_bias
        self.activation = F.get_activation(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel = self.bias = None

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Dense '{self.name}' needs inputs of shape (batch, ..., features), "
                             f"got shape {tuple(input_shape)}")
        if self.kernel is not None and input_shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Dense '{self.name}' expects inputs whose last axis is {self.kernel.shape[0]} "
                             f"(kernel is {self.kernel.shape}), got an input of shape {tuple(input_shape)}")
        return tuple(input_shape[:-1]) + (self.units,)

    def call(self, x, training=False):
        return _activate(self.activation, F.dense(x, self.kernel, self.bias))


class _Conv(Layer):
    """What Conv2D and Conv2DTranspose share: arguments, the input check, bias and activation."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters < 1:
            raise ValueError(f"{type(self).__name__} '{self.name}': filters must be a positive int, got {filters!r}")
        self.filters = filters
        self.kernel_size = _pair(kernel_size, "kernel_size", self)
        self.strides = _pair(strides, "strides", self)
        self.padding = _padding(padding, self)
        self.activation = F.get_activation(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel = self.bias = None

    def _check_input(self, input_shape):
        """Channels-last images (N, H, W, C); C must match the kernel once built."""
        kind = type(self).__name__
        if len(input_shape) != 4 or any(n is None for n in input_shape[1:]):
            raise ValueError(f"{kind} '{self.name}' expects images of shape (batch, height, width, channels), "
                             f"got an input of shape {tuple(input_shape)}")
        if self.kernel is not None and input_shape[-1] != self.in_channels:
            raise ValueError(f"{kind} '{self.name}' expects input with {self.in_channels} channels (kernel is "
                             f"{self.kernel.shape}), got an input of shape {tuple(input_shape)}")

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", self.kernel_shape(input_shape[-1]), self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)


class Conv2D(_Conv):
    """y = activation(conv2d(x, kernel) + bias), channels-last, TF 'same'/'valid' padding.

    >>> import minigan
    >>> from minigan import layers
    >>> c = layers.Conv2D(128, 4, strides=2)
    >>> c(minigan.Input(shape=(30, 30, 128))).shape, c.kernel.shape, c.count_params()
    ((None, 14, 14, 128), (4, 4, 128, 128), 262272)
    """

    def kernel_shape(self, in_channels):
        return self.kernel_size + (in_channels, self.filters)  # (KH, KW, C_in, C_out)

    in_channels = property(lambda self: self.kernel.shape[2])

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape)
        n, h, w, _ = input_shape
        if self.padding == "same":  # TF pads so that every input pixel is a window start: ceil(H / S)
            size = [math.ceil(d / s) for d, s in zip((h, w), self.strides)]
        else:                       # only windows that fit inside the input
            size = [(d - k) // s + 1 for d, k, s in zip((h, w), self.kernel_size, self.strides)]
        if min(size) < 1:
            raise ValueError(f"Conv2D '{self.name}': the {self.kernel_size} kernel does not fit in an input of "
                             f"shape {tuple(input_shape)} with padding='valid'; use padding='same' or a smaller kernel")
        return (n, size[0], size[1], self.filters)

    def call(self, x, training=False):
        y = F.conv2d(x, self.kernel, self.bias, strides=self.strides, padding=self.padding)
        return _activate(self.activation, y)


class Conv2DTranspose(_Conv):
    """The adjoint of Conv2D (its input gradient), used to upsample: 'same' with strides 2 doubles H and W.

    The kernel is (KH, KW, C_out, C_in): the kernel of the Conv2D that maps the output back to the input.

    >>> import minigan
    >>> from minigan import layers
    >>> t = layers.Conv2DTranspose(8, 3, strides=2)          # 'valid': H * S + max(KH - S, 0)
    >>> t(minigan.Input(shape=(5, 5, 4))).shape, t.kernel.shape
    ((None, 11, 11, 8), (3, 3, 8, 4))
    """

    def kernel_shape(self, in_channels):
        return self.kernel_size + (self.filters, in_channels)  # (KH, KW, C_out, C_in), as Keras

    in_channels = property(lambda self: self.kernel.shape[3])

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape)
        n, h, w, _ = input_shape
        if self.padding == "same":
            size = [d * s for d, s in zip((h, w), self.strides)]
        else:
            size = [d * s + max(k - s, 0) for d, k, s in zip((h, w), self.kernel_size, self.strides)]
        return (n, size[0], size[1], self.filters)

    def call(self, x, training=False):
        y = F.conv2d_transpose(x, self.kernel, self.bias, strides=self.strides, padding=self.padding)
        return _activate(self.activation, y)


class UpSampling2D(Layer):
    """Every pixel repeated SH x SW times (nearest neighbour), as Keras 2's ``UpSampling2D``.

    Followed by a Conv2D, it is a resize-convolution: an upsampling without a strided transposed
    convolution's checkerboard. Only ``interpolation="nearest"`` and channels-last (docs/keras-fidelity.md).

    >>> from minigan import layers
    >>> layers.UpSampling2D()(layers.Input(shape=(8, 8, 128))).shape
    (None, 16, 16, 128)
    """

    def __init__(self, size=(2, 2), interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = _pair(size, "size", self)
        if interpolation != "nearest":
            raise ValueError(f"UpSampling2D '{self.name}': interpolation {interpolation!r} is not implemented; "
                             f"minigan has 'nearest' only")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"UpSampling2D '{self.name}' expects images (batch, H, W, C), got shape "
                             f"{tuple(input_shape)}")
        n, h, w, c = input_shape
        return (n, h * self.size[0], w * self.size[1], c)

    def call(self, x, training=False):
        return F.upsample2d(x, self.size)


class LeakyReLU(Layer):
    """y = x if x > 0 else alpha * x, with Keras 2's default alpha = 0.3 (not 0.2 or 0.01).

    >>> from minigan import backend, layers
    >>> [round(v, 4) for v in layers.LeakyReLU()(backend.asarray([[-1.0, 2.0]])).numpy()[0].tolist()]
    [-0.3, 2.0]
    """

    def __init__(self, alpha=0.3, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, x, training=False):
        return F.leaky_relu(x, alpha=self.alpha)


class Activation(Layer):
    """Apply an activation by name: ``Activation('tanh')``; 'linear' or None is the identity.

    >>> from minigan import backend, layers
    >>> layers.Activation("relu")(backend.asarray([[-1.0, 2.0]])).numpy().tolist() == [[0.0, 2.0]]
    True
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = F.get_activation(activation)

    def call(self, x, training=False):
        return _activate(self.activation, x)


class Dropout(Layer):
    """Inverted dropout: while training, zero each value with probability ``rate`` and scale the rest by
    1 / (1 - rate); at inference (``predict``) it is the identity. Active whenever ``training=True`` --
    also inside a frozen (``trainable = False``) model, as in Keras 2.

    >>> from minigan import backend, layers
    >>> drop, x = layers.Dropout(0.5), backend.asarray([[1.0, 1.0, 1.0, 1.0]])
    >>> drop(x).numpy().tolist()                                   # inference: unchanged
    [[1.0, 1.0, 1.0, 1.0]]
    >>> sorted(set(drop(x, training=True).numpy().ravel().tolist())) <= [0.0, 2.0]   # kept values doubled
    True
    """

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout '{self.name}': rate must be in [0, 1), got {rate}")
        self.rate = float(rate)

    def call(self, x, training=False):
        return F.dropout(x, self.rate, training=training)


class Reshape(Layer):
    """(N, d1, d2...) -> (N,) + target_shape, keeping the order of the values; one -1 is inferred.

    >>> from minigan import layers
    >>> layers.Reshape((16, 16, -1))(layers.Input(shape=(32768,))).shape
    (None, 16, 16, 128)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or not all(
                isinstance(d, int) and (d > 0 or d == -1) for d in self.target_shape):
            raise ValueError(f"Reshape '{self.name}': target_shape must be positive ints with at most one -1, "
                             f"got {target_shape!r}")

    def compute_output_shape(self, input_shape):
        size = math.prod(input_shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        target = tuple(size // known if d == -1 else d for d in self.target_shape)
        if math.prod(target) != size:
            raise ValueError(f"Reshape '{self.name}' cannot turn an input of shape {tuple(input_shape)} "
                             f"({size} values per sample) into {self.target_shape} ({known} values)")
        return (input_shape[0],) + target

    def call(self, x, training=False):
        return F.reshape(x, self.compute_output_shape(x.shape))


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...), in row-major (channels-last) order as Keras.

    >>> from minigan import layers
    >>> layers.Flatten()(layers.Input(shape=(2, 2, 128))).shape
    (None, 512)
    """

    def compute_output_shape(self, input_shape):
        return (input_shape[0], math.prod(input_shape[1:]))

    def call(self, x, training=False):
        return F.reshape(x, (x.shape[0], -1))
