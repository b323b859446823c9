"""Models: the functional graph, nesting and sharing, Keras 2 freezing, train/predict/evaluate, errors."""

import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import layers, losses


pytestmark = pytest.mark.usefixtures("fresh_names")  # Keras names from dense, dense_1...; seed 0


def small_gan(latent=3, dropout=0.4):
    """A miniature of the book's GAN: G (Dense -> LeakyReLU -> Reshape -> Conv2DTranspose tanh) and
    D (Conv2D -> LeakyReLU -> Flatten -> Dropout -> Dense sigmoid), D compiled, then frozen, then the GAN."""
    z = minigan.Input(shape=(latent,))
    x = layers.Reshape((2, 2, 4))(layers.LeakyReLU()(layers.Dense(16)(z)))
    generator = minigan.Model(z, layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="tanh")(x))
    image = minigan.Input(shape=(4, 4, 3))
    y = layers.Flatten()(layers.LeakyReLU()(layers.Conv2D(4, 3, strides=2)(image)))
    discriminator = minigan.Model(image, layers.Dense(1, activation="sigmoid")(layers.Dropout(dropout)(y)))
    discriminator.compile(optimizer=minigan.optimizers.RMSprop(lr=0.01, clipvalue=1.0, decay=1e-8),
                          loss="binary_crossentropy")
    discriminator.trainable = False
    gan_input = minigan.Input(shape=(latent,))
    gan = minigan.models.Model(gan_input, discriminator(generator(gan_input)))
    gan.compile(optimizer=minigan.optimizers.RMSprop(lr=0.01, clipvalue=1.0, decay=1e-8), loss="binary_crossentropy")
    return generator, discriminator, gan


def snapshot(model):
    return [w.copy() for w in model.get_weights()]


def unchanged(before, model):
    return all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def changed_everywhere(before, model):
    return all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


# -- the graph ------------------------------------------------------------------------------------
def test_model_is_a_layer_and_shares_weights():
    generator, discriminator, gan = small_gan()
    assert [layer.name for layer in gan.layers] == ["input_3", "model", "model_1"]
    assert gan.output_shape == (None, 1) and generator.output_shape == (None, 4, 4, 3)
    z = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    direct = discriminator.predict(generator.predict(z))
    np.testing.assert_allclose(gan.predict(z), direct, rtol=1e-6)  # same weights, not copies
    assert {id(w) for w in gan.weights} == {id(w) for w in generator.weights + discriminator.weights}


def test_model_accepts_arrays_and_tensors():
    x = minigan.Input(shape=(3,))
    model = minigan.Model(x, layers.Dense(2)(x))
    data = np.ones((4, 3))
    out = model(data)  # float64 in: cast to float32, the model's dtype
    assert isinstance(out, minigan.Tensor) and out.dtype == np.float32 and out.shape == (4, 2)
    np.testing.assert_array_equal(model(minigan.tensor(data)).numpy(), out.numpy())
    np.testing.assert_array_equal(model(minigan.backend.asarray(data)).numpy(), out.numpy())


def test_same_layer_twice_in_one_model():
    x = minigan.Input(shape=(4,))
    square = layers.Dense(4, use_bias=False)
    model = minigan.Model(x, square(square(x)))
    assert model.count_params() == 16 and len(model.layers) == 2
    kernel = square.get_weights()[0]
    data = np.eye(4, dtype=np.float32)
    np.testing.assert_allclose(model.predict(data), kernel @ kernel, rtol=1e-5)


def test_disconnected_and_duplicate_names_are_errors():
    a, b = minigan.Input(shape=(2,)), minigan.Input(shape=(2,))
    with pytest.raises(ValueError, match="do not depend on the given input 'input_1'.*'input_2'"):
        minigan.Model(a, layers.Dense(1)(b))
    x = minigan.Input(shape=(2,))
    y = layers.Dense(2, name="same")(layers.Dense(2, name="same")(x))
    with pytest.raises(ValueError, match="two layers named 'same'"):
        minigan.Model(x, y)
    with pytest.raises(ValueError, match="exactly one input"):
        minigan.Model([a, b], layers.Dense(1)(a))


def test_model_names_and_sequential():
    x = minigan.Input(shape=(2,))
    assert [minigan.Model(x, x).name, minigan.Model(x, x, name="critic").name, minigan.Model(x, x).name] == \
        ["model", "critic", "model_1"]
    seq = minigan.Sequential([layers.Dense(8, input_shape=(4,), activation="relu"), layers.Dense(1)])
    assert seq.name == "sequential" and seq.output_shape == (None, 1) and seq.count_params() == 49
    lazy = minigan.Sequential([layers.Dense(3)])
    assert lazy.predict(np.ones((2, 5))).shape == (2, 3) and lazy.input_shape == (None, 5)
    lines = []
    seq.summary(print_fn=lines.append)
    assert lines[0] == 'Model: "sequential"' and lines[4].startswith("dense (Dense)")  # no input row


# -- freezing: Keras 2's compile-time snapshot ----------------------------------------------------
def test_book_freezing_semantics():
    generator, discriminator, gan = small_gan()
    rng = np.random.default_rng(1)
    images = rng.uniform(-1, 1, size=(6, 4, 4, 3))
    labels = np.concatenate([np.ones((3, 1)), np.zeros((3, 1))]) + 0.05 * rng.random((6, 1))
    assert discriminator.trainable is False and discriminator.trainable_weights == []

    g_before, d_before = snapshot(generator), snapshot(discriminator)
    discriminator.train_on_batch(images, labels)  # still trains D: D was compiled while trainable
    assert unchanged(g_before, generator) and changed_everywhere(d_before, discriminator)

    g_before, d_before = snapshot(generator), snapshot(discriminator)
    gan.train_on_batch(rng.normal(size=(6, 3)), np.zeros((6, 1)))  # trains G only
    assert unchanged(d_before, discriminator) and changed_everywhere(g_before, generator)
    # ... and the flags are as they were: a frozen D's weights do not even record gradients.
    assert not any(w.requires_grad for w in discriminator.all_weights())
    assert all(w.grad is None for w in gan.all_weights())


def test_frozen_weights_get_no_gradient_but_pass_one_on(monkeypatch):
    generator, discriminator, gan = small_gan()
    seen = {}
    real_update = gan.optimizer.apply_gradients

    def spy(pairs):
        pairs = list(pairs)
        seen["names"] = [w.name for _, w in pairs]
        seen["d_grads"] = [w.grad for w in discriminator.all_weights()]
        return real_update(pairs)

    monkeypatch.setattr(gan.optimizer, "apply_gradients", spy)
    gan.train_on_batch(np.ones((2, 3)), np.zeros((2, 1)))
    assert seen["names"] == [w.name for w in generator.all_weights()]
    assert seen["d_grads"] == [None] * len(discriminator.all_weights())


def test_trainable_flags_and_counts():
    generator, discriminator, gan = small_gan()
    g, d = generator.count_params(), discriminator.count_params()
    assert gan.count_params() == g + d
    lines = []
    gan.summary(print_fn=lines.append)
    assert lines[-4:-1] == [f"Total params: {g + d:,}", f"Trainable params: {g:,}", f"Non-trainable params: {d:,}"]
    assert all(not layer.trainable for layer in discriminator.layers)
    gan.trainable = True  # setting it on a model sets it on every layer inside, nested models included
    assert discriminator.trainable and all(layer.trainable for layer in discriminator.layers)
    assert len(gan.trainable_weights) == len(gan.weights)


def test_dropout_is_active_in_the_frozen_discriminator_during_the_gan_step(monkeypatch):
    _, _, gan = small_gan()
    flags = []
    real = F.dropout
    monkeypatch.setattr(F, "dropout", lambda x, rate, training=False: flags.append(training) or real(x, rate, training))
    gan.train_on_batch(np.ones((2, 3)), np.zeros((2, 1)))
    gan.predict(np.ones((2, 3)))
    gan.evaluate(np.ones((2, 3)), np.zeros((2, 1)))
    assert flags == [True, False, False]


# -- training API ---------------------------------------------------------------------------------
def test_train_on_batch_learns_and_returns_a_float():
    x = minigan.Input(shape=(2,))
    model = minigan.Model(x, layers.Dense(1, activation="sigmoid")(layers.Dense(8, activation="tanh")(x)))
    model.compile(optimizer=minigan.optimizers.Adam(0.05), loss="binary_crossentropy")
    data = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    target = np.array([[0], [1], [1], [0]], dtype=np.float64)  # XOR
    losses_seen = [model.train_on_batch(data, target) for _ in range(300)]
    assert all(type(v) is float for v in losses_seen)
    assert losses_seen[-1] < 0.1 < losses_seen[0]
    assert model.evaluate(data, target, batch_size=3) == pytest.approx(losses_seen[-1], abs=0.02)
    assert ((model.predict(data) > 0.5) == target).all()
    assert all(w.dtype == np.float32 for w in model.get_weights())


def test_sigmoid_output_loss_uses_logits_as_tf_keras():
    x = minigan.Input(shape=(1,))
    out = layers.Dense(1, activation="sigmoid")
    model = minigan.Model(x, out(x))
    model.compile("sgd", "binary_crossentropy")
    out.set_weights([np.array([[30.0]]), np.array([0.0])])  # z = 30: sigmoid(z) rounds to 1 in float32
    data, wrong = np.ones((1, 1)), np.zeros((1, 1))
    assert model.evaluate(data, wrong) == pytest.approx(30.0, rel=1e-5)  # softplus(30): from the logits
    clipped = losses.binary_crossentropy(minigan.tensor(wrong), model(data))  # a direct call clips, as eager Keras
    assert 15 < clipped.item() < -np.log(1e-7)  # -log(1 - p + eps), p clipped to 1 - eps: ~15.3, not 30
    before = out.get_weights()[0]
    model.train_on_batch(data, wrong)  # the logits loss still has a gradient (sigmoid(z) - y = 1)
    assert out.get_weights()[0][0, 0] == pytest.approx(before[0, 0] - 0.01, rel=1e-6)


def test_targets_of_shape_n_are_expanded_and_mismatches_named():
    x = minigan.Input(shape=(2,))
    model = minigan.Model(x, layers.Dense(1, activation="sigmoid")(x), name="critic")
    model.compile("rmsprop", "binary_crossentropy")
    assert isinstance(model.train_on_batch(np.ones((3, 2)), np.ones(3)), float)
    with pytest.raises(ValueError, match=r"critic'.train_on_batch: the model outputs shape \(3, 1\) but the targets "
                                         r"have shape \(3, 2\)"):
        model.train_on_batch(np.ones((3, 2)), np.ones((3, 2)))


# -- errors ---------------------------------------------------------------------------------------
def test_wrong_input_shape_names_model_and_shapes():
    _, discriminator, gan = small_gan()
    with pytest.raises(ValueError, match=r"Model 'model_1' expects input of shape \(None, 4, 4, 3\), got an array "
                                         r"of shape \(20, 4, 4, 4\)"):
        discriminator.predict(np.zeros((20, 4, 4, 4)))
    with pytest.raises(ValueError, match=r"Model 'model_2' expects input of shape \(None, 3\)"):
        gan.train_on_batch(np.zeros((2, 5)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"Model 'model_1' expects input of shape \(None, 4, 4, 3\), got an input"):
        discriminator(minigan.Input(shape=(4, 4, 1)))


def test_train_before_compile_and_unknown_names():
    x = minigan.Input(shape=(2,))
    model = minigan.Model(x, layers.Dense(1)(x), name="critic")
    with pytest.raises(RuntimeError, match=r"Model 'critic' must be compiled before training: call critic.compile"):
        model.train_on_batch(np.ones((1, 2)), np.ones((1, 1)))
    with pytest.raises(ValueError, match=r"unknown optimizer 'adagrad'; expected one of \['adam', 'rmsprop', 'sgd'\]"):
        model.compile("adagrad", "binary_crossentropy")
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'; expected one of .*'binary_crossentropy'"):
        model.compile("adam", "hinge")
    model.compile("ADAM", "mse")
    assert isinstance(model.optimizer, minigan.optimizers.Adam) and model.loss is losses.mean_squared_error


def test_checkpoint_resume_is_exact():
    """What a trainer saves -- weights by name, both optimizers' states, the random state -- is enough to
    continue bit for bit in a fresh build (same names after clear_session)."""
    rng = np.random.default_rng(5)
    batches = [(rng.uniform(-1, 1, (4, 4, 4, 3)), rng.random((4, 1)), rng.normal(size=(4, 3))) for _ in range(4)]

    def step(models, batch):
        _, discriminator, gan = models
        discriminator.train_on_batch(batch[0], batch[1])
        gan.train_on_batch(batch[2], np.zeros((4, 1)))

    minigan.clear_session()
    first = small_gan()
    for batch in batches[:2]:
        step(first, batch)
    saved = {"weights": {w.name: w.numpy().copy() for m in first[:2] for w in m.all_weights()},
             "d": first[1].optimizer.get_state(), "gan": first[2].optimizer.get_state(),
             "random": minigan.random.get_state()}

    minigan.clear_session()
    second = small_gan()
    for m in second[:2]:
        m.set_weights([saved["weights"][w.name] for w in m.weights])
    second[1].optimizer.set_state(saved["d"])
    second[2].optimizer.set_state(saved["gan"])

    for models in (first, second):
        minigan.random.set_state(saved["random"])  # the same dropout masks from here on
        for batch in batches[2:]:
            step(models, batch)
    for a, b in zip(first[0].get_weights() + first[1].get_weights(), second[0].get_weights() + second[1].get_weights()):
        np.testing.assert_array_equal(a, b)
