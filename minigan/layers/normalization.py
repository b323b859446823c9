"""BatchNormalization with Keras 2 semantics: batch statistics while training, moving ones in inference.

    BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True)
    weights  gamma, beta (trainable; absent with scale=False / center=False)
             moving_mean, moving_variance (non-trainable: the layer updates them, no optimizer does)

Training (``train_on_batch``, or ``layer(x, training=True)``) normalises each feature with the batch's
own mean mu and biased variance sigma2 (``functional/normalization.py``), then moves the statistics
kept for inference:

    moving_mean     = momentum * moving_mean     + (1 - momentum) * mu
    moving_variance = momentum * moving_variance + (1 - momentum) * sigma2 * m / (m - (1 + eps))

where m counts the values per feature (N*H*W). The factor m / (m - 1 - eps) is Keras 2's (2.1.3 to 2.2.5)
correction towards the unbiased variance; PyTorch uses m / (m - 1) and calls 1 - momentum its
"momentum" (0.01 for Keras' 0.99). Inference (``predict``) uses only the moving statistics:

    y = gamma (x - moving_mean) / sqrt(moving_variance + eps) + beta

Frozen layers follow Keras 2.1-2.2 (not TF2-Keras; docs/keras-fidelity.md): a BatchNormalization whose
weights are not being trained -- inside the GAN while its discriminator is frozen -- still normalises
with batch statistics in training mode, and leaves its moving statistics alone. "Being trained" is
what autograd already knows: ``train_on_batch`` records gradients for exactly the weights that
``compile()`` snapshotted, so a layer whose gamma (or beta) records gradients is being trained.

>>> import minigan
>>> from minigan import layers
>>> minigan.clear_session()
>>> bn = layers.BatchNormalization(momentum=0.5)
>>> x = minigan.backend.asarray([[0.0], [4.0]])                   # mu = 2, sigma2 = 4, m = 2
>>> [round(v, 3) for v in bn(x, training=True).numpy().ravel().tolist()]
[-1.0, 1.0]
>>> bn.moving_mean.numpy().tolist(), [round(v, 3) for v in bn.moving_variance.numpy().tolist()]
([1.0], [4.504])
>>> [w.name for w in bn.non_trainable_weights]
['batch_normalization/moving_mean', 'batch_normalization/moving_variance']

Standing statistics (Brock et al. 2019, BigGAN, section 3; PyTorch's ``swa_utils.update_bn``): the
moving statistics trail the weights by ~1 / (1 - momentum) steps, so a network whose weights moved
since -- a GAN's generator, or a running average of its weights -- predicts with statistics of weights
it no longer has. Inside ``with bn.averaging():`` each training-mode call sets them to the plain
average of the batches seen in the block (batch k weighs 1 / k), whether or not the layer is trained:

>>> with bn.averaging():
...     for batch in ([[0.0], [4.0]], [[2.0], [2.0]]):   # means 2, 2; variances 4 * 2 / 0.999 and 0
...         _ = bn(minigan.backend.asarray(batch), training=True)
>>> bn.moving_mean.numpy().tolist(), [round(v, 3) for v in bn.moving_variance.numpy().tolist()]
([2.0], [4.004])
"""

import contextlib

from .. import arguments, initializers
from .. import functional as F
from ..backend import get_array_module
from ..engine.base_layer import Layer
from ..tensor import no_grad


class BatchNormalization(Layer):
    """Normalise every feature (the ``axis``, channels by default) to zero mean and unit variance."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise ValueError(f"BatchNormalization '{self.name}': axis must be an int, got {axis!r}")
        owner = f"BatchNormalization '{self.name}'"
        self.axis = axis
        self.momentum = arguments.number(momentum, "momentum", owner, 0, 1, high_open=True)
        self.epsilon = arguments.number(epsilon, "epsilon", owner, 0, low_open=True)
        self.center, self.scale = arguments.flag(center, "center", owner), arguments.flag(scale, "scale", owner)
        self.initializers = {name: initializers.get(value) for name, value in (
            ("beta", beta_initializer), ("gamma", gamma_initializer), ("moving_mean", moving_mean_initializer),
            ("moving_variance", moving_variance_initializer))}
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None
        self._averaged = None  # inside averaging(): how many batches the moving statistics average so far

    def _feature_axis(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"BatchNormalization '{self.name}': axis {self.axis} is not a feature axis of an input "
                             f"of shape {tuple(input_shape)}")
        return self.axis % rank

    def build(self, input_shape):
        shape = (input_shape[self._feature_axis(input_shape)],)
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, self.initializers["gamma"])
        if self.center:
            self.beta = self.add_weight("beta", shape, self.initializers["beta"])
        self.moving_mean = self.add_weight("moving_mean", shape, self.initializers["moving_mean"], trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape, self.initializers["moving_variance"],
                                               trainable=False)

    def compute_output_shape(self, input_shape):
        axis = self._feature_axis(input_shape)
        if self.moving_mean is not None and input_shape[axis] != self.moving_mean.shape[0]:
            raise ValueError(f"BatchNormalization '{self.name}' normalises {self.moving_mean.shape[0]} features on "
                             f"axis {axis}, got an input of shape {tuple(input_shape)}")
        return tuple(input_shape)

    def _being_trained(self):
        """Whether this call should update the moving statistics (see the module docstring)."""
        weights = [w for w in (self.gamma, self.beta) if w is not None]
        return any(w.requires_grad for w in weights) if weights else self.trainable

    def _scale_and_offset(self, like):
        xp = get_array_module(like)
        gamma = self.gamma if self.gamma is not None else xp.ones(self.moving_mean.shape, like.dtype)
        beta = self.beta if self.beta is not None else xp.zeros(self.moving_mean.shape, like.dtype)
        return gamma, beta

    def call(self, x, training=False):
        axis = self._feature_axis(x.shape)
        gamma, beta = self._scale_and_offset(x.data)
        if not training:
            shape = [1] * x.ndim
            shape[axis] = x.shape[axis]
            inv = F.reshape(1.0 / F.power(self.moving_variance + self.epsilon, 0.5), tuple(shape))
            return (x - F.reshape(self.moving_mean, tuple(shape))) * inv * F.reshape(gamma, tuple(shape)) \
                + F.reshape(beta, tuple(shape))
        y, mean, variance = F.batch_normalization(x, gamma, beta, axis=axis, epsilon=self.epsilon)
        if self._being_trained() or self._averaged is not None:
            m = x.size // x.shape[axis]
            with no_grad():
                keep = self.momentum
                if self._averaged is not None:  # the k-th batch of averaging(): keep (k - 1) / k of the average
                    keep, self._averaged = self._averaged / (self._averaged + 1.0), self._averaged + 1
                self.moving_mean.data[...] = keep * self.moving_mean.data + (1.0 - keep) * mean
                unbiased = variance * (m / (m - (1.0 + self.epsilon))) if m > 1 else variance
                self.moving_variance.data[...] = keep * self.moving_variance.data + (1.0 - keep) * unbiased
        return y

    @contextlib.contextmanager
    def averaging(self):
        """Inside the block, training-mode calls replace the moving statistics by the plain average of the
        block's batches (see the module docstring); after it, they update them by ``momentum`` again."""
        if self.moving_mean is None:
            raise ValueError(f"BatchNormalization '{self.name}' is not built yet: it has no statistics to average")
        self._averaged = 0
        try:
            yield self
        finally:
            self._averaged = None
