"""Crawl completeness checked against independent measures of a market's size.

The pipeline's own coverage measure (rows a crawl saw / listings alive that day,
with presence from first to last sighting) comes from the crawls themselves. For
Agora two independent records exist: the number of listings the Grams search
engine reported per day, and the number of listing pages each crawl fetched.
Comparing them tells whether the coverage measure sorts good crawls from bad
ones, and how far the first-to-last-sighting counts track the market's size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from dnmarkets.core.summary import entry


def read_reference_counts(path, date_col: str, count_col: str) -> pd.DataFrame:
    """`date, count` from a CSV (column names stripped of spaces)."""
    frame = pd.read_csv(path, skipinitialspace=True)
    frame.columns = [c.strip() for c in frame.columns]
    out = pd.DataFrame(
        {
            "date": pd.to_datetime(frame[date_col]).dt.date,
            "count": pd.to_numeric(frame[count_col], errors="coerce"),
        }
    )
    return out.dropna().drop_duplicates("date", keep="last").reset_index(drop=True)


def crawl_table(
    market_day: pd.DataFrame, reference: pd.DataFrame, pages: pd.DataFrame | None
) -> pd.DataFrame:
    """One row per crawl day: rows seen, active listings, coverage, reference counts."""
    crawls = (
        market_day[market_day["crawled"]]
        .groupby("date", as_index=False)
        .agg(
            seen=("crawl_rows", "sum"),
            active=("active_listings", "sum"),
        )
    )
    crawls["coverage"] = (crawls["seen"] / crawls["active"].clip(lower=1)).clip(upper=1.0)
    table = crawls.merge(reference.rename(columns={"count": "reference"}), on="date", how="left")
    if pages is not None:
        table = table.merge(pages.rename(columns={"count": "pages"}), on="date", how="left")
    table["seen_over_reference"] = table["seen"] / table["reference"]
    table["active_over_reference"] = table["active"] / table["reference"]
    return table


def crawl_summary(table: pd.DataFrame, threshold: float, reference_label: str) -> dict:
    """Headline numbers: agreement of the coverage measure with the reference ratio."""
    both = table.dropna(subset=["reference"])
    rho = stats.spearmanr(both["coverage"], both["seen_over_reference"]).statistic
    summary = {
        "crawls_with_reference": entry(
            len(both), "count", f"Crawls on days with a {reference_label} count"
        ),
        "coverage_reference_spearman": entry(
            float(rho) if np.isfinite(rho) else None,
            "ratio",
            "Rank correlation between a crawl's coverage and its rows / the "
            f"{reference_label} count (1: the coverage measure ranks crawls as the reference)",
        ),
        "median_seen_over_reference": entry(
            float(both["seen_over_reference"].median()),
            "share",
            f"Median of rows seen by a crawl / {reference_label} listing count",
        ),
        "median_active_over_reference": entry(
            float(both["active_over_reference"].median()),
            "share",
            f"Median of active listings (first to last sighting) / {reference_label} count",
        ),
    }
    low = both["coverage"] < threshold
    if low.any() and (~low).any():
        summary["seen_over_reference_low_coverage"] = entry(
            float(both.loc[low, "seen_over_reference"].median()),
            "share",
            f"Median rows seen / {reference_label} count, crawls below the coverage threshold",
        )
    return summary
