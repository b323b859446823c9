"""examples/frog_dcgan.py end to end: outputs, exact resume, dry run, config guard, NaN stop, Ctrl-C.

The book's model costs seconds per step on a 2-core CPU, so only two tests use it (a few steps at batch
4); the others use a tiny preset with the book's structure and optimizers, added to the example's
PRESETS table the way any preset is.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, require_frogs

EXAMPLE = REPO / "examples" / "frog_dcgan.py"
LOG_KEYS = {"step", "d_loss", "a_loss", "d_x", "d_g_z", "d_lr", "a_lr", "d_clipped", "a_clipped", "time", "cursor"}
VITAL_KEYS = {"alarms", "grid_diversity", "grid_out_of_range"}  # added at every save (tests/test_vitals.py)
CHECKPOINT_KEYS = {"step", "cursor", "random_state", "fixed_noise", "config"}
TINY = {
    "latent_dim": 8,
    "batch_size": 4,
    "generator": {"seed_filters": 4, "filters": 6},
    "discriminator": {"filters": 6, "dropout": 0.4},
    "d_optimizer": {"name": "RMSprop", "lr": 0.0008, "clipvalue": 1.0, "decay": 1e-8},
    "a_optimizer": {"name": "RMSprop", "lr": 0.0004, "clipvalue": 1.0, "decay": 1e-8},
    "fix_range": False,
}
TINY_AVERAGED = {  # grids from G's weight average, and the generator that starts from an 8x8 map
    **TINY,
    "generator": {"seed_filters": 4, "filters": 6, "seed_size": 8, "full_size_convs": 0},
    "average_decay": 0.9,
}


@pytest.fixture
def frog():
    """A fresh copy of the example module, with the tiny test preset in its table."""
    spec = importlib.util.spec_from_file_location("frog_dcgan", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.PRESETS["test-tiny"] = TINY
    module.PRESETS["test-tiny-averaged"] = TINY_AVERAGED
    import minigan
    minigan.set_backend("numpy")
    return module


def config_of(frog, argv):
    """The run config that frog_dcgan.py's command line ``argv`` makes (examples/frog_cli.py)."""
    return frog.frog_cli.make_config(frog.frog_cli.parse_args(argv, frog.PRESETS), frog.PRESETS)


def records(out):
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def without_time(rows):
    return [{k: v for k, v in row.items() if k != "time"} for row in rows]


def checkpoint(out):
    with np.load(out / "checkpoint.npz", allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def grid_size(n, upscale=2):
    """Side in pixels of an n x n grid of 32 px images with 1 px gaps, upscaled (as the example writes it)."""
    return (n * 32 + n + 1) * upscale


# --------------------------------------------------------------------------------------------------
# The book's model
# --------------------------------------------------------------------------------------------------
def test_book_preset_has_the_books_parameter_counts(frog):
    config = config_of(frog, ["--dry-run"])
    generator, discriminator, gan = frog.build_models(config)
    assert generator.count_params() == 6_264_579  # "Total params" printed in the book
    assert discriminator.count_params() == 790_913
    assert gan.output_shape == (None, 1)


def test_cpu_preset_is_a_tapered_dcgan_of_the_books_layer_types(frog):
    config = config_of(frog, ["--dry-run", "--preset", "cpu"])
    generator, discriminator, gan = frog.build_models(config)
    assert generator.count_params() == 874_339 and discriminator.count_params() == 724_161  # docs/quality.md
    assert config["fix_range"] and config["batch_size"] == 32 and config["flip"] and "average_decay" not in config
    assert config_of(frog, ["--dry-run", "--preset", "cpu", "--average-decay", "0.99"])["average_decay"] == 0.99
    assert config["d_optimizer"] == config["a_optimizer"] == {"name": "Adam", "lr": 0.0002, "beta_1": 0.5,
                                                              "decay": 0.0003}
    kinds = lambda model: [(type(layer).__name__, getattr(layer, "kernel_size", None), getattr(layer, "strides", None),
                            getattr(getattr(layer, "activation", None), "__name__", None)) for layer in model.layers]
    book = frog.PRESETS["book"]
    book_generator = frog.build_generator(32, **book["generator"])
    assert set(kinds(generator)) <= set(kinds(book_generator))  # the book's layer kinds, none new
    assert kinds(generator)[-1] == kinds(book_generator)[-1]    # the same 7x7 tanh output
    assert kinds(discriminator) == kinds(frog.build_discriminator(**book["discriminator"]))  # only widths differ


def test_tapered_widths_give_one_width_per_map_size(frog):
    widths = lambda model: [(type(layer).__name__, layer.output_shape[1], layer.output_shape[-1])
                            for layer in model.layers if hasattr(layer, "kernel_size")]
    generator = frog.build_generator(8, 12, [12, 6, 4], seed_size=8, full_size_convs=1)
    assert widths(generator) == [("Conv2D", 8, 12), ("Conv2DTranspose", 16, 6), ("Conv2DTranspose", 32, 4),
                                 ("Conv2D", 32, 4), ("Conv2D", 32, 3)]
    discriminator = frog.build_discriminator([4, 6, 8, 10], dropout=0.4)
    assert widths(discriminator) == [("Conv2D", 30, 4), ("Conv2D", 14, 6), ("Conv2D", 6, 8), ("Conv2D", 2, 10)]
    # equal widths in a list build the same network as one width (the book's way of saying it)
    assert widths(frog.build_generator(8, 4, [6, 6])) == widths(frog.build_generator(8, 4, 6))
    assert frog.build_generator(8, 4, [6, 6]).count_params() == frog.build_generator(8, 4, 6).count_params()
    with pytest.raises(ValueError, match=r"generator: filters \[6, 6\] needs 3 widths.* 8x8 to 32x32; got 2"):
        frog.build_generator(8, 4, [6, 6], seed_size=8)
    with pytest.raises(ValueError, match=r"discriminator: filters \[6, 6\] needs 4 widths.*got 2"):
        frog.build_discriminator([6, 6], dropout=0.4)


def test_nearest_upsampling_makes_resize_convolutions(frog):
    layer_kinds = lambda model: [(type(layer).__name__, layer.output_shape[1:]) for layer in model.layers
                                 if not isinstance(layer, (frog.layers.LeakyReLU, frog.layers.InputLayer))]
    generator = frog.build_generator(8, 12, [12, 6, 4], seed_size=8, full_size_convs=1, upsampling="nearest")
    assert layer_kinds(generator)[3:] == [("UpSampling2D", (16, 16, 12)), ("Conv2D", (16, 16, 6)),
                                          ("UpSampling2D", (32, 32, 6)), ("Conv2D", (32, 32, 4)),
                                          ("Conv2D", (32, 32, 4)), ("Conv2D", (32, 32, 3))]
    assert [layer.kernel_size for layer in generator.layers if hasattr(layer, "kernel_size")] == [
        (5, 5), (3, 3), (3, 3), (5, 5), (7, 7)]  # the resize-convolutions are 3x3
    with pytest.raises(ValueError, match="generator: upsampling must be 'transpose' or 'nearest', got 'bilinear'"):
        frog.build_generator(8, 4, 6, upsampling="bilinear")


def test_end_to_end_on_real_frogs_with_the_book_model(frog, tmp_path, monkeypatch):
    frogs = require_frogs()
    monkeypatch.delenv("MINIGAN_DATA", raising=False)
    out = tmp_path / "run"
    argv = ["--data", str(frogs), "--out", str(out), "--iterations", "2", "--batch-size", "4",
            "--save-every", "1", "--grid", "2"]
    assert frog.main(argv) == 0

    for name in ("real_grid.png", "grid_000000.png", "grid_000001.png"):
        with Image.open(out / name) as img:
            assert img.size == (grid_size(2), grid_size(2)), name
    for name in ("generated_frog_0.png", "real_frog_0.png", "generated_frog_1.png", "real_frog_1.png"):
        with Image.open(out / name) as img:
            assert img.size == (32, 32) and img.mode == "RGB", name
    with Image.open(out / "loss_curve.png") as img:
        assert img.size == (900, 620)

    rows = records(out)
    assert [row["step"] for row in rows] == [0, 1]
    for row in rows:
        assert set(row) == LOG_KEYS | VITAL_KEYS  # --save-every 1: every step is a save
        assert row["alarms"] == []
        assert 0 <= row["d_x"] <= 1 and 0 <= row["d_g_z"] <= 1 and 0 <= row["d_clipped"] <= 1
        assert np.isfinite(row["d_loss"]) and np.isfinite(row["a_loss"])
    assert rows[0]["d_lr"] == 0.0008 and rows[1]["a_lr"] == pytest.approx(0.0004 / (1 + 1e-8))
    assert [row["cursor"] for row in rows] == [0, 4]

    saved = checkpoint(out)
    assert CHECKPOINT_KEYS <= set(saved)
    assert int(saved["step"]) == 2 and int(saved["cursor"]) == 8
    assert saved["fixed_noise"].shape == (4, 32) and saved["fixed_noise"].dtype == np.float32
    assert saved["generator/dense/kernel"].shape == (32, 128 * 16 * 16)
    assert int(saved["d_optimizer/iterations"]) == 2 and int(saved["a_optimizer/iterations"]) == 2
    config = json.loads(str(saved["config"]))
    assert config["batch_size"] == 4 and config["class"] == 6 and config["preset"] == "book"
    assert "numpy" in json.loads(str(saved["random_state"]))

    # The checkpoint loads back into freshly built models: resuming at its own end has nothing to do.
    assert frog.main(argv + ["--resume"]) == 0
    assert len(records(out)) == 2


# --------------------------------------------------------------------------------------------------
# Resume, dry run, config guard (tiny preset)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["test-tiny", "test-tiny-averaged"])
def test_resume_gives_exactly_the_uninterrupted_losses(frog, tmp_path, preset):
    frogs = require_frogs()
    common = ["--preset", preset, "--data", str(frogs), "--save-every", "2", "--grid", "2"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert frog.main(common + ["--out", str(straight), "--iterations", "4"]) == 0
    assert frog.main(common + ["--out", str(split), "--iterations", "2"]) == 0
    assert frog.main(common + ["--out", str(split), "--iterations", "4", "--resume"]) == 0

    assert [row["step"] for row in records(split)] == [0, 1, 2, 3]
    assert without_time(records(split)) == without_time(records(straight))  # identical floats
    a, b = checkpoint(straight), checkpoint(split)
    assert set(a) == set(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_grids_come_from_the_generators_weight_average(frog, tmp_path):
    from minigan import training
    from minigan.preprocessing import image
    out = tmp_path / "run"
    assert frog.main(["--dry-run", "--preset", "test-tiny-averaged", "--out", str(out), "--iterations", "3",
                      "--save-every", "1", "--grid", "2"]) == 0
    saved = checkpoint(out)
    assert int(saved["generator_average/updates"]) == 3  # one update per step

    # Rebuild G from the checkpoint and draw the last grid again, with the average and with G's own weights
    config = json.loads(str(saved["config"]))
    generator, _, _ = frog.build_models(config)
    training.set_model_weights(generator, training.section(saved, "generator"), "checkpoint")
    average = training.WeightAverage(generator, config["average_decay"])
    average.set_state(training.section(saved, "generator_average"))
    pixels = {}
    for name, model in (("average", average), ("own", generator)):
        image.save_grid(tmp_path / f"{name}.png", model.predict(saved["fixed_noise"]), value_range=(0.0, 1.0),
                        upscale=2)
        pixels[name] = np.asarray(Image.open(tmp_path / f"{name}.png"))
    written = np.asarray(Image.open(out / "grid_000002.png"))
    np.testing.assert_array_equal(written, pixels["average"])
    assert not np.array_equal(written, pixels["own"])


def test_the_fixed_noise_grid_is_predicted_once_per_save(frog, tmp_path, monkeypatch):
    import minigan
    predict, grid_rows = minigan.models.Model.predict, []

    def counting_predict(model, x, *args, **kwargs):
        if len(x) == 9:  # --grid 3: the fixed noise (training batches hold 4)
            grid_rows.append(model.name)
        return predict(model, x, *args, **kwargs)

    monkeypatch.setattr(minigan.models.Model, "predict", counting_predict)
    assert frog.main(["--dry-run", "--preset", "test-tiny", "--out", str(tmp_path / "run"), "--iterations", "3",
                      "--save-every", "1", "--grid", "3"]) == 0
    # three saves, each checked by the vital signs and drawn to a picture from one prediction
    assert grid_rows == ["generator"] * 3
    assert all("grid_diversity" in row for row in records(tmp_path / "run"))


def test_frog_cli_docstring_example_runs(frog):
    import doctest
    result = doctest.testmod(frog.frog_cli)  # examples/ is outside pytest's doctest paths
    assert result.attempted >= 3 and result.failed == 0


def test_random_flip_mirrors_about_half_and_changes_nothing_else(frog):
    import minigan
    minigan.random.seed(3)
    images = np.random.default_rng(0).uniform(size=(200, 4, 5, 3)).astype(np.float32)
    flipped = minigan.to_numpy(frog.random_flip(images))
    same = [np.array_equal(a, b) for a, b in zip(flipped, images)]
    mirrored = [np.array_equal(a, b[:, ::-1]) for a, b in zip(flipped, images)]
    assert all(s != m for s, m in zip(same, mirrored))  # each image exactly one of the two
    assert 70 < sum(mirrored) < 130 and flipped.dtype == np.float32


def test_dry_run_needs_no_dataset(frog, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIGAN_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("MINIGAN_HOME", str(tmp_path / "home"))
    out = tmp_path / "dry"
    assert frog.main(["--dry-run", "--preset", "test-tiny", "--out", str(out)]) == 0
    assert [row["step"] for row in records(out)] == [0, 1, 2]  # --dry-run: 3 steps by default
    with Image.open(out / "grid_000002.png") as img:           # the default 8 x 8 grid
        assert img.size == (grid_size(8), grid_size(8))
    assert json.loads(str(checkpoint(out)["config"]))["data"] == "synthetic"
    assert not (tmp_path / "home").exists()


def test_an_out_folder_refuses_a_different_config(frog, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["--dry-run", "--preset", "test-tiny", "--out", str(out), "--iterations", "1", "--grid", "2"]
    assert frog.main(base) == 0
    capsys.readouterr()

    assert frog.main(base + ["--resume", "--batch-size", "2", "--seed", "5"]) == 2
    error = capsys.readouterr().err
    assert "batch_size: 4 in the saved run, 2 now" in error and "seed: 0 in the saved run, 5 now" in error
    assert frog.main(base) == 2  # the same config, but neither --resume nor --force: no silent overwrite
    assert "--resume" in capsys.readouterr().err

    assert frog.main(base + ["--batch-size", "2", "--force"]) == 0  # --force: start over
    assert json.loads(str(checkpoint(out)["config"]))["batch_size"] == 2
    assert [row["step"] for row in records(out)] == [0]


# --------------------------------------------------------------------------------------------------
# Stopping: a NaN loss, Ctrl-C
# --------------------------------------------------------------------------------------------------
def test_a_nan_loss_stops_the_run_and_keeps_the_last_checkpoint(frog, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    real_step = frog.train_step

    def poisoned(run, real_images):
        d_loss, a_loss, generated, predictions = real_step(run, real_images)
        return d_loss, (float("nan") if run.step == 2 else a_loss), generated, predictions

    seen = {}

    def remember_checkpoint(run, step, record):
        if step == 2:
            seen["bytes"] = (out / "checkpoint.npz").read_bytes()  # the one written after step 1

    monkeypatch.setattr(frog, "train_step", poisoned)
    argv = ["--dry-run", "--preset", "test-tiny", "--out", str(out), "--iterations", "5", "--save-every", "1",
            "--grid", "2"]
    assert frog.main(argv, callbacks=[remember_checkpoint]) == 1
    assert "step 2: a loss is not finite" in capsys.readouterr().err
    assert (out / "checkpoint.npz").read_bytes() == seen["bytes"]
    assert int(checkpoint(out)["step"]) == 2
    assert records(out)[-1]["a_loss"] is None  # logged (as JSON null), not saved
    assert not (out / "grid_000002.png").exists()


def test_ctrl_c_saves_a_checkpoint_at_the_step_boundary(frog, tmp_path, capsys):
    out = tmp_path / "run"

    def press_ctrl_c(run, step, record):
        if step == 1:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends; the step in progress finishes first

    argv = ["--dry-run", "--preset", "test-tiny", "--out", str(out), "--iterations", "6", "--save-every", "100",
            "--grid", "2"]
    assert frog.main(argv, callbacks=[press_ctrl_c]) == 130
    assert "continue with --resume" in capsys.readouterr().err
    assert int(checkpoint(out)["step"]) == 2  # steps 0 and 1 are done; step 0 was the only regular save
    assert [row["step"] for row in records(out)] == [0, 1]
    assert frog.main(argv + ["--resume"]) == 0
    assert [row["step"] for row in records(out)] == [0, 1, 2, 3, 4, 5]


def test_an_interrupt_inside_a_step_saves_nothing(frog, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    real_step = frog.train_step

    def interrupted(run, real_images):
        result = real_step(run, real_images)
        if run.step == 2:
            raise KeyboardInterrupt  # a second Ctrl-C: the weights may be half-updated
        return result

    monkeypatch.setattr(frog, "train_step", interrupted)
    argv = ["--dry-run", "--preset", "test-tiny", "--out", str(out), "--iterations", "5", "--save-every", "1",
            "--grid", "2"]
    assert frog.main(argv) == 130
    assert "nothing saved" in capsys.readouterr().err
    assert int(checkpoint(out)["step"]) == 2
    assert [row["step"] for row in records(out)] == [0, 1]


# --------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------
def test_class_accepts_a_name_or_an_index(frog):
    assert frog.frog_cli.parse_args([], frog.PRESETS).class_ == 6
    assert frog.frog_cli.parse_args(["--class", "cat"], frog.PRESETS).class_ == 3
    assert frog.frog_cli.parse_args(["--class", "6"], frog.PRESETS).class_ == 6
    with pytest.raises(SystemExit):
        frog.frog_cli.parse_args(["--class", "unicorn"], frog.PRESETS)


def test_the_script_runs_from_the_command_line():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, str(EXAMPLE), "--help"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    for flag in ("--backend", "--iterations", "--batch-size", "--latent-dim", "--class", "--data", "--out",
                 "--seed", "--save-every", "--resume", "--dry-run", "--fix-range", "--force", "--preset"):
        assert flag in result.stdout


# --------------------------------------------------------------------------------------------------
# --minutes: a time limit that stops at a step boundary with a save
# --------------------------------------------------------------------------------------------------
def test_minutes_stops_cleanly_and_counts_on_when_resumed(frog, tmp_path, monkeypatch, capsys):
    class Clock:  # every reading 30 s later than the one before: each step "takes" 30 s
        now = 0.0

        def perf_counter(self):
            self.now += 30.0
            return self.now

    monkeypatch.setattr(frog, "time", Clock())
    out = tmp_path / "run"
    argv = ["--dry-run", "--preset", "test-tiny", "--out", str(out), "--iterations", "50", "--save-every", "100",
            "--grid", "2"]
    assert frog.main(argv + ["--minutes", "2"]) == 0                  # 4 steps of 30 s
    assert "--minutes 2.0: stopped after step 3, 2.00 minutes of training" in capsys.readouterr().out
    assert [row["step"] for row in records(out)] == [0, 1, 2, 3]
    assert int(checkpoint(out)["step"]) == 4 and (out / "grid_000003.png").exists()   # saved where it stopped

    assert frog.main(argv + ["--minutes", "2", "--resume"]) == 0      # the logged step times count
    assert "trained for 2.0 minutes already" in capsys.readouterr().out
    assert frog.main(argv + ["--minutes", "3", "--resume"]) == 0      # one more minute: 2 more steps
    assert [row["step"] for row in records(out)] == [0, 1, 2, 3, 4, 5] and int(checkpoint(out)["step"]) == 6
    assert frog.main(argv + ["--minutes", "100", "--resume", "--iterations", "7"]) == 0
    assert int(checkpoint(out)["step"]) == 7                          # --iterations still caps the run
