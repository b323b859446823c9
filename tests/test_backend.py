"""The backend seam: one module picks NumPy or CuPy; everything else asks it."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigan
from minigan import backend

PACKAGE = Path(minigan.__file__).parent


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_only_backend_imports_numpy_or_cupy():
    offenders = [f"{path.relative_to(PACKAGE.parent)} imports {name}"
                 for path in sorted(PACKAGE.rglob("*.py")) if path.name != "backend.py"
                 for name in imported_modules(path) if name in ("numpy", "cupy")]
    assert not offenders, "only minigan/backend.py may import numpy/cupy:\n" + "\n".join(offenders)


def test_default_backend_and_dtype():
    assert minigan.get_backend() == "numpy"
    assert backend.asarray([1.0, 2.0]).dtype == np.float32
    assert backend.asarray(np.arange(3)).dtype.kind == "i"  # integers keep their dtype
    assert backend.asarray([1.0], dtype="float64").dtype == np.float64
    assert minigan.tensor([1.5]).dtype == np.float32


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'"):
        minigan.set_backend("tensorflow")


def cupy_usable():
    try:
        backend._import_cupy()
        return True
    except backend.BackendError:
        return False


@pytest.mark.skipif(cupy_usable(), reason="CuPy with a GPU is present here; the error path cannot be shown")
def test_cupy_missing_gives_one_clear_error():
    with pytest.raises(backend.BackendError, match=r'pip install "minigan\[cupy\]"|no usable CUDA|no CUDA'):
        minigan.set_backend("cupy")
    assert minigan.get_backend() == "numpy"  # a failed switch changes nothing


@pytest.mark.skipif(cupy_usable(), reason="CuPy with a GPU is present here")
def test_env_var_cupy_does_not_crash_import():
    env = dict(os.environ, MINIGAN_BACKEND="cupy")
    code = ("import minigan\n"
            "try:\n    minigan.tensor([1.0])\nexcept minigan.backend.BackendError as e:\n    print('clear:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=PACKAGE.parent)
    assert out.returncode == 0, out.stderr
    assert "clear:" in out.stdout and "minigan[cupy]" in out.stdout


def test_get_array_module_follows_input_and_rejects_mixes():
    assert backend.get_array_module(np.zeros(1), 2.0, None) is np

    class FakeCupyArray:  # stands in for a cupy.ndarray to show the mix check without a GPU
        pass

    original = backend._cupy
    backend._cupy = type("fakecupy", (), {"ndarray": FakeCupyArray})
    try:
        with pytest.raises(backend.BackendError, match="two backends"):
            backend.get_array_module(np.zeros(1), FakeCupyArray())
    finally:
        backend._cupy = original


def test_to_numpy_and_tensor_roundtrip():
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = minigan.tensor(host)
    assert isinstance(minigan.to_numpy(t), np.ndarray)
    np.testing.assert_array_equal(minigan.to_numpy(t), host)
    assert minigan.to_numpy(host) is host  # no copy on the host


def test_random_is_reproducible_and_restorable():
    minigan.random.seed(123)
    a = minigan.to_numpy(minigan.random.normal((5,)))
    state = minigan.random.get_state()
    b = minigan.to_numpy(minigan.random.uniform((4,)))
    minigan.random.seed(123)
    np.testing.assert_array_equal(a, minigan.to_numpy(minigan.random.normal((5,))))
    minigan.random.set_state(state)
    np.testing.assert_array_equal(b, minigan.to_numpy(minigan.random.uniform((4,))))
    mask = minigan.to_numpy(minigan.random.bernoulli_mask((10000,), 0.6))
    assert set(np.unique(mask)) <= {0.0, 1.0} and abs(mask.mean() - 0.6) < 0.03
    assert minigan.random.normal((2,), dtype="float64").dtype == np.float64
