"""Time one training step of frog_dcgan.py's presets and variants of them: the step-time half of choosing one.

    python benchmarks/preset_bench.py                              # every preset and the variants below
    python benchmarks/preset_bench.py --steps 9 --only cpu "cpu b32"

Each candidate is a preset of ``examples/frog_dcgan.py``, some with a few keys changed; all train on
the same real batch (uniform noise: the pixels do not change the time). After one warm-up step each,
the candidates take turns, one step each per round, so a busy neighbour slows all alike. Printed: the
parameters of G and D, the median wall seconds of ``gan_step`` (the whole step: fakes, D's step or
steps, G's step, DiffAugment where the preset has it; no saves, no weight average) and the steps that
make 30 minutes at that rate. Results: docs/benchmarks.md, "The presets' step"; their FIDs:
docs/quality.md, rounds 5 to 7.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# name: (preset, keys changed). Generator and discriminator widths are one per map size (DCGAN's).
# Round 5's candidates are variants at batch 32 (the preset's batch then); the last two are round 6's;
# "cpu b8" and "cpu translation" are round 7's.
B32 = {"batch_size": 32}
DCGAN = lambda filters, **more: {"architecture": "dcgan", "filters": filters, **more}
CANDIDATES = {
    "book": ("book", {}),
    "cpu": ("cpu", {}),
    "cpu b8": ("cpu", {"batch_size": 8}),
    "cpu translation": ("cpu", {"augment": "translation"}),
    "cpu b32 (round 5)": ("cpu", B32),
    "cpu b64": ("cpu", {"batch_size": 64}),
    "cpu b32 DiffAugment": ("cpu", {**B32, "augment": "color,translation,cutout"}),
    "cpu b32 translation": ("cpu", {**B32, "augment": "translation"}),
    "cpu b32 combined batch": ("cpu", {**B32, "separate_batches": False}),
    "cpu b32 D without BN": ("cpu", {**B32, "discriminator": DCGAN([64, 128, 256], batch_norm=False)}),
    "cpu b32 G128-64-32": ("cpu", {**B32, "generator": DCGAN([128, 64, 32])}),
    "cpu b32 D32-64-128": ("cpu", {**B32, "discriminator": DCGAN([32, 64, 128])}),
    "cpu b32 G128 D32": ("cpu", {**B32, "generator": DCGAN([128, 64, 32]), "discriminator": DCGAN([32, 64, 128])}),
}


def build_step(preset, changes=None):
    """frog_dcgan's ``gan_step`` for a preset with some keys changed, on 8 batches of uniform noise (the
    pixels do not change the time), after one warm-up step; returns (step, G, D). NumPy must be imported
    after the thread counts are set, so this imports it here."""
    import numpy as np
    sys.path.insert(0, str(REPO / "examples"))  # frog_dcgan.py is a script, not a package
    import frog_dcgan
    import minigan

    config = {**frog_dcgan.PRESETS[preset], **(changes or {}), "seed": 0, "class": 6}
    g, d, gan, augment = frog_dcgan.build_models(config)
    batch = config["batch_size"]
    real = minigan.backend.asarray(np.random.default_rng(0).uniform(-1, 1, (8 * batch, 32, 32, 3)).astype("float32"))
    cursor = minigan.training.BatchCursor(len(real), batch)
    step = frog_dcgan.gan_step(g, d, gan, augment, real, cursor, config, frog_dcgan.BookPictures(config, None))
    step(0)  # warm-up: first-call allocations
    return step, g, d


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=5, help="timed steps per candidate (5)")
    p.add_argument("--threads", type=int, help="BLAS threads (default: OpenBLAS's own choice)")
    p.add_argument("--only", nargs="*", help="candidate names to run (all)")
    args = p.parse_args(argv)
    if args.threads:  # before NumPy is imported
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)
    import minigan

    minigan.set_backend("numpy")
    runs = {}
    for name, (preset, changes) in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        step, g, d = build_step(preset, changes)
        runs[name] = (step, g.count_params(), d.count_params(), [])
    for k in range(args.steps):
        for step, _, _, times in runs.values():
            start = time.perf_counter()
            step(k + 1)
            times.append(time.perf_counter() - start)
    print(f"{'candidate':24s} {'params G':>10s} {'params D':>9s} {'s/step':>7s} {'steps in 30 min':>16s}")
    for name, (_, g_params, d_params, times) in runs.items():
        median = statistics.median(times)
        print(f"{name:24s} {g_params:10,d} {d_params:9,d} {median:7.3f} {1800 / median:16,.0f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}; threads: {args.threads or 'default'}")


if __name__ == "__main__":
    main()
