"""The input-range check: distances in training sd, the tolerance, and a channel that does not move."""

import numpy as np

from models.input_range import TOLERANCE_SD, describe, fit_input_ranges, input_shifts, window_statistics

CHANNELS = ("a", "b")


def test_window_statistics_are_each_windows_mean_and_std():
    z = np.random.default_rng(0).normal(size=(100, 2))
    stats = window_statistics(z, [10, 57, 100], 10)
    assert np.allclose(stats["mean"][1], z[47:57].mean(axis=0)) and np.allclose(stats["std"][2], z[90:].std(axis=0))


def test_windows_like_the_training_ones_pass_and_far_ones_are_flagged_with_their_distance():
    z = np.random.default_rng(1).normal(size=(2000, 2))
    ranges = fit_input_ranges(z, np.arange(32, 2001), 32)
    assert input_shifts(z[-32:], ranges, CHANNELS) == []
    shifted = z[-32:] + [0.0, ranges["mean"][1][1] + TOLERANCE_SD + 0.5]
    (shift,) = input_shifts(shifted, ranges, CHANNELS)
    assert (shift.channel, shift.statistic) == ("b", "mean")
    assert shift.distance == np.float64(shift.value - ranges["mean"][1][1]) and shift.distance > TOLERANCE_SD
    nearly = z[-32:] + [0.0, ranges["mean"][1][1] + TOLERANCE_SD - 0.5]
    assert input_shifts(nearly, ranges, CHANNELS) == []  # outside the range, within the tolerance


def test_a_channel_that_does_not_move_is_flagged_even_near_the_training_range():
    z = np.random.default_rng(2).normal(size=(2000, 2))
    ranges = fit_input_ranges(z, np.arange(32, 2001), 32)
    still = z[-32:].copy()
    still[:, 0] = 0.0  # at the training mean, but constant
    (shift,) = input_shifts(still, ranges, CHANNELS)
    assert (shift.channel, shift.statistic, shift.value) == ("a", "std", 0.0) and shift.distance < TOLERANCE_SD
    assert describe([shift]).startswith("a does not move over the window")
