"""BatchNormalization: the op's closed-form backward against central differences (float64, shapes and
axes by hypothesis), a loop reference, PyTorch's batch norm, and the layer's Keras 2 semantics --
weights and counts, moving statistics, inference, freezing inside a GAN, saving."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan import gradcheck, layers
from strategies import float64_tensor, seeds


@st.composite
def bn_cases(draw):
    """A shape of rank 2..4 and a feature axis that is not the batch axis."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=2, max_size=4)))
    axis = draw(st.integers(1, len(shape) - 1))
    return shape, axis if draw(st.booleans()) else axis - len(shape), draw(seeds)


def normalise_by_loops(x, gamma, beta, axis, eps):
    """y, mean, biased variance, one feature at a time."""
    x = np.moveaxis(x, axis, -1)
    y, means, variances = np.empty_like(x), [], []
    for c in range(x.shape[-1]):
        values = x[..., c]
        mean = sum(values.ravel()) / values.size
        variance = sum((v - mean) ** 2 for v in values.ravel()) / values.size
        y[..., c] = gamma[c] * (values - mean) / np.sqrt(variance + eps) + beta[c]
        means.append(mean)
        variances.append(variance)
    return np.moveaxis(y, -1, axis), np.array(means), np.array(variances)


@given(case=bn_cases())
def test_training_mode_values_and_gradients(case):
    shape, axis, seed = case
    assume(np.prod(shape) // shape[axis] >= 2)  # one value per feature has no variance to normalise
    features = shape[axis]
    x = float64_tensor(shape, seed, name="x", low=-2.0, high=3.0)
    gamma, beta = float64_tensor((features,), seed + 1, name="gamma"), float64_tensor((features,), seed + 2, name="beta")
    y, mean, variance = F.batch_normalization(x, gamma, beta, axis=axis, epsilon=1e-3)
    y_ref, mean_ref, var_ref = normalise_by_loops(x.data, gamma.data, beta.data, axis, 1e-3)
    np.testing.assert_allclose(y.data, y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(variance, var_ref, rtol=1e-12, atol=1e-14)
    gradcheck(lambda *t: F.batch_normalization(*t, axis=axis, epsilon=1e-3)[0], x, gamma, beta)


def test_gradients_of_gradients_are_refused_clearly():
    x = float64_tensor((4, 3), 0)
    y, _, _ = F.batch_normalization(x, float64_tensor((3,), 1), float64_tensor((3,), 2))
    with pytest.raises(NotImplementedError, match="batch_normalization: gradients of gradients"):
        (y * y).sum().backward(create_graph=True)


@given(case=bn_cases(), momentum=st.sampled_from([0.99, 0.9, 0.5]))
def test_op_and_moving_statistics_match_torch(case, momentum):
    torch = pytest.importorskip("torch")
    shape, axis, seed = case
    m = np.prod(shape) // shape[axis]
    assume(m >= 2)
    features = shape[axis]
    rng = np.random.default_rng(seed)
    x, gamma, beta = rng.normal(size=shape), rng.normal(size=features), rng.normal(size=features)
    mean0, var0 = rng.normal(size=features), rng.uniform(0.5, 2.0, size=features)
    gy = rng.normal(size=shape)
    # PyTorch wants the features on axis 1; its momentum is Keras' 1 - momentum
    to_torch = lambda a: torch.from_numpy(np.moveaxis(a, axis, 1).copy()).requires_grad_()
    tx, tg, tb = to_torch(x), torch.from_numpy(gamma).requires_grad_(), torch.from_numpy(beta).requires_grad_()
    running_mean, running_var = torch.from_numpy(mean0.copy()), torch.from_numpy(var0.copy())
    ty = torch.nn.functional.batch_norm(tx, running_mean, running_var, tg, tb, training=True,
                                        momentum=1 - momentum, eps=1e-3)
    (ty * to_torch(gy).detach()).sum().backward()

    minigan.clear_session()
    bn = layers.BatchNormalization(axis=axis, momentum=momentum, dtype="float64")
    bn(minigan.Input(shape=shape[1:], dtype="float64"))
    bn.set_weights([gamma, beta, mean0, var0])
    xt = minigan.tensor(x, dtype="float64", requires_grad=True)
    y = bn(xt, training=True)
    (y * minigan.tensor(gy, dtype="float64")).sum().backward()
    np.testing.assert_allclose(y.data, np.moveaxis(ty.detach().numpy(), 1, axis), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xt.grad.data, np.moveaxis(tx.grad.numpy(), 1, axis), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(bn.gamma.grad.data, tg.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.beta.grad.data, tb.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.moving_mean.data, running_mean.numpy(), rtol=1e-12, atol=1e-14)
    # PyTorch's running variance takes the batch variance times m / (m - 1); Keras 2's m / (m - 1 - eps)
    batch_var = (running_var.numpy() - (1 - (1 - momentum)) * var0) / (1 - momentum) * (m - 1) / m
    keras = momentum * var0 + (1 - momentum) * batch_var * m / (m - 1 - 1e-3)
    np.testing.assert_allclose(bn.moving_variance.data, keras, rtol=1e-10)


def test_inference_uses_the_moving_statistics_and_changes_nothing(fresh_names):
    bn = layers.BatchNormalization(dtype="float64")
    model = minigan.Sequential([layers.Input(shape=(3,), dtype="float64"), bn])
    gamma, beta, mean, var = np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, -1.0]), np.array([1.0, 0.0, 2.0]), \
        np.array([4.0, 1.0, 0.25])
    bn.set_weights([gamma, beta, mean, var])
    x = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(model.predict(x), gamma * (x - mean) / np.sqrt(var + 1e-3) + beta, rtol=1e-14)
    assert [w.tolist() for w in bn.get_weights()] == [w.tolist() for w in (gamma, beta, mean, var)]


def test_weights_counts_and_summary_as_keras(fresh_names):
    x = minigan.Input(shape=(8, 8, 16))
    y = layers.BatchNormalization()(layers.Conv2D(4, 3)(x))
    model = minigan.Model(x, layers.BatchNormalization(center=False, scale=False)(y))
    bn = model.get_layer("batch_normalization")
    assert [w.name.split("/")[1] for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name.split("/")[1] for w in bn.trainable_weights] == ["gamma", "beta"]
    assert bn.count_params() == 16 and model.get_layer("batch_normalization_1").count_params() == 8
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[-4:-1] == ["Total params: 604", "Trainable params: 588", "Non-trainable params: 16"]
    bn.trainable = False  # a frozen layer: all four are non-trainable, as Keras counts them
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[-3:-1] == ["Trainable params: 580", "Non-trainable params: 24"]


def small_bn_gan():
    """G: Dense -> BN -> ReLU -> Dense(tanh); D: Dense -> BN -> LeakyReLU -> Dense(sigmoid); the book's wiring."""
    minigan.clear_session()
    minigan.random.seed(0)
    z = minigan.Input(shape=(2,))
    g = layers.Dense(3, activation="tanh")(layers.ReLU()(layers.BatchNormalization(momentum=0.5)(layers.Dense(4)(z))))
    generator = minigan.Model(z, g, name="generator")
    x = minigan.Input(shape=(3,))
    d = layers.Dense(1, activation="sigmoid")(layers.LeakyReLU(0.2)(layers.BatchNormalization(momentum=0.5)(
        layers.Dense(4)(x))))
    discriminator = minigan.Model(x, d, name="discriminator")
    discriminator.compile(optimizer=minigan.optimizers.Adam(0.01), loss="binary_crossentropy")
    discriminator.trainable = False
    gan_in = minigan.Input(shape=(2,))
    gan = minigan.Model(gan_in, discriminator(generator(gan_in)), name="gan")
    gan.compile(optimizer=minigan.optimizers.Adam(0.01), loss="binary_crossentropy")
    return generator, discriminator, gan


def moving(model):
    return [w.numpy().copy() for layer in model.layers if isinstance(layer, layers.BatchNormalization)
            for w in (layer.moving_mean, layer.moving_variance)]


def test_frozen_discriminator_in_the_gan_uses_batch_statistics_and_keeps_its_moving_ones():
    generator, discriminator, gan = small_bn_gan()
    rng = np.random.default_rng(0)
    z, images = rng.normal(size=(6, 2)).astype("float32"), rng.uniform(-1, 1, size=(6, 3)).astype("float32")
    d_moving, g_moving = moving(discriminator), moving(generator)
    discriminator.train_on_batch(images, np.zeros((6, 1)))  # D is trained: its moving statistics move
    assert all((a != b).all() for a, b in zip(d_moving, moving(discriminator)))
    assert all((a == b).all() for a, b in zip(g_moving, moving(generator)))

    d_moving = moving(discriminator)
    # What the GAN's loss must be if D normalises G's batch with that batch's own statistics (Keras 2.1-2.2)
    with minigan.no_grad():
        fakes = generator(z, training=True)
        bn = discriminator.get_layer("batch_normalization_1")
        hidden = discriminator.layers[1](fakes)
        y, _, _ = F.batch_normalization(hidden, bn.gamma, bn.beta, epsilon=bn.epsilon)
        logits = discriminator.layers[4].call(discriminator.layers[3](y))._keras_logits
        expected = float(F.binary_crossentropy(minigan.tensor(np.zeros((6, 1))), logits, from_logits=True).data)
    g_moving = moving(generator)
    loss = gan.train_on_batch(z, np.zeros((6, 1)))
    assert loss == pytest.approx(expected, rel=1e-6)
    assert all((a == b).all() for a, b in zip(d_moving, moving(discriminator)))  # frozen: untouched
    assert all((a != b).all() for a, b in zip(g_moving, moving(generator)))      # G is trained: they move


def test_moving_statistics_are_saved_and_loaded(tmp_path, fresh_names):
    generator, discriminator, gan = small_bn_gan()
    discriminator.train_on_batch(np.ones((4, 3), "float32") * np.arange(4)[:, None], np.zeros((4, 1)))
    discriminator.save_weights(tmp_path / "d.npz")
    saved = moving(discriminator)
    _, fresh, _ = small_bn_gan()
    fresh.load_weights(tmp_path / "d.npz")
    assert all((a == b).all() for a, b in zip(saved, moving(fresh)))


def test_arguments_are_checked(fresh_names):
    with pytest.raises(ValueError, match=r"BatchNormalization 'bn': momentum must be .* in \[0, 1\), got 1.5"):
        layers.BatchNormalization(momentum=1.5, name="bn")
    with pytest.raises(ValueError, match=r"epsilon must be a finite number in \(0, 3.40282e\+38\] .*, got 0"):
        layers.BatchNormalization(epsilon=0)
    with pytest.raises(ValueError, match=r"axis 0 is not a feature axis of an input of shape \(None, 3\)"):
        layers.BatchNormalization(axis=0)(minigan.Input(shape=(3,)))
    bn = layers.BatchNormalization(name="bn3")
    bn(minigan.Input(shape=(3,)))
    with pytest.raises(ValueError, match=r"BatchNormalization 'bn3' normalises 3 features on axis 1, got an input"):
        bn(np.zeros((2, 4), "float32"))
