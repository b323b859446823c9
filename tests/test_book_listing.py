"""minigan's promise: the book's listing (Deep Learning with Python, 8.5) runs with only its imports swapped.

The listing is read from ../shared/reference (never copied into the repository), changed in exactly
these places, and run as its own Python process in a temporary folder (it writes gan.h5 to the current
directory):

    from tensorflow import keras                          -> import minigan as keras
    from tensorflow.keras import layers                   -> from minigan import layers
    from tensorflow.keras.preprocessing import image      -> from minigan.preprocessing import image
    iterations = 10000                                    -> iterations = 2       (3 steps: range(iterations+1))
    save_dir = 'gan_save'                                 -> a temporary folder, created by the test

Afterwards a few appended lines check that gan.h5 loads back into the gan with load_weights. Three steps
of the book's model at batch 20 take about a minute on a 2-core CPU.
"""

import os
import subprocess
import sys

import pytest

from conftest import REFERENCE, REPO, require_frogs

LISTING = REFERENCE / "dlwp_8_5_listing.py"
SUBSTITUTIONS = [
    ("from tensorflow import keras", "import minigan as keras"),
    ("from tensorflow.keras import layers", "from minigan import layers"),
    ("from tensorflow.keras.preprocessing import image", "from minigan.preprocessing import image"),
    ("iterations = 10000", "iterations = 2"),
]
CHECK = """
# --- appended by tests/test_book_listing.py: gan.h5 loads back into the gan ---
import numpy
gan.load_weights('gan.h5')
gan.save_weights('reloaded.h5')
with numpy.load('gan.h5', allow_pickle=False) as a, numpy.load('reloaded.h5', allow_pickle=False) as b:
    assert sorted(a.files) == sorted(b.files) and len(a.files) == len(gan.get_weights())
    for name in a.files:
        numpy.testing.assert_array_equal(a[name], b[name], err_msg=name)
print('LISTING-RAN-TO-THE-END')
"""


def adapted_listing(save_dir):
    if not LISTING.is_file():
        pytest.skip(f"the book's listing is not at {LISTING} (it lives in ../shared/reference beside the repo)")
    source = LISTING.read_text()
    for old, new in SUBSTITUTIONS + [("save_dir = 'gan_save'", f"save_dir = {str(save_dir)!r}")]:
        count = source.count(old)
        assert count == 1, f"{LISTING}: expected the line {old!r} once, found it {count} times"
        source = source.replace(old, new)
    return source + CHECK


def test_the_books_listing_runs_on_minigan(tmp_path):
    frogs = require_frogs()
    save_dir = tmp_path / "gan_save"
    save_dir.mkdir()  # the listing writes into it but does not create it
    script = tmp_path / "listing.py"
    script.write_text(adapted_listing(save_dir))
    env = dict(os.environ, MINIGAN_DATA=str(frogs), MINIGAN_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO))
    env.pop("MINIGAN_BACKEND", None)
    # One BLAS thread: on a shared 2-core machine OpenBLAS's two threads spin-wait for each other and a
    # step can take 10x longer (docs/gan.md, "How long it takes"); an explicit setting is respected.
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=1200)
    assert result.returncode == 0, f"the listing failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    assert "LISTING-RAN-TO-THE-END" in result.stdout
    assert "Total params: 6,264,579" in result.stdout and "Total params: 790,913" in result.stdout
    assert "step 0: discriminator loss:" in result.stdout
    for path in (save_dir / "generated_frog_0.png", save_dir / "real_frog_0.png", tmp_path / "gan.h5"):
        assert path.is_file(), f"the listing did not write {path}"
