"""Standing statistics: BatchNormalization.averaging() against a loop reference and PyTorch's cumulative
average (momentum=None), and StandingStatistics -- predict with recomputed statistics, nothing it wraps
changed (the model's statistics, a WeightAverage's weights, the training random stream)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan
from minigan import layers, training
from strategies import seeds


@st.composite
def batches(draw):
    """k batches (k, B, H, W, C) of float64 values, B >= 2."""
    shape = (draw(st.integers(1, 4)), draw(st.integers(2, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 3)),
             draw(st.integers(1, 3)))
    return np.random.default_rng(draw(seeds)).normal(1.0, 2.0, shape)


def keras_statistics(batch, eps):
    """One batch's mean and its Keras-2-corrected variance per channel (N, H, W, C), by loops."""
    values = batch.reshape(-1, batch.shape[-1])
    m = len(values)
    means = np.array([sum(values[:, c]) / m for c in range(values.shape[1])])
    variances = np.array([sum((values[:, c] - means[c]) ** 2) / m for c in range(values.shape[1])])
    return means, variances * m / (m - (1.0 + eps))


@given(data=batches(), momentum=st.sampled_from([0.0, 0.5, 0.9, 0.99]))
def test_averaging_is_the_plain_average_of_the_batches_statistics(data, momentum):
    minigan.clear_session()
    bn = layers.BatchNormalization(momentum=momentum, dtype="float64")
    bn(minigan.Input(shape=data.shape[2:], dtype="float64"))
    bn.set_weights([np.ones(data.shape[-1]), np.zeros(data.shape[-1]), np.full(data.shape[-1], 5.0),
                    np.full(data.shape[-1], 9.0)])  # statistics far from the batches': they must not weigh in
    with bn.averaging():
        for batch in data:
            bn(minigan.tensor(batch, dtype="float64"), training=True)
    reference = [keras_statistics(batch, bn.epsilon) for batch in data]
    np.testing.assert_allclose(bn.moving_mean.data, np.mean([r[0] for r in reference], axis=0), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(bn.moving_variance.data, np.mean([r[1] for r in reference], axis=0), rtol=1e-12)
    # After the block the momentum rule is back
    before = bn.moving_mean.data.copy()
    bn(minigan.tensor(data[0], dtype="float64"), training=True)
    np.testing.assert_allclose(bn.moving_mean.data, momentum * before + (1 - momentum) * reference[0][0],
                               rtol=1e-12, atol=1e-12)


def test_averaging_matches_pytorchs_cumulative_average(fresh_names):
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(3).normal(0.5, 1.5, (4, 6, 3, 3, 2))
    bn = layers.BatchNormalization(dtype="float64")
    bn(minigan.Input(shape=(3, 3, 2), dtype="float64"))
    reference = torch.nn.BatchNorm2d(2, eps=1e-3, momentum=None, dtype=torch.float64)  # None: cumulative average
    reference.train()
    with bn.averaging():
        for batch in data:
            bn(minigan.tensor(batch, dtype="float64"), training=True)
            reference(torch.from_numpy(np.moveaxis(batch, -1, 1).copy()))
    m = 6 * 3 * 3
    np.testing.assert_allclose(bn.moving_mean.data, reference.running_mean.numpy(), rtol=1e-12)
    # PyTorch corrects each batch's variance by m / (m - 1), Keras 2 by m / (m - 1 - eps)
    np.testing.assert_allclose(bn.moving_variance.data, reference.running_var.numpy() * (m - 1) / (m - 1 - 1e-3),
                               rtol=1e-12)


def test_averaging_updates_a_frozen_layer_too_and_needs_a_built_one(fresh_names):
    bn = layers.BatchNormalization(name="bn")
    with pytest.raises(ValueError, match="BatchNormalization 'bn' is not built yet"):
        with bn.averaging():
            pass
    bn(minigan.Input(shape=(2,)))
    bn.trainable = False
    x = minigan.backend.asarray(np.array([[1.0, 2.0], [3.0, 6.0]], dtype="float32"))
    bn(x, training=True)
    assert bn.moving_mean.numpy().tolist() == [0.0, 0.0]  # frozen: the momentum rule leaves it alone
    with bn.averaging():
        bn(x, training=True)
    assert bn.moving_mean.numpy().tolist() == [2.0, 4.0]


def small_generator(seed=0):
    """A two-layer generator with BatchNormalization and Dropout (Dropout draws from minigan.random)."""
    minigan.clear_session()
    with minigan.random.scoped_seed(seed):
        z = minigan.Input(shape=(3,))
        h = layers.Dropout(0.3)(layers.ReLU()(layers.BatchNormalization()(layers.Dense(4)(z))))
        return minigan.Model(z, layers.Dense(2)(h), name="g")


def statistics(model):
    return [w.numpy().copy() for w in model.weights if "moving" in w.name]


def test_predict_uses_the_recomputed_statistics_and_puts_the_old_ones_back():
    model = small_generator()
    inputs = np.random.default_rng(1).normal(size=(12, 3)).astype("float32")
    x = minigan.backend.asarray(np.random.default_rng(2).normal(size=(5, 3)).astype("float32"))
    old = statistics(model)
    got = minigan.to_numpy(training.StandingStatistics(model, inputs, batch_size=4).predict(x))
    for before, after in zip(old, statistics(model)):
        np.testing.assert_array_equal(before, after)
    # The reference: the same statistics by hand, then a plain predict
    bn = model.get_layer("batch_normalization")
    hidden = [minigan.to_numpy(model.get_layer("dense")(minigan.backend.asarray(inputs[i:i + 4])).data)
              for i in range(0, 12, 4)]
    mean = np.mean([h.mean(axis=0) for h in hidden], axis=0)
    variance = np.mean([h.var(axis=0) * 4 / (4 - 1 - bn.epsilon) for h in hidden], axis=0)
    bn.moving_mean.data[...], bn.moving_variance.data[...] = mean, variance
    np.testing.assert_allclose(got, minigan.to_numpy(model.predict(x)), rtol=1e-5, atol=1e-6)


def test_a_weight_average_is_sampled_with_its_own_weights_and_left_unchanged():
    model = small_generator()
    average = training.WeightAverage(model, decay=0.9)
    for w in model.trainable_weights:  # move the model away from its average
        w.data[...] += 0.5
    inputs = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    x = minigan.backend.asarray(np.ones((2, 3), "float32"))
    own, state = [w.numpy().copy() for w in model.weights], average.get_state()
    got = minigan.to_numpy(training.StandingStatistics(average, inputs, batch_size=4).predict(x))
    for before, w in zip(own, model.weights):
        np.testing.assert_array_equal(before, w.numpy())
    for name, value in average.get_state().items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(state[name]))
    with average.applied():  # the reference: the averaged network's standing statistics
        expected = minigan.to_numpy(training.StandingStatistics(model, inputs, batch_size=4).predict(x))
    np.testing.assert_array_equal(got, expected)
    assert not np.allclose(got, minigan.to_numpy(training.StandingStatistics(model, inputs, 4).predict(x)))


@settings(max_examples=5, deadline=None)
@given(seed=seeds)
def test_the_training_random_stream_is_not_touched(seed):
    model = small_generator()
    standing = training.StandingStatistics(model, np.ones((8, 3), "float32"), batch_size=4)
    minigan.random.seed(seed)
    standing.predict(minigan.backend.asarray(np.ones((1, 3), "float32")))
    after = minigan.to_numpy(minigan.random.normal((3,)))
    minigan.random.seed(seed)
    np.testing.assert_array_equal(after, minigan.to_numpy(minigan.random.normal((3,))))


def test_errors_name_the_model_and_the_expected_value():
    model = small_generator()
    with pytest.raises(ValueError, match=r"StandingStatistics of 'g': 10 inputs do not make whole batches of "
                                         r"batch_size 4"):
        training.StandingStatistics(model, np.ones((10, 3), "float32"), batch_size=4)
    minigan.clear_session()
    plain = minigan.Sequential([layers.Input(shape=(3,)), layers.Dense(2)], name="plain")
    with pytest.raises(ValueError, match="StandingStatistics of 'plain': the model has no BatchNormalization"):
        training.StandingStatistics(plain, np.ones((4, 3), "float32"), batch_size=4)


def test_of_generator_measures_on_batches_of_latents_from_its_own_stream():
    model = small_generator()
    x = minigan.backend.asarray(np.random.default_rng(2).normal(size=(5, 3)).astype("float32"))
    minigan.random.seed(4)
    standing = training.StandingStatistics.of_generator(model, latent_dim=3, batch_size=4, batches=3, seed=9)
    assert standing.batches == 3 and standing.batch_size == 4
    after = minigan.to_numpy(minigan.random.normal((3,)))  # drawing its latents left the training stream alone
    minigan.random.seed(4)
    np.testing.assert_array_equal(after, minigan.to_numpy(minigan.random.normal((3,))))
    # the reference: the latents drawn by hand from the same stream
    latents = minigan.random.Stream(9).normal((12, 3))
    expected = training.StandingStatistics(model, latents, batch_size=4).predict(x)
    np.testing.assert_array_equal(minigan.to_numpy(standing.predict(x)), minigan.to_numpy(expected))
    default = training.StandingStatistics.of_generator(model, latent_dim=3, batch_size=4)
    assert default.batches == training.StandingStatistics.GENERATOR_BATCHES == 64


def test_gan_sampler_recomputes_only_where_there_is_batch_normalisation():
    model = small_generator()
    average = training.WeightAverage(model, decay=0.9)
    for sampler in (model, average):  # by default: a network with BN gets standing statistics
        drawn = training.gan_sampler(sampler, latent_dim=3, batch_size=4, seed=5)
        assert isinstance(drawn, training.StandingStatistics) and drawn.sampler is sampler and drawn.batches == 64
    assert training.gan_sampler(model, 3, 4, standing=False) is model
    minigan.clear_session()
    plain = minigan.Sequential([layers.Input(shape=(3,)), layers.Dense(2)], name="plain")
    assert training.gan_sampler(plain, 3, 4) is plain  # nothing to recompute: the model as it is
    with pytest.raises(ValueError, match="StandingStatistics of 'plain': the model has no BatchNormalization"):
        training.gan_sampler(plain, 3, 4, standing=True)
