"""Market resilience after an event: interrupted time series, recovery, displacement,
placebo events and robustness, for every measure and event.

For each configured event of a dataset, the ecosystem-wide daily series (sum
over markets) of active listings, active vendors and estimated sales are fitted
with the segmented regression of `dnmarkets.models.its` (log scale, AR(1) errors) and
the change is reported at the event and at later horizons; for the crawled presence
series in `local_level_measures` (listings, vendors) the headline change comes from
the local-level model instead (dnmarkets.models.resilience_structural), which
covered the truth across simulation seeds where the segmented regression did not,
the segmented regression's calibrated change kept beside it. With the change:
- the level change in units (vendors, listings) from the same model on the data
  scale, comparable with published absolute drops;
- the time until the fitted path is back at the pre-event level;
- displacement: each open market's gain against the activity lost on the closed ones;
- placebo events at dates without an event, fitted the same way; how much more
  spurious change they show than series simulated from the fitted model calibrates
  the main model's intervals (:func:`calibration`), because crawl artefacts make
  the AR(1) model's own intervals too narrow (measured across simulation seeds);
- robustness: window length, transition buffer, weekly data, no coverage
  correction, and other model families (HAC, a Poisson count model, an ARIMA
  counterfactual forecast).
Where a ground truth exists (simulated data), the same model fitted on the true
daily series gives the value each estimate should recover.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pandas as pd
from scipy import signal

from dnmarkets.core.summary import entry
from dnmarkets.models.its import (
    counterfactual,
    ecosystem_series,
    effect_at,
    effect_se,
    fit_linear,
    fit_poisson,
    fit_segmented,
    forecast_effect,
    inflated,
    linear_combination,
    recovery_days,
)
from dnmarkets.models.resilience_displacement import (
    MIN_DAYS_EACH_SIDE,
    UNITS,
    displacement,
    displacement_entries,
)
from dnmarkets.models.resilience_structural import (
    alt_columns,
    counterfactual_frame,
    is_main,
    structural_entries,
    structural_fit,
)

MEASURES = {
    "listings": ("active_listings", "active listings"),
    "vendors": ("active_vendors", "active vendors (per market, summed)"),
    "sales": ("est_sales_usd", "estimated sales (feedback x price)"),
}
COUNT_MEASURES = ("listings", "vendors")
# what each measured series estimates in the simulator's true daily table
TRUTH_COLUMNS = {
    "active_listings": "active_listings",
    "active_vendors": "active_vendors",
    "est_sales_usd": "feedback_sales_usd",  # sales that leave feedback: what is measurable
}


def measure_settings(settings: dict, key: str) -> dict:
    """The resilience settings of one measure: its transition buffers from
    `measure_transition_buffer_days` where given (days, or `before` and `after`),
    else `transition_buffer_days` on both sides. `transition_buffer_days` of the
    result is the buffer after the event, `pre_event_buffer_days` the one before.

    Why per measure and side: the crawl artefacts around a takedown last differently
    long. Sales are feedback increments between a listing's sightings, so a seized
    market's sales after each listing's last sighting are lost; listings seen only now
    and then were last seen weeks before the seizure, and the measured sales fall short
    of the truth for about three weeks before it (the panels of the multi-seed coverage
    study, benchmarks/its_coverage.py). Presence is counted from first sighting, so
    after a takedown the listings of arriving vendors are first seen late, for as long
    as vendors arrive."""
    own = (settings.get("measure_transition_buffer_days") or {}).get(key)
    common = settings["transition_buffer_days"]
    if own is None:
        return {**settings, "pre_event_buffer_days": common}
    if isinstance(own, dict):
        before, after = own.get("before", common), own.get("after", common)
    else:
        before = after = own
    return {**settings, "transition_buffer_days": int(after), "pre_event_buffer_days": int(before)}


def enough_data(series: pd.Series, event: dict, days: int, buffer: int = 0) -> bool:
    """At least `days` days with data before the event and after its last closure."""
    start = pd.Timestamp(event["date"])
    end = start + pd.Timedelta(days=skip_for(event, buffer)[1])
    positive = series[series > 0]
    return bool((positive.index < start).sum() >= days and (positive.index >= end).sum() >= days)


def skip_for(event: dict, buffer: int = 0) -> tuple[int, int]:
    """Transition days left out around the event: before it, the days the closed markets'
    crawls no longer see (`pre_skip_days`, from the data: see pre_event_skip); from it
    on, the days until the last closure of a multi-day event (Hansa closed 15 days after
    AlphaBay was seized), plus a buffer of one crawl interval (presence and sales are
    interpolated between sightings, so the step is smeared over that many days)."""
    days = 0
    if event.get("end_date"):
        days = (pd.Timestamp(event["end_date"]) - pd.Timestamp(event["date"])).days + 1
    days += buffer
    return (int(event.get("pre_skip_days", 0)), days)


def pre_event_skip(market_day: pd.DataFrame, event: dict, buffer: int, max_gap: int = 30) -> int:
    """Days before the event to leave out: a closed market counts as present only until
    its last crawl, and its listings until their last sighting, so after the last crawl
    before a seizure it already looks closed, and in the `buffer` days before that crawl
    it looks smaller (listings missed by the last crawl end at an earlier sighting).
    Without this the drop starts before the event and the fitted jump shrinks towards
    zero (the multi-seed validation found it in most seeds). Closed markets whose last
    crawl is more than `max_gap` days before the event are not considered."""
    event_ts = pd.Timestamp(event["date"])
    closed = set(event.get("markets_closed", []))
    observed = market_day[market_day["observed"] & market_day["market"].isin(closed)]
    if observed.empty:
        return 0
    last = pd.to_datetime(observed.groupby("market", observed=True)["date"].max())
    gaps = [(event_ts - day).days for day in last if 0 < (event_ts - day).days <= max_gap]
    if not gaps:
        return 0
    return max(gaps) - 1 + buffer


def _true_series(truth_daily: pd.DataFrame, column: str, like: pd.Series) -> pd.Series:
    true_series = truth_daily.groupby("date")[column].sum().sort_index()
    true_series.index = pd.to_datetime(true_series.index)
    return true_series.loc[like.index.min() : like.index.max()]


def naive_series(market_day: pd.DataFrame, edge_days: int) -> pd.Series:
    """Active listings without the coverage correction: each market counts the rows of
    its latest crawl (no first-to-last-sighting interpolation), summed over markets."""
    frames = []
    for _, part in market_day.groupby("market", sort=True, observed=True):
        part = part.sort_values("date")
        rows = part["crawl_rows"].where(part["crawled"]).ffill().where(part["observed"])
        frames.append(pd.Series(rows.to_numpy(), index=pd.to_datetime(part["date"])))
    daily = pd.concat(frames, axis=1).sum(axis=1, min_count=1).fillna(0).sort_index()
    if edge_days > 0:
        daily = daily.iloc[edge_days:-edge_days]
    return daily


def weekly(series: pd.Series, event: str, window_days: int, skip: tuple[int, int]) -> pd.Series:
    """Weekly means of the daily series in the window (skipped days left out), weeks
    aligned on the event day."""
    from dnmarkets.models.its import window

    daily = window(series, event, window_days, skip)
    return daily.resample("7D", origin=pd.Timestamp(event)).mean().dropna()


def placebo_dates(
    series: pd.Series,
    events: dict,
    market_day: pd.DataFrame,
    half_window: int,
    step: int,
    buffer: int,
) -> list[pd.Timestamp]:
    """Dates without an event: the placebo window (half_window days each side) lies in
    the series and contains no configured event, no transition days, and no market's
    first or last observed day (a market opening or closing is an event of its own)."""
    index = series[series > 0].index
    if len(index) == 0:
        return []
    busy = []
    for ev in events.values():
        start = pd.Timestamp(ev["date"])
        busy.append((start, start + pd.Timedelta(days=skip_for(ev, buffer)[1])))
    observed = market_day[market_day["observed"]]
    spans = observed.groupby("market", observed=True)["date"].agg(["min", "max"])
    for first, last in zip(pd.to_datetime(spans["min"]), pd.to_datetime(spans["max"]), strict=True):
        for day in (first, last):
            if index.min() < day < index.max():
                busy.append((day, day))
    width = pd.Timedelta(days=half_window)
    dates = []
    day = index.min() + width
    while day + width <= index.max():
        lo, hi = day - width, day + width
        if not any(b_lo < hi and b_hi >= lo for b_lo, b_hi in busy):
            dates.append(day)
        day += pd.Timedelta(days=step)
    return dates


def other_changes(market_day: pd.DataFrame, event: dict, series: pd.Series, window_days: int):
    """Dates in the event's window at which a market not closed by the event opens (first
    observed day) or closes (the day after its last observed day): steps of their own in
    the model, so they are not counted as the event's effect."""
    closed = set(event.get("markets_closed", []))
    event_ts = pd.Timestamp(event["date"])
    lo = max(series.index.min(), event_ts - pd.Timedelta(days=window_days))
    hi = min(series.index.max(), event_ts + pd.Timedelta(days=window_days))
    observed = market_day[market_day["observed"]]
    spans = observed.groupby("market", observed=True)["date"].agg(["min", "max"])
    steps = []
    for market, first, last in zip(
        spans.index, pd.to_datetime(spans["min"]), pd.to_datetime(spans["max"]), strict=True
    ):
        if market in closed:
            continue
        for day in (first, last + pd.Timedelta(days=1)):
            if lo < day <= hi:
                steps.append(str(day.date()))
    return tuple(sorted(set(steps)))


def around_steps_left_out(series: pd.Series, steps: tuple, buffer: int) -> pd.Series:
    """The series without one crawl interval on each side of every other change: a
    market's closure is smeared over its last crawl interval like the event's."""
    out = series.astype(float).copy()
    for step in steps:
        day = pd.Timestamp(step)
        out[
            (out.index >= day - pd.Timedelta(days=buffer))
            & (out.index < day + pd.Timedelta(days=buffer))
        ] = np.nan
    return out


def term_z(fit, term: str = "level") -> float:
    """z-statistic of a coefficient (the level or slope change): estimate over its
    standard error."""
    return float(fit.params[term] / np.sqrt(fit.cov.loc[term, term]))


# The terms calibrated each by its own factor: (suffix of the summary keys, column of
# the z-statistics, coefficient). The level change is the effect at the event; the
# slope change is what the effect at later horizons adds, days times over.
CALIBRATED_TERMS = (("", "z", "level"), ("_slope", "z_slope", "slope"))


def _z_row(fit) -> dict:
    return {column: term_z(fit, term) for _, column, term in CALIBRATED_TERMS}


def placebo_fits(series, dates, half_window, level):
    """Effect at 0 days (and the z-statistics of the level and slope changes) at each
    placebo date with data on both sides."""
    rows = []
    for day in dates:
        half = pd.Timedelta(days=half_window)
        y = series[(series.index >= day - half) & (series.index < day + half)]
        if (y[y.index < day] > 0).sum() < 14 or (y[y.index >= day] > 0).sum() < 14:
            continue
        fit, _, _ = fit_segmented(series, str(day.date()), half_window)
        est, low, high = effect_at(fit, 0, level)
        rows.append(
            {
                "date": str(day.date()),
                "estimate": est,
                "ci_low": low,
                "ci_high": high,
                **_z_row(fit),
            }
        )
    return rows


def _placebo(series, event_date, dates, half_window, skip, level, steps=()):
    """Placebo fits, and the real event's effect with the same (placebo-length) window."""
    rows = placebo_fits(series, dates, half_window, level)
    fit, _, _ = fit_segmented(series, event_date, half_window, skip_days=skip, steps=steps)
    real = effect_at(fit, 0, level)
    return rows, real


def rms_z(rows: list[dict], min_dates: int = 1, column: str = "z") -> float | None:
    """Root mean square of the z-statistics of placebo fits (None with fewer than
    `min_dates`): about 1 where the model's standard errors are right."""
    z = np.array([r[column] for r in rows], dtype=float)
    z = z[np.isfinite(z)]
    if len(z) < min_dates:
        return None
    return float(np.sqrt(np.mean(z**2)))


def model_series(fit, like: pd.Series, rng: np.random.Generator) -> pd.Series:
    """A series the AR(1) model describes exactly: flat level, AR(1) errors with the fit's
    rho and innovation variance, on the days `like` has data (zero elsewhere)."""
    rho = float(np.clip(fit.rho or 0.0, -0.99, 0.99))
    sd = float(np.sqrt(fit.model.scale))
    innovations = rng.normal(0.0, sd, len(like))
    innovations[0] /= np.sqrt(1 - rho**2)  # start in the stationary distribution
    errors = signal.lfilter([1.0], [1.0, -rho], innovations)
    return pd.Series(np.where(like.to_numpy() > 0, np.exp(errors), 0.0), index=like.index)


def calibration(fit, series, event, dates, rows, settings, level, seed, fitters=None) -> dict:
    """The factors by which the main model's standard errors are multiplied: one for the
    level change (and the other terms), one for the slope change.

    The placebo dates show how large a "change" the model finds where there is none,
    as z-statistics; so do series simulated from the fitted model itself (its AR(1)
    errors, the same days and dates), which is what the placebo fits give when the
    model is right: short placebo windows estimate rho poorly and are somewhat too
    confident even then. The ratio of the two root mean squares is the excess that the
    model does not describe (crawl artefacts, level shifts); it is applied on top of
    the main fit's own small-sample miscalibration, measured on the same simulated
    series. Level and slope are calibrated each by its own z-statistics, because the
    errors the model misses need not blur both alike: a single factor left the
    effects 30 and 90 days out too narrow for listings and too wide for vendors across
    simulation seeds. No factor may narrow an interval (each part is at least 1).
    Factors 1 where calibration is switched off or there are fewer than
    `min_placebo_dates` dates. `rows` are the placebo fits of `series` at `dates`
    (:func:`placebo_fits`). `fitters` (simulate(rng), fit_main(series), fit_placebos(series))
    replace the AR(1) model's for another model (a count model of a daily series)."""
    simulate, fit_main, fit_placebos = fitters or (
        lambda rng: model_series(fit, series, rng),
        lambda sim: main_fit(sim, event, settings)[0],
        lambda sim: placebo_fits(sim, dates, settings["placebo_window_days"], level),
    )
    min_dates = settings["min_placebo_dates"]
    out = {}
    for suffix, column, _ in CALIBRATED_TERMS:
        out[f"placebo_rms_z{suffix}"] = rms_z(rows, min_dates, column)
        out[f"null_placebo_rms_z{suffix}"] = out[f"null_main_rms_z{suffix}"] = None
    if not settings["placebo_calibration"] or out["placebo_rms_z"] is None:
        return {**out, "factor": 1.0, "factor_slope": 1.0}
    rng = np.random.default_rng(seed)
    draws = settings["calibration_draws"]
    null_rows, main_z = [], []
    for i in range(max(draws["placebo"], draws["main"])):
        sim = simulate(rng)
        if i < draws["placebo"]:
            null_rows += fit_placebos(sim)
        if i >= draws["main"]:
            continue
        main_z.append(_z_row(fit_main(sim)))
    for suffix, column, _ in CALIBRATED_TERMS:
        null_placebo = rms_z(null_rows, column=column)
        null_main = rms_z(main_z, column=column)
        out[f"null_placebo_rms_z{suffix}"], out[f"null_main_rms_z{suffix}"] = (
            null_placebo,
            null_main,
        )
        excess = max(1.0, out[f"placebo_rms_z{suffix}"] / null_placebo)
        out[f"factor{suffix}"] = float(excess * max(1.0, null_main))
    return out


class _Catalogue:
    """Collects summary entries with the event suffix."""

    def __init__(self, event_name: str, level: float):
        self.items, self.event, self.pct = {}, event_name, int(round(level * 100))

    def add(self, quantity, value, unit, description, ci=None):
        self.items[f"{quantity}.{self.event}"] = entry(value, unit, description, ci)


def main_fit(series, event, settings, errors="ar1"):
    """The main segmented regression of one measure at one event: (fit, y, x)."""
    return fit_segmented(
        series,
        event["date"],
        settings["window_days"],
        settings["hac_lags"],
        skip_days=skip_for(event, settings["transition_buffer_days"]),
        errors=errors,
        steps=event["steps"],
    )


def _horizon_entries(cat, key, label, event, fit, model_fit, horizons, level, interval_kind):
    """The change at each horizon, calibrated and with the model's own interval."""
    for days in horizons:
        est, low, high = effect_at(fit, days, level)
        # how much wider than the model's own interval, at this horizon
        cat.add(
            f"{key}_se_inflation_{days}d",
            effect_se(fit, days) / effect_se(model_fit, days),
            "ratio",
            f"Factor by which the calibration widens the interval of {key}_change_pct_{days}d",
        )
        cat.add(
            f"{key}_change_pct_{days}d",
            est,
            "percent",
            f"Change of ecosystem {label} {days} days after {event['label']} vs the "
            f"pre-event trend ({cat.pct}% CI, segmented regression, AR(1) errors, "
            f"{interval_kind} interval)",
            (low, high),
        )
        est, low, high = effect_at(model_fit, days, level)
        cat.add(
            f"{key}_change_pct_{days}d_model",
            est,
            "percent",
            f"As {key}_change_pct_{days}d, with the AR(1) model's own interval "
            "(not calibrated by the placebo dates)",
            (low, high),
        )


def _inflation_entries(cat, key, label, factor, slope_factor, rho):
    """The calibration factors of the level and slope changes, and the AR(1) coefficient."""
    cat.add(
        f"{key}_se_inflation",
        factor,
        "ratio",
        f"Factor applied to the AR(1) model's standard error of the level change for "
        f"{label}: the placebo dates' excess over the model's own placebo z-statistics "
        "times the main fit's small-sample factor (1: not calibrated)",
    )
    cat.add(
        f"{key}_se_inflation_slope",
        slope_factor,
        "ratio",
        f"The same for the slope change of {label} (from the z-statistics of the slope "
        "changes; it widens the later horizons)",
    )
    cat.add(
        f"{key}_ar1_rho",
        rho,
        "ratio",
        f"AR(1) coefficient of the model errors for {label} (near 1: the level far "
        "from the event is poorly determined and long-horizon intervals are wide)",
    )


def _coefficient_rows(fit, hac_fit, name, key, level, factor, slope_factor) -> list[dict]:
    """Trend, level and slope coefficients of the calibrated AR(1) fit and of the HAC fit."""
    rows = []
    for errors, f in (("ar1", fit), ("hac", hac_fit)):
        ci = f.conf_int(level)
        for term in ("trend", "level", "slope"):
            rows.append(
                {
                    "event": name,
                    "measure": key,
                    "errors": errors,
                    "term": term,
                    "estimate": float(f.params[term]),
                    "ci_low": float(ci.loc[term, 0]),
                    "ci_high": float(ci.loc[term, 1]),
                    "se_inflation": (slope_factor if term == "slope" else factor)
                    if errors == "ar1"
                    else 1.0,
                }
            )
    return rows


def _recovery_entries(cat, key, label, event, fit, settings, level, name) -> dict:
    """Days until the modelled series is back at its pre-event level; the recovery table row."""
    window_days = settings["window_days"]
    horizon = max(settings["horizons"][-1], window_days)
    rec = recovery_days(fit, window_days, settings["recovery_draws"], settings["seed"], level)
    rec_ci = None
    if rec["low"] is not None:
        rec_ci = (rec["low"], rec["high"] if rec["high"] is not None else float(window_days))
    cat.add(
        f"{key}_recovery_days",
        rec["estimate"],
        "days",
        f"Days after {event['label']} until the modelled {label} are back at the pre-event "
        f"level (empty: not within the {window_days}-day window; an upper bound equal to "
        "the window means later than the window)",
        rec_ci,
    )
    cat.add(
        f"{key}_recovered_share",
        rec["recovered_share"],
        "share",
        f"Share of coefficient draws in which {label} recover within {window_days} days",
    )
    return {"event": name, "measure": key, "horizon_days": horizon, **rec}


def _arima_entry(cat, key, label, series, event, window_days, skip, level) -> pd.DataFrame:
    """Change in the first week against an ARIMA forecast (second model family); the forecast."""
    (est, low, high), forecast, _ = forecast_effect(
        series, event["date"], window_days, skip, 7, level
    )
    cat.add(
        f"{key}_change_pct_week1_arima",
        est,
        "percent",
        f"Change of {label} in the first week after the transition days vs an ARIMA(1,0,0) "
        "forecast from the pre-event days (second model family)",
        (low, high),
    )
    return forecast


def _fit_measure(fits, series, event, settings, level, name, key, label, cat, tables, calib):
    """Everything derived from the main fits (`fits`: AR(1) and HAC, from :func:`main_fit`)
    for one measure and event. The factors of `calib` (:func:`calibration`) multiply the
    AR(1) model's standard errors."""
    skip = skip_for(event, settings["transition_buffer_days"])
    window_days = settings["window_days"]
    model_fit, y, x = fits["ar1"]
    factor, slope_factor = calib["factor"], calib["factor_slope"]
    fit = inflated(model_fit, factor, slope_factor)
    interval_kind = "placebo-calibrated" if max(factor, slope_factor) > 1 else "model"
    _horizon_entries(
        cat, key, label, event, fit, model_fit, settings["horizons"], level, interval_kind
    )
    _inflation_entries(cat, key, label, factor, slope_factor, fit.rho)
    est, low, high = effect_at(fits["hac"][0], 0, level)
    cat.add(
        f"{key}_change_pct_0d_hac",
        est,
        "percent",
        f"As {key}_change_pct_0d, with OLS and Newey-West (HAC) errors (comparison)",
        (low, high),
    )
    tables["coefficients"] += _coefficient_rows(
        fit, fits["hac"][0], name, key, level, factor, slope_factor
    )

    # level change in units, on the data scale
    lin, _, _ = fit_linear(series, event["date"], window_days, skip, event["steps"])
    est, low, high = linear_combination(inflated(lin, factor, slope_factor), {"level": 1.0}, level)
    cat.add(
        f"{key}_level_change",
        est,
        UNITS[key],
        f"Level change of ecosystem {label} at {event['label']}, in units per day "
        f"(segmented regression on the data scale, AR(1) errors, {cat.pct}% CI, "
        f"{interval_kind} interval)",
        (low, high),
    )
    tables["recovery"].append(_recovery_entries(cat, key, label, event, fit, settings, level, name))

    # other model families
    forecast = _arima_entry(cat, key, label, series, event, window_days, skip, level)
    tables["forecasts"].append(
        forecast.rename_axis("date").reset_index().assign(event=name, measure=key)
    )
    if key in COUNT_MEASURES:
        pois, _, _ = fit_poisson(
            series, event["date"], window_days, settings["hac_lags"], skip, event["steps"]
        )
        est, low, high = effect_at(pois, 0, level)
        cat.add(
            f"{key}_change_pct_0d_poisson",
            est,
            "percent",
            f"As {key}_change_pct_0d, from a Poisson count model with Newey-West errors",
            (low, high),
        )
    return fit, y, x


def _robustness(series, naive, event, settings, level, name, key, calib):
    """Effect at the event under other windows, buffers, aggregation and correction, each
    interval calibrated by the same factors as the main fit."""
    factor, slope_factor = calib["factor"], calib["factor_slope"]
    buffer, window_days = settings["transition_buffer_days"], settings["window_days"]
    event_ts = pd.Timestamp(event["date"])
    skip = skip_for(event, buffer)
    # (check, setting, series, window, skipped days, day-of-week effects)
    variants = []
    for days in settings["sensitivity_windows"]:
        before = series[
            (series.index >= event_ts - pd.Timedelta(days=days)) & (series.index < event_ts)
        ]
        if (before > 0).sum() >= MIN_DAYS_EACH_SIDE:
            variants.append(("window (days each side)", str(days), series, days, skip, True))
    for b in sorted({0, buffer, 2 * buffer}):
        variants.append(
            ("transition buffer (days)", str(b), series, window_days, skip_for(event, b), True)
        )
    week = weekly(series, event["date"], window_days, skip)
    variants.append(("aggregation", "weekly means", week, window_days, (0, 0), False))
    if naive is not None:
        variants.append(
            (
                "coverage correction",
                "none (rows of the latest crawl)",
                naive,
                window_days,
                skip,
                True,
            )
        )
    rows = []
    for check, setting, data, days, skipped, dow in variants:
        fit, _, _ = fit_segmented(
            data, event["date"], days, skip_days=skipped, day_of_week=dow, steps=event["steps"]
        )
        est, low, high = effect_at(inflated(fit, factor, slope_factor), 0, level)
        rows.append(
            {
                "event": name,
                "measure": key,
                "check": check,
                "setting": setting,
                "estimate": est,
                "ci_low": low,
                "ci_high": high,
            }
        )
    return rows


def _calibrated_placebos(series, events, event, market_day, settings, level, skip, name, key):
    """Placebo fits, the main AR(1) and HAC fits, and the calibration of their intervals."""
    dates = placebo_dates(
        series,
        events,
        market_day,
        settings["placebo_window_days"],
        settings["placebo_step_days"],
        settings["transition_buffer_days"],
    )
    rows, real = _placebo(
        series,
        event["date"],
        dates,
        settings["placebo_window_days"],
        skip,
        level,
        event["steps"],
    )
    fits = {errors: main_fit(series, event, settings, errors) for errors in ("ar1", "hac")}
    calib = calibration(
        fits["ar1"][0],
        series,
        event,
        dates,
        rows,
        settings,
        level,
        [settings["seed"], zlib.crc32(f"{name}.{key}".encode())],  # a stream per fit
    )
    return rows, real, fits, calib


def _truth_checks(truth_daily, series, event, skip, settings, level, key, cat, calib):
    """The same model fitted on the true daily series: a check of each horizon's estimate."""
    column, label = MEASURES[key]
    name = cat.event
    true_series = _true_series(truth_daily, TRUTH_COLUMNS[column], series)
    true_series = around_steps_left_out(
        true_series, event["steps"], settings["transition_buffer_days"]
    )
    true_fit, _, _ = fit_segmented(
        true_series,
        event["date"],
        settings["window_days"],
        skip_days=skip,
        steps=event["steps"],
    )
    true_local = structural_fit(true_series, event, settings, skip)[0]
    checks = []
    for days in settings["horizons"]:
        true_value, alt_true = (effect_at(f, days, level)[0] for f in (true_fit, true_local))
        if is_main(key, settings):  # the truth is the main model's on the true series
            true_value, alt_true = alt_true, true_value
        est = cat.items[f"{key}_change_pct_{days}d.{name}"]
        # the local level's reported interval is its own (not calibrated)
        own = f"{key}_change_pct_{days}d" + ("" if is_main(key, settings) else "_model")
        model = cat.items[f"{own}.{name}"]
        checks.append(
            {
                "event": name,
                "measure": key,
                "days": days,
                "true": true_value,
                "estimate": est["value"],
                "ci_low": est["ci_low"],
                "ci_high": est["ci_high"],
                "covered": bool(est["ci_low"] <= true_value <= est["ci_high"]),
                "ci_low_model": model["ci_low"],
                "ci_high_model": model["ci_high"],
                "covered_model": bool(model["ci_low"] <= true_value <= model["ci_high"]),
                "se_inflation": calib["factor"],
                "se_inflation_slope": calib["factor_slope"],
                "se_inflation_horizon": cat.items[f"{key}_se_inflation_{days}d.{name}"]["value"],
                **{k: v for k, v in calib.items() if "rms_z" in k},
                **alt_columns(key, settings, cat, days, alt_true),
            }
        )
        cat.add(
            f"{key}_change_pct_{days}d_true",
            true_value,
            "percent",
            f"The same model fitted on the true (simulated, uncrawled) {label}, "
            f"{days} days after the event",
        )
    return checks


def _check_entries(checks: list[dict]) -> dict:
    """How many estimates' intervals cover the truth, over all horizons and at the event."""
    main = [c for c in checks if c["days"] == 0]
    return {
        "checks_covered": entry(
            sum(c["covered"] for c in checks),
            "count",
            f"Resilience estimates whose interval covers the truth (of {len(checks)})",
        ),
        "checks": entry(len(checks), "count", "Resilience estimates checked"),
        "checks_covered_0d": entry(
            sum(c["covered"] for c in main),
            "count",
            f"Changes at the event whose interval covers the truth (of {len(main)})",
        ),
        "checks_0d": entry(len(main), "count", "Changes at the event checked"),
    }


def resilience(
    market_day: pd.DataFrame,
    events: dict,
    settings: dict,
    level: float,
    truth_daily: pd.DataFrame | None = None,
    seed: int = 0,
) -> dict:
    """Catalogue entries `<quantity>.<event>`, tables and the series for the figures."""
    settings = {**settings, "seed": seed}
    summary, series_out, checks = {}, [], []
    names = ("coefficients", "recovery", "displacement", "placebo", "sensitivity", "forecasts")
    tables = {k: [] for k in (*names, "steps")}
    naive_all = (
        naive_series(market_day, settings["edge_days"]) if "crawl_rows" in market_day else None
    )
    common = settings
    for name, event in sorted(events.items()):
        cat = _Catalogue(name, level)
        for key, (column, label) in MEASURES.items():
            settings = measure_settings(common, key)  # the measure's own transition buffer
            buffer = settings["transition_buffer_days"]
            pre_skip = pre_event_skip(market_day, events[name], settings["pre_event_buffer_days"])
            skip = skip_for({**events[name], "pre_skip_days": pre_skip}, buffer)
            series = ecosystem_series(market_day, column, settings["edge_days"])
            if series.sum() <= 0:
                continue  # e.g. no sales where the source has no feedback counts
            if not enough_data(series, events[name], MIN_DAYS_EACH_SIDE, buffer):
                continue  # the crawls do not cover the event (e.g. a shortened period)
            steps = other_changes(market_day, events[name], series, settings["window_days"])
            series = around_steps_left_out(series, steps, buffer)
            event = {**events[name], "steps": steps, "pre_skip_days": pre_skip}
            tables["steps"] += [{"event": name, "measure": key, "date": d} for d in steps]
            for side, days in (("before", settings["pre_event_buffer_days"]), ("after", buffer)):
                cat.add(
                    f"{key}_buffer_{side}_days",
                    days,
                    "days",
                    f"Transition buffer of {label} {side} the event (days left out {side} "
                    + ("the closed markets' last crawl" if side == "before" else "the last closure")
                    + ")",
                )
            with warnings.catch_warnings():
                warnings.simplefilter(
                    "ignore"
                )  # statsmodels' convergence chatter; fits are checked in tests
                rows, real, fits, calib = _calibrated_placebos(
                    series, events, event, market_day, settings, level, skip, name, key
                )
                fit, y, x = _fit_measure(
                    fits, series, event, settings, level, name, key, label, cat, tables, calib
                )
                _calibration_entries(cat, key, label, calib)
                structural = structural_fit(series, event, settings, skip)
                structural_entries(cat, key, label, event, structural, settings, level)
                naive = naive_all if key == "listings" else None
                tables["sensitivity"] += _robustness(
                    series, naive, event, settings, level, name, key, calib
                )
                displaced, lost = displacement(market_day, event, column, settings, level, skip)
            if is_main(key, settings):
                cf = counterfactual_frame(structural, level)
            else:
                cf = counterfactual(fit, x, level)
            cf = cf.assign(observed=y, event=name, measure=key)
            series_out.append(cf.rename_axis("date").reset_index())
            tables["placebo"] += [{"event": name, "measure": key, **r} for r in rows]
            _placebo_entries(cat, key, label, event, rows, real, settings["placebo_window_days"])
            tables["displacement"] += [
                {"event": name, "measure": key, "lost": lost, **r} for r in displaced
            ]
            displacement_entries(cat, key, label, event, displaced, lost, settings, level)
            if truth_daily is not None and TRUTH_COLUMNS[column] in truth_daily:
                checks += _truth_checks(
                    truth_daily, series, event, skip, settings, level, key, cat, calib
                )
        summary.update(cat.items)
    if checks:
        summary.update(_check_entries(checks))
    tables["checks"] = checks
    forecasts = tables.pop("forecasts")
    series = pd.concat(series_out, ignore_index=True) if series_out else pd.DataFrame()
    forecasts = pd.concat(forecasts, ignore_index=True) if forecasts else pd.DataFrame()
    return {"summary": summary, "tables": tables, "series": series, "forecasts": forecasts}


def _calibration_entries(cat, key, label, calib):
    parts = {
        "placebo_rms_z": "Root mean square of the placebo z-statistics",
        "null_placebo_rms_z": "The same on series simulated from the fitted AR(1) model",
        "null_main_rms_z": "Root mean square of the main fit's z-statistic on those series",
    }
    for name, text in parts.items():
        for suffix, _, term in CALIBRATED_TERMS:
            if calib[name + suffix] is not None:
                cat.add(
                    f"{key}_{name}{suffix}",
                    calib[name + suffix],
                    "ratio",
                    f"{text}, {term} change ({label})",
                )


def _placebo_entries(cat, key, label, event, rows, real, half_window):
    if not rows:
        return
    estimates = np.array([r["estimate"] for r in rows])
    false_pos = np.mean([not (r["ci_low"] <= 0 <= r["ci_high"]) for r in rows])
    cat.add(
        f"{key}_placebos",
        len(rows),
        "count",
        f"Placebo dates (no event within {half_window} days) fitted for {label}",
    )
    cat.add(
        f"{key}_placebo_false_positive_share",
        float(false_pos),
        "share",
        f"Share of placebo dates whose 95% interval for {label} excludes zero (nominal: 5%)",
    )
    larger = int(np.sum(np.abs(estimates) >= abs(real[0])))
    cat.add(
        f"{key}_placebo_p",
        (larger + 1) / (len(estimates) + 1),
        "share",
        f"Empirical p-value of the effect on {label} at {event['label']}: (placebo effects at "
        "least as large + 1) / (placebo dates + 1)",
    )
    cat.add(
        f"{key}_change_pct_0d_placebo_window",
        real[0],
        "percent",
        f"Change of {label} at {event['label']} with the placebo window ({half_window} days)",
        (real[1], real[2]),
    )
    cat.add(
        f"{key}_placebo_abs_p95",
        float(np.quantile(np.abs(estimates), 0.95)),
        "percent",
        f"95th percentile of the absolute placebo effects on {label}",
    )
