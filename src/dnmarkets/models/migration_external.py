"""Migration seen from a surviving market: newcomers matched to closed markets' vendors.

Real crawls of one market (Agora 2014-15) do not show the closed markets, so
displaced vendors cannot be followed. What they show is who *arrives*: the
vendors first seen on the surviving market in the `window_days` after an
event, and, from other sources' vendor lists (name matching only), how many of
them had sold on a market the event closed. The same share among the vendors
first seen in the `window_days` before the event is the baseline (newcomers
who happened to sell on those markets too); the difference is the excess
attributable to the event.

Every count is a **lower bound** of migration: vendors who changed their name
are missed, the other markets' vendor lists are themselves incomplete crawls,
and vendors already on the surviving market before the event (multi-homers)
are not newcomers.
"""

from __future__ import annotations

import math

import pandas as pd

from dnmarkets.clean.identity import identity_key, is_linkable_alias
from dnmarkets.core.summary import entry
from dnmarkets.models.intervals import wilson

DEFAULT_WINDOW = 90


def read_vendor_markets(path) -> tuple[pd.DataFrame, int]:
    """The derived vendor table (one row per vendor of the surviving market, with
    first/last date and 0/1 flags per other market); rows whose first date does
    not parse (shifted columns in the source) are dropped and counted."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    df = df.apply(lambda s: s.str.strip())
    df["first_seen"] = pd.to_datetime(df["date_min"], errors="coerce", format="%Y-%m-%d")
    bad = int(df["first_seen"].isna().sum())
    return df[df["first_seen"].notna()].reset_index(drop=True), bad


def read_name_list(path) -> set[str]:
    """Identity keys of a list of vendor names (one column `vendor`)."""
    names = pd.read_csv(path, dtype=str, keep_default_na=False)["vendor"]
    keys = {identity_key(n) for n in names}
    return {k for k in keys if is_linkable_alias(k, 4)}


def _flag(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").fillna(0) > 0


def newcomer_diff(k1: int, n1: int, k0: int, n0: int, level: float):
    """Difference of two shares with Newcombe's hybrid (Wilson) interval."""
    p1, l1, u1 = wilson(k1, n1, level)
    p0, l0, u0 = wilson(k0, n0, level)
    d = p1 - p0
    low = d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return d, low, high


def _seen_on_closed(
    vendors: pd.DataFrame,
    closed: list[str],
    flags: dict,
    near_flags: dict,
    listed: dict[str, pd.Series],
    after: pd.Series,
    before: pd.Series,
) -> tuple[pd.Series, pd.Series, list[dict]]:
    """Vendors seen on any closed market (exact; exact or near) and per market newcomer counts."""
    exact = pd.Series(False, index=vendors.index)
    near = pd.Series(False, index=vendors.index)
    rows = []
    for m in closed:
        hit = pd.Series(False, index=vendors.index)
        if m in flags:
            hit |= _flag(vendors[flags[m]])
        if m in listed:
            hit |= listed[m]
        near_m = hit | (_flag(vendors[near_flags[m]]) if m in near_flags else False)
        exact |= hit
        near |= near_m
        rows.append(
            {
                "market": m,
                "newcomers_after": int(after.sum()),
                "seen_after": int((hit & after).sum()),
                "newcomers_before": int(before.sum()),
                "seen_before": int((hit & before).sum()),
                "seen_after_near": int((near_m & after).sum()),
            }
        )
    return exact, near, rows


def arrivals(
    vendors: pd.DataFrame,
    events: dict,
    flags: dict,
    near_flags: dict,
    name_lists: dict[str, set[str]],
    level: float,
    window_days: int = DEFAULT_WINDOW,
) -> dict:
    """Catalogue entries per event: newcomers after (and before) the event and the
    share of them seen on a market the event closed."""
    pct = int(round(level * 100))
    summary, tables = {}, {}
    w = pd.Timedelta(days=window_days)
    keys = [identity_key(v) for v in vendors["vendor"]]
    listed = {
        m: pd.Series([k in names for k in keys], index=vendors.index)
        for m, names in name_lists.items()
    }
    first = vendors["first_seen"]
    data_start, data_end = first.min(), first.max()
    for name, ev in sorted(events.items()):
        closed = [m for m in ev["markets_closed"] if m in flags or m in listed]
        if not closed:
            continue
        start = pd.Timestamp(ev["date"])
        end = pd.Timestamp(ev.get("end_date") or ev["date"])
        if end + w > data_end or start - w < data_start:
            continue  # the window is not covered by the crawls
        after = (first > end) & (first <= end + w)
        before = (first >= start - w) & (first < start)
        exact, near, rows = _seen_on_closed(
            vendors, closed, flags, near_flags, listed, after, before
        )
        n1, n0 = int(after.sum()), int(before.sum())
        k1, k0 = int((exact & after).sum()), int((exact & before).sum())
        label, markets = ev["label"], ", ".join(closed)
        summary[f"newcomers.{name}"] = entry(
            n1, "count", f"Vendors first seen in the {window_days} days after {label}"
        )
        summary[f"newcomers_from_closed.{name}"] = entry(
            k1,
            "count",
            f"Of them, vendors whose name was seen on a market closed by {label} ({markets}; "
            "a lower bound: name matching only)",
        )
        est, low, high = wilson(k1, n1, level)
        summary[f"newcomers_from_closed_share.{name}"] = entry(
            est,
            "share",
            f"Share of newcomers in the {window_days} days after {label} whose name was seen on "
            f"a closed market ({markets}; {pct}% Wilson interval; a lower bound)",
            (low, high),
        )
        est, low, high = wilson(k0, n0, level)
        summary[f"newcomers_from_closed_share_before.{name}"] = entry(
            est,
            "share",
            f"The same share among vendors first seen in the {window_days} days before "
            f"{label} (baseline; {pct}% Wilson interval)",
            (low, high),
        )
        d, low, high = newcomer_diff(k1, n1, k0, n0, level)
        # a difference of two shares is no share: in percentage points, so that the
        # report neither prints it as a share nor words it as "a minority"
        summary[f"newcomers_from_closed_excess.{name}"] = entry(
            100 * d,
            "points",
            f"Excess share of newcomers from closed markets after {label} over the baseline "
            f"before it, percentage points ({pct}% Newcombe interval)",
            (100 * low, 100 * high),
        )
        k1n = int((near & after).sum())
        est, low, high = wilson(k1n, n1, level)
        summary[f"newcomers_from_closed_share_near.{name}"] = entry(
            est,
            "share",
            f"As newcomers_from_closed_share, counting near names (Hamming distance) too "
            f"({pct}% Wilson interval)",
            (low, high),
        )
        tables[name] = rows
    return {"summary": summary, "tables": tables}
