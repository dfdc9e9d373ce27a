"""Panels built from clean listing sightings.

Crawls are incomplete, so a listing is taken to be alive from its first to its
last sighting, and a vendor to be active on a market from the first to the last
sighting of any of their listings there. Estimated sales follow the
feedback method (Soska & Christin 2015): the increase of a listing's cumulative
feedback between two sightings, times its price, spread evenly over the days
between the sightings. Not every sale leaves feedback, so sales are a lower
bound.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

MARKET_DAY_COLUMNS = [
    "dataset",
    "market",
    "date",
    "active_listings",
    "active_vendors",
    "est_sales_usd",
    "crawled",
    "crawl_rows",
    "coverage",
    "observed",
]


def _day_index(dates: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    return ((pd.to_datetime(dates) - origin) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64)


def _interval_counts(first: np.ndarray, last: np.ndarray, n_days: int) -> np.ndarray:
    """Number of [first, last] day intervals covering each day 0..n_days-1."""
    diff = np.zeros(n_days + 1, dtype=np.int64)
    np.add.at(diff, first, 1)
    np.add.at(diff, last + 1, -1)
    return np.cumsum(diff)[:n_days]


def market_crawl_days(listings: pd.DataFrame) -> pd.DataFrame:
    """Each market's crawl days (market, crawl_date) with the previous crawl day."""
    crawl_days = listings[["market", "crawl_date"]].drop_duplicates()
    crawl_days = crawl_days.sort_values(["market", "crawl_date"], kind="stable")
    crawl_days["previous_crawl"] = crawl_days.groupby("market", observed=True)["crawl_date"].shift()
    return crawl_days


def _feedback_increments(
    listings: pd.DataFrame, crawl_days: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Feedback gained per sighting, with the market's previous crawl day.

    Between two sightings of a listing, the gain is the counter's increase (a
    fall, i.e. a reset or a different page, counts as zero). At a listing's
    first sighting, the counter itself is gained since the market's previous
    crawl when the listing is new (first seen after the market's first crawl):
    without this, a wave of new listings (migrants after a takedown) would
    lose their first days of sales and look like a drop in sales. Listings
    seen on a market's first crawl carry feedback of unknown age: zero.
    `crawl_days` (market_crawl_days of the whole table) is needed when `listings`
    holds only some listings (a chunk): their own sightings miss crawl days.
    """
    cols = ["market", "listing_id", "crawl_date", "feedback_count", "price_usd"]
    obs = listings[cols].dropna(subset=["feedback_count"])
    obs = obs.sort_values(["market", "listing_id", "crawl_date"], kind="stable")
    # One sighting per listing and day (a crawl can list a listing on two pages).
    obs = obs.drop_duplicates(["market", "listing_id", "crawl_date"], keep="last")
    same = obs["market"].eq(obs["market"].shift()) & obs["listing_id"].eq(obs["listing_id"].shift())
    counter = obs["feedback_count"].astype("float64")
    gained = counter.diff().clip(lower=0).where(same)
    from_date = obs["crawl_date"].shift().where(same)
    # first sightings: the market's previous crawl day, if any
    if crawl_days is None:
        crawl_days = market_crawl_days(listings)
    previous = obs[["market", "crawl_date"]].merge(
        crawl_days, on=["market", "crawl_date"], how="left", sort=False
    )["previous_crawl"]
    first = ~same.to_numpy()
    new_listing = first & previous.notna().to_numpy()
    gained = gained.where(~new_listing, counter).fillna(0.0)
    from_date = from_date.where(~new_listing, previous.to_numpy())
    return pd.DataFrame(
        {
            "market": obs["market"],
            "listing_id": obs["listing_id"],
            "from_date": from_date,
            "to_date": obs["crawl_date"],
            "sales_usd": gained * obs["price_usd"],
        }
    )


def sales_increments(
    listings: pd.DataFrame, crawl_days: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Feedback-based sales between consecutive sightings of each listing, in USD.

    Returns market, listing_id, from_date (exclusive), to_date (inclusive) and
    sales_usd, for the increments with positive sales (see _feedback_increments).
    """
    inc = _feedback_increments(listings, crawl_days)
    return inc[(inc["sales_usd"] > 0) & inc["from_date"].notna()].reset_index(drop=True)


def _market_day_frame(
    dataset, market, calendar, active_listings, active_vendors, sales, crawl_rows
) -> pd.DataFrame:
    """One market's daily rows from its daily counts (`crawl_rows`: distinct listings
    sighted that day)."""
    crawled = crawl_rows > 0
    # Days outside [first crawl, last crawl] of this market are unobserved:
    # zero activity there means "not crawled", not "no listings".
    crawl_days = np.flatnonzero(crawled)
    observed = np.zeros(len(crawl_rows), dtype=bool)
    observed[crawl_days.min() : crawl_days.max() + 1] = True
    with np.errstate(divide="ignore", invalid="ignore"):
        coverage = np.where(crawled, crawl_rows / np.maximum(active_listings, 1), np.nan)
    return pd.DataFrame(
        {
            "dataset": dataset,
            "market": market,
            "date": calendar,
            "active_listings": active_listings,
            "active_vendors": active_vendors,
            "est_sales_usd": np.round(sales, 6),
            "crawled": crawled,
            "crawl_rows": crawl_rows,
            "coverage": coverage,
            "observed": observed,
        }
    )


def market_day_panel(listings: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Market x day panel of activity, sales and crawl coverage."""
    if listings.empty:
        return pd.DataFrame(columns=MARKET_DAY_COLUMNS)
    dates = pd.to_datetime(listings["crawl_date"])
    origin, end = dates.min(), dates.max()
    n_days = int((end - origin) / pd.Timedelta(days=1)) + 1
    calendar = pd.date_range(origin, end, freq="D")
    frames = []
    for market, rows in listings.groupby("market", sort=True, observed=True):
        day = _day_index(rows["crawl_date"], origin)
        rows = rows.assign(_day=day)
        spans = rows.groupby("listing_id", sort=False)["_day"].agg(["min", "max"])
        active_listings = _interval_counts(spans["min"].to_numpy(), spans["max"].to_numpy(), n_days)
        vspans = rows.groupby("vendor_key", sort=False)["_day"].agg(["min", "max"])
        active_vendors = _interval_counts(
            vspans["min"].to_numpy(), vspans["max"].to_numpy(), n_days
        )

        sales = np.zeros(n_days + 1)
        inc = sales_increments(rows)
        if len(inc):
            start = _day_index(inc["from_date"], origin) + 1
            stop = _day_index(inc["to_date"], origin) + 1
            per_day = inc["sales_usd"].to_numpy() / (stop - start)
            np.add.at(sales, start, per_day)
            np.add.at(sales, stop, -per_day)
        sales = np.cumsum(sales)[:n_days]

        seen = rows.groupby("_day")["listing_id"].nunique()
        crawl_rows = np.zeros(n_days, dtype=np.int64)
        crawl_rows[seen.index.to_numpy()] = seen.to_numpy()
        frames.append(
            _market_day_frame(
                dataset, market, calendar, active_listings, active_vendors, sales, crawl_rows
            )
        )
    panel = pd.concat(frames, ignore_index=True)
    panel["date"] = panel["date"].dt.date
    return panel[MARKET_DAY_COLUMNS]


def _group_mode(frame: pd.DataFrame, keys: list[str], column: str) -> pd.Series:
    """Most frequent value of `column` per group; ties broken alphabetically."""
    return _mode_of_counts(_value_counts(frame, keys, column), keys, column)


def _value_counts(frame: pd.DataFrame, keys: list[str], column: str) -> pd.DataFrame:
    counts = frame.groupby(keys + [column], sort=False, observed=True).size().rename("n")
    return counts.reset_index()


def _mode_of_counts(counts: pd.DataFrame, keys: list[str], column: str) -> pd.Series:
    counts = counts.sort_values(
        keys + ["n", column], ascending=[True] * len(keys) + [False, True], kind="stable"
    )
    return counts.drop_duplicates(keys).set_index(keys)[column]


def feedback_sales(
    listings: pd.DataFrame, keys: list[str], crawl_days: pd.DataFrame | None = None
) -> pd.Series:
    """Estimated sales (USD) per group of `keys` (columns constant per listing and
    market, e.g. vendor_key, market, listing_id), from the same feedback increments
    as the daily panel."""
    inc = sales_increments(listings, crawl_days)
    columns = list(dict.fromkeys(["market", "listing_id", *keys]))
    attributes = listings[columns].drop_duplicates(["market", "listing_id"])
    inc = inc.merge(
        attributes,
        on=["market", "listing_id"],
        how="left",
        sort=False,
    )
    return inc.groupby(keys, sort=False, observed=True)["sales_usd"].sum()


def vendor_market_panel(listings: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """One row per vendor and market: presence interval, listings, sales."""
    keys = ["vendor_key", "market"]
    sales = feedback_sales(listings, keys)
    grouped = listings.groupby(keys, sort=True, observed=True)
    out = grouped.agg(
        first_seen=("crawl_date", "min"),
        last_seen=("crawl_date", "max"),
        n_listings=("listing_id", "nunique"),
    )
    out["main_category"] = _group_mode(listings, keys, "drug_category").reindex(out.index)
    out["ships_from_region"] = _group_mode(listings, keys, "ships_from_region").reindex(out.index)
    out["est_sales_usd"] = sales.reindex(out.index).fillna(0.0).round(6)
    return _vendor_market_table(out, dataset)


def _vendor_market_table(out: pd.DataFrame, dataset: str) -> pd.DataFrame:
    out = out.reset_index()
    out.insert(0, "dataset", dataset)
    return out[VENDOR_MARKET_COLUMNS]


VENDOR_MARKET_COLUMNS = [
    "dataset",
    "vendor_key",
    "market",
    "first_seen",
    "last_seen",
    "n_listings",
    "est_sales_usd",
    "main_category",
    "ships_from_region",
]
# the columns the panels read from the clean listings
PANEL_COLUMNS = [
    "market",
    "listing_id",
    "crawl_date",
    "vendor_key",
    "feedback_count",
    "price_usd",
    "drug_category",
    "ships_from_region",
]


class _VendorMarketTotals:
    """Per (vendor_key, market) pair, totals over the chunks: first and last day,
    listings, and counts of each drug category and region. Pairs get integer codes
    when first seen and the totals live in numpy arrays, so adding a chunk costs time
    in the chunk's pairs; a concat-and-regroup with the running table after every
    chunk cost time in all pairs so far (chunks x pairs: the panels grew as scale^1.2).
    Mins, maxes and integer sums do not depend on the order they are taken in."""

    def __init__(self, mode_columns: Iterable[str]):
        self.codes: dict[tuple, int] = {}
        self.first = np.zeros(0, dtype=np.int64)
        self.last = np.zeros(0, dtype=np.int64)
        self.listings = np.zeros(0, dtype=np.int64)
        self.values: dict[str, dict] = {column: {} for column in mode_columns}
        self.counts = {column: np.zeros((0, 0), dtype=np.int64) for column in mode_columns}
        self.dtypes: dict[str, object] = {}

    def code_of(self, pairs: pd.MultiIndex) -> np.ndarray:
        """One code per (vendor_key, market) of `pairs`; new pairs get new codes."""
        local, uniques = pairs.factorize()
        codes = self.codes
        known = np.fromiter(
            (codes.setdefault(p, len(codes)) for p in uniques), dtype=np.int64, count=len(uniques)
        )
        if len(codes) > len(self.first):  # room for twice as many pairs
            size = max(len(codes), 2 * len(self.first))
            self.first = _grown(self.first, size, np.iinfo(np.int64).max)
            self.last = _grown(self.last, size, -1)
            self.listings = _grown(self.listings, size, 0)
            for column, counts in self.counts.items():
                self.counts[column] = _grown(counts, size, 0)
        return known[local]

    def add_presence(self, part: pd.DataFrame) -> None:
        """`part`: per pair of a chunk, first_day, last_day, n_listings."""
        at = self.code_of(part.index)
        self.first[at] = np.minimum(self.first[at], part["first_day"].to_numpy())
        self.last[at] = np.maximum(self.last[at], part["last_day"].to_numpy())
        self.listings[at] += part["n_listings"].to_numpy()

    def add_counts(self, counts: pd.DataFrame, column: str) -> None:
        """`counts`: _value_counts of a chunk (vendor_key, market, column, n)."""
        self.dtypes.setdefault(column, counts[column].dtype)
        at = self.code_of(pd.MultiIndex.from_frame(counts[["vendor_key", "market"]]))
        values = self.values[column]
        col = np.fromiter(
            (values.setdefault(v, len(values)) for v in counts[column]),
            dtype=np.int64,
            count=len(counts),
        )
        table = self.counts[column]
        if len(values) > table.shape[1]:
            table = np.pad(table, ((0, 0), (0, len(values) - table.shape[1])))
            self.counts[column] = table
        table[at, col] += counts["n"].to_numpy()

    def pairs(self) -> pd.MultiIndex:
        """The pairs in code order."""
        return pd.MultiIndex.from_tuples(list(self.codes), names=["vendor_key", "market"])

    def presence(self, dates: pd.Series, origin: pd.Timestamp) -> pd.DataFrame:
        """first_seen, last_seen (typed as `dates`, the crawl days) and n_listings per
        pair, sorted by pair."""
        n = len(self.codes)
        on_day = pd.Series(dates.to_numpy(), index=_day_index(dates, origin))
        on_day = on_day[~on_day.index.duplicated()]
        out = pd.DataFrame(
            {
                "first_seen": pd.Series(on_day.loc[self.first[:n]].to_numpy(), dtype=dates.dtype),
                "last_seen": pd.Series(on_day.loc[self.last[:n]].to_numpy(), dtype=dates.dtype),
                "n_listings": self.listings[:n],
            }
        )
        out.index = self.pairs()
        return out.sort_index()

    def active_vendors(self, n_days: int) -> dict[str, np.ndarray]:
        """Per market, the vendors active on each day (first to last day)."""
        n = len(self.codes)
        market = self.pairs().get_level_values("market").to_numpy(dtype=object)
        return {
            m: _interval_counts(self.first[:n][here], self.last[:n][here], n_days)
            for m in np.unique(market)
            for here in [market == m]
        }

    def modes(self, column: str) -> pd.Series:
        """The most frequent value of `column` per pair (as _group_mode)."""
        n = len(self.codes)
        rows, cols = np.nonzero(self.counts[column][:n])
        counts = self.pairs()[rows].to_frame(index=False)
        values = pd.array(list(self.values[column]), dtype=self.dtypes[column])
        counts[column] = values.take(cols)
        counts["n"] = self.counts[column][rows, cols]
        return _mode_of_counts(counts, ["vendor_key", "market"], column)


def _grown(array: np.ndarray, rows: int, fill) -> np.ndarray:
    out = np.full((rows, *array.shape[1:]), fill, dtype=array.dtype)
    out[: len(array)] = array
    return out


def _add_market_rows(
    acc: dict, rows: pd.DataFrame, part: pd.DataFrame, origin: pd.Timestamp, n_days: int
) -> None:
    """Add a market's chunk rows and sales increments `part` to its counts and sales starts."""
    spans = rows.groupby("listing_id", sort=False)["_day"].agg(["min", "max"])
    acc["listings"] += _interval_counts(spans["min"].to_numpy(), spans["max"].to_numpy(), n_days)
    seen = rows.groupby("_day")["listing_id"].nunique()
    acc["crawl_rows"][seen.index.to_numpy()] += seen.to_numpy()
    if len(part):
        start = _day_index(part["from_date"], origin) + 1
        stop = _day_index(part["to_date"], origin) + 1
        per_day = part["sales_usd"].to_numpy() / (stop - start)
        np.add.at(acc["sales"], start, per_day)
        acc["stops"].append((stop.astype(np.int32), per_day))


def _market_day_of(
    markets: dict[str, dict],
    active_vendors: dict[str, np.ndarray],
    dataset: str,
    calendar: pd.DatetimeIndex,
    n_days: int,
) -> pd.DataFrame:
    """market_day_panel of the accumulated markets: all sales stops after all starts, summed."""
    frames = []
    for market in sorted(markets):
        acc = markets[market]
        sales = acc["sales"]
        if acc["stops"]:
            stop = np.concatenate([s for s, _ in acc["stops"]]).astype(np.int64)
            per_day = np.concatenate([v for _, v in acc["stops"]])
            np.add.at(sales, stop, -per_day)
        sales = np.cumsum(sales)[:n_days]
        frames.append(
            _market_day_frame(
                dataset,
                market,
                calendar,
                acc["listings"],
                active_vendors[market],
                sales,
                acc["crawl_rows"],
            )
        )
    market_day = pd.concat(frames, ignore_index=True)
    market_day["date"] = market_day["date"].dt.date
    return market_day[MARKET_DAY_COLUMNS]


def panels_of_chunks(
    chunks: Iterable[pd.DataFrame], crawl_days: pd.DataFrame, dataset: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """market_day_panel and vendor_market_panel of the whole table, built from chunks
    of whole listings in (market, listing_id) order (dnmarkets.panels.sightings), in memory
    that grows with vendors and days, plus 24 bytes per sales increment.

    Counts and spans add up across chunks. The float sums keep the order of the
    in-memory code, so results are bit-identical: the market-day sales add every
    increment's start first (done chunk by chunk), then every stop (kept until the
    end); the vendor sales are one grouped sum over all increments, in order.
    `crawl_days`: market_crawl_days of the whole table.
    """
    keys = ["vendor_key", "market"]
    if crawl_days.empty:
        return pd.DataFrame(columns=MARKET_DAY_COLUMNS), pd.DataFrame(columns=VENDOR_MARKET_COLUMNS)
    dates = pd.to_datetime(crawl_days["crawl_date"])
    origin, end = dates.min(), dates.max()
    n_days = int((end - origin) / pd.Timedelta(days=1)) + 1
    calendar = pd.date_range(origin, end, freq="D")
    markets: dict[str, dict] = {}
    modes = ["drug_category", "ships_from_region"]
    totals = _VendorMarketTotals(modes)
    sale_codes, sale_values = [], []

    for chunk in chunks:
        chunk = chunk.assign(_day=_day_index(chunk["crawl_date"], origin))
        inc = sales_increments(chunk, crawl_days)
        for market, rows in chunk.groupby("market", sort=True, observed=True):
            acc = markets.setdefault(
                market,
                {
                    "listings": np.zeros(n_days, dtype=np.int64),
                    "crawl_rows": np.zeros(n_days, dtype=np.int64),
                    "sales": np.zeros(n_days + 1),
                    "stops": [],
                },
            )
            _add_market_rows(acc, rows, inc[inc["market"] == market], origin, n_days)
        totals.add_presence(
            chunk.groupby(keys, sort=False, observed=True).agg(
                first_day=("_day", "min"),
                last_day=("_day", "max"),
                n_listings=("listing_id", "nunique"),
            )
        )
        for column in modes:
            totals.add_counts(_value_counts(chunk, keys, column), column)
        # vendor sales: the listing's vendor as in feedback_sales (its first row)
        attributes = chunk[["market", "listing_id", "vendor_key"]].drop_duplicates(
            ["market", "listing_id"]
        )
        inc = inc.merge(attributes, on=["market", "listing_id"], how="left", sort=False)
        sale_codes.append(totals.code_of(pd.MultiIndex.from_frame(inc[keys])).astype(np.int32))
        sale_values.append(inc["sales_usd"].to_numpy())

    market_day = _market_day_of(markets, totals.active_vendors(n_days), dataset, calendar, n_days)

    out = totals.presence(crawl_days["crawl_date"], origin)
    for column in modes:
        out[column] = totals.modes(column).reindex(out.index)
    out = out.rename(columns={"drug_category": "main_category"})
    codes = np.concatenate(sale_codes) if sale_codes else np.zeros(0, dtype=np.int32)
    values = np.concatenate(sale_values) if sale_values else np.zeros(0)
    sums = pd.Series(values).groupby(codes, sort=False).sum()
    sales = pd.Series(sums.to_numpy(), index=totals.pairs()[sums.index.to_numpy()])
    out["est_sales_usd"] = sales.reindex(out.index).fillna(0.0).round(6)
    return market_day, _vendor_market_table(out, dataset)
