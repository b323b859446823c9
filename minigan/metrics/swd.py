"""Sliced Wasserstein distance (SWD) between two image sets, on Laplacian-pyramid patches.

Karras et al. 2018, *Progressive Growing of GANs*, appendix D. The idea in four steps:

1. Split every image into frequency bands with a Laplacian pyramid. For 32 x 32 images there are two
   levels: level 0 is the 32 px band-pass (fine detail: edges, texture, noise) and level 1 the 16 px
   low-pass (coarse shapes and colours).
2. From each level cut random 7 x 7 x 3 patches, 128 per image. A patch, flattened, is a point in
   R^147; an image set becomes a cloud of points per level.
3. Standardise each colour channel of each level (mean and std over the whole level), then compare
   the two clouds with the *sliced* Wasserstein distance: project both onto a random unit direction,
   where the distance between two 1-D distributions of M points each is simply the mean |difference|
   of the sorted values; average over 4 x 128 directions.
4. Report x 1e3 per level and their mean. Lower is better; 0 means identical patch statistics.

One deliberate change from Karras: both sets are normalised with the *reference* set's per-channel
mean and std. Karras normalises each set by its own statistics, which makes the metric blind to a
global brightness or colour shift (a generator whose frogs are all 20 % too dark would score as
well as a perfect one). ``normalize="self"`` restores Karras's behaviour, for comparison.

Notation (channels last):
    images  (N, S, S, 3)     uint8 image set, S = 32 for CIFAR-10 (any S = 16 * 2**k works)
    level   (N, s, s, 3)     float32 pyramid level; s = S, S/2, ... down to 16
    patches (M, 7, 7, 3)     M = N * patches_per_image random patches of one level
    desc    (M, 147)         patches flattened: one descriptor per row
    dirs    (147, D)         D random unit directions (columns)
    proj    (D, M)           every descriptor projected on every direction; sorted along M

Cost: with the defaults, 1000 vs 1000 images sort 2 sets x 2 levels x 512 directions x 128 000
values = 262 million floats, most of the running time on a CPU (about 10 s on 2 cores);
``patches_per_image=32`` is 3x faster and, since the patches of one image are alike, hardly noisier.
"""

from dataclasses import dataclass

from .. import arguments
from ..backend import get_array_module
from ..backend import numpy as np
from ._images import check_images, check_same_size, subsample

# Binomial 5-tap filter (1, 4, 6, 4, 1) / 16, the 1-D half of the separable 5 x 5 Gaussian-like kernel
# that Karras (and OpenCV's pyrDown/pyrUp) use: outer product / 256.
BINOMIAL_5 = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)
PATCH_SIZE = 7          # Karras's "neighbourhood" size
MIN_RESOLUTION = 16     # the pyramid stops at 16 px, as Karras does
MAX_PATCHES, MAX_DIRECTIONS, MAX_REPEATS = 4096, 4096, 1024  # Karras: 128, 128, 4


@dataclass(frozen=True)
class SWDResult:
    """SWD x 1e3 per pyramid level (finest first) and their mean; lower is better."""

    levels: tuple           # (level 0, level 1, ...) e.g. (32 px band-pass, 16 px low-pass)
    resolutions: tuple      # (32, 16) for 32 x 32 images
    mean: float             # average over levels
    n_images: int           # images per set after matching the sizes
    patches_per_level: int  # descriptors per set and level, N * patches_per_image

    def __str__(self):
        per_level = ", ".join(f"{r}px {v:.2f}" for r, v in zip(self.resolutions, self.levels))
        return f"SWD x1e3: {per_level}, mean {self.mean:.2f} ({self.n_images} images per set)"


def _blur_axis(x, axis, gain=1.0):
    """Convolve ``x`` along ``axis`` with the 5-tap binomial filter (times ``gain``), mirror borders.

    Mirror = NumPy's "reflect" = SciPy's "mirror" = OpenCV's BORDER_REFLECT_101: d c b | a b c d | c b a
    (the edge pixel is not repeated). The output has the shape of ``x``.
    """
    xp = get_array_module(x)
    pad = [(0, 0)] * x.ndim
    pad[axis] = (2, 2)
    padded = xp.pad(x, pad, mode="reflect")
    n = x.shape[axis]
    out = None
    for k, weight in enumerate(BINOMIAL_5):  # out[i] = sum_k w_k * x[i + k - 2]
        window = [slice(None)] * x.ndim
        window[axis] = slice(k, k + n)
        term = (gain * weight) * padded[tuple(window)]
        out = term if out is None else out + term
    return out


def pyramid_down(x):
    """Blur then keep every other row and column: (N, s, s, C) -> (N, s/2, s/2, C). Like cv2.pyrDown."""
    return _blur_axis(_blur_axis(x, 1), 2)[:, ::2, ::2]


def pyramid_up(x):
    """Insert zeros between pixels then blur with 4x the filter: (N, s, s, C) -> (N, 2s, 2s, C). Like cv2.pyrUp.

    Three of every four pixels are zeros, so the filter is scaled by 4 (2 per axis) to keep brightness.
    """
    xp = get_array_module(x)
    n, h, w, c = x.shape
    up = xp.zeros((n, 2 * h, 2 * w, c), dtype=x.dtype)
    up[:, ::2, ::2] = x
    return _blur_axis(_blur_axis(up, 1, gain=2.0), 2, gain=2.0)


def laplacian_pyramid(images, levels):
    """Split images into ``levels`` frequency bands: band-passes (finest first) then one low-pass.

    level i < levels - 1:  g_i - up(g_{i+1})      where g_0 = image, g_{i+1} = down(g_i)
    last level:            g_{levels - 1}         (the coarse image itself)
    Adding the levels back (up-sampling as you go) gives the image exactly.

    >>> x = np.arange(2 * 32 * 32 * 3, dtype=np.uint8).reshape(2, 32, 32, 3)
    >>> [level.shape for level in laplacian_pyramid(x, 2)]
    [(2, 32, 32, 3), (2, 16, 16, 3)]
    """
    xp = get_array_module(images)
    gaussian = [images.astype(xp.float32)]
    for _ in range(levels - 1):
        gaussian.append(pyramid_down(gaussian[-1]))
    bands = [g - pyramid_up(coarser) for g, coarser in zip(gaussian[:-1], gaussian[1:])]
    return bands + [gaussian[-1]]


def _cut_patches(level, corners):
    """Patches (M, 7, 7, 3) of ``level`` (N, s, s, 3); ``corners`` = (image, top, left), each (M,)."""
    xp = get_array_module(level)
    image, top, left = corners
    offsets = xp.arange(PATCH_SIZE)
    rows = (top[:, None] + offsets)[:, :, None]    # (M, 7, 1)
    cols = (left[:, None] + offsets)[:, None, :]   # (M, 1, 7)
    return level[image[:, None, None], rows, cols]  # (M, 7, 7) indices -> (M, 7, 7, 3)


def _channel_stats(level):
    """Per-channel mean and std of a pyramid level (N, s, s, 3) over images and pixels: two (3,) arrays.

    Karras takes these over the cut patches; over the whole level is the same up to sampling (border
    pixels are a little rarer in patches) and 6x cheaper than over 128 overlapping patches per image.
    """
    xp = get_array_module(level)
    flat = level.reshape(-1, level.shape[-1])       # (N*s*s, 3)
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    # A constant channel (std 0, e.g. the band-pass of flat images) would divide by zero; leave it unscaled.
    return mean, xp.where(std > 0, std, 1.0).astype(level.dtype)


def sliced_wasserstein_1d(a, b, dirs):
    """Mean over directions of the 1-D Wasserstein-1 distance between the projections of a and b.

    a, b (M, K) two point clouds of equal size; dirs (K, D) unit directions. In 1-D the optimal
    transport plan matches the i-th smallest of one set with the i-th smallest of the other, so
    W1 = mean_i |sort(a @ d)_i - sort(b @ d)_i|.

    >>> a = np.array([[0.0], [1.0], [2.0]], np.float32)
    >>> float(sliced_wasserstein_1d(a, a[::-1] + 0.5, np.ones((1, 1), np.float32)))
    0.5
    """
    xp = get_array_module(a, b, dirs)
    # dirs.T @ a.T is (D, M) and C-contiguous, so each direction's values sort along the fast axis.
    proj_a, proj_b = dirs.T @ a.T, dirs.T @ b.T
    proj_a.sort(axis=1)   # in place: the sort is most of the metric's running time
    proj_b.sort(axis=1)
    return xp.abs(proj_a - proj_b).mean()


def sliced_wasserstein(images, reference, *, seed=0, patches_per_image=128, directions=128, repeats=4,
                       normalize="reference"):
    """Patch SWD x 1e3 between an image set and a reference set, per pyramid level; see the module doc.

    images, reference   uint8 (N, S, S, 3) sets, e.g. generated frogs and real frogs (S = 32)
    seed                picks patches, directions and (if the sizes differ) the subsample
    patches_per_image   random 7 x 7 patches per image and level (Karras: 128)
    directions, repeats directions per repeat and number of repeats; the distance is averaged over
                        repeats (Karras: 128 and 4, so 512 directions in all)
    normalize           "reference": both sets use the reference's per-channel mean and std (default,
                        sees brightness and colour shifts); "self": each set its own (Karras)

    When the sets differ in size, the larger is subsampled (seeded, without replacement) to the size
    of the smaller, so that both give the same number of patches. Patch positions are drawn once and
    used for both sets (image i of each set gets the same positions), so a set compared with itself
    gives exactly 0. Works on NumPy or CuPy arrays; the random draws are made on the host so that
    both backends give the same number up to float rounding.

    >>> rng = np.random.default_rng(0)
    >>> real = rng.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8)
    >>> sliced_wasserstein(real, real).mean
    0.0
    >>> darker = (real // 2).astype(np.uint8)
    >>> result = sliced_wasserstein(darker, real)
    >>> result.resolutions, result.mean > 100
    ((32, 16), True)
    """
    function = "sliced_wasserstein"
    check_images(images, "images", function)
    check_images(reference, "reference", function)
    check_same_size(images, reference, ("images", "reference"), function)
    size = images.shape[1]
    if images.shape[2] != size or size < MIN_RESOLUTION or size % MIN_RESOLUTION \
            or (size // MIN_RESOLUTION) & (size // MIN_RESOLUTION - 1):
        raise ValueError(f"{function}: images must be square with a side of 16 * 2**k pixels (16, 32, 64, ...), "
                         f"got {images.shape[1]} x {images.shape[2]}")
    if normalize not in ("reference", "self"):
        raise ValueError(f"{function}: normalize must be 'reference' or 'self', got {normalize!r}")
    patches_per_image = arguments.integer(patches_per_image, "patches_per_image", function, 1, MAX_PATCHES)
    directions = arguments.integer(directions, "directions", function, 1, MAX_DIRECTIONS)
    repeats = arguments.integer(repeats, "repeats", function, 1, MAX_REPEATS)  # time, not memory: no hang
    xp = get_array_module(images, reference)

    rng = np.random.default_rng(arguments.integer(seed, "seed", function, 0))  # host: the same on NumPy and CuPy
    n = min(images.shape[0], reference.shape[0])
    m = n * patches_per_image  # the descriptors (M, 147) and their projections (directions, M), made below
    arguments.check_size((m, 3 * PATCH_SIZE ** 2), 4, "the patch descriptors", function)
    arguments.check_size((directions, m), 4, "the projections", function)
    images, reference = subsample(images, n, rng), subsample(reference, n, rng)
    levels = (size // MIN_RESOLUTION).bit_length()  # 16 px -> 1 level, 32 px -> 2 (32, 16), 64 px -> 3
    resolutions = tuple(size >> i for i in range(levels))

    distances = []
    for level_a, level_b, s in zip(laplacian_pyramid(images, levels), laplacian_pyramid(reference, levels),
                                   resolutions):
        mean_b, std_b = _channel_stats(level_b)
        mean_a, std_a = (mean_b, std_b) if normalize == "reference" else _channel_stats(level_a)
        level_a, level_b = (level_a - mean_a) / std_a, (level_b - mean_b) / std_b   # per channel
        m = n * patches_per_image
        corners = (np.repeat(np.arange(n), patches_per_image),      # image i gives patches_per_image patches
                   rng.integers(0, s - PATCH_SIZE + 1, size=m),     # top row: the patch lies inside the image
                   rng.integers(0, s - PATCH_SIZE + 1, size=m))     # left column
        corners = tuple(xp.asarray(c) for c in corners)
        desc_a = _cut_patches(level_a, corners).reshape(m, -1)      # (M, 7, 7, 3) -> (M, 147)
        desc_b = _cut_patches(level_b, corners).reshape(m, -1)
        per_repeat = []
        for _ in range(repeats):
            dirs = rng.standard_normal((desc_a.shape[1], directions))
            dirs /= np.sqrt((dirs ** 2).sum(axis=0, keepdims=True))  # unit columns
            per_repeat.append(float(sliced_wasserstein_1d(desc_a, desc_b, xp.asarray(dirs, dtype=xp.float32))))
        distances.append(1e3 * sum(per_repeat) / repeats)

    return SWDResult(levels=tuple(distances), resolutions=resolutions, mean=sum(distances) / levels,
                     n_images=n, patches_per_level=n * patches_per_image)
