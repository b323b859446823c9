"""Scoring a generator: its samples' SWD placed between two anchors, and the copy check.

An SWD of 180 means nothing on its own: it depends on the number of images, the patches, the data.
So every evaluation measures two anchors the same way, with the same number of images:

    floor      SWD of N real *training* images against the reference (test) images: what a generator
               indistinguishable from the data would score at this sample size. Averaged over several
               random subsets and seeds (``floor_seeds``), since one draw is noisy.
    untrained  SWD of the same architecture, freshly initialised: where training starts.

and reports the normalised score

    g = (untrained - generated) / (untrained - floor)      0: no better than untrained, 1: as close as
                                                          real images are (at this sample size)

together with ``copy_check`` (copying and collapse; see ``copycheck.py``), whose training set is the
images the generator was trained on and whose yardstick is the same reference images.

Notation:
    train      uint8 (T, 32, 32, 3)   the training images (5,000 CIFAR-10 frogs)
    reference  uint8 (R, 32, 32, 3)   held-out real images (the 1,000 test frogs)
    images     uint8 (N, 32, 32, 3)   N generated images, ``to_uint8`` of the generator's output
    z          float32 (N, latent)    their latent vectors, from a host generator seeded with ``seed``

Latent vectors come from ``numpy.random.default_rng(seed)`` on the host, never from ``minigan.random``:
an evaluation in the middle of a training run must not change the noise the run draws next. With a
fixed ``seed``, every evaluation of a run uses the *same* latent vectors, patches and directions (and
so does the untrained baseline), so the differences between two evaluations come from the generator.

>>> from minigan.backend import numpy as np
>>> to_uint8(np.array([-1.0, 0.0, 1.0]), (-1.0, 1.0)).tolist()     # fix_range: [-1, 1] -> 0..255
[0, 128, 255]
>>> to_uint8(np.array([-0.5, 0.5, 1.0]), (0.0, 1.0)).tolist()      # the book: [0, 1], negatives clipped
[0, 128, 255]
>>> g_score(generated=60.0, untrained=500.0, floor=20.0)
0.9166666666666666
"""

import json
import math
import time
from pathlib import Path

from .. import arguments, backend
from ..files import atomic_path
from ..backend import numpy as np
from ..datasets import DatasetError
from ..preprocessing.image import to_uint8
from .copycheck import copy_check
from .swd import sliced_wasserstein



def sample_images(generator, count, latent_dim, value_range, seed=0, batch_size=250):
    """``count`` uint8 images (host NumPy) from ``generator`` on latents drawn from a host generator.

    The latents are N(0, 1) float32 from ``numpy.random.default_rng(seed)``: the same numbers on NumPy
    and CuPy, and ``minigan.random`` (the training stream) is not touched.
    """
    z = np.random.default_rng(seed).standard_normal((count, latent_dim), dtype=np.float32)
    return to_uint8(generator.predict(backend.asarray(z), batch_size=batch_size), value_range)


def g_score(generated, untrained, floor):
    """``(untrained - generated) / (untrained - floor)``; NaN when the anchors do not differ."""
    span = untrained - floor
    return (untrained - generated) / span if span > 0 else float("nan")


def _summary(results):
    """Mean and sample sd per level and of the mean, over a list of SWDResults, as a JSON-able dict."""
    per_level = list(zip(*(r.levels for r in results)))
    means = [r.mean for r in results]
    sd = lambda values: float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return {"levels": [float(np.mean(v)) for v in per_level], "levels_sd": [sd(v) for v in per_level],
            "mean": float(np.mean(means)), "sd": sd(means), "runs": len(results),
            "resolutions": list(results[0].resolutions)}


class Evaluator:
    """Score generators against ``reference`` (real, held out), with anchors measured once and cached.

    train, reference     uint8 image sets (see the module doc); the floor draws ``samples`` of ``train``
    samples              N, the generated images per evaluation (and the size of every SWD set)
    patches_per_image, directions, repeats   passed to ``sliced_wasserstein``
    seed                 latents, SWD patches and directions of every evaluation (and the baseline)
    floor_seeds          how many subsets/seeds the floor averages over (0, 1, ..., floor_seeds - 1)
    cache                a JSON file remembering floors and baselines by their settings, or None
    fid                  an FID scorer for the same reference images (``minigan.applications.
                         FrechetInceptionDistance(reference)``), or None: then the report has FID and KID too
    """

    def __init__(self, train, reference, *, samples=1000, patches_per_image=128, directions=128, repeats=4,
                 seed=0, floor_seeds=5, cache=None, fid=None):
        samples = arguments.integer(samples, "samples", "Evaluator", 2)
        floor_seeds = arguments.integer(floor_seeds, "floor_seeds", "Evaluator", 1, 1000)
        seed = arguments.integer(seed, "seed", "Evaluator", 0)
        if len(train) < samples:  # a DatasetError: a script's "bad data" (exit status 1), not a traceback
            raise DatasetError(f"Evaluator: the floor needs {samples} training images, only {len(train)} given; "
                               f"ask for fewer samples")
        self.train, self.reference = train, reference
        self.samples, self.seed, self.floor_seeds = int(samples), int(seed), int(floor_seeds)
        self.swd_options = {"patches_per_image": int(patches_per_image), "directions": int(directions),
                            "repeats": int(repeats)}
        self.cache = Path(cache) if cache is not None else None
        self.fid = fid
        self._floor = None

    @property
    def settings(self):
        """What the numbers depend on; the cache keys start with it."""
        return {"samples": self.samples, "seed": self.seed, "train": len(self.train),
                "reference": len(self.reference), **self.swd_options}

    def swd(self, images, seed=None):
        return sliced_wasserstein(images, self.reference, seed=self.seed if seed is None else seed,
                                  **self.swd_options)

    def floor(self):
        """SWD of ``samples`` training images (a random subset per seed) against the reference, averaged
        over ``floor_seeds`` seeds: {"levels", "levels_sd", "mean", "sd", "runs", "resolutions"}."""
        if self._floor is None:
            def compute():
                results = []
                for seed in range(self.floor_seeds):
                    pick = np.sort(np.random.default_rng(seed).choice(len(self.train), self.samples, replace=False))
                    results.append(self.swd(self.train[backend.get_array_module(self.train).asarray(pick)], seed))
                return _summary(results)
            self._floor = self._cached({"anchor": "floor", "floor_seeds": self.floor_seeds}, compute)
        return self._floor

    def untrained(self, build_generator, latent_dim, value_range, key):
        """SWD of a freshly built generator, ``build_generator()``, called only when ``key`` (a JSON-able
        dict: the architecture, the range, the seed of its initialisation) is not in the cache yet.

        During a training run, build it inside ``minigan.random.scoped_seed(seed)``: the initialisers
        draw from ``minigan.random``, and the run's stream must be left as it was.
        """
        def compute():
            return _summary([self.swd(self.sample(build_generator(), latent_dim, value_range))])
        return self._cached({"anchor": "untrained", **key}, compute)

    def sample(self, generator, latent_dim, value_range):
        return sample_images(generator, self.samples, latent_dim, value_range, seed=self.seed)

    def evaluate(self, generator, latent_dim, value_range, untrained):
        """A report (JSON-able dict) on ``generator``; ``untrained`` as returned by ``self.untrained``."""
        start = time.perf_counter()
        images = self.sample(generator, latent_dim, value_range)
        swd = self.swd(images)
        floor = self.floor()
        check = copy_check(images, self.train, self.reference, seed=self.seed)
        scores = {} if self.fid is None else {"fid": self.fid(images).as_dict()}
        return {**scores,
            "settings": self.settings,
            "swd": {"levels": list(swd.levels), "mean": swd.mean, "resolutions": list(swd.resolutions)},
            "floor": floor, "untrained": untrained,
            "g": g_score(swd.mean, untrained["mean"], floor["mean"]),
            "g_levels": [g_score(s, u, f) for s, u, f in zip(swd.levels, untrained["levels"], floor["levels"])],
            "copy_check": {"z": check.z, "fraction_closer": check.fraction_closer,
                           "generated_nn_median": check.generated_nn_median, "test_nn_median": check.test_nn_median,
                           "diversity_ratio": check.diversity_ratio, "copying_alarm": check.copying_alarm,
                           "collapse_alarm": check.collapse_alarm},
            "seconds": time.perf_counter() - start,
        }

    def _cached(self, key, compute):
        """``compute()``, or its value from the cache file under ``settings + key`` (written atomically)."""
        name = json.dumps({**self.settings, **key}, sort_keys=True)
        stored = json.loads(self.cache.read_text()) if self.cache is not None and self.cache.exists() else {}
        if name not in stored:
            stored[name] = compute()
            if self.cache is not None:
                with atomic_path(self.cache, suffix=".json") as tmp:
                    tmp.write_text(json.dumps(stored, indent=1, sort_keys=True))
        return stored[name]


def log_fields(report):
    """The few numbers of a report that go into a training log line (flat keys, rounded)."""
    check = report["copy_check"]
    fields = {key: report["fid"][key] for key in ("fid", "kid", "kid_sd")} if "fid" in report else {}
    fields["swd"] = report["swd"]["mean"]
    for resolution, value in zip(report["swd"]["resolutions"], report["swd"]["levels"]):
        fields[f"swd_{resolution}"] = value
    fields.update(swd_floor=report["floor"]["mean"], swd_untrained=report["untrained"]["mean"], g=report["g"])
    fields.update(copy_z=check["z"], copy_closer=check["fraction_closer"], diversity=check["diversity_ratio"],
                  copying_alarm=check["copying_alarm"], collapse_alarm=check["collapse_alarm"],
                  eval_time=report["seconds"])
    return {key: round(value, 4) if isinstance(value, float) and math.isfinite(value) else value
            for key, value in fields.items()}


def format_report(report):
    """The short table ``evaluate_frogs.py`` prints."""
    swd, floor, untrained = report["swd"], report["floor"], report["untrained"]
    settings, check = report["settings"], report["copy_check"]
    header = "".join(f"{f'{r} px':>10}" for r in swd["resolutions"]) + f"{'mean':>10}"
    row = lambda name, levels, mean: f"{name:<22}" + "".join(f"{v:10.1f}" for v in levels) + f"{mean:10.1f}"
    lines = [
        f"SWD x 1e3, {settings['samples']} images against as many of the {settings['reference']} reference "
        f"images ({settings['patches_per_image']} patches per image, {settings['directions']} x "
        f"{settings['repeats']} directions):",
        f"{'':<22}{header}",
        row("generated", swd["levels"], swd["mean"]),
        row(f"floor (real, {floor['runs']} runs)", floor["levels"], floor["mean"])
        + f"   sd {floor['sd']:.1f}",
        row("untrained generator", untrained["levels"], untrained["mean"]),
        f"{'g (0 untrained, 1 real)':<22}" + "".join(f"{v:10.2f}" for v in report["g_levels"])
        + f"{report['g']:10.2f}",
        f"copy check against {settings['train']} training images: z = {check['z']:+.2f} (alarm below -3), "
        f"{100 * check['fraction_closer']:.1f}% closer than the reference's 1st percentile, "
        f"diversity ratio {check['diversity_ratio']:.2f} (alarm below 0.5)",
    ]
    if "fid" in report:
        fid = report["fid"]
        lines.insert(0, f"FID {fid['fid']:.2f}, KID {fid['kid']:.4f} +- {fid['kid_sd']:.4f}: {fid['fid_samples']} images "
                        f"against {fid['fid_reference']} reference images (Inception-v3 of the 2015 TF graph; "
                        f"lower is better, and FID only compares at the same number of images)")
    alarms = [name for name in ("copying_alarm", "collapse_alarm") if check[name]]
    lines.append(f"alarms: {', '.join(alarms) if alarms else 'none'}")
    return "\n".join(lines)
