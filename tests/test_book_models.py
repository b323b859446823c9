"""Golden tests: the book's own model code (section 8.5), run with only its imports swapped to minigan,
prints the same summaries as Keras 2 did, and trains with the book's freezing semantics.

The listing and the printed summaries live in ../shared/reference beside the repository (never copied
in); the tests skip without them. Keras' summaries name the models "functional_1"/"functional_3" (TF
2.3); minigan names them "model"/"model_1", as Keras 2.4+ does -- every other character must match.
"""

import numpy as np
import pytest

import minigan

from conftest import REFERENCE

LISTING = REFERENCE / "dlwp_8_5_listing.py"
SUMMARIES = REFERENCE / "dlwp_8_5_summaries.txt"


def book_source():
    if not (LISTING.is_file() and SUMMARIES.is_file()):
        pytest.skip(f"the book's reference listing is not beside the repository ({REFERENCE})")
    code = LISTING.read_text().split("# Training the GAN")[0]  # the model definitions only
    swaps = {"from tensorflow import keras": "import minigan as keras",
             "from tensorflow.keras import layers": "from minigan import layers"}
    for old, new in swaps.items():
        assert old in code, f"the listing no longer contains {old!r}"
        code = code.replace(old, new)
    return code


def keras_summaries():
    """The summary blocks of the reference file, each a list of lines from 'Model: ...' to the last rule."""
    blocks = []
    for line in SUMMARIES.read_text().splitlines():
        if line.startswith("Model: "):
            blocks.append([])
        if blocks and line.strip():
            blocks[-1].append(line)
    return blocks


@pytest.fixture(scope="module")
def book():
    """Run the book's definitions once (fresh names, seeded); keep what they printed and built."""
    code = book_source()
    minigan.clear_session()
    minigan.random.seed(0)
    printed = []
    namespace = {"print": printed.append, "__name__": "dlwp_8_5"}
    import builtins
    real_print = builtins.print
    builtins.print = lambda *args, **kwargs: printed.append(" ".join(map(str, args)))  # summary() prints
    try:
        exec(compile(code, str(LISTING), "exec"), namespace)
    finally:
        builtins.print = real_print
        minigan.clear_session()
    namespace["printed"] = printed
    return namespace


def test_summaries_match_keras_character_for_character(book):
    ours = book["printed"]
    starts = [i for i, line in enumerate(ours) if line.startswith("Model: ")]
    assert len(starts) == 2, ours
    expected = keras_summaries()
    for start, end, keras_lines, name in zip(starts, starts[1:] + [len(ours)], expected, ["model", "model_1"]):
        block = ours[start:end]
        assert block[0] == f'Model: "{name}"'
        assert block[1:] == keras_lines[1:]


def test_parameter_counts_and_shapes(book):
    generator, discriminator, gan = book["generator"], book["discriminator"], book["gan"]
    assert generator.count_params() == 6264579 and discriminator.count_params() == 790913
    assert generator.output_shape == (None, 32, 32, 3) and discriminator.output_shape == (None, 1)
    assert [layer.name for layer in gan.layers] == ["input_3", "model", "model_1"]
    lines = []
    gan.summary(print_fn=lines.append)
    assert lines[-4:-1] == ["Total params: 7,055,492", "Trainable params: 6,264,579", "Non-trainable params: 790,913"]
    assert len(discriminator.optimizer.get_state()) == 1 + 10 and len(gan.optimizer.get_state()) == 1 + 12
    assert discriminator.optimizer.learning_rate == 0.0008 and discriminator.optimizer.clipvalue == 1.0


def test_one_tiny_training_step_of_the_book_loop(book):
    """The book's inner loop at batch size 2: D trains (G untouched), then the GAN trains G (D untouched)."""
    generator, discriminator, gan = book["generator"], book["discriminator"], book["gan"]
    rng = np.random.default_rng(0)
    minigan.random.seed(1)  # the dropout masks: with the fixture's seeded weights, the losses are pinned
    batch_size, latent_dim = 2, book["latent_dim"]
    generated = generator.predict(rng.normal(size=(batch_size, latent_dim)))
    assert generated.dtype == np.float32 and generated.shape == (2, 32, 32, 3) and np.abs(generated).max() <= 1
    real = rng.random((batch_size, 32, 32, 3)).astype("float32")
    combined = np.concatenate([generated, real])
    labels = np.concatenate([np.ones((batch_size, 1)), np.zeros((batch_size, 1))])
    labels += 0.05 * rng.random(labels.shape)

    g_before, d_before = generator.get_weights(), discriminator.get_weights()
    d_loss = discriminator.train_on_batch(combined, labels)
    assert all(np.array_equal(a, b) for a, b in zip(g_before, generator.get_weights()))
    assert all(not np.array_equal(a, b) for a, b in zip(d_before, discriminator.get_weights()))

    d_before = discriminator.get_weights()
    a_loss = gan.train_on_batch(rng.normal(size=(batch_size, latent_dim)), np.zeros((batch_size, 1)))
    assert all(np.array_equal(a, b) for a, b in zip(d_before, discriminator.get_weights()))
    assert all(not np.array_equal(a, b) for a, b in zip(g_before, generator.get_weights()))
    # At initialisation D outputs ~0.5 for everything, so both losses are near log 2; seeded, they are these
    # numbers (float32 sums in another order move them by ~1e-7; a changed loss or step, by far more).
    assert d_loss == pytest.approx(0.7091649, abs=2e-5) and a_loss == pytest.approx(0.6922430, abs=2e-5)
    assert 0.0 <= gan.optimizer.last_clipped_fraction <= 1.0
