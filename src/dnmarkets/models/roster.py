"""Landscape of a one-pass dataset (a roster of a market, each listing seen about once).

Repeated crawls give sales from feedback increments (dnmarkets.panels); a single
pass cannot. Where the market shows a per-listing sales counter with its start
(AlphaBay 2017: `580 sold since Dec 9, 2015`), the counter gives a sales rate:

    listing's sales per day = sold_count x price_usd / days from sold_since to the crawl

summed over drug listings, leaving out listings whose title says they are not
for sale now (`restock soon`, `sold out`, `out of stock`, `placeholder`, `do not
buy`): vendors park such listings at prices like USD 99,999, which times the
counter of their past sales would dominate the sum. It assumes the current
price held since the start (prices drift; read it as an order of magnitude) and counts
only listings alive at the pass: a lower bound for the market, and lower still
where categories were cut off by the site's page limit.

Vendor concentration: the share of distinct listings held by the top 10% of
vendors (by listings). Both intervals resample vendors (clusters), as
:mod:`dnmarkets.models.intervals` does for shares.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from dnmarkets.core.summary import entry
from dnmarkets.models.intervals import bootstrap_top_shares, cluster_bootstrap_ratio

# the clean listing columns this module reads (sold_* only where the source has them)
ROSTER_COLUMNS = [
    "market",
    "listing_id",
    "crawl_date",
    "title",
    "vendor_key",
    "is_drug",
    "price_usd",
]
COUNTER_COLUMNS = ["sold_count", "sold_since"]
TOP_VENDOR_SHARE = 0.10
NOT_FOR_SALE = re.compile(
    r"restock|sold out|out of stock|placeholder|do not (?:buy|order)|don'?t (?:buy|order)",
    re.IGNORECASE,
)


def first_sightings(listings: pd.DataFrame) -> pd.DataFrame:
    """One row per (market, listing): its first sighting."""
    ordered = listings.sort_values(["market", "listing_id", "crawl_date"], kind="stable")
    return ordered.drop_duplicates(["market", "listing_id"], keep="first").reset_index(drop=True)


def top_share(counts: np.ndarray, top: float = TOP_VENDOR_SHARE) -> float:
    """Share of the total held by the largest ceil(top x n) entries."""
    counts = np.sort(np.asarray(counts, dtype=float))[::-1]
    if counts.sum() <= 0:
        return float("nan")
    k = max(1, math.ceil(top * len(counts)))
    return float(counts[:k].sum() / counts.sum())


def counter_sales_per_day(items: pd.DataFrame) -> pd.Series:
    """USD per day of each listing from its sold-since counter (NaN without one)."""
    since = pd.to_datetime(items["sold_since"], errors="coerce")
    crawl = pd.to_datetime(items["crawl_date"])
    days = ((crawl - since).dt.days).clip(lower=1)
    sold = pd.to_numeric(items["sold_count"], errors="coerce").astype("float64")
    return sold * items["price_usd"].astype("float64") / days


def _concentration_entry(items: pd.DataFrame, boot: dict, pct: int) -> dict:
    per_vendor = items.groupby("vendor_key", sort=True).size().to_numpy()
    # bootstrap_vendors(per_vendor, top_share) without a sort per replicate
    k = max(1, math.ceil(TOP_VENDOR_SHARE * len(per_vendor)))
    ((low, high),) = bootstrap_top_shares(per_vendor, [k], **boot)
    return entry(
        top_share(per_vendor),
        "share",
        f"Share of distinct listings offered by the top {TOP_VENDOR_SHARE:.0%} of vendors "
        f"(by listings; {pct}% CI, bootstrap by vendor)",
        (low, high),
    )


def _counter_entries(drugs: pd.DataFrame, boot: dict, pct: int) -> dict:
    parked = drugs["title"].str.contains(NOT_FOR_SALE).fillna(False).to_numpy(dtype=bool)
    drugs = drugs[~parked]
    rate = counter_sales_per_day(drugs)
    usable = rate.notna()
    per_vendor = rate[usable].groupby(drugs.loc[usable, "vendor_key"], sort=True).sum()
    n = len(per_vendor)
    mean, low, high = cluster_bootstrap_ratio(per_vendor.to_numpy(), np.ones(n), **boot)
    cumulative = pd.to_numeric(drugs["sold_count"], errors="coerce") * drugs["price_usd"]
    return {
        "counter_parked_listings": entry(
            int(parked.sum()),
            "count",
            "Drug listings left out of the counter sales as not for sale now (title)",
        ),
        "counter_listings_share": entry(
            usable.mean() if len(drugs) else float("nan"),
            "share",
            "Share of drug listings with a usable sold-since counter",
        ),
        "est_drug_sales_usd_per_day": entry(
            mean * n,
            "usd",
            "Estimated drug sales per day from the sold-since counters (sold x current "
            f"price / days since the listing started; a lower bound; {pct}% CI, bootstrap "
            "by vendor)",
            (low * n, high * n),
        ),
        "est_drug_sales_usd_since_start": entry(
            cumulative.sum(),
            "usd",
            "Drug sales since the listings started (sold x current price), a lower bound",
        ),
    }


def roster_estimates(listings: pd.DataFrame, boot: dict) -> dict:
    """Summary entries of a one-pass dataset: vendor concentration, and the sales
    estimate from sold-since counters where the listings have them."""
    items = first_sightings(listings)
    pct = int(round(boot["level"] * 100))
    summary = {"top_vendor_listing_share": _concentration_entry(items, boot, pct)}
    if set(COUNTER_COLUMNS) <= set(items.columns):
        summary.update(_counter_entries(items[items["is_drug"]], boot, pct))
    return summary
