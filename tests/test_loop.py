"""minigan.training.Trainer on a tiny model, no GAN and no data files: the step or time budget, exact resume
through get_state/set_state, Ctrl-C at a step boundary and inside a step, the NaN stop, a state that
became non-finite, the config guard, stale temporary files, and the data cursor's wrap-around."""

import json
import os
import signal

import numpy as np
import pytest

import minigan
from minigan import layers, training
from minigan.serialization import NonFiniteStateError, StateFileError, load_arrays, save_arrays
from minigan.training import BatchCursor, Callback, NonFiniteLossError, Trainer

DATA = np.random.default_rng(0).normal(size=(12, 3)).astype("float32")
TARGETS = DATA @ np.array([[1.0], [-2.0], [0.5]], "float32")


def make_run(out, lr=0.05, config=None, callbacks=(), clock=None, poison=None, optimizer="Adam"):
    """A regression model trained by SGD on consecutive batches of 4, with noise from minigan.random."""
    minigan.clear_session()
    minigan.random.seed(0)
    x = minigan.Input(shape=(3,))
    model = minigan.Model(x, layers.Dense(1)(x))
    model.compile(optimizer=getattr(minigan.optimizers, optimizer)(lr), loss="mse")
    cursor = BatchCursor(len(DATA), 4)

    def step(number):
        start = cursor.next()
        noise = minigan.to_numpy(minigan.random.normal((4, 3))) * 0.01
        loss = model.train_on_batch(DATA[start:start + 4] + noise, TARGETS[start:start + 4])
        if poison is not None and number == poison:
            loss = float("nan")
        return {"loss": loss, "cursor": start}

    state = {"model": model, "optimizer": model.optimizer, "cursor": cursor, "random": minigan.random}
    kwargs = {} if clock is None else {"clock": clock}
    trainer = Trainer(step, state, out, config=config or {"lr": lr}, save_every=2, callbacks=callbacks,
                      progress=False, write=lambda line: None, **kwargs)
    return trainer, model


def log(out):
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def without_time(rows):
    return [{k: v for k, v in row.items() if k != "time"} for row in rows]


def test_resume_repeats_the_uninterrupted_run_bit_for_bit(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    trainer, _ = make_run(straight)
    trainer.start()
    assert trainer.run(7) == "finished"
    trainer, _ = make_run(split)
    trainer.start()
    assert trainer.run(3) == "finished"
    trainer, _ = make_run(split)  # a new process: fresh objects, their state from the checkpoint
    assert trainer.start(resume=True) and trainer.step == 3
    assert trainer.run(7) == "finished"
    assert without_time(log(split)) == without_time(log(straight))
    assert [row["cursor"] for row in log(straight)] == [0, 4, 8, 0, 4, 8, 0]  # the cursor wraps, no skip
    a, b = load_arrays(straight / "checkpoint.npz"), load_arrays(split / "checkpoint.npz")
    assert set(a) == set(b) and {"model/dense/kernel", "optimizer/iterations", "cursor/position", "random",
                                 "step", "config"} <= set(a)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_the_cursor_reaches_the_end_of_the_data_and_wraps():
    cursor = BatchCursor(length=10, batch_size=3)
    assert [cursor.next() for _ in range(5)] == [0, 3, 6, 0, 3]  # 6 + 3 = 9 <= 10: the last whole batch is used
    exact = BatchCursor(length=9, batch_size=3)
    assert [exact.next() for _ in range(4)] == [0, 3, 6, 0]
    exact.set_state({"position": 7})  # another batch size left it past the last whole batch: start over
    assert exact.position == 0
    with pytest.raises(ValueError, match=r"batch_size must be in 1..9 \(the dataset's size\), got 10"):
        BatchCursor(9, 10)


class Clock:
    """Every reading 30 s after the one before: each step "takes" 30 s."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 30.0
        return self.now


def test_minutes_stop_with_a_save_and_count_on_when_resumed(tmp_path):
    trainer, _ = make_run(tmp_path, clock=Clock())
    trainer.start()
    assert trainer.run(50, minutes=2) == "out of time"          # 4 steps of 30 s
    assert [row["step"] for row in log(tmp_path)] == [0, 1, 2, 3]
    assert int(load_arrays(tmp_path / "checkpoint.npz")["step"]) == 4  # saved where it stopped
    trainer, _ = make_run(tmp_path, clock=Clock())
    trainer.start(resume=True)
    assert trainer.run(50, minutes=2) == "out of time" and trainer.step == 4  # the logged times count
    assert trainer.run(50, minutes=3) == "out of time" and trainer.step == 6  # one more minute: 2 steps
    assert trainer.run(7, minutes=100) == "finished" and trainer.step == 7    # iterations still cap it


def test_minutes_alone_set_no_step_limit_and_neither_is_refused(tmp_path):
    """run(minutes=M) trains until the steps' times reach M, however many steps that is (past any
    default count), and saves there; run() with neither limit would never end, so it is refused."""
    trainer, _ = make_run(tmp_path, clock=Clock())
    trainer.start()
    with pytest.raises(ValueError, match="iterations, minutes or both"):
        trainer.run()
    assert trainer.run(minutes=10) == "out of time" and trainer.step == 20   # 20 steps of 30 s
    assert int(load_arrays(tmp_path / "checkpoint.npz")["step"]) == 20
    assert [row["step"] for row in log(tmp_path)] == list(range(20))


def test_the_progress_bar_counts_steps_or_the_time_budget(tmp_path):
    trainer, _ = make_run(tmp_path)
    trainer.progress = True
    assert trainer._progress_bar(100, None, 0.0).total == 100
    bar = trainer._progress_bar(100, 30, 90.0)
    assert bar.total == 1800 and bar.n == 90 and bar.unit == "s"  # 30 minutes, 90 s done already


class Interrupt(Callback):
    def __init__(self, at):
        self.at = at

    def on_batch_end(self, step, logs):
        if step == self.at:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends; the step in progress finishes first


def test_ctrl_c_saves_at_the_step_boundary_and_resume_continues(tmp_path):
    trainer, _ = make_run(tmp_path, callbacks=[Interrupt(at=3)])
    trainer.start()
    assert trainer.run(8) == "interrupted"
    assert int(load_arrays(tmp_path / "checkpoint.npz")["step"]) == 4 and [r["step"] for r in log(tmp_path)] == [0, 1, 2, 3]
    trainer, _ = make_run(tmp_path)
    trainer.start(resume=True)
    assert trainer.run(8) == "finished" and [r["step"] for r in log(tmp_path)] == list(range(8))


def test_an_interrupt_inside_a_step_saves_nothing(tmp_path):
    trainer, _ = make_run(tmp_path)
    inner = trainer.step_fn

    def interrupted(number):
        result = inner(number)
        if number == 3:
            raise KeyboardInterrupt  # a second Ctrl-C: the weights may be half-updated
        return result

    trainer.step_fn = interrupted
    trainer.start()
    assert trainer.run(8) == "interrupted"
    assert int(load_arrays(tmp_path / "checkpoint.npz")["step"]) == 3  # the save after step 2 (every 2)
    assert [r["step"] for r in log(tmp_path)] == [0, 1, 2]


def test_a_nan_loss_stops_and_keeps_the_last_checkpoint(tmp_path):
    trainer, _ = make_run(tmp_path, poison=3)
    trainer.start()
    with pytest.raises(NonFiniteLossError, match="step 3: a loss is not finite .*the checkpoint of step 2 is kept"):
        trainer.run(8)
    assert int(load_arrays(tmp_path / "checkpoint.npz")["step"]) == 3
    assert log(tmp_path)[-1]["loss"] is None  # logged (as JSON null), not saved


def test_a_state_that_became_non_finite_is_never_saved(tmp_path):
    # RMSprop's first step moves a weight by ~3.16 lr: with lr = 2e38 (a float32) every weight becomes inf
    trainer, model = make_run(tmp_path, lr=2e38, optimizer="RMSprop")
    trainer.start()
    with pytest.raises(NonFiniteStateError, match="after step 0 the state of the run is not finite .*'model/dense/.*"
                                                  "no checkpoint was written"):
        trainer.run(4)
    assert not (tmp_path / "checkpoint.npz").exists()
    save_arrays(tmp_path / "ok.npz", {"x": np.ones(2)})
    with pytest.raises(NonFiniteStateError, match=r"ok.npz: not written: entry 'x' holds NaN or inf"):
        save_arrays(tmp_path / "ok.npz", {"x": np.array([1.0, np.inf])}, require_finite=True)
    assert load_arrays(tmp_path / "ok.npz")["x"].tolist() == [1.0, 1.0]


def test_restoring_is_all_or_nothing(tmp_path):
    trainer, model = make_run(tmp_path)
    trainer.start()
    trainer.run(2)
    flat = load_arrays(tmp_path / "checkpoint.npz")
    flat["cursor/position"] = np.array("not a number")  # the last object's entry is unusable
    save_arrays(tmp_path / "checkpoint.npz", flat)
    trainer, model = make_run(tmp_path)
    before = model.get_state()
    with pytest.raises(StateFileError, match=r"checkpoint.npz: entry 'cursor' does not fit this run"):
        trainer.start(resume=True)
    after = model.get_state()
    assert all(np.array_equal(before[name], after[name]) for name in before)  # the model got its state back


def test_a_plain_weights_file_is_not_a_checkpoint(tmp_path):
    trainer, model = make_run(tmp_path)
    model.save_weights(tmp_path / "checkpoint.npz")
    with pytest.raises(StateFileError, match="checkpoint.npz: lacks the entry 'step'"):
        trainer.start(resume=True)


def test_the_config_guard(tmp_path):
    trainer, _ = make_run(tmp_path)
    trainer.start()
    trainer.run(1)
    other, _ = make_run(tmp_path, lr=0.1)
    with pytest.raises(training.ConfigMismatchError, match=r"lr: 0.05 in the saved run, 0.1 now"):
        other.start(resume=True)
    same, _ = make_run(tmp_path)
    with pytest.raises(training.ConfigMismatchError, match="already holds this run .*--resume"):
        same.start()
    assert same.start(force=True) is False and not (tmp_path / "log.jsonl").exists()  # start over


def test_stale_temporary_files_of_ours_are_removed_and_reported(tmp_path):
    lines = []
    trainer, _ = make_run(tmp_path)
    trainer.write = lines.append
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / ".checkpoint.npz.a1b2c3d4.npz.part").write_bytes(b"x" * 1000)  # a kill -9 during a save
    (tmp_path / "keep.part").write_text("not ours")
    (tmp_path / ".hidden").write_text("not ours")
    trainer.start()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "keep.part"]
    assert lines == [f"note: removed 1 temporary file (0.0 MB) left in {tmp_path} by an interrupted write"]
