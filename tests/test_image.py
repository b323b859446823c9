"""Arrays <-> images as keras.preprocessing.image does it, atomic saving, and the sample grid."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from minigan.backend import numpy as np
from minigan.preprocessing import image

FROGS = Path(__file__).resolve().parents[2] / "shared/data/cifar-10-frogs"


def keras_scale(x):
    """Keras 2's array_to_img(scale=True), written out: x - min, / max (if not 0), * 255, astype uint8."""
    x = np.asarray(x, np.float32)
    x = x - x.min()
    if x.max() != 0:
        x = x / x.max()
    return (x * 255).astype(np.uint8)


def pixels(img):
    return np.asarray(img)


# ---------------------------------------------------------------------------------------------------
# array_to_img / img_to_array
# ---------------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 6), w=st.integers(1, 6), low=st.floats(-5, 5), span=st.floats(0.01, 10), seed=st.integers(0, 99))
def test_scale_matches_keras(h, w, low, span, seed):
    x = np.random.default_rng(seed).uniform(low, low + span, (h, w, 3)).astype(np.float32)
    assert np.array_equal(pixels(image.array_to_img(x)), keras_scale(x))


def test_constant_image_scales_to_black():
    assert (pixels(image.array_to_img(np.full((2, 3, 3), 0.7))) == 0).all()  # as Keras: min subtracted, no divide


def test_unscaled_unit_range_times_255_truncates_like_keras():
    x = np.random.default_rng(1).uniform(0, 1, (4, 5, 3)).astype(np.float32)
    img = image.array_to_img(x * 255.0, scale=False)
    assert np.array_equal(pixels(img), (x * 255.0).astype(np.uint8))


def test_unscaled_out_of_range_is_clipped_not_wrapped():
    # Keras would wrap -255 to 1 and 300 to 44; minigan clips (documented in image.py).
    img = image.array_to_img(np.array([[[-255.0, 128.0, 300.0]]]), scale=False)
    assert pixels(img).tolist() == [[[0, 128, 255]]]


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB"), (4, "RGBA")])
def test_channels_give_modes(channels, mode):
    x = np.arange(2 * 3 * channels, dtype=np.float32).reshape(2, 3, channels)
    img = image.array_to_img(x, scale=False)
    assert img.mode == mode and img.size == (3, 2)  # PIL sizes are (width, height)
    assert np.array_equal(image.img_to_array(img), x)


def test_channels_first():
    x = np.random.default_rng(2).integers(0, 256, (3, 4, 5)).astype(np.float32)  # (C, H, W)
    img = image.array_to_img(x, data_format="channels_first", scale=False)
    assert img.size == (5, 4)
    assert np.array_equal(image.img_to_array(img, data_format="channels_first"), x)


@pytest.mark.parametrize(
    "shape, message",
    [((4, 4), r"rank 3.*got an array of shape \(4, 4\)"), ((1, 4, 4, 3), r"rank 3.*\(1, 4, 4, 3\)"), ((4, 4, 2), "1, 3 or 4 channels, got 2")],
)
def test_bad_shapes(shape, message):
    with pytest.raises(ValueError, match=message):
        image.array_to_img(np.zeros(shape))


def test_bad_data_format():
    with pytest.raises(ValueError, match="data_format must be"):
        image.array_to_img(np.zeros((2, 2, 3)), data_format="nhwc")


def test_img_to_array_grey_and_dtype():
    x = image.img_to_array(Image.new("L", (3, 2), 9))
    assert x.shape == (2, 3, 1) and x.dtype == np.float32 and (x == 9).all()
    assert image.img_to_array(Image.new("RGB", (1, 1)), dtype="uint8").dtype == np.uint8


def test_cupy_input():
    cupy = pytest.importorskip("cupy")
    try:
        import minigan

        minigan.set_backend("cupy")
    except Exception as error:
        pytest.skip(f"no usable CuPy backend: {error}")
    try:
        x = cupy.asarray(np.random.default_rng(3).uniform(0, 1, (4, 4, 3)))
        assert np.array_equal(pixels(image.array_to_img(x)), keras_scale(x.get()))
    finally:
        minigan.set_backend("numpy")


# ---------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), channels=st.sampled_from([1, 3, 4]), seed=st.integers(0, 99))
def test_png_round_trip_is_exact(tmp_path_factory, h, w, channels, seed):
    x = np.random.default_rng(seed).integers(0, 256, (h, w, channels)).astype(np.float32)
    path = tmp_path_factory.mktemp("png") / "x.png"
    image.save_img(path, x, scale=False)
    mode = {1: "grayscale", 3: "rgb", 4: "rgba"}[channels]
    assert np.array_equal(image.img_to_array(image.load_img(path, color_mode=mode)), x)


def test_save_is_atomic_and_makes_folders(tmp_path, monkeypatch):
    path = tmp_path / "new" / "folder" / "x.png"
    image.save_img(path, np.zeros((2, 2, 3)))
    assert [p.name for p in path.parent.iterdir()] == ["x.png"]
    # A save that fails halfway leaves the old file intact and no temporary file.
    def broken_save(self, fp, format=None, **params):
        Path(fp).write_bytes(b"half a png")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    before = path.read_bytes()
    with pytest.raises(OSError, match="disk full"):
        image.save_img(path, np.ones((2, 2, 3)))
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == ["x.png"]


def test_jpeg_and_explicit_format(tmp_path):
    x = np.random.default_rng(4).uniform(0, 255, (8, 8, 4))
    image.save_img(tmp_path / "x.jpg", x, scale=False, quality=95)  # RGBA -> RGB for JPEG
    assert Image.open(tmp_path / "x.jpg").format == "JPEG"
    image.save_img(tmp_path / "noext", x[..., :3], file_format="png")
    assert Image.open(tmp_path / "noext").format == "PNG"


def test_load_img_modes_and_resize(tmp_path):
    image.save_img(tmp_path / "x.png", np.random.default_rng(5).uniform(0, 1, (6, 10, 3)))
    assert image.load_img(tmp_path / "x.png").mode == "RGB"
    grey = image.load_img(tmp_path / "x.png", color_mode="grayscale", target_size=(3, 5), interpolation="bilinear")
    assert grey.mode == "L" and grey.size == (5, 3)
    with pytest.raises(ValueError, match="color_mode"):
        image.load_img(tmp_path / "x.png", color_mode="cmyk")
    with pytest.raises(ValueError, match="interpolation"):
        image.load_img(tmp_path / "x.png", target_size=(2, 2), interpolation="sinc")


# ---------------------------------------------------------------------------------------------------
# Grids
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "n, rows, upscale, gap, expected",
    [
        (64, None, 1, 1, (8 * 32 + 9, 8 * 32 + 9)),  # 8 x 8
        (64, None, 2, 1, (2 * (8 * 32 + 9), 2 * (8 * 32 + 9))),
        (10, None, 1, 0, (3 * 32, 4 * 32)),  # 4 columns, 3 rows
        (10, 2, 1, 1, (2 * 32 + 3, 5 * 32 + 6)),  # rows given: 5 columns
        (1, None, 3, 2, (3 * 36, 3 * 36)),
    ],
)
def test_grid_size(tmp_path, n, rows, upscale, gap, expected):
    img = image.save_grid(tmp_path / "g.png", np.zeros((n, 32, 32, 3)), rows=rows, upscale=upscale, gap=gap)
    height, width = expected
    assert img.size == (width, height) and image.load_img(tmp_path / "g.png").size == (width, height)


def test_grid_placement_and_value_range():
    images = np.stack([np.full((2, 2, 3), v) for v in (-1.0, 0.0, 1.0, 3.0)])  # 2 x 2 grid
    grid = image.make_grid(images, value_range=(-1, 1), gap=1, background=255)
    assert grid.shape == (7, 7, 3)
    assert grid[1, 1].tolist() == [0] * 3 and grid[1, 4].tolist() == [128] * 3  # -1 -> 0, 0 -> 127.5 -> 128
    assert grid[4, 1].tolist() == [255] * 3 and grid[4, 4].tolist() == [255] * 3  # 1 -> 255, 3 clipped
    assert (grid[0] == 255).all() and (grid[:, 3] == 255).all()  # gaps around and between


def test_grid_uint8_and_grey():
    images = np.arange(4 * 3 * 3, dtype=np.uint8).reshape(4, 3, 3)  # (N, H, W) grey, used as is
    grid = image.make_grid(images, gap=0)
    assert grid.shape == (6, 6, 3) and grid[:3, :3, 1].tolist() == images[0].tolist()


@pytest.mark.parametrize(
    "shape, kwargs, message",
    [
        ((4, 8, 8, 2), {}, r"C = 1 or 3.*\(4, 8, 8, 2\)"),
        ((8, 8), {}, r"got an array of shape \(8, 8\)"),
        ((0, 8, 8, 3), {}, "non-empty"),
        ((4, 8, 8, 3), {"rows": 5}, r"rows must be an integer in 1..4"),
        ((4, 8, 8, 3), {"upscale": 0}, "upscale must be an integer >= 1"),
        ((4, 8, 8, 3), {"value_range": (1, 1)}, "low < high"),
    ],
)
def test_grid_errors(shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        image.make_grid(np.zeros(shape), **kwargs)


@pytest.mark.skipif(not (FROGS / "sample_grid.png").is_file(), reason=f"real CIFAR-10 frogs not found at {FROGS}")
def test_grid_reproduces_shipped_sample(tmp_path):
    from minigan.datasets import cifar10

    (x_train, _), _ = cifar10.load_data(FROGS / "cifar-10-batches-py")
    image.save_grid(tmp_path / "frogs.png", x_train[:64], upscale=4)
    ours = pixels(image.load_img(tmp_path / "frogs.png"))
    assert np.array_equal(ours, pixels(image.load_img(FROGS / "sample_grid.png")))
