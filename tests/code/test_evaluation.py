import numpy as np
import pytest

from models.evaluation import (
    diebold_mariano,
    direction_scores,
    hit_rate_by_confidence,
    information_coefficient,
    realised_direction,
)

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


def ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    x = np.zeros(n)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + rng.normal()
    return x


def test_information_coefficient_finds_a_real_signal_and_not_noise():
    rng = np.random.default_rng(0)
    score = rng.normal(size=2000)
    returns = 0.1 * score + rng.normal(size=2000)
    result = information_coefficient(score, returns)
    assert result["ic"] == pytest.approx(np.corrcoef(score, returns)[0, 1])
    assert 0.05 < result["ic"] < 0.15 and result["ic_t"] > 3 and result["rank_ic_t"] > 3
    noise = information_coefficient(rng.normal(size=2000), rng.normal(size=2000))
    assert abs(noise["ic_t"]) < 3


def test_hac_t_statistics_are_wider_than_iid_ones_on_dependent_data():
    """Two independent but persistent series correlate by chance; the HAC t must not take
    that for a signal the way an i.i.d. t does."""
    rng = np.random.default_rng(3)
    iid_t, hac_t = [], []
    for _ in range(200):
        s, r = ar1(500, 0.7, rng), ar1(500, 0.7, rng)
        ic = information_coefficient(s, r)
        iid_t.append(abs(ic["ic"]) * np.sqrt(498 / (1 - ic["ic"] ** 2)))
        hac_t.append(abs(ic["ic_t"]))
    iid_rate, hac_rate = np.mean(np.array(iid_t) > 1.96), np.mean(np.array(hac_t) > 1.96)
    assert iid_rate > 0.15  # the naive 5 % test rejects far too often
    assert hac_rate < 0.15 and hac_rate < iid_rate / 2  # Newey–West lags still over-reject a little


def test_a_constant_score_has_no_information_coefficient():
    result = information_coefficient(np.zeros(50), np.random.default_rng(1).normal(size=50))
    assert result["ic"] is None and result["rank_ic"] is None


def test_hit_rate_rises_with_confidence_when_confidence_means_something():
    rng = np.random.default_rng(2)
    score = rng.normal(size=4000)
    returns = score + rng.normal(scale=2.0, size=4000)
    buckets = hit_rate_by_confidence(np.concatenate([score, np.zeros(10)]), np.concatenate([returns, np.ones(10)]))
    assert [b["n"] for b in buckets] == [1000] * 4  # the zero scores made no call
    rates = [b["hit_rate"] for b in buckets]
    assert rates == sorted(rates) and rates[0] < 0.56 < 0.7 < rates[-1]
    assert all(b["hit_rate_ci"][0] < b["hit_rate"] < b["hit_rate_ci"][1] for b in buckets)
    assert buckets[0]["max_confidence"] <= buckets[1]["min_confidence"]


def test_diebold_mariano_sign_and_equal_forecasters():
    rng = np.random.default_rng(4)
    a = rng.exponential(size=800)
    worse = diebold_mariano(a + 0.05 + rng.normal(scale=0.05, size=800), a)
    assert worse["estimate"] == pytest.approx(0.05, abs=0.01) and worse["t"] > 5
    same = diebold_mariano(a, a)
    assert same["estimate"] == 0 and same["t"] == 0 and same["p_value"] == 1


def test_too_few_observations_per_hac_lag_give_no_t_statistic():
    """At 20 predictions with 12 lags (a 12-bar horizon) pure noise would look significant
    a third of the time; the correlation is given, its t is not."""
    rng = np.random.default_rng(5)
    few = information_coefficient(rng.normal(size=20), rng.normal(size=20), maxlags=12)
    assert few["ic"] is not None and few["ic_t"] is None and few["rank_ic_p"] is None
    enough = information_coefficient(rng.normal(size=120), rng.normal(size=120), maxlags=12)
    assert enough["ic_t"] is not None


def test_risk_scores_count_a_bar_forecast_twice_once_and_compare_har_where_it_is():
    """The latest forecast of a bar counts; HAR is scored on the forecasts that carry it (n_har)."""
    from deployments.ledger import _volatility_scores
    from models.risk_scores import qlike

    def row(as_of, variance, har, realised=2e-4, ret=-0.01):
        return {"as_of": as_of, "horizon": 12, "variance": variance, "har_variance": har, "var_95": 0.02,
                "var_99": 0.03, "realised_variance": realised, "realised_return": ret}

    (scores,) = _volatility_scores([row(1.0, 1e-4, 1e-4), row(1.0, 3e-4, 1e-4), row(2.0, 2e-4, None, ret=-0.05)])
    assert scores.n == 2 and scores.n_har == 1
    assert scores.qlike == pytest.approx(float(np.mean(qlike(np.array([3e-4, 2e-4]), np.array([2e-4, 2e-4])))))
    assert scores.qlike_har == pytest.approx(float(qlike(np.array([1e-4]), np.array([2e-4]))[0]))
    assert scores.var_95.breaches == 1 and scores.var_99.breaches == 1  # -0.05 is past both; -0.01 past neither
