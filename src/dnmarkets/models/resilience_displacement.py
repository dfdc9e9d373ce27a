"""Displacement after an event: each open market's gain against the activity lost on the
closed markets (part of dnmarkets.models.resilience)."""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from dnmarkets.models.its import fit_linear, linear_combination

MIN_DAYS_EACH_SIDE = 28
PRE_EVENT_DAYS = 28  # the closed markets' activity "lost": their mean over these days
UNITS = {"listings": "count", "vendors": "count", "sales": "usd"}


def displacement(market_day, event, column, settings, level, skip):
    """Each open market's change `horizon` days after the event (data scale, AR(1)),
    against the closed markets' mean activity in the days before the event."""
    event_ts = pd.Timestamp(event["date"])
    horizon = settings["displacement_horizon_days"]
    window_days = settings["window_days"]
    closed = set(event.get("markets_closed", []))
    lost, rows = 0.0, []
    have_closed = False
    for market, part in market_day.groupby("market", sort=True, observed=True):
        part = part.assign(date=pd.to_datetime(part["date"])).set_index("date").sort_index()
        series = part[column].where(part["observed"])
        if market in closed:
            before = series[
                (series.index < event_ts)
                & (series.index >= event_ts - pd.Timedelta(days=PRE_EVENT_DAYS))
            ]
            if before.notna().any():
                lost += float(before.mean())
                have_closed = True
            continue
        lo, hi = (
            event_ts - pd.Timedelta(days=window_days),
            event_ts + pd.Timedelta(days=window_days),
        )
        inside = series[(series.index >= lo) & (series.index < hi)]
        if inside.isna().any() or (inside <= 0).sum() > 0 or len(inside) < 2 * MIN_DAYS_EACH_SIDE:
            rows.append(
                {"market": market, "fitted": False, "note": "not observed over the whole window"}
            )
            continue
        fit, _, _ = fit_linear(inside.astype(float), event["date"], window_days, skip)
        gain, low, high = linear_combination(fit, {"level": 1.0, "slope": float(horizon)}, level)
        pre = inside[
            (inside.index < event_ts)
            & (inside.index >= event_ts - pd.Timedelta(days=PRE_EVENT_DAYS))
        ]
        rows.append(
            {
                "market": market,
                "fitted": True,
                "pre_event_mean": float(pre.mean()),
                "gain": gain,
                "gain_low": low,
                "gain_high": high,
                "gain_se": (high - low) / (2 * stats.norm.ppf(0.5 + level / 2)),
            }
        )
    for row in rows:
        if row["fitted"] and have_closed and lost > 0:
            row["share_of_lost"] = row["gain"] / lost
            row["share_low"] = row["gain_low"] / lost
            row["share_high"] = row["gain_high"] / lost
    return rows, (lost if have_closed else None)


def displacement_entries(cat, key, label, event, rows, lost, settings, level):
    fitted = [r for r in rows if r["fitted"]]
    horizon = settings["displacement_horizon_days"]
    if not fitted:
        return
    total = math.fsum(r["gain"] for r in fitted)
    se = math.sqrt(math.fsum(r["gain_se"] ** 2 for r in fitted))
    z = stats.norm.ppf(0.5 + level / 2)
    cat.add(
        f"{key}_open_markets_gain_{horizon}d",
        total,
        UNITS[key],
        f"Change of {label} on the open markets {horizon} days after {event['label']} vs "
        "their own pre-event trends, summed (data scale)",
        (total - z * se, total + z * se),
    )
    if lost:
        cat.add(
            f"{key}_lost_on_closed",
            lost,
            UNITS[key],
            f"Mean daily {label} on the closed markets in the {PRE_EVENT_DAYS} days before "
            f"{event['label']}",
        )
        cat.add(
            f"{key}_absorbed_share_{horizon}d",
            total / lost,
            "share",
            f"Share of the {label} lost on the closed markets regained by the open markets "
            f"{horizon} days after {event['label']} (closed markets' level taken as known)",
            ((total - z * se) / lost, (total + z * se) / lost),
        )
        top = max(fitted, key=lambda r: r["gain"])
        cat.add(
            f"{key}_top_absorber_share_{horizon}d",
            top["share_of_lost"],
            "share",
            f"Share of the lost {label} regained by the market that gained most ({top['market']})",
            (top["share_low"], top["share_high"]),
        )
