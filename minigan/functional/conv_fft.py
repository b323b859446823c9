"""Stride-1 2-D convolution by FFT: overlap-save tiles, one small complex GEMM per frequency.

Notation (channels-last, as Keras; the same letters as im2col.py):
    N            batch size
    H, W, C      input height, width, channels
    KH, KW       kernel height, width
    F            filters (output channels)
    PT, PB       rows of zeros added at the top, bottom   (PH = PT + PB)
    PL, PR       columns of zeros added left, right       (PW = PL + PR)
    OH, OW       output height, width:  OH = H + PH - KH + 1   (stride 1)
    TH, TW       output tile size: the output is cut into TH x TW tiles      ("T" below)
    tiles        tiles_h x tiles_w per image, tiles_h = ceil(OH / TH); M = N * tiles_h * tiles_w
    SH, SW       transform size: one input tile, SH = TH + KH - 1, SW = TW + KW - 1
    Q            SW // 2 + 1 frequencies along w (the other half is the mirror image, see below)
    P            SH * Q frequencies per transform

    x      (N, H, W, C)       kernel (KH, KW, C, F)       y, dy (N, OH, OW, F)
    X      (SH, Q, M, C)      spectrum of every input tile, one (M, C) matrix per frequency
    Kc     (SH, Q, C, F)      conj(spectrum of the kernel), one (C, F) matrix per frequency
    Y, Dc  (SH, Q, M, F)      spectrum of the output tiles, conj(spectrum of the dy tiles)

The math, for one channel (the channel sums are the matrix products at the end):
  * Convolution theorem. The DFT of a size-S signal, a^[q] = sum_i a[i] e^(-2 pi i q i / S), turns a
    circular convolution into a product: (a (*) b)^ = a^ b^.  Deep learning's "convolution" is a
    correlation, y[i] = sum_u x[i + u] k[u], and a correlation is a product with the conjugate:
    y^ = x^ conj(k^)  (k is real, and flipping it conjugates its spectrum).
  * Overlap-save (forward). Circular means indices wrap around at S. Take an input tile of S = T + K - 1
    samples and a kernel zero-padded to S: the outputs i = 0 .. T-1 need x[i + u] with i + u <= S - 1,
    so they never wrap and are exact; the last K - 1 outputs are garbage and are thrown away. Tiles
    start every T samples, so neighbouring input tiles overlap by K - 1 samples.
  * Overlap-add (input gradient). dx[j] = sum_i dy[i] k[j - i] is a true convolution: dx^ = dy^ k^.
    A dy tile of T samples, zero-padded to S, convolved with K taps spans exactly T + K - 1 = S samples:
    nothing wraps, and each tile's full contribution is added where its input tile came from.
  * Kernel gradient. dk[u] = sum_i x[i + u] dy[i] is the correlation of x with dy: dk^ = x^ conj(dy^),
    summed over tiles and batch; only the K taps u = 0 .. K-1 of its inverse are needed.
  * Channels. Per frequency p the sums over channels are matrix products of (M, C) and (C, F) complex
    matrices:  Y[p] = X[p] @ Kc[p],   dX[p] = dY[p] @ Kc[p]^H,   dK[p] = X[p]^T @ conj(dY[p]).
    Per tile that is 8 P C F real flops against 2 TH TW KH KW C F for the direct sum: for the book's
    5x5 layer with 16x11 tiles, 8 * 160 = 1280 against 2 * 176 * 25 = 8800 per (C, F) pair, 6.9x fewer.
  * Real signals. The spectrum of a real tile is Hermitian, a^[-q] = conj(a^[q]), so along w only the
    Q = S//2 + 1 non-negative frequencies are kept (a "real FFT"); the inverse doubles the others.
  * Conjugates are free: for a real signal conj(a^) is the same DFT with the sign of the exponent
    flipped. So we build Kc and Dc = conj(dY^) directly with sign +1; then conj(dX^) = Dc @ Kc^T and the
    real dx is the inverse of that conjugate spectrum taken with the sign flipped back (-1).

fft_conv2d_simple is all of this in a dozen lines: one tile covering the whole padded image, xp.fft.
The fast path differs in three ways. Tiles: the kernel spectrum is (SH, Q, C, F), so small tiles keep
it small, and it is made a few frequency columns at a time, never in full (84 MB of complex64 for the
5x5 256->256 layer with its 16x11 tiles; 360 MB with one 36x36 tile). DFTs: S is 10 .. 40 here, and a dense DFT matrix applied by one
GEMM to all tiles and channels beats numpy.fft's line-by-line loop about 3x; the transforms run a few
images at a time, in cache. Layout: each frequency's (M, C) matrix is contiguous, so the products are
plain batched complex GEMMs (cgemm), which OpenBLAS runs at ~90% of its real-GEMM speed.

>>> import numpy as np
>>> x = np.arange(16.0).reshape(1, 4, 4, 1)
>>> kernel = np.ones((3, 3, 1, 1))
>>> y, saved = fft_conv2d_forward(x, kernel, (1, 1, 1, 1))      # "same" 3x3 box sum
>>> y[0, :, :, 0].round(6).tolist()
[[10.0, 18.0, 24.0, 18.0], [27.0, 45.0, 54.0, 39.0], [51.0, 81.0, 90.0, 63.0], [42.0, 66.0, 72.0, 50.0]]
>>> dx, dk = fft_conv2d_backward(np.ones_like(y), kernel, saved)
>>> dx[0, :, :, 0].round(6).tolist()[0], dk[:, :, 0, 0].round(6).tolist()[1]
([4.0, 6.0, 6.0, 4.0], [84.0, 120.0, 96.0])
"""

import functools
import math
from collections import namedtuple

from ..backend import get_array_module

CHUNK_BYTES = 16 * 2**20  # at most this much of the kernel spectrum (or the kernel gradient's) at a time
GROUP_BYTES = 2**20       # transform the tiles of about this many bytes of images at a time (in cache)

Plan = namedtuple("Plan", "N H W C F KH KW PT PL OH OW TH TW tiles_h tiles_w SH SW Q")


# -- choosing the tile ------------------------------------------------------------------------
# Bigger tiles waste less on overlap (SH*SW / TH*TW -> 1) but make the kernel spectrum bigger and each
# DFT longer (a dense DFT costs S per point); a tile that does not divide the output wastes a partial
# tile. Rather than guess, time is modelled as a sum of four measured costs (ms per 1e9 units, fitted
# to 24 (layer, tile) timings, 1 thread of a 2-core AMD EPYC; within 16% of all of them; see
# benchmarks/fft_conv_bench.py --tiles):
COST_MS = {"gemm_flop": 10.7, "dft_flop": 20.2, "kernel_dft_flop": 62.0, "element_moved": 1224.0}


def tile_cost(N, OH, OW, KH, KW, C, F, TH, TW):
    """Modelled milliseconds of forward + input gradient + kernel gradient with TH x TW output tiles."""
    M = N * -(-OH // TH) * -(-OW // TW)
    SH, SW = TH + KH - 1, TW + KW - 1
    Q = SW // 2 + 1
    P = SH * Q
    work = {"gemm_flop": 3 * 8 * P * M * C * F,                                # the per-frequency products
            "dft_flop": M * (C + C) * (4 * Q * SW * SH + 8 * SH * SH * Q)      # x in, dx out: SH x SW
            + M * (F + F) * (4 * Q * TW * TH + 8 * SH * TH * Q),               # y out, dy in: TH x TW
            "kernel_dft_flop": C * F * 3 * (4 * Q * KW * KH + 8 * SH * KH * Q),  # Kc twice, dk once
            "element_moved": M * (SH * SW * C + TH * TW * F) * 2 + 3 * P * M * (C + F)}
    return sum(COST_MS[k] * v for k, v in work.items()) / 1e9


@functools.lru_cache(maxsize=None)
def choose_tiles(N, OH, OW, KH, KW, C, F):
    """The output tile (TH, TW) of least modelled time. Only the smallest tile for each tile count is a
    candidate (ceil(OH / n) for n tiles: a bigger one with the same count only adds work).

    The book's layers at batch 20 (measured ms, fwd + dx + dk, 1 thread):
      5x5 256->256 at 32x32: 16x11 (16x11 561, 16x16 565, 11x11 547, 8x8 698, 32x32 757, 12x12 686)
      5x5 128->256 at 16x16: 8x16  (8x16 114-129, 8x8 109-120, 16x16 122, 4x4 156)
      7x7 256->3   at 32x32: 16x32 (16x32 99, 32x32 100-101, 16x16 111-117, 8x8 172)
    """
    candidates_h = sorted({-(-OH // n) for n in range(1, OH + 1)})
    candidates_w = sorted({-(-OW // n) for n in range(1, OW + 1)})
    costs = [(tile_cost(N, OH, OW, KH, KW, C, F, TH, TW), TH, TW) for TH in candidates_h for TW in candidates_w]
    return min(costs)[1:]


def make_plan(x_shape, kernel_shape, pads, tile=None):
    N, H, W, C = x_shape
    KH, KW, C2, F = kernel_shape
    PT, PB, PL, PR = pads
    OH, OW = H + PT + PB - KH + 1, W + PL + PR - KW + 1
    if C2 != C:
        raise ValueError(f"fft_conv2d: the kernel {tuple(kernel_shape)} expects {C2} input channels, "
                         f"the input {tuple(x_shape)} has {C}")
    if min(pads) < 0 or OH < 1 or OW < 1:
        raise ValueError(f"fft_conv2d: pads {tuple(pads)} (top, bottom, left, right) must be >= 0 and leave "
                         f"an output of at least 1x1; input {H}x{W}, kernel {KH}x{KW} gives {OH}x{OW}")
    TH, TW = tile if tile is not None else choose_tiles(N, OH, OW, KH, KW, C, F)
    TH, TW = min(TH, OH), min(TW, OW)
    SW = TW + KW - 1
    return Plan(N, H, W, C, F, KH, KW, PT, PL, OH, OW, TH, TW, -(-OH // TH), -(-OW // TW),
                TH + KH - 1, SW, SW // 2 + 1)


# -- DFT matrices; the 2-D real DFT and its inverse as four matrix-product steps -------------------
_matrices = {}


def dft_matrix(xp, S, rows, cols, sign, dtype):
    """E[r, c] = exp(sign * 2 pi i * r * c / S) for r < rows, c < cols: (rows, cols) complex.

    (r * c) mod S is taken in integers first, so the angles stay small and float64 stays exact.
    """
    key = (xp.__name__, S, rows, cols, sign, str(dtype))
    if key not in _matrices:
        rc = (xp.arange(rows)[:, None] * xp.arange(cols)[None, :]) % S
        _matrices[key] = xp.exp((sign * 2j * math.pi / S) * rc).astype(dtype)
    return _matrices[key]


def complex_dtype(real_dtype):
    return "complex64" if str(real_dtype) == "float32" else "complex128"


def rdft_w(tiles, SW, sign, qs=slice(None)):
    """Along w, real to half spectrum:  tiles (n_w, n_h, R) real, w first ("w-major")  ->  Z (Qc, n_h, R) complex,

        Z[q, h] = sum_w exp(sign 2 pi i q w / SW) tiles[w, h],   q in qs, a slice of 0 .. Q-1, Q = SW // 2 + 1

    (tiles zero-padded to SW). One real GEMM gives the cos and sin sums (the rows of Ew), then packed
    into complex. R carries tiles and channels: the GEMM is wide, its inner size n_w small.
    """
    xp = get_array_module(tiles)
    n_w, n_h, R = tiles.shape
    cdt = complex_dtype(tiles.dtype)
    E = dft_matrix(xp, SW, SW // 2 + 1, n_w, sign, cdt)[qs]
    Ew = xp.concatenate([E.real, E.imag])                                     # (2Qc, n_w)
    Q = E.shape[0]
    half = xp.matmul(Ew, tiles.reshape(n_w, n_h * R)).reshape(2, Q, n_h, R)
    Z = xp.empty((Q, n_h, R), cdt)
    parts = Z.view(tiles.dtype).reshape(Q, n_h, R, 2)                         # (real, imaginary) side by side
    parts[..., 0], parts[..., 1] = half[0], half[1]
    return Z


def dft_h(Z, SH, sign, out):
    """Along h, complex:  Z (Qc, n_h, R)  ->  out (SH, Qc, R),  out[k, q] = sum_h exp(sign 2 pi i k h / SH) Z[q, h].

    One complex GEMM per frequency q; ``out`` may be a strided view (a slice of a bigger spectrum).
    """
    xp = get_array_module(Z)
    Eh = dft_matrix(xp, SH, SH, Z.shape[1], sign, Z.dtype)                   # (SH, n_h)
    for q in range(Z.shape[0]):
        xp.matmul(Eh, Z[q], out=out[:, q])
    return out


def idft_h(Z, n_h, sign, out):
    """Inverse along h, first n_h rows:  Z (SH, Qc, R)  ->  out (Qc, n_h, R),

        out[q, h] = 1/SH sum_k exp(sign 2 pi i k h / SH) Z[k, q]     (one complex GEMM per q)
    """
    xp = get_array_module(Z)
    SH = Z.shape[0]
    Gh = dft_matrix(xp, SH, n_h, SH, sign, Z.dtype) / SH                     # (n_h, SH)
    for q in range(Z.shape[1]):
        xp.matmul(Gh, Z[:, q], out=out[q])
    return out


def irdft_w(U, n_w, SW, sign, qs=slice(None)):
    """Inverse along w to real, first n_w samples:  U (Qc, n_h, R) half spectrum  ->  (n_w, n_h, R) real, w-major.

        a[w, h] = 1/SW sum_q c_q Re(exp(sign 2 pi i q w / SW) U[q, h]),   c_q = 2, or 1 for q = 0 and q = SW/2

    c_q = 2 adds each dropped mirror frequency -q, whose term is the conjugate of the term of q. With a
    slice qs of the frequencies, the part of the sum over those q (the parts add up to a).
    """
    xp = get_array_module(U)
    Q = SW // 2 + 1
    c = xp.full(Q, 2.0)
    c[0] = 1.0
    if SW % 2 == 0:
        c[-1] = 1.0
    G = (dft_matrix(xp, SW, n_w, Q, sign, "complex128") * (c / SW))[:, qs]   # (n_w, Qc)
    Q, n_h, R = U.shape
    Gw = xp.concatenate([G.real, -G.imag], axis=1).astype(U.real.dtype)       # Re(G U) = G.re U.re - G.im U.im
    planes = xp.empty((2, Q, n_h, R), Gw.dtype)
    planes[0], planes[1] = U.real, U.imag
    return xp.matmul(Gw, planes.reshape(2 * Q, n_h * R)).reshape(n_w, n_h, R)


# -- tiles: overlap-save windows in, overlap-add windows out -----------------------------------
def window(start, size, limit):
    """The part of the window [start, start + size) inside [0, limit): (its source slice, its window slice)."""
    lo, hi = max(start, 0), max(min(start + size, limit), max(start, 0))
    return slice(lo, hi), slice(lo - start, hi - start)


def gather_tiles(a, size_h, size_w, plan, top, left):
    """Windows of a (N, A_h, A_w, R), one per tile, w-major:   -> (size_w, size_h, N * tiles_h * tiles_w * R)

        tiles[w, h, n, i, j, r] = a[n, i*TH - top + h, j*TW - left + w, r]    (0 outside a: the padding)

    Input tiles (size SH x SW) overlap by KH-1, KW-1; dy tiles (size TH x TW, top = left = 0) do not.
    """
    xp = get_array_module(a)
    tiles = xp.zeros((size_w, size_h, a.shape[0], plan.tiles_h, plan.tiles_w, a.shape[3]), a.dtype)
    for i in range(plan.tiles_h):
        src_h, win_h = window(i * plan.TH - top, size_h, a.shape[1])
        for j in range(plan.tiles_w):
            src_w, win_w = window(j * plan.TW - left, size_w, a.shape[2])
            tiles[win_w, win_h, :, i, j] = a[:, src_h, src_w].transpose(2, 1, 0, 3)
    return tiles.reshape(size_w, size_h, -1)


def scatter_add_tiles(tiles, a, plan, top, left):
    """The adjoint of gather_tiles: add each window of tiles (size_w, size_h, N, tiles_h, tiles_w, R) into
    a (N, A_h, A_w, R) where it came from, dropping what falls outside. With output tiles (TH x TW, no
    overlap) this just places them; with SH x SW input-gradient tiles it is the overlap-add."""
    size_w, size_h = tiles.shape[:2]
    for i in range(plan.tiles_h):
        src_h, win_h = window(i * plan.TH - top, size_h, a.shape[1])
        for j in range(plan.tiles_w):
            src_w, win_w = window(j * plan.TW - left, size_w, a.shape[2])
            a[:, src_h, src_w] += tiles[win_w, win_h, :, i, j].transpose(2, 1, 0, 3)
    return a


def image_groups(xp, plan, R, itemsize):
    """Slices of the batch whose tiles are transformed together: ~GROUP_BYTES, so that the four steps
    run in cache instead of each making a pass over memory. On a GPU, the whole batch at once."""
    per_image = plan.SH * plan.SW * plan.tiles_h * plan.tiles_w * R * itemsize
    step = plan.N if xp.__name__ == "cupy" else max(1, GROUP_BYTES // per_image)
    return [slice(n, min(n + step, plan.N)) for n in range(0, plan.N, step)]


def tile_spectra(a, size_h, size_w, plan, top, left, sign):
    """The spectra of gather_tiles(a, ...), a few images at a time:  a (N, A_h, A_w, R) -> (SH, Q, M, R) complex."""
    xp = get_array_module(a)
    N, R = a.shape[0], a.shape[3]
    out = xp.empty((plan.SH, plan.Q, N, plan.tiles_h * plan.tiles_w * R), complex_dtype(a.dtype))
    for g in image_groups(xp, plan, R, a.itemsize):
        Z = rdft_w(gather_tiles(a[g], size_h, size_w, plan, top, left), plan.SW, sign)
        dft_h(Z, plan.SH, sign, out[:, :, g].reshape(plan.SH, plan.Q, -1))      # a view into out
    return out.reshape(plan.SH, plan.Q, -1, R)


def add_tile_signals(Z, size_h, size_w, plan, a, top, left, sign):
    """Inverse of the spectra Z (SH, Q, M, R), first size_h x size_w samples of each tile, added into
    a (N, A_h, A_w, R) by scatter_add_tiles; a few images at a time."""
    xp = get_array_module(Z)
    R = Z.shape[3]
    Z = Z.reshape(plan.SH, plan.Q, plan.N, -1)
    for g in image_groups(xp, plan, R, a.itemsize):
        U = xp.empty((plan.Q, size_h, Z[0, 0, g].size), Z.dtype)
        idft_h(Z[:, :, g].reshape(plan.SH, plan.Q, -1), size_h, sign, U)
        tiles = irdft_w(U, size_w, plan.SW, sign)
        scatter_add_tiles(tiles.reshape(size_w, size_h, -1, plan.tiles_h, plan.tiles_w, R), a[g], plan, top, left)
    return a


def q_chunks(plan, R, itemsize):
    """Slices of the Q frequency columns, each holding at most ~CHUNK_BYTES of an (SH, q1-q0, R) spectrum."""
    step = max(1, CHUNK_BYTES // (plan.SH * R * itemsize))
    return [slice(q, min(q + step, plan.Q)) for q in range(0, plan.Q, step)]


def kernel_spectrum_columns(kernel, plan):
    """Kc = conj(kernel^) a few frequency columns q at a time: yields (qs, Kc[:, qs] of shape (SH, len, C, F)).

    conj(kernel^) is the DFT with sign +1 (kernel is real). A chunk is at most ~CHUNK_BYTES, so the full
    spectrum (84 MB for the book's 5x5 256->256 layer) never exists, and the chunk is still in cache
    when the products read it.
    """
    xp = get_array_module(kernel)
    KH, KW, C, F = kernel.shape
    taps = xp.ascontiguousarray(kernel.transpose(1, 0, 2, 3)).reshape(KW, KH, C * F)   # w-major, as tiles
    for qs in q_chunks(plan, C * F, 2 * kernel.itemsize):
        Z = rdft_w(taps, plan.SW, +1, qs)                                                # (Qc, KH, C*F)
        Kc = dft_h(Z, plan.SH, +1, xp.empty((plan.SH, Z.shape[0], C * F), Z.dtype))
        yield qs, Kc.reshape(plan.SH, -1, C, F)


# -- the idea in a dozen lines: one tile, xp.fft ---------------------------------------------------
def fft_conv2d_simple(x, kernel, pads):
    """The same forward pass as fft_conv2d_forward, simply: the whole padded image is one tile.

        xpad (N, HP, WP, C) -> X = rfft2(xpad) (N, HP, WP//2+1, C);  K = rfft2(kernel zero-padded to HP x WP)
        Y[n, p] = X[n, p] @ conj(K[p])  (each frequency p: (C,) @ (C, F));  y = irfft2(Y), first OH x OW

    Outputs i <= HP - KH read xpad[i + u] with no wrap-around, so they are exact (overlap-save, one tile).
    """
    xp = get_array_module(x, kernel)
    xpad = xp.pad(x, ((0, 0), tuple(pads[:2]), tuple(pads[2:]), (0, 0)))
    N, HP, WP, C = xpad.shape
    KH, KW, _, F = kernel.shape
    X = xp.fft.rfft2(xpad, axes=(1, 2))                                   # (N, HP, WP//2 + 1, C)
    K = xp.fft.rfft2(kernel, s=(HP, WP), axes=(0, 1))                    # (HP, WP//2 + 1, C, F)
    Y = xp.einsum("nabc,abcf->nabf", X, xp.conj(K))                      # correlation: times the conjugate
    y = xp.fft.irfft2(Y, s=(HP, WP), axes=(1, 2))
    return y[:, :HP - KH + 1, :WP - KW + 1].astype(x.dtype)


# -- the two entry points ----------------------------------------------------------------------
def fft_conv2d_forward(x, kernel, pads, tile=None):
    """y = conv2d(x, kernel), stride 1, with explicit zero padding; by FFT on overlap-save tiles.

    x (N, H, W, C), kernel (KH, KW, C, F), pads = (PT, PB, PL, PR)  ->  y (N, OH, OW, F) in x's dtype,
    and ``saved`` for fft_conv2d_backward (the plan and X, the input tiles' spectrum: (SH, Q, M, C)
    complex). ``tile=(TH, TW)`` overrides choose_tiles (for benchmarks and tests).
    """
    xp = get_array_module(x, kernel)
    plan = make_plan(x.shape, kernel.shape, pads, tile)
    N, H, W, C, F, KH, KW, PT, PL, OH, OW, TH, TW, th, tw, SH, SW, Q = plan
    X = tile_spectra(x, SH, SW, plan, PT, PL, -1)                                 # (SH, Q, M, C)
    Y = xp.empty(X.shape[:3] + (F,), X.dtype)
    for qs, Kc in kernel_spectrum_columns(kernel.astype(x.dtype, copy=False), plan):
        xp.matmul(X[:, qs], Kc, out=Y[:, qs])                                      # Y[p] = X[p] @ Kc[p]
    y = xp.zeros((N, OH, OW, F), x.dtype)
    add_tile_signals(Y, TH, TW, plan, y, 0, 0, +1)                                 # keep the exact TH x TW part
    return y, {"plan": plan, "X": X}


def fft_conv2d_backward(dy, kernel, saved, need_input_grad=True, need_kernel_grad=True):
    """Gradients of fft_conv2d_forward:  dy (N, OH, OW, F)  ->  (dx (N, H, W, C), dk (KH, KW, C, F)).

    Either is None when not asked for. The kernel gradient reuses X from the forward pass.
    """
    xp = get_array_module(dy, kernel)
    plan, X = saved["plan"], saved["X"]
    N, H, W, C, F, KH, KW, PT, PL, OH, OW, TH, TW, th, tw, SH, SW, Q = plan
    Dc = tile_spectra(dy, TH, TW, plan, 0, 0, +1)                                  # conj(dY^): (SH, Q, M, F)
    dx = dk = None
    if need_input_grad:
        DXc = xp.empty(Dc.shape[:3] + (C,), Dc.dtype)                               # conj(dX^)
        for qs, Kc in kernel_spectrum_columns(kernel.astype(dy.dtype, copy=False), plan):
            xp.matmul(Dc[:, qs], Kc.swapaxes(-1, -2), out=DXc[:, qs])               # conj(dX[p]) = Dc[p] @ Kc[p]^T
        dx = xp.zeros((N, H, W, C), dy.dtype)
        add_tile_signals(DXc, SH, SW, plan, dx, PT, PL, -1)                         # overlap-add the full tiles
    if need_kernel_grad:
        taps = xp.zeros((KW, KH, C * F), dy.dtype)                                   # only the KH x KW taps
        for qs in q_chunks(plan, C * F, X.itemsize):
            dK = xp.matmul(X[:, qs].swapaxes(-1, -2), Dc[:, qs])                     # dK[p] = X[p]^T @ conj(dY[p])
            U = idft_h(dK.reshape(SH, -1, C * F), KH, +1, xp.empty((dK.shape[1], KH, C * F), dK.dtype))
            taps += irdft_w(U, KW, SW, +1, qs)                                       # these frequencies' share
        dk = xp.ascontiguousarray(taps.reshape(KW, KH, C, F).transpose(1, 0, 2, 3))
    return dx, dk
