"""How fast minigan computes FID's Inception features, against the TorchScript model itself, in one run.

    python benchmarks/fid_bench.py                  # 256 test frogs, batch 32, the machine's threads
    python benchmarks/fid_bench.py --images 1000 --threads 2

Both take the same preprocessed images (TF1 legacy bilinear to 299 x 299, v / 128 - 1: minigan's
``preprocess_input``, timed apart) and give the 2048 pool3 features; the TorchScript model runs with
``torch.set_num_threads(threads)``, minigan with OpenBLAS on the same count. Printed: seconds per 1,000
images for each, their ratio, the features' largest difference, and minigan's peak memory -- the largest
resident set of the process after minigan's pass and before torch is imported (``ru_maxrss``), and the
peak of NumPy's own allocations (``tracemalloc``, which NumPy reports to). Results: docs/benchmarks.md.
"""

import argparse
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FROGS = REPO.parent / "shared" / "data" / "cifar-10-frogs"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=256, help="test frogs to featurise (256)")
    p.add_argument("--batch-size", type=int, default=32, help="images per forward pass (32)")
    p.add_argument("--threads", type=int, help="BLAS and torch threads (default: all cores)")
    p.add_argument("--data", default=os.environ.get("MINIGAN_DATA", str(FROGS)), help="CIFAR-10 frogs")
    args = p.parse_args(argv)
    threads = args.threads or os.cpu_count()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)  # before NumPy is imported
    sys.path.insert(0, str(REPO))
    import numpy as np
    import minigan
    from minigan.applications import FrechetInceptionDistance, inception_v3

    images = minigan.datasets.cifar10.load_class("frog", path=args.data, split="test")[:args.images]
    start = time.perf_counter()
    x = np.concatenate([inception_v3.preprocess_input(images[i:i + 250]) for i in range(0, len(images), 250)])
    preprocess = time.perf_counter() - start
    scorer = FrechetInceptionDistance(images, batch_size=args.batch_size, cache=False)
    scorer.model  # build and load outside the timing
    tracemalloc.start()
    start = time.perf_counter()
    ours = scorer.features(images)  # preprocessing again, in batches: the way a user calls it
    seconds = time.perf_counter() - start
    numpy_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    import torch
    torch.set_num_threads(threads)
    model = torch.jit.load(str(inception_v3.fid_weights_source())).eval()
    with torch.no_grad():
        model(torch.from_numpy(x[:2].transpose(0, 3, 1, 2).copy()))  # warm-up
        start = time.perf_counter()
        theirs = np.concatenate([model(torch.from_numpy(x[i:i + args.batch_size].transpose(0, 3, 1, 2).copy()))
                                 .numpy() for i in range(0, len(x), args.batch_size)])
        torch_seconds = time.perf_counter() - start
    per_k = lambda s: 1000 * s / len(images)
    print(f"{len(images)} images, batch {args.batch_size}, {threads} threads, load average "
          f"{os.getloadavg()[0]:.1f} at the end")
    print(f"  preprocess_input (resize + scale):  {per_k(preprocess):6.1f} s per 1,000 images")
    print(f"  minigan features (with preprocess):  {per_k(seconds):6.1f} s per 1,000 images")
    print(f"  TorchScript model (features only):  {per_k(torch_seconds):6.1f} s per 1,000 images")
    print(f"  ratio minigan / TorchScript:         {seconds / torch_seconds:6.2f}")
    print(f"  largest |difference| of a feature:   {np.abs(ours - theirs).max():.2e} "
          f"(largest feature {np.abs(theirs).max():.2f})")
    print(f"  minigan peak memory: {rss:.0f} MiB resident, {numpy_peak / 2**20:.0f} MiB of NumPy arrays")


if __name__ == "__main__":
    main()
