"""Benchmark: FFT convolution (minigan/functional/conv_fft.py) vs im2col + GEMM vs PyTorch, on the book's
generator layers (DCGAN, Chollet DLwP section 8.5, batch 20, float32, channels-last, "same" padding).

    python benchmarks/fft_conv_bench.py                   # all three layers, 7 repeats
    python benchmarks/fft_conv_bench.py --repeats 11 --layers heavy --tiles 8x8,16x16,32x32
    python benchmarks/fft_conv_bench.py --threads 1       # one core each, timed in CPU seconds

On a machine shared with other work, 2-thread wall times swing several-fold (OpenBLAS threads wait on
each other when a core is taken); --threads 1 times each contender by its own CPU time, which stays
within a few percent from run to run. That is how the tile model in conv_fft.py was fitted.

For each layer it times the forward pass, the input gradient (dx) and the kernel gradient (dk) of
    fft     fft_conv2d_forward / fft_conv2d_backward (need only dx, or only dk)
    im2col  a plain column matrix (below) and one GEMM per pass, cut by samples to <= 256 MiB of columns
    torch   torch.nn.functional.conv2d and aten.convolution_backward, channels-last, same threads
The contenders run interleaved, repeat after repeat, so a busy machine slows them alike; it prints
medians (and minimums), the ratios to fft, and each contender's peak extra memory for one forward +
backward: the growth of the peak RSS in a fresh process that holds only the inputs.
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

THREADS = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(THREADS))  # before numpy starts OpenBLAS
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from minigan.functional.conv_fft import fft_conv2d_backward, fft_conv2d_forward, make_plan  # noqa: E402

try:
    import torch
    torch.set_num_threads(THREADS)
except ImportError:  # the benchmark still compares fft with im2col
    torch = None

LAYERS = {  # name: (x shape (N, H, W, C), kernel shape (KH, KW, C, F)), all "same"
    "heavy": ((20, 32, 32, 256), (5, 5, 256, 256)),   # conv2d_1 and conv2d_2: the bulk of a training step
    "first": ((20, 16, 16, 128), (5, 5, 128, 256)),   # conv2d
    "last": ((20, 32, 32, 256), (7, 7, 256, 3)),      # conv2d_3 (tanh output)
}
MAX_COLUMN_BYTES = 256 * 2**20


def same_pads(KH, KW):
    return ((KH - 1) // 2, KH // 2, (KW - 1) // 2, KW // 2)


# -- a plain im2col baseline ---------------------------------------------------------------------
def im2col(xpad, KH, KW, OH, OW):
    """cols[n, i, j, u, v, c] = xpad[n, i + u, j + v, c]  ->  (n*OH*OW, KH*KW*C)"""
    N, C = xpad.shape[0], xpad.shape[3]
    cols = np.empty((N, OH, OW, KH, KW, C), xpad.dtype)
    for u in range(KH):
        for v in range(KW):
            cols[:, :, :, u, v] = xpad[:, u:u + OH, v:v + OW]
    return cols.reshape(N * OH * OW, -1)


def sample_chunks(N, per_sample_bytes):
    step = max(1, MAX_COLUMN_BYTES // per_sample_bytes)
    return [slice(n, min(n + step, N)) for n in range(0, N, step)]


def im2col_forward(x, kernel, pads):
    KH, KW, C, F = kernel.shape
    xpad = np.pad(x, ((0, 0), pads[:2], pads[2:], (0, 0)))
    OH, OW = xpad.shape[1] - KH + 1, xpad.shape[2] - KW + 1
    y = np.empty((x.shape[0], OH, OW, F), x.dtype)
    for s in sample_chunks(x.shape[0], OH * OW * KH * KW * C * x.itemsize):
        y[s] = (im2col(xpad[s], KH, KW, OH, OW) @ kernel.reshape(-1, F)).reshape(-1, OH, OW, F)
    return y


def im2col_input_grad(dy, kernel, pads, x_shape):
    KH, KW, C, F = kernel.shape
    N, OH, OW, _ = dy.shape
    dxpad = np.zeros((N, x_shape[1] + pads[0] + pads[1], x_shape[2] + pads[2] + pads[3], C), dy.dtype)
    for s in sample_chunks(N, OH * OW * KH * KW * C * dy.itemsize):
        dcols = (dy[s].reshape(-1, F) @ kernel.reshape(-1, F).T).reshape(-1, OH, OW, KH, KW, C)
        for u in range(KH):  # col2im: add each tap's slice back where it came from
            for v in range(KW):
                dxpad[s, u:u + OH, v:v + OW] += dcols[:, :, :, u, v]
    return dxpad[:, pads[0]:pads[0] + x_shape[1], pads[2]:pads[2] + x_shape[2]]


def im2col_kernel_grad(x, dy, kernel_shape, pads):
    KH, KW, C, F = kernel_shape
    xpad = np.pad(x, ((0, 0), pads[:2], pads[2:], (0, 0)))
    N, OH, OW, _ = dy.shape
    dk = np.zeros((KH * KW * C, F), x.dtype)
    for s in sample_chunks(N, OH * OW * KH * KW * C * x.itemsize):
        dk += im2col(xpad[s], KH, KW, OH, OW).T @ dy[s].reshape(-1, F)
    return dk.reshape(kernel_shape)


# -- the three contenders, each as (forward, dx, dk) closures -----------------------------------
def contenders(x, kernel, dy, pads, tile):
    state = {}  # fft's backward needs the forward's ``saved``: the forward closure leaves it here

    def fft_forward():
        y, state["saved"] = fft_conv2d_forward(x, kernel, pads, tile=tile)
        return y
    out = {"fft": (fft_forward,
                   lambda: fft_conv2d_backward(dy, kernel, state["saved"], need_kernel_grad=False),
                   lambda: fft_conv2d_backward(dy, kernel, state["saved"], need_input_grad=False)),
           "im2col": (lambda: im2col_forward(x, kernel, pads),
                      lambda: im2col_input_grad(dy, kernel, pads, x.shape),
                      lambda: im2col_kernel_grad(x, dy, kernel.shape, pads))}
    if torch is not None:
        tx = torch.from_numpy(x).permute(0, 3, 1, 2)                     # NCHW view of NHWC = channels-last
        tk = torch.from_numpy(kernel).permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last)
        tdy = torch.from_numpy(dy).permute(0, 3, 1, 2)
        pad = (pads[0], pads[2])  # symmetric for the odd kernels here

        def backward(mask):
            return torch.ops.aten.convolution_backward(tdy, tx, tk, None, (1, 1), pad, (1, 1), False, (0, 0), 1, mask)
        out["torch"] = (lambda: torch.nn.functional.conv2d(tx, tk, padding=pad),
                        lambda: backward([True, False, False]),
                        lambda: backward([False, True, False]))
    return out


def check(x, kernel, dy, pads, tile):
    """Relative error of fft against torch (or im2col) in the three passes: a sanity check, not a test."""
    y, saved = fft_conv2d_forward(x, kernel, pads, tile=tile)
    dx, dk = fft_conv2d_backward(dy, kernel, saved)
    ref = (im2col_forward(x, kernel, pads), im2col_input_grad(dy, kernel, pads, x.shape),
           im2col_kernel_grad(x, dy, kernel.shape, pads))
    return [float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip((y, dx, dk), ref)]


def inputs(layer):
    x_shape, k_shape = LAYERS[layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    kernel = (rng.standard_normal(k_shape, dtype=np.float32) * 0.02)
    pads = same_pads(*k_shape[:2])
    dy = rng.standard_normal(x_shape[:3] + (k_shape[3],), dtype=np.float32)
    return x, kernel, dy, pads


def peak_rss_kib():
    """This process's peak resident memory in KiB. Linux's /proc VmHWM belongs to the running program
    only; ru_maxrss would also count the parent's peak, which a child inherits through fork + exec."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_memory_child(layer, name, tile):
    """Run in a fresh process: the growth of the peak RSS (MiB) over one forward + dx + dk of ``name``."""
    x, kernel, dy, pads = inputs(layer)
    forward, input_grad, kernel_grad = contenders(x, kernel, dy, pads, tile)[name]
    before = peak_rss_kib()
    y = forward()                 # y and fft's saved spectrum stay alive through the backward, as in training
    dx = input_grad()
    dk = kernel_grad()
    del y, dx, dk
    return (peak_rss_kib() - before) / 1024


def peak_memory(layer, name, tile):
    tile_arg = [] if tile is None else ["--tile", f"{tile[0]}x{tile[1]}"]
    command = [sys.executable, __file__, "--memory-child", layer, name, "--threads", str(THREADS)] + tile_arg
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def bench_layer(layer, repeats, tile, memory):
    x, kernel, dy, pads = inputs(layer)
    plan = make_plan(x.shape, kernel.shape, pads, tile)
    print(f"\n== {layer}: x {x.shape} kernel {kernel.shape} pads {pads}; tile {plan.TH}x{plan.TW} "
          f"(transform {plan.SH}x{plan.SW}, {plan.tiles_h * plan.tiles_w} tiles per image)")
    errors = check(x, kernel, dy, pads, tile)
    print("   fft vs im2col relative error (y, dx, dk): " + ", ".join(f"{e:.1e}" for e in errors))
    funcs = contenders(x, kernel, dy, pads, tile)
    times = {(name, k): [] for name in funcs for k in range(3)}
    for name, passes in funcs.items():  # warm up (DFT matrices, allocator, threads)
        for f in passes:
            f()
    clock = time.process_time if THREADS == 1 else time.perf_counter
    for _ in range(repeats):
        for name, passes in funcs.items():
            for k, f in enumerate(passes):
                start = clock()
                f()
                times[name, k].append(clock() - start)
    fft_med = [np.median(times["fft", k]) for k in range(3)]
    print(f"   {'':8s} {'forward':>16s} {'dx':>16s} {'dk':>16s} {'total':>8s}   median (min) ms, x = time / fft time")
    for name in funcs:
        med = [np.median(times[name, k]) * 1e3 for k in range(3)]
        low = [np.min(times[name, k]) * 1e3 for k in range(3)]
        cells = " ".join(f"{m:7.1f} ({lo:5.1f})" for m, lo in zip(med, low))
        ratios = " ".join(f"{m / 1e3 / f:4.2f}x" for m, f in zip(med, fft_med))
        mem = f"   peak +{peak_memory(layer, name, tile):5.0f} MiB" if memory else ""
        print(f"   {name:8s} {cells} {sum(med):8.1f}   {ratios}{mem}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="heavy,first,last", help="comma list of " + ",".join(LAYERS))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tiles", default=None, help="comma list of TILExTILE for fft (default: its own choice)")
    parser.add_argument("--tile", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2, help="BLAS and torch threads; 1: time CPU seconds")
    parser.add_argument("--no-memory", action="store_true", help="skip the per-contender memory subprocesses")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        tile = tuple(int(v) for v in args.tile.split("x")) if args.tile else None
        print(peak_memory_child(*args.memory_child, tile))
        return
    print(f"numpy {np.__version__}, torch {torch.__version__ if torch else 'not installed'}, "
          f"{THREADS} thread(s) ({'CPU' if THREADS == 1 else 'wall'} time), {os.cpu_count()} cpus, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}, "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')}, load {os.getloadavg()[0]:.1f}")
    tiles = [None] if args.tiles is None else [tuple(int(v) for v in t.split("x")) for t in args.tiles.split(",")]
    for layer in args.layers.split(","):
        for tile in tiles:
            bench_layer(layer, args.repeats, tile, not args.no_memory)
    print(f"\nthis process's peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
