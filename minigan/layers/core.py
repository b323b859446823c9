"""Core layers: Dense, activations, Dropout, and the shape changers Reshape and Flatten.

    Dense(units)            x (..., D_in)   kernel (D_in, units)   y (..., units)
    Activation(name)        elementwise; 'linear' (or None) is the identity
    LeakyReLU(alpha=0.3)    y = x if x > 0 else alpha * x   (Keras 2's default alpha; DCGAN uses 0.2)
    ReLU()                  y = max(x, 0)
    Dropout(rate)           inverted dropout while training, the identity in inference
    Reshape(target_shape), Flatten()   no weights; Flatten keeps the channels-last order, as Keras

>>> import minigan
>>> from minigan import layers
>>> minigan.clear_session()
>>> x = layers.Input(shape=(2, 2, 3))
>>> layers.Dense(4)(layers.Flatten()(x)).shape
(None, 4)
"""

import math

from .. import arguments, initializers
from .. import functional as F
from ..engine.base_layer import Layer


def _activate(activation, z):
    """Apply ``activation``. A sigmoid output remembers its input as ``_keras_logits``, as tf.keras does,
    so that binary cross-entropy in ``train_on_batch`` can work from the logits (see ``losses.py``)."""
    y = activation(z)
    if activation is F.sigmoid:
        y._keras_logits = z
    return y


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
        self.units = arguments.integer(units, "units", f"Dense '{self.name}'")
        self.use_bias = arguments.flag(use_bias, "use_bias", f"Dense '{self.name}'")
        self.activation = F.get_activation(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)  # an unknown name fails here, not at build
        self.bias_initializer = initializers.get(bias_initializer)
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


class LeakyReLU(Layer):
    """y = x if x > 0 else alpha * x, with Keras 2's default alpha = 0.3 (DCGAN's discriminator uses 0.2).

    >>> from minigan import backend, layers
    >>> [round(v, 4) for v in layers.LeakyReLU()(backend.asarray([[-1.0, 2.0]])).numpy()[0].tolist()]
    [-0.3, 2.0]
    """

    def __init__(self, alpha=0.3, **kwargs):
        super().__init__(**kwargs)
        self.alpha = arguments.number(alpha, "alpha", f"LeakyReLU '{self.name}'", 0)

    def call(self, x, training=False):
        return F.leaky_relu(x, alpha=self.alpha)


class ReLU(Layer):
    """y = max(x, 0): the generator's activation in DCGAN (Radford et al. 2016).

    >>> from minigan import backend, layers
    >>> layers.ReLU()(backend.asarray([[-1.0, 0.0, 2.0]])).numpy().tolist()
    [[0.0, 0.0, 2.0]]
    """

    def call(self, x, training=False):
        return F.relu(x)


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
        self.rate = arguments.number(rate, "rate", f"Dropout '{self.name}'", 0, 1, high_open=True)

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
        self.target_shape = tuple(target_shape) if isinstance(target_shape, (tuple, list)) else (None,)
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
