"""The files of a run: state files (minigan.serialization) that fail loudly, a log that survives a crash,
the config guard, the plot."""

import json
import os
import signal

import numpy as np
import pytest
from PIL import Image

from minigan import serialization, training
from minigan.serialization import StateFileError, as_str, flatten, load_arrays, save_arrays, section


def test_a_checkpoint_round_trips_numbers_and_strings(tmp_path):
    path = tmp_path / "checkpoint.npz"
    state = {"g": {"dense/kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}, "step": 12, "flag": True,
             "config": json.dumps({"lr": 0.0008})}
    save_arrays(path, flatten(state))
    loaded = load_arrays(path, required=["step", "config"])
    np.testing.assert_array_equal(section(loaded, "g")["dense/kernel"], state["g"]["dense/kernel"])
    assert int(loaded["step"]) == 12 and bool(loaded["flag"]) is True
    assert json.loads(as_str(loaded["config"])) == {"lr": 0.0008}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]  # no temporary file left behind


def test_bad_checkpoints_are_reported_with_the_file_name(tmp_path):
    path = tmp_path / "checkpoint.npz"
    with pytest.raises(StateFileError, match="checkpoint.npz: no such file"):
        load_arrays(path)
    path.write_bytes(b"PK\x03\x04 this is not a whole zip file")
    with pytest.raises(StateFileError, match="checkpoint.npz: not a readable npz file"):
        load_arrays(path)
    save_arrays(path, {"step": 1})
    with pytest.raises(StateFileError, match="lacks the entry 'cursor' \\(it holds step\\)"):
        load_arrays(path, required=["step", "cursor"])
    with pytest.raises(StateFileError, match="'bad' has dtype object"):
        save_arrays(path, {"bad": [object()]})
    assert int(load_arrays(path)["step"]) == 1  # the failed save left the old file whole


def test_a_failed_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.npz"
    save_arrays(path, {"step": 1})
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. Ctrl-C while writing

    monkeypatch.setattr(serialization.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        save_arrays(path, {"step": 2})
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_the_config_guard_names_every_difference():
    saved = {"batch_size": 20, "d_optimizer": {"lr": 0.0008, "name": "RMSprop"}, "grid": [8, 8]}
    current = {"batch_size": 4, "d_optimizer": {"lr": 0.0008, "name": "Adam"}, "grid": (8, 8), "seed": 1}
    with pytest.raises(training.ConfigMismatchError) as error:
        training.check_config(saved, current, "--out runs/x")
    assert [key for key, _, _ in error.value.differences] == ["batch_size", "d_optimizer.name", "seed"]
    assert "--out runs/x holds a run with a different config" in str(error.value)
    training.check_config(saved, dict(saved), "--out runs/x")  # equal: no error


def test_the_log_drops_a_line_cut_short_by_a_crash_but_not_damage_elsewhere(tmp_path):
    path = tmp_path / "log.jsonl"
    for step in range(3):
        training.write_log_line(path, {"step": step, "d_loss": 0.7, "a_loss": float("inf")})
    assert all(row["a_loss"] is None for row in training.read_log(path))
    with open(path, "a") as f:
        f.write('{"step": 3, "d_lo')  # killed mid-write
    assert [row["step"] for row in training.read_log(path)] == [0, 1, 2]
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "garbage", lines[1]]) + "\n")
    with pytest.raises(ValueError, match="log.jsonl, line 2"):
        training.read_log(path)


def test_truncate_log_keeps_earlier_steps(tmp_path):
    path = tmp_path / "log.jsonl"
    for step in range(5):
        training.write_log_line(path, {"step": step})
    training.truncate_log(path, 3)
    assert [row["step"] for row in training.read_log(path)] == [0, 1, 2]
    training.truncate_log(tmp_path / "missing.jsonl", 3)  # nothing to do


def test_ctrl_c_twice_raises(capsys):
    with training.StopAtBoundary() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert "finishing this step" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_plot_curves_handles_gaps_single_points_and_long_runs(tmp_path):
    for n in (1, 7, 5000):
        steps = np.arange(n)
        values = np.linspace(0.5, 0.9, n)
        if n > 2:
            values[2] = np.nan
        size = training.plot_curves(tmp_path / f"c{n}.png", steps, [("loss", {"d": values, "a": values + 1}, None)],
                                    size=(400, 300))
        assert size == (400, 300)
        with Image.open(tmp_path / f"c{n}.png") as saved:
            assert saved.size == (400, 300)
