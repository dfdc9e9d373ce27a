"""Resilience models: planted effects recovered by the count model, the data-scale
model, the ARIMA forecast, recovery time, steps for other changes, placebo dates and
displacement shares; the Poisson fit checked against a hand-written Newton solver."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dnmarkets.models.its import (
    design,
    effect_at,
    fit_linear,
    fit_poisson,
    fit_segmented,
    forecast_effect,
    linear_combination,
    recovery_days,
)
from dnmarkets.models.resilience import (
    measure_settings,
    other_changes,
    placebo_dates,
    resilience,
    rms_z,
)

EVENT = "2017-07-05"


def log_series(level=-0.3, slope=0.0, seed=0, n=300, start="2017-02-01", extra_step=None):
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=n, freq="D")
    t = np.arange(n, dtype=float)
    t0 = float((pd.Timestamp(EVENT) - dates[0]).days)
    post = t >= t0
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.5 * noise[i - 1] + rng.normal(0, 0.02)
    log_y = 7 + 0.0005 * t + level * post + slope * (t - t0) * post + noise
    if extra_step is not None:
        log_y += extra_step[1] * (dates >= pd.Timestamp(extra_step[0]))
    return pd.Series(np.exp(log_y), index=dates)


def test_linear_combination_matches_effect_at():
    fit, _, _ = fit_segmented(log_series(slope=0.002), EVENT, 120)
    est, low, high = linear_combination(fit, {"level": 1.0, "slope": 30.0})
    pct = effect_at(fit, 30)
    assert pct == pytest.approx(tuple(100 * (np.exp(v) - 1) for v in (est, low, high)))


def test_data_scale_fit_recovers_an_absolute_drop():
    rng = np.random.default_rng(1)
    dates = pd.date_range("2017-03-01", periods=250, freq="D")
    post = dates >= pd.Timestamp(EVENT)
    y = pd.Series(1000 + 0.5 * np.arange(250) - 300 * post + rng.normal(0, 15, 250), index=dates)
    fit, _, _ = fit_linear(y, EVENT, 120)
    est, low, high = linear_combination(fit, {"level": 1.0})
    assert low < -300 < high and abs(est + 300) < 20


def newton_poisson(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Poisson regression by Newton-Raphson, written out (independent of statsmodels)."""
    beta = np.zeros(x.shape[1])
    beta[0] = np.log(y.mean())
    for _ in range(iterations):
        mu = np.exp(x @ beta)
        beta = beta + np.linalg.solve(x.T @ (x * mu[:, None]), x.T @ (y - mu))
    return beta


def test_poisson_count_model_recovers_planted_jump_and_matches_newton():
    rng = np.random.default_rng(2)
    dates = pd.date_range("2017-03-01", periods=250, freq="D")
    t = np.arange(250)
    post = dates >= pd.Timestamp(EVENT)
    counts = rng.poisson(np.exp(6 + 0.001 * t - 0.25 * post))
    y = pd.Series(counts.astype(float), index=dates)
    fit, yw, x = fit_poisson(y, EVENT, 120, hac_lags=7)
    low, high = fit.conf_int().loc["level"]
    assert low < -0.25 < high
    beta = newton_poisson(x.to_numpy(), np.round(yw.to_numpy()))
    np.testing.assert_allclose(fit.params.to_numpy(), beta, rtol=1e-6, atol=1e-8)


def test_recovery_time_of_a_planted_rebound():
    # level -0.2 at the event, then growth 0.004/day faster than the trend: back after ~50 days
    series = log_series(level=-0.2, slope=0.004, seed=3)
    fit, _, _ = fit_segmented(series, EVENT, 120)
    rec = recovery_days(fit, 120, draws=2000, seed=1)
    expected = 0.2 / (0.0005 + 0.004)
    assert rec["low"] < expected < rec["high"]
    assert rec["recovered_share"] > 0.95


def test_no_recovery_without_a_rebound():
    fit, _, _ = fit_segmented(log_series(level=-0.3, slope=-0.002, seed=4), EVENT, 120)
    rec = recovery_days(fit, 120, draws=1000, seed=1)
    assert rec["estimate"] is None and rec["recovered_share"] < 0.05


def test_arima_forecast_counterfactual_recovers_the_drop():
    (est, low, high), frame, phi = forecast_effect(log_series(level=-0.3, seed=5), EVENT, 120)
    truth = 100 * (np.exp(-0.3) - 1)
    assert low < truth < high
    assert 0 < phi < 1 and len(frame) > 100


def test_a_step_of_another_market_is_not_counted_as_the_event():
    """A second, unrelated drop 60 days after the event biases the level change unless it
    enters the model as a step of its own."""
    series = log_series(level=-0.3, seed=6, extra_step=("2017-09-03", -0.2))
    x = design(series.index, pd.Timestamp(EVENT), True, ("2017-09-03",))
    assert "step_20170903" in x.columns
    with_step, _, _ = fit_segmented(series, EVENT, 120, steps=("2017-09-03",))
    without, _, _ = fit_segmented(series, EVENT, 120)
    low, high = with_step.conf_int().loc["level"]
    assert low < -0.3 < high
    assert abs(without.params["slope"]) > 5 * abs(with_step.params["slope"])


def panel(markets: dict, start="2017-02-01", n=300) -> pd.DataFrame:
    """market -> (listings series, observed mask) as a market-day panel."""
    dates = pd.date_range(start, periods=n, freq="D")
    rows = []
    for market, (values, observed) in markets.items():
        rows.append(
            pd.DataFrame(
                {
                    "market": market,
                    "date": dates.date,
                    "active_listings": values,
                    "active_vendors": values / 4,
                    "est_sales_usd": 0.0,
                    "crawled": observed,
                    "crawl_rows": np.where(observed, values, 0),
                    "coverage": 1.0,
                    "observed": observed,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


SETTINGS = {
    "window_days": 100,
    "edge_days": 0,
    "hac_lags": 7,
    "transition_buffer_days": 0,
    "horizons": [0, 30],
    "placebo_window_days": 28,
    "placebo_step_days": 7,
    "placebo_calibration": True,
    "min_placebo_dates": 8,
    "calibration_draws": {"placebo": 10, "main": 100},
    "sensitivity_windows": [60, 100],
    "recovery_draws": 500,
    "displacement_horizon_days": 30,
}


def test_displacement_share_of_a_planted_absorption():
    """A closed market of 200 listings; the open one gains 60 of them: share 0.3."""
    rng = np.random.default_rng(7)
    dates = pd.date_range("2017-02-01", periods=300, freq="D")
    post = dates >= pd.Timestamp(EVENT)
    closed = np.where(post, 0.0, 200.0)
    open_ = 500 + 60 * post + rng.normal(0, 3, 300)
    md = panel({"closed": (closed, ~post), "open": (open_, np.ones(300, bool))})
    event = {"label": "E", "date": EVENT, "markets_closed": ["closed"]}
    result = resilience(md, {"e": event}, SETTINGS, 0.95)
    item = result["summary"]["listings_absorbed_share_30d.e"]
    assert item["ci_low"] < 0.3 < item["ci_high"]
    assert result["summary"]["listings_lost_on_closed.e"]["value"] == pytest.approx(200)
    assert result["summary"]["listings_top_absorber_share_30d.e"]["value"] == pytest.approx(
        item["value"]
    )
    # the closed market's end is the event itself, not another change
    assert other_changes(md, event, pd.Series(1.0, index=dates), 100) == ()


def test_placebo_dates_avoid_events_and_market_changes():
    dates = pd.date_range("2017-01-01", periods=365, freq="D")
    series = pd.Series(1.0, index=dates)
    opens = dates >= pd.Timestamp("2017-10-01")
    md = panel(
        {"a": (np.ones(365), np.ones(365, bool)), "b": (np.ones(365), opens)},
        start="2017-01-01",
        n=365,
    )
    events = {"e": {"date": EVENT}}
    found = placebo_dates(series, events, md, half_window=28, step=7, buffer=0)
    assert found, "some placebo dates exist"
    for day in found:
        lo, hi = day - pd.Timedelta(days=28), day + pd.Timedelta(days=28)
        assert not (lo <= pd.Timestamp(EVENT) < hi)
        assert not (lo <= pd.Timestamp("2017-10-01") < hi)


def test_placebo_false_positives_are_rare_on_a_series_without_effects():
    rng = np.random.default_rng(8)
    values = np.exp(6 + 0.0005 * np.arange(500) + rng.normal(0, 0.02, 500))
    md = panel({"a": (values, np.ones(500, bool))}, start="2017-01-01", n=500)
    event = {"label": "E", "date": "2017-08-01", "markets_closed": []}
    result = resilience(md, {"e": event}, SETTINGS, 0.95)
    s = result["summary"]
    assert s["listings_placebos.e"]["value"] >= 20
    assert s["listings_placebo_false_positive_share.e"]["value"] <= 0.15
    low, high = s["listings_change_pct_0d.e"]["ci_low"], s["listings_change_pct_0d.e"]["ci_high"]
    assert low < 0 < high


def test_rms_z_of_placebo_rows():
    rows = [{"z": z} for z in (3.0, -3.0, 1.0, -1.0)]
    assert rms_z(rows, 4) == pytest.approx(np.sqrt(5.0))
    assert rms_z(rows, 5) is None  # too few dates to calibrate
    assert rms_z([*rows, {"z": float("nan")}], 5) is None


def test_calibration_widens_intervals_where_the_model_is_wrong():
    """Level shifts every few weeks that AR(1) errors do not describe: the placebo dates
    see them, the factor exceeds 1 and the intervals widen by exactly that factor; on
    series the model describes the factor stays near 1 (three series of each kind)."""
    n, event = 500, {"label": "E", "date": "2017-08-01", "markets_closed": []}

    def summary(values, **settings):
        md = panel({"a": (values, np.ones(n, bool))}, start="2017-01-01", n=n)
        return resilience(md, {"e": event}, {**SETTINGS, **settings}, 0.95)["summary"]

    wrong, right = [], []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        shifts = np.cumsum(np.where(rng.random(n) < 1 / 20, rng.normal(0, 0.06, n), 0.0))
        s = summary(np.exp(6 + shifts + rng.normal(0, 0.01, n)))
        wrong.append(s["listings_se_inflation.e"]["value"])
        plain = summary(np.exp(6 + 0.0005 * np.arange(n) + rng.normal(0, 0.02, n)))
        right.append(plain["listings_se_inflation.e"]["value"])
    assert min(wrong) > 1.25 and np.mean(right) < 1.2 and min(right) >= 1.0

    cal, own = s["listings_change_pct_0d.e"], s["listings_change_pct_0d_model.e"]
    assert cal["value"] == pytest.approx(own["value"])
    width = np.log1p(cal["ci_high"] / 100) - np.log1p(cal["ci_low"] / 100)
    own_width = np.log1p(own["ci_high"] / 100) - np.log1p(own["ci_low"] / 100)
    assert width == pytest.approx(wrong[-1] * own_width, rel=1e-6)
    off = summary(np.exp(6 + shifts), placebo_calibration=False)
    assert off["listings_se_inflation.e"]["value"] == 1.0


def test_slope_kinks_raise_the_slope_factor_more_than_the_level_factor():
    """Trend kinks every few weeks (a slope that wanders, not the level): the placebo
    slope changes see them, so the slope change's factor is well above the level
    change's, and the later horizons are widened more than the event itself."""
    n, event = 500, {"label": "E", "date": "2017-08-01", "markets_closed": []}
    for seed in range(3):
        rng = np.random.default_rng(seed)
        slope = np.cumsum(np.where(rng.random(n) < 1 / 25, rng.normal(0, 0.004, n), 0.0))
        values = np.exp(6 + np.cumsum(slope) + rng.normal(0, 0.01, n))
        md = panel({"a": (values, np.ones(n, bool))}, start="2017-01-01", n=n)
        s = resilience(md, {"e": event}, SETTINGS, 0.95)["summary"]
        level_factor = s["listings_se_inflation.e"]["value"]
        slope_factor = s["listings_se_inflation_slope.e"]["value"]
        assert slope_factor > 2 * level_factor >= 2.0
        assert s["listings_se_inflation_0d.e"]["value"] == pytest.approx(level_factor)
        assert s["listings_se_inflation_30d.e"]["value"] > 1.5 * level_factor


def test_measure_settings_give_a_measure_its_own_transition_buffer():
    settings = {**SETTINGS, "transition_buffer_days": 14}
    common = measure_settings(settings, "listings")  # no override: 14 days both sides
    assert (common["pre_event_buffer_days"], common["transition_buffer_days"]) == (14, 14)
    own = {**settings, "measure_transition_buffer_days": {"sales": {"before": 28}, "vendors": 7}}
    sales, vendors = measure_settings(own, "sales"), measure_settings(own, "vendors")
    assert (sales["pre_event_buffer_days"], sales["transition_buffer_days"]) == (28, 14)
    assert (vendors["pre_event_buffer_days"], vendors["transition_buffer_days"]) == (7, 7)
    assert own["transition_buffer_days"] == 14  # the common settings are not changed


def test_a_measures_own_buffer_leaves_out_its_planted_transition():
    """A planted drop of 0.3 (log) at the event plus a crawl artefact that fades over the
    first 21 days (an extra dip of 0.2 at the event, linear back to 0): listings with a
    21-day buffer of their own recover the drop; vendors (same series / 4) with the common
    buffer of 0 days count the artefact as part of the drop."""
    rng = np.random.default_rng(9)
    n = 300
    dates = pd.date_range("2017-02-01", periods=n, freq="D")
    k = (dates - pd.Timestamp(EVENT)).days.to_numpy()
    artefact = np.where((k >= 0) & (k < 21), -0.2 * (1 - k / 21), 0.0)
    log_y = 7 + 0.0005 * np.arange(n) - 0.3 * (k >= 0) + artefact + rng.normal(0, 0.01, n)
    md = panel({"a": (np.exp(log_y), np.ones(n, bool))})
    event = {"label": "E", "date": EVENT, "markets_closed": []}
    settings = {**SETTINGS, "measure_transition_buffer_days": {"listings": 21}}
    result = resilience(md, {"e": event}, settings, 0.95)
    s = result["summary"]
    truth = 100 * (np.exp(-0.3) - 1)
    listings, vendors = s["listings_change_pct_0d.e"], s["vendors_change_pct_0d.e"]
    assert listings["ci_low"] < truth < listings["ci_high"]
    assert abs(listings["value"] - truth) < 1.5
    assert vendors["value"] < truth - 3  # the artefact's dip taken for the drop
    # the robustness rows vary the measure's own buffer (0, 21, 42 days for listings)
    rows = result["tables"]["sensitivity"]
    buffers = {r["measure"]: set() for r in rows}
    for r in rows:
        if r["check"] == "transition buffer (days)":
            buffers[r["measure"]].add(r["setting"])
    assert buffers["listings"] == {"0", "21", "42"} and buffers["vendors"] == {"0"}


def test_a_longer_buffer_before_the_event_leaves_out_a_seized_markets_fading_record():
    """A market of 200 listings seized at the event next to an open one of 500: the crawls
    undercount the seized market over its last 21 days (listings seen only now and then
    end at their last sighting). The planted drop is log(500 / 700); listings with 28
    days left out before the event recover it, vendors with the common 0 days take the
    fading record for part of the trend and find a smaller drop."""
    rng = np.random.default_rng(10)
    n = 300
    dates = pd.date_range("2017-02-01", periods=n, freq="D")
    k = (dates - pd.Timestamp(EVENT)).days.to_numpy()
    post = k >= 0
    fading = np.where((k >= -21) & (k < 0), 1 - 0.4 * (k + 21) / 21, 1.0)
    closed = np.where(post, 0.0, 200.0 * fading * np.exp(rng.normal(0, 0.03, n)))
    open_ = 500 * np.exp(rng.normal(0, 0.03, n))
    md = panel({"closed": (closed, ~post), "open": (open_, np.ones(n, bool))})
    event = {"label": "E", "date": EVENT, "markets_closed": ["closed"]}
    settings = {**SETTINGS, "measure_transition_buffer_days": {"listings": {"before": 28}}}
    s = resilience(md, {"e": event}, settings, 0.95)["summary"]
    truth = 100 * (500 / 700 - 1)
    listings, vendors = s["listings_change_pct_0d.e"], s["vendors_change_pct_0d.e"]
    assert listings["ci_low"] < truth < listings["ci_high"]
    assert abs(listings["value"] - truth) < 1.5
    assert vendors["value"] > truth + 3, (listings, vendors)
