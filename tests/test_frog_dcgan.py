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
CHECKPOINT_KEYS = {"step", "cursor/position", "random", "config"}
TINY = {  # the book's structure and optimizers, tiny
    "latent_dim": 8,
    "batch_size": 4,
    "generator": {"architecture": "book", "seed_filters": 4, "filters": 6},
    "discriminator": {"architecture": "book", "filters": 6, "dropout": 0.4},
    "d_optimizer": {"name": "RMSprop", "lr": 0.0008, "clipvalue": 1.0, "decay": 1e-8},
    "a_optimizer": {"name": "RMSprop", "lr": 0.0004, "clipvalue": 1.0, "decay": 1e-8},
    "fix_range": False,
}
TINY_DCGAN = {  # the cpu preset's kind (BN, separate batches), plus DiffAugment and a weight average
    "latent_dim": 8,
    "batch_size": 4,
    "generator": {"architecture": "dcgan", "filters": [8, 6, 4]},
    "discriminator": {"architecture": "dcgan", "filters": [4, 6, 8]},
    "d_optimizer": {"name": "Adam", "lr": 0.0002, "beta_1": 0.5},
    "a_optimizer": {"name": "Adam", "lr": 0.0002, "beta_1": 0.5},
    "fix_range": True, "flip": True, "augment": "color,translation,cutout", "separate_batches": True,
    "average_decay": 0.9,
}
TINY_AVERAGED = TINY_DCGAN


@pytest.fixture
def frog():
    """A fresh copy of the example module, with the tiny test preset in its table."""
    spec = importlib.util.spec_from_file_location("frog_dcgan", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.PRESETS["test-tiny"] = TINY
    module.PRESETS["test-tiny-dcgan"] = TINY_DCGAN
    import minigan
    minigan.set_backend("numpy")
    return module


def config_of(frog, argv):
    """The run config that frog_dcgan.py's command line ``argv`` makes."""
    return frog.make_config(frog.parse_args(argv))


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
    generator, discriminator, gan, _ = frog.build_models(config)
    assert generator.count_params() == 6_264_579  # "Total params" printed in the book
    assert discriminator.count_params() == 790_913
    assert gan.output_shape == (None, 1)


def checkpoint_names(frog, argv, tmp_path):
    """The arrays in the checkpoint of a one-step dry run of ``argv`` (the tiny networks of a preset)."""
    out = tmp_path / "names"
    assert frog.main(["--dry-run", "--out", str(out), "--iterations", "1", "--force", *argv]) == 0
    return {name.split("/")[0] for name in checkpoint(out)}


def test_cpu_preset_is_a_dcgan_with_batch_normalisation_in_both_networks(frog, tmp_path):
    from minigan import training
    config = config_of(frog, ["--dry-run", "--preset", "cpu"])
    generator, discriminator, gan, augment = frog.build_models(config)
    kinds = lambda model: [type(layer).__name__ for layer in model.layers]
    assert "BatchNormalization" in kinds(generator) and "ReLU" in kinds(generator) and "LeakyReLU" not in kinds(generator)
    assert kinds(discriminator).count("BatchNormalization") == 2  # after the 2nd and 3rd convolutions
    assert {layer.alpha for layer in discriminator.layers if type(layer).__name__ == "LeakyReLU"} == {0.2}
    # Chosen by FID (docs/quality.md, round 5): DiffAugment cost 60 FID at 3,000 steps, so it is off;
    # with BN in D, the fakes and the real images go to D in separate batches; batch 16 (round 6) fits
    # twice the steps of batch 32 in 30 minutes
    assert augment is None and "DiffAugment" not in kinds(gan) and config["separate_batches"]
    assert config["fix_range"] and config["flip"] and config["batch_size"] == 16
    # rounds 8-9: pictures and scores from a weight average of G, sampled with standing statistics
    assert config["average_decay"] == 0.999
    drawn = training.gan_sampler(generator, config["latent_dim"], config["batch_size"], seed=1)
    assert isinstance(drawn, training.StandingStatistics) and drawn.batches == 64 and drawn.batch_size == 16
    assert "generator_average" not in checkpoint_names(frog, ["--preset", "cpu", "--average-decay", "0"], tmp_path)
    augmented = config_of(frog, ["--dry-run", "--preset", "test-tiny-dcgan"])
    augment = frog.build_models(augmented)[3]
    assert augment is not None and augment.policy == augmented["augment"]
    book = config_of(frog, ["--dry-run"])
    assert frog.build_models(book)[3] is None and "augment" not in book  # the book: no augmentation, no BN
    assert not any("BatchNormalization" in kinds(m) for m in frog.build_models(book)[:2])


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
        assert img.size == (900, 560)  # two panels: losses, D's outputs

    rows = records(out)
    assert [row["step"] for row in rows] == [0, 1]
    for row in rows:
        assert set(row) == LOG_KEYS | VITAL_KEYS  # --save-every 1: every step is a save
        assert row["alarms"] == []
        assert 0 <= row["d_x"] <= 1 and 0 <= row["d_g_z"] <= 1 and 0 <= row["d_clipped"] <= 1
        assert np.isfinite(row["d_loss"]) and np.isfinite(row["a_loss"])
    assert rows[0]["d_lr"] == 0.0008 and rows[1]["a_lr"] == 0.0004 / (1 + 1e-8)  # Keras 2's decay, to the bit
    assert rows[1]["a_lr"] != 0.0004
    assert [row["cursor"] for row in rows] == [0, 4]

    saved = checkpoint(out)
    assert CHECKPOINT_KEYS <= set(saved)
    assert int(saved["step"]) == 2 and int(saved["cursor/position"]) == 8
    assert saved["generator/dense/kernel"].shape == (32, 128 * 16 * 16)
    assert int(saved["d_optimizer/iterations"]) == 2 and int(saved["a_optimizer/iterations"]) == 2
    config = json.loads(str(saved["config"]))
    assert config["batch_size"] == 4 and config["class"] == 6 and config["preset"] == "book"
    assert "numpy" in json.loads(str(saved["random"]))

    # The checkpoint loads back into freshly built models: resuming at its own end has nothing to do.
    assert frog.main(argv + ["--resume"]) == 0
    assert len(records(out)) == 2


# --------------------------------------------------------------------------------------------------
# Resume, dry run, config guard (tiny presets)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["test-tiny", "test-tiny-dcgan"])
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
    if preset == "test-tiny-dcgan":  # its moving statistics, DiffAugment's stream and the average are in it
        assert {"generator/batch_normalization/moving_variance", "augment", "generator_average/updates"} <= set(a)


def test_grids_come_from_the_generators_weight_average_with_standing_statistics(frog, tmp_path):
    from minigan import training
    from minigan.preprocessing import image
    out = tmp_path / "run"
    assert frog.main(["--dry-run", "--preset", "test-tiny-dcgan", "--out", str(out), "--iterations", "3",
                      "--save-every", "1", "--grid", "2"]) == 0
    saved = checkpoint(out)
    assert int(saved["generator_average/updates"]) == 3  # one update per step

    # Rebuild G from the checkpoint and draw the last grid again: with the average and its statistics
    # recomputed on 64 batches of latents from Stream(seed + 1), with its moving statistics, with G's own
    config = json.loads(str(saved["config"]))
    generator = frog.build_models(config)[0]
    average = training.WeightAverage(generator, config["average_decay"])
    training.restore({"generator": generator, "generator_average": average}, saved, "checkpoint")
    fixed_noise = frog.minigan.random.Stream(config["seed"]).normal((4, config["latent_dim"]))
    latents = frog.minigan.random.Stream(config["seed"] + 1).normal((64 * 4, config["latent_dim"]))
    standing = training.StandingStatistics(average, latents, batch_size=4)
    pixels = {}
    for name, model in (("standing", standing), ("average", average), ("own", generator)):
        image.save_grid(tmp_path / f"{name}.png", model.predict(fixed_noise), value_range=(-1.0, 1.0), upscale=2)
        pixels[name] = np.asarray(Image.open(tmp_path / f"{name}.png"))
    written = np.asarray(Image.open(out / "grid_000002.png"))
    np.testing.assert_array_equal(written, pixels["standing"])
    assert not np.array_equal(written, pixels["average"]) and not np.array_equal(written, pixels["own"])


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


@pytest.mark.parametrize("preset", ["test-tiny", "test-tiny-dcgan"])  # one combined batch; separate batches
@pytest.mark.parametrize("real_label", [None, 0.1])
def test_d_learns_fake_1_and_real_0_or_the_smoothed_real_label(frog, tmp_path, monkeypatch, preset, real_label):
    import minigan
    if real_label is not None:
        frog.PRESETS[preset] = {**frog.PRESETS[preset], "real_label": real_label}
    train_on_batch, labels = minigan.models.Model.train_on_batch, []

    def recording(model, x, y):
        if model.name == "discriminator":
            labels.append(minigan.to_numpy(y).ravel())
        return train_on_batch(model, x, y)

    monkeypatch.setattr(minigan.models.Model, "train_on_batch", recording)
    assert frog.main(["--dry-run", "--preset", preset, "--out", str(tmp_path / "run"), "--iterations", "2"]) == 0
    batch, real = frog.PRESETS[preset]["batch_size"], real_label or 0.0
    if frog.PRESETS[preset].get("separate_batches"):  # D's calls alternate: the fakes, then the reals
        fakes, reals = np.concatenate(labels[::2]), np.concatenate(labels[1::2])
    else:  # one call a step: the fakes first, then the reals
        fakes, reals = np.concatenate([y[:batch] for y in labels]), np.concatenate([y[batch:] for y in labels])
    assert len(fakes) == len(reals) == 2 * batch  # two steps
    # the book's label noise: + 0.05 U[0, 1) on both kinds
    assert np.all((fakes >= 1.0) & (fakes < 1.05)) and np.all((reals >= real) & (reals < real + 0.05))


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
# Stopping: a NaN loss, Ctrl-C (the Trainer's own tests are in test_loop.py; these check the exit codes)
# --------------------------------------------------------------------------------------------------
def poison_step(frog, monkeypatch, at, error=None):
    """Make frog_dcgan's step give a NaN adversarial loss (or raise ``error``) at step ``at``."""
    real_gan_step = frog.gan_step

    def gan_step(*args):
        step = real_gan_step(*args)

        def poisoned(number):
            logs = step(number)
            if number == at:
                if error is not None:
                    raise error
                logs["a_loss"] = float("nan")
            return logs
        return poisoned

    monkeypatch.setattr(frog, "gan_step", gan_step)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_checkpoint(frog, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    poison_step(frog, monkeypatch, at=2)
    argv = ["--dry-run", "--preset", "test-tiny", "--out", str(out), "--iterations", "5", "--save-every", "1",
            "--grid", "2"]
    assert frog.main(argv) == 1
    assert "step 2: a loss is not finite (a_loss nan)" in capsys.readouterr().err
    assert int(checkpoint(out)["step"]) == 2
    assert records(out)[-1]["a_loss"] is None  # logged (as JSON null), not saved
    assert not (out / "grid_000002.png").exists()


def test_ctrl_c_saves_a_checkpoint_at_the_step_boundary(frog, tmp_path, capsys):
    class PressCtrlC(frog.training.Callback):
        def on_batch_end(self, step, logs):
            if step == 1:
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends; the step in progress finishes first

    out = tmp_path / "run"
    argv = ["--dry-run", "--preset", "test-tiny", "--out", str(out), "--iterations", "6", "--save-every", "100",
            "--grid", "2"]
    assert frog.main(argv, callbacks=[PressCtrlC()]) == 130
    assert "continue with --resume" in capsys.readouterr().err
    assert int(checkpoint(out)["step"]) == 2  # steps 0 and 1 are done; step 0 was the only regular save
    assert [row["step"] for row in records(out)] == [0, 1]
    assert frog.main(argv + ["--resume"]) == 0
    assert [row["step"] for row in records(out)] == [0, 1, 2, 3, 4, 5]


def test_an_interrupt_inside_a_step_saves_nothing(frog, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    poison_step(frog, monkeypatch, at=2, error=KeyboardInterrupt)
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
    assert frog.parse_args([]).class_ == 6
    assert frog.parse_args(["--class", "cat"]).class_ == 3
    assert frog.parse_args(["--class", "6"]).class_ == 6
    with pytest.raises(SystemExit):
        frog.parse_args(["--class", "unicorn"])


def test_minutes_alone_lift_the_books_step_count(frog):
    """--minutes 30 trains for 30 minutes, not until the book's 10,000 steps (a few minutes of the cpu
    preset); --iterations with it caps the steps as well; a dry run stays 3 steps."""
    assert frog.parse_args([]).iterations == 10000
    assert frog.parse_args(["--minutes", "30"]).iterations is None
    assert frog.parse_args(["--minutes", "30", "--iterations", "500"]).iterations == 500
    assert frog.parse_args(["--minutes", "30", "--dry-run"]).iterations == 3


def test_the_script_runs_from_the_command_line():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, str(EXAMPLE), "--help"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    for flag in ("--backend", "--iterations", "--batch-size", "--latent-dim", "--class", "--data", "--out",
                 "--seed", "--save-every", "--resume", "--dry-run", "--fix-range", "--force", "--preset",
                 "--minutes", "--eval-every"):
        assert flag in result.stdout
