"""DiffAugment (minigan/functional/augment.py) and the random Stream it draws from (minigan/random.py):
float64 gradient checks of each policy and of all three, loop references written from the definitions
(and from the index arithmetic of the authors' DiffAugment_pytorch.py), the translation's adjoint, the
statistics of the draws, reproducibility through a saved stream, and the errors."""

import io
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan import gradcheck
from minigan.functional import augment
from minigan.random import Stream
from strategies import float64_array, float64_tensor, image_shapes, seeds

policies = st.sampled_from(["color", "translation", "cutout", "color,translation,cutout", "cutout,color,translation"])


# -- references, one pixel at a time -------------------------------------------------------------
def translate_by_loops(x, shift_h, shift_w):
    """y[n, i, j] = x[n, i + th, j + tw] where that pixel exists, else 0."""
    n, h, w, _ = x.shape
    y = np.zeros_like(x)
    for k in range(n):
        for i in range(h):
            for j in range(w):
                a, b = i + shift_h[k], j + shift_w[k]
                if 0 <= a < h and 0 <= b < w:
                    y[k, i, j] = x[k, a, b]
    return y


def cutout_by_loops(x, centre_h, centre_w, size):
    """y = x, but 0 on rows ch - KH // 2 ... ch - KH // 2 + KH - 1 and the same for columns."""
    n, h, w, _ = x.shape
    kh, kw = size
    y = x.copy()
    for k in range(n):
        for i in range(h):
            for j in range(w):
                if 0 <= i - (centre_h[k] - kh // 2) < kh and 0 <= j - (centre_w[k] - kw // 2) < kw:
                    y[k, i, j] = 0
    return y


def color_by_definition(x, rb, rs, rc):
    """brightness, saturation, contrast, in NumPy with (N, 1, 1, 1) factors."""
    rb, rs, rc = (r.reshape(-1, 1, 1, 1) for r in (rb, rs, rc))
    x = x + (rb - 0.5)
    m = x.mean(axis=3, keepdims=True)
    x = (x - m) * (2 * rs) + m
    m = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - m) * (rc + 0.5) + m


def paper_translation(x, tx, ty):
    """The paper code's indexing, in NumPy: pad one zero pixel around, read clamp(i + tx + 1, 0, H + 1)."""
    n, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    rows = np.clip(np.arange(h)[None, :] + tx[:, None] + 1, 0, h + 1)
    cols = np.clip(np.arange(w)[None, :] + ty[:, None] + 1, 0, w + 1)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def paper_cutout_mask(h, w, cx, cy, size):
    """The paper code's mask for one image: ones, then 0 at clamp(offset - size // 2 + a, 0, side - 1)."""
    mask = np.ones((h, w))
    rows = np.clip(np.arange(size[0]) + cx - size[0] // 2, 0, h - 1)
    cols = np.clip(np.arange(size[1]) + cy - size[1] // 2, 0, w - 1)
    mask[rows[:, None], cols[None, :]] = 0
    return mask


# -- the Stream ----------------------------------------------------------------------------------
def test_stream_is_numpy_default_rng_same_seed_same_numbers_other_seed_other_numbers():
    a, b, c = Stream(3), Stream(3), Stream(4)
    draws = [(s.uniform((5,)), s.integers(-4, 5, (5,)), s.normal((2, 3), dtype=np.float64)) for s in (a, b, c)]
    for x, y in zip(draws[0], draws[1]):
        np.testing.assert_array_equal(x, y)
    assert all(not np.array_equal(x, y) for x, y in zip(draws[0], draws[2]))
    np.testing.assert_array_equal(Stream(5).uniform((4,), dtype=np.float64), np.random.default_rng(5).random(4))
    u = Stream(6).uniform((1000,), low=-2.0, high=3.0)
    assert u.dtype == np.float32 and -2.0 <= u.min() and u.max() < 3.0 and Stream(6).integers(0, 2, 3).dtype == np.int64


def test_state_restores_mid_way_bit_identically_through_json_and_an_npz_without_pickle():
    stream = Stream(11)
    stream.uniform((3,))  # an odd number of float32 draws leaves half a 64-bit word buffered: it is in the state
    state = stream.get_state()
    assert json.loads(state)["seed"] == 11 and json.loads(state)["kind"] == "minigan.random.Stream"
    expected = [stream.uniform((5,)), stream.integers(0, 100, (4,)), stream.normal((3,))]
    buffer = io.BytesIO()
    np.savez(buffer, stream=np.array(state, dtype=np.str_))  # as minigan.training stores strings
    buffer.seek(0)
    restored = Stream(99)
    restored.set_state(np.load(buffer, allow_pickle=False)["stream"])  # the 0-d unicode array itself
    assert restored.seed == 11
    for want, got in zip(expected, [restored.uniform((5,)), restored.integers(0, 100, (4,)), restored.normal((3,))]):
        np.testing.assert_array_equal(got, want)


def test_streams_and_the_global_generator_do_not_touch_each_other():
    minigan.random.seed(0)
    alone = minigan.to_numpy(minigan.random.normal((4,)))
    stream_alone = Stream(1).uniform((6,))
    minigan.random.seed(0)
    stream = Stream(1)
    before = minigan.random.get_state()
    first = stream.uniform((3,))
    assert minigan.random.get_state() == before  # a Stream's draws leave the global generator alone
    mixed = minigan.to_numpy(minigan.random.normal((4,)))
    np.testing.assert_array_equal(mixed, alone)
    np.testing.assert_array_equal(np.concatenate([first, stream.uniform((3,))]), stream_alone)  # and vice versa
    minigan.random.seed(0)


def test_seed_must_be_a_non_negative_int():
    assert Stream(np.int64(3)).seed == 3 and type(Stream(np.int64(3)).seed) is int
    with pytest.raises(TypeError, match=r"Stream: seed must be a non-negative int, got True \(a bool\)"):
        Stream(True)
    with pytest.raises(TypeError, match=r"Stream: seed must be a non-negative int, got 1.5 \(a float\)"):
        Stream(1.5)
    with pytest.raises(ValueError, match="Stream: seed must be a non-negative int, got -1"):
        Stream(-1)
    with pytest.raises(ValueError, match=r"Stream.integers: the range \[low, high\) is empty: low=3, high=3"):
        Stream(0).integers(3, 3, (2,))


def _edited(state, **changes):
    data = json.loads(state)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for key in parents:
            node = node[key]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
    return json.dumps(data)


@pytest.mark.parametrize("make_bad, message", [
    (lambda s: "{not json", "not a Stream state: invalid JSON"),
    (lambda s: "[1, 2]", "not a Stream state: expected a JSON object with kind 'minigan.random.Stream'"),
    (lambda s: minigan.random.get_state(), "got kind None"),  # the module-level state is not a Stream's
    (lambda s: _edited(s, kind="minigan.random"), "got kind 'minigan.random'"),
    (lambda s: _edited(s, seed=-2), "corrupt Stream state: seed must be a non-negative int, got -2"),
    (lambda s: _edited(s, seed=KeyError), r"corrupt Stream state: seed must be a non-negative int, got None"),
    (lambda s: _edited(s, bit_generator__bit_generator="MT19937"), "bit_generator must be NumPy's PCG64 state"),
    (lambda s: _edited(s, bit_generator__uinteger=KeyError), "bit_generator must be NumPy's PCG64 state"),
    (lambda s: _edited(s, bit_generator__state__inc=KeyError), "must have the keys 'state' and 'inc'"),
    (lambda s: _edited(s, bit_generator__state__state=1.5), r"state.state must be an int in \[0, 2\*\*128\)"),
    (lambda s: _edited(s, bit_generator__state__state=2**128), r"state.state must be an int in \[0, 2\*\*128\)"),
    (lambda s: _edited(s, bit_generator__state__inc=4), "inc must be odd"),
    (lambda s: _edited(s, bit_generator__has_uint32=2), r"has_uint32 must be an int in \[0, 2\*\*1\)"),
])
def test_foreign_or_corrupt_states_raise_before_anything_changes(make_bad, message):
    stream, twin = Stream(8), Stream(8)
    stream.uniform((2,)), twin.uniform((2,))
    with pytest.raises(ValueError, match=message):
        stream.set_state(make_bad(stream.get_state()))
    assert stream.seed == 8
    np.testing.assert_array_equal(stream.uniform((4,)), twin.uniform((4,)))
    with pytest.raises(TypeError, match="expects the JSON string written by Stream.get_state, got dict"):
        stream.set_state(json.loads(stream.get_state()))


# -- gradients -----------------------------------------------------------------------------------
@given(shape=image_shapes(batch=(1, 3), size=(2, 9), channels=(1, 4)), policy=policies, seed=seeds,
       stream_seed=st.integers(0, 2**16))
def test_gradients_of_each_policy_and_of_all_three(shape, policy, seed, stream_seed):
    x = float64_tensor(shape, seed, name="x")
    # a fresh Stream inside the function: every evaluation of gradcheck sees the same augmentation
    gradcheck(lambda t: F.diff_augment(t, policy, stream=Stream(stream_seed)), x)


def test_translation_backward_is_a_translation_so_gradients_of_gradients_work():
    x = float64_tensor((2, 5, 6, 2), 1)
    th, tw = np.array([2, -1]), np.array([0, 3])
    (augment.translate(x, th, tw) ** 2).sum().backward(create_graph=True)
    gx = x.grad  # 2 T*(T x): x where its pixel survives the round trip, else 0
    inside = translate_by_loops(translate_by_loops(np.ones(x.shape), th, tw), -th, -tw)
    np.testing.assert_allclose(gx.data, 2 * inside * x.data, rtol=1e-15)
    x.cleargrad()
    gx.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 2 * inside)


# -- values --------------------------------------------------------------------------------------
@given(shape=image_shapes(batch=(1, 3), size=(1, 9), channels=(1, 3)), seed=seeds)
def test_translate_and_cutout_match_the_loops_and_the_paper_indexing(shape, seed):
    n, h, w, _ = shape
    x = float64_array(shape, seed)
    rng = np.random.default_rng(seed)
    th, tw = rng.integers(-h - 2, h + 3, n), rng.integers(-w - 2, w + 3, n)  # also shifts past the border
    y = augment.translate(minigan.tensor(x, dtype="float64"), th, tw).data
    np.testing.assert_array_equal(y, translate_by_loops(x, th, tw))
    np.testing.assert_array_equal(y, paper_translation(x, th, tw))
    size = augment.cutout_size(h, w)
    ch, cw = rng.integers(0, h + 1 - size[0] % 2, n), rng.integers(0, w + 1 - size[1] % 2, n)
    y = augment.cutout(minigan.tensor(x, dtype="float64"), ch, cw, size).data
    np.testing.assert_array_equal(y, cutout_by_loops(x, ch, cw, size))


@pytest.mark.parametrize("h, w", [(1, 1), (2, 3), (5, 4), (8, 8), (9, 7), (32, 32)])
def test_the_clipped_square_is_the_paper_clamped_one_for_every_centre(h, w):
    size = augment.cutout_size(h, w)
    for ch in range(h + 1 - size[0] % 2):
        for cw in range(w + 1 - size[1] % 2):
            mask = augment.cutout_mask((1, h, w, 1), [ch], [cw], size, dtype=np.float64)[0, :, :, 0]
            np.testing.assert_array_equal(mask, paper_cutout_mask(h, w, ch, cw, size))


@given(shape=image_shapes(batch=(1, 3), size=(2, 9), channels=(1, 4)), seed=seeds)
def test_translation_adjoint(shape, seed):
    # <T x, y> = <x, T* y> with T* the opposite shift; and T*'s action is what backward computes
    n, h, w, _ = shape
    rng = np.random.default_rng(seed)
    th, tw = rng.integers(-h, h + 1, n), rng.integers(-w, w + 1, n)
    x, y = float64_tensor(shape, seed), float64_tensor(shape, seed + 1, requires_grad=False)
    left = float((augment.translate(x, th, tw).data * y.data).sum())
    adjoint = augment.translate(y, -th, -tw).data
    assert left == pytest.approx(float((x.data * adjoint).sum()), rel=1e-12, abs=1e-12)
    augment.translate(x, th, tw).backward(y)
    np.testing.assert_array_equal(x.grad.data, adjoint)


def test_diff_augment_is_its_three_steps_with_draws_in_the_documented_order():
    shape = (5, 12, 10, 3)
    x = float64_array(shape, 3)
    y = F.diff_augment(minigan.tensor(x, dtype="float64"), "color,translation,cutout", stream=Stream(21)).data
    twin = Stream(21)  # draws by hand: r for brightness, saturation, contrast; th, tw; ch, cw
    rb, rs, rc = (twin.uniform((5,), dtype=np.float64) for _ in range(3))
    th, tw = twin.integers(-2, 3, (5,)), twin.integers(-1, 2, (5,))  # int(12 / 8 + 0.5) = 2, int(10 / 8 + 0.5) = 1
    ch, cw = twin.integers(0, 13, (5,)), twin.integers(0, 10, (5,))  # cutout 6 x 5: 12 + 1 and 10 + 0 centres
    expected = cutout_by_loops(translate_by_loops(color_by_definition(x, rb, rs, rc), th, tw), ch, cw, (6, 5))
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


# -- statistics of the draws ---------------------------------------------------------------------
def test_shifts_cover_minus_4_to_4_uniformly_on_32x32():
    x = np.zeros((1800, 32, 32, 1), np.float32)
    x[:, 16, 16, 0] = 1.0  # one lit pixel: after the shift it sits at (16 - th, 16 - tw)
    y = F.diff_augment(minigan.tensor(x), "translation", stream=Stream(0)).data[..., 0]
    rows, cols = np.unravel_index(y.reshape(len(y), -1).argmax(axis=1), (32, 32))
    for shifts in (16 - rows, 16 - cols):
        values, counts = np.unique(shifts, return_counts=True)
        assert values.tolist() == list(range(-4, 5))
        assert np.all(np.abs(counts - 200) < 5 * np.sqrt(200))  # 9 values, 200 each expected


def test_cutout_zeroes_exactly_16x16_when_inside_and_the_clipped_area_otherwise():
    x = np.ones((1000, 32, 32, 2), np.float32)
    y = F.diff_augment(minigan.tensor(x), "cutout", stream=Stream(5)).data
    twin = Stream(5)
    ch, cw = twin.integers(0, 33, (1000,)), twin.integers(0, 33, (1000,))
    assert set(ch.tolist()) == set(range(33)) == set(cw.tolist())
    zeros = (y == 0).all(axis=-1).sum(axis=(1, 2))
    assert ((y == 0) == (y[..., :1] == 0)).all()  # the same pixels in every channel
    top, left = ch - 8, cw - 8
    inside = (top >= 0) & (top + 16 <= 32) & (left >= 0) & (left + 16 <= 32)
    assert inside.sum() > 200 and (zeros[inside] == 256).all()  # 17 of 33 centres per axis: 265 expected
    clipped = (np.minimum(top + 16, 32) - np.maximum(top, 0)) * (np.minimum(left + 16, 32) - np.maximum(left, 0))
    np.testing.assert_array_equal(zeros, clipped)
    assert zeros.min() == 8 * 8  # a centre in a corner leaves a quarter


def test_brightness_moves_a_grey_image_by_a_uniform_amount_in_minus_half_to_half():
    # on a constant image saturation and contrast change nothing: what is left is r - 1/2
    y = F.diff_augment(minigan.tensor(np.zeros((4000, 2, 2, 3))), "color", stream=Stream(2)).data
    assert np.ptp(y.reshape(4000, -1), axis=1).max() < 1e-6
    shift = y[:, 0, 0, 0]
    assert -0.5 <= shift.min() < -0.49 and 0.49 < shift.max() < 0.5 and abs(shift.mean()) < 0.02


# -- reproducibility -----------------------------------------------------------------------------
def test_same_seed_same_augmentation_and_a_restored_stream_continues_the_sequence():
    x = minigan.tensor(float64_array((6, 16, 16, 3), 4))
    a, b = Stream(9), Stream(9)
    first = F.diff_augment(x, stream=a).data
    np.testing.assert_array_equal(first, F.diff_augment(x, stream=b).data)
    state = a.get_state()
    second = F.diff_augment(x, stream=a).data
    assert not np.array_equal(first, second)  # the stream moved on
    restored = Stream(0)
    restored.set_state(state)
    np.testing.assert_array_equal(F.diff_augment(x, stream=restored).data, second)


def test_float32_and_float64_inputs_see_the_same_draws():
    x = float64_array((3, 8, 8, 3), 6)
    y64 = F.diff_augment(minigan.tensor(x, dtype="float64"), stream=Stream(1)).data
    y32 = F.diff_augment(minigan.tensor(x), stream=Stream(1)).data
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, atol=1e-5)


def test_an_empty_policy_is_the_identity_and_draws_nothing():
    x, stream = minigan.tensor(np.ones((2, 4, 4, 3))), Stream(3)
    state = stream.get_state()
    for policy in ("", "  ", None):
        assert F.diff_augment(x, policy, stream=stream) is x and F.diff_augment(x, policy) is x
    assert stream.get_state() == state


def test_cupy_gives_the_numbers_of_numpy():
    try:
        with minigan.backend.using_backend("cupy"):
            pass
    except minigan.backend.BackendError as error:
        pytest.skip(f"CuPy backend not usable here: {str(error).splitlines()[0]}")
    x = float64_array((4, 32, 32, 3), 7)
    results = {}
    for name in ("numpy", "cupy"):
        with minigan.backend.using_backend(name):
            t = minigan.tensor(x, requires_grad=True)
            y = F.diff_augment(t, stream=Stream(4))
            (y * y).sum().backward()
            results[name] = minigan.to_numpy(y), minigan.to_numpy(t.grad)
    for a, b in zip(results["numpy"], results["cupy"]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


# -- errors --------------------------------------------------------------------------------------
def test_errors_name_the_function_and_what_was_expected():
    x, stream = minigan.tensor(np.zeros((2, 4, 4, 3))), Stream(0)
    with pytest.raises(ValueError, match=r"diff_augment: unknown policy 'zoom' in 'color,zoom'; valid policies "
                                         r"are color, translation, cutout \(comma-separated"):
        F.diff_augment(x, "color,zoom", stream=stream)
    with pytest.raises(ValueError, match="unknown policy '' in 'color,'"):
        F.diff_augment(x, "color,", stream=stream)
    with pytest.raises(TypeError, match="policy must be a string such as 'color,translation,cutout', got list"):
        F.diff_augment(x, ["color"], stream=stream)
    with pytest.raises(ValueError, match=r"diff_augment: expected images \(N, H, W, C\), got an array of shape "
                                         r"\(4, 4, 3\)"):
        F.diff_augment(x.data[0], stream=stream)
    with pytest.raises(TypeError, match="diff_augment needs floating-point inputs .* got dtype uint8"):
        F.diff_augment(np.zeros((2, 4, 4, 3), np.uint8), stream=stream)
    with pytest.raises(TypeError, match=r"stream must be a minigan.random.Stream, e.g. stream=Stream\(seed\), got int"):
        F.diff_augment(x, stream=7)
    with pytest.raises(TypeError, match="got NoneType"):
        F.diff_augment(x, "cutout")
    with pytest.raises(ValueError, match=r"translate: shift_w must be 2 integers, one per image, got float64 of "
                                         r"shape \(2,\)"):
        augment.translate(x, [1, 2], [0.5, 1.0])
    assert stream.get_state() == Stream(0).get_state()  # a refused call draws nothing


# -- the layer -------------------------------------------------------------------------------------
def test_the_layer_augments_only_in_training_and_its_stream_is_its_state(fresh_names):
    augment = minigan.layers.DiffAugment("color,translation,cutout", seed=5)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 3)).astype("float32")
    assert np.array_equal(augment(x).numpy(), x)                      # inference: the identity
    state = augment.get_state()
    first = augment(x, training=True).numpy()
    assert not np.array_equal(first, x)
    augment.set_state(state)                                          # back to before the draw
    assert np.array_equal(augment(x, training=True).numpy(), first)
    again = minigan.layers.DiffAugment("color,translation,cutout", seed=5)
    assert np.array_equal(again(x, training=True).numpy(), first)    # the seed decides, nothing else
    with pytest.raises(ValueError, match="unknown policy 'zoom'"):
        minigan.layers.DiffAugment("zoom")
    with pytest.raises(ValueError, match=r"DiffAugment 'diff_augment_3' expects images of shape"):
        minigan.layers.DiffAugment()(minigan.Input(shape=(3,)))


def test_gradients_reach_the_generator_through_the_layer_inside_a_model(fresh_names):
    z = minigan.Input(shape=(2,))
    image = minigan.layers.Reshape((2, 2, 3))(minigan.layers.Dense(12)(z))
    model = minigan.Model(z, minigan.layers.Dense(1)(minigan.layers.Flatten()(
        minigan.layers.DiffAugment("translation,cutout", seed=1)(image))))
    model.compile(optimizer=minigan.optimizers.SGD(0.1), loss="mse")
    before = model.get_layer("dense").kernel.numpy().copy()
    model.train_on_batch(np.ones((3, 2), "float32"), np.ones((3, 1), "float32"))
    assert not np.array_equal(before, model.get_layer("dense").kernel.numpy())  # through the augmentation
