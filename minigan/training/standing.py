"""Standing statistics: sample from a network with the batch statistics of the weights it has now.

A generator with BatchNormalization trains in training mode: each batch of B images is normalised by
its own mean and variance. ``predict`` normalises by the *moving* statistics instead, an exponential
average (momentum 0.99: over the last ~100 steps) of batch statistics of weights that have moved since;
and a WeightAverage holds the average of those averages, statistics of no network that ever ran.
BigGAN (Brock et al. 2019, section 3) recomputes them before sampling, "standing statistics"; PyTorch's
``torch.optim.swa_utils.update_bn`` does the same for averaged weights.

``StandingStatistics(sampler, inputs, batch_size)`` wraps a sampler (a model, or its WeightAverage):
its ``predict`` first runs the sampler's network in training mode on ``inputs`` (K, ...) in K / B
batches of ``batch_size`` B, every BatchNormalization inside ``averaging()`` (the plain average of the
batches' statistics), then predicts, then puts the moving statistics back as they were. So it changes
nothing it wraps: the model's weights, a checkpoint, the training run's random stream (Dropout, say,
draws inside ``minigan.random.scoped_seed``) are as before. B should be the training batch size: the
variance of a batch of 16 is not that of a batch of 64, and G learnt to draw with batches of B.

``gan_sampler(sampler, latent_dim, batch_size, seed)`` is the rule a GAN run draws by: standing
statistics (``of_generator``: GENERATOR_BATCHES batches of latent vectors from its own stream) when
the network has batch normalisation, the sampler as it is otherwise.

>>> import minigan
>>> from minigan import layers
>>> layers.clear_session()
>>> model = minigan.models.Sequential([layers.Input(shape=(1,)), layers.BatchNormalization(epsilon=1e-3)])
>>> inputs = minigan.backend.numpy.array([[1.0], [3.0], [5.0], [7.0]], dtype="float32")
>>> standing = StandingStatistics(model, inputs, batch_size=2)   # batches [1, 3] and [5, 7]
>>> y = standing.predict(minigan.backend.asarray([[6.0]]))          # mean 4, variance 1 * 2 / 0.999 = 2.002
>>> round(float(y[0, 0]), 3)                                       # (6 - 4) / sqrt(2.002 + 0.001)
1.413
>>> bn = model.layers[0]                                           # its own statistics are put back
>>> bn.moving_mean.numpy().tolist(), bn.moving_variance.numpy().tolist()
([0.0], [1.0])
"""

import contextlib

from .. import backend
from .. import random as mrandom
from ..layers.normalization import BatchNormalization
from ..tensor import no_grad


def batch_normalization_layers(sampler):
    """The BatchNormalization layers of a model, or of a WeightAverage's model (nested models included)."""
    model = getattr(sampler, "model", sampler)
    return [layer for layer in model.flatten_layers() if isinstance(layer, BatchNormalization)]


def gan_sampler(sampler, latent_dim, batch_size, seed=1, standing=None):
    """What to draw a GAN generator's pictures and scores from: ``sampler`` (the generator, or its
    WeightAverage) as it is, or -- when its network has batch normalisation (``standing=None``), or
    when asked (``True``) -- ``StandingStatistics.of_generator`` of it on latents of ``Stream(seed)``.
    A weight average's moving statistics belong to no network that ran (docs/quality.md, round 8).

    >>> import minigan
    >>> from minigan import layers
    >>> layers.clear_session()
    >>> with_bn = minigan.models.Sequential([layers.Input(shape=(2,)), layers.BatchNormalization()])
    >>> type(gan_sampler(with_bn, latent_dim=2, batch_size=4)).__name__
    'StandingStatistics'
    >>> plain = minigan.models.Sequential([layers.Input(shape=(2,)), layers.Dense(3)])
    >>> gan_sampler(plain, latent_dim=2, batch_size=4) is plain   # nothing to recompute
    True
    """
    if standing is None:
        standing = bool(batch_normalization_layers(sampler))
    return StandingStatistics.of_generator(sampler, latent_dim, batch_size, seed=seed) if standing else sampler


class StandingStatistics:
    """A sampler (``predict``) drawing with batch-normalisation statistics recomputed at every call.

    sampler     a model, or a ``WeightAverage`` of one (its averaged weights are used, as its own
                ``predict`` would)
    inputs      (K, ...) host or device array: what the network is run on to measure its statistics;
                K a multiple of ``batch_size``
    batch_size  B, the batch size the network trained with
    seed        the seed of ``minigan.random`` inside the measurement (for layers that draw, e.g. Dropout)
    """

    def __init__(self, sampler, inputs, batch_size, seed=0):
        self.sampler, self.batch_size, self.seed = sampler, int(batch_size), seed
        self.model = getattr(sampler, "model", sampler)
        self.layers = batch_normalization_layers(self.model)
        name = f"StandingStatistics of '{self.model.name}'"
        if not self.layers:
            raise ValueError(f"{name}: the model has no BatchNormalization layer, so nothing to recompute")
        if self.batch_size < 2 or len(inputs) < self.batch_size or len(inputs) % self.batch_size:
            raise ValueError(f"{name}: {len(inputs)} inputs do not make whole batches of batch_size "
                             f"{self.batch_size} (expected a multiple of it, at least one batch of 2 or more)")
        self.inputs = backend.asarray(inputs)

    # of_generator's batches: 64 batches of 16 are 1,024 latents, whose statistics' own noise is far below
    # the swing of one snapshot to the next (docs/quality.md, round 8); ~8 ms a batch on a 2-core CPU
    GENERATOR_BATCHES = 64

    @classmethod
    def of_generator(cls, sampler, latent_dim, batch_size, batches=GENERATOR_BATCHES, seed=1):
        """Standing statistics of a GAN generator, measured on ``batches`` batches of ``batch_size`` latent
        vectors N(0, 1) from ``minigan.random.Stream(seed)`` (not the training stream)."""
        latents = mrandom.Stream(seed).normal((batches * int(batch_size), latent_dim))
        return cls(sampler, latents, batch_size)

    @property
    def batches(self):
        """How many batches each ``predict`` runs to measure the statistics."""
        return len(self.inputs) // self.batch_size

    def _network(self):
        """The model with the weights to sample from: its own, or the average's (swapped in and back)."""
        return self.sampler.applied() if hasattr(self.sampler, "applied") else contextlib.nullcontext(self.model)

    def recompute(self, model):
        """Set every BatchNormalization layer's moving statistics to the average over the batches of
        ``inputs`` of this network's batch statistics (its weights as they are now)."""
        with contextlib.ExitStack() as stack, no_grad(), mrandom.scoped_seed(self.seed):
            for layer in self.layers:
                stack.enter_context(layer.averaging())
            for start in range(0, len(self.inputs), self.batch_size):
                model(self.inputs[start: start + self.batch_size], training=True)

    def predict(self, x, batch_size=32, verbose=0):
        """``sampler.predict(x)`` with standing statistics; the moving statistics are put back after it."""
        with self._network() as model:
            kept = [(w, w.data.copy()) for layer in self.layers for w in (layer.moving_mean, layer.moving_variance)]
            try:
                self.recompute(model)
                return model.predict(x, batch_size=batch_size, verbose=verbose)
            finally:
                for weight, data in kept:
                    weight.data[...] = data
