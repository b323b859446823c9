"""Time the book's heaviest layer, Conv2D(256, 5, padding="same") on (20, 32, 32, 256) float32,
forward + backward, in minigan (each algorithm) and in PyTorch CPU with the same number of threads.

    python benchmarks/conv_bench.py                      # all available algorithms, 5 rounds
    python benchmarks/conv_bench.py --algorithm im2col --repeat 3 --batch 8

Contenders run alternately, round after round, so a noisy neighbour slows them all alike; the
medians are printed, with the ratio minigan / PyTorch and the peak resident memory after each
contender's first round (``resource.getrusage``: the process's high-water mark only ever grows).
CPU seconds (all threads) are printed too: on a shared machine they move less than the wall clock.
The BLAS thread count must be fixed before NumPy is imported, hence the environment variables below.
"""

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path


def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per contender (default 5)")
    parser.add_argument("--algorithm", default="all", choices=["all", "im2col", "fft", "auto"],
                        help="minigan algorithm(s) to time (default: all that are available)")
    parser.add_argument("--batch", type=int, default=20, help="batch size N (default 20, as the book)")
    parser.add_argument("--threads", type=int, default=2, help="BLAS / PyTorch threads (default 2)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    return parser.parse_args()


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main():
    args = parse()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import minigan
    import minigan.functional as F
    from minigan.backend import numpy as np
    from minigan.functional import conv

    n, size, channels, k = args.batch, 32, 256, 5
    rng = np.random.default_rng(0)
    x = minigan.tensor(rng.standard_normal((n, size, size, channels)), requires_grad=True)
    kernel = minigan.tensor(rng.standard_normal((k, k, channels, channels)) * 0.02, requires_grad=True)
    bias = minigan.tensor(np.zeros(channels), requires_grad=True)
    gy = minigan.tensor(rng.standard_normal((n, size, size, channels)))

    algorithms = ["im2col", "fft", "auto"] if args.algorithm == "all" else [args.algorithm]
    contenders = {}
    for algorithm in algorithms:
        def step(algorithm=algorithm):
            for t in (x, kernel, bias):
                t.cleargrad()
            F.conv2d(x, kernel, bias, padding="same", algorithm=algorithm).backward(gy)
        try:
            step()  # warm-up (and a check that this algorithm exists here)
        except (NotImplementedError, ValueError, ImportError) as error:
            print(f"minigan {algorithm}: skipped ({error.__class__.__name__}: {error})")
            continue
        contenders[f"minigan {algorithm}"] = step
    if "minigan auto" in contenders:
        choice = conv.choose_algorithm(kernel.shape, (1, 1))
        contenders[f"minigan auto ({choice})"] = contenders.pop("minigan auto")

    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("PyTorch: not installed, skipped")
        else:
            torch.set_num_threads(args.threads)
            layer = torch.nn.Conv2d(channels, channels, k, padding=2)  # 'same' for an odd kernel
            tx = torch.randn(n, channels, size, size, requires_grad=True)
            tgy = torch.randn(n, channels, size, size)

            def torch_step():
                layer.zero_grad()
                tx.grad = None
                layer(tx).backward(tgy)

            torch_step()
            contenders["pytorch"] = torch_step

    flops = 3 * 2 * n * size * size * k * k * channels * channels  # forward + two gradient GEMMs
    print(f"Conv2D({channels}, {k}, padding='same') on ({n}, {size}, {size}, {channels}) float32, forward + backward; "
          f"{args.threads} threads, {args.repeat} rounds; {flops / 1e9:.0f} GFLOP per step as direct convolution")
    times = {name: [] for name in contenders}
    cpu = {name: [] for name in contenders}  # CPU seconds of all threads: less sensitive to busy neighbours
    peaks = {}
    for _ in range(args.repeat):
        for name, step in contenders.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            step()
            minigan.backend.synchronize()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            peaks.setdefault(name, peak_rss_mib())
    reference = statistics.median(times["pytorch"]) if "pytorch" in times else None
    for name, seconds in times.items():
        median = statistics.median(seconds)
        ratio = f"  {median / reference:5.2f}x PyTorch" if reference else ""
        print(f"  {name:24s} median {median:7.3f} s  ({flops / median / 1e9:6.1f} GFLOP/s){ratio}"
              f"  cpu {statistics.median(cpu[name]):7.3f} s  peak RSS so far {peaks[name]:6.0f} MiB")
    print(f"peak RSS of the whole run: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
