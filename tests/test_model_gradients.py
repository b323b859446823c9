"""Gradients through whole Models (float64) against central differences: every layer type, a nested
model, a frozen sub-model, and the loss exactly as train_on_batch computes it."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
from minigan import gradcheck, layers, losses


def float64_tensor(shape, seed):
    return minigan.tensor(np.random.default_rng(seed).uniform(-1, 1, size=shape), dtype="float64", requires_grad=True)


def randomize(model, seed):
    """Non-zero biases too, so that every weight's gradient is exercised."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.8, 0.8, size=w.shape) for w in model.get_weights()])


@settings(max_examples=8)
@given(size=st.integers(3, 5), kernel=st.integers(1, 3), stride=st.integers(1, 2),
       padding=st.sampled_from(["valid", "same"]), activation=st.sampled_from(["tanh", "relu", None]),
       seed=st.integers(0, 100))
def test_conv_model_gradients(size, kernel, stride, padding, activation, seed):
    minigan.clear_session()
    x = minigan.Input(shape=(size, size, 2), dtype="float64")
    y = layers.Conv2D(3, kernel, strides=stride, padding=padding, activation=activation)(x)
    y = layers.LeakyReLU()(y)
    y = layers.Conv2DTranspose(2, kernel + 1, strides=stride, padding=padding, activation="sigmoid")(y)
    y = layers.Dense(2, activation="tanh")(layers.Flatten()(y))
    model = minigan.Model(x, layers.Reshape((1, 2))(y))
    randomize(model, seed)
    data = float64_tensor((2, size, size, 2), seed)
    assert gradcheck(lambda inputs, *weights: model(inputs), data, *model.weights)


@settings(max_examples=6)
@given(seed=st.integers(0, 100), training=st.booleans())
def test_nested_gan_with_frozen_discriminator(seed, training):
    """The GAN step's gradient: through a frozen D (dropout on, reseeded per call) into G and the latent."""
    minigan.clear_session()
    z = minigan.Input(shape=(3,), dtype="float64")
    h = layers.Reshape((2, 2, 2))(layers.LeakyReLU()(layers.Dense(8)(z)))
    generator = minigan.Model(z, layers.Conv2DTranspose(1, 2, strides=2, padding="same", activation="tanh")(h))
    image = minigan.Input(shape=(4, 4, 1), dtype="float64")
    y = layers.Dropout(0.3)(layers.Flatten()(layers.LeakyReLU()(layers.Conv2D(2, 3)(image))))
    discriminator = minigan.Model(image, layers.Dense(1, activation="sigmoid")(y))
    randomize(generator, seed)
    randomize(discriminator, seed + 1)
    discriminator.trainable = False
    latent = minigan.Input(shape=(3,), dtype="float64")
    gan = minigan.Model(latent, discriminator(generator(latent)))
    targets = minigan.tensor(np.random.default_rng(seed).random((3, 1)), dtype="float64")

    def loss(inputs, *weights):
        minigan.random.seed(seed)  # the same dropout mask at every evaluation
        return losses.compiled_loss(losses.binary_crossentropy, targets, gan(inputs, training=training))

    zs = float64_tensor((3, 3), seed)
    assert not any(w.requires_grad for w in discriminator.weights)
    assert gradcheck(loss, zs, *generator.weights)
    loss(zs).backward()  # the frozen weights receive nothing, the generator's do
    assert all(w.grad is None for w in discriminator.weights)
    assert all(w.grad is not None for w in generator.weights)


def test_unfrozen_discriminator_gradients_via_logits_loss():
    minigan.clear_session()
    image = minigan.Input(shape=(3, 3, 1), dtype="float64")
    y = layers.Flatten()(layers.Conv2D(2, 2, activation="relu")(image))
    discriminator = minigan.Model(image, layers.Dense(1, activation="sigmoid")(y))
    randomize(discriminator, 3)
    targets = minigan.tensor([[1.0], [0.0]], dtype="float64")
    images = float64_tensor((2, 3, 3, 1), 4)
    assert gradcheck(lambda inputs, *w: losses.compiled_loss(losses.binary_crossentropy, targets,
                                                             discriminator(inputs, training=True)),
                     images, *discriminator.weights)
