"""FID and KID from features: closed forms, an independent formula for singular covariances, symmetry,
KID against a double loop, and KID's unbiasedness (and FID's bias) measured over many draws."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigan.backend import numpy as np
from minigan.metrics import fid
from minigan.metrics import (feature_statistics, fid_from_features, frechet_distance,
                             kernel_inception_distance)
from minigan.metrics.fid import trace_sqrt_product, unbiased_mmd2

seeds = st.integers(0, 2**32 - 1)


def features(n, d, seed, shift=0.0):
    return np.random.default_rng(seed).standard_normal((n, d)) + shift


def random_rotation(d, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q * np.sign(np.diag(r))


# ---------------------------------------------------------------------------------------------------
# FID
# ---------------------------------------------------------------------------------------------------
@given(n=st.integers(2, 40), d=st.integers(1, 60), seed=seeds)
def test_same_statistics_give_zero(n, d, seed):
    # N < D too: a singular covariance, where sqrtm-based code needs its 1e-6 diagonal offset.
    mu, sigma = feature_statistics(features(n, d, seed))
    assert abs(frechet_distance(mu, sigma, mu, sigma)) <= 1e-9 * np.trace(sigma)


@given(d=st.integers(1, 30), zeros=st.integers(0, 5), seed=seeds, rotate=st.booleans())
def test_commuting_covariances_closed_form(d, zeros, seed, rotate):
    # S1 = Q diag(a) Q^T, S2 = Q diag(b) Q^T commute, sqrt(S1 S2) = Q diag(sqrt(a b)) Q^T, so
    # FID = |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2. Some variances are exactly 0 (a singular S).
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.1, 5, d), rng.uniform(0.1, 5, d)
    a[:min(zeros, d)] = 0
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    q = random_rotation(d, seed) if rotate else np.eye(d)
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    got = frechet_distance(mu1, s1, mu2, s2)
    assert abs(got - expected) <= 1e-9 * (a.sum() + b.sum())
    assert trace_sqrt_product(s1, s2) == pytest.approx(np.sqrt(a * b).sum(), rel=1e-9, abs=1e-12)


@given(n1=st.integers(2, 30), n2=st.integers(2, 30), d=st.integers(1, 60), seed=seeds)
def test_low_rank_matches_the_nuclear_norm(n1, n2, d, seed):
    # S1 = A^T A and S2 = B^T B with A, B the centred features / sqrt(N - 1). The eigenvalues of S1 S2
    # are the squared singular values of A B^T (N1 x N2), so tr sqrt(S1 S2) = its nuclear norm: an
    # independent route that never forms a D x D matrix. N < D makes both covariances singular.
    f1, f2 = features(n1, d, seed), features(n2, d, seed + 1, shift=0.3) * 2
    a = (f1 - f1.mean(0)) / np.sqrt(n1 - 1)
    b = (f2 - f2.mean(0)) / np.sqrt(n2 - 1)
    nuclear = np.linalg.svd(a @ b.T, compute_uv=False).sum()
    (mu1, s1), (mu2, s2) = feature_statistics(f1), feature_statistics(f2)
    scale = np.sqrt(np.trace(s1) * np.trace(s2))  # tr sqrt(S1 S2) <= this (Cauchy-Schwarz)
    assert abs(trace_sqrt_product(s1, s2) - nuclear) <= 1e-9 * scale
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * nuclear
    assert abs(fid_from_features(f1, f2) - expected) <= 1e-9 * (np.trace(s1) + np.trace(s2))


def test_fid_sized_case_is_accurate_and_symmetric():
    # The normal case: 1000 images, 2048 features (rank 999), and a shifted copy.
    f1, f2 = features(1000, 2048, 0), features(1000, 2048, 1, shift=0.05) * 1.1
    (mu1, s1), (mu2, s2) = feature_statistics(f1), feature_statistics(f2)
    a, b = (f1 - mu1) / np.sqrt(999), (f2 - mu2) / np.sqrt(999)
    nuclear = np.linalg.svd(a @ b.T, compute_uv=False).sum()
    forward, backward = frechet_distance(mu1, s1, mu2, s2), frechet_distance(mu2, s2, mu1, s1)
    assert forward == pytest.approx(backward, rel=1e-10)
    assert forward == pytest.approx(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * nuclear, rel=1e-10)


@given(n1=st.integers(2, 25), n2=st.integers(2, 25), d=st.integers(1, 40), seed=seeds)
def test_symmetric(n1, n2, d, seed):
    f1, f2 = features(n1, d, seed), features(n2, d, seed + 1) ** 2
    total = np.trace(feature_statistics(f1)[1]) + np.trace(feature_statistics(f2)[1])
    assert abs(fid_from_features(f1, f2) - fid_from_features(f2, f1)) <= 1e-9 * total


@given(n=st.integers(2, 30), d=st.integers(1, 40), seed=seeds)
def test_a_shift_costs_its_squared_length(n, d, seed):
    f = features(n, d, seed)
    shift = np.random.default_rng(seed + 7).standard_normal(d)
    assert fid_from_features(f, f + shift) == pytest.approx((shift ** 2).sum(), rel=1e-9,
                                                            abs=1e-9 * np.trace(feature_statistics(f)[1]))


def test_agrees_with_scipy_sqrtm_when_full_rank():
    linalg = pytest.importorskip("scipy.linalg")
    f1, f2 = features(400, 16, 0), features(300, 16, 1, shift=0.5) * 1.5
    (_, s1), (_, s2) = feature_statistics(f1), feature_statistics(f2)
    reference = np.trace(linalg.sqrtm(s1 @ s2)).real
    assert trace_sqrt_product(s1, s2) == pytest.approx(reference, rel=1e-10)


def test_feature_statistics_are_numpy_cov():
    f = features(50, 7, 3)
    mu, sigma = feature_statistics(f.astype(np.float32))
    assert mu.dtype == sigma.dtype == np.float64 and sigma.shape == (7, 7)
    np.testing.assert_allclose(mu, f.astype(np.float32).mean(0), rtol=1e-6)
    np.testing.assert_allclose(sigma, np.cov(f.astype(np.float32).astype(np.float64), rowvar=False), rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("call, message", [
    (lambda: feature_statistics(np.zeros((1, 4))), r"at least 2 feature vectors \(rows\), got shape \(1, 4\)"),
    (lambda: feature_statistics(np.zeros(4)), r"must have shape \(N, D\).*got shape \(4,\)"),
    (lambda: feature_statistics(np.array([[0.0, 1.0], [np.nan, 1.0], [1.0, np.inf]])),
     "NaN or inf in 2 of 3 rows \\(first: row 1\\)"),
    (lambda: frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4)), "different sizes, 3 and 4"),
    (lambda: frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3)),
     r"mu1 has shape \(3,\) and sigma1 \(2, 2\); expected \(D,\) and \(D, D\)"),
    (lambda: frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.full((2, 2), np.nan)), "sigma2 holds NaN"),
    (lambda: kernel_inception_distance(np.zeros((4, 3)), np.zeros((4, 2))), "same number of features"),
    (lambda: kernel_inception_distance(np.zeros((4, 3)), np.zeros((4, 3)), subsets=0), "subsets must be"),
    (lambda: kernel_inception_distance(np.zeros((4, 3)), np.zeros((4, 3)), subset_size=1), "subset_size must be"),
    (lambda: kernel_inception_distance([[1.0]], np.zeros((4, 3))), "features1 must be a NumPy or CuPy array"),
])
def test_clear_errors(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


# ---------------------------------------------------------------------------------------------------
# KID
# ---------------------------------------------------------------------------------------------------
def kid_reference(f1, f2, subsets, subset_size, seed):
    """Per subset, the unbiased MMD^2 as a double loop over pairs; the subsets drawn as documented."""
    d = f1.shape[1]

    def k(x, y):
        return (sum(float(a) * float(b) for a, b in zip(x, y)) / d + 1) ** 3

    m = min(subset_size, len(f1), len(f2))
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(subsets):
        x = f1[np.sort(rng.choice(len(f1), m, replace=False))]
        y = f2[np.sort(rng.choice(len(f2), m, replace=False))]
        xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
        estimates.append(xx + yy - 2 * xy)
    return np.mean(estimates), np.std(estimates)


@given(n1=st.integers(2, 7), n2=st.integers(2, 7), d=st.integers(1, 4), subsets=st.integers(1, 4),
       subset_size=st.integers(2, 8), seed=seeds, per_subset=st.booleans())
def test_kid_matches_a_double_loop(n1, n2, d, subsets, subset_size, seed, per_subset):
    f1, f2 = features(n1, d, seed), features(n2, d, seed + 1, shift=0.5)
    limit = fid._GRAM_LIMIT
    fid._GRAM_LIMIT = 0 if per_subset else limit  # both ways of computing the kernel matrices
    try:
        mean, sd = kernel_inception_distance(f1, f2, subsets=subsets, subset_size=subset_size, seed=seed)
    finally:
        fid._GRAM_LIMIT = limit
    expected_mean, expected_sd = kid_reference(f1, f2, subsets, subset_size, seed)
    scale = max(1.0, abs(expected_mean))
    assert abs(mean - expected_mean) <= 1e-12 * scale * 10
    if n1 == n2 <= subset_size:
        assert sd == 0.0  # every subset is the whole set
    else:
        assert abs(sd - expected_sd) <= 1e-10 * scale


def test_unbiased_mmd2_leaves_out_the_diagonal():
    k_xx = np.array([[100.0, 1.0], [1.0, 100.0]])
    assert unbiased_mmd2(k_xx, k_xx, np.ones((2, 2))) == 0.0  # 1 + 1 - 2 * 1: the 100s are ignored


def test_kid_is_unbiased_and_fid_is_not():
    # 300 draws of two samples of 30 points from one distribution in 4-D. KID averages to 0 within its
    # standard error (and single draws are negative); FID's average is clearly positive (its bias).
    kids, fids = [], []
    for seed in range(300):
        f1, f2 = features(30, 4, 2 * seed), features(30, 4, 2 * seed + 1)
        kids.append(kernel_inception_distance(f1, f2, subsets=1, subset_size=30)[0])
        fids.append(fid_from_features(f1, f2))
    kids, fids = np.array(kids), np.array(fids)
    standard_error = kids.std() / np.sqrt(len(kids))
    assert abs(kids.mean()) < 4 * standard_error
    assert (kids < 0).mean() > 0.2
    assert fids.mean() > 20 * fids.std() / np.sqrt(len(fids))


def test_kid_separates_shifted_sets_and_subsets_vary():
    f1, f2 = features(200, 16, 0), features(150, 16, 1, shift=0.5)
    mean, sd = kernel_inception_distance(f1, f2, subsets=20, subset_size=50, seed=3)
    assert mean > 5 * sd > 0
    assert kernel_inception_distance(f1, f2, subsets=20, subset_size=50, seed=3) == (mean, sd)  # seeded
    assert kernel_inception_distance(f1, f2, subsets=20, subset_size=50, seed=4) != (mean, sd)
