"""Interrupted time series: how much the ecosystem shrank at a takedown.

Segmented regression of the log of a daily series (ecosystem-wide active
listings, say) on a trend, a level change and a slope change at the event,
with day-of-week effects. Daily activity is autocorrelated, so the errors are
modelled as AR(1) (feasible GLS, statsmodels GLSAR); Newey–West (HAC) errors on
OLS are the alternative. In simulations with persistent errors (tests/test_its.py)
the HAC interval of the level change covered the planted value in only ~82% of
series (the step regressor is as persistent as the errors), the AR(1) interval
in ~95%: AR(1) is the default, HAC is reported next to it. On the log scale,
the effect k days after the event is a percentage, 100 * (exp(level + slope * k)
- 1), with its interval from the same linear combination. The counterfactual is the pre-event trend
projected forward.

Window edges are trimmed: presence is counted from first to last sighting, so
the last days of a crawl series are undercounted (right-censoring) and the
first days likewise; `edge_days` days at both ends are left out.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.tools.sm_exceptions import ConvergenceWarning


def ecosystem_series(market_day: pd.DataFrame, measure: str, edge_days: int) -> pd.Series:
    """Daily sum of `measure` over markets, edges trimmed, indexed by date."""
    daily = market_day.groupby("date")[measure].sum().sort_index()
    daily.index = pd.to_datetime(daily.index)
    if edge_days > 0:
        daily = daily.iloc[edge_days:-edge_days]
    return daily


def design(
    dates: pd.DatetimeIndex, event: pd.Timestamp, day_of_week: bool, steps: tuple = ()
) -> pd.DataFrame:
    """Trend, level and slope change at the event, day-of-week effects, and a step at
    each other change of the ecosystem in the window (`steps`: a market opening or
    closing), so that the counterfactual keeps those and the event's effect excludes them.

    The calibration refits the same windows hundreds of times, so the matrices are
    kept (by the dates' bytes) and a copy handed out."""
    dates = pd.DatetimeIndex(dates)
    key = (dates.name, dates.freqstr, str(dates.dtype), dates.asi8.tobytes())
    key += (str(event), bool(day_of_week), tuple(steps))
    if key not in _DESIGNS:
        if len(_DESIGNS) >= 256:
            _DESIGNS.clear()
        _DESIGNS[key] = _design(dates, pd.Timestamp(event), day_of_week, steps)
    return _DESIGNS[key].copy()


_DESIGNS: dict = {}


def _design(
    dates: pd.DatetimeIndex, event: pd.Timestamp, day_of_week: bool, steps: tuple
) -> pd.DataFrame:
    t = (dates - dates[0]).days.to_numpy(dtype=float)
    t0 = float((event - dates[0]).days)
    post = (t >= t0).astype(float)
    x = pd.DataFrame(
        {"const": 1.0, "trend": t, "level": post, "slope": post * (t - t0)}, index=dates
    )
    for step in steps:
        step = pd.Timestamp(step)
        if dates[0] < step <= dates[-1]:
            x[f"step_{step:%Y%m%d}"] = (dates >= step).astype(float)
    if day_of_week:
        dow = pd.get_dummies(dates.day_of_week, prefix="dow", drop_first=True, dtype=float)
        x = pd.concat([x, dow.set_index(dates)], axis=1)
    return x


class SegmentedFit:
    """Coefficients and their covariance, by name, from either error model."""

    def __init__(self, params, cov, names, dof, model=None):
        self.params = pd.Series(np.asarray(params, dtype=float), index=names)
        self.cov = pd.DataFrame(np.asarray(cov, dtype=float), index=names, columns=names)
        self.dof = dof
        self.model = model  # the statsmodels results object
        self.rho = None  # AR(1) coefficient of the errors (AR(1) model only)

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        z = stats.norm.ppf(0.5 + level / 2)
        se = np.sqrt(np.diag(self.cov))
        return pd.DataFrame(
            {0: self.params - z * se, 1: self.params + z * se}, index=self.params.index
        )


def inflated(fit: SegmentedFit, factor: float, slope_factor: float | None = None) -> SegmentedFit:
    """The same fit with every standard error multiplied by `factor`, the slope change's
    by `slope_factor` (default: `factor`), correlations kept: an interval calibrated by
    an outside estimate of the model's error. The effect `days` after the event
    (level + days x slope) is thus widened by the level's factor at the event and more
    and more by the slope's later on."""
    scale = pd.Series(float(factor), index=fit.params.index)
    if slope_factor is not None and "slope" in scale.index:
        scale["slope"] = float(slope_factor)
    cov = fit.cov * np.outer(scale, scale)
    out = SegmentedFit(fit.params, cov, list(fit.params.index), fit.dof, fit.model)
    out.rho = fit.rho
    return out


def window(
    series: pd.Series, event: str, window_days: int, skip_days: tuple[int, int] = (0, 0)
) -> pd.Series:
    """The series `window_days` before and after the event, without the skipped
    transition days (e.g. Hansa closing 15 days after AlphaBay) and zero days."""
    event_ts = pd.Timestamp(event)
    lo, hi = event_ts - pd.Timedelta(days=window_days), event_ts + pd.Timedelta(days=window_days)
    y = series[(series.index >= lo) & (series.index < hi)]
    y = y[y > 0]
    if skip_days != (0, 0):
        gap = (y.index >= event_ts - pd.Timedelta(days=skip_days[0])) & (
            y.index < event_ts + pd.Timedelta(days=skip_days[1])
        )
        y = y[~gap]
    return y


def fit_segmented(
    series: pd.Series,
    event: str,
    window_days: int,
    hac_lags: int = 14,
    day_of_week: bool = True,
    skip_days: tuple[int, int] = (0, 0),
    errors: str = "ar1",
    steps: tuple = (),
):
    """Segmented regression of log(series); errors "ar1" (GLSAR) or "hac" (OLS + Newey–West).

    Returns (fit, y, x)."""
    y = window(series, event, window_days, skip_days)
    x = design(y.index, pd.Timestamp(event), day_of_week, steps)
    log_y = np.log(y.to_numpy(dtype=float))
    names = list(x.columns)
    if errors == "hac":
        res = sm.OLS(log_y, x).fit(cov_type="HAC", cov_kwds={"maxlags": hac_lags})
        fit = SegmentedFit(res.params, res.cov_params(), names, res.df_resid, res)
    elif errors == "ar1":
        glsar = sm.GLSAR(log_y, x.to_numpy(), rho=1)
        res = glsar.iterative_fit(maxiter=20)
        fit = SegmentedFit(res.params, res.cov_params(), names, res.df_resid, res)
        fit.rho = float(np.atleast_1d(glsar.rho)[0])
    else:
        raise ValueError(f"errors must be 'ar1' or 'hac', not {errors!r}")
    return fit, y, x


def _effect_weights(fit: SegmentedFit, days: int) -> pd.Series:
    # the log effect `days` after the event: level change + days x slope change
    weights = pd.Series(0.0, index=fit.params.index)
    weights["level"] = 1.0
    weights["slope"] = float(days)
    return weights


def effect_se(fit: SegmentedFit, days: int) -> float:
    """Standard error of the log effect `days` after the event."""
    weights = _effect_weights(fit, days)
    return float(np.sqrt(weights @ fit.cov @ weights))


def effect_at(fit: SegmentedFit, days: int, level: float = 0.95) -> tuple[float, float, float]:
    """Percent change (estimate, low, high) `days` after the event vs the counterfactual."""
    estimate = float(_effect_weights(fit, days) @ fit.params)
    se = effect_se(fit, days)
    z = stats.norm.ppf(0.5 + level / 2)
    return tuple(100 * (np.exp(v) - 1) for v in (estimate, estimate - z * se, estimate + z * se))


def newey_west(x: np.ndarray, residuals: np.ndarray, lags: int) -> np.ndarray:
    """Newey–West covariance of OLS coefficients (Bartlett kernel), written out in full
    as an independent check of statsmodels' HAC."""
    xtx_inv = np.linalg.inv(x.T @ x)
    scores = x * residuals[:, None]
    meat = scores.T @ scores
    for lag in range(1, lags + 1):
        weight = 1 - lag / (lags + 1)
        gamma = scores[lag:].T @ scores[:-lag]
        meat += weight * (gamma + gamma.T)
    return xtx_inv @ meat @ xtx_inv


def counterfactual(fit: SegmentedFit, x: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Fitted series and the counterfactual (no event) with its band, on the data scale."""
    x_cf = x.copy()
    x_cf[["level", "slope"]] = 0.0
    z = stats.norm.ppf(0.5 + level / 2)
    mean_cf = x_cf.to_numpy() @ fit.params.to_numpy()
    var_cf = np.einsum("ij,jk,ik->i", x_cf.to_numpy(), fit.cov.to_numpy(), x_cf.to_numpy())
    se_cf = np.sqrt(np.maximum(var_cf, 0))
    return pd.DataFrame(
        {
            "fitted": np.exp(x.to_numpy() @ fit.params.to_numpy()),
            "counterfactual": np.exp(mean_cf),
            "cf_low": np.exp(mean_cf - z * se_cf),
            "cf_high": np.exp(mean_cf + z * se_cf),
        },
        index=x.index,
    )


def linear_combination(fit: SegmentedFit, weights: dict, level: float = 0.95):
    """Estimate and interval of sum(weight * coefficient), on the model's scale."""
    w = pd.Series(0.0, index=fit.params.index)
    for name, value in weights.items():
        w[name] = value
    estimate = float(w @ fit.params)
    se = float(np.sqrt(max(w @ fit.cov @ w, 0.0)))
    z = stats.norm.ppf(0.5 + level / 2)
    return estimate, estimate - z * se, estimate + z * se


def fit_linear(series: pd.Series, event: str, window_days: int, skip_days=(0, 0), steps=()):
    """Segmented regression on the data scale (AR(1) errors): level change in units
    (vendors, listings), comparable with published absolute drops."""
    y = window(series, event, window_days, skip_days)
    x = design(y.index, pd.Timestamp(event), True, steps)
    glsar = sm.GLSAR(y.to_numpy(dtype=float), x.to_numpy(), rho=1)
    res = glsar.iterative_fit(maxiter=20)
    fit = SegmentedFit(res.params, res.cov_params(), list(x.columns), res.df_resid, res)
    fit.rho = float(np.atleast_1d(glsar.rho)[0])
    return fit, y, x


def fit_poisson(
    series: pd.Series, event: str, window_days: int, hac_lags: int, skip_days=(0, 0), steps=()
):
    """Count model: Poisson GLM (log link) of the daily counts with Newey–West errors,
    which also absorb overdispersion (quasi-Poisson)."""
    y = window(series, event, window_days, skip_days)
    x = design(y.index, pd.Timestamp(event), True, steps)
    res = sm.GLM(np.round(y.to_numpy(dtype=float)), x, family=sm.families.Poisson()).fit(
        cov_type="HAC", cov_kwds={"maxlags": hac_lags}
    )
    return SegmentedFit(res.params, res.cov_params(), list(x.columns), res.df_resid, res), y, x


def recovery_days(
    fit: SegmentedFit, horizon: int, draws: int, seed: int, level: float = 0.95
) -> dict:
    """Days after the event until the fitted path is back at the pre-event level (the
    model's value just before the event): level + (trend + slope) * k = 0 on the log scale.

    The interval comes from draws of the coefficients (their estimated normal
    distribution); draws that do not recover within `horizon` days count as later than
    the horizon. Returns estimate, low, high (None where beyond the horizon) and the
    share of draws recovered within the horizon."""

    def days(level_, growth):
        level_, growth = np.asarray(level_, float), np.asarray(growth, float)
        out = np.full(level_.shape, np.inf)
        out[level_ >= 0] = 0.0
        rising = (level_ < 0) & (growth > 0)
        out[rising] = -level_[rising] / growth[rising]
        return out

    p = fit.params
    estimate = float(days([p["level"]], [p["trend"] + p["slope"]])[0])
    names = ["level", "trend", "slope"]
    rng = np.random.default_rng(seed)
    sample = rng.multivariate_normal(
        p[names].to_numpy(), fit.cov.loc[names, names].to_numpy(), draws
    )
    k = days(sample[:, 0], sample[:, 1] + sample[:, 2])
    # beyond the horizon is all the same here; finite values keep the quantiles defined
    low, high = np.quantile(np.minimum(k, horizon + 1.0), [0.5 - level / 2, 0.5 + level / 2])

    def capped(v):
        return None if v > horizon else float(v)

    return {
        "estimate": capped(estimate),
        "low": capped(low),
        "high": capped(high),
        "recovered_share": float(np.mean(k <= horizon)),
    }


def forecast_effect(
    series: pd.Series,
    event: str,
    window_days: int,
    skip_days=(0, 0),
    days: int = 7,
    level: float = 0.95,
):
    """Second model family: an ARIMA(1,0,0) with linear trend and day-of-week effects,
    fitted by maximum likelihood (statsmodels) on the pre-event days only, forecast as
    the counterfactual; the effect is the mean log gap between observed and forecast
    over the first `days` post-event days, as a percentage. Its interval uses the
    forecast errors' AR(1) covariance (parameter uncertainty ignored, so it is a little
    narrow). Returns (estimate, low, high), the forecast frame and the AR coefficient."""
    y = window(series, event, window_days, skip_days)
    event_ts = pd.Timestamp(event)
    pre = np.log(y[y.index < event_ts].astype(float))
    post = np.log(y[y.index >= event_ts].astype(float))
    pre = pre.asfreq("D")  # a complete daily index (gaps become missing values)

    def dow(index):
        return pd.get_dummies(index.day_of_week, prefix="dow", dtype=float).set_index(index)[
            [f"dow_{d}" for d in range(1, 7)]
        ]

    fitted = sm.tsa.arima.ARIMA(pre, exog=dow(pre.index), order=(1, 0, 0), trend="ct").fit()
    horizon = pd.date_range(pre.index[-1] + pd.Timedelta(days=1), post.index.max(), freq="D")
    fc = fitted.get_forecast(len(horizon), exog=dow(horizon))
    mean, var = fc.predicted_mean.to_numpy(), fc.var_pred_mean.to_numpy()
    first = post.index[0]
    chosen = np.flatnonzero((horizon >= first) & (horizon < first + pd.Timedelta(days=days)))
    observed = post.reindex(horizon[chosen]).to_numpy()
    keep = ~np.isnan(observed)
    chosen, observed = chosen[keep], observed[keep]
    phi = float(fitted.params.get("ar.L1", 0.0))
    h = chosen[:, None]
    k = chosen[None, :]
    cov = phi ** np.abs(h - k) * var[np.minimum(h, k)]
    gap = float(np.mean(observed - mean[chosen]))
    se = float(np.sqrt(cov.sum()) / len(chosen))
    z = stats.norm.ppf(0.5 + level / 2)
    pct = tuple(100 * (np.exp(v) - 1) for v in (gap, gap - z * se, gap + z * se))
    frame = pd.DataFrame(
        {
            "forecast": np.exp(mean),
            "low": np.exp(mean - z * np.sqrt(var)),
            "high": np.exp(mean + z * np.sqrt(var)),
        },
        index=horizon,
    )
    return pct, frame, phi


def fit_local_level(
    series: pd.Series, event: str, window_days: int, skip_days=(0, 0), steps: tuple = ()
) -> tuple[SegmentedFit, pd.Series, pd.DataFrame]:
    """Structural time-series alternative (as CausalImpact's, without its priors): log(series)
    is a random-walk level plus noise, with the segmented regression's trend (the walk's
    drift), level and slope change, steps and day-of-week effects as regressors
    (statsmodels UnobservedComponents, variances by maximum likelihood, the regression
    coefficients in the state so that their covariance is the Kalman smoother's, exact
    given the variances). Missing and left-out days are missing observations of the
    walk. Returns (fit, y, x) as :func:`fit_segmented` does, without the constant."""
    y = window(series, event, window_days, skip_days)
    days = pd.date_range(y.index.min(), y.index.max(), freq="D")
    x = design(days, pd.Timestamp(event), True, steps).drop(columns=["const"])
    log_y = np.log(y.astype(float)).reindex(days)
    model = sm.tsa.UnobservedComponents(log_y, level="llevel", exog=x, mle_regression=False)
    with warnings.catch_warnings():
        # on a noise-free (true, simulated) series the noise variance goes to its bound of
        # zero, where the optimiser stops without its convergence flag; the coefficients
        # are the GLS ones at the variances found (tests/models/test_its_local_level.py)
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = model.fit(disp=False, maxiter=500)
    first = model.k_states - x.shape[1]  # the regression coefficients follow the level
    params = res.smoothed_state[first:, -1]
    cov = res.smoothed_state_cov[first:, first:, -1]
    return SegmentedFit(params, cov, list(x.columns), int(y.size - x.shape[1] - 1), res), y, x


def local_level_counterfactual(fit: SegmentedFit, x: pd.DataFrame, level: float = 0.95):
    """Fitted series and counterfactual (no event) of :func:`fit_local_level`, data scale:
    the smoothed level plus the regressors, with and without the level and slope change.
    The band is the interval of the change on each day around the counterfactual (zero
    width before the event): the smoother's covariances of the level in its first, diffuse
    days are not usable, the coefficients' at the end are (tests)."""
    res = fit.model
    first = res.model.k_states - x.shape[1]
    change = x[["level", "slope"]].to_numpy()
    fitted = res.smoothed_state[first - 1] + x.to_numpy() @ fit.params.to_numpy()
    mean_cf = fitted - change @ fit.params[["level", "slope"]].to_numpy()
    cov = fit.cov.loc[["level", "slope"], ["level", "slope"]].to_numpy()
    se_cf = np.sqrt(np.maximum(np.einsum("ti,ij,tj->t", change, cov, change), 0))
    z = stats.norm.ppf(0.5 + level / 2)
    return pd.DataFrame(
        {
            "fitted": np.exp(fitted),
            "counterfactual": np.exp(mean_cf),
            "cf_low": np.exp(mean_cf - z * se_cf),
            "cf_high": np.exp(mean_cf + z * se_cf),
        },
        index=x.index,
    )
