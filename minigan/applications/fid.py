"""FID and KID of a set of images against a reference set, with the FID network on minigan's engine.

    fid = FrechetInceptionDistance(test_frogs)       # uint8 (1000, 32, 32, 3): the reference set
    result = fid(generated)                          # uint8 (N, 32, 32, 3)
    result.fid, result.kid, result.kid_sd

The features are the 2048-d pool3 output of ``InceptionV3(weights="fid")`` (``inception_v3.py``) on
``preprocess_input`` of each image; FID and KID come from ``minigan.metrics.fid``. The images go through
the network in batches of ``batch_size`` (32 by default: its biggest activation is then 32 x 147 x 147 x
64 floats, 177 MB, and the whole pass stays near 1.5 GB), so memory does not grow with N.

The reference set's features are computed once and kept in ``~/.minigan/fid/`` (``$MINIGAN_HOME``),
keyed by the weights' SHA-256 and a SHA-256 of the images' bytes: the 1,000 test frogs cost ~2 minutes
on a 2-core CPU the first time and nothing after. Features, not statistics, are kept, because KID
needs them (1000 x 2048 float32: 8 MB).

Both scores depend on N. FID is biased: even two samples of one distribution score above 0, and less
so the more images (the floor at N = 1,000 for CIFAR-10 frogs is ~41.6, at 5,000 ~29.9; docs/quality.md),
so only FIDs at the same N compare. KID is unbiased (0 for a perfect generator whatever N); its mean
and sd are over ``kid_subsets`` random subsets of ``kid_subset_size`` images of each set.

>>> from minigan.backend import numpy as np
>>> images = np.zeros((4, 32, 32, 3), np.uint8)
>>> image_set_key(images) == image_set_key(images.copy()), image_set_key(images) == image_set_key(images + 1)
(True, False)
"""

import hashlib
from dataclasses import dataclass

from .. import arguments, backend
from ..backend import numpy as np
from ..files import minigan_home
from ..serialization import load_arrays, save_arrays
from ..metrics.fid import feature_statistics, frechet_distance, kernel_inception_distance
from ..tensor import no_grad
from . import inception_v3


@dataclass
class FIDResult:
    fid: float           # Frechet distance of the two feature Gaussians (lower is better)
    kid: float           # kernel inception distance, mean over subsets (unbiased; 0 is perfect)
    kid_sd: float        # its sd over the subsets
    count: int           # images scored
    reference_count: int

    def as_dict(self):
        return dict(fid=self.fid, kid=self.kid, kid_sd=self.kid_sd, fid_samples=self.count,
                    fid_reference=self.reference_count)


def image_set_key(images):
    """16 hex digits of the SHA-256 of an image set's shape, dtype and bytes: names its cached features."""
    host = np.ascontiguousarray(backend.to_numpy(images))
    digest = hashlib.sha256(f"{host.shape}{host.dtype}".encode())
    digest.update(host.data)
    return digest.hexdigest()[:16]


def check_images(images, name):
    if not hasattr(images, "dtype") or images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        got = f"{images.dtype} of shape {images.shape}" if hasattr(images, "dtype") else type(images).__name__
        raise ValueError(f"FID: {name} must be uint8 images (N, H, W, 3), values 0..255, got {got}")
    if images.shape[0] < 2:
        raise ValueError(f"FID: {name} must hold at least 2 images (a covariance needs two), got {images.shape[0]}")


class FrechetInceptionDistance:
    """Scores image sets against ``reference`` (uint8 (R, H, W, 3)) by FID and KID; see the module doc.

    ``source``: the FID network's TorchScript file if not the installed wheel's; ``cache``: keep the
    reference features in ``~/.minigan/fid/`` (True), in a given folder, or nowhere (False).
    """

    def __init__(self, reference, batch_size=32, source=None, cache=True, kid_subsets=100, kid_subset_size=500):
        check_images(reference, "the reference images")
        self.batch_size = arguments.integer(batch_size, "batch_size", "FID", 1, 4096)
        self.kid_subsets = arguments.integer(kid_subsets, "kid_subsets", "FID", 1, 10_000)
        self.kid_subset_size = arguments.integer(kid_subset_size, "kid_subset_size", "FID", 2)
        self.reference, self.source = reference, source
        self.cache = (minigan_home() / "fid") if cache is True else cache
        self._model = self._reference_features = None

    @property
    def model(self):
        """The network, built and loaded at first use (a few seconds; the weights are converted once)."""
        if self._model is None:
            self._model = inception_v3.InceptionV3(weights="fid", source=self.source)
        return self._model

    def features(self, images):
        """(N, 2048) float32 host features of uint8 images, ``batch_size`` images at a time."""
        check_images(images, "the images")
        xp = backend.array_module()
        out = []
        with no_grad():
            for start in range(0, len(images), self.batch_size):
                batch = inception_v3.preprocess_input(xp.asarray(images[start:start + self.batch_size]))
                out.append(backend.to_numpy(self.model(batch, training=False).data))
        return np.concatenate(out)

    def reference_features(self):
        """The reference set's features: from the cache file if it is there, else computed and cached."""
        if self._reference_features is None:
            path = None
            if self.cache:
                weights = inception_v3.sha256_of(inception_v3.fid_weights_source(self.source))[:16]
                path = self.cache / f"inception_{weights}_images_{image_set_key(self.reference)}.npz"
                if path.is_file():  # a damaged file is an error naming it, not a silent recomputation
                    self._reference_features = load_arrays(path, required=("features",))["features"]
            if self._reference_features is None:
                self._reference_features = self.features(self.reference)
                if path is not None:
                    save_arrays(path, {"features": self._reference_features})
        return self._reference_features

    def score_features(self, features):
        """FIDResult of features (N, 2048) against the reference's."""
        reference = self.reference_features()
        fid = frechet_distance(*feature_statistics(features), *feature_statistics(reference))
        size = min(self.kid_subset_size, len(features), len(reference))
        kid, kid_sd = kernel_inception_distance(features, reference, subsets=self.kid_subsets, subset_size=size)
        return FIDResult(float(fid), float(kid), float(kid_sd), len(features), len(reference))

    def __call__(self, images):
        """FIDResult of uint8 ``images`` (N >= 2) against the reference set."""
        return self.score_features(self.features(images))
