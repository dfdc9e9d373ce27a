"""One-pass landscape (dnmarkets.models.roster) against planted truth."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from dnmarkets.models.intervals import bootstrap_vendors
from dnmarkets.models.roster import counter_sales_per_day, roster_estimates, top_share

BOOT = {"replicates": 400, "seed": 7, "level": 0.95}
CRAWL = dt.date(2017, 4, 20)


def _roster(per_vendor_listings: list[int], rate_usd: float = 10.0) -> pd.DataFrame:
    """Listings whose counters give exactly `rate_usd` per day each: sold 100 times
    at rate_usd over 100 days."""
    rows = []
    for v, n in enumerate(per_vendor_listings):
        for i in range(n):
            rows.append(
                {
                    "market": "m",
                    "listing_id": f"v{v}-{i}",
                    "crawl_date": CRAWL,
                    "title": f"item {i}",
                    "vendor_key": f"v{v}",
                    "is_drug": True,
                    "price_usd": rate_usd,
                    "sold_count": 100,
                    "sold_since": CRAWL - dt.timedelta(days=100),
                }
            )
    frame = pd.DataFrame(rows)
    frame["sold_count"] = frame["sold_count"].astype("Int64")
    return frame


def test_top_share_by_hand():
    # 21 vendors: the top 10% are ceil(2.1) = 3 vendors, holding 50 + 30 + 2 listings
    counts = np.array([50, 30, 2] + [1] * 18)
    assert top_share(counts) == pytest.approx((50 + 30 + 2) / 100)
    assert top_share(np.array([5])) == 1.0


def test_counter_sales_per_day_and_start_on_the_crawl_day():
    items = pd.DataFrame(
        {
            "crawl_date": [CRAWL, CRAWL, CRAWL],
            "sold_since": [CRAWL - dt.timedelta(days=10), CRAWL, None],
            "sold_count": pd.array([5, 2, 3], dtype="Int64"),
            "price_usd": [20.0, 7.0, 1.0],
        }
    )
    rate = counter_sales_per_day(items)
    assert rate.iloc[0] == pytest.approx(10.0)  # 5 x 20 / 10 days
    assert rate.iloc[1] == pytest.approx(14.0)  # started on the crawl day: one day
    assert np.isnan(rate.iloc[2])


def test_roster_estimates_recover_planted_rate_and_leave_parked_listings_out():
    frame = _roster([5] * 30, rate_usd=10.0)
    parked = frame.iloc[[0]].assign(
        listing_id="parked", title="LSD tab *Restock Soon*", price_usd=99999.0
    )
    summary = roster_estimates(pd.concat([frame, parked], ignore_index=True), BOOT)
    sales = summary["est_drug_sales_usd_per_day"]
    assert sales["value"] == pytest.approx(150 * 10.0)  # 150 listings x USD 10 a day
    assert sales["ci_low"] <= sales["value"] <= sales["ci_high"]
    assert summary["counter_parked_listings"]["value"] == 1
    # equal vendors: the top 10% (3 of 30) hold 10% of the listings (+ the parked one)
    share = summary["top_vendor_listing_share"]
    assert share["value"] == pytest.approx(16 / 151)


def test_without_counters_only_concentration():
    frame = _roster([3, 1, 1, 1]).drop(columns=["sold_count", "sold_since"])
    summary = roster_estimates(frame, BOOT)
    assert list(summary) == ["top_vendor_listing_share"]
    assert summary["top_vendor_listing_share"]["value"] == pytest.approx(0.5)


def test_bootstrap_vendors_matches_an_independent_loop():
    values = np.array([9, 1, 1, 1, 1, 2, 3, 1, 1, 5])
    low, high = bootstrap_vendors(values, np.mean, replicates=200, seed=3, level=0.9)
    rng = np.random.default_rng(3)
    stats = [values[rng.integers(0, 10, 10)].mean() for _ in range(200)]
    assert (low, high) == pytest.approx(tuple(np.quantile(stats, [0.05, 0.95])))


def test_top_shares_from_draw_counts_equal_a_sort_per_replicate():
    """bootstrap_top_shares equals bootstrap_vendors with top_share, counts and sales."""
    from dnmarkets.models.intervals import bootstrap_top_shares

    rng = np.random.default_rng(4)
    for values in (rng.integers(1, 40, 700), rng.lognormal(5, 2, 500), np.zeros(30)):
        ks = [max(1, math.ceil(t * len(values))) for t in (0.01, 0.1)]
        got = bootstrap_top_shares(values, ks, replicates=120, seed=6, level=0.9)
        expected = [
            bootstrap_vendors(
                values,
                lambda v, k=k: (
                    np.sort(v.astype(float))[::-1][:k].sum() / np.sort(v.astype(float))[::-1].sum()
                    if v.sum() > 0
                    else np.nan
                ),
                replicates=120,
                seed=6,
                level=0.9,
            )
            for k in ks
        ]
        assert np.array_equal(got, expected, equal_nan=True)
