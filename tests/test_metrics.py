"""Tests of minigan.metrics: patch SWD and the nearest-neighbour copy / collapse check.

Synthetic image sets with known answers first, then the real CIFAR-10 frogs where they are present.
"""

import itertools
import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import require_frogs
from minigan.backend import BackendError, _import_cupy
from minigan.metrics import (copy_check, laplacian_pyramid, mann_whitney_z, nearest_neighbour_distances,
                             sliced_wasserstein)
from minigan.metrics.swd import BINOMIAL_5, pyramid_down, pyramid_up, sliced_wasserstein_1d

FAST = dict(patches_per_image=32, directions=64, repeats=2)   # fewer patches and directions: quick tests


def textures(n, seed, means=(130, 100, 70)):
    """Synthetic 'photos': a coarse random colour field (8 px blocks) plus fine noise, per-channel means.

    Every image comes from the same distribution, so two draws differ only by sampling.
    """
    rng = np.random.default_rng(seed)
    coarse = rng.normal(0, 25, (n, 4, 4, 3)).repeat(8, axis=1).repeat(8, axis=2)
    fine = rng.normal(0, 12, (n, 32, 32, 3))
    return np.clip(np.asarray(means) + coarse + fine, 0, 255).round().astype(np.uint8)


def box_blur(images):
    """3 x 3 mean filter with edge padding, back to uint8."""
    x = np.pad(images.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    out = sum(x[:, i:i + 32, j:j + 32] for i in range(3) for j in range(3)) / 9
    return out.round().astype(np.uint8)


@pytest.fixture(scope="module")
def sets():
    return textures(200, seed=1), textures(200, seed=2)


# ---------------------------------------------------------------- pyramid


def test_pyramid_down_is_the_5x5_binomial_convolution_with_mirror_borders():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 16, 16, 3)).astype(np.float32)
    kernel = np.outer(BINOMIAL_5, BINOMIAL_5)                          # the 5 x 5 kernel / 256
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    full = sum(kernel[i, j] * padded[:, i:i + 16, j:j + 16] for i in range(5) for j in range(5))
    np.testing.assert_allclose(pyramid_down(x), full[:, ::2, ::2], atol=1e-5)


def test_pyramid_keeps_constants_and_reconstructs_exactly():
    flat = np.full((1, 32, 32, 3), 7.0, np.float32)
    np.testing.assert_allclose(pyramid_down(flat), 7.0)
    np.testing.assert_allclose(pyramid_up(pyramid_down(flat)), 7.0)   # also at the borders
    images = textures(3, seed=0)
    band, low = laplacian_pyramid(images, 2)
    assert band.shape == (3, 32, 32, 3) and low.shape == (3, 16, 16, 3)
    np.testing.assert_allclose(band + pyramid_up(low), images.astype(np.float32), atol=1e-4)


# ---------------------------------------------------------------- sliced Wasserstein


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**16))
def test_sliced_wasserstein_1d_is_the_best_matching(m, seed):
    """In 1-D, sorting solves optimal transport: compare with the best of all m! matchings."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(m, 1)).astype(np.float32), rng.normal(size=(m, 1)).astype(np.float32)
    best = min(np.abs(a[:, 0] - b[list(p), 0]).mean() for p in itertools.permutations(range(m)))
    assert float(sliced_wasserstein_1d(a, b, np.ones((1, 1), np.float32))) == pytest.approx(best, abs=1e-6)


def test_identical_sets_give_zero(sets):
    a, _ = sets
    result = sliced_wasserstein(a, a.copy(), **FAST)
    assert result.levels == (0.0, 0.0) and result.mean == 0.0
    assert result.resolutions == (32, 16) and result.n_images == 200 and result.patches_per_level == 200 * 32


def test_same_seed_same_number_and_other_seed_close(sets):
    a, b = sets
    first, again = sliced_wasserstein(a, b, seed=3, **FAST), sliced_wasserstein(a, b, seed=3, **FAST)
    other = sliced_wasserstein(a, b, seed=4, **FAST)
    assert first == again
    assert other != first and other.mean == pytest.approx(first.mean, rel=0.5)


@pytest.mark.parametrize("distortion, level", [
    ("brightness", 1),   # +25 grey levels: the 16 px low-pass sees it (the 32 px band-pass is blind to it)
    ("blur", 0),         # detail lost: the 32 px band-pass sees it
    ("channel swap", 1), # RGB -> BGR: the colours (channel means) move
])
def test_distortions_raise_the_distance_clearly(sets, distortion, level):
    a, b = sets
    distorted = {"brightness": lambda x: np.clip(x.astype(int) + 25, 0, 255).astype(np.uint8),
                 "blur": box_blur,
                 "channel swap": lambda x: x[..., ::-1].copy()}[distortion](a)
    baseline = sliced_wasserstein(a, b, **FAST)
    worse = sliced_wasserstein(distorted, b, **FAST)
    assert worse.mean > 4 * baseline.mean, (distortion, baseline, worse)
    assert worse.levels[level] > 8 * baseline.levels[level], (distortion, baseline, worse)


def test_self_normalisation_hides_a_brightness_shift(sets):
    """Why we normalise with the reference's statistics: Karras's per-set normalisation cancels the shift."""
    a, b = sets
    brighter = np.clip(a.astype(int) + 25, 0, 255).astype(np.uint8)
    karras = sliced_wasserstein(brighter, b, normalize="self", **FAST)
    ours = sliced_wasserstein(brighter, b, **FAST)
    baseline = sliced_wasserstein(a, b, normalize="self", **FAST)
    assert karras.mean < 2 * baseline.mean < ours.mean / 4


def test_different_sizes_subsample_the_larger(sets):
    a, b = sets
    result = sliced_wasserstein(a[:50], b, **FAST)
    assert result.n_images == 50 and result.patches_per_level == 50 * 32
    assert result == sliced_wasserstein(a[:50], b, **FAST)
    assert sliced_wasserstein(b[:50], b, **FAST).mean > 0   # a subsample of b, not b's first 50 images


def test_swd_default_settings_run_and_print(sets):
    a, b = sets
    result = sliced_wasserstein(a[:20], b[:20])
    assert result.patches_per_level == 20 * 128
    assert str(result).startswith("SWD x1e3: 32px ")


@pytest.mark.parametrize("images, error, words", [
    ([[0]], TypeError, "NumPy or CuPy array"),
    (np.zeros((4, 32, 32, 3), np.float32), ValueError, "dtype uint8"),
    (np.zeros((4, 3, 32, 32), np.uint8), ValueError, "(N, H, W, 3)"),
    (np.zeros((32, 32, 3), np.uint8), ValueError, "(N, H, W, 3)"),
    (np.zeros((4, 32, 16, 3), np.uint8), ValueError, "same size"),
    (np.zeros((0, 32, 32, 3), np.uint8), ValueError, "at least 1 images"),
])
def test_swd_rejects_bad_images(images, error, words):
    reference = np.zeros((4, 32, 32, 3), np.uint8)
    with pytest.raises(error, match="sliced_wasserstein") as info:
        sliced_wasserstein(images, reference)
    assert words in str(info.value)


def test_swd_rejects_bad_options(sets):
    a, b = sets
    odd = np.zeros((4, 24, 24, 3), np.uint8)
    with pytest.raises(ValueError, match=r"square with a side of 16 \* 2\*\*k pixels .* got 24 x 24"):
        sliced_wasserstein(odd, odd)
    with pytest.raises(ValueError, match="normalize must be 'reference' or 'self'"):
        sliced_wasserstein(a, b, normalize="each")
    with pytest.raises(ValueError, match=r"patches_per_image must be an int in 1..4096, got 0"):
        sliced_wasserstein(a, b, patches_per_image=0)


# ---------------------------------------------------------------- Mann-Whitney and nearest neighbours


def brute_mann_whitney(x, y):
    """U by counting pairs; tie-corrected variance by counting tied groups one by one."""
    u = sum(1.0 if xi > yj else 0.5 if xi == yj else 0.0 for xi in x for yj in y)
    pooled = list(x) + list(y)
    n = len(pooled)
    ties = sum(t ** 3 - t for t in (pooled.count(v) for v in set(pooled)))
    variance = len(x) * len(y) / 12 * (n + 1 - ties / (n * (n - 1)))
    return u, (u - len(x) * len(y) / 2) / variance ** 0.5 if variance > 0 else 0.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=12), st.lists(st.integers(0, 5), min_size=1, max_size=12))
def test_mann_whitney_matches_brute_force(x, y):
    u, z = mann_whitney_z(np.array(x, float), np.array(y, float))
    u_brute, z_brute = brute_mann_whitney(x, y)
    assert u == pytest.approx(u_brute) and z == pytest.approx(z_brute, abs=1e-9)
    assert mann_whitney_z(y, x)[1] == pytest.approx(-z, abs=1e-9)    # swapping the samples flips z


def test_mann_whitney_textbook_case():
    u, z = mann_whitney_z([1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0])      # every x below every y
    assert u == 0.0 and z == pytest.approx(-6 / np.sqrt(3 * 4 * 8 / 12))
    assert mann_whitney_z([2.0, 2.0], [2.0, 2.0]) == (2.0, 0.0)      # all tied: no evidence
    with pytest.raises(ValueError, match="non-empty"):
        mann_whitney_z([], [1.0])


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 1024])
def test_nearest_neighbours_match_brute_force(chunk_size):
    rng = np.random.default_rng(0)
    queries = rng.integers(0, 256, (10, 4, 4, 3), dtype=np.uint8)
    refs = rng.integers(0, 256, (8, 4, 4, 3), dtype=np.uint8)
    flat = lambda x: x.reshape(len(x), -1) / 255.0
    full = np.linalg.norm(flat(queries)[:, None] - flat(refs)[None], axis=2)       # (10, 8)
    d, i = nearest_neighbour_distances(queries, refs, chunk_size=chunk_size, return_index=True)
    np.testing.assert_allclose(d, full.min(axis=1), atol=1e-4)
    np.testing.assert_array_equal(i, full.argmin(axis=1))
    within = np.linalg.norm(flat(queries)[:, None] - flat(queries)[None], axis=2) + np.diag(np.full(10, np.inf))
    d_self = nearest_neighbour_distances(queries, queries, exclude_self=True, chunk_size=chunk_size)
    np.testing.assert_allclose(d_self, within.min(axis=1), atol=1e-4)


def test_exact_copies_are_at_distance_zero():
    images = textures(5, seed=0)
    d = nearest_neighbour_distances(images, images[::-1].copy())
    assert float(d.max()) < 1e-2   # ||a||^2 + ||b||^2 - 2ab in float32: zero up to rounding


# ---------------------------------------------------------------- copy check on synthetic sets


@pytest.fixture(scope="module")
def split():
    images = textures(700, seed=5)
    return images[:400], images[400:550], images[550:]   # train, test, fresh "generated"


def test_fresh_samples_raise_no_alarm(split):
    train, test, fresh = split
    result = copy_check(fresh, train, test)
    assert not result.copying_alarm and not result.collapse_alarm, result
    assert abs(result.z) < 3 and 0.8 < result.diversity_ratio < 1.25


def test_copies_of_training_images_trip_the_copy_alarm(split):
    train, test, _ = split
    result = copy_check(train[:150], train, test)
    assert result.copying_alarm and result.z < -3 and result.fraction_closer == 1.0, result
    assert result.generated_nn_median < 0.01 and not result.collapse_alarm


def test_one_repeated_image_trips_the_collapse_alarm(split):
    train, test, fresh = split
    result = copy_check(np.repeat(fresh[:1], 150, axis=0), train, test)
    assert result.collapse_alarm and result.diversity_ratio < 0.01, result
    assert "COLLAPSE" in str(result)


def test_copy_check_rejects_bad_input(split):
    train, test, fresh = split
    with pytest.raises(ValueError, match="copy_check: generated must hold at least 2 images"):
        copy_check(fresh[:1], train, test)
    with pytest.raises(ValueError, match="copy_check: generated and train must hold images of the same size"):
        copy_check(fresh, train[:, :16], test)
    with pytest.raises(ValueError, match=r"copy_check: test must have dtype uint8.*astype\('uint8'\)"):
        copy_check(fresh, train, test / 255.0)


# ---------------------------------------------------------------- CuPy gives the NumPy numbers


def test_cupy_matches_numpy(sets):
    try:
        cupy = _import_cupy()
    except BackendError as error:
        pytest.skip(str(error))
    a, b = sets
    on_host = sliced_wasserstein(a, b, **FAST)
    on_gpu = sliced_wasserstein(cupy.asarray(a), cupy.asarray(b), **FAST)
    assert on_gpu.levels == pytest.approx(on_host.levels, rel=1e-3)
    host, gpu = copy_check(a[:100], b, a[100:]), copy_check(*(cupy.asarray(x) for x in (a[:100], b, a[100:])))
    assert gpu.z == pytest.approx(host.z, abs=1e-3) and gpu.diversity_ratio == pytest.approx(host.diversity_ratio)


# ---------------------------------------------------------------- the real frogs


def load_frogs(name):
    with open(os.path.join(require_frogs(), name), "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    images = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images[np.asarray(batch[b"labels"]) == 6]                    # 6 = frog


@pytest.fixture(scope="module")
def frogs():
    train = np.concatenate([load_frogs(f"data_batch_{i}") for i in range(1, 6)])
    order = np.random.default_rng(0).permutation(len(train))
    return train[order], load_frogs("test_batch")


def test_real_frogs_halves_are_close_and_noise_is_far(frogs):
    train, _ = frogs
    floor = sliced_wasserstein(train[:300], train[300:600], **FAST)
    noise = np.random.default_rng(0).integers(0, 256, (300, 32, 32, 3), dtype=np.uint8)
    far = sliced_wasserstein(noise, train[300:600], **FAST)
    assert far.mean > 20 * floor.mean, (floor, far)


def test_real_frogs_copy_check(frogs):
    train, test = frogs
    reference, unseen = train[:2000], train[4000:4300]
    fine = copy_check(unseen, reference, test[:300])
    assert not fine.copying_alarm and not fine.collapse_alarm, fine
    copier = copy_check(reference[:300], reference, test[:300])
    assert copier.copying_alarm and copier.z < -10, copier
    collapsed = copy_check(np.repeat(unseen[:3], 100, axis=0), reference, test[:300])
    assert collapsed.collapse_alarm, collapsed
