"""Checks and small helpers shared by the metrics: what an image set must look like.

Every metric here takes image *sets* as uint8 arrays of shape (N, H, W, 3), channels last, values
0..255 -- exactly what ``minigan.datasets.cifar10`` returns and what a PNG holds. Generated images
(floats in [-1, 1] from a tanh) must be converted first, so that real and fake images are compared
after the same rounding.
"""

from ..backend import get_array_module
from ..backend import numpy as np

TO_UINT8_HINT = "convert generator output in [-1, 1] with ((x + 1) * 127.5).round().clip(0, 255).astype('uint8')"


def check_images(images, name, function, min_count=1):
    """Raise a clear error unless ``images`` is a uint8 array of shape (N >= min_count, H, W, 3).

    >>> check_images(np.zeros((2, 32, 32, 3), np.uint8), "images", "f")
    >>> check_images(np.zeros((2, 32, 32), np.uint8), "images", "f")
    Traceback (most recent call last):
    ...
    ValueError: f: images must have shape (N, H, W, 3) (channels last), got shape (2, 32, 32)
    """
    if not hasattr(images, "dtype") or not hasattr(images, "shape"):
        raise TypeError(f"{function}: {name} must be a NumPy or CuPy array, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{function}: {name} must have shape (N, H, W, 3) (channels last), got shape {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"{function}: {name} must have dtype uint8 (values 0..255), got {images.dtype}; {TO_UINT8_HINT}")
    if images.shape[0] < min_count:
        raise ValueError(f"{function}: {name} must hold at least {min_count} images, got {images.shape[0]}")


def check_same_size(a, b, names, function):
    """Raise unless two image sets have images of the same height and width."""
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(
            f"{function}: {names[0]} and {names[1]} must hold images of the same size, "
            f"got {a.shape[1:]} and {b.shape[1:]}"
        )


def subsample(images, count, rng):
    """``count`` images drawn without replacement (order kept), or all of them when there are not more.

    The indices come from the host generator ``rng`` so that NumPy and CuPy pick the same images.
    """
    if images.shape[0] <= count:
        return images
    keep = np.sort(rng.choice(images.shape[0], size=count, replace=False))
    xp = get_array_module(images)
    return images[xp.asarray(keep)]
