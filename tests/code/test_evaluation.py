import numpy as np
import pytest

from models.evaluation import direction_scores, realised_direction

T = np.arange(10, dtype=float) * 300  # 5-minute bars
CLOSE = np.array([100, 100, 101, 100, 100.01, 99, 99, 99, 99, 99], dtype=float)


def test_realised_direction_needs_the_bar_and_the_bar_a_horizon_later():
    assert realised_direction(T[1], 100.0, 1, 10, T, CLOSE) == ("up", pytest.approx(np.log(1.01)))
    assert realised_direction(T[3], 100.0, 1, 10, T, CLOSE)[0] == "flat"  # 1 bp, inside ±10 bp
    assert realised_direction(T[4], 100.01, 1, 10, T, CLOSE)[0] == "down"
    assert realised_direction(T[8], 99.0, 2, 10, T, CLOSE) is None  # horizon not there yet
    assert realised_direction(T[1] + 60, 100.0, 1, 10, T, CLOSE) is None  # not a bar in these bars


def test_scores_against_the_base_rate():
    realised = ["up", "up", "down", "flat"]
    perfect = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=float)
    scores = direction_scores(perfect, realised)
    assert scores["accuracy"] == 1.0 and scores["brier"] == 0.0
    assert scores["realised_counts"] == {"up": 2, "flat": 1, "down": 1}
    # The base rate (0.5, 0.25, 0.25): its Brier score by hand.
    expected = np.mean([0.25 + 0.0625 + 0.0625] * 2 + [0.25 + 0.0625 + 0.5625] * 2)
    base = np.tile([0.5, 0.25, 0.25], (4, 1))
    assert direction_scores(base, realised)["brier"] == pytest.approx(expected)
    assert scores["brier_base_rate"] == pytest.approx(expected)
    assert direction_scores(np.empty((0, 3)), [])["n"] == 0
