"""Supply by country (EU focus) and prices, for one dataset.

- Drug listings and estimated drug sales (feedback x price: a lower bound) by
  ships-from country; the leading EU countries' shares of EU drug listings; the
  EU share of drug listings by drug category and by half-year. Intervals: percentile
  bootstrap resampling vendors (a vendor's listings share origin and product line).
- Drug vendors per million inhabitants for EU countries. Population: Eurostat,
  population on 1 January 2015 (table tps00001), in millions (data/eu_population_2015.csv;
  its total and largest members agree with Eurostat's news release 124/2015, in a test).
- Prices: median price per gram (EUR, and USD) by drug category and ships-from
  region, from quantities parsed from titles (or a grams column). Euro amounts
  are the clean tables' `price_eur` (listed euros as listed, others at the day's
  ECB rate, dnmarkets.sources.ecb). For a scrape whose day is unknown
  (`price_days` of the dataset) the euro medians are recomputed at the rates of
  each possible day: their lowest and highest value; quantity discounts as
  the slope of log price on log quantity per category (OLS, errors clustered by
  vendor): a slope below 1 means a gram costs less in larger lots.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import statsmodels.api as sm

from dnmarkets.clean.prices import Rates, convert_many
from dnmarkets.clean.quantities import parse_quantities
from dnmarkets.core.memory import release_freed_memory
from dnmarkets.core.summary import entry
from dnmarkets.models.intervals import (
    bootstrap_settings,
    share_by_vendor,
    shares_by_vendor,
    wilson,
)
from dnmarkets.models.landscape import distinct_listings, distinct_listings_of
from dnmarkets.panels.sightings import first_sightings, has_value, listing_sales

MIN_LISTINGS = 30  # fewer priced listings in a cell: no estimate
# sold by the dose (pills, blotters), where a weight in a title is a strength, not an amount
BY_THE_UNIT = {"prescription", "psychedelics"}


def eu_population() -> pd.Series:
    path = resources.files("dnmarkets") / "data" / "eu_population_2015.csv"
    with resources.as_file(path) as p:
        table = pd.read_csv(p, dtype={"alpha2": str})
    return table.set_index("alpha2")["population_millions"]


# the columns the price estimates read (of a listing's first sighting)
PRICE_COLUMNS = [
    "market",
    "listing_id",
    "crawl_date",
    "vendor_key",
    "is_drug",
    "drug_category",
    "ships_from_region",
    "price_usd",
    "price_eur",
    "currency",
    "price_amount",
    "quantity",
    "quantity_unit",
    "quantity_source",
    "title",
]


# of those, what the price estimates read (quantity_source and title: where present)
PRICE_FIELDS = [
    "vendor_key",
    "drug_category",
    "ships_from_region",
    "price_usd",
    "price_eur",
    "currency",
    "price_amount",
    "quantity",
    "quantity_unit",
    "quantity_source",
    "title",
]
# the columns of the distinct listings the shares read
SHARE_COLUMNS = [
    "vendor_key",
    "drug_category",
    "ships_from",
    "ships_from_eu",
    "crawl_date",
    "est_sales_usd",
]


def distinct_drug_listings(
    listings: pd.DataFrame, crawl_days: pd.DataFrame | None = None
) -> pd.DataFrame:
    """landscape.distinct_listings of the drug listings, in the columns the shares
    read: all supply_estimates needs of `items`, so the supply job keeps only these of
    each chunk."""
    items = distinct_listings(listings, crawl_days)
    return items.loc[items["is_drug"], ["is_drug", *SHARE_COLUMNS]]


def supply_inputs(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(distinct_drug_listings, first_drug_sightings) of the clean listings at `path`,
    read out of core: each listing's first sighting found by an aggregation
    (dnmarkets.panels.sightings.first_sightings), its sales from chunks of the few
    columns they need; the same tables as per_listing with those two functions."""
    columns = list(dict.fromkeys(["is_drug", *SHARE_COLUMNS[:-1], *PRICE_FIELDS]))
    if not has_value(path, "quantity_source", "column"):
        columns.remove("title")  # read only to check a grams column (_title_vs_column)
    # the drug listings only: the shares and prices read no other
    # the sales first, as in landscape.landscape_items (memory)
    sales = listing_sales(path)
    release_freed_memory()
    first = first_sightings(path, columns, where="is_drug")
    release_freed_memory()
    items = distinct_listings_of(first, sales, composition=False)
    items = items[["is_drug", *SHARE_COLUMNS]]
    first = first[[c for c in PRICE_FIELDS if c in first]]
    return items, first


def _first_sightings(listings: pd.DataFrame) -> pd.DataFrame:
    """One row per (market, listing): its first sighting (price, quantity, origin)."""
    ordered = listings.sort_values(["market", "listing_id", "crawl_date"], kind="stable")
    return ordered.drop_duplicates(["market", "listing_id"], keep="first").reset_index(drop=True)


def first_drug_sightings(listings: pd.DataFrame) -> pd.DataFrame:
    """The first sightings of drug listings, in the columns the price estimates read:
    all they need, so a chunk of whole listings (dnmarkets.panels.sightings) keeps only these."""
    first = _first_sightings(listings)
    return first.loc[first["is_drug"], [c for c in PRICE_FIELDS if c in first]]


def price_days(days: dict | None, rates_path) -> tuple[pd.DataFrame, list[str]] | None:
    """(rates, every day) of a dataset's `price_days` for supply_estimates, or None."""
    if not days:
        return None
    every = pd.date_range(days["first"], days["last"], freq="D").strftime("%Y-%m-%d")
    return pd.read_csv(rates_path), every.tolist()


def _median_ci(values: np.ndarray, clusters: np.ndarray, replicates: int, seed: int, level: float):
    """Median with a percentile interval from resampling clusters (vendors).

    Each replicate draws len(groups) clusters with replacement (the draws of a loop
    calling rng.integers(0, G, G) per replicate, taken a block of replicates at a
    time: the same stream) and takes np.median of their values concatenated. The
    median depends only on the multiset of values, so it is read off the values
    sorted once, each weighted by how often its cluster was drawn: the elements of
    rank (n - 1) // 2 and n // 2, averaged as np.median averages them. A Python loop
    over replicates and clusters was the supply job's largest cost."""
    values = np.asarray(values, float)
    codes, index = np.unique(clusters, return_inverse=True)
    n_groups = len(codes)
    sizes = np.bincount(index, minlength=n_groups)
    order = np.argsort(values, kind="stable")
    ranked, ranked_group = values[order], index[order]
    # np.median is NaN when a NaN is among the values: per replicate, when a drawn cluster has one
    nan_group = np.bincount(index, weights=np.isnan(values), minlength=n_groups) > 0
    rng = np.random.default_rng(seed)
    stats = np.empty(replicates)
    block = max(1, int(_MEDIAN_CELLS // max(len(values), n_groups)))
    for start in range(0, replicates, block):
        size = min(block, replicates - start)
        pick = rng.integers(0, n_groups, (size, n_groups))
        rows = np.arange(size)[:, None] * n_groups
        counts = np.bincount((pick + rows).ravel(), minlength=size * n_groups)
        counts = counts.reshape(size, n_groups)
        length = counts @ sizes
        low = _weighted_rank(ranked_group, counts, (length - 1) // 2)
        high = _weighted_rank(ranked_group, counts, length // 2)
        a, b = ranked[low], ranked[high]
        with np.errstate(invalid="ignore"):
            median = np.where(length % 2 == 1, a / 1.0, (a + b) / 2.0)
        median[(counts[:, nan_group] > 0).any(axis=1)] = np.nan
        stats[start : start + size] = median
    alpha = (1 - level) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return float(np.median(values)), float(low), float(high)


# values x replicates held at once by _median_ci
_MEDIAN_CELLS = 2e7


def _weighted_rank(group: np.ndarray, counts: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Per row of `counts` (draws per group), the position in the sorted values (of
    groups `group`) of the element of `rank` (0-based) when each value is repeated as
    often as its group was drawn.

    Only a window of positions around the middle is weighed value by value; the
    weight below the window comes from per-group counts (a product with the draws).
    Rows whose rank falls outside the window are done again with a window twice as
    wide, so the result is exact; the medians of resamples stay near the middle."""
    n, n_groups = len(group), counts.shape[1]
    out = np.empty(len(counts), dtype=np.int64)
    todo = np.arange(len(counts))
    half = max(64, n // 32)
    while len(todo):
        a, b = max(0, n // 2 - half), min(n, n // 2 + half + 1)
        below = np.bincount(group[:a], minlength=n_groups)
        inside = np.bincount(group[a:b], minlength=n_groups)
        part = counts[todo]
        before = part @ below
        through = before + part @ inside
        target = rank[todo]
        fits = (target >= before) & (target < through)
        if fits.any():
            cumulative = np.cumsum(part[fits][:, group[a:b]], axis=1)
            offset = (cumulative <= (target[fits] - before[fits])[:, None]).sum(axis=1)
            out[todo[fits]] = a + offset
        todo = todo[~fits]
        half *= 2
    return out


def supply_estimates(
    listings: pd.DataFrame | None,
    items: pd.DataFrame,
    analysis: dict,
    first: pd.DataFrame | None = None,
    price_days: tuple[pd.DataFrame, list] | None = None,
) -> dict:
    """`items`: distinct listings with sales (landscape.distinct_listings); `first`:
    first_drug_sightings, in place of `listings` when read out of core; `price_days`:
    (rates table, days) for a scrape made on an unknown one of those days."""
    boot = bootstrap_settings(analysis)
    level = boot["level"]
    pct = int(round(level * 100))
    # only the columns read below: at 100x scale each copy of a subset is hundreds of MB
    drugs = items.loc[items["is_drug"], SHARE_COLUMNS]
    known = drugs[drugs["ships_from_eu"].notna()]
    eu = known[known["ships_from_eu"].astype(bool)]
    summary, tables = {}, {}
    # so that a report can tell "no origin stated at all" (AlphaBay 2017's crawl has no
    # ships-from field) from "none of the stated origins in the EU"
    tables["origin_counts"] = [
        {"drug_listings": len(drugs), "known_origin": len(known), "eu_origin": len(eu)}
    ]
    one = pd.Series(1.0, index=eu.index)

    # leading EU countries: share of EU drug listings (and of EU drug sales where known)
    countries = []
    has_sales = bool(drugs["est_sales_usd"].sum() > 0)
    members = set(eu_population().index)
    counts = [(code, n) for code, n in eu["ships_from"].value_counts().items() if code in members]
    flags = [eu["ships_from"] == code for code, _ in counts]  # "EU" as a region: no country
    # every country's shares over the same vendors: one set of bootstrap draws for all
    weights = [one, eu["est_sales_usd"]] if has_sales else [one]
    shares = shares_by_vendor(eu, [(flag, w) for flag in flags for w in weights], boot)
    for i, ((code, n), flag) in enumerate(zip(counts, flags, strict=True)):
        share = shares[i * len(weights)]
        row = {
            "country": code,
            "listings": int(n),
            "share_eu_listings": share[0],
            "low": share[1],
            "high": share[2],
            "vendors": int(eu.loc[flag, "vendor_key"].nunique()),
        }
        if has_sales:
            row["share_eu_sales"] = shares[i * len(weights) + 1][0]
        countries.append(row)
    countries = sorted(countries, key=lambda r: (-r["listings"], r["country"]))
    tables["eu_countries"] = countries
    for rank, row in enumerate(countries[:3], start=1):
        summary[f"eu_country_{rank}_share"] = entry(
            row["share_eu_listings"],
            "share",
            f"Share of EU drug listings shipped from the EU country ranked {rank} "
            f"({row['country']}) ({pct}% CI, bootstrap by vendor)",
            (row["low"], row["high"]),
        )

    # vendors per million inhabitants (vendors with at least one drug listing from the country)
    population = eu_population()
    vendors = (
        eu[eu["ships_from"].isin(population.index)].groupby("ships_from")["vendor_key"].nunique()
    )
    per_million = (vendors / population.reindex(vendors.index)).sort_values(ascending=False)
    tables["vendors_per_million"] = [
        {
            "country": c,
            "vendors": int(vendors[c]),
            "population_millions": float(population[c]),
            "per_million": float(v),
        }
        for c, v in per_million.items()
    ]
    if len(per_million):
        summary["eu_vendors_per_million"] = entry(
            float(vendors.sum() / population.sum()),
            "ratio",
            "Drug vendors shipping from an EU country per million EU inhabitants (Eurostat 2015)",
        )

    # EU share of drug listings by drug category and by half-year of first sighting
    half_year = _half_years(known["crawl_date"])
    tables["eu_share_by_category"] = _eu_share_by(known, known["drug_category"], "category", boot)
    tables["eu_share_by_period"] = _eu_share_by(known, half_year, "period", boot)

    del drugs, known, eu, half_year  # before the price tables' own copies
    if first is None:
        first = first_drug_sightings(listings)
    summary.update(_prices(first, boot, pct, tables, price_days))
    return {"summary": summary, "tables": tables}


def _half_years(dates: pd.Series) -> pd.Series:
    """``YYYY-H1`` or ``YYYY-H2`` of each date, worked out once per distinct day (a
    Period object per row was slow and, at 100x scale, hundreds of MB)."""
    codes, days = pd.factorize(dates)
    labels = np.array([f"{d.year}-H{1 if d.month <= 6 else 2}" for d in days], dtype=object)
    return pd.Series(labels[codes], index=dates.index)


def _eu_share_by(known: pd.DataFrame, groups: pd.Series, name: str, boot: dict) -> list[dict]:
    """EU share of drug listings (known origin) per group, with its bootstrap interval;
    groups with fewer than MIN_LISTINGS listings are left out."""
    rows = []
    for group, part in known.groupby(groups, sort=True):
        if len(part) < MIN_LISTINGS:
            continue
        flag = part["ships_from_eu"].astype(bool)
        share = share_by_vendor(part, flag, pd.Series(1.0, index=part.index), boot)
        rows.append(
            {
                name: group,
                "listings": len(part),
                "share": share[0],
                "low": share[1],
                "high": share[2],
            }
        )
    return rows


def _title_vs_column(drugs: pd.DataFrame, level: float) -> dict:
    """Where a source states the grams in a column of its own (Dream), the title parser
    is checked against it on real titles: how often it finds a quantity, and how often
    that quantity is the stated one (within 1%)."""
    if "quantity_source" not in drugs:
        return {}
    stated = drugs[drugs["quantity_source"] == "column"]
    if stated.empty:
        return {}
    parsed = parse_quantities(stated["title"].reset_index(drop=True))
    found = parsed["quantity"].notna() & (parsed["unit"] == "g")
    same = found & (
        (parsed["quantity"] - stated["quantity"].to_numpy()).abs()
        <= 0.01 * stated["quantity"].to_numpy()
    )
    n = len(stated)
    return {
        "quantity_column_listings": entry(
            n, "count", "Drug listings whose quantity comes from the source's grams column"
        ),
        "title_parser_hit_share": entry(
            float(found.mean()),
            "share",
            "Of those, share whose title the quantity parser reads a mass from",
            wilson(int(found.sum()), n, level)[1:],
        ),
        "title_parser_agreement_share": entry(
            float(same.sum() / found.sum()) if found.any() else np.nan,
            "share",
            "Of the titles read, share whose parsed grams equal the stated grams (within 1%)",
            wilson(int(same.sum()), int(found.sum()), level)[1:] if found.any() else None,
        ),
    }


def _prices(drugs: pd.DataFrame, boot: dict, pct: int, tables: dict, price_days=None) -> dict:
    summary = {}
    grams = drugs.loc[
        (drugs["quantity_unit"] == "g")
        & (drugs["quantity"] > 0)
        & ~drugs["drug_category"].isin(BY_THE_UNIT),
        [c for c in PRICE_FIELDS if c not in ("quantity_unit", "quantity_source", "title")],
    ]
    summary["quantity_parsed_share"] = entry(
        float(drugs["quantity"].notna().mean()) if len(drugs) else np.nan,
        "share",
        "Share of drug listings with a quantity parsed from the title (or a grams column)",
    )
    summary.update(_title_vs_column(drugs, boot["level"]))
    grams["usd_per_gram"] = grams["price_usd"] / grams["quantity"]
    grams["eur_per_gram"] = grams["price_eur"] / grams["quantity"]
    summary.update(_median_prices(grams, boot, pct, tables))
    if price_days is not None:
        summary.update(_rate_ranges(grams, *price_days))
    discounts = []
    for cat, part in grams.groupby("drug_category", sort=True):
        if (
            len(part) < MIN_LISTINGS
            or part["quantity"].nunique() < 3
            or part["vendor_key"].nunique() < 5
        ):
            continue
        slope, low, high = _log_price_fit(part, boot["level"])
        discounts.append(
            {
                "category": cat,
                "listings": len(part),
                "slope": slope,
                "low": low,
                "high": high,
            }
        )
        summary[f"quantity_elasticity_{cat}"] = entry(
            slope,
            "ratio",
            f"Slope of log price on log quantity for {cat} (below 1: quantity discount; "
            f"OLS, errors clustered by vendor, {pct}% CI)",
            (low, high),
        )
    tables["quantity_discounts"] = discounts
    if discounts:
        slope, low, high = _log_price_fit(grams, boot["level"], category_effects=True)
        summary["quantity_elasticity"] = entry(
            slope,
            "ratio",
            "Slope of log price on log quantity, all drugs sold by the gram with category effects "
            f"(OLS, errors clustered by vendor, {pct}% CI)",
            (low, high),
        )
    return summary


def _median_prices(grams: pd.DataFrame, boot: dict, pct: int, tables: dict) -> dict:
    """Median price per gram in USD and EUR by drug and region (table) and by drug."""
    summary = {}

    def median_per_gram(part, currency):
        return _median_ci(
            part[f"{currency}_per_gram"].to_numpy(),
            part["vendor_key"].to_numpy(),
            min(boot["replicates"], 400),
            boot["seed"],
            boot["level"],
        )

    cells = []
    for (cat, region), part in grams.groupby(["drug_category", "ships_from_region"], sort=True):
        if len(part) < MIN_LISTINGS:
            continue
        med, eur = median_per_gram(part, "usd"), median_per_gram(part, "eur")
        cells.append(
            {
                "category": cat,
                "region": region,
                "listings": len(part),
                "median_usd_per_gram": med[0],
                "low": med[1],
                "high": med[2],
                "median_eur_per_gram": eur[0],
                "eur_low": eur[1],
                "eur_high": eur[2],
            }
        )
    tables["price_per_gram"] = cells
    for cat, part in grams.groupby("drug_category", sort=True):
        if len(part) < MIN_LISTINGS:
            continue
        for currency in ("usd", "eur"):
            med = median_per_gram(part, currency)
            summary[f"{currency}_per_gram_{cat}"] = entry(
                med[0],
                currency,
                f"Median price per gram of {cat} listings, {currency.upper()} "
                f"({pct}% CI, bootstrap by vendor)",
                med[1:],
            )
    return summary


def _rate_ranges(grams: pd.DataFrame, rates: pd.DataFrame, days: list) -> dict:
    """Lowest and highest median euro price per gram by drug had every listing been
    priced on one of `days` (each day's BTC and ECB rates): the exchange-rate part of
    the uncertainty of a scrape whose day is unknown."""
    summary = {}
    prepared = Rates(rates)
    first, last = str(min(days)), str(max(days))
    for cat, part in grams.groupby("drug_category", sort=True):
        if len(part) < MIN_LISTINGS:
            continue
        medians = []
        for day in days:
            conv = convert_many(part["price_amount"], part["currency"], day, prepared)
            if conv["reason"].notna().any():
                raise ValueError(f"no exchange rate for {cat} prices on {day} (price_days)")
            medians.append(float(np.median(conv["eur"].to_numpy() / part["quantity"])))
        for bound, value in (("low", min(medians)), ("high", max(medians))):
            summary[f"eur_per_gram_{cat}_rate_{bound}"] = entry(
                value,
                "eur",
                f"{'Lowest' if bound == 'low' else 'Highest'} median price per gram of {cat} "
                f"listings, EUR, had the scrape been made on any day from {first} to {last} "
                "(that day's BTC and ECB rates; not a confidence bound)",
            )
    return summary


def _log_price_fit(
    part: pd.DataFrame, level: float, category_effects: bool = False
) -> tuple[float, float, float]:
    """Slope of log price on log quantity with its interval: OLS, errors clustered by
    vendor, with category effects if asked.

    The design matrix is the one patsy builds for ``log_price ~ log_q`` or
    ``log_price ~ log_q + C(drug_category)`` (intercept, treatment dummies against
    the first level in sorted order, log_q; a test checks the fits are identical),
    built here from the category codes: patsy first turns the category column into
    one Python string per row, which at 100x scale was the supply job's peak memory."""
    columns = {"Intercept": np.ones(len(part))}
    if category_effects:
        codes, levels = pd.factorize(part["drug_category"])
        for code in np.argsort(np.asarray(levels, dtype=object))[1:]:
            columns[f"C(drug_category)[T.{levels[code]}]"] = (codes == code).astype(float)
    columns["log_q"] = np.log(part["quantity"].to_numpy(dtype=float))
    design = pd.DataFrame(columns, index=part.index)
    vendor = pd.factorize(part["vendor_key"])[0]
    fit = sm.OLS(np.log(part["price_usd"]), design).fit(
        cov_type="cluster", cov_kwds={"groups": vendor}
    )
    low, high = fit.conf_int(alpha=1 - level).loc["log_q"]
    return float(fit.params["log_q"]), float(low), float(high)
