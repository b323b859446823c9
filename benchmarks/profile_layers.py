"""Where the book's GAN step spends its time: every layer of G and D, forward and backward, and inside the
convolutions how much is im2col/col2im, matrix products (GEMM), FFT transforms, FFT tiling and the rest.

    python benchmarks/profile_layers.py                        # batch 20, NumPy, auto; 1 warm-up + 2 steps
    python benchmarks/profile_layers.py --threads 1 --top 16   # steadiest on a shared machine (docs/benchmarks.md)
    python benchmarks/profile_layers.py --algorithm im2col --steps 3
    python benchmarks/profile_layers.py --backend cupy         # synchronises around every timed region

Nothing in minigan is changed: this script wraps, in memory and for its own run only,

* each layer's ``call`` (so the layer being run is known; backward is charged to the layer whose
  forward created the Function),
* ``Function.__call__`` and every Function class's ``backward``, ``Optimizer.apply_gradients``,
* the helpers of ``functional/im2col.py`` and ``functional/conv_fft.py`` (found by name, so that new
  helpers are picked up too), ``xp.matmul`` and ``xp.fft.*``.

Each wrapped region adds its *exclusive* time (its own, minus that of the regions inside it) to one
(where, phase, category) cell, so the cells add up to the step. Categories:

    im2col/col2im  the patch copies of im2col.py
    GEMM           xp.matmul and ``@`` outside the FFT transforms: conv GEMMs, the FFT's per-frequency
                   products, Dense (``conv_kernel_grad``'s own time counts here: it is one ``@`` per chunk)
    FFT kernel     the kernel's spectrum (kernel_spectrum_columns, with the DFTs and products inside it):
                   it depends on the weights only, so it is the part that caching could save
    FFT transform  the DFTs of the tiles (by matrices, or xp.fft), forward and inverse
    FFT tiles      cutting images into overlapping tiles and adding them back
    other          elementwise ops, bias, allocation, copies, Python

Wrapping costs a few microseconds per region (a few thousand per step): the profiled step is a little
slower than an unprofiled one; both are printed. Reuses the model and step of ``step_bench.py``.
"""

import argparse
import inspect
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import step_bench  # noqa: E402  (nothing heavy: numpy is imported only after the threads are pinned)

CATEGORIES = ("im2col/col2im", "GEMM", "FFT kernel", "FFT transform", "FFT tiles", "other")
STICKY = ("FFT kernel",)  # everything inside such a region counts there too (its DFTs and GEMMs)
IM2COL = {"im2col": "im2col/col2im", "col2im": "im2col/col2im", "conv_kernel_grad": "GEMM"}
FFT_NAMES = (("kernel_spectrum", "FFT kernel"), ("tile", "FFT tiles"), ("dft", "FFT transform"),
             ("spectr", "FFT transform"))  # conv_fft.py helpers by name; the first part found decides
FFT_SKIP = ("cost", "choose", "plan", "dtype", "chunks", "groups", "window")  # tiny helpers: left to their caller
FFT_FUNCTIONS = ("fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn")
FUNCTION_CATEGORY = {"MatMul": "GEMM"}


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--steps", type=int, default=2, help="profiled steps, averaged (2)")
    p.add_argument("--warmup", type=int, default=1, help="unprofiled steps first, also timed (1)")
    p.add_argument("--algorithm", choices=["auto", "im2col", "fft"], default="auto")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--top", type=int, default=30, help="rows of the table; the rest are summed in one line (30)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


class Profiler:
    """Exclusive wall and CPU time per (where, phase, category)."""

    def __init__(self, sync):
        self.sync = sync
        self.where = [("(step: data, loss, glue)", "")]  # (label, phase) of the code running now
        self.open = []                                   # regions: [category, wall0, cpu0, child wall, child cpu]
        self.wall, self.cpu = defaultdict(float), defaultdict(float)

    def region(self, category, fn, *args, **kwargs):
        """Run fn in a timed region. category None: the enclosing region's (a matmul inside a DFT is the DFT)."""
        parent = self.open[-1][0] if self.open else "other"
        if parent in STICKY:
            category = parent
        elif category is None:
            category = parent if parent.startswith("FFT") else "GEMM"
        self.sync()
        frame = [category, time.perf_counter(), time.process_time(), 0.0, 0.0]
        self.open.append(frame)
        try:
            return fn(*args, **kwargs)
        finally:
            self.sync()
            wall, cpu = time.perf_counter() - frame[1], time.process_time() - frame[2]
            self.open.pop()
            key = self.where[-1] + (category,)
            self.wall[key] += wall - frame[3]
            self.cpu[key] += cpu - frame[4]
            if self.open:
                self.open[-1][3] += wall
                self.open[-1][4] += cpu

    def within(self, where, category, fn, *args, **kwargs):
        self.where.append(where)
        try:
            return self.region(category, fn, *args, **kwargs)
        finally:
            self.where.pop()

    # -- making wrappers ----------------------------------------------------------------------------
    def timed(self, fn, category):
        if inspect.isgeneratorfunction(fn):  # e.g. kernel_spectrum_columns: time every next()
            def generator(*args, **kwargs):
                iterator = fn(*args, **kwargs)
                while True:
                    try:
                        yield self.region(category, next, iterator)
                    except StopIteration:
                        return
            wrapper = generator
        else:
            def wrapper(*args, **kwargs):
                return self.region(category, fn, *args, **kwargs)
        wrapper.__wrapped__, wrapper.__name__ = fn, fn.__name__
        return wrapper


def fft_category(name):
    return next((category for part, category in FFT_NAMES if part in name), "other")


def instrument(profiler, generator, discriminator, xp):
    """Install every wrapper; returns a function that removes them."""
    import minigan
    from minigan.functional import conv, conv_fft, im2col
    from minigan.tensor import Function

    undo = []

    def patch(owner, name, value):
        undo.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    # Helpers of im2col.py and conv_fft.py, replaced in every module that holds them (conv.py imports by name).
    helpers = {}
    for name, category in IM2COL.items():
        if hasattr(im2col, name):
            helpers[getattr(im2col, name)] = category
    for name, fn in vars(conv_fft).items():
        if inspect.isfunction(fn) and fn.__module__ == conv_fft.__name__ and not any(s in name for s in FFT_SKIP):
            helpers[fn] = fft_category(name)
    for name in ("conv_forward", "conv_input_grad", "fft_conv2d_forward", "fft_conv2d_backward"):
        for module in (im2col, conv_fft):
            if hasattr(module, name):
                helpers[getattr(module, name)] = "other"
    for module in (conv, im2col, conv_fft):
        for name, value in list(vars(module).items()):
            if inspect.isfunction(value) and value in helpers:
                patch(module, name, profiler.timed(value, helpers[value]))
    patch(xp, "matmul", profiler.timed(xp.matmul, None))
    for name in FFT_FUNCTIONS:
        if hasattr(xp.fft, name):
            patch(xp.fft, name, profiler.timed(getattr(xp.fft, name), "FFT transform"))

    # Layers: each layer's call runs inside its own "where"; Functions remember where they were made.
    for tag, model in (("G", generator), ("D", discriminator)):
        for layer in model.layers:
            if type(layer).__name__ == "InputLayer":
                continue
            label = f"{tag} {layer.name}"

            def call(x, training=False, _call=layer.call, _where=(label, "forward")):
                return profiler.within(_where, "other", _call, x, training=training)
            layer.call = call  # an instance attribute: Model.call looks it up per call
            undo.append((layer, "call", None))

    original_call = Function.__call__

    def function_call(self, *inputs, **options):
        self._profile_label = profiler.where[-1][0]
        category = FUNCTION_CATEGORY.get(type(self).__name__, "other")
        return profiler.region(category, original_call, self, *inputs, **options)

    patch(Function, "__call__", function_call)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    for cls in set(subclasses(Function)):
        if "backward" in vars(cls):
            def backward(self, *grads, _backward=cls.backward):
                label = getattr(self, "_profile_label", "(step: data, loss, glue)")
                category = FUNCTION_CATEGORY.get(type(self).__name__, "other")
                return profiler.within((label, "backward"), category, _backward, self, *grads)
            patch(cls, "backward", backward)

    walk = minigan.Tensor.backward
    patch(minigan.Tensor, "backward", lambda self, *a, **k: profiler.within(
        ("(autograd: graph walk, grad sums)", ""), "other", walk, self, *a, **k))
    apply = minigan.optimizers.Optimizer.apply_gradients
    patch(minigan.optimizers.Optimizer, "apply_gradients", lambda self, pairs: profiler.within(
        ("(optimizers: RMSprop updates)", ""), "other", apply, self, pairs))

    def restore():
        for owner, name, value in reversed(undo):
            if value is None:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
    return restore


def main(argv=None):
    args = parse(argv)
    step_bench.pin_threads(args.threads)
    import minigan

    minigan.set_backend(args.backend)
    minigan.random.seed(args.seed)
    choices = step_bench.force_algorithm(args.algorithm)
    sources = step_bench.code_version()
    generator, discriminator, gan = step_bench.build_book_models()
    book = step_bench.BookStep(generator, discriminator, gan, args.batch_size, args.seed)
    sync = minigan.backend.synchronize
    load_before = step_bench.load()
    plain = [step_bench.timed(book.step, sync) for _ in range(args.warmup)]

    profiler = Profiler(sync)
    restore = instrument(profiler, generator, discriminator, minigan.backend.array_module())
    stages = defaultdict(list)  # the book step's three calls, timed as a whole
    for name, model, method in (("generator.predict", generator, "predict"),
                                ("discriminator.train_on_batch", discriminator, "train_on_batch"),
                                ("gan.train_on_batch", gan, "train_on_batch")):
        def staged(*a, _fn=getattr(model, method), _name=name, **k):
            sync()
            start = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                sync()
                stages[_name].append(time.perf_counter() - start)
        setattr(model, method, staged)
    profiled = [step_bench.timed(lambda: profiler.region("other", book.step), sync) for _ in range(args.steps)]
    restore()
    load_after = step_bench.load()
    report(args, profiler, choices, generator, discriminator, plain, profiled, stages, sources,
           load_before, load_after)


def report(args, profiler, choices, generator, discriminator, plain, profiled, stages, sources,
           load_before, load_after):
    n = args.steps
    info = step_bench.machine()
    conv = {label: layer for label, layer in step_bench.conv_layers(generator, discriminator)}
    rows = defaultdict(lambda: defaultdict(float))  # (where, phase) -> category -> ms per step
    cpu_rows = defaultdict(float)
    for (where, phase, category), seconds in profiler.wall.items():
        rows[where, phase][category] += 1000 * seconds / n
        cpu_rows[where, phase] += 1000 * profiler.cpu[where, phase, category] / n
    total = sum(sum(row.values()) for row in rows.values())
    step_wall = 1000 * statistics.median(w for w, _ in profiled)

    print(f"per-layer breakdown of the book's GAN step: batch {args.batch_size}, backend {args.backend}, "
          f"algorithm {args.algorithm}, {args.threads} threads, mean of {n} profiled steps")
    print(f"machine: {info['cpu']}, {info['cores']} cores; numpy {info['numpy']} ({info['blas']}); "
          f"load average {load_before} before, {load_after} after")
    print("sources: " + ", ".join(f"{name} {digest}" for name, digest in sources.items()))
    if plain:
        print(f"unprofiled step: {1000 * statistics.median(w for w, _ in plain):.0f} ms wall, "
              f"{1000 * statistics.median(c for _, c in plain):.0f} ms cpu (median of {len(plain)}); ", end="")
    print(f"profiled step: {step_wall:.0f} ms wall, {1000 * statistics.median(c for _, c in profiled):.0f} ms cpu")
    print("stages (wall, ms per step): " + ", ".join(f"{name} {1000 * sum(t) / n:.0f}" for name, t in stages.items()))
    print("G is run 2x per step (predict, gan), D 2x forward (d, gan) and 2x backward (d: weights; gan: "
          "input gradient only).\n")

    short = {"im2col/col2im": "im2col", "GEMM": "GEMM", "FFT kernel": "FFT kern", "FFT transform": "FFT tr",
             "FFT tiles": "FFT tile", "other": "other"}
    head = f"{'where':34s} {'phase':8s} {'algo':6s} {'ms/step':>8s} {'%':>5s} {'cpu ms':>8s}  " + \
        " ".join(f"{short[c]:>8s}" for c in CATEGORIES)
    print(head)
    print("-" * len(head))
    ordered = sorted(rows.items(), key=lambda kv: -sum(kv[1].values()))
    for (where, phase), row in ordered[:args.top]:
        ms = sum(row.values())
        layer = conv.get(where)
        algo = step_bench.algorithm_of(layer, choices) if layer is not None else ""
        name = f"{where} ({step_bench.describe(layer)})" if layer is not None else where
        print(f"{name[:34]:34s} {phase:8s} {algo:6s} {ms:8.1f} {100 * ms / total:5.1f} {cpu_rows[where, phase]:8.1f}  "
              + " ".join(f"{row.get(c, 0.0):8.1f}" for c in CATEGORIES))
    rest = [row for _, row in ordered[args.top:]]
    if rest:
        ms = sum(sum(row.values()) for row in rest)
        print(f"{f'({len(rest)} more rows)':34s} {'':8s} {'':6s} {ms:8.1f} {100 * ms / total:5.1f}")
    print("-" * len(head))
    sums = {c: sum(row.get(c, 0.0) for row in rows.values()) for c in CATEGORIES}
    print(f"{'total':34s} {'':8s} {'':6s} {total:8.1f} {100.0:5.1f} {sum(cpu_rows.values()):8.1f}  "
          + " ".join(f"{sums[c]:8.1f}" for c in CATEGORIES))
    print(f"{'share of the step':34s} {'':8s} {'':6s} {'':8s} {'':5s} {'':8s}  "
          + " ".join(f"{100 * sums[c] / total:7.1f}%" for c in CATEGORIES))
    by_layer = defaultdict(float)
    for (where, _), row in rows.items():
        by_layer[where] += sum(row.values())
    print("\nby layer, forward + backward (ms per step): "
          + ", ".join(f"{w} {ms:.0f}" for w, ms in sorted(by_layer.items(), key=lambda kv: -kv[1])[:8]))


if __name__ == "__main__":
    main()
