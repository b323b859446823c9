"""FID and KID from Inception features: the math only (the network that makes the features is elsewhere).

Notation:
    f1, f2    (N1, D), (N2, D)   feature vectors of two image sets, one row per image (D = 2048 for FID)
    mu        (D,)               mean feature of a set
    sigma     (D, D)             sample covariance, ddof = 1: sigma = A^T A with A = (f - mu) / sqrt(N - 1)

**FID** (Heusel et al. 2017) models each set as a Gaussian N(mu, sigma) and reports the squared
Wasserstein-2 (Fréchet) distance between the two Gaussians:

    FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2)

The last term is the hard one. Write each covariance through a factor, S = C C^T (C = V diag(sqrt(l))
from the symmetric eigen-decomposition S = V diag(l) V^T). Then S1 S2 = C1 C1^T C2 C2^T has the same
non-zero eigenvalues as (C1^T C2)^T (C1^T C2) (AB and BA share them), so

    tr sqrt(S1 S2) = sum_i sqrt(lambda_i(S1 S2)) = sum_i sigma_i(C1^T C2)    the nuclear norm of C1^T C2

two ``eigh`` and one singular-value decomposition, all in float64, all of symmetric or well-posed
problems. Eigenvalues of S below D * eps * max(l) -- zero in exact arithmetic (N <= D gives rank <= N - 1),
rounding noise of either sign in floating point -- are dropped, so C1 is (D, r1) with r1 <= N1 - 1 and
C1^T C2 is at most (999, 999) for two sets of 1000 images.

The usual code (TTUR, pytorch-fid) calls ``scipy.linalg.sqrtm(S1 @ S2)`` instead: a general (Schur)
square root of a non-symmetric matrix. With fewer images than dimensions -- 1000 images of 2048
features -- S1 S2 is singular, sqrtm is ill-conditioned there and comes back with imaginary parts or
NaN, which that code papers over by adding 1e-6 to the diagonal. Taking square roots of eigenvalues
(of S1 S2, or of sqrt(S1) S2 sqrt(S1)) is fragile for the same reason: an eigenvalue that should be 0 comes
out as +-eps * |S|, and its square root, ~1e-8 * sqrt(|S|), is a large error, repeated over every null
direction. Singular values need no square root: a zero one comes out as eps * |C1| |C2|.

**KID** (Bińkowski et al. 2018) is the squared maximum mean discrepancy with the cubic kernel
k(x, y) = (x . y / D + 1)^3, estimated on random subsets. Its estimator is *unbiased*: averaged over
draws of the images, it equals the population value, 0 for two samples of one distribution (so a
single estimate can be negative). FID is biased: its estimate of 0 from two finite samples is positive
and shrinks like 1 / N, so FIDs computed on different N cannot be compared; KIDs can.

>>> from minigan.backend import numpy as np
>>> rng = np.random.default_rng(0)
>>> real, fake = rng.standard_normal((500, 8)), rng.standard_normal((500, 8)) + 1.0
>>> fid = frechet_distance(*feature_statistics(real), *feature_statistics(fake))
>>> round(fid, 1)                             # |mu1 - mu2|^2 = 8 x 1^2, plus a little sampling noise
8.6
>>> abs(frechet_distance(*feature_statistics(real), *feature_statistics(real))) < 1e-12   # 0 up to rounding
True
>>> mean, sd = kernel_inception_distance(real, fake, subsets=10, subset_size=100)
>>> bool(mean > 10 * sd)
True
"""

from .. import arguments
from ..backend import numpy as np
from ..backend import to_numpy


def _host_features(features, name, function, min_rows=2):
    """``features`` as a finite float64 host matrix (N >= min_rows, D >= 1), or a clear error."""
    if not hasattr(features, "shape"):
        raise TypeError(f"{function}: {name} must be a NumPy or CuPy array of shape (N, D), got "
                        f"{type(features).__name__}")
    features = np.asarray(to_numpy(features), dtype=np.float64)
    if features.ndim != 2 or features.shape[1] < 1:
        raise ValueError(f"{function}: {name} must have shape (N, D), one feature vector per row, "
                         f"got shape {features.shape}")
    if features.shape[0] < min_rows:
        raise ValueError(f"{function}: {name} needs at least {min_rows} feature vectors (rows), got shape "
                         f"{features.shape}")
    bad = ~np.isfinite(features).all(axis=1)
    if bad.any():
        raise ValueError(f"{function}: {name} has NaN or inf in {int(bad.sum())} of {features.shape[0]} rows "
                         f"(first: row {int(np.argmax(bad))})")
    return features


def feature_statistics(features):
    """(mu, sigma) of a feature matrix (N, D), N >= 2, in float64: the mean (D,) and the sample covariance
    (D, D) with ddof = 1, as the FID reference code (``np.cov(features, rowvar=False)``).

    >>> mu, sigma = feature_statistics(np.array([[0.0, 1.0], [2.0, 1.0]]))
    >>> mu.tolist(), sigma.tolist()
    ([1.0, 1.0], [[2.0, 0.0], [0.0, 0.0]])
    """
    features = _host_features(features, "features", "feature_statistics")
    mu = features.mean(axis=0)
    centred = features - mu
    sigma = centred.T @ centred / (features.shape[0] - 1)
    return mu, sigma


def _check_statistics(mu, sigma, index):
    mu, sigma = np.asarray(to_numpy(mu), np.float64), np.asarray(to_numpy(sigma), np.float64)
    if mu.ndim != 1 or sigma.shape != (mu.size, mu.size):
        raise ValueError(f"frechet_distance: mu{index} has shape {mu.shape} and sigma{index} {sigma.shape}; "
                         f"expected (D,) and (D, D)")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise ValueError(f"frechet_distance: mu{index} or sigma{index} holds NaN or inf")
    return mu, (sigma + sigma.T) / 2  # symmetric up to rounding already; eigh reads one triangle only


def covariance_factor(sigma):
    """C (D, r) with C C^T = sigma for a symmetric PSD sigma (D, D): V diag(sqrt(l)) over the eigenvalues
    l > D * eps * max(l); the others are zero up to rounding and dropped (r is the numerical rank).

    >>> covariance_factor(np.diag([4.0, 0.0, 1e-30])).round(12).tolist()
    [[2.0], [0.0], [0.0]]
    """
    values, vectors = np.linalg.eigh(sigma)
    keep = values > sigma.shape[0] * np.finfo(np.float64).eps * values.max(initial=0.0)
    return vectors[:, keep] * np.sqrt(values[keep])


def trace_sqrt_product(sigma1, sigma2):
    """tr sqrt(S1 S2) for symmetric PSD S1, S2 (D, D), singular or not: the nuclear norm of C1^T C2.

    >>> trace_sqrt_product(np.diag([4.0, 9.0, 0.0]), np.diag([1.0, 4.0, 5.0]))  # sqrt(4) + sqrt(36) + 0
    8.0
    """
    c1 = covariance_factor(np.asarray(sigma1, np.float64))
    c2 = covariance_factor(np.asarray(sigma2, np.float64))
    if c1.shape[1] == 0 or c2.shape[1] == 0:  # a set of identical vectors: S = 0
        return 0.0
    return float(np.linalg.svd(c1.T @ c2, compute_uv=False).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2): the FID of two sets' statistics, a float.

    mu (D,), sigma (D, D) as ``feature_statistics`` returns them. Symmetric in its two sets. The exact
    value is >= 0; rounding can leave about 1e-12 * tr(S) of either sign when the sets are the same.
    """
    mu1, sigma1 = _check_statistics(mu1, sigma1, 1)
    mu2, sigma2 = _check_statistics(mu2, sigma2, 2)
    if mu1.shape != mu2.shape:
        raise ValueError(f"frechet_distance: the two sets have features of different sizes, {mu1.size} and "
                         f"{mu2.size}")
    difference = mu1 - mu2
    return float(difference @ difference + np.trace(sigma1) + np.trace(sigma2)
                 - 2 * trace_sqrt_product(sigma1, sigma2))


def fid_from_features(features1, features2):
    """FID between two feature matrices (N1, D) and (N2, D): ``frechet_distance`` of their statistics."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


# ---------------------------------------------------------------------------------------------------
# KID
# ---------------------------------------------------------------------------------------------------
# Gram matrices of all pairs are computed once when they fit in this many float64 values (3 x 1000^2 for
# two sets of 1000: 24 MB); each subset then only indexes them. Larger sets compute each subset's own.
_GRAM_LIMIT = 64 * 1024 * 1024


def unbiased_mmd2(k_xx, k_yy, k_xy):
    """Unbiased MMD^2 from the kernel matrices of two samples of m points each (m >= 2):

        sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (m (m-1)) - 2 sum_{i, j} k(x_i, y_j) / m^2

    The diagonals k(x_i, x_i) are left out: they pair a point with itself, which is what biases the plain
    (V-statistic) estimate upwards.
    """
    m = k_xx.shape[0]
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))


def kernel_inception_distance(features1, features2, subsets=100, subset_size=1000, seed=0):
    """KID of two feature matrices (N1, D), (N2, D): (mean, sd) of the unbiased MMD^2 over random subsets.

    Kernel k(x, y) = (x . y / D + 1)^3 (Bińkowski et al. 2018). Each of ``subsets`` estimates uses
    m = min(subset_size, N1, N2) rows of each set, drawn without replacement by the host generator
    ``numpy.random.default_rng(seed)``: subset s takes ``rng.choice(N1, m, replace=False)`` then
    ``rng.choice(N2, m, replace=False)`` (each sorted). sd is their standard deviation (ddof = 0, as the
    reference code): how much the estimate moves with the choice of subsets, not the error of the
    mean. When m equals both set sizes, every subset is the whole set: the estimate is computed once
    and sd is 0.
    """
    function = "kernel_inception_distance"
    f1 = _host_features(features1, "features1", function)
    f2 = _host_features(features2, "features2", function)
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"{function}: features1 and features2 must have the same number of features (columns), "
                         f"got shapes {f1.shape} and {f2.shape}")
    subsets = arguments.integer(subsets, "subsets", function, 1, 10_000)  # the reference code uses 100
    subset_size = arguments.integer(subset_size, "subset_size", function, 2)
    seed = arguments.integer(seed, "seed", function, 0)
    n1, n2, d = f1.shape[0], f2.shape[0], f1.shape[1]
    m = min(int(subset_size), n1, n2)

    def kernel(a, b):
        return (a @ b.T / d + 1) ** 3

    if (n1 + n2) ** 2 <= _GRAM_LIMIT:
        g11, g22, g12 = f1 @ f1.T, f2 @ f2.T, f1 @ f2.T

        def matrices(i, j):
            return ((g11[np.ix_(i, i)] / d + 1) ** 3, (g22[np.ix_(j, j)] / d + 1) ** 3,
                    (g12[np.ix_(i, j)] / d + 1) ** 3)
    else:
        def matrices(i, j):
            x, y = f1[i], f2[j]
            return kernel(x, x), kernel(y, y), kernel(x, y)

    if m == n1 == n2:  # every subset is the whole set (in sorted order): one estimate, repeated
        return unbiased_mmd2(*matrices(np.arange(m), np.arange(m))), 0.0
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(int(subsets)):
        i = np.sort(rng.choice(n1, m, replace=False))
        j = np.sort(rng.choice(n2, m, replace=False))
        estimates.append(unbiased_mmd2(*matrices(i, j)))
    estimates = np.array(estimates)
    return float(estimates.mean()), float(estimates.std())
