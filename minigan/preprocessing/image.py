"""Images to arrays and back, as ``keras.preprocessing.image`` does it (with Pillow), plus a sample grid.

Notation (channels-last, as Keras):
    x      (H, W, C)      one image; C = 3 (RGB), 4 (RGBA) or 1 (grey)
    images (N, H, W, C)   a batch, e.g. generator samples; (N, H, W) is read as grey

Pixels in a file are integers 0..255. Arrays in a network are floats in whatever range the last layer
gives (tanh: -1..1). Two ways across:

* ``array_to_img(x, scale=True)``: stretch the image's own min..max to 0..255 (Keras's default; every
  image uses the full range, so brightness is not comparable between two images);
* ``array_to_img(x * 255, scale=False)``: take the values as pixels. Keras casts with ``astype('uint8')``,
  which wraps out-of-range values (-1 becomes 255, 256 becomes 0) and gives the speckled pictures of
  tanh outputs saved this way; minigan clips to 0..255 first. In range, both truncate (200.7 -> 200).

>>> from minigan.backend import numpy as np
>>> x = np.linspace(0.0, 1.0, 2 * 2 * 3, dtype=np.float32).reshape(2, 2, 3)
>>> img = array_to_img(x)                       # min..max -> 0..255
>>> img.size, img.mode, img_to_array(img)[1, 1].tolist()
((2, 2), 'RGB', [208.0, 231.0, 255.0])
"""

import io

from PIL import Image

from .. import arguments
from ..files import atomic_path, check_target
from ..backend import get_array_module
from ..backend import numpy as np
from ..backend import to_numpy

# Pillow resampling filters by the names Keras uses for ``interpolation``.
_RESAMPLING = {
    "nearest": Image.NEAREST,
    "bilinear": Image.BILINEAR,
    "bicubic": Image.BICUBIC,
    "hamming": Image.HAMMING,
    "box": Image.BOX,
    "lanczos": Image.LANCZOS,
}
_COLOR_MODES = {"rgb": "RGB", "rgba": "RGBA", "grayscale": "L"}


def _check_data_format(data_format, where):
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{where}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return data_format


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A PIL image from a 3-D array (a NumPy or CuPy array, or a Tensor).

    ``scale=True`` maps the array's min..max to 0..255 (a constant image becomes all 0, as in Keras);
    ``scale=False`` takes the values as pixels, clipped to 0..255. Values are truncated to integers.
    3 channels give an "RGB" image, 4 "RGBA", 1 "L" (grey; "I", 32-bit, if values exceed 255).

    >>> array_to_img(np.full((1, 1, 3), 0.5 * 255), scale=False).getpixel((0, 0))
    (127, 127, 127)
    """
    data_format = _check_data_format(data_format, "array_to_img")
    x = np.array(to_numpy(x), dtype=dtype or np.float32)  # a host copy we may change in place
    if x.ndim != 3:
        raise ValueError(
            f"array_to_img expects one image of rank 3, (height, width, channels) for {data_format}, "
            f"got an array of shape {x.shape}"
        )
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if x.shape[2] not in (1, 3, 4):
        raise ValueError(f"array_to_img expects 1, 3 or 4 channels, got {x.shape[2]} (array of shape {x.shape})")
    if x.size == 0:
        raise ValueError(f"array_to_img: the image is empty (shape {x.shape})")
    if not np.isfinite(x).all():  # NaN would become some pixel or other, silently
        raise ValueError(f"array_to_img: the image holds NaN or inf ({int((~np.isfinite(x)).sum())} of {x.size} "
                         f"values); a network gone non-finite? to_uint8 maps them to 0 if a picture is wanted")
    if scale:
        x -= x.min()  # now 0..max
        peak = x.max()
        if peak != 0:
            x /= peak  # now 0..1
        x *= 255
    if x.shape[2] == 1 and x.max() > 255:
        return Image.fromarray(x[:, :, 0].astype(np.int32), "I")  # Keras keeps 32-bit grey here
    pixels = np.clip(x, 0, 255).astype(np.uint8)
    if x.shape[2] == 1:
        return Image.fromarray(pixels[:, :, 0], "L")
    return Image.fromarray(pixels, "RGBA" if x.shape[2] == 4 else "RGB")


def img_to_array(img, data_format=None, dtype=None):
    """A float32 array (H, W, C) of a PIL image; a grey image gets C = 1.

    >>> img_to_array(Image.new("L", (3, 2), 7)).shape
    (2, 3, 1)
    """
    data_format = _check_data_format(data_format, "img_to_array")
    x = np.asarray(img, dtype=dtype or np.float32)
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(f"img_to_array: unsupported image shape {x.shape}; expected (H, W) or (H, W, C)")
    return x.transpose(2, 0, 1).copy() if data_format == "channels_first" else x


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest"):
    """Read an image file into a PIL image converted to ``color_mode`` ("rgb", "rgba", "grayscale").

    ``target_size=(height, width)`` resizes with ``interpolation`` (Keras's names: "nearest", "bilinear",
    "bicubic", ...). The file is read fully and closed at once.
    """
    if color_mode not in _COLOR_MODES:
        raise ValueError(f"load_img: color_mode must be one of {sorted(_COLOR_MODES)}, got {color_mode!r}")
    if target_size is not None:  # checked first: a typo must not decode and resize into gigabytes
        size = tuple(target_size) if isinstance(target_size, (tuple, list)) else ()
        if len(size) != 2 or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0
                                     for n in size):
            raise ValueError(f"load_img: target_size must be (height, width), two positive ints, got {target_size!r}")
        arguments.check_size(size + (4,), 1, "target_size", "load_img")
    with open(path, "rb") as f:
        try:
            img = Image.open(io.BytesIO(f.read()))
            img.load()
        except (OSError, Image.DecompressionBombError) as error:
            raise ValueError(f"load_img: {path} is not an image Pillow can read ({type(error).__name__})") from None
    if img.mode != _COLOR_MODES[color_mode]:
        img = img.convert(_COLOR_MODES[color_mode])
    if target_size is not None:
        if interpolation not in _RESAMPLING:
            raise ValueError(f"load_img: interpolation must be one of {sorted(_RESAMPLING)}, got {interpolation!r}")
        height, width = target_size
        if img.size != (width, height):  # PIL sizes are (width, height)
            img = img.resize((width, height), _RESAMPLING[interpolation])
    return img


def save_img(path, x, data_format=None, file_format=None, scale=True, **params):
    """Save an array (see ``array_to_img``) or a PIL image as an image file, atomically.

    The format comes from ``file_format`` ("png", "jpeg", ...) or the file name. Extra ``params`` go to
    Pillow's ``Image.save`` (e.g. ``quality=95`` for JPEG). RGBA saved as JPEG is converted to RGB.
    """
    path = check_target(path)  # a folder, or a file on the way: said before the format is guessed
    fmt = _image_format(path, file_format)
    img = x if isinstance(x, Image.Image) else array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and fmt == "JPEG":
        img = img.convert("RGB")  # JPEG has no alpha channel
    _atomic_save(img, path, fmt, params)
    return path


def _image_format(path, file_format):
    """Pillow's name of the format to write: ``file_format`` ("png", "jpg"...) or the one of the file's
    extension; an unknown one is an error here (Pillow would only see the temporary name's ".part")."""
    Image.init()
    if file_format is not None:
        fmt = {"JPG": "JPEG"}.get(str(file_format).upper(), str(file_format).upper())
        if fmt not in Image.SAVE:
            raise ValueError(f"save_img: unknown file_format {file_format!r}; Pillow writes "
                             f"{', '.join(sorted(Image.SAVE))}")
        return fmt
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt not in Image.SAVE:
        raise ValueError(f"save_img: cannot tell an image format from the name {path} (extension "
                         f"{path.suffix or 'none'!r}); end it in .png or .jpg, or pass file_format='png'")
    return fmt


def _atomic_save(img, path, fmt, params):
    """Write to a temporary file beside ``path`` (same suffix, so Pillow guesses the same format), rename."""
    with atomic_path(path, suffix=path.suffix) as tmp:
        img.save(tmp, format=fmt, **params)


# ---------------------------------------------------------------------------------------------------
# A grid of samples in one picture
# ---------------------------------------------------------------------------------------------------
def make_grid(images, rows=None, value_range=(0, 1), upscale=1, gap=1, background=255):
    """Tile a batch into one uint8 picture (H', W', 3); see ``save_grid`` for the arguments.

    Layout, for n images of h x w in ``rows`` x ``cols`` cells with a ``gap`` around every cell:
        height = rows * h + (rows + 1) * gap,  width = cols * w + (cols + 1) * gap,  then times ``upscale``.

    >>> make_grid(np.zeros((5, 4, 4, 3)), gap=1).shape     # 5 images: 3 columns, 2 rows
    (11, 16, 3)
    """
    x = to_numpy(images)
    if x.ndim == 3:
        x = x[..., None]  # (N, H, W) grey
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or x.shape[0] == 0:
        raise ValueError(
            f"save_grid expects a non-empty batch of images (N, H, W, C) with C = 1 or 3, or (N, H, W), "
            f"got an array of shape {x.shape}"
        )
    n, h, w, _ = x.shape
    upscale, gap = _whole(upscale, "upscale", 1), _whole(gap, "gap", 0)
    background = _whole(background, "background", 0, 255)
    if rows is None:
        cols = int(np.ceil(np.sqrt(n)))  # as square as possible: 64 -> 8 x 8, 10 -> 4 x 3
        rows = int(np.ceil(n / cols))
    else:
        rows = _whole(rows, "rows", 1, n, " (the number of images)")
        cols = int(np.ceil(n / rows))
    size = ((rows * h + (rows + 1) * gap) * upscale, (cols * w + (cols + 1) * gap) * upscale, 3)
    arguments.check_size(size, 1, "the grid", "save_grid")  # upscale=10**6: an error, not terabytes
    pixels = _to_pixels(x, value_range)
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    grid = np.full((rows * h + (rows + 1) * gap, cols * w + (cols + 1) * gap, 3), background, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = gap + r * (h + gap), gap + c * (w + gap)
        grid[top : top + h, left : left + w] = pixels[i]
    if upscale > 1:  # nearest neighbour: every pixel becomes an upscale x upscale block
        grid = np.repeat(np.repeat(grid, upscale, axis=0), upscale, axis=1)
    return grid


def _whole(value, name, low, high=None, what=""):
    """An integer argument of save_grid (2.0 is fine, 2.5 and True are not), or the ValueError naming it."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) \
        and float(value).is_integer() and value >= low and (high is None or value <= high)
    if not ok:
        span = f">= {low}" if high is None else f"in {low}..{high}{what}"
        raise ValueError(f"save_grid: {name} must be an integer {span}, got {value!r}")
    return int(value)


def _to_pixels(x, value_range):
    """uint8 pixels: uint8 input as is; anything else mapped by ``to_uint8``."""
    return x if x.dtype == np.uint8 else to_uint8(x, value_range)


def _check_range(value_range, where):
    pair = tuple(value_range) if isinstance(value_range, (tuple, list)) else ()
    numbers = len(pair) == 2 and all(isinstance(v, (int, float, np.integer, np.floating)) and
                                     not isinstance(v, (bool, np.bool_)) and np.isfinite(v) for v in pair)
    if not (numbers and pair[1] > pair[0]):
        raise ValueError(f"{where}: value_range must be (low, high), two finite numbers with low < high, "
                         f"got {value_range!r}")
    return float(pair[0]), float(pair[1])


def to_uint8(x, value_range):
    """Values in ``value_range`` -> pixels 0..255: ``(x - low) / (high - low) * 255``, rounded, clipped
    (so with the book's [0, 1] a tanh output below 0 becomes black). The one rule from values to pixels:
    grids, the metrics' image sets and the vital signs all use it. NumPy or CuPy in, the same out.

    >>> to_uint8(np.array([-1.0, 0.0, 1.0]), (-1.0, 1.0)).tolist(), to_uint8(np.array([-0.5, 0.5]), (0, 1)).tolist()
    ([0, 128, 255], [0, 128])
    """
    xp = get_array_module(x)
    low, high = _check_range(value_range, "to_uint8")
    pixels = xp.rint((x - low) * (255.0 / (high - low)))
    return xp.clip(pixels, 0, 255).astype(xp.uint8)


def from_uint8(pixels, value_range):
    """Pixels 0..255 -> float32 values in ``value_range`` (0 -> low, 255 -> high): how real images meet a
    network's output range, [0, 1] for the book, [-1, 1] for a tanh generator trained with fix_range.

    >>> from_uint8(np.array([0, 255], np.uint8), (-1.0, 1.0)).tolist()
    [-1.0, 1.0]
    """
    low, high = _check_range(value_range, "from_uint8")
    if getattr(pixels, "dtype", None) != np.uint8:  # floats in [0, 1] would be divided by 255, silently
        raise ValueError(f"from_uint8: pixels must be a uint8 array (0..255), got "
                         f"{getattr(pixels, 'dtype', type(pixels).__name__)}; to_uint8 makes them")
    x = pixels.astype("float32") / 255.0
    return x if (low, high) == (0.0, 1.0) else x * (high - low) + low


def save_grid(path, images, rows=None, value_range=(0, 1), upscale=1, gap=1, background=255):
    """Write a batch of images (N, H, W, C) as one PNG grid, atomically; returns the PIL image.

    images       NumPy/CuPy array or Tensor, (N, H, W, 3), (N, H, W, 1) or (N, H, W)
    rows         grid rows; by default as square as possible (64 images: 8 x 8)
    value_range  (low, high) of float images, mapped to 0..255 (e.g. (-1, 1) for tanh); values outside
                 are clipped, values rounded. uint8 images are used as they are.
    upscale      each pixel becomes an upscale x upscale block (32x32 samples are small on screen)
    gap          pixels of ``background`` (255: white) between and around the cells, before upscaling

    ``save_grid(path, x_train[:64], upscale=4)`` on the CIFAR-10 frogs reproduces the 1060 x 1060
    ``sample_grid.png`` shipped with the data, pixel for pixel.

    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "samples.png"
    >>> img = save_grid(path, np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 3)), value_range=(-1, 1))
    >>> img.size, load_img(path).size
    ((37, 37), (37, 37))
    """
    img = Image.fromarray(make_grid(images, rows, value_range, upscale, gap, background), "RGB")
    save_img(path, img, file_format="png")
    return img
