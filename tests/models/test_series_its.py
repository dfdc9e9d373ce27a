"""The interrupted time series of real daily series (dnmarkets.models.series_its) on
planted truth, and its negative binomial model against statsmodels' discrete one."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from dnmarkets.models.its import design, effect_at
from dnmarkets.models.series_its import fit_negbin, mean_with_interval, series_resilience

EVENT = "2017-07-05"


def planted_counts(seed, change=1.0, alpha=0.5, base=5.0, days=240):
    """Daily counts, negative binomial with dispersion `alpha`, mean `base` before the
    event and base x (1 + change) after it."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(pd.Timestamp(EVENT) - pd.Timedelta(days=days // 2), periods=days)
    mean = np.where(dates >= pd.Timestamp(EVENT), base * (1 + change), base)
    n = 1 / alpha
    return pd.Series(rng.negative_binomial(n, n / (n + mean)).astype(float), index=dates)


def test_negative_binomial_recovers_a_planted_level_change():
    covered, estimates = 0, []
    for seed in range(20):
        fit, alpha = fit_negbin(planted_counts(seed), EVENT, hac_lags=7)
        est, low, high = effect_at(fit, 0)
        estimates.append(est)
        covered += low <= 100.0 <= high
    assert covered >= 17  # 95% intervals: 19 of 20 expected
    # unbiased on the log scale: the mean log ratio within 3 standard errors of log 2
    logs = np.log1p(np.array(estimates) / 100)
    assert abs(logs.mean() - np.log(2)) < 3 * logs.std(ddof=1) / np.sqrt(len(logs))
    assert alpha == pytest.approx(0.5, abs=0.25)


def test_glm_agrees_with_the_discrete_negative_binomial():
    y = planted_counts(7)
    fit, alpha = fit_negbin(y, EVENT, hac_lags=7)
    x = design(y.index, pd.Timestamp(EVENT), True)
    discrete = sm.NegativeBinomial(y.to_numpy(), x, loglike_method="nb2").fit(disp=0, maxiter=500)
    assert np.allclose(fit.params.to_numpy(), discrete.params.iloc[:-1].to_numpy(), atol=1e-4)
    assert alpha == pytest.approx(float(discrete.params.iloc[-1]), rel=1e-4)


def test_mean_with_interval_covers_a_known_mean():
    rng = np.random.default_rng(3)
    covered = 0
    for _ in range(40):
        y = pd.Series(100 + rng.normal(0, 10, 56))
        _, low, high = mean_with_interval(y, 7, 0.95)
        covered += low <= 100 <= high
    assert covered >= 33


def _frame(market, measure, series):
    return pd.DataFrame(
        {
            "market": market,
            "date": series.index,
            "measure": measure,
            "value": series.to_numpy(),
            "file": "x",
            "raw_row": range(1, len(series) + 1),
        }
    )


SETTINGS = {
    "window_days": 120,
    "hac_lags": 14,
    "transition_buffer_days": 7,
    "horizons": [0, 30],
    "placebo_window_days": 56,
    "placebo_step_days": 14,
    "placebo_calibration": True,
    "min_placebo_dates": 4,
    "calibration_draws": {"placebo": 2, "main": 20},
    "displacement_horizon_days": 30,
}


def test_series_resilience_on_planted_series():
    """An open market's sales double at the event (log-normal AR(1) noise); a closed
    market sold 1,000 a day before it; a forum's counts double."""
    rng = np.random.default_rng(11)
    dates = pd.date_range("2016-07-01", "2018-06-30")
    noise = np.zeros(len(dates))
    for i in range(1, len(dates)):
        noise[i] = 0.3 * noise[i - 1] + rng.normal(0, 0.2)
    open_sales = pd.Series(
        5000 * np.exp(noise) * np.where(dates >= pd.Timestamp(EVENT), 2.0, 1.0), index=dates
    )
    closed = pd.Series(1000 + rng.normal(0, 50, 300), index=dates[:300])
    series = pd.concat(
        [_frame("open", "sales_usd", open_sales), _frame("shut", "sales_usd", closed)]
    )
    spec = {
        "markets": [{"slug": "open", "name": "Open"}, {"slug": "shut", "name": "Shut"}],
        "series": [
            {"market": "open", "measure": "sales_usd_{column}", "total": "sales_usd"},
            {"market": "shut", "measure": "sales_usd_{column}", "total": "sales_usd"},
        ],
    }
    event = {"label": "E", "date": EVENT, "markets_closed": ["shut"], "datasets": ["d"]}
    out = series_resilience(series, spec, {"e": event}, {"e": event}, SETTINGS, 0.95, 1)
    summary = out["summary"]
    change = summary["open_sales_usd_change_pct_0d.e"]
    assert change["ci_low"] <= 100 <= change["ci_high"]
    assert change["value"] == pytest.approx(100, abs=25)
    lost = summary["shut_sales_usd_lost_per_day.e"]
    assert lost["ci_low"] <= 1000 <= lost["ci_high"]
    assert (
        summary["shut_sales_usd_lost_gap_days.e"]["value"]
        == (pd.Timestamp(EVENT) - dates[299] - pd.Timedelta(days=1)).days
    )
    assert summary["open_sales_usd_placebos.e"]["value"] >= 4
    # the gain in units per day is about 5,000 a day, five times what the closed market lost
    share = summary["open_sales_usd_absorbed_share_30d.e"]
    assert share["ci_low"] <= 5.0 <= share["ci_high"]


def test_a_series_starting_at_zero_gets_a_level_change_not_a_percentage():
    dates = pd.date_range("2017-01-01", "2017-12-31")
    rng = np.random.default_rng(5)
    values = np.where(dates >= pd.Timestamp(EVENT), 2000 + rng.normal(0, 100, len(dates)), 0.0)
    spec = {
        "markets": [{"slug": "new", "name": "New"}],
        "series": [{"market": "new", "measure": "sales_usd_{column}", "total": "sales_usd"}],
    }
    event = {"label": "E", "date": EVENT, "markets_closed": [], "datasets": ["d"]}
    out = series_resilience(
        _frame("new", "sales_usd", pd.Series(values, index=dates)),
        spec,
        {"e": event},
        {"e": event},
        SETTINGS,
        0.95,
        1,
    )
    assert out["summary"]["sales_usd_change_pct_0d.e"]["value"] is None
    level = out["summary"]["sales_usd_level_change_30d.e"]
    assert level["ci_low"] <= 2000 <= level["ci_high"]
