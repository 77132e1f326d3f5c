"""Realised variance, the volatility baselines and the risk scores, on small inputs whose
answers are known by hand or by construction."""

import math

import numpy as np
import pytest
from scipy.stats import chi2

from models.risk_scores import christoffersen, kupiec, log_mse, mincer_zarnowitz, pinball, qlike
from models.volatility import (
    ewma_forecasts,
    garch_forecasts,
    har_design,
    har_forecasts,
    har_at_last,
    har_floor,
    har_windows_of,
    parkinson_variance,
    realised_variance,
    time_of_day_scale,
)


def test_realised_variance_sums_the_squared_returns_ahead():
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.01])
    rv = realised_variance(r, horizon=2)
    assert rv[0] == pytest.approx(0.02 ** 2 + 0.03 ** 2) and rv[2] == pytest.approx(0.0 + 0.01 ** 2)
    assert np.isnan(rv[3:]).all()


def test_parkinson_variance_of_a_known_range():
    assert parkinson_variance(np.array([math.e]), np.array([1.0]))[0] == pytest.approx(1 / (4 * math.log(2)))


def test_har_design_averages_the_last_periods():
    x = har_design(np.arange(1.0, 8.0), windows=(1, 3))
    assert np.isnan(x[1, 2]) and x[2].tolist() == [1.0, 3.0, 2.0] and x[6].tolist() == [1.0, 7.0, 6.0]


def har_process(n, seed, b=(0.1, 0.4, 0.3, 0.2)):
    """A simulated HAR process in levels, with small positive noise."""
    rng = np.random.default_rng(seed)
    rv = np.ones(n)
    for t in range(22, n - 1):
        rv[t + 1] = b[0] + b[1] * rv[t] + b[2] * rv[t - 4:t + 1].mean() + b[3] * rv[t - 21:t + 1].mean()
        rv[t + 1] *= rng.lognormal(-0.02, 0.2)
    return rv


def test_har_recovers_its_coefficients_and_is_fitted_on_training_periods_only():
    rv = har_process(4000, seed=1)
    forecasts, coefficients = har_forecasts(rv, train_end=3000)
    assert coefficients[1:] == pytest.approx([0.4, 0.3, 0.2], abs=0.08)
    altered = rv.copy()
    altered[3000:] *= 5  # what comes after training cannot move the fit ...
    again, same = har_forecasts(altered, train_end=3000)
    assert same == pytest.approx(coefficients)
    assert again[21:2999] == pytest.approx(forecasts[21:2999])  # ... nor any forecast made before it
    assert np.isnan(forecasts[:21]).all()  # until the 22-period window is full


def test_ewma_follows_the_riskmetrics_recursion():
    r = np.array([0.0, 0.1, 0.0, 0.0])
    f = ewma_forecasts(r, horizon=1, train_end=4, lam=0.5)
    start = np.mean(r ** 2)
    expected = [0.5 * start, 0.5 * 0.5 * start + 0.5 * 0.01]
    assert f[:2] == pytest.approx(expected) and np.isnan(f[3])
    assert ewma_forecasts(r, horizon=2, train_end=4, lam=0.5)[0] == pytest.approx(2 * expected[0])


def test_a_time_of_day_adjusted_ewma_beats_the_plain_one_on_a_u_shaped_session():
    rng = np.random.default_rng(2)
    slots = np.tile(np.arange(78), 200)
    shape = 1 + 2 * ((slots - 38.5) / 38.5) ** 2  # volatile open and close
    r = rng.normal(0, 1e-3, len(slots)) * shape
    train_end = 78 * 120
    scale = time_of_day_scale(r, slots, train_end)
    assert scale[0] > 2 * scale[39]
    test = slice(train_end, len(r) - 12)
    rv = realised_variance(r, 12)[test]
    plain = qlike(ewma_forecasts(r, 12, train_end)[test], rv).mean()
    adjusted = qlike(ewma_forecasts(r, 12, train_end, seasonal=scale)[test], rv).mean()
    assert adjusted < plain


def test_garch_is_estimated_on_training_returns_only():
    rng = np.random.default_rng(3)
    r = rng.standard_t(6, 3000) * 0.01
    forecasts, params = garch_forecasts(r, horizon=5, train_end=2000)
    altered = r.copy()
    altered[2000:] *= 3
    again, same = garch_forecasts(altered, horizon=5, train_end=2000)
    assert same == pytest.approx(params)
    assert again[:2000] == pytest.approx(forecasts[:2000])
    assert np.all(forecasts[:-5] > 0) and forecasts[2500] == pytest.approx(5 * r.var(), rel=0.6)


def test_qlike_is_zero_when_exact_and_punishes_under_forecasting_more():
    assert qlike(np.array([2.0]), np.array([2.0]))[0] == 0
    under, over = qlike(np.array([1.0]), np.array([2.0]))[0], qlike(np.array([4.0]), np.array([2.0]))[0]
    assert under > over > 0
    assert log_mse(np.array([math.e]), np.array([1.0]))[0] == pytest.approx(1.0)


def test_mincer_zarnowitz_of_an_unbiased_and_of_a_scaled_forecast():
    rng = np.random.default_rng(4)
    f = rng.lognormal(0, 0.5, 3000)
    rv = f * rng.lognormal(-0.125, 0.5, 3000)  # E[rv | f] = f
    fair = mincer_zarnowitz(f, rv)
    assert abs(fair["intercept_t"]) < 3 and abs(fair["slope_t_vs_1"]) < 3
    assert mincer_zarnowitz(2 * f, rv)["slope"] == pytest.approx(0.5, abs=0.08)


def test_kupiec_by_hand():
    hits = np.array([True] * 10 + [False] * 90)  # 10 % breaches of a 5 % VaR
    result = kupiec(hits, 0.05)
    lr = -2 * (10 * math.log(0.05) + 90 * math.log(0.95) - 10 * math.log(0.1) - 90 * math.log(0.9))
    assert result["lr"] == pytest.approx(lr) and result["p_value"] == pytest.approx(chi2.sf(lr, 1))
    assert kupiec(np.array([True] * 5 + [False] * 95), 0.05)["p_value"] == pytest.approx(1.0)


def test_christoffersen_rejects_clustered_breaches_and_not_spread_ones():
    spread = np.random.default_rng(5).random(1000) < 0.05  # independent breaches
    clustered = np.zeros(1000, dtype=bool)
    clustered[100:150] = True
    assert christoffersen(spread, 0.05)["p_independence"] > 0.05
    result = christoffersen(clustered, 0.05)
    assert result["p_independence"] < 1e-6 and result["p_breach_after_breach"] > 0.9
    assert result["transitions"]["11"] == 49


def test_pinball_loss_by_hand():
    assert pinball(np.array([-0.03, 0.01]), np.array([-0.02, -0.02]), 0.05).tolist() == pytest.approx(
        [0.95 * 0.01, 0.05 * 0.03])


def test_return_quantile_scales_a_student_t():
    from models.risk import return_quantile

    assert return_quantile(0.95, 1e-4, 5.0) == pytest.approx(0.01 * 2.015, rel=1e-3)  # t_5 at 95 %
    assert return_quantile(0.05, 4e-4, 5.0, 2.0) == pytest.approx(-4 * return_quantile(0.95, 1e-4, 5.0))


def test_har_windows_are_corsis_for_daily_bars_and_an_hour_a_session_a_week_intraday():
    """For daily bars the classic HAR; windows of more bars need as many behind each forecast,
    and too little training says so."""
    assert har_windows_of(86_400) == (1, 5, 22) and har_windows_of(300) == (12, 78, 390)
    r = np.random.default_rng(5).normal(0, 0.01, 600)
    classic, b_classic = har_forecasts(r ** 2, train_end=400)
    daily, b_daily = har_forecasts(r ** 2, 400, 1, har_windows_of(86_400))
    np.testing.assert_allclose(b_daily, b_classic)
    np.testing.assert_allclose(daily[21:], classic[21:])
    five, _ = har_forecasts(r ** 2, 400, 5, (5, 25, 110))
    assert np.isnan(five[:109]).all() and (five[109:] > 0).all()  # needs 110 bars behind it
    with pytest.raises(ValueError, match="HAR needs more"):
        har_forecasts(r ** 2, 100, 5, (5, 25, 110))


def test_har_at_the_last_bar_is_the_walk_forward_forecast_there():
    """What the served model computes from a request's bars is what the report scored."""
    x = np.random.default_rng(6).gamma(2.0, 1e-5, 900)
    windows = (12, 78, 390)
    forecasts, coefficients = har_forecasts(x, 600, 12, windows)
    floor = har_floor(x, 600, 12)
    for t in (500, 700, 899):
        assert har_at_last(x[t - 400:t + 1], windows, coefficients, floor) == pytest.approx(forecasts[t], rel=1e-12)


def test_session_returns_leave_the_overnight_gap_out():
    from models.volatility import session_returns

    days = np.array(["d1", "d1", "d2", "d2"])
    open_, close = np.array([100.0, 101, 120, 121]), np.array([101.0, 102, 121, 120])
    r = session_returns(open_, close, days)
    assert r[2] == pytest.approx(math.log(121 / 120))  # from its own open, not from 102
    assert r[1] == pytest.approx(math.log(102 / 101)) and r[3] == pytest.approx(math.log(120 / 121))


def test_conditional_coverage_adds_the_rate_and_independence_on_two_degrees_of_freedom():
    hits = np.zeros(400, dtype=bool)
    hits[[10, 11, 50, 51, 52, 200]] = True
    result = christoffersen(hits, 0.05)
    lr = result["lr_independence"] + kupiec(hits[1:], 0.05)["lr"]
    assert result["lr_conditional_coverage"] == pytest.approx(lr)
    assert result["p_conditional_coverage"] == pytest.approx(chi2.sf(lr, 2))


def test_the_standardised_return_keeps_its_quantiles_and_reads_var_and_intervals_off_them():
    from scipy.stats import norm

    from models.risk import QUANTILE_LEVELS, ReturnDistribution, empirical_z, student_t_z

    rng = np.random.default_rng(8)
    variance = rng.gamma(2.0, 1e-4, 200_000)
    quantiles, std = empirical_z(np.sqrt(variance) * rng.standard_normal(len(variance)), variance)
    np.testing.assert_allclose(quantiles, norm.ppf(QUANTILE_LEVELS), atol=0.02)
    assert std == pytest.approx(1.0, abs=0.01)
    d = ReturnDistribution(12, 4e-4, tuple(quantiles), std)
    assert d.volatility == pytest.approx(0.02) and d.return_std == pytest.approx(0.02 * std)
    assert d.value_at_risk(0.95) == pytest.approx(-quantiles[QUANTILE_LEVELS.index(0.05)] * 0.02)
    assert d.value_at_risk(0.99) > d.value_at_risk(0.95) > 0
    assert d.quantile(0.07) == pytest.approx(0.02 * np.interp(0.07, QUANTILE_LEVELS, quantiles))
    with pytest.raises(ValueError, match="quantiles are kept from"):
        d.quantile(0.001)
    t5, unit = student_t_z(5.0)
    assert unit == 1.0 and t5[QUANTILE_LEVELS.index(0.01)] < norm.ppf(0.01)  # fatter tails than a normal


def test_var_from_training_quantiles_breaches_at_its_level_out_of_sample():
    """Filtered historical simulation: fitted on one half, a 99 % VaR breached about 1 % of the time on the other."""
    from models.risk import QUANTILE_LEVELS, empirical_z

    rng = np.random.default_rng(9)
    variance = rng.gamma(2.0, 1e-4, 40_000)
    returns = np.sqrt(variance) * rng.standard_t(4, len(variance)) / np.sqrt(2)  # unit-variance t_4
    quantiles, _ = empirical_z(returns[:20_000], variance[:20_000])
    for level in (0.01, 0.05):
        var = quantiles[QUANTILE_LEVELS.index(level)] * np.sqrt(variance[20_000:])
        assert (returns[20_000:] < var).mean() == pytest.approx(level, abs=0.15 * level + 0.002)


def test_the_position_scale_targets_the_annual_volatility_over_the_horizon():
    from models.risk import position_scale

    # 12 five-minute bars of 19,656 a year; a 10 % annual target is 0.247 % over them.
    assert position_scale(0.005, 12, 19_656, 0.10, 1.0) == pytest.approx(0.10 * math.sqrt(12 / 19_656) / 0.005)
    assert position_scale(0.0001, 12, 19_656, 0.10, 1.0) == 1.0  # capped: no leverage
    assert position_scale(0.0, 12, 19_656, 0.10, 2.0) == 2.0


def test_extreme_but_valid_prices_give_a_finite_variance():
    """A range of 1e-300 to 1e300 is schema-valid: its variance is huge, never inf (a ratio would overflow)."""
    from models.volatility import session_returns

    assert np.isfinite(parkinson_variance(np.array([1e300]), np.array([1e-300]))).all()
    returns = session_returns(np.array([1e-300, 1.0]), np.array([1e300, 1.0]), np.array(["d1", "d2"]))
    assert np.isfinite(returns).all()
