"""CIFAR-10 loading: layout, where the data comes from, the checked download, and refusing bad files.

Every test runs offline: the ``isolated`` fixture points MINIGAN_HOME at a temporary folder, clears
MINIGAN_DATA and replaces the URL opener by one that fails, so nothing touches ~/.minigan or the network.
Fake batches are tiny (a few images); the real frogs in ../shared are used when present.
"""

import hashlib
import io
import os
import pickle
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from minigan.backend import numpy as np
from minigan.datasets import DatasetError, DatasetNotFoundError, UnsafePickleError, cifar10, files

FROGS = Path(__file__).resolve().parents[2] / "shared/data/cifar-10-frogs"
FROG_BATCHES = FROGS / "cifar-10-batches-py"
TEST_SET = Path(__file__).resolve().parents[2] / "shared/data/cifar-10-test/cifar-10-batches-py"
needs_test_set = pytest.mark.skipif(not TEST_SET.is_dir(), reason=f"real CIFAR-10 test set not found at {TEST_SET}")
needs_frogs = pytest.mark.skipif(not FROG_BATCHES.is_dir(), reason=f"real CIFAR-10 frogs not found at {FROG_BATCHES}")


# ---------------------------------------------------------------------------------------------------
# Helpers: fake batches, folders and tarballs
# ---------------------------------------------------------------------------------------------------
def fake_batch(n, label=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"fake",
        b"labels": [label] * n,
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


SIZES = {"data_batch_1": 3, "data_batch_2": 2, "data_batch_3": 1, "data_batch_4": 2, "data_batch_5": 1, "test_batch": 4}


def write_folder(folder, sizes=SIZES):
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, n) in enumerate(sizes.items()):
        (folder / name).write_bytes(pickle.dumps(fake_batch(n, label=i, seed=i), protocol=2))
    return folder


def write_tarball(path, sizes=SIZES):
    with tarfile.open(path, "w:gz") as tar:
        for i, (name, n) in enumerate(sizes.items()):
            blob = pickle.dumps(fake_batch(n, label=i, seed=i), protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def no_network(*args, **kwargs):
    raise urllib.error.URLError("no network in tests")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """MINIGAN_HOME in tmp_path, no MINIGAN_DATA, no network; yields the cache folder."""
    monkeypatch.setenv("MINIGAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    monkeypatch.setattr(files, "_urlopen", no_network)
    return tmp_path / "home" / "datasets"


def assert_fake_loaded(result, sizes=SIZES):
    (x_train, y_train), (x_test, y_test) = result
    n_train = sum(n for name, n in sizes.items() if name != "test_batch")
    assert x_train.shape == (n_train, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (n_train, 1) and y_train.dtype == np.uint8
    assert x_test.shape == (sizes.get("test_batch", 0), 32, 32, 3) and y_test.shape == (sizes.get("test_batch", 0), 1)
    expected_labels = [i for i, (name, n) in enumerate(sizes.items()) if name != "test_batch" for _ in range(n)]
    assert y_train.ravel().tolist() == expected_labels


# ---------------------------------------------------------------------------------------------------
# Layout and the real data
# ---------------------------------------------------------------------------------------------------
def test_rows_become_nhwc(tmp_path, isolated):
    # Pixel (r, c) of channel k holds a distinct value, so the mapping row -> (32, 32, 3) is pinned down.
    rows = np.zeros((1, 3072), np.uint8)
    planes = rows.reshape(1, 3, 32, 32)
    planes[0, 0, 1, 2], planes[0, 1, 1, 2], planes[0, 2, 1, 2] = 10, 20, 30  # R, G, B of row 1, column 2
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": rows, b"labels": [9]}, protocol=2))
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(folder)
    assert x_test[0, 1, 2].tolist() == [10, 20, 30]
    assert x_test.sum() == 60 and x_test.flags.c_contiguous
    assert x_train.shape == (0, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (0, 1) and y_train.dtype == np.uint8
    assert y_test.tolist() == [[9]]


@needs_frogs
def test_real_frogs(isolated):
    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(FROG_BATCHES)
    assert time.perf_counter() - start < 5.0, "loading six 3 MB batch files should take well under a second"
    assert x_train.shape == (5000, 32, 32, 3) and x_test.shape == (1000, 32, 32, 3)
    assert x_train.dtype == x_test.dtype == np.uint8
    assert y_train.shape == (5000, 1) and y_test.shape == (1000, 1) and y_train.dtype == np.uint8
    assert set(y_train.ravel().tolist()) == set(y_test.ravel().tolist()) == {6}
    # The README: 1030, 1008, 978, 1004, 980 frogs in data_batch_1..5; the first is this file.
    counts = [cifar10.load_batch(FROG_BATCHES / name)[0].shape[0] for name in cifar10.TRAIN_FILES]
    assert counts == [1030, 1008, 978, 1004, 980]
    with open(FROG_BATCHES / "data_batch_1", "rb") as f:
        assert cifar10.read_batch(f, "data_batch_1")[b"filenames"][0] == b"leptodactylus_pentadactylus_s_000004.png"
    # sample_grid.png: the first 64 training frogs, 1-pixel white gaps, 4x upscaled; tile 0 is x_train[0].
    from PIL import Image

    grid = np.asarray(Image.open(FROGS / "sample_grid.png").convert("RGB"))
    assert np.array_equal(grid[4 : 4 + 128 : 4, 4 : 4 + 128 : 4], x_train[0])
    assert np.array_equal(grid[4 + 132 : 4 + 132 + 128 : 4, 4:132:4], x_train[8])  # row 2 starts at image 8


@needs_frogs
def test_real_frogs_every_way(isolated, monkeypatch):
    frogs = cifar10.load_class("frog", path=FROGS)  # the folder holding cifar-10-batches-py
    assert frogs.shape == (5000, 32, 32, 3)
    assert cifar10.load_class(0, path=FROGS).shape == (0, 32, 32, 3)
    assert cifar10.load_class(6, path=FROGS, split="all").shape == (6000, 32, 32, 3)
    monkeypatch.setenv("MINIGAN_DATA", str(FROG_BATCHES))
    assert np.array_equal(cifar10.load_class(), frogs)


@needs_test_set
def test_real_test_set_alone(isolated):
    # Only test_batch (10000 images, all classes): the train arrays are empty but well-shaped.
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(TEST_SET)
    assert x_train.shape == (0, 32, 32, 3) and y_train.shape == (0, 1)
    assert x_test.shape == (10000, 32, 32, 3) and np.bincount(y_test.ravel()).tolist() == [1000] * 10
    if FROG_BATCHES.is_dir():  # the frogs of both copies agree, in the same order
        assert np.array_equal(x_test[y_test[:, 0] == 6], cifar10.load_class("frog", FROG_BATCHES, split="test"))


# ---------------------------------------------------------------------------------------------------
# Where the data comes from
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["batches folder", "parent folder", "tarball", "folder with tarball"])
def test_path_forms(tmp_path, isolated, form):
    write_folder(tmp_path / "a" / "cifar-10-batches-py")
    (tmp_path / "b").mkdir()
    write_tarball(tmp_path / "b" / "cifar-10-python.tar.gz")
    path = {
        "batches folder": tmp_path / "a" / "cifar-10-batches-py",
        "parent folder": tmp_path / "a",
        "tarball": tmp_path / "b" / "cifar-10-python.tar.gz",
        "folder with tarball": tmp_path / "b",
    }[form]
    assert_fake_loaded(cifar10.load_data(path))
    assert not isolated.exists(), "a path argument must not write into the cache"


def test_subset_of_batches(tmp_path, isolated):
    sizes = {"data_batch_2": 2, "test_batch": 3}
    assert_fake_loaded(cifar10.load_data(write_folder(tmp_path / "cifar-10-batches-py", sizes)), sizes)


def test_path_beats_env_and_env_beats_cache(tmp_path, isolated, monkeypatch):
    write_folder(tmp_path / "env" / "cifar-10-batches-py", {"test_batch": 1})
    write_folder(tmp_path / "arg" / "cifar-10-batches-py", {"test_batch": 2})
    write_folder(isolated / "cifar-10-batches-py", {"test_batch": 3})
    assert cifar10.load_data()[1][0].shape[0] == 3  # only the cache
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path / "env"))
    assert cifar10.load_data()[1][0].shape[0] == 1
    assert cifar10.load_data(tmp_path / "arg")[1][0].shape[0] == 2


def test_missing_paths_are_named(tmp_path, isolated, monkeypatch):
    with pytest.raises(DatasetNotFoundError, match="nowhere.*does not exist"):
        cifar10.load_data(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="empty, which holds no CIFAR-10 data"):
        cifar10.load_data(tmp_path / "empty")
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path / "gone"))
    with pytest.raises(DatasetNotFoundError, match="MINIGAN_DATA points to .*gone"):
        cifar10.load_data()


def test_offline_error_lists_the_three_ways(isolated):
    with pytest.raises(DatasetNotFoundError) as caught:
        cifar10.load_data()
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    for part in ("load_data(path=", "MINIGAN_DATA", str(isolated), cifar10.URL, "no network in tests"):
        assert part in message
    assert not isolated.exists() or list(isolated.iterdir()) == []


# ---------------------------------------------------------------------------------------------------
# The cache and the download
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def served(tmp_path, isolated, monkeypatch):
    """A fake official tarball behind a file:// URL, with its MD5 as the expected one."""
    tarball = write_tarball(tmp_path / "server.tar.gz")
    monkeypatch.setattr(cifar10, "URL", tarball.as_uri())
    monkeypatch.setattr(cifar10, "MD5", md5(tarball))
    monkeypatch.setattr(files, "_urlopen", urllib.request.urlopen)
    return tarball


def test_download_is_cached_and_extracted(served, isolated, monkeypatch):
    assert_fake_loaded(cifar10.load_data())
    assert md5(isolated / "cifar-10-python.tar.gz") == cifar10.MD5
    assert sorted(p.name for p in (isolated / "cifar-10-batches-py").iterdir()) == sorted(SIZES)
    assert not [p for p in isolated.iterdir() if p.name.startswith(".")], "temporary files were left behind"
    monkeypatch.setattr(files, "_urlopen", no_network)  # the second load needs no network
    assert_fake_loaded(cifar10.load_data())


def test_wrong_md5_leaves_cache_empty(served, isolated, monkeypatch):
    monkeypatch.setattr(cifar10, "MD5", "0" * 32)
    with pytest.raises(DatasetNotFoundError, match="MD5 .* expected 0{32}"):
        cifar10.load_data()
    assert list(isolated.iterdir()) == []


def test_truncated_download_leaves_cache_empty(served, isolated, tmp_path, monkeypatch):
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(served.read_bytes()[:-100])
    monkeypatch.setattr(cifar10, "URL", cut.as_uri())  # MD5 stays that of the whole file
    with pytest.raises(DatasetNotFoundError, match="MD5"):
        cifar10.load_data()
    assert list(isolated.iterdir()) == []


def test_connection_cut_off_is_detected(served, isolated, monkeypatch):
    class ShortResponse(io.BytesIO):  # announces more bytes than it sends
        headers = {"Content-Length": str(served.stat().st_size)}

    monkeypatch.setattr(files, "_urlopen", lambda url, timeout: ShortResponse(served.read_bytes()[:1000]))
    with pytest.raises(DatasetNotFoundError, match="cut off: got 1000 of"):
        cifar10.load_data()
    assert list(isolated.iterdir()) == []


def test_cached_tarball_is_checked_then_extracted(tmp_path, isolated, monkeypatch):
    isolated.mkdir(parents=True)
    write_tarball(isolated / "cifar-10-python.tar.gz")
    monkeypatch.setattr(cifar10, "MD5", "f" * 32)
    with pytest.raises(DatasetError, match="cifar-10-python.tar.gz: MD5 is .* expected f{32}.*Delete it"):
        cifar10.load_data()
    monkeypatch.setattr(cifar10, "MD5", md5(isolated / "cifar-10-python.tar.gz"))
    assert_fake_loaded(cifar10.load_data())
    assert (isolated / "cifar-10-batches-py" / "test_batch").is_file()


def test_truncated_tarball_is_named(tmp_path, isolated):
    whole = write_tarball(tmp_path / "whole.tar.gz")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(DatasetError, match="cut.tar.gz: not a complete CIFAR-10 tarball"):
        cifar10.load_data(cut)


# ---------------------------------------------------------------------------------------------------
# Bad batch files, and pickles that would run code
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content, message",
    [
        (b"this is not a pickle", "not a readable pickle"),
        (pickle.dumps(fake_batch(3), protocol=2)[:200], "not a readable pickle"),
        (pickle.dumps([1, 2, 3], protocol=2), "expected a dict"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}, protocol=2), r"missing \[b'labels'\]"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.int64), b"labels": [0, 0]}), "uint8 array of shape"),
        (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 0]}), r"got a uint8 array of shape \(2, 100\)"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), "should be 2 integers"),
        (pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}), r"0\.\.9"),
    ],
)
def test_bad_batch_names_the_file(tmp_path, isolated, content, message):
    folder = write_folder(tmp_path / "cifar-10-batches-py", {"data_batch_1": 1})
    (folder / "data_batch_2").write_bytes(content)
    with pytest.raises(DatasetError, match=message) as caught:
        cifar10.load_data(folder)
    assert str(folder / "data_batch_2") in str(caught.value)


class Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))  # unpickling would call os.system(command)


class EvalEvil(Evil):
    def __reduce__(self):
        return (eval, (f"__import__('os').system({self.command!r})",))


@pytest.mark.parametrize("kind", [Evil, EvalEvil])
def test_malicious_pickle_is_refused(tmp_path, isolated, kind):
    pwned = tmp_path / "pwned"
    payload = {b"data": kind(f"touch {pwned}"), b"labels": []}
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(UnsafePickleError, match="refused to load.*(system|eval)") as caught:
        cifar10.load_data(folder)
    assert str(folder / "test_batch") in str(caught.value)
    assert not pwned.exists(), "the pickle ran its command"
    pickle.loads(pickle.dumps(Evil(f"touch {pwned}")))  # the same payload with plain pickle does run:
    assert pwned.exists()  # proof that the test would catch a loader that is not restricted


def test_python3_resaved_batches_load(tmp_path, isolated):
    # Re-saved by Python 3 / NumPy 2: str keys, numpy ints in the labels, protocol 5 (_frombuffer).
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batch = {"data": np.full((2, 3072), 7, np.uint8), "labels": list(np.array([1, 2]))}
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=5))
    _, (x_test, y_test) = cifar10.load_data(folder)
    assert x_test.shape == (2, 32, 32, 3) and (x_test == 7).all() and y_test.ravel().tolist() == [1, 2]


def test_class_index():
    assert cifar10.class_index("frog") == 6 == cifar10.CLASS_NAMES.index("frog")
    with pytest.raises(ValueError, match="unknown class name 'frogs'"):
        cifar10.class_index("frogs")
    with pytest.raises(ValueError, match="0..9, got 10"):
        cifar10.class_index(10)
    with pytest.raises(ValueError, match="split must be"):
        cifar10.load_class(6, split="valid")
