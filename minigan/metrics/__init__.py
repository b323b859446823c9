"""Measuring a generator: how close its images are to real ones, and whether it copies or collapses.

* ``sliced_wasserstein(images, reference)`` -- patch statistics at two scales (Karras et al. 2018),
  lower is better; see ``swd.py``.
* ``copy_check(generated, train, test)`` -- nearest-neighbour test for memorised training images and for
  mode collapse; see ``copycheck.py``.
* ``Evaluator`` -- a generator's samples scored with both, SWD placed between the floor (real images)
  and an untrained generator as g = (untrained - generated) / (untrained - floor); see ``evaluation.py``.
* ``frechet_distance``, ``feature_statistics``, ``kernel_inception_distance`` -- FID and KID from
  Inception feature matrices (N, 2048): the math, accurate for singular covariances; see ``fid.py``.

The image metrics take uint8 image sets (N, H, W, 3) on NumPy or CuPy. ``docs/quality.md`` explains how to read them.

>>> from minigan.metrics import sliced_wasserstein, copy_check
>>> import minigan.backend
>>> images = minigan.backend.numpy.zeros((4, 32, 32, 3), dtype="uint8")
>>> sliced_wasserstein(images, images).mean
0.0
"""

from .copycheck import CopyCheckResult, copy_check, mann_whitney_z, nearest_neighbour_distances
from .evaluation import Evaluator, g_score, sample_images, to_uint8
from .fid import feature_statistics, fid_from_features, frechet_distance, kernel_inception_distance
from .swd import SWDResult, laplacian_pyramid, sliced_wasserstein

__all__ = ["sliced_wasserstein", "SWDResult", "laplacian_pyramid",
           "copy_check", "CopyCheckResult", "nearest_neighbour_distances", "mann_whitney_z",
           "Evaluator", "g_score", "sample_images", "to_uint8",
           "feature_statistics", "frechet_distance", "fid_from_features", "kernel_inception_distance"]
