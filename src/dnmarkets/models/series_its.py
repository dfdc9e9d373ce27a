"""Interrupted time series on real daily series (sales by market, forum posts).

The series of a `series` dataset (dnmarkets.sources.series) are not crawls: a
derived table gives each market's number per day, so there is no coverage to
correct and no other market in the same table to sum. Each market's series is
fitted on its own at each configured event it covers, with the project's
segmented regression (dnmarkets.models.its: trend, level and slope change,
day-of-week effects, the event's transition days left out) and the same
placebo calibration as the ecosystem ITS (dnmarkets.models.resilience.calibration):

- sales in USD per day: log scale, AR(1) errors (the main ITS); OLS with
  Newey-West errors next to it;
- counts (forum posts per day): a negative binomial GLM with the same terms,
  its dispersion estimated by maximum likelihood, and Newey-West errors for the
  autocorrelation. It is the main estimate here because the counts before the
  event are small (one or two posts a day, many days without any): the log model
  must drop the zero days, which biases the level before the event upwards and so
  the change downwards. The log AR(1) model is reported next to it.

A market whose series has too few days with data on one side of the event gets
no percent change (it is not defined against a baseline near zero) but its level
change in units per day, on the data scale with the zero days kept.

Markets closed by the event give the size of what was lost: their mean daily
value in the `LOST_DAYS` days before the event (or before their series ends, if
it ends earlier), with a Newey-West interval of the mean; the open markets'
gains `displacement_horizon_days` after the event are set against it.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from dnmarkets.core.summary import entry
from dnmarkets.models.its import (
    SegmentedFit,
    counterfactual,
    design,
    effect_at,
    inflated,
    linear_combination,
)
from dnmarkets.models.resilience import (
    MIN_DAYS_EACH_SIDE,
    calibration,
    main_fit,
    placebo_dates,
    placebo_fits,
    skip_for,
)
from dnmarkets.sources.series import daily

MEASURE_WORDS = {"sales_usd": "sales (USD per day)", "posts": "forum posts per day"}
LOST_DAYS = 56  # the closed markets' activity "lost": their mean over 8 weeks
_NO_MARKETS = pd.DataFrame({"market": [], "date": [], "observed": pd.Series([], dtype=bool)})


def trimmed(series: pd.DataFrame, spec: dict) -> pd.Series:
    """One file's measure by day, zero-filled where configured, its last `edge_days`
    days left out (derived series tail off at their end)."""
    out = daily(series, spec["market"], spec["measure_name"], spec.get("fill_zero", False))
    if spec.get("edge_days", 0) and len(out):
        out = out[out.index <= out.index.max() - pd.Timedelta(days=spec["edge_days"])]
    return out


def windowed(y: pd.Series, event: dict, window_days: int, skip: tuple[int, int]) -> pd.Series:
    """The window around the event with zero days kept, transition days left out."""
    day = pd.Timestamp(event["date"])
    inside = (y.index >= day - pd.Timedelta(days=window_days)) & (
        y.index < day + pd.Timedelta(days=window_days)
    )
    gap = (y.index >= day - pd.Timedelta(days=skip[0])) & (
        y.index < day + pd.Timedelta(days=skip[1])
    )
    return y[inside & ~gap].astype(float)


def negbin_alpha(y: np.ndarray, x: pd.DataFrame) -> float:
    """Dispersion of a negative binomial (NB2) regression by maximum likelihood."""
    res = sm.NegativeBinomial(y, x, loglike_method="nb2").fit(disp=0, maxiter=200)
    return float(res.params.iloc[-1])


def fit_negbin(y: pd.Series, event_date: str, hac_lags: int, alpha: float | None = None):
    """Negative binomial GLM (log link) of daily counts on the segmented terms, with
    Newey-West errors; `alpha` (the dispersion) estimated when not given. (fit, alpha)."""
    x = design(y.index, pd.Timestamp(event_date), True)
    counts = np.round(y.to_numpy(dtype=float))
    if alpha is None:
        alpha = negbin_alpha(counts, x)
    family = sm.families.NegativeBinomial(alpha=alpha)
    res = sm.GLM(counts, x, family=family).fit(
        cov_type="HAC", cov_kwds={"maxlags": hac_lags}, maxiter=200
    )
    return SegmentedFit(res.params, res.cov_params(), list(x.columns), res.df_resid, res), alpha


def negbin_placebos(series, dates, half_window, hac_lags, alpha, level) -> list[dict]:
    """The negative binomial fit at each placebo date (z of its level and slope changes)."""
    rows = []
    for day in dates:
        y = windowed(series, {"date": str(day.date())}, half_window, (0, 0))
        if (y[y.index < day] > 0).sum() < 14 or (y[y.index >= day] > 0).sum() < 14:
            continue
        fit, _ = fit_negbin(y, str(day.date()), hac_lags, alpha)
        est, low, high = effect_at(fit, 0, level)
        z = {c: float(fit.params[t] / np.sqrt(fit.cov.loc[t, t])) for c, t in _Z_TERMS}
        rows.append({"date": str(day.date()), "estimate": est, "ci_low": low, "ci_high": high, **z})
    return rows


_Z_TERMS = (("z", "level"), ("z_slope", "slope"))


def _negbin_fitters(y_main, series, event, dates, settings, alpha, level):
    """Null series for the calibration: independent negative binomial counts with the
    main window's mean and the fitted dispersion (what the model describes exactly)."""
    mean = float(y_main.mean())
    n = 1.0 / alpha

    def simulate(rng):
        return pd.Series(rng.negative_binomial(n, n / (n + mean), len(series)), index=series.index)

    def fit_main(sim):
        y = windowed(sim, event, settings["window_days"], _skip(event, settings))
        return fit_negbin(y, event["date"], settings["hac_lags"], alpha)[0]

    def fit_placebos(sim):
        return negbin_placebos(
            sim, dates, settings["placebo_window_days"], settings["hac_lags"], alpha, level
        )

    return simulate, fit_main, fit_placebos


def _skip(event: dict, settings: dict) -> tuple[int, int]:
    return skip_for(event, settings["transition_buffer_days"])


def mean_with_interval(y: pd.Series, lags: int, level: float) -> tuple[float, float, float]:
    """Mean of a series with a Newey-West interval (the days are autocorrelated)."""
    lags = max(0, min(lags, len(y) // 4))
    res = sm.OLS(y.to_numpy(dtype=float), np.ones(len(y))).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags}
    )
    z = stats.norm.ppf(0.5 + level / 2)
    mean, se = float(res.params[0]), float(res.bse[0])
    return mean, mean - z * se, mean + z * se


def covers(y: pd.Series, event: dict, settings: dict) -> bool:
    """At least MIN_DAYS_EACH_SIDE days with a positive value on each side of the event."""
    day = pd.Timestamp(event["date"])
    after = day + pd.Timedelta(days=_skip(event, settings)[1])
    half = pd.Timedelta(days=settings["window_days"])
    positive = y[y > 0]
    before = ((positive.index < day) & (positive.index >= day - half)).sum()
    later = ((positive.index >= after) & (positive.index < day + half)).sum()
    return bool(before >= MIN_DAYS_EACH_SIDE and later >= MIN_DAYS_EACH_SIDE)


def spans(y: pd.Series, event: dict, settings: dict) -> bool:
    """Days (zero or not) on both sides of the event, enough for a data-scale fit."""
    w = windowed(y, event, settings["window_days"], _skip(event, settings))
    day = pd.Timestamp(event["date"])
    return bool(
        (w.index < day).sum() >= MIN_DAYS_EACH_SIDE and (w.index >= day).sum() >= MIN_DAYS_EACH_SIDE
    )


def level_change(y: pd.Series, event: dict, settings: dict, horizon: int, level: float):
    """Change in units per day `horizon` days after the event, on the data scale with
    zero days kept (segmented regression, AR(1) errors): (estimate, low, high), fit, x."""
    w = windowed(y, event, settings["window_days"], _skip(event, settings))
    x = design(w.index, pd.Timestamp(event["date"]), True)
    glsar = sm.GLSAR(w.to_numpy(), x.to_numpy(), rho=1)
    res = glsar.iterative_fit(maxiter=20)
    fit = SegmentedFit(res.params, res.cov_params(), list(x.columns), res.df_resid, res)
    return linear_combination(fit, {"level": 1.0, "slope": float(horizon)}, level), fit, x, w


class _Entries:
    """Summary entries `<key>_<quantity>.<event>` of one dataset."""

    def __init__(self, level: float):
        self.items, self.pct = {}, int(round(level * 100))

    def add(self, name, event, value, unit, description, ci=None):
        self.items[f"{name}.{event}"] = entry(value, unit, description, ci)


def _placebo_entries(out, key, name, label, ev, rows, real, horizon_label):
    if not rows:
        return
    estimates = np.array([r["estimate"] for r in rows])
    out.add(f"{key}_placebos", name, len(rows), "count", f"Placebo dates fitted for {label}")
    false_pos = float(np.mean([not (r["ci_low"] <= 0 <= r["ci_high"]) for r in rows]))
    out.add(
        f"{key}_placebo_false_positive_share",
        name,
        false_pos,
        "share",
        f"Share of placebo dates whose model interval for {label} excludes zero (nominal 5%)",
    )
    larger = int(np.sum(np.abs(estimates) >= abs(real)))
    out.add(
        f"{key}_placebo_p",
        name,
        (larger + 1) / (len(estimates) + 1),
        "share",
        f"Empirical p-value of the change of {label} at {ev['label']} {horizon_label}: "
        "(placebo changes at least as large + 1) / (placebo dates + 1)",
    )


def _main_fits(y, ev, dates, settings, level, counts, seed):
    """The main fit (negative binomial for counts, log AR(1) otherwise), its placebo
    fits and calibration, and a comparison fit of the other kind."""
    if counts:
        w = windowed(y, ev, settings["window_days"], _skip(ev, settings))
        fit, alpha = fit_negbin(w, ev["date"], settings["hac_lags"])
        rows = negbin_placebos(
            y, dates, settings["placebo_window_days"], settings["hac_lags"], alpha, level
        )
        fitters = _negbin_fitters(w, y, ev, dates, settings, alpha, level)
        calib = calibration(fit, y, ev, dates, rows, settings, level, seed, fitters)
        x = design(w.index, pd.Timestamp(ev["date"]), True)
        other = (
            "log_ar1",
            "a log-scale segmented regression with AR(1) errors (zero days "
            "left out), the model's own interval",
            main_fit(y, ev, settings)[0],
        )
        return fit, w, x, rows, calib, other, {"alpha": alpha}
    fit, w, x = main_fit(y, ev, settings)
    rows = placebo_fits(y, dates, settings["placebo_window_days"], level)
    calib = calibration(fit, y, ev, dates, rows, settings, level, seed)
    other = ("hac", "OLS with Newey-West (HAC) errors", main_fit(y, ev, settings, "hac")[0])
    return fit, w, x, rows, calib, other, {"ar1_rho": fit.rho}


def _its_entries(out, key, name, label, ev, y, dates, settings, level, counts, seed):
    """The calibrated change at each horizon and its checks; the figure's frame."""
    model_fit, w, x, rows, calib, other, extra = _main_fits(
        y, ev, dates, settings, level, counts, seed
    )
    fit = inflated(model_fit, calib["factor"], calib["factor_slope"])
    kind = "negative binomial GLM, Newey-West errors" if counts else "log scale, AR(1) errors"
    calibrated = (
        "placebo-calibrated" if max(calib["factor"], calib["factor_slope"]) > 1 else "model"
    )
    for days in settings["horizons"]:
        est, low, high = effect_at(fit, days, level)
        out.add(
            f"{key}_change_pct_{days}d",
            name,
            est,
            "percent",
            f"Change of {label} {days} days after {ev['label']} vs the pre-event trend "
            f"({out.pct}% CI, segmented regression, {kind}, {calibrated} interval)",
            (low, high),
        )
        est, low, high = effect_at(model_fit, days, level)
        out.add(
            f"{key}_change_pct_{days}d_model",
            name,
            est,
            "percent",
            f"As {key}_change_pct_{days}d, with the model's own interval (not calibrated)",
            (low, high),
        )
    for suffix, term in (("", "level"), ("_slope", "slope")):
        out.add(
            f"{key}_se_inflation{suffix}",
            name,
            calib[f"factor{suffix}"],
            "ratio",
            f"Factor applied to the model's standard error of the {term} change of {label} "
            "(placebo dates' excess z-statistics over series simulated from the model)",
        )
    for what, value in extra.items():
        out.add(f"{key}_{what}", name, value, "ratio", f"Fitted {what} of the model of {label}")
    tag, text, other_fit = other
    est, low, high = effect_at(other_fit, 0, level)
    out.add(
        f"{key}_change_pct_0d_{tag}",
        name,
        est,
        "percent",
        f"As {key}_change_pct_0d, from {text} (comparison)",
        (low, high),
    )
    real = effect_at(model_fit, 0, level)[0]
    _placebo_entries(out, key, name, label, ev, rows, real, "(main window)")
    cf = counterfactual(fit, x, level).assign(observed=w)
    return cf, rows


def _lost(out, key, name, label, ev, y, settings, level) -> float | None:
    """A closed market's mean per day in the LOST_DAYS days before the event or before
    its series ends, whichever is earlier."""
    end = min(pd.Timestamp(ev["date"]), y.index.max() + pd.Timedelta(days=1))
    before = y[(y.index < end) & (y.index >= end - pd.Timedelta(days=LOST_DAYS))]
    if len(before) < 4:
        return None
    est, low, high = mean_with_interval(before, settings["hac_lags"], level)
    gap = (pd.Timestamp(ev["date"]) - end).days
    out.add(
        f"{key}_lost_per_day",
        name,
        est,
        "usd" if "usd" in key else "count",
        f"Mean {label} per day on a market closed by {ev['label']}, over the {LOST_DAYS} days "
        f"before {'the event' if gap == 0 else f'its series ends ({gap} days before the event)'}"
        f" ({len(before)} rows; {out.pct}% CI, Newey-West)",
        (low, high),
    )
    out.add(
        f"{key}_lost_gap_days",
        name,
        gap,
        "days",
        f"Days between the end of {label} and {ev['label']}",
    )
    return est


def _open_market(out, names, y, counts, settings, level, placebo_setup):
    """A market open at the event: the calibrated ITS where the series has data on both
    sides (else no percentage), and the level change `displacement_horizon_days` after
    the event on the data scale. (figure frame, placebo rows, (gain, low, high))."""
    key, name, label, ev = names
    all_events, seed = placebo_setup
    horizon = settings["displacement_horizon_days"]
    frame, rows = None, []
    if covers(y, ev, settings):
        dates = placebo_dates(
            y,
            all_events,
            _NO_MARKETS,
            settings["placebo_window_days"],
            settings["placebo_step_days"],
            0,
        )
        stream = [seed, zlib.crc32(f"{name}.{key}".encode())]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels' convergence chatter
            cf, rows = _its_entries(
                out, key, name, label, ev, y, dates, settings, level, counts, stream
            )
        frame = cf.rename_axis("date").reset_index()
    else:
        for days in settings["horizons"]:
            out.add(
                f"{key}_change_pct_{days}d",
                name,
                None,
                "percent",
                f"Change of {label} at {ev['label']}: not estimable as a percentage "
                f"(fewer than {MIN_DAYS_EACH_SIDE} days with a positive value on one "
                f"side of the event; see {key}_level_change_{horizon}d)",
            )
    (est, low, high), _, _, w = level_change(y, ev, settings, horizon, level)
    out.add(
        f"{key}_level_change_{horizon}d",
        name,
        est,
        "usd" if "usd" in key else "count",
        f"Change of {label} per day {horizon} days after {ev['label']} vs the pre-event "
        f"trend, data scale, zero days kept ({out.pct}% CI, AR(1) errors, model interval)",
        (low, high),
    )
    if frame is None:  # the figure shows the data without a model
        frame = w.rename("observed").rename_axis("date").reset_index()
    return frame, rows, (est, low, high)


def series_resilience(
    series: pd.DataFrame,
    spec: dict,
    events: dict,
    all_events: dict,
    settings: dict,
    level: float,
    seed: int,
) -> dict:
    """Summary entries, the fitted series for the figure, and the placebo table of one
    `series` dataset at each of its events. `events`: the events analysed in it;
    `all_events`: every configured event (placebo windows avoid them all)."""
    settings = {**settings, "transition_buffer_days": 0}  # no crawl interval to smear over
    out = _Entries(level)
    frames, placebo_rows = [], []
    names = {m["slug"]: m["name"] for m in spec["markets"]}
    several = len(names) > 1
    horizon = settings["displacement_horizon_days"]
    for name, event in sorted(events.items()):
        ev = {**event, "steps": (), "pre_skip_days": 0}
        lost, gains = 0.0, []
        for item in spec["series"]:
            measure = item.get("total") or item["measure"]
            key = f"{item['market']}_{measure}" if several else measure
            label = f"{names[item['market']]} {MEASURE_WORDS.get(measure, measure)}"
            y = trimmed(series, {**item, "measure_name": measure})
            tags = {"event": name, "key": key, "market": item["market"], "label": label}
            if item["market"] in event["markets_closed"]:
                lost += _lost(out, key, name, label, ev, y, settings, level) or 0.0
                before = windowed(y, ev, settings["window_days"], (0, 0))
                frames.append(
                    before.rename("observed").rename_axis("date").reset_index().assign(**tags)
                )
                continue
            if not spans(y, ev, settings):
                continue
            frame, rows, gain = _open_market(
                out,
                (key, name, label, ev),
                y,
                item.get("counts", False),
                settings,
                level,
                (all_events, seed),
            )
            frames.append(frame.assign(**tags))
            placebo_rows += [{"event": name, "key": key, **r} for r in rows]
            gains.append((key, *gain))
        if lost > 0:
            for key, est, low, high in gains:
                out.add(
                    f"{key}_absorbed_share_{horizon}d",
                    name,
                    est / lost,
                    "share",
                    f"{key}_level_change_{horizon}d over the closed markets' lost sales per day "
                    "(their level taken as known)",
                    (low / lost, high / lost),
                )
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return {"summary": out.items, "series": frame, "placebo": pd.DataFrame(placebo_rows)}
