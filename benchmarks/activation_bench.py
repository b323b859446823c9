"""Why minigan's LeakyReLU is ``slope * x`` and not ``where(x > 0, x, alpha x)``: both, timed side by side.

    python benchmarks/activation_bench.py                 # the cpu preset's D activations, then its step
    python benchmarks/activation_bench.py --repeats 50 --threads 1 --step-pairs 0

Three ways to compute one LeakyReLU forward and backward (alpha 0.2) on float32 activations of the
shapes the ``cpu`` preset's discriminator makes at batch 16 (N, H, W, C below), each timed on the same
random x (half its signs negative, in no order, as a trained layer's are):

    minigan   F.leaky_relu(x).backward(gy): y = slope x, slope = m + (1 - m) alpha, m = (x > 0) as 0./1.
    where     the definition with NumPy's where, forward and backward (minigan's op before 2026-12-03)
    pytorch   torch.nn.functional.leaky_relu forward and backward, when torch is installed

Printed: the median milliseconds of forward + backward per shape and in all, and each one's ratio to
minigan's. Then the whole step: ``frog_dcgan.gan_step`` of the ``cpu`` preset (as preset_bench.py
times it), run ``--step-pairs`` times with each LeakyReLU, alternating step by step in one process so
that a busy minute slows both alike (the ``where`` form is put in place of the Function's forward and
backward for its steps, and taken out again). Printed: the median step of each, and the median of the
paired ratios. ``where`` picks x or alpha x element by element; on a random sign pattern that costs a
mispredicted branch about every other element, and the four plain array passes of the slope form are
cheaper. Results: docs/benchmarks.md, "LeakyReLU without `where`".
"""

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHAPES = [(16, 16, 16, 64), (16, 8, 8, 128), (16, 4, 4, 256)]  # D's three LeakyReLUs at batch 16
ALPHA = 0.2


def timed(fn, repeats):
    fn()  # warm-up: first-call allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def contenders(x, gy):
    """name -> a function running one forward and one backward on x (float32 NumPy) and gy."""
    import numpy as np
    import minigan
    from minigan import functional as F

    def run_minigan():
        t = minigan.tensor(x, requires_grad=True)
        F.leaky_relu(t, ALPHA).backward(minigan.tensor(gy))

    a = np.float32(ALPHA)

    def run_where():
        y = np.where(x > 0, x, x * a)
        gx = gy * np.where(x > 0, np.float32(1), a)
        return y, gx

    found = {"minigan": run_minigan, "where": run_where}
    try:
        import torch
    except ImportError:
        return found
    tx, tgy = torch.from_numpy(x).requires_grad_(), torch.from_numpy(gy)

    def run_torch():
        tx.grad = None
        torch.nn.functional.leaky_relu(tx, ALPHA).backward(tgy)

    found[f"pytorch {torch.__version__}"] = run_torch
    return found


@contextlib.contextmanager
def where_leaky_relu():
    """Inside the block, minigan's LeakyReLU Function computes by NumPy's where (the old form)."""
    import numpy as np
    from minigan.functional import activations

    cls = activations.LeakyReLU
    saved = cls.forward, cls.backward

    def forward(self, x, alpha):
        self.x, self.alpha = x, alpha
        return np.where(x > 0, x, x * x.dtype.type(alpha))

    def backward(self, gy):
        slope = np.where(self.x > 0, self.x.dtype.type(1), self.x.dtype.type(self.alpha))
        return gy * activations.Tensor(slope)

    cls.forward, cls.backward = forward, backward
    try:
        yield
    finally:
        cls.forward, cls.backward = saved


def paired_steps(pairs):
    """Median seconds of the cpu preset's step with each LeakyReLU, and the median paired ratio."""
    from preset_bench import build_step  # the sibling benchmark: the step as it times it

    step, _, _ = build_step("cpu")
    times = {"minigan": [], "where": []}
    for k in range(pairs):
        order = ("minigan", "where") if k % 2 == 0 else ("where", "minigan")  # neither always goes first
        for name in order:
            with where_leaky_relu() if name == "where" else contextlib.nullcontext():
                start = time.perf_counter()
                step(k + 1)
                times[name].append(time.perf_counter() - start)
    ratios = [w / m for m, w in zip(times["minigan"], times["where"])]
    return {name: statistics.median(t) for name, t in times.items()}, statistics.median(ratios)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=30, help="timed runs per shape and contender (30)")
    p.add_argument("--threads", type=int, default=2, help="BLAS / torch threads (2)")
    p.add_argument("--step-pairs", type=int, default=60, help="cpu preset steps with each LeakyReLU (60; 0: none)")
    args = p.parse_args(argv)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)  # before NumPy is imported
    sys.path.insert(0, str(REPO))
    import numpy as np

    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    totals = {}
    print(f"{'shape (N, H, W, C)':22s} {'contender':20s} {'ms':>7s} {'ratio to minigan':>17s}")
    for shape in SHAPES:
        x = rng.standard_normal(shape).astype("float32")
        gy = rng.standard_normal(shape).astype("float32")
        results = {name: timed(fn, args.repeats) for name, fn in contenders(x, gy).items()}
        for name, seconds in results.items():
            totals[name] = totals.get(name, 0.0) + seconds
            print(f"{str(shape):22s} {name:20s} {1e3 * seconds:7.3f} {seconds / results['minigan']:17.2f}")
    for name, seconds in totals.items():
        print(f"{'all three':22s} {name:20s} {1e3 * seconds:7.3f} {seconds / totals['minigan']:17.2f}")
    if args.step_pairs:
        medians, ratio = paired_steps(args.step_pairs)
        print(f"cpu preset step, {args.step_pairs} of each: minigan {medians['minigan']:.4f} s, "
              f"where {medians['where']:.4f} s; where / minigan, median of the pairs: {ratio:.3f}")
    print(f"threads: {args.threads}; load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
