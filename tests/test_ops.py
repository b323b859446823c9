"""Gradient checks (hypothesis, float64) and forward references for the elementwise ops,
broadcasting, reductions, dense and the loss. Convolutions have their own file."""

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan import GradcheckError, gradcheck, tensor

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


def random_tensor(shape, seed, low=-2.0, high=2.0, requires_grad=True):
    rng = np.random.default_rng(seed)
    return tensor(rng.uniform(low, high, size=shape), dtype="float64", requires_grad=requires_grad)


@st.composite
def broadcastable_pair(draw):
    """Two shapes that broadcast together: some axes of the second are 1 or dropped."""
    shape = draw(shapes)
    other = tuple(n if draw(st.booleans()) else 1 for n in shape)
    drop = draw(st.integers(0, len(other) - 1))
    return shape, other[drop:]


@given(pair=broadcastable_pair(), seed=st.integers(0, 2**16), op=st.sampled_from(["add", "sub", "mul", "div"]))
def test_binary_ops_with_broadcasting(pair, seed, op):
    a, b = random_tensor(pair[0], seed), random_tensor(pair[1], seed + 1, low=0.5, high=2.0)
    gradcheck(getattr(F, op), a, b)
    gradcheck(getattr(F, op), b, a) if op in ("add", "mul") else None


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_unary_ops(shape, seed):
    x = random_tensor(shape, seed)
    positive = random_tensor(shape, seed, low=0.2, high=3.0)
    gradcheck(F.exp, x)
    gradcheck(F.log, positive)
    gradcheck(lambda t: t ** 3, x)
    gradcheck(lambda t: -t, x)
    gradcheck(F.tanh, x)
    gradcheck(F.sigmoid, x)


@given(shape=shapes, seed=st.integers(0, 2**16), alpha=st.sampled_from([0.3, 0.2, 0.01]))
def test_leaky_relu_and_relu_away_from_the_kink(shape, seed, alpha):
    x = random_tensor(shape, seed)
    assume(float(np.abs(x.data).min()) > 1e-3)  # finite differences straddling 0 are meaningless
    gradcheck(lambda t: F.leaky_relu(t, alpha), x)
    gradcheck(F.relu, x)
    expected = np.where(x.data > 0, x.data, alpha * x.data)
    np.testing.assert_allclose(F.leaky_relu(x, alpha).data, expected, rtol=1e-15)


@pytest.mark.parametrize("alpha", [0.3, 0.2, 0.01])
def test_the_slope_at_exactly_zero_is_keras_s(alpha):
    """The kink the gradient checks above leave out: tf.nn.leaky_relu's gradient is alpha at x = 0 (its
    mask is x > 0), and relu's is 0 there; -0.0 is 0 too."""
    x = tensor([0.0, -0.0, 2.0, -2.0], dtype="float64", requires_grad=True)
    F.leaky_relu(x, alpha).sum().backward()
    assert x.grad.data.tolist() == [alpha, alpha, 1.0, alpha]
    x = tensor([0.0, -0.0, 2.0, -2.0], dtype="float64", requires_grad=True)
    F.relu(x).sum().backward()
    assert x.grad.data.tolist() == [0.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.2, 0.3, 1.0, 1.5, 3.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_leaky_relu_is_the_definition_to_the_bit(alpha, dtype):
    """Forward slope * x and backward's slope m + (1 - m) alpha are the definition's where(x > 0, x,
    alpha x) and where(x > 0, 1, alpha) bit for bit, signed zeros, infinities and NaN included (alpha 0
    on inf is where max(x, alpha x) would go wrong): a training run is the same run as before the rewrite."""
    rng = np.random.default_rng(0)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 3e38, -3e38]
    x = np.concatenate([rng.standard_normal(1000), special]).astype(dtype)
    a = x.dtype.type(alpha)
    t = tensor(x, dtype=dtype, requires_grad=True)
    y = F.leaky_relu(t, alpha)
    assert y.data.dtype == x.dtype and y.data.tobytes() == np.where(x > 0, x, x * a).tobytes()
    y.sum().backward()
    assert t.grad.data.tobytes() == np.where(x > 0, x.dtype.type(1), a).tobytes()


def test_leaky_relu_defaults_to_keras_2_s_alpha():
    """The functional op's default slope is Keras 2's 0.3, as the layer's (Keras 3 uses 0.2, PyTorch 0.01)."""
    x = tensor([-1.0, 0.0, 2.0], dtype="float64", requires_grad=True)
    y = F.leaky_relu(x)
    assert y.data.tolist() == [-0.3, 0.0, 2.0]
    y.sum().backward()
    assert x.grad.data.tolist() == [0.3, 0.3, 1.0]
    assert minigan.layers.LeakyReLU().alpha == 0.3


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_maximum_and_clip_away_from_ties(shape, seed):
    a, b = random_tensor(shape, seed), random_tensor(shape, seed + 7)
    assume(float(np.abs(a.data - b.data).min()) > 1e-3)
    assume(float(np.abs(np.abs(a.data) - 1.0).min()) > 1e-3)
    gradcheck(F.maximum, a, b)
    gradcheck(lambda t: F.clip(t, -1.0, 1.0), a)


@given(shape=shapes, seed=st.integers(0, 2**16), keepdims=st.booleans(), data=st.data())
def test_reductions_and_shapes(shape, seed, keepdims, data):
    x = random_tensor(shape, seed)
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    gradcheck(lambda t: F.sum(t, axis=axis, keepdims=keepdims), x)
    gradcheck(lambda t: F.mean(t, axis=axis, keepdims=keepdims), x)
    np.testing.assert_allclose(F.mean(x, axis=axis, keepdims=keepdims).data,
                               x.data.mean(axis=axis, keepdims=keepdims), rtol=1e-14)
    gradcheck(lambda t: F.reshape(t, (-1,)), x)
    gradcheck(lambda t: F.transpose(t), x)
    gradcheck(lambda t: t[..., :1] * 2, x)


@given(n=st.integers(1, 3), d_in=st.integers(1, 5), d_out=st.integers(1, 4), lead=st.integers(0, 2),
       seed=st.integers(0, 2**16))
def test_dense_gradients_and_values(n, d_in, d_out, lead, seed):
    x = random_tensor((n,) + (2,) * lead + (d_in,), seed)
    w, b = random_tensor((d_in, d_out), seed + 1), random_tensor((d_out,), seed + 2)
    gradcheck(F.dense, x, w, b)
    np.testing.assert_allclose(F.dense(x, w, b).data, x.data @ w.data + b.data, rtol=1e-13)


@given(n=st.integers(1, 6), seed=st.integers(0, 2**16), from_logits=st.booleans())
@example(n=1, seed=15417, from_logits=False)  # once failed against a reference without Keras's epsilon
def test_binary_crossentropy(n, seed, from_logits):
    rng = np.random.default_rng(seed)
    y = tensor(rng.integers(0, 2, (n, 1)) + 0.05 * rng.random((n, 1)), dtype="float64")  # book's noisy labels
    if from_logits:
        z = random_tensor((n, 1), seed, low=-4, high=4)
        gradcheck(lambda z: F.binary_crossentropy(y, z, from_logits=True), z)
        p = 1 / (1 + np.exp(-z.data))
        eps = 0.0
    else:
        z = random_tensor((n, 1), seed, low=0.05, high=0.95)
        gradcheck(lambda p: F.binary_crossentropy(y, p), z)
        p, eps = z.data, 1e-7  # Keras 2 adds epsilon inside both logs: log(p + eps), log(1 - p + eps)
    reference = -np.mean(y.data * np.log(p + eps) + (1 - y.data) * np.log(1 - p + eps))
    np.testing.assert_allclose(F.binary_crossentropy(y, z, from_logits=from_logits).data, reference,
                               rtol=1e-12)


def test_binary_crossentropy_clips_like_keras():
    y = tensor([[1.0], [0.0]], dtype="float64")
    p = tensor([[0.0], [1.0]], dtype="float64")  # certain and wrong: clipped to 1e-7, not inf
    loss = F.binary_crossentropy(y, p).item()
    assert np.isfinite(loss) and abs(loss - (-np.log(1e-7 + 1e-7))) < 1e-6


def test_dropout_is_inverted_and_seeded():
    x = tensor(np.ones((1000,)), dtype="float64", requires_grad=True)
    assert F.dropout(x, 0.4, training=False) is x
    minigan.random.seed(3)
    y = F.dropout(x, 0.4, training=True)
    kept = y.data != 0
    assert abs(kept.mean() - 0.6) < 0.05
    np.testing.assert_allclose(y.data[kept], 1 / 0.6)  # survivors scaled: E[y] = x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)  # dy/dx = mask / keep
    minigan.random.seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.4, training=True).data, y.data)

    def seeded_dropout(t):
        minigan.random.seed(5)
        return F.dropout(t, 0.5, training=True)

    gradcheck(seeded_dropout, random_tensor((3, 4), 0))
    with pytest.raises(ValueError, match=r"dropout: rate must be a finite number in \[0, 1\)"):
        F.dropout(x, 1.0, training=True)


def test_gradcheck_catches_a_wrong_backward_and_names_the_input():
    class WrongTanh(minigan.Function):
        def forward(self, x):
            return np.tanh(x)

        def backward(self, gy):
            y = self.outputs[0]()
            return gy * (1 - y * y) * 1.01  # off by one percent

    a, b = random_tensor((2, 3), 0, requires_grad=False), random_tensor((2, 3), 1)
    b.name = "weights"
    with pytest.raises(GradcheckError, match=r"input 1 'weights' of shape \(2, 3\).*analytic .* numeric"):
        gradcheck(lambda a, b: a * WrongTanh()(b), a, b)
    gradcheck(lambda a, b: a * F.tanh(b), a, b)  # the right one passes


def test_gradcheck_checks_every_input_not_only_the_first():
    class WrongSecond(minigan.Function):
        def forward(self, a, b):
            return a * b

        def backward(self, gy):
            a, b = self.inputs
            return gy * b, gy * a * 0.0  # the gradient for b is missing

    a, b = random_tensor((3,), 0), random_tensor((3,), 1)
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(lambda a, b: WrongSecond()(a, b), a, b)


def test_gradcheck_wants_float64():
    with pytest.raises(TypeError, match="use float64"):
        gradcheck(F.tanh, tensor([1.0], requires_grad=True))
