"""Time the book's GAN training step (Deep Learning with Python, 8.5) in minigan, and the same step in PyTorch.

    python benchmarks/step_bench.py                                  # batch 20, NumPy, auto, 10 steps, vs torch CPU
    python benchmarks/step_bench.py --algorithm im2col --json /tmp/im2col.json
    python benchmarks/step_bench.py --batch-size 128 --steps 3 --no-torch      # the column-buffer cap at work
    python benchmarks/step_bench.py --backend cupy --torch-device cuda         # on a CUDA machine

One step is the book's loop body, written as the book writes it (host NumPy arrays, float64 noise):

    generator.predict(20 latents) -> discriminator.train_on_batch(40 images, noisy labels)
                                  -> gan.train_on_batch(20 latents, zeros)

The models are built with minigan's public API, with the book's code (``import minigan as keras``).
Real images are uniform noise in [0, 1): the pixels do not change the time. After 2 warm-up steps
each, minigan and PyTorch (``torch_reference.TorchGAN``: same shapes, parameters and step) run
alternately, one step each, swapping who goes first every round, so a busy neighbour slows both
alike. Printed: median wall and CPU seconds (all threads; they move less than the wall clock on a
shared machine), the ratio minigan / PyTorch, the resident memory after every step (first vs last:
flat means no leak) and the peak (``ru_maxrss``), before PyTorch is loaded and for the whole run.

Thread counts (BLAS, OpenMP, torch) must be fixed before NumPy is imported: this file imports
nothing heavy at the top, and ``profile_layers.py`` reuses its pieces.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LATENT_DIM, HEIGHT, WIDTH, CHANNELS = 32, 32, 32, 3
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=["numpy", "cupy"], default="numpy", help="minigan backend (numpy)")
    p.add_argument("--batch-size", type=int, default=20, help="images of each kind per step (20, as the book)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per contender (10; fewer only for a quick look)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (2)")
    p.add_argument("--algorithm", choices=["auto", "im2col", "fft"], default="auto",
                   help="convolution algorithm for every conv layer (auto: conv.choose_algorithm; "
                        "fft: the stride-1 layers, stride-2 ones stay im2col)")
    p.add_argument("--threads", type=int, default=2, help="BLAS / OpenMP / torch threads (2)")
    p.add_argument("--torch-device", choices=["cpu", "cuda"], default="cpu", help="PyTorch device (cpu)")
    p.add_argument("--channels-last", action="store_true", help="PyTorch in channels_last memory format")
    p.add_argument("--no-torch", action="store_true", help="time minigan only, even if PyTorch is installed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    args = p.parse_args(argv)
    if args.steps < 10:
        print(f"note: --steps {args.steps}: fewer than 10 timed steps, the median is rough", file=sys.stderr)
    return args


def pin_threads(threads):
    """Fix every thread pool to ``threads`` -- before NumPy (OpenBLAS) or torch is imported."""
    if "numpy" in sys.modules:
        print("warning: NumPy was imported before the thread count was set; BLAS may use other counts",
              file=sys.stderr)
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # run from a source checkout: the minigan next to this folder


# -- the book's models, with its own code -----------------------------------------------------------
def build_book_models():
    """The generator, discriminator and GAN of the listing, line for line (summaries left out)."""
    import minigan as keras
    from minigan import layers

    keras.clear_session()  # the book's layer names: conv2d, conv2d_1, ...
    latent_dim, height, width, channels = LATENT_DIM, HEIGHT, WIDTH, CHANNELS

    generator_input = keras.Input(shape=(latent_dim,))
    x = layers.Dense(128 * 16 * 16)(generator_input)
    x = layers.LeakyReLU()(x)
    x = layers.Reshape((16, 16, 128))(x)
    x = layers.Conv2D(256, 5, padding='same')(x)
    x = layers.LeakyReLU()(x)
    x = layers.Conv2DTranspose(256, 4, strides=2, padding='same')(x)
    x = layers.LeakyReLU()(x)
    x = layers.Conv2D(256, 5, padding='same')(x)
    x = layers.LeakyReLU()(x)
    x = layers.Conv2D(256, 5, padding='same')(x)
    x = layers.LeakyReLU()(x)
    x = layers.Conv2D(channels, 7, activation='tanh', padding='same')(x)
    generator = keras.models.Model(generator_input, x)

    discriminator_input = layers.Input(shape=(height, width, channels))
    x = layers.Conv2D(128, 3)(discriminator_input)
    x = layers.LeakyReLU()(x)
    x = layers.Conv2D(128, 4, strides=2)(x)
    x = layers.LeakyReLU()(x)
    x = layers.Conv2D(128, 4, strides=2)(x)
    x = layers.LeakyReLU()(x)
    x = layers.Conv2D(128, 4, strides=2)(x)
    x = layers.LeakyReLU()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.4)(x)
    x = layers.Dense(1, activation='sigmoid')(x)
    discriminator = keras.models.Model(discriminator_input, x)
    discriminator_optimizer = keras.optimizers.RMSprop(lr=0.0008, clipvalue=1.0, decay=1e-8)
    discriminator.compile(optimizer=discriminator_optimizer, loss='binary_crossentropy')

    discriminator.trainable = False
    gan_input = keras.Input(shape=(latent_dim,))
    gan_output = discriminator(generator(gan_input))
    gan = keras.models.Model(gan_input, gan_output)
    gan_optimizer = keras.optimizers.RMSprop(lr=0.0004, clipvalue=1.0, decay=1e-8)
    gan.compile(optimizer=gan_optimizer, loss='binary_crossentropy')

    counts = generator.count_params(), discriminator.count_params()
    if counts != (6_264_579, 790_913):
        raise AssertionError(f"the book's models have 6,264,579 and 790,913 parameters, these {counts}")
    return generator, discriminator, gan


class BookStep:
    """The body of the book's training loop; ``step()`` returns (d_loss, a_loss) as floats."""

    def __init__(self, generator, discriminator, gan, batch_size, seed=0):
        import numpy as np
        self.np, self.batch_size = np, batch_size
        self.generator, self.discriminator, self.gan = generator, discriminator, gan
        np.random.seed(seed)
        # Stand-in for the frogs: 10 batches of uniform pixels in [0, 1), float32 as the book makes them.
        self.x_train = np.random.random((10 * batch_size, HEIGHT, WIDTH, CHANNELS)).astype('float32')
        self.start = 0

    def step(self):
        np, batch_size, latent_dim = self.np, self.batch_size, LATENT_DIM
        random_latent_vectors = np.random.normal(size=(batch_size, latent_dim))
        generated_images = self.generator.predict(random_latent_vectors)
        stop = self.start + batch_size
        real_images = self.x_train[self.start: stop]
        combined_images = np.concatenate([generated_images, real_images])
        labels = np.concatenate([np.ones((batch_size, 1)), np.zeros((batch_size, 1))])
        labels += 0.05 * np.random.random(labels.shape)
        d_loss = self.discriminator.train_on_batch(combined_images, labels)
        random_latent_vectors = np.random.normal(size=(batch_size, latent_dim))
        misleading_targets = np.zeros((batch_size, 1))
        a_loss = self.gan.train_on_batch(random_latent_vectors, misleading_targets)
        self.start += batch_size
        if self.start > len(self.x_train) - batch_size:
            self.start = 0
        return d_loss, a_loss


# -- choosing the convolution algorithm from outside the library -------------------------------------
def force_algorithm(name):
    """Make every conv layer use ``name`` by replacing ``conv.choose_algorithm`` (what ``algorithm="auto"``,
    the layers' default, asks). Returns ``choices``: (kernel shape, strides) -> algorithm, as used."""
    from minigan.functional import conv

    original = getattr(conv.choose_algorithm, "__wrapped__", conv.choose_algorithm)
    choices = {}

    def choose(kernel_shape, *args, **kwargs):
        strides = tuple(args[0] if args else kwargs.get("strides", (1, 1)))
        if name == "auto":
            algorithm = original(kernel_shape, *args, **kwargs)
        elif name == "fft":
            algorithm = "fft" if strides == (1, 1) else "im2col"  # the FFT path is stride 1 only
        else:
            algorithm = name
        choices[(tuple(kernel_shape), strides)] = algorithm
        return algorithm

    choose.__wrapped__ = original
    conv.choose_algorithm = choose
    return choices


def conv_layers(generator, discriminator):
    """[(label, layer)] for the conv layers of G and D, in order, with what they compute."""
    found = []
    for tag, model in (("G", generator), ("D", discriminator)):
        for layer in model.layers:
            if hasattr(layer, "kernel_size"):
                found.append((f"{tag} {layer.name}", layer))
    return found


def describe(layer):
    """'Conv2D 5x5 128->256 s1' from a built layer."""
    kind = type(layer).__name__
    kh, kw = layer.kernel_size
    if kind == "Conv2DTranspose":
        c_in, c_out = layer.kernel.shape[3], layer.kernel.shape[2]
    else:
        c_in, c_out = layer.kernel.shape[2], layer.kernel.shape[3]
    return f"{kind} {kh}x{kw} {c_in}->{c_out} s{layer.strides[0]}"


def algorithm_of(layer, choices):
    return choices.get((tuple(layer.kernel.shape), tuple(layer.strides)), "?")


# -- measuring ------------------------------------------------------------------------------------
def rss_mib():
    """Resident memory now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def load():
    return [round(v, 2) for v in os.getloadavg()]


def timed(step, sync):
    """(wall seconds, CPU seconds of all threads) of one call, synchronised on both sides."""
    sync()
    wall, cpu = time.perf_counter(), time.process_time()
    step()
    sync()
    return time.perf_counter() - wall, time.process_time() - cpu


def code_version():
    """Short hashes of the convolution sources this process imported (they change while being optimised)."""
    import hashlib
    from minigan.functional import conv, conv_fft, im2col
    return {Path(m.__file__).name: hashlib.sha256(Path(m.__file__).read_bytes()).hexdigest()[:10]
            for m in (conv, im2col, conv_fft)}


def machine():
    """What the numbers were measured on."""
    import numpy
    info = {"python": platform.python_version(), "numpy": numpy.__version__, "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    except OSError:
        info["cpu"] = platform.processor() or "?"
    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older NumPy: no dict mode
        info["blas"] = "?"
    for module in ("torch", "cupy"):
        if module in sys.modules:
            info[module] = sys.modules[module].__version__
    return info


class Contender:
    def __init__(self, name, step, sync):
        self.name, self.step, self.sync = name, step, sync
        self.wall, self.cpu, self.rss = [], [], []

    def run(self, record=True):
        wall, cpu = timed(self.step, self.sync)
        if record:
            self.wall.append(wall)
            self.cpu.append(cpu)
            self.rss.append(rss_mib())

    def summary(self):
        return {"median_s": statistics.median(self.wall), "median_cpu_s": statistics.median(self.cpu),
                "min_s": min(self.wall), "step_s": self.wall, "step_cpu_s": self.cpu,
                "rss_first_mib": self.rss[0], "rss_last_mib": self.rss[-1]}


def torch_contender(args):
    """The same step in PyTorch (benchmarks/torch_reference.py), or None when torch is missing."""
    try:
        import torch
    except ImportError:
        print("PyTorch: not installed, minigan only")
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from torch_reference import TorchGAN

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = TorchGAN(channels_last=args.channels_last, device=args.torch_device)
    real = model.real_batch(args.batch_size)
    sync = torch.cuda.synchronize if args.torch_device == "cuda" else (lambda: None)
    name = f"pytorch {torch.__version__} {args.torch_device}" + (" channels_last" if args.channels_last else "")
    return Contender(name, lambda: model.step(args.batch_size, real), sync)


def main(argv=None):
    args = parse(argv)
    pin_threads(args.threads)
    import minigan
    from minigan.functional import im2col

    minigan.set_backend(args.backend)
    minigan.random.seed(args.seed)
    choices = force_algorithm(args.algorithm)
    sources = code_version()
    biggest = [0]  # the largest im2col column buffer allocated, in bytes
    make_buffer = im2col.column_buffer

    def column_buffer(xp, shape, dtype):
        out = make_buffer(xp, shape, dtype)
        biggest[0] = max(biggest[0], out.nbytes)
        return out

    im2col.column_buffer = column_buffer

    generator, discriminator, gan = build_book_models()
    book = BookStep(generator, discriminator, gan, args.batch_size, args.seed)
    ours = Contender(f"minigan {args.backend} {args.algorithm}", book.step, minigan.backend.synchronize)
    load_before = load()
    for _ in range(args.warmup):
        ours.run(record=False)
    peak_minigan = peak_rss_mib()  # before torch exists in this process
    theirs = None if args.no_torch else torch_contender(args)
    contenders = [ours] + ([theirs] if theirs else [])
    for _ in range(args.warmup if theirs else 0):
        theirs.run(record=False)
    for round_ in range(args.steps):  # alternate, and swap who goes first every round
        for contender in (contenders if round_ % 2 == 0 else contenders[::-1]):
            contender.run()
    load_after = load()

    info = machine()
    print(f"the book's GAN step (generator.predict, discriminator.train_on_batch, gan.train_on_batch), "
          f"batch {args.batch_size}, {args.threads} threads, {args.steps} steps after {args.warmup} warm-up")
    print(f"machine: {info['cpu']}, {info['cores']} cores; python {info['python']}, numpy {info['numpy']} "
          f"({info['blas']})" + (f", torch {info['torch']}" if "torch" in info else "")
          + (f", cupy {info['cupy']}" if "cupy" in info else ""))
    print(f"load average (1, 5, 15 min): {load_before} before, {load_after} after")
    print("sources: " + ", ".join(f"{name} {digest}" for name, digest in sources.items()))
    print("conv layers:", "; ".join(f"{label} {describe(layer)}: {algorithm_of(layer, choices)}"
                                    for label, layer in conv_layers(generator, discriminator)))
    results = {}
    for contender in contenders:
        s = results[contender.name] = contender.summary()
        print(f"  {contender.name:34s} median {s['median_s']:7.3f} s  cpu {s['median_cpu_s']:7.3f} s  "
              f"min {s['min_s']:7.3f} s  RSS after step 1 {s['rss_first_mib']:6.0f} MiB, "
              f"after step {args.steps} {s['rss_last_mib']:6.0f} MiB")
    ratio = None
    if theirs:
        a, b = results[ours.name], results[theirs.name]
        ratio = {"wall": a["median_s"] / b["median_s"], "cpu": a["median_cpu_s"] / b["median_cpu_s"]}
        print(f"  minigan / PyTorch: {ratio['wall']:.2f}x wall, {ratio['cpu']:.2f}x cpu")
    cap = im2col.MAX_COLUMN_BYTES
    warm = f"{peak_minigan:.0f} MiB after minigan's warm-up (before torch), " if args.warmup else ""
    print(f"peak RSS: {warm}{peak_rss_mib():.0f} MiB "
          f"for the whole run; im2col buffer cap {cap / 2**20:.0f} MiB, largest allocated "
          f"{biggest[0] / 2**20:.0f} MiB")
    device_memory = {}
    if args.backend == "cupy":
        import cupy
        device_memory["cupy_pool_mib"] = cupy.get_default_memory_pool().total_bytes() / 2**20
    if theirs and args.torch_device == "cuda":
        import torch
        device_memory["torch_max_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
    if device_memory:
        print("GPU memory: " + ", ".join(f"{k} {v:.0f}" for k, v in device_memory.items()))
    if args.json:
        report = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                  "machine": info, "sources": sources, "load_before": load_before, "load_after": load_after,
                  "conv_algorithms": {label: [describe(layer), algorithm_of(layer, choices)]
                                      for label, layer in conv_layers(generator, discriminator)},
                  "results": results, "ratio_minigan_over_pytorch": ratio,
                  "peak_rss_mib_minigan": peak_minigan, "peak_rss_mib_run": peak_rss_mib(),
                  "max_column_bytes": cap, "largest_column_buffer_bytes": biggest[0], "device_memory": device_memory}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
