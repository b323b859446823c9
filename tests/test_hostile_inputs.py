"""minigan tried as a hostile user would: zero, negative, huge, NaN, the wrong type and the wrong kind of file
at every public argument. Each must give a clear error -- naming the argument, layer or file, what was
expected and what came -- and the command lines their documented exit status (frog_dcgan.py: 0 done, 1
data/file/NaN, 2 bad arguments or a config clash; evaluate_frogs.py: 0, 1, 2), without a traceback, a hang
or gigabytes of memory. docs/hostile-inputs.md is the user's table of the same.

Everything here is tiny (a few weights, ``--dry-run`` with a 4-image preset): the whole file runs in seconds.
"""

import errno
import importlib.util
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import tracemalloc
import zipfile

import numpy as np
import pytest

import minigan
from minigan import layers, optimizers, serialization
from minigan.datasets import DatasetError, DatasetNotFoundError, cifar10
from minigan.metrics import copycheck, fid, swd
from minigan.preprocessing import image
from minigan.serialization import StateFileError
from minigan.training import cli
from conftest import REPO, require_frogs
from test_frog_dcgan import EXAMPLE, TINY

nan, inf = float("nan"), float("inf")


def load(path, name):
    if str(path.parent) not in sys.path:  # evaluate_frogs.py imports frog_dcgan as a sibling, as `python` does
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HUGE_LR = {**TINY, "d_optimizer": {"name": "RMSprop", "lr": 1000.0}, "a_optimizer": {"name": "RMSprop", "lr": 1000.0}}


@pytest.fixture
def frog():
    module = load(EXAMPLE, "frog_dcgan")
    module.PRESETS.update({"test-tiny": TINY, "test-huge-lr": HUGE_LR})
    minigan.set_backend("numpy")
    return module


@pytest.fixture
def evaluate():
    module = load(REPO / "examples" / "evaluate_frogs.py", "evaluate_frogs")
    module.frog_dcgan.PRESETS.update({"test-tiny": TINY})
    return module


DRY = ["--dry-run", "--preset", "test-tiny", "--iterations", "1", "--grid", "1"]


def exit_status(main, argv, **kwargs):
    """main(argv)'s exit status, an argparse error (SystemExit) included."""
    try:
        return main(argv, **kwargs)
    except SystemExit as stop:
        return stop.code


# ==================================================================================================
# frog_dcgan.py end to end: a learning rate that blows the run up
# ==================================================================================================
def test_a_run_that_blows_up_keeps_a_good_checkpoint_and_resumes_from_it(frog, tmp_path, capsys):
    """lr = 1000: step 1's losses are finite, but its update makes the optimizers' state inf. The run stops
    with status 1 naming the entry; the checkpoint on disk is step 0's, finite; resuming from it starts with
    a finite step (and blows up again the same way, as the same run must)."""
    out = tmp_path / "run"
    argv = ["--dry-run", "--preset", "test-huge-lr", "--out", str(out), "--iterations", "4", "--save-every", "1",
            "--grid", "1"]
    assert frog.main(argv) == 1
    err = capsys.readouterr().err
    assert "after step 1 the state of the run is not finite" in err and "holds NaN or inf" in err
    assert "entry '" in err and "the checkpoint of step 0 is kept" in err
    flat = serialization.load_arrays(out / "checkpoint.npz")
    assert int(flat["step"]) == 1 and serialization.non_finite_entry(flat) is None
    assert frog.main(argv + ["--resume"]) == 1
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [0, 1]  # step 1 redone from the checkpoint, once
    assert all(np.isfinite([row["d_loss"], row["a_loss"]]).all() for row in rows)


# ==================================================================================================
# The command lines: --out, checkpoints of the wrong kind, the bounds of every flag
# ==================================================================================================
@pytest.mark.parametrize("where", ["file", "below a file", "not writable"])
def test_a_bad_out_is_refused_before_any_work(frog, evaluate, tmp_path, capsys, monkeypatch, where):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    out = {"file": a_file, "below a file": a_file / "run", "not writable": tmp_path / "locked" / "run"}[where]
    if where == "not writable":  # root writes anywhere: stand in for a folder of another user
        (tmp_path / "locked").mkdir()
        real = os.access
        monkeypatch.setattr(cli.os, "access", lambda p, mode: False if str(p).endswith("locked") else real(p, mode))
    message = {"file": "is a file, not a folder", "below a file": "which is a file",
               "not writable": "is not writable"}[where]
    assert exit_status(frog.main, DRY + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}" in err and message in err
    assert a_file.read_text() == "mine" and not (tmp_path / "locked" / "run").exists()
    target = out / "eval.json" if where != "file" else a_file / "eval.json"
    assert exit_status(evaluate.main, [str(tmp_path / "weights.npz"), "--json", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"--json {target}" in err and "--out" not in err


def test_a_checkpoint_of_the_wrong_kind_is_named(frog, evaluate, tmp_path, capsys):
    plain, partial, garbage = tmp_path / "plain", tmp_path / "partial", tmp_path / "garbage"
    for folder in (plain, partial, garbage):
        folder.mkdir()
    x = minigan.Input(shape=(3,))
    minigan.Model(x, layers.Dense(2)(x)).save_weights(plain / "checkpoint.npz")  # a weights file, not a checkpoint
    serialization.save_arrays(partial / "checkpoint.npz", {"step": 3, "config": "{}"})
    (garbage / "checkpoint.npz").write_bytes(b"PK\x03\x04 not really a zip")
    cases = [(plain, "lacks the entry 'step'"), (partial, "lacks the entry 'generator'"),
             (garbage, "not a readable npz file")]
    for folder, message in cases:
        assert frog.main(DRY + ["--out", str(folder), "--resume", "--force"]) == 1
        err = capsys.readouterr().err
        assert f"{folder / 'checkpoint.npz'}" in err and message in err and "Traceback" not in err
    evaluations = [(plain, "cannot load"), (partial, "lacks the entry 'generator/dense/kernel'"),
                   (garbage, "not a readable npz file")]
    for folder, message in evaluations:
        assert evaluate.main([str(folder / "checkpoint.npz"), "--preset", "test-tiny", "--no-fid"]) == 1
        err = capsys.readouterr().err
        assert f"{folder / 'checkpoint.npz'}" in err and message in err


def test_a_batch_bigger_than_the_data_is_exit_status_1(frog, tmp_path, capsys):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rows = np.zeros((3, 3072), np.uint8)
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": rows, b"labels": [6, 6, 3]}, protocol=2))
    argv = ["--preset", "test-tiny", "--data", str(folder), "--out", str(tmp_path / "run"), "--grid", "1"]
    assert frog.main(argv + ["--batch-size", "3"]) == 1
    assert "only 2 training images of class 6, fewer than one batch of 3" in capsys.readouterr().err
    assert frog.main(argv + ["--batch-size", "2", "--iterations", "2"]) == 0  # exactly one batch: it wraps


def test_a_damaged_log_is_named_and_an_empty_data_path_too(frog, tmp_path, capsys):
    out = tmp_path / "run"
    assert frog.main(DRY + ["--out", str(out), "--iterations", "3", "--save-every", "1"]) == 0
    lines = (out / "log.jsonl").read_text().splitlines()
    (out / "log.jsonl").write_text("\n".join([lines[0], "{half a line", *lines[2:]]) + "\n")
    assert frog.main(DRY + ["--out", str(out), "--iterations", "4", "--resume"]) == 1
    assert f"{out / 'log.jsonl'}, line 2: not a JSON object" in capsys.readouterr().err
    assert frog.main(["--preset", "test-tiny", "--out", str(tmp_path / "b"), "--data", ""]) == 1
    assert "cifar10.load_data(path=...) is empty" in capsys.readouterr().err


# Each int flag, and the range docs/hostile-inputs.md gives for it (what a real run can use).
RANGES = {"--iterations": (1, 10**9), "--save-every": (1, 10**9), "--seed": (0, 2**32 - 1), "--grid": (1, 32),
          "--eval-every": (0, 10**9), "--eval-samples": (2, 50_000), "--eval-patches": (1, 4096),
          "--eval-floor-seeds": (1, 100), "--batch-size": (1, 4096), "--latent-dim": (1, 4096)}


@pytest.mark.parametrize("flag", sorted(RANGES))
def test_every_int_flag_is_bounded(frog, tmp_path, capsys, flag):
    """``--grid 1000`` once ran 10 minutes and took 2.9 GB before step 0: every int flag has a range, and a
    value outside it is exit status 2 naming the flag, the range and the value."""
    assert {f"--{name.replace('_', '-')}" for name in cli.LIMITS} == set(RANGES)  # no flag left unbounded
    low, high = RANGES[flag]
    name = flag[2:].replace("-", "_")
    for bad in (low - 1, high + 1, "1.5", "ten"):
        with pytest.raises(SystemExit) as stop:
            frog.parse_args(["--out", str(tmp_path / "x"), flag, str(bad)])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and f"argument {flag}" in err and f"{low}..{high}" in err
    for good in (low, high):
        assert getattr(frog.parse_args(["--out", str(tmp_path / "x"), flag, str(good)]), name) == good


@pytest.mark.parametrize("flag, bad", [("--minutes", "0"), ("--minutes", "nan"), ("--minutes", "inf"),
                                       ("--minutes", "1e30"), ("--average-decay", "1"), ("--average-decay", "nan"),
                                       ("--class", "toad"), ("--class", "10"), ("--backend", "tensorflow")])
def test_other_flags_refuse_nonsense(frog, tmp_path, capsys, flag, bad):
    assert exit_status(frog.main, DRY + ["--out", str(tmp_path / "x"), flag, bad]) == 2
    assert f"argument {flag}" in capsys.readouterr().err


@pytest.mark.parametrize("flag, bad", [("--samples", "1"), ("--samples", "50001"), ("--patches-per-image", "0"),
                                       ("--floor-seeds", "101"), ("--seed", "-1"), ("--latent-dim", "0")])
def test_evaluate_frogs_flags_are_bounded(evaluate, tmp_path, capsys, flag, bad):
    assert exit_status(evaluate.main, [str(tmp_path / "w.npz"), flag, bad]) == 2
    assert f"argument {flag}" in capsys.readouterr().err


def test_more_evaluation_samples_than_frogs_is_exit_status_1(frog, tmp_path, capsys):
    """--eval-samples 50000 is in range, but the floor needs that many training frogs: known only once the data
    is loaded, it is a data error (status 1), not a traceback."""
    frogs = require_frogs()
    argv = ["--preset", "test-tiny", "--data", str(frogs), "--out", str(tmp_path / "run"), "--iterations", "1",
            "--grid", "1", "--eval-every", "1", "--eval-samples", "50000", "--no-eval-fid"]
    assert frog.main(argv) == 1
    assert "the floor needs 50000 training images, only 5000 given" in capsys.readouterr().err


# ==================================================================================================
# The environment
# ==================================================================================================
def run_python(code, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MINIGAN_")}
    return subprocess.run([sys.executable, "-c", code], env={**environ, **env}, capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_a_nonsense_minigan_backend_is_an_error_at_use_not_at_import():
    code = ("import minigan\ntry:\n    minigan.tensor([1.0])\nexcept minigan.backend.BackendError as e:\n"
            "    print('clear:', e)\nminigan.set_backend('numpy')\nprint(minigan.tensor([1.0]).numpy())\n")
    out = run_python(code, MINIGAN_BACKEND="tensorflow")
    assert out.returncode == 0, out.stderr
    assert "clear: the environment variable MINIGAN_BACKEND='tensorflow' names no backend" in out.stdout
    assert "[1.]" in out.stdout  # set_backend() chooses one: the variable no longer matters


def test_frog_dcgan_with_a_nonsense_minigan_backend_exits_2_unless_backend_is_given(tmp_path):
    script = [sys.executable, str(EXAMPLE), "--dry-run", "--iterations", "1", "--grid", "1", "--batch-size", "2",
              "--latent-dim", "4"]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MINIGAN_")}, "MINIGAN_BACKEND": "gpu"}
    out = subprocess.run(script + ["--out", str(tmp_path / "a")], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "MINIGAN_BACKEND='gpu' names no backend" in out.stderr
    assert "Traceback" not in out.stderr


def test_minigan_data_and_minigan_home_that_point_nowhere_are_named(frog, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path / "nowhere"))
    assert frog.main(["--preset", "test-tiny", "--out", str(tmp_path / "run"), "--iterations", "1"]) == 1
    assert f"MINIGAN_DATA points to {tmp_path / 'nowhere'}, which does not exist" in capsys.readouterr().err
    monkeypatch.delenv("MINIGAN_DATA")
    (tmp_path / "home").write_text("a file, not a folder")
    monkeypatch.setenv("MINIGAN_HOME", str(tmp_path / "home"))
    with pytest.raises(DatasetNotFoundError, match=r"is a file, not a folder"):
        cifar10.load_data()


# ==================================================================================================
# Optimizers: every hyper-parameter as strict as the learning rate
# ==================================================================================================
HYPER = [(optimizers.RMSprop, "rho", [-0.1, 1.0, 1.5]), (optimizers.RMSprop, "epsilon", [0.0, -1e-7, 1e-50, 1e39]),
         (optimizers.Adam, "beta_1", [-0.1, 1.0]), (optimizers.Adam, "beta_2", [1.0, 2.0]),
         (optimizers.Adam, "epsilon", [0.0, 1e39]), (optimizers.SGD, "momentum", [-0.5, 1.5]),
         (optimizers.RMSprop, "decay", [-1.0]), (optimizers.RMSprop, "learning_rate", [-1.0, 1e39]),
         (optimizers.Adam, "clipvalue", [-1.0, 1e39]), (optimizers.SGD, "clipnorm", [-1.0])]


@pytest.mark.parametrize("make, name, bad", HYPER, ids=[f"{m.__name__}.{n}" for m, n, _ in HYPER])
def test_optimizer_hyper_parameters_are_checked(make, name, bad):
    for value in bad + [nan, inf, "0.9", None, True]:
        if value is None and name in ("clipvalue", "clipnorm"):
            continue  # None: no clipping
        with pytest.raises(ValueError, match=rf"{make.__name__}: {name} (must be a finite number in|= .* too small)"):
            make(**{name: value})
    make(**{name: 0.5 if name != "learning_rate" else 1e38})  # in range, and float32 holds it


def test_the_learning_rate_is_checked_when_set_later_and_sgd_wants_a_bool():
    opt = optimizers.RMSprop(lr=0.001)
    with pytest.raises(ValueError, match=r"learning_rate must be a finite number in \[0, 3.40282e\+38\] \(it meets "
                                         r"float32 arrays\), got 1e\+39"):
        opt.lr = 1e39
    assert opt.learning_rate == 0.001
    with pytest.raises(ValueError, match="SGD: nesterov must be True or False, got 'no'"):
        optimizers.SGD(nesterov="no")
    with pytest.raises(ValueError, match=r"unknown optimizer \[\]"):
        optimizers.get([])


def test_a_foreign_optimizer_state_is_refused_whole():
    opt = optimizers.Adam()
    w = minigan.tensor(np.zeros(2), name="w")
    opt.build([w])
    good = opt.get_state()
    for bad, message in [({**good, "iterations": np.array(-3)}, "'iterations' must be one int >= 0"),
                         ({**good, "iterations": np.array(2.5)}, "'iterations' must be one int >= 0"),
                         ({**good, "w/m": np.array(["a", "b"])}, "'w/m' holds <U1 values, not floating point"),
                         ({**good, "w/v": np.array([np.nan, 0.0], np.float32)}, "'w/v' holds NaN or inf")]:
        with pytest.raises(ValueError, match=message):
            opt.set_state(bad)
    assert opt.iterations == 0 and all((v == 0).all() for v in opt.get_state().values())


# ==================================================================================================
# Layers and models
# ==================================================================================================
@pytest.mark.parametrize("make, message", [
    (lambda: layers.Dense(True), r"Dense 'd': units must be an int in 1\.\., got True \(a bool\)"),
    (lambda: layers.Dense(2.0), "units must be an int in 1.., got 2.0"),
    (lambda: layers.Dense(2, use_bias="no"), "use_bias must be True or False, got 'no'"),
    (lambda: layers.Conv2D(2, 1.5), r"Conv2D 'd': kernel_size must be a positive int or a pair of them, got 1.5"),
    (lambda: layers.Conv2D(2, 3, strides=None), "strides must be a positive int or a pair of them, got None"),
    (lambda: layers.Conv2D(2, (2.5, 3)), r"kernel_size must be a positive int or a pair of them, got \(2.5, 3\)"),
    (lambda: layers.MaxPooling2D((True, 2)), r"pool_size must be a positive int or a pair of them, got \(True, 2\)"),
    (lambda: layers.LeakyReLU(nan), r"LeakyReLU 'd': alpha must be a finite number in \[0, 3.40282e\+38\]"),
    (lambda: layers.LeakyReLU(-1), r"alpha must be a finite number in \[0, "),
    (lambda: layers.Dropout("half"), r"Dropout 'd': rate must be a finite number in \[0, 1\), got 'half'"),
    (lambda: layers.Reshape(16), "target_shape must be positive ints with at most one -1, got 16"),
    (lambda: layers.UpSampling2D(2.5), "size must be a positive int or a pair of them, got 2.5"),
    (lambda: layers.Dense(2, activation=["relu"]), r"unknown activation \['relu'\]; expected one of"),
    (lambda: layers.Dense(2, kernel_initializer=[0]), r"unknown initializer \[0\]; expected one of"),
    (lambda: layers.Input(shape=3.5), "a shape must be positive ints"),
    (lambda: layers.Input(shape=(2,), dtype=0), r"InputLayer 'input_\d+': dtype must be a NumPy dtype .*, got 0"),
])
def test_layer_arguments_are_checked_at_construction(named_d, make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.fixture
def named_d(monkeypatch):
    """Every generated layer name is 'd', so that the messages can be matched whatever ran before."""
    from minigan.engine import base_layer
    monkeypatch.setattr(base_layer, "unique_name", lambda prefix, zero_based=True: "d")


def test_sizes_that_would_eat_the_memory_are_refused_before_allocating(named_d):
    tracemalloc.start()
    try:
        x = minigan.Input(shape=(3,))
        with pytest.raises(ValueError, match=r"Dense 'd': weight 'd/kernel' of shape \(3, 1000000000000\) would take "
                                             r"12 TB, more than the 4 GiB one array may take"):
            layers.Dense(10**12)(x)
        with pytest.raises(ValueError, match=r"UpSampling2D 'd': one sample's output of shape \(1, 32000000, 32000"):
            layers.UpSampling2D(10**6)(minigan.Input(shape=(32, 32, 3)))
        with pytest.raises(ValueError, match=r"Conv2D 'd': weight 'd/kernel' of shape \(100000, 100000, 3, 8\)"):
            layers.Conv2D(8, 10**5, padding="same")(minigan.Input(shape=(32, 32, 3)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50e6


def tiny_model():
    x = minigan.Input(shape=(3,))
    model = minigan.Model(x, layers.Dense(1, activation="sigmoid", name="out")(x), name="m")
    model.compile("rmsprop", "binary_crossentropy")
    return model


@pytest.mark.parametrize("method", ["predict", "evaluate"])
@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "8", nan])
def test_batch_sizes_are_whole_numbers_from_1(method, batch_size):
    """batch_size=0 was range()'s error, -1 predicted nothing at all (an empty array, silently)."""
    model, x, y = tiny_model(), np.ones((5, 3)), np.ones((5, 1))
    args = (x,) if method == "predict" else (x, y)
    with pytest.raises(ValueError, match=rf"Model 'm'.{method}: batch_size must be an int in 1\.\., got"):
        getattr(model, method)(*args, batch_size=batch_size)
    assert getattr(model, method)(*args, batch_size=10**9) is not None  # bigger than the data: one batch
    assert getattr(model, method)(*args, batch_size=None) is not None   # Keras' None: 32


def test_empty_batches():
    """predict of nothing is an empty array (of the output's shape); a loss of no samples is an error, not NaN
    (train_on_batch) or 0.0 (evaluate)."""
    model, before = tiny_model(), None
    before = model.get_weights()
    assert model.predict(np.zeros((0, 3))).shape == (0, 1)
    with pytest.raises(ValueError, match=r"Model 'm'.train_on_batch: the batch is empty \(x has shape \(0, 3\)\)"):
        model.train_on_batch(np.zeros((0, 3)), np.zeros((0, 1)))
    with pytest.raises(ValueError, match=r"Model 'm'.evaluate: x holds no samples \(shape \(0, 3\)\)"):
        model.evaluate(np.zeros((0, 3)), np.zeros((0, 1)))
    assert all((a == b).all() for a, b in zip(before, model.get_weights())) and model.optimizer.iterations == 0


@pytest.mark.parametrize("x, y, message", [
    (np.full((2, 3), 1e39), np.ones((2, 1)), r"Model 'm': its inputs hold 1e\+39, beyond float32's largest value"),
    (np.ones((2, 3), complex), np.ones((2, 1)), "needs inputs of real numbers, got an array of dtype complex128"),
    (np.array([["a", "b", "c"]]), np.ones((1, 1)), "needs inputs of real numbers, got an array of dtype <U1"),
    ([[1.0, None, 3.0]], [[1.0]], "needs inputs of real numbers, got an array of dtype object"),
    (np.ones((2, 3)), None, r"Model 'm'.train_on_batch needs a batch of targets .* got None"),
    (np.ones((2, 3)), np.full((2, 1), 1e39), "its targets hold 1e\\+39"),
    (np.ones((2, 3)), np.ones((3, 1)), r"the model outputs shape \(2, 1\) but the targets have shape \(3, 1\)"),
])
def test_inputs_that_float32_cannot_hold_or_that_are_no_numbers(x, y, message):
    model = tiny_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=message):
        model.train_on_batch(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(ValueError, match=r"Model 'm'.evaluate needs a batch of targets .* got None"):
        model.evaluate(np.ones((2, 3)), None)


def test_set_weights_takes_lists_and_refuses_the_rest():
    model = tiny_model()
    model.set_weights([[[1.0], [2.0], [3.0]], [0.5]])  # nested lists, as NumPy would take them
    assert model.get_weights()[0].ravel().tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match=r"Model 'm'.set_weights expects a list of arrays .* got NoneType"):
        model.set_weights(None)
    with pytest.raises(ValueError, match="weight 'out/bias' would hold NaN or inf"):
        model.set_weights([np.zeros((3, 1)), [np.nan]])
    assert model.get_weights()[0].ravel().tolist() == [1.0, 2.0, 3.0]  # all or nothing


# ==================================================================================================
# Files: weights of the wrong kind, crafted sizes, a full disk
# ==================================================================================================
def npy_member(shape, dtype, payload):
    """The bytes of a .npy member whose header claims ``shape`` but which holds only ``payload``."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                                  "shape": shape})
    return header.getvalue() + payload


def test_weights_files_of_the_wrong_kind(tmp_path):
    model = tiny_model()
    with zipfile.ZipFile(tmp_path / "notes.npz", "w") as archive:
        archive.writestr("readme.txt", "not an array")
    with zipfile.ZipFile(tmp_path / "claims.npz", "w") as archive:  # 16 GB claimed by a member of 64 bytes
        archive.writestr("out/kernel.npy", npy_member((4 * 10**9,), np.float32, b"\0" * 64))
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n....")
    tracemalloc.start()
    try:
        for name, message in [("notes.npz", "entry 'readme.txt' is not an array"),
                              ("claims.npz", r"entry 'out/kernel' claims an array of shape \(4000000000,\) "
                                             r"\(16000000000 bytes\) but holds"),
                              ("picture.png", "not a readable npz file"), ("missing.npz", "no such file")]:
            with pytest.raises(StateFileError, match=f"{name}: {message}"):
                model.load_weights(tmp_path / name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50e6
    for path in (None, 3, ""):
        with pytest.raises(TypeError, match="expected a file path"):
            model.load_weights(path)


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_keeps_the_old_file_and_says_so(tmp_path, monkeypatch):
    model = tiny_model()
    path = tmp_path / "gan.h5"
    model.save_weights(path)
    old = path.read_bytes()
    image.save_img(tmp_path / "frog.png", np.zeros((4, 4, 3)))
    old_png = (tmp_path / "frog.png").read_bytes()

    def half_then_full(file, **arrays):
        file.write(b"half a file")
        enospc()
    monkeypatch.setattr(serialization.np, "savez", half_then_full)
    with pytest.raises(StateFileError, match=rf"{path} could not be written \(No space left on device\); the "
                                             r"previous file, if any, is unchanged"):
        model.save_weights(path)
    monkeypatch.setattr(image.Image.Image, "save", enospc)
    with pytest.raises(OSError, match=r"frog.png could not be written \(No space left on device\)") as raised:
        image.save_img(tmp_path / "frog.png", np.ones((4, 4, 3)))
    assert raised.value.errno == errno.ENOSPC
    assert path.read_bytes() == old and (tmp_path / "frog.png").read_bytes() == old_png
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frog.png", "gan.h5"]  # no temporary file left


@pytest.mark.parametrize("what", ["checkpoint", "picture"])
def test_a_full_disk_during_a_run_is_exit_status_1(frog, tmp_path, monkeypatch, capsys, what):
    if what == "checkpoint":
        monkeypatch.setattr(serialization.np, "savez", lambda file, **arrays: enospc())
    else:  # the first grid PNG of the run
        monkeypatch.setattr(image.Image.Image, "save", enospc)
    assert frog.main(DRY + ["--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "could not be written (No space left on device)" in err and "Traceback" not in err
    assert (".npz" if what == "checkpoint" else ".png") in err


@pytest.mark.parametrize("target, message", [("folder", "is a folder; give a file name"),
                                             ("below a file", "is a file, not a folder")])
def test_writing_to_a_folder_or_below_a_file(tmp_path, target, message):
    (tmp_path / "a.txt").write_text("x")
    path = tmp_path if target == "folder" else tmp_path / "a.txt" / "w.npz"
    with pytest.raises(StateFileError, match=message):
        tiny_model().save_weights(path)
    with pytest.raises(OSError, match=message):
        image.save_img(path if target == "folder" else path.with_suffix(".png"), np.zeros((2, 2, 3)))


# ==================================================================================================
# CIFAR-10 files that lie about their size
# ==================================================================================================
class Claim:
    """Pickles as a call of an allowlisted NumPy global that allocates ``shape`` (what a crafted batch does)."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


RECONSTRUCT = np.zeros(1).__reduce__()[0]


@pytest.mark.parametrize("claim", [Claim(RECONSTRUCT, np.ndarray, (2 * 10**9,), b"b"),
                                   Claim(np.ndarray, (2 * 10**9,), "u1")], ids=["_reconstruct", "ndarray"])
def test_a_batch_claiming_a_huge_array_fails_fast_without_allocating_it(tmp_path, claim):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": claim, b"labels": [6]}, protocol=2))
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match=r"test_batch: claims an array of shape \(2000000000,\) \(2000000000 "
                                               r"bytes\), more than the \d+ bytes of the file could hold"):
            cifar10.load_data(folder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50e6


def test_batch_files_and_tarballs_bigger_than_cifar_are_not_read(tmp_path, monkeypatch):
    rows = np.zeros((2, 3072), np.uint8)
    blob = pickle.dumps({b"data": rows, b"labels": [6, 3]}, protocol=2)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(blob)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
    assert cifar10.load_data(folder)[1][0].shape == (2, 32, 32, 3) == cifar10.load_data(archive)[1][0].shape
    monkeypatch.setattr(cifar10, "MAX_BATCH_BYTES", len(blob) - 1)  # stands in for a 10 GB batch file
    with pytest.raises(DatasetError, match=rf"test_batch: {len(blob)} bytes, more than a CIFAR-10 batch file can be"):
        cifar10.load_data(folder)
    with pytest.raises(DatasetError, match=rf"member 'cifar-10-batches-py/test_batch' is {len(blob)} bytes"):
        cifar10.load_data(archive)
    monkeypatch.setattr(cifar10, "MAX_TARBALL_BYTES", 1000)  # stands in for a gzip bomb
    with pytest.raises(DatasetError, match="bytes into the unpacked tarball, beyond the 1000"):
        cifar10.load_data(archive)


@pytest.mark.parametrize("value, message", [(True, "got True"), (6.0, "got 6.0"), (None, "got None"),
                                            (-1, "got -1"), ("toad", "unknown class name 'toad'")])
def test_class_names_and_indices(value, message):
    with pytest.raises(ValueError, match=message):
        cifar10.class_index(value)


def test_load_data_paths(tmp_path):
    with pytest.raises(TypeError, match="cifar10.load_data: path must be a folder or tarball path .* got 3"):
        cifar10.load_data(3)
    with pytest.raises(DatasetNotFoundError, match="/dev/null, which is neither a file nor a folder"):
        cifar10.load_data("/dev/null")
    with pytest.raises(DatasetNotFoundError, match=r"cifar10.load_data\(path=...\) is empty"):
        cifar10.load_data("")


# ==================================================================================================
# Pictures, metrics, random numbers
# ==================================================================================================
@pytest.mark.parametrize("kwargs, message", [
    ({"value_range": 1}, r"value_range must be \(low, high\), two finite numbers with low < high, got 1"),
    ({"value_range": (0, nan)}, "value_range must be"), ({"value_range": (-inf, 1)}, "value_range must be"),
    ({"rows": nan}, r"rows must be an integer in 1..4 \(the number of images\), got nan"),
    ({"upscale": 10**6}, r"save_grid: the grid of shape \(19000000, 19000000, 3\) would take .* TB, more than"),
    ({"gap": 10**6}, "would take"), ({"gap": 1.5}, "gap must be an integer >= 0, got 1.5"),
    ({"upscale": True}, "upscale must be an integer >= 1, got True"),
    ({"background": 300}, r"background must be an integer in 0..255, got 300"),
    ({"background": nan}, "background must be an integer in 0..255, got nan"),
])
def test_grid_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        image.save_grid(tmp_path / "g.png", np.zeros((4, 8, 8, 3)), **kwargs)
    assert not (tmp_path / "g.png").exists()


def test_save_img_and_friends(tmp_path):
    x = np.zeros((4, 4, 3))
    with pytest.raises(ValueError, match=r"cannot tell an image format from the name .*frog.xyz \(extension "
                                         r"'.xyz'\); end it in .png or .jpg, or pass file_format='png'"):
        image.save_img(tmp_path / "frog.xyz", x)
    with pytest.raises(ValueError, match="unknown file_format 'bogus'"):
        image.save_img(tmp_path / "frog.png", x, file_format="bogus")
    image.save_img(tmp_path / "frog", x, file_format="png")  # no extension, but a format: fine
    with pytest.raises(ValueError, match=r"the image holds NaN or inf \(48 of 48 values\)"):
        image.save_img(tmp_path / "frog.png", np.full((4, 4, 3), nan))
    with pytest.raises(ValueError, match=r"the image is empty \(shape \(0, 0, 3\)\)"):
        image.save_img(tmp_path / "frog.png", np.zeros((0, 0, 3)))
    with pytest.raises(ValueError, match="from_uint8: pixels must be a uint8 array"):
        image.from_uint8(np.zeros(3), (0, 1))
    (tmp_path / "junk.png").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"load_img: .*junk.png is not an image Pillow can read"):
        image.load_img(tmp_path / "junk.png")
    with pytest.raises(ValueError, match=r"target_size of shape \(100000, 100000, 4\) would take 40 GB"):
        image.load_img(tmp_path / "frog", target_size=(10**5, 10**5))
    with pytest.raises(ValueError, match=r"target_size must be \(height, width\), two positive ints, got \(0, 4\)"):
        image.load_img(tmp_path / "frog", target_size=(0, 4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frog", "junk.png"]


IMAGES = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("call, message", [
    (lambda: swd.sliced_wasserstein(IMAGES, IMAGES, patches_per_image=10**9), "must be an int in 1..4096"),
    (lambda: swd.sliced_wasserstein(IMAGES, IMAGES, directions=10**9), "directions must be an int in 1..4096"),
    (lambda: swd.sliced_wasserstein(IMAGES, IMAGES, repeats=10**9), "repeats must be an int in 1..1024"),
    (lambda: swd.sliced_wasserstein(IMAGES, IMAGES, seed=-1), "seed must be an int in 0.., got -1"),
    (lambda: swd.sliced_wasserstein(IMAGES, IMAGES, patches_per_image=True), "got True"),
    (lambda: copycheck.nearest_neighbour_distances(IMAGES, IMAGES, chunk_size=0), "chunk_size must be an int in 1.."),
    (lambda: copycheck.nearest_neighbour_distances(IMAGES, IMAGES, chunk_size=-1), "chunk_size must be an int in 1.."),
    (lambda: copycheck.nearest_neighbour_distances(IMAGES, IMAGES, chunk_size=10**6), "a block of shape"),
    (lambda: copycheck.copy_check(IMAGES, IMAGES, IMAGES, z_threshold=nan), "z_threshold must be a finite number"),
    (lambda: fid.kernel_inception_distance(np.ones((4, 3)), np.ones((5, 3)), subsets=10**12),
     "subsets must be an int in 1..10000"),
])
def test_metric_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_random_seeds_and_states():
    for bad, kind in [(-1, ValueError), (1.5, TypeError), (None, TypeError), (True, TypeError)]:
        with pytest.raises(kind, match=r"minigan.random.seed: seed must be a non-negative int"):
            minigan.random.seed(bad)
    minigan.random.seed(0)
    state = minigan.random.get_state()
    for bad, message in [("{", "invalid JSON"), ("{}", "no 'seed'"), ('{"seed": 0, "numpy": {}}', "PCG64"),
                         ('{"seed": -4}', "non-negative")]:
        with pytest.raises(ValueError, match=rf"minigan.random.set_state: not a state written by .*{message}"):
            minigan.random.set_state(bad)
    assert minigan.random.get_state() == state  # unchanged by the refusals
