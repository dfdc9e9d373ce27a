"""Market resilience after an event: the ITS estimates for every measure and event.

For each configured event of a dataset, the ecosystem-wide daily series (sum
over markets) of active listings, active vendors and estimated sales are fitted
with the segmented regression of `dnmarkets.its` (AR(1) errors; HAC next to it),
and the effect is reported at the event, 30 and 90 days after. Where a ground
truth exists (simulated data), the same model fitted on the true daily series
gives the value the estimate should recover.
"""

from __future__ import annotations

import pandas as pd

from .its import counterfactual, ecosystem_series, effect_at, fit_segmented
from .landscape import entry

MEASURES = {
    "listings": ("active_listings", "active listings"),
    "vendors": ("active_vendors", "active vendors (per market, summed)"),
    "sales": ("est_sales_usd", "estimated sales (feedback x price)"),
}
HORIZONS = (0, 30, 90)
# what each measured series estimates in the simulator's true daily table
TRUTH_COLUMNS = {
    "active_listings": "active_listings",
    "active_vendors": "active_vendors",
    "est_sales_usd": "feedback_sales_usd",  # sales that leave feedback: what is measurable
}


MIN_DAYS_EACH_SIDE = 28


def enough_data(series: pd.Series, event: dict, days: int) -> bool:
    """At least `days` days with data before the event and after its last closure."""
    start = pd.Timestamp(event["date"])
    end = start + pd.Timedelta(days=skip_for(event)[1])
    positive = series[series > 0]
    return bool((positive.index < start).sum() >= days and (positive.index >= end).sum() >= days)


def skip_for(event: dict) -> tuple[int, int]:
    """Transition days left out after the event: until the last closure of a
    multi-day event (Hansa closed 15 days after AlphaBay was seized)."""
    if not event.get("end_date"):
        return (0, 0)
    days = (pd.Timestamp(event["end_date"]) - pd.Timestamp(event["date"])).days + 1
    return (0, days)


def resilience(
    market_day: pd.DataFrame,
    events: dict,
    settings: dict,
    level: float,
    truth_daily: pd.DataFrame | None = None,
) -> dict:
    """Catalogue entries `<quantity>.<event>` and the series for the figures."""
    summary, series_out, checks = {}, [], []
    for name, event in sorted(events.items()):
        for key, (column, label) in MEASURES.items():
            series = ecosystem_series(market_day, column, settings["edge_days"])
            if series.sum() <= 0:
                continue  # e.g. no sales where the source has no feedback counts
            if not enough_data(series, event, MIN_DAYS_EACH_SIDE):
                continue  # the crawls do not cover the event (e.g. a shortened period)
            fits = {}
            for errors in ("ar1", "hac"):
                fits[errors] = fit_segmented(
                    series,
                    event["date"],
                    settings["window_days"],
                    settings["hac_lags"],
                    skip_days=skip_for(event),
                    errors=errors,
                )
            fit, y, x = fits["ar1"]
            for days in HORIZONS:
                est, low, high = effect_at(fit, days, level)
                summary[f"{key}_change_pct_{days}d.{name}"] = entry(
                    est,
                    "percent",
                    f"Change of ecosystem {label} {days} days after {event['label']} vs the "
                    f"pre-event trend ({int(level * 100)}% CI, segmented regression, AR(1) errors)",
                    (low, high),
                )
            summary[f"{key}_ar1_rho.{name}"] = entry(
                fit.rho,
                "ratio",
                f"AR(1) coefficient of the model errors for {label} (near 1: the level far "
                "from the event is poorly determined and long-horizon intervals are wide)",
            )
            est, low, high = effect_at(fits["hac"][0], 0, level)
            summary[f"{key}_change_pct_0d_hac.{name}"] = entry(
                est,
                "percent",
                f"As {key}_change_pct_0d, with OLS and Newey-West (HAC) errors (comparison)",
                (low, high),
            )
            cf = counterfactual(fit, x, level).assign(observed=y, event=name, measure=key)
            series_out.append(cf.rename_axis("date").reset_index())
            truth_column = TRUTH_COLUMNS[column]
            if truth_daily is not None and truth_column in truth_daily:
                true_series = truth_daily.groupby("date")[truth_column].sum().sort_index()
                true_series.index = pd.to_datetime(true_series.index)
                true_series = true_series.loc[series.index.min() : series.index.max()]
                true_fit, _, _ = fit_segmented(
                    true_series,
                    event["date"],
                    settings["window_days"],
                    settings["hac_lags"],
                    skip_days=skip_for(event),
                )
                true_value = effect_at(true_fit, 0, level)[0]
                est0 = summary[f"{key}_change_pct_0d.{name}"]
                covered = est0["ci_low"] <= true_value <= est0["ci_high"]
                summary[f"{key}_change_pct_0d_true.{name}"] = entry(
                    true_value,
                    "percent",
                    f"The same model fitted on the true (simulated, uncrawled) {label}",
                )
                checks.append(
                    {
                        "event": name,
                        "measure": key,
                        "true": true_value,
                        "estimate": est0["value"],
                        "ci_low": est0["ci_low"],
                        "ci_high": est0["ci_high"],
                        "covered": covered,
                    }
                )
    if checks:
        summary["checks_covered"] = entry(
            sum(c["covered"] for c in checks),
            "count",
            f"Resilience estimates whose interval covers the truth (of {len(checks)})",
        )
        summary["checks"] = entry(len(checks), "count", "Resilience estimates checked")
    series = pd.concat(series_out, ignore_index=True) if series_out else pd.DataFrame()
    return {"summary": summary, "tables": {"checks": checks}, "series": series}
