"""Reusable hypothesis strategies and random tensors for op tests (shapes small enough for gradcheck).

    from strategies import conv_cases, float64_tensor, seeds

Values come from a seeded NumPy generator rather than from hypothesis itself: hypothesis explores
the *shapes* (where the bugs are), a seed gives well-spread values (no exact ties, no huge numbers),
and every failure still reproduces from the printed example.
"""

import numpy as np
from hypothesis import strategies as st

import minigan

seeds = st.integers(0, 2**32 - 1)


def float64_tensor(shape, seed, name=None, requires_grad=True, low=-1.0, high=1.0):
    """A float64 Tensor of uniform values in [low, high), reproducible from ``seed``."""
    data = np.random.default_rng(seed).uniform(low, high, size=shape)
    return minigan.tensor(data, dtype="float64", requires_grad=requires_grad, name=name)


def float64_array(shape, seed, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


@st.composite
def image_shapes(draw, batch=(1, 3), size=(1, 7), channels=(1, 4)):
    """(N, H, W, C) channels-last, H and W drawn separately (non-square images happen)."""
    return (draw(st.integers(*batch)), draw(st.integers(*size)), draw(st.integers(*size)),
            draw(st.integers(*channels)))


@st.composite
def conv_cases(draw, batch=(1, 3), size=(1, 7), channels=(1, 4), kernel=(1, 5), stride=(1, 3),
               algorithms=("im2col",)):
    """A dict describing one 2-D convolution: input shape (N, H, W, C), kernel (KH, KW), filters F,
    strides (SH, SW), padding, algorithm and a seed for the values. Odd and even kernels, non-square
    everything; a ``valid`` kernel always fits in the image; "fft" comes with strides (1, 1)."""
    algorithm = draw(st.sampled_from(algorithms))
    if algorithm == "fft":
        stride = (1, 1)
    padding = draw(st.sampled_from(["valid", "same"]))
    n, h, w, c = draw(image_shapes(batch, size, channels))
    kh, kw = draw(st.integers(*kernel)), draw(st.integers(*kernel))
    if padding == "valid":
        kh, kw = min(kh, h), min(kw, w)
    return dict(x_shape=(n, h, w, c), kernel_hw=(kh, kw), filters=draw(st.integers(*channels)),
                strides=(draw(st.integers(*stride)), draw(st.integers(*stride))), padding=padding,
                algorithm=algorithm, seed=draw(seeds))
