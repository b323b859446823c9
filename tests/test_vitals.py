"""GAN vital signs (minigan/training/vitals.py) on synthetic log records and image batches.

The book's labels: fake = 1, real = 0, so D outputs P(fake); d_x is D on real images, d_g_z on fakes.
"D wins outright" is therefore d_x -> 0 and d_g_z -> 1, never the other way round.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigan.training.vitals import VitalSigns, batch_diversity, out_of_range_fraction

RNG = np.random.default_rng(0)
REAL = RNG.uniform(0, 1, (16, 32, 32, 3)).astype(np.float32)   # a varied "real" batch in [0, 1]


def fed(pairs, window=2, saves=3, **kwargs):
    vitals = VitalSigns((0.0, 1.0), window, saves=saves, **kwargs)
    for d_x, d_g_z in pairs:
        vitals.observe({"d_x": d_x, "d_g_z": d_g_z})
    return vitals


# --------------------------------------------------------------------------------------------------
# d_wins
# --------------------------------------------------------------------------------------------------
def test_discriminator_wins_after_enough_consecutive_windows():
    winning = [(0.02, 0.98)] * 6  # 3 windows of 2 steps: reals called real, fakes called fake
    assert fed(winning).discriminator_wins()
    assert not fed(winning[:5]).discriminator_wins()              # only 2.5 windows seen so far
    assert fed([(0.5, 0.5)] * 4 + winning).discriminator_wins()   # the older, balanced steps have left
    broken = winning[:2] + [(0.3, 0.7)] * 2 + winning[:2]         # one window in the middle is not a win
    assert not fed(broken).discriminator_wins()


@pytest.mark.parametrize("d_x, d_g_z", [
    (0.5, 0.5),      # a balanced game
    (0.98, 0.02),    # D inverted: calls reals fake -- not a win with the book's labels
    (0.02, 0.5),     # reals recognised, fakes not
    (0.5, 0.98),     # fakes recognised, reals not
])
def test_no_win_unless_both_outputs_are_extreme_the_right_way(d_x, d_g_z):
    assert not fed([(d_x, d_g_z)] * 6).discriminator_wins()


def test_a_window_is_judged_by_its_mean():
    noisy = [(0.0, 1.0), (0.15, 0.85)] * 3   # each window averages to D(x) 0.075, D(G(z)) 0.925
    assert fed(noisy).discriminator_wins()
    assert not fed(noisy, margin=0.05).discriminator_wins()


def test_history_primes_the_windows_like_observed_steps():
    records = [{"d_x": 0.01, "d_g_z": 0.99, "step": i} for i in range(6)]
    primed = VitalSigns((0.0, 1.0), window=2, saves=3, history=records)
    assert primed.discriminator_wins() == fed([(0.01, 0.99)] * 6).discriminator_wins() is True
    assert not VitalSigns((0.0, 1.0), 2, saves=3, history=[{"d_x": None, "d_g_z": None}] * 6).discriminator_wins()


# --------------------------------------------------------------------------------------------------
# collapse and range, and the report
# --------------------------------------------------------------------------------------------------
def test_a_collapsed_grid_raises_the_collapse_alarm_after_warmup():
    vitals = VitalSigns((0.0, 1.0), window=10, real_images=REAL, warmup=100)
    same = np.repeat(REAL[:1], 16, axis=0)                         # 16 copies of one image
    assert vitals.check(50, same) == {"grid_out_of_range": 0.0, "grid_diversity": 0.0, "alarms": []}
    assert vitals.check(100, same)["alarms"] == ["collapse"]
    varied = RNG.uniform(0, 1, (16, 32, 32, 3)).astype(np.float32)
    fields = vitals.check(100, varied)
    assert fields["alarms"] == [] and 0.9 < fields["grid_diversity"] < 1.1


def test_pixels_below_the_book_range_raise_the_range_alarm():
    grid = REAL.copy()
    grid[:, :16] -= 1.0                                            # half of every image below 0
    book = VitalSigns((0.0, 1.0), window=10, warmup=0)
    fields = book.check(0, grid)
    assert fields["alarms"] == ["range"] and fields["grid_out_of_range"] == pytest.approx(0.5, abs=0.02)
    assert "grid_diversity" not in fields                          # no real batch given
    fixed = VitalSigns((-1.0, 1.0), window=10, warmup=0)           # the same pixels fit [-1, 1]
    assert fixed.check(0, grid)["alarms"] == []


def test_messages_say_an_alarm_once_then_its_end():
    vitals = fed([(0.01, 0.99)] * 6)
    fields = vitals.check(600, REAL)
    first = vitals.messages(600, fields)
    assert len(first) == 1 and first[0].startswith("step 600: ALARM d_wins") and "p = 0.010" in first[0]
    assert vitals.messages(700, fields) == []                       # still on: not repeated
    assert vitals.messages(800, {**fields, "alarms": []}) == ["step 800: alarm d_wins cleared"]


@given(low=st.sampled_from([0.0, -1.0]), shift=st.floats(0.01, 1.0), fraction=st.integers(0, 8))
def test_out_of_range_fraction_counts_exactly_the_pixels_outside(low, shift, fraction):
    x = np.full((8, 2, 2, 3), (low + 1.0) / 2, np.float32)        # all inside [low, 1]
    x[:fraction] = low - shift                                      # these images fall below
    assert out_of_range_fraction(x, (low, 1.0)) == pytest.approx(fraction / 8)


def test_batch_diversity_is_the_mean_nearest_neighbour_distance():
    images = np.zeros((3, 2, 2, 3), np.uint8)
    images[2] = 255                                                 # two black images, one white
    assert batch_diversity(images) == pytest.approx((0 + 0 + np.sqrt(12)) / 3, rel=1e-6)
