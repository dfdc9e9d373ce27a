"""The structural (local level) ITS: a planted jump and slope change on a random walk are
recovered, and its coefficients and covariance equal generalised least squares on the
first differences, written out here, at the fitted variances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_its import EVENT, timeline

from dnmarkets.models.its import effect_at, fit_local_level, local_level_counterfactual


def random_walk_series(level=-0.35, slope=0.003, seed=0, n=240, walk=0.01, noise=0.02):
    """log(y) = 8 + random walk + level*post + slope*(t-t0)*post + weekly + white noise."""
    rng = np.random.default_rng(seed)
    dates, t, t0, post = timeline(n)
    weekly = 0.03 * np.isin(dates.day_of_week, [5, 6])
    log_y = (
        8
        + np.cumsum(rng.normal(0, walk, n))
        + level * post
        + slope * (t - t0) * post
        + weekly
        + rng.normal(0, noise, n)
    )
    return pd.Series(np.exp(log_y), index=dates)


def test_planted_jump_and_slope_on_a_random_walk_are_recovered():
    covered, n = 0, 40
    for seed in range(n):
        fit, _, _ = fit_local_level(random_walk_series(seed=seed), EVENT, 120, (0, 10))
        est, low, high = effect_at(fit, 30)
        covered += low < 100 * (np.exp(-0.35 + 0.003 * 30) - 1) < high
    # 40 series: nominal 95%, 3 binomial standard errors below is 85.7%
    assert covered >= 35


def differenced_gls(log_y: pd.Series, x: pd.DataFrame, walk_var: float, noise_var: float):
    """GLS of the observed days' first differences: a gap of g days adds g steps of the
    walk; neighbouring differences share one noise term (negative covariance)."""
    seen = log_y.notna().to_numpy()
    days = np.flatnonzero(seen)
    dy = np.diff(log_y.to_numpy()[seen])
    dx = np.diff(x.to_numpy()[seen], axis=0)
    m = len(dy)
    cov = np.diag(walk_var * np.diff(days) + 2 * noise_var)
    cov[np.arange(m - 1), np.arange(1, m)] = cov[np.arange(1, m), np.arange(m - 1)] = -noise_var
    w = np.linalg.inv(cov)
    beta_cov = np.linalg.inv(dx.T @ w @ dx)
    return beta_cov @ dx.T @ w @ dy, beta_cov


def test_local_level_equals_gls_on_first_differences():
    series = random_walk_series(seed=3)
    series = series.drop(series.index[[40, 41, 42, 200]])  # crawl gaps
    fit, y, x = fit_local_level(series, EVENT, 120, (0, 10))
    res = fit.model
    log_y = np.log(y.astype(float)).reindex(x.index)
    beta, cov = differenced_gls(
        log_y, x, res.params["sigma2.level"], res.params["sigma2.irregular"]
    )
    np.testing.assert_allclose(fit.params.to_numpy(), beta, atol=1e-5)
    np.testing.assert_allclose(fit.cov.to_numpy(), cov, rtol=1e-3, atol=1e-10)


def test_counterfactual_removes_the_planted_change():
    series = random_walk_series(seed=5, walk=0.002, noise=0.01)
    fit, y, x = fit_local_level(series, EVENT, 120, (0, 10))
    frame = local_level_counterfactual(fit, x)
    after = frame.index >= pd.Timestamp(EVENT) + pd.Timedelta(days=30)
    ratio = (frame["fitted"] / frame["counterfactual"])[after]
    days = (frame.index[after] - pd.Timestamp(EVENT)).days.to_numpy()
    estimated = np.exp(fit.params["level"] + fit.params["slope"] * days)
    np.testing.assert_allclose(ratio, estimated, rtol=1e-9)
    planted = np.exp(-0.35 + 0.003 * days)
    np.testing.assert_allclose(ratio, planted, rtol=0.15)  # one series: the estimate's error
    before = frame.index < pd.Timestamp(EVENT)
    assert np.allclose(frame["fitted"][before], frame["counterfactual"][before])
    assert (frame["cf_low"][after] < frame["counterfactual"][after]).all()
    assert np.allclose(frame["cf_high"][before], frame["cf_low"][before])
    # the fit follows the observed days closely (small noise)
    observed = np.log(y.reindex(frame.index))
    assert np.nanmax(np.abs(np.log(frame["fitted"]) - observed)) < 0.05


def test_structural_entries_swap_headline_and_robustness():
    from dnmarkets.models.resilience import _Catalogue
    from dnmarkets.models.resilience_structural import structural_entries

    fitted = fit_local_level(random_walk_series(seed=1), EVENT, 120, (0, 10))
    event = {"label": "the event", "date": EVENT}
    for measures, expected in (([], "_local_level"), (["listings"], "_segmented")):
        cat = _Catalogue("ev", 0.95)
        cat.add("listings_change_pct_0d", -1.0, "percent", "segmented", (-2.0, 0.0))
        settings = {"horizons": [0], "local_level_measures": measures}
        structural_entries(cat, "listings", "listings", event, fitted, settings, 0.95)
        local = effect_at(fitted[0], 0)[0]
        moved = cat.items[f"listings_change_pct_0d{expected}.ev"]["value"]
        headline = cat.items["listings_change_pct_0d.ev"]["value"]
        expected_pair = (-1.0, local) if not measures else (local, -1.0)
        assert (headline, moved) == pytest.approx(expected_pair, abs=1e-6)
