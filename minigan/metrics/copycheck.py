"""Does the generator copy its training images, or collapse onto a few? Nearest-neighbour checks.

A patch metric such as SWD cannot tell a good generator from one that memorised its training set:
copies have perfect patch statistics. So we look at whole images, as points in pixel space
(R^3072 for 32 x 32 x 3, pixels scaled to [0, 1]), and measure Euclidean nearest-neighbour distances.

Copying (Meehan et al. 2020, "A non-parametric test to detect data-copying in generative models"):
    d_gen(i)  = distance of generated image i to its nearest *training* image
    d_test(j) = distance of held-out test image j to its nearest training image
A generator that generalises makes images as far from the training set as unseen real images are,
so the two samples of distances look alike. A copying generator's d_gen are smaller. The
Mann-Whitney U test says how much smaller, as a z-score: z ~ 0 when alike, z < -3 is the alarm
(generated images are closer to the training set than real unseen images are; chance < 0.2 %).
We also report the fraction of generated images closer to the training set than 99 % of the test
images are (their 1st percentile): about 0.01 when fine, near 1 for a copier.

Mode collapse: the mean distance from each generated image to its nearest *other* generated image,
divided by the same statistic for as many real test images. About 1 when the generated set is as
varied as real data; below 0.5 is the alarm (many near-duplicates among the samples).
The statistic falls as the set grows (more neighbours, closer ones), so both sets have the same size.

Notation:
    queries    (Q, D)    one flattened image per row, D = H * W * 3, values centred to [-0.5, 0.5]
    references (R, D)
    d2         (q, r)    squared distances of one chunk of queries to one chunk of references:
                         ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b, the cross term a GEMM
"""

from dataclasses import dataclass

from .. import arguments
from ..backend import get_array_module, to_numpy
from ..backend import numpy as np
from ._images import check_images, check_same_size, subsample

Z_THRESHOLD = -3.0          # copying alarm when z < this (one-sided p ~ 0.0013)
COLLAPSE_THRESHOLD = 0.5    # collapse alarm when generated diversity / real diversity < this


def _flatten(images, xp):
    """uint8 (n, H, W, 3) -> float32 (n, H*W*3) in [-0.5, 0.5].

    Centring on 0.5 does not change distances but halves the norms, so ||a||^2 + ||b||^2 - 2 a.b
    cancels less float32 precision for near-identical images.
    """
    return images.reshape(images.shape[0], -1).astype(xp.float32) / 255.0 - 0.5


def nearest_neighbour_distances(queries, references, *, exclude_self=False, chunk_size=1024, return_index=False):
    """Euclidean distance (pixels in [0, 1]) from each query image to its nearest reference image.

    queries, references  uint8 (Q, H, W, 3) and (R, H, W, 3)
    exclude_self         the two are the same set: skip i == j (distance to the nearest *other* image)
    chunk_size           images per block; memory is O(chunk_size * (H*W*3 + chunk_size)), not O(Q * R)
    return_index         also return the index of each nearest reference, shape (Q,)
    Returns distances (Q,) float32 on the queries' backend (and indices, int64).

    >>> a = np.zeros((1, 2, 2, 3), np.uint8)
    >>> b = np.stack([np.full((2, 2, 3), v, np.uint8) for v in (255, 51)])
    >>> d, i = nearest_neighbour_distances(a, b, return_index=True)
    >>> round(float(d[0]), 4), int(i[0])      # sqrt(12 pixels * 0.2**2)
    (0.6928, 1)
    """
    function = "nearest_neighbour_distances"
    check_images(queries, "queries", function)
    check_images(references, "references", function, min_count=2 if exclude_self else 1)
    check_same_size(queries, references, ("queries", "references"), function)
    if exclude_self and queries.shape[0] != references.shape[0]:
        raise ValueError(f"{function}: exclude_self=True needs queries and references to be the same set, "
                         f"got {queries.shape[0]} and {references.shape[0]} images")
    chunk_size = arguments.integer(chunk_size, "chunk_size", function)  # 0 would loop forever, -1 skip all
    arguments.check_size((chunk_size, max(chunk_size, int(np.prod(queries.shape[1:])))), 4, "a block", function)
    xp = get_array_module(queries, references)
    n_q, n_r = queries.shape[0], references.shape[0]
    best = xp.full(n_q, xp.inf, dtype=xp.float32)
    best_index = xp.zeros(n_q, dtype=xp.int64)
    for r0 in range(0, n_r, chunk_size):
        ref = _flatten(references[r0:r0 + chunk_size], xp)              # (r, D)
        ref_norms = (ref * ref).sum(axis=1)                             # (r,)
        for q0 in range(0, n_q, chunk_size):
            query = _flatten(queries[q0:q0 + chunk_size], xp)           # (q, D)
            d2 = (query * query).sum(axis=1)[:, None] + ref_norms[None, :] - 2.0 * (query @ ref.T)  # (q, r)
            if exclude_self:  # global indices i == j fall in this block where q0 + a == r0 + b
                rows = xp.arange(max(q0, r0), min(q0 + query.shape[0], r0 + ref.shape[0]))
                d2[rows - q0, rows - r0] = xp.inf
            index = d2.argmin(axis=1)                                   # (q,)
            nearest = d2[xp.arange(d2.shape[0]), index]
            better = nearest < best[q0:q0 + chunk_size]
            best[q0:q0 + chunk_size] = xp.where(better, nearest, best[q0:q0 + chunk_size])
            best_index[q0:q0 + chunk_size] = xp.where(better, index + r0, best_index[q0:q0 + chunk_size])
    distances = xp.sqrt(xp.maximum(best, 0.0))   # rounding can make a tiny d2 negative
    return (distances, best_index) if return_index else distances


def mann_whitney_z(x, y):
    """Mann-Whitney U of sample x against sample y, and its tie-corrected normal-approximation z-score.

    U = number of pairs (x_i, y_j) with x_i > y_j, ties counting 1/2; computed from ranks as
    U = R_x - n_x (n_x + 1) / 2, with R_x the sum of x's ranks in the pooled sample (tied values
    share their average rank). Under "same distribution": E[U] = n_x n_y / 2 and
        Var[U] = n_x n_y / 12 * (n + 1 - sum_t (t^3 - t) / (n (n - 1))),   n = n_x + n_y,
    the sum over groups of t tied values. z = (U - E[U]) / sqrt(Var[U]) (no continuity correction);
    z < 0 means x tends to be smaller than y. Host NumPy; CuPy inputs are copied over.

    >>> u, z = mann_whitney_z([1.0, 2.0], [3.0, 4.0, 5.0])
    >>> u, round(z, 3)
    (0.0, -1.732)
    """
    x = np.asarray(to_numpy(x), dtype=np.float64).ravel()
    y = np.asarray(to_numpy(y), dtype=np.float64).ravel()
    if x.size == 0 or y.size == 0:
        raise ValueError(f"mann_whitney_z: both samples must be non-empty, got sizes {x.size} and {y.size}")
    n_x, n_y = x.size, y.size
    n = n_x + n_y
    pooled = np.concatenate([x, y])
    order = np.argsort(pooled, kind="stable")
    _, first, counts = np.unique(pooled[order], return_index=True, return_counts=True)
    average_rank = first + (counts + 1) / 2.0       # tied block at 0-based first..first+t-1: ranks first+1..first+t
    ranks = np.empty(n)
    ranks[order] = np.repeat(average_rank, counts)
    u = float(ranks[:n_x].sum() - n_x * (n_x + 1) / 2.0)
    ties = float((counts.astype(np.float64) ** 3 - counts).sum())
    variance = n_x * n_y / 12.0 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:  # every value equal: no evidence either way
        return u, 0.0
    return u, float((u - n_x * n_y / 2.0) / np.sqrt(variance))


@dataclass(frozen=True)
class CopyCheckResult:
    """Copying and mode-collapse statistics of a generated set; see the module doc for their meaning."""

    z: float                      # Mann-Whitney z of generated vs test NN distances to train; < -3: copying
    fraction_closer: float        # generated closer to train than the test images' 1st percentile (~0.01 ok)
    generated_nn_median: float    # median distance of a generated image to its nearest training image
    test_nn_median: float         # the same for held-out test images
    generated_diversity: float    # mean distance to the nearest other generated image
    real_diversity: float         # the same within as many test images
    diversity_ratio: float        # generated_diversity / real_diversity; < 0.5: collapse
    copying_alarm: bool
    collapse_alarm: bool

    def __str__(self):
        flags = [name for name, on in (("COPYING", self.copying_alarm), ("COLLAPSE", self.collapse_alarm)) if on]
        return (f"copy check: z = {self.z:+.2f}, {100 * self.fraction_closer:.1f}% closer than test p1, "
                f"NN median {self.generated_nn_median:.2f} vs test {self.test_nn_median:.2f}; "
                f"diversity ratio {self.diversity_ratio:.2f}; alarms: {', '.join(flags) or 'none'}")


def copy_check(generated, train, test, *, seed=0, z_threshold=Z_THRESHOLD, collapse_threshold=COLLAPSE_THRESHOLD,
               chunk_size=1024):
    """Nearest-neighbour copy and diversity check of generated images against the training set.

    generated  uint8 (G, H, W, 3) samples of the generator
    train      uint8 (T, H, W, 3) the images it was trained on
    test       uint8 (S, H, W, 3) real images of the same kind that it never saw (e.g. CIFAR-10 test frogs)
    seed       picks the equal-size subsets for the diversity statistic when G != S
    Returns a CopyCheckResult; ``copying_alarm`` is z < z_threshold, ``collapse_alarm`` is
    diversity_ratio < collapse_threshold.

    >>> rng = np.random.default_rng(0)
    >>> train, test = (rng.integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8) for n in (60, 30))
    >>> copier = copy_check(train[:30], train, test)
    >>> copier.copying_alarm, copier.collapse_alarm
    (True, False)
    >>> collapsed = copy_check(np.repeat(test[:1], 30, axis=0), train, test)
    >>> collapsed.collapse_alarm, collapsed.diversity_ratio     # 30 copies of one image: no diversity
    (True, 0.0)
    """
    function = "copy_check"
    check_images(generated, "generated", function, min_count=2)
    check_images(train, "train", function)
    check_images(test, "test", function, min_count=2)
    check_same_size(generated, train, ("generated", "train"), function)
    check_same_size(generated, test, ("generated", "test"), function)
    seed = arguments.integer(seed, "seed", function, 0)
    z_threshold = arguments.number(z_threshold, "z_threshold", function, float32=False)
    collapse_threshold = arguments.number(collapse_threshold, "collapse_threshold", function, 0, float32=False)

    d_gen = to_numpy(nearest_neighbour_distances(generated, train, chunk_size=chunk_size))
    d_test = to_numpy(nearest_neighbour_distances(test, train, chunk_size=chunk_size))
    _, z = mann_whitney_z(d_gen, d_test)
    fraction_closer = float((d_gen < np.percentile(d_test, 1)).mean())

    rng = np.random.default_rng(seed)
    m = min(generated.shape[0], test.shape[0])
    diversity = []
    for images in (subsample(generated, m, rng), subsample(test, m, rng)):
        diversity.append(float(nearest_neighbour_distances(images, images, exclude_self=True,
                                                           chunk_size=chunk_size).mean()))
    ratio = diversity[0] / diversity[1] if diversity[1] > 0 else float("inf")

    return CopyCheckResult(
        z=z, fraction_closer=fraction_closer,
        generated_nn_median=float(np.median(d_gen)), test_nn_median=float(np.median(d_test)),
        generated_diversity=diversity[0], real_diversity=diversity[1], diversity_ratio=ratio,
        copying_alarm=bool(z < z_threshold), collapse_alarm=bool(ratio < collapse_threshold),
    )
