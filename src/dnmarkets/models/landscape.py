"""Market landscape: what is on offer, where it ships from, how complete the crawls are.

Shares are computed over distinct listings (not sightings), so a listing seen on
forty crawls counts once. Intervals come from a bootstrap that resamples
vendors (clusters), because listings of one vendor are not independent: they
share an origin country, a product line and a market.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dnmarkets.core.memory import release_freed_memory
from dnmarkets.core.summary import entry, plain_number
from dnmarkets.models.composition import (
    concentration,
    drug_share_rows_entry,
    fentanyl_flags,
    offer_entries,
    origin_entries,
    origin_groups,
)
from dnmarkets.models.intervals import bootstrap_settings, share_by_vendor
from dnmarkets.panels.build import feedback_sales
from dnmarkets.panels.sightings import first_sightings, listing_sales

# the columns distinct_listings reads
DISTINCT_LISTING_COLUMNS = [
    "market",
    "listing_id",
    "crawl_date",
    "vendor_key",
    "is_drug",
    "drug_category",
    "ships_from",
    "ships_from_region",
    "ships_from_eu",
    "feedback_count",
    "price_usd",
    # read for the composition of the shares (dnmarkets.models.composition), not kept
    "ships_from_raw",
    "title",
    "category_raw",
]


def distinct_listings(
    listings: pd.DataFrame, crawl_days: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per (market, listing) with its first sighting's attributes, sales, rows
    (sightings), origin group and whether it mentions fentanyl.

    `crawl_days`: panels.market_crawl_days of the whole table, when `listings` is a
    chunk of whole listings (dnmarkets.panels.sightings)."""
    ordered = listings.sort_values(["market", "listing_id", "crawl_date"], kind="stable")
    sales = feedback_sales(listings, ["market", "listing_id"], crawl_days)
    first = ordered.drop_duplicates(["market", "listing_id"], keep="first").set_index(
        ["market", "listing_id"]
    )
    first["sightings"] = ordered.groupby(["market", "listing_id"], sort=False).size()
    return distinct_listings_of(first.reset_index(), sales)


def distinct_listings_of(
    first: pd.DataFrame, sales: pd.Series, composition: bool = True
) -> pd.DataFrame:
    """distinct_listings from each listing's first sighting with its `sightings`
    (dnmarkets.panels.sightings.first_sightings) and its feedback sales per (market,
    listing_id) (listing_sales). Without `composition`, no origin group and fentanyl
    flag (the supply model reads neither)."""
    # keys as columns (no MultiIndex): at 100x scale, the MultiIndex of 4 M string
    # pairs and its reindex took 1.7 GB, the job's peak. The columns are not copied
    # (pandas' copy-on-write: a new column does not touch `first`): a copy was 0.6 GB
    # at 100x scale, at the job's peak
    first = first.reset_index(drop=True)
    out = first[
        [
            "market",
            "listing_id",
            "vendor_key",
            "is_drug",
            "drug_category",
            "ships_from",
            "ships_from_region",
            "ships_from_eu",
            "crawl_date",
        ]
    ]
    out["est_sales_usd"] = _sales_of(out, sales)
    out["sightings"] = first["sightings"].to_numpy()
    if composition:
        out["origin"] = origin_groups(first)
        if "mentions_fentanyl" in first:  # worked out batch by batch (landscape_items)
            out["mentions_fentanyl"] = first["mentions_fentanyl"].to_numpy()
        else:
            out["mentions_fentanyl"] = fentanyl_flags(first["title"], first["category_raw"])
    return out


def _sales_of(listings: pd.DataFrame, sales: pd.Series) -> np.ndarray:
    """`sales` per (market, listing_id) at the rows of `listings`, 0 where none. The
    pair as one string looked up in a hash set of the sales' keys: a pandas reindex
    or merge on the two string keys (and an Arrow join) took 1-2 GB at 100x scale."""
    sep = pa.scalar("\x1f", pa.large_string())  # in no market name or listing id

    def keys(market, listing) -> pa.Array:
        return pc.binary_join_element_wise(
            pa.array(market, pa.large_string()), pa.array(listing, pa.large_string()), sep
        )

    index = sales.index
    at = pc.index_in(
        keys(listings["market"], listings["listing_id"]),
        value_set=keys(index.get_level_values(0), index.get_level_values(1)),
    )
    found = at.is_valid().to_numpy(zero_copy_only=False)
    out = np.zeros(len(listings), dtype="float64")
    values = sales.to_numpy(dtype="float64")[at.drop_null().to_numpy()]
    out[found] = np.where(np.isnan(values), 0.0, values)  # fillna(0.0) of the reindex
    return out


# the first sighting's columns distinct_listings_of reads
FIRST_SIGHTING_COLUMNS = [
    c for c in DISTINCT_LISTING_COLUMNS if c not in ("feedback_count", "price_usd")
]


def landscape_items(path) -> pd.DataFrame:
    """distinct_listings of the clean listings at `path`, read out of core: each
    listing's first sighting by an aggregation (dnmarkets.panels.sightings.first_sightings),
    its sales from chunks of the columns they read (listing_sales)."""
    # the sales first: their result is small, and the first sightings' large one is
    # then not held while the sales' working memory peaks (at 100x scale, 0.3 GB less)
    sales = listing_sales(path)
    release_freed_memory()
    first = first_sightings(path, FIRST_SIGHTING_COLUMNS, reduce=_fentanyl_flagged)
    release_freed_memory()
    items = distinct_listings_of(first, sales)
    del first, sales
    release_freed_memory()  # the estimates' bootstraps come next (at 100x, +1 GB)
    return items


def _fentanyl_flagged(first: pa.Table) -> pa.Table:
    """A batch of first sightings with its titles and category paths replaced by
    their fentanyl flag (all else reads neither; at 100x scale they were gigabytes)."""
    texts = [first.column(name).to_pandas() for name in ("title", "category_raw")]
    flags = pa.array(fentanyl_flags(*texts), type=pa.bool_())
    return first.drop_columns(["title", "category_raw"]).append_column("mentions_fentanyl", flags)


def _listing_entries(items: pd.DataFrame, drugs: pd.DataFrame, boot: dict) -> dict:
    """Listings, vendors and markets observed; drug and EU shares of listings and sales."""
    pct = int(round(boot["level"] * 100))
    # only the columns read below: a filtered copy of every column was 0.35 GB at 100x
    known = drugs.loc[
        drugs["ships_from_eu"].notna(), ["vendor_key", "ships_from_eu", "est_sales_usd"]
    ]
    eu_flag = known["ships_from_eu"].astype(bool)

    drug_share = share_by_vendor(items, items["is_drug"], pd.Series(1.0, index=items.index), boot)
    eu_listings = share_by_vendor(known, eu_flag, pd.Series(1.0, index=known.index), boot)
    # Sales need feedback counts seen at two crawls; some sources have none.
    has_sales = bool(drugs["est_sales_usd"].sum() > 0)
    eu_sales = share_by_vendor(known, eu_flag, known["est_sales_usd"], boot) if has_sales else None

    summary = {
        "listings_total": entry(len(items), "count", "Distinct listings observed"),
        "vendors_total": entry(
            items["vendor_key"].nunique(),
            "count",
            "Distinct vendor aliases observed (per normalised alias)",
        ),
        "markets_observed": entry(
            items["market"].nunique(), "count", "Markets with at least one clean listing"
        ),
        "drug_share_listings": entry(
            drug_share[0],
            "share",
            f"Share of listings that offer drugs ({pct}% CI, bootstrap by vendor)",
            drug_share[1:],
        ),
        "eu_share_drug_listings": entry(
            eu_listings[0],
            "share",
            "Share of drug listings with a known origin shipped from an EU member state "
            f"({pct}% CI, bootstrap by vendor)",
            eu_listings[1:],
        ),
        "known_origin_share_drug_listings": entry(
            len(known) / max(len(drugs), 1),
            "share",
            "Share of drug listings whose ships-from names a single country or the EU",
        ),
    }
    summary.update(_leading_region_entries(drugs, boot))
    if has_sales:
        summary["eu_share_drug_sales"] = entry(
            eu_sales[0],
            "share",
            "Share of estimated drug sales (feedback x price) shipped from the EU "
            f"({pct}% CI, bootstrap by vendor)",
            eu_sales[1:],
        )
        summary["est_drug_sales_usd"] = entry(
            drugs["est_sales_usd"].sum(),
            "usd",
            "Estimated drug sales over the period (feedback x price, a lower bound)",
        )
    return summary


# ships-from values that name no region: left out of the leading region's denominator
_NO_REGION = ("Unknown", "Worldwide", "Multiple", "Europe (unspecified)")


def _leading_region_entries(drugs: pd.DataFrame, boot: dict) -> dict:
    """The ships-from region with the most drug listings, and its share of the drug
    listings whose origin names a region (bootstrap by vendor)."""
    region = drugs["ships_from_region"]
    named = drugs.loc[
        region.notna() & ~region.isin(_NO_REGION), ["vendor_key", "ships_from_region"]
    ]
    if named.empty:
        return {}
    counts = named["ships_from_region"].value_counts()
    # ties broken by name, so reruns agree
    leading = sorted(counts[counts == counts.max()].index)[0]
    flag = named["ships_from_region"] == leading
    share = share_by_vendor(named, flag, pd.Series(1.0, index=named.index), boot)
    pct = int(round(boot["level"] * 100))
    return {
        "leading_region": entry(leading, "text", "Ships-from region with the most drug listings"),
        "leading_region_share_drug_listings": entry(
            share[0],
            "share",
            f"Share of drug listings from the leading region ({leading}) among drug listings "
            f"whose origin names a region ({pct}% CI, bootstrap by vendor)",
            share[1:],
        ),
        "named_region_drug_listings": entry(
            len(named), "count", "Drug listings whose ships-from names a region"
        ),
    }


def _crawl_entries(market_day: pd.DataFrame, low_coverage_threshold: float) -> dict:
    """Median crawl coverage, the share of low-coverage crawls and the number of crawls."""
    crawls = market_day[market_day["crawled"]]
    coverage = crawls["coverage"].clip(upper=1.0)
    return {
        "median_crawl_coverage": entry(
            coverage.median(), "share", "Median share of alive listings seen by a crawl"
        ),
        "low_coverage_crawl_share": entry(
            (coverage < low_coverage_threshold).mean(),
            "share",
            f"Share of crawls that saw fewer than {low_coverage_threshold:.0%} of alive listings",
        ),
        "crawls": entry(
            len(crawls), "count", "Crawls (market-days with at least one clean listing)"
        ),
        # the data period, for the report's title page
        "first_crawl_day": entry(_day(crawls["date"].min()), "date", "Day of the first crawl"),
        "last_crawl_day": entry(_day(crawls["date"].max()), "date", "Day of the last crawl"),
    }


def _day(value) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _accounting_entries(accounting: pd.DataFrame) -> dict:
    """Raw, clean and quarantined rows, and the share quarantined."""
    raw = int(accounting["raw_rows"].sum())
    clean = int(accounting["clean_rows"].sum())
    quarantined = int(accounting["quarantined_rows"].sum())
    return {
        "raw_rows": entry(raw, "count", "Raw rows read from snapshot files"),
        "clean_rows": entry(clean, "count", "Rows in the clean tables"),
        "quarantined_rows": entry(
            quarantined, "count", "Rows set aside in quarantine with a reason"
        ),
        "quarantine_share": entry(
            quarantined / max(raw, 1), "share", "Share of raw rows quarantined"
        ),
    }


def landscape_estimates(
    listings: pd.DataFrame | None,
    market_day: pd.DataFrame,
    accounting: pd.DataFrame,
    quarantine: pd.DataFrame,
    analysis: dict,
    low_coverage_threshold: float,
    items: pd.DataFrame | None = None,
    markup: list[dict] | None = None,
    single_category: str | None = None,
) -> dict:
    """All landscape figures for one dataset: catalogue entries plus tables.

    Out of core, `listings` is None and `items` (distinct_listings) and `markup`
    (markup_titles) come from dnmarkets.panels.sightings. `single_category`: the dataset's
    `single_category` setting, for a scrape of one category (its shares are not market-wide)."""
    boot = bootstrap_settings(analysis)
    if items is None:
        items = distinct_listings(listings)
    if markup is None:
        markup = markup_titles(listings)
    drugs = items[items["is_drug"]]
    top_vendors, top_table = concentration(drugs, boot)
    summary = {
        **_listing_entries(items, drugs, boot),
        **_crawl_entries(market_day, low_coverage_threshold),
        **_accounting_entries(accounting),
        **origin_entries(drugs, boot),
        **drug_share_rows_entry(items, boot),
        **top_vendors,
        **offer_entries(drugs, boot),
    }
    if single_category:
        summary["single_category"] = entry(
            single_category,
            "text",
            "The one category the scrape covers: its shares describe that category, not the market",
        )
    return {
        "summary": summary,
        "tables": {
            "categories": _category_table(drugs),
            "regions": _region_table(drugs),
            "markets": _market_table(market_day, items, low_coverage_threshold),
            "accounting": _accounting_table(accounting),
            "quarantine_reasons": _quarantine_table(quarantine),
            "markup_titles": markup,
            "vendor_concentration": top_table,
        },
    }


# Markup in scraped titles, by kind; the report shows one example of each, as
# inert text, so a reader sees what the escaping (dnmarkets.report.mdtext) is for.
MARKUP_KINDS = [
    ("HTML", re.compile(r"<([a-zA-Z]+)[^>]*>")),
    ("Quarto shortcode", re.compile(r"\{\{<")),
    ("Markdown", re.compile(r"\]\(")),
    ("LaTeX", re.compile(r"\\[a-zA-Z]+\{")),
    ("Typst", re.compile(r"(?:^|\s)#(?:set|show|let|import)\b")),
]


# every MARKUP_KINDS pattern needs one of these: titles without any have no markup
MARKUP_MARKS = ["<", "](", "\\", "#"]


def markup_titles_of(batches: Iterable[list[str]]) -> list[dict]:
    """markup_titles of the distinct titles given in batches: only titles with markup
    count, so only they are kept."""
    kept: set[str] = set()
    for batch in batches:
        kept.update(t for t in batch if any(p.search(t) for _, p in MARKUP_KINDS))
    return markup_titles(pd.DataFrame({"title": pd.Series(sorted(kept), dtype=object)}))


def markup_titles(items: pd.DataFrame) -> list[dict]:
    """Distinct titles containing HTML, Markdown, shortcodes, LaTeX or Typst markup:
    per kind (per tag for HTML) the number of titles and the alphabetically first."""
    titles = sorted(items["title"].dropna().unique())
    found: dict[str, list[str]] = {}
    for kind, pattern in MARKUP_KINDS:
        for title in titles:
            m = pattern.search(title)
            if m:
                name = f"{kind} <{m.group(1).lower()}>" if m.groups() else kind
                found.setdefault(name, []).append(title)
    return [
        {"kind": kind, "titles": len(hits), "example": hits[0]}
        for kind, hits in sorted(found.items())
    ]


def _category_table(drugs: pd.DataFrame) -> list[dict]:
    table = drugs.groupby("drug_category").agg(
        listings=("listing_id", "size"),
        vendors=("vendor_key", "nunique"),
        est_sales_usd=("est_sales_usd", "sum"),
    )
    table["share_listings"] = table["listings"] / table["listings"].sum()
    return _records(table.sort_values("listings", ascending=False, kind="stable"))


def _region_table(drugs: pd.DataFrame) -> list[dict]:
    table = drugs.groupby("ships_from_region").agg(
        listings=("listing_id", "size"),
        vendors=("vendor_key", "nunique"),
        est_sales_usd=("est_sales_usd", "sum"),
    )
    table["share_listings"] = table["listings"] / table["listings"].sum()
    table["share_sales"] = table["est_sales_usd"] / max(table["est_sales_usd"].sum(), 1e-12)
    return _records(table.sort_values("listings", ascending=False, kind="stable"))


def _market_table(market_day: pd.DataFrame, items: pd.DataFrame, threshold: float) -> list[dict]:
    crawls = market_day[market_day["crawled"]]
    active = market_day[market_day["active_listings"] > 0]
    table = pd.DataFrame(
        {
            "first_crawl": crawls.groupby("market")["date"].min(),
            "last_crawl": crawls.groupby("market")["date"].max(),
            "crawls": crawls.groupby("market").size(),
            "median_coverage": crawls.groupby("market")["coverage"].median().clip(upper=1.0),
            "low_coverage_crawls": crawls.assign(low=crawls["coverage"] < threshold)
            .groupby("market")["low"]
            .sum(),
            "peak_active_listings": active.groupby("market")["active_listings"].max(),
            "mean_active_vendors": active.groupby("market")["active_vendors"].mean(),
            "listings": items.groupby("market").size(),
            "est_sales_usd": market_day.groupby("market")["est_sales_usd"].sum(),
        }
    )
    table["first_crawl"] = table["first_crawl"].astype(str)
    table["last_crawl"] = table["last_crawl"].astype(str)
    return _records(table.sort_values("listings", ascending=False, kind="stable"))


def _accounting_table(accounting: pd.DataFrame) -> list[dict]:
    table = accounting.groupby(["market", "table"])[
        ["raw_rows", "clean_rows", "quarantined_rows"]
    ].sum()
    table["files"] = accounting.groupby(["market", "table"]).size()
    return _records(table)


def _quarantine_table(quarantine: pd.DataFrame) -> list[dict]:
    if quarantine.empty:
        return []
    table = quarantine.groupby(["table", "reason"]).size().rename("rows").to_frame()
    return _records(table.sort_values("rows", ascending=False, kind="stable"))


def _records(table: pd.DataFrame) -> list[dict]:
    flat = table.reset_index()
    return [
        {k: plain_number(v) if not isinstance(v, str) else v for k, v in row.items()}
        for row in flat.to_dict(orient="records")
    ]
