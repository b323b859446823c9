"""Time one training step of frog_dcgan.py's network at several sizes: how the cpu preset was chosen.

    python benchmarks/preset_bench.py                       # the candidates below, 5 timed steps each
    python benchmarks/preset_bench.py --steps 9 --threads 1

Each candidate is a preset of ``examples/frog_dcgan.py`` with its generator, discriminator and batch
changed; all train on the same real batch (uniform noise: the pixels do not change the time). After
one warm-up step each, the candidates take turns, one step each per round, so a busy neighbour slows
all alike. Printed: parameters of G and D, the median wall seconds per ``train_step`` (the loop body:
predict, D step, G step; no saves, no weight average) and the steps that make 30 minutes at that rate.
Results and their reading: docs/quality.md, section 4.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# name: (generator, discriminator filters, batch). "book16" is the book's topology (Dense -> 16x16,
# two 5x5 convolutions at 32x32); the "s8" ones start from 8x8 and upsample twice; the "t" ones taper
# (one width per map size); "t8 G128-64-32 D64-256" is the cpu preset now.
CANDIDATES = {
    "book16 G64 D64 b32": ({"seed_filters": 64, "filters": 64}, 64, 32),
    "s8 G64 D64 b32": ({"seed_filters": 64, "filters": 64, "seed_size": 8, "full_size_convs": 0}, 64, 32),
    "s8 G96 D64 b32": ({"seed_filters": 96, "filters": 96, "seed_size": 8, "full_size_convs": 0}, 64, 32),
    "s8 G128 D64 b32": ({"seed_filters": 128, "filters": 128, "seed_size": 8, "full_size_convs": 0}, 64, 32),
    "s8 G128 D128 b32": ({"seed_filters": 128, "filters": 128, "seed_size": 8, "full_size_convs": 0}, 128, 32),
    "s8 G128 D64 b64": ({"seed_filters": 128, "filters": 128, "seed_size": 8, "full_size_convs": 0}, 64, 64),
    "s8 G128 +1 full conv": ({"seed_filters": 128, "filters": 128, "seed_size": 8, "full_size_convs": 1}, 64, 32),
    # tapered (DCGAN): a width per map size, halving as the maps double; docs/quality.md, section 4, round 3
    "t8 G128-64-32 D64": ({"seed_filters": 128, "filters": [128, 64, 32], "seed_size": 8, "full_size_convs": 1}, 64, 32),
    "t8 G256-128-64 D64": ({"seed_filters": 256, "filters": [256, 128, 64], "seed_size": 8, "full_size_convs": 1}, 64, 32),
    "t4 G256..32 D64": ({"seed_filters": 256, "filters": [256, 128, 64, 32], "seed_size": 4, "full_size_convs": 1}, 64, 32),
    "t8 G128-64-32 D64-256": ({"seed_filters": 128, "filters": [128, 64, 32], "seed_size": 8, "full_size_convs": 1},
                              [64, 64, 128, 256], 32),
    "t8 G128-64-32 D128": ({"seed_filters": 128, "filters": [128, 64, 32], "seed_size": 8, "full_size_convs": 1}, 128, 32),
    "t8 G128-64-32 D64 b64": ({"seed_filters": 128, "filters": [128, 64, 32], "seed_size": 8, "full_size_convs": 1}, 64, 64),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=5, help="timed steps per candidate (5)")
    p.add_argument("--threads", type=int, help="BLAS threads (default: OpenBLAS's own choice)")
    p.add_argument("--only", nargs="*", help="candidate names to run (all)")
    args = p.parse_args(argv)
    if args.threads:  # before NumPy is imported
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)
    sys.path.insert(0, str(REPO / "examples"))
    import numpy as np
    import frog_dcgan
    import minigan

    minigan.set_backend("numpy")
    runs = {}
    for name, (generator, d_filters, batch) in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        config = {**frog_dcgan.PRESETS["cpu"], "generator": generator, "batch_size": batch,
                  "discriminator": {"filters": d_filters, "dropout": 0.4}}
        g, d, gan = frog_dcgan.build_models(config)
        real = minigan.backend.asarray(np.random.default_rng(0).uniform(-1, 1, (batch, 32, 32, 3)).astype("float32"))
        run = frog_dcgan.Run(config, None, g, d, gan, real, fixed_noise=None)
        frog_dcgan.train_step(run, real)  # warm-up: first-call allocations
        runs[name] = (run, real, g.count_params(), d.count_params(), [])
    for _ in range(args.steps):
        for run, real, _, _, times in runs.values():
            start = time.perf_counter()
            frog_dcgan.train_step(run, real)
            times.append(time.perf_counter() - start)
    print(f"{'candidate':24s} {'params G':>10s} {'params D':>9s} {'s/step':>7s} {'steps in 30 min':>16s}")
    for name, (_, _, g_params, d_params, times) in runs.items():
        median = statistics.median(times)
        print(f"{name:24s} {g_params:10,d} {d_params:9,d} {median:7.2f} {1800 / median:16,.0f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}; threads: {args.threads or 'default'}")


if __name__ == "__main__":
    main()
