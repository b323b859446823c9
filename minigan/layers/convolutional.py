"""Convolutional layers: Conv2D, Conv2DTranspose and UpSampling2D (channels-last, TF 'same'/'valid').

    Conv2D(filters, k, strides)       x (N, H, W, C)     kernel (KH, KW, C, filters)   y (N, OH, OW, filters)
    Conv2DTranspose(filters, k, s)    x (N, H, W, C)     kernel (KH, KW, filters, C)   y (N, H*S, W*S, filters) 'same'
    UpSampling2D(size)                x (N, H, W, C)     no weights                    y (N, H*SH, W*SW, C)

Output sizes follow TensorFlow / Keras 2 exactly:
    Conv2D           'same': ceil(H / S)        'valid': (H - KH) // S + 1
    Conv2DTranspose  'same': H * S              'valid': H * S + max(KH - S, 0)   (= (H - 1) * S + KH when KH >= S)

>>> import minigan
>>> from minigan import layers
>>> minigan.clear_session()
>>> x = layers.Input(shape=(16, 16, 128))
>>> y = layers.Conv2DTranspose(256, 4, strides=2, padding="same")(x)
>>> y.shape
(None, 32, 32, 256)
"""


from .. import arguments, initializers
from .. import functional as F
from ..engine.base_layer import Layer
from .core import _activate


def _pair(value, what, layer):
    """Keras' kernel_size / strides / size: the rule of ``functional.check_pair``, the layer named."""
    return F.check_pair(value, what, f"{type(layer).__name__} '{layer.name}'")


def _padding(padding, layer):
    return F.check_padding(padding, f"{type(layer).__name__} '{layer.name}'")


def check_images(layer, input_shape):
    """Raise unless ``input_shape`` is channels-last images (batch, height, width, channels)."""
    if len(input_shape) != 4 or any(n is None for n in input_shape[1:]):
        raise ValueError(f"{type(layer).__name__} '{layer.name}' expects images of shape (batch, height, width, "
                         f"channels), got an input of shape {tuple(input_shape)}")


class _Conv(Layer):
    """What Conv2D and Conv2DTranspose share: arguments, the input check, bias and activation."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters = arguments.integer(filters, "filters", f"{type(self).__name__} '{self.name}'")
        self.kernel_size = _pair(kernel_size, "kernel_size", self)
        self.strides = _pair(strides, "strides", self)
        self.padding = _padding(padding, self)
        self.activation = F.get_activation(activation)
        self.use_bias = arguments.flag(use_bias, "use_bias", f"{type(self).__name__} '{self.name}'")
        self.kernel_initializer = initializers.get(kernel_initializer)  # an unknown name fails here
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None

    def _check_input(self, input_shape):
        """Channels-last images (N, H, W, C); C must match the kernel once built."""
        check_images(self, input_shape)
        if self.kernel is not None and input_shape[-1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects input with {self.in_channels} channels "
                             f"(kernel is {self.kernel.shape}), got an input of shape {tuple(input_shape)}")

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
        # TF's sizes (functional/im2col.py): 'same' ceil(H / S), 'valid' (H - KH) // S + 1
        size = [F.conv_output_length(d, k, s, self.padding) for d, k, s in zip((h, w), self.kernel_size, self.strides)]
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
        size = [F.conv_transpose_output_length(d, k, s, self.padding)  # Keras 2's deconv_length
                for d, k, s in zip((h, w), self.kernel_size, self.strides)]
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
        check_images(self, input_shape)
        n, h, w, c = input_shape
        return (n, h * self.size[0], w * self.size[1], c)

    def call(self, x, training=False):
        return F.upsample2d(x, self.size)


