"""DiffAugment as a layer: the same random augmentation for every image a discriminator sees.

``DiffAugment(policy, seed)`` augments in training mode only (``layer(x, training=True)``, and inside a
model trained by ``train_on_batch``) and is the identity in inference (``predict``). It owns its random
numbers: a ``minigan.random.Stream`` seeded with ``seed``, whose state ``get_state`` / ``set_state``
save and restore, so a resumed run augments exactly as an uninterrupted one. The ops and the paper's
reasoning are in ``functional/augment.py``.

A GAN uses one layer object in two places: it augments the batch that D trains on, and it sits between
G and D inside the adversarial model, so that G's gradient flows back through the augmentation:

    augment = layers.DiffAugment("color,translation,cutout", seed=1)
    gan = Model(z, discriminator(augment(generator(z))))          # G learns through D(T(G(z)))
    discriminator.train_on_batch(augment(images, training=True), labels)

>>> import minigan
>>> from minigan import layers
>>> minigan.clear_session()
>>> augment = layers.DiffAugment("translation", seed=3)
>>> x = minigan.backend.numpy.ones((2, 8, 8, 3), dtype="float32")
>>> bool((augment(x).numpy() == x).all()), bool((augment(x, training=True).numpy() == x).all())
(True, False)
>>> augment(layers.Input(shape=(32, 32, 3))).shape
(None, 32, 32, 3)
"""

from .. import functional as F
from ..functional.augment import parse_policy
from ..random import Stream
from .convolutional import check_images
from ..engine.base_layer import Layer


class DiffAugment(Layer):
    """Differentiable augmentation (Zhao et al. 2020) in training mode; the identity in inference."""

    def __init__(self, policy="color,translation,cutout", seed=0, **kwargs):
        super().__init__(**kwargs)
        self.policy = ",".join(parse_policy(policy))  # checked now: an unknown name fails at construction
        self.stream = Stream(seed)

    def compute_output_shape(self, input_shape):
        check_images(self, input_shape)
        return tuple(input_shape)

    def call(self, x, training=False):
        if not training or not self.policy:
            return x
        return F.diff_augment(x, self.policy, stream=self.stream)

    def get_state(self):
        """The random stream's state (one JSON string): what a checkpoint keeps to resume exactly."""
        return self.stream.get_state()

    def set_state(self, state):
        self.stream.set_state(state)
