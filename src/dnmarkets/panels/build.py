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

import datetime as dt
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


# --- The panels of a whole listings file, one market at a time, vectorised -------
#
# panels_of_chunks runs pandas group-bys, merges and sorts per chunk of a table that
# DuckDB first sorted on disk: at 100x scale (~40 M sightings) that costs minutes.
# panels_of_file computes the same figures with numpy over integer codes, one market
# at a time (every figure is per market, or per vendor and market; the clean tables
# are written market by market, so a market's rows are a few row groups): strings are
# read dictionary-encoded and replaced by their rank in byte order (the order of the
# pandas and DuckDB sorts), a market's rows are sorted once by (listing_id,
# crawl_date, row in file), and every per-listing, per-pair and per-day figure is a
# bincount or a run over the sorted rows. The float sums add the same numbers in the
# same order as panels_of_chunks (see there), so both give bit-identical panels.

_CODED = ["listing_id", "vendor_key", "drug_category", "ships_from_region"]
_EPOCH = dt.date(1970, 1, 1)


def ranked_codes(column, name: str, path, values: bool = True) -> tuple[np.ndarray, list]:
    """Codes of a dictionary-encoded column as the rank of each value among the
    dictionary's distinct values in byte (= code point) order, and (with `values`)
    those values sorted."""
    import pyarrow.compute as pc

    if column.null_count:
        raise ValueError(f"{path}: {name} is missing in {column.null_count} rows")
    column = column.unify_dictionaries()
    if column.num_chunks == 0 or len(column) == 0:
        return np.zeros(0, dtype=np.int32), []
    dictionary = column.chunk(0).dictionary
    # dense rank: equal values (should a dictionary repeat one) share a code
    rank = pc.rank(dictionary, sort_keys="ascending", tiebreaker="dense").to_numpy()
    rank = (rank - 1).astype(np.int32)
    indices = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in column.chunks])
    distinct = []
    if values and len(rank):
        distinct = np.empty(int(rank.max()) + 1, dtype=object)
        distinct[rank] = dictionary.to_numpy(zero_copy_only=False)
        distinct = distinct.tolist()
    return rank[indices], distinct


def _starts(new: np.ndarray) -> np.ndarray:
    """Start positions of the runs flagged by `new` (True where a run begins)."""
    return np.flatnonzero(new)


def _run_starts(*keys: np.ndarray) -> np.ndarray:
    """True where any of the (sorted) `keys` differs from the row before."""
    n = len(keys[0])
    new = np.zeros(n, dtype=bool)
    if n:
        new[0] = True
        for key in keys:
            new[1:] |= key[1:] != key[:-1]
    return new


def _exact_bounds(stats) -> bool:
    """Whether column statistics hold exact (untruncated) minimum and maximum."""
    return (
        stats is not None
        and stats.has_min_max
        and getattr(stats, "is_min_exact", True)
        and getattr(stats, "is_max_exact", True)
    )


def _markets_and_days(path) -> tuple[list[str], int, int]:
    """The file's markets (sorted) and its first and last crawl day (days since
    1970-01-01), a row group at a time: from the row groups' statistics where they
    are exact, else from the columns (the markets dictionary-encoded)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path, read_dictionary=["market"])
    names = file.schema_arrow.names
    markets: set[str] = set()
    first, last = None, None
    for i in range(file.num_row_groups):
        group = file.metadata.row_group(i)
        if group.num_rows == 0:
            continue
        market = group.column(names.index("market")).statistics
        day = group.column(names.index("crawl_date")).statistics
        for name, stats in (("market", market), ("crawl_date", day)):
            if stats is None or stats.null_count != 0:  # unknown or some missing: read
                column = file.read_row_group(i, columns=[name]).column(0)
                if column.null_count:
                    raise ValueError(f"{path}: row group {i}: {name} is missing in some rows")
        if _exact_bounds(market) and market.min == market.max:
            markets.add(market.min)
        else:
            column = file.read_row_group(i, columns=["market"]).column(0)
            for chunk in column.chunks:
                markets.update(chunk.dictionary.take(pc.unique(chunk.indices)).to_pylist())
        if _exact_bounds(day):
            bounds = {"min": day.min, "max": day.max}
            bounds = {k: (v - _EPOCH).days for k, v in bounds.items()}
        else:
            column = file.read_row_group(i, columns=["crawl_date"]).column(0)
            bounds = pc.min_max(column.cast("int32")).as_py()
        first = bounds["min"] if first is None else min(first, bounds["min"])
        last = bounds["max"] if last is None else max(last, bounds["max"])
    return sorted(markets), first, last


class _MarketRows:
    """The rows of one market, in file order, read a column at a time (memory holds
    the columns in use, not the table) from the row groups of `file` (a pyarrow
    ParquetFile) whose statistics admit the market."""

    def __init__(self, file, market: str):
        at = file.schema_arrow.names.index("market")
        self.file, self.market, self.groups = file, market, []
        for i in range(file.num_row_groups):
            stats = file.metadata.row_group(i).column(at).statistics
            known = stats is not None and stats.has_min_max
            if known and not stats.min <= market <= stats.max:
                continue
            # (row group, holding this market only)
            self.groups.append((i, _exact_bounds(stats) and stats.min == stats.max))

    def column(self, name: str):
        """One column of the market's rows (a pyarrow ChunkedArray)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        parts = []
        for i, pure in self.groups:
            if pure:
                parts.append(self.file.read_row_group(i, columns=[name]).column(0))
                continue
            part = self.file.read_row_group(i, columns=["market", name])
            keep = pc.equal(part.column("market"), self.market)
            parts.append(part.column(name).filter(keep))
        if not parts:
            return pa.chunked_array([], type=self.file.schema_arrow.field(name).type)
        return pa.chunked_array([c for p in parts for c in p.chunks], type=parts[0].type)


def _column(rows: _MarketRows, name: str, dtype) -> np.ndarray:
    """A column of a market's rows as a numpy array of `dtype`."""
    column = rows.column(name).cast(dtype)
    if column.num_chunks == 0:
        return np.zeros(0, dtype=dtype)
    return np.concatenate([c.to_numpy(zero_copy_only=False) for c in column.chunks])


def _sales_increments_sorted(
    lid: np.ndarray, day: np.ndarray, columns: dict, previous_crawl: np.ndarray
) -> tuple[np.ndarray, ...]:
    """_feedback_increments of one market's rows sorted by (listing, day, row in
    file), `columns` holding their "feedback" and "price" (taken out of it: memory):
    listing, start day (the day after from_date), stop day (the day after to_date)
    and sales of the increments with positive sales, in the same order."""
    feedback = columns.pop("feedback")
    has = ~np.isnan(feedback)
    counter = feedback[has]
    del feedback
    price = columns.pop("price")[has]
    listing, to_day = lid[has], day[has]
    del has
    # one sighting per listing and day: the last with a count, in file order
    last = np.ones(len(listing), dtype=bool)
    if len(listing):
        np.not_equal(listing[1:], listing[:-1], out=last[:-1])
        last[:-1] |= to_day[1:] != to_day[:-1]
    counter, price = counter[last], price[last]
    listing, to_day = listing[last], to_day[last]
    del last
    first = np.ones(len(listing), dtype=bool)  # a listing's first sighting
    if len(listing):
        np.not_equal(listing[1:], listing[:-1], out=first[1:])
    # between two sightings: the counter's rise (a fall counts as zero)
    gained = np.zeros(len(counter))
    np.subtract(counter[1:], counter[:-1], out=gained[1:])
    np.clip(gained, 0, None, out=gained)
    from_day = np.empty_like(to_day)
    from_day[1:] = to_day[:-1]
    # a first sighting: new since the market's previous crawl day, if any
    previous = previous_crawl[to_day]
    new = first & (previous >= 0)
    gained[first], from_day[first] = 0.0, -1
    gained[new], from_day[new] = counter[new], previous[new]
    del counter, previous, new, first
    sales = np.multiply(gained, price, out=gained)
    del price
    keep = (sales > 0) & (from_day >= 0)
    return listing[keep], from_day[keep] + 1, to_day[keep] + 1, sales[keep]


def _one_market(file, path, market: str, origin_day: int, n_days: int):
    """Daily counts and sales, and the vendor pairs, of one market. Arrays are per row
    in file order (`_file`) or in sorted order; each is freed once used, memory being
    what limits the largest market."""
    table = _MarketRows(file, market)
    day_file = _column(table, "crawl_date", "int32") - np.int32(origin_day)
    n = len(day_file)
    listing, _ = ranked_codes(table.column("listing_id"), "listing_id", path, values=False)
    n_values = int(listing.max()) + 1 if len(listing) else 1
    # rows sorted by (listing_id, crawl_date, row in file): the stable sort of the
    # in-memory code (ties on a listing and day keep the file's order)
    wide = n_values * n_days >= np.iinfo(np.int32).max
    key = listing.astype(np.int64 if wide else np.int32) * n_days + day_file
    del listing
    order = np.argsort(key, kind="stable")
    key = key[order]
    day = day_file[order]
    new_listing = _run_starts(key // n_days)
    new_sighting = _run_starts(key)
    del key
    lid = np.cumsum(new_listing, dtype=np.int32) - 1  # listing number of each sorted row
    first_row = _starts(new_listing)
    n_listings = len(first_row)
    last_row = np.append(first_row[1:], n) - 1

    crawl_rows = np.bincount(day[new_sighting], minlength=n_days)
    alive = _interval_counts(day[first_row], day[last_row], n_days)
    del new_sighting, last_row

    # vendor pairs (the market is fixed: one per vendor), indexed by vendor code
    vendor_file, vendors = ranked_codes(table.column("vendor_key"), "vendor_key", path)
    n_vendors = max(len(vendors), 1)
    first = np.full(n_vendors, np.iinfo(np.int32).max, dtype=np.int32)
    last = np.full(n_vendors, -1, dtype=np.int32)
    np.minimum.at(first, vendor_file, day_file)
    np.maximum.at(last, vendor_file, day_file)
    del day_file
    # a pair's listings: the distinct (vendor, listing) of the runs of one listing
    # and vendor over the sorted rows
    vendor = vendor_file[order]
    run = _starts(new_listing | _run_starts(vendor))
    run_vendor, run_listing = vendor[run], lid[run]
    # most listings have one vendor (one run): only the others need a distinct count
    runs = np.bincount(run_listing, minlength=n_listings)
    single = runs[run_listing] == 1
    combos = np.unique(run_vendor[~single].astype(np.int64) * n_listings + run_listing[~single])
    pair_listings = np.bincount(run_vendor[single], minlength=n_vendors) + np.bincount(
        combos // n_listings, minlength=n_vendors
    )
    del vendor, run, run_vendor, run_listing, runs, single, combos, new_listing
    # a listing's vendor for its sales: that of its first row in the file
    listing_vendor = vendor_file[np.minimum.reduceat(order, first_row)] if n else first_row
    del first_row

    present = last >= 0  # vendors with rows (a dictionary may hold more values)
    pairs = pd.DataFrame(
        {
            "vendor_key": np.array(vendors, dtype=object)[present] if vendors else [],
            "first": first[present],
            "last": last[present],
            "n_listings": pair_listings[present].astype(np.int64),
        }
    )
    # modes of category and region per pair (ties: the first value in byte order)
    for column in ("drug_category", "ships_from_region"):
        codes, values = ranked_codes(table.column(column), column, path)
        width = max(len(values), 1)
        cell = vendor_file.astype(np.int64 if n_vendors * width >= 2**31 else np.int32) * width
        counts = np.bincount(cell + codes, minlength=n_vendors * width)
        counts = counts.reshape(n_vendors, width)[present]
        best = np.array([*values, None], dtype=object)[counts.argmax(axis=1)]
        pairs[column] = np.where(counts.max(axis=1) > 0, best, None)
        del codes, cell, counts
    del vendor_file

    previous_crawl = np.where(crawl_rows > 0, np.arange(n_days, dtype=np.int32), -1)
    previous_crawl = np.concatenate([[-1], np.maximum.accumulate(previous_crawl)[:-1]])
    columns = {}
    for name, column in (("feedback", "feedback_count"), ("price", "price_usd")):
        values = _column(table, column, "float64")
        columns[name] = values[order]
        del values
    del table, order
    inc_listing, start, stop, sales = _sales_increments_sorted(
        lid, day, columns, previous_crawl.astype(np.int32)
    )
    del lid, day
    # market sales: every start, then every stop, added in increment order
    per_day = sales / (stop - start)
    daily = np.bincount(
        np.concatenate([start, stop]),
        weights=np.concatenate([per_day, -per_day]),
        minlength=n_days + 1,
    ).astype(np.float64)  # (no increments: bincount gives integers)
    daily = np.cumsum(daily)[:n_days]
    active_vendors = _interval_counts(
        first[present].astype(np.int64), last[present].astype(np.int64), n_days
    )
    # vendor sales: a grouped sum over the increments in order (pandas' summation)
    sums = pd.Series(sales).groupby(listing_vendor[inc_listing], sort=False).sum()
    est = np.zeros(n_vendors)
    est[sums.index.to_numpy()] = sums.to_numpy()
    pairs["est_sales_usd"] = est[present]
    days = {"alive": alive, "vendors": active_vendors, "sales": daily, "crawl_rows": crawl_rows}
    return days, pairs


def panels_of_file(path, dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """market_day_panel and vendor_market_panel of the clean listings at `path`
    (what panels_of_chunks gives over listing_chunks, bit-identically), with numpy,
    in memory that grows with the largest market's rows."""
    import pyarrow.parquet as pq

    markets, first_day, last_day = _markets_and_days(path)
    file = pq.ParquetFile(path, read_dictionary=_CODED)
    if not markets:
        return pd.DataFrame(columns=MARKET_DAY_COLUMNS), pd.DataFrame(columns=VENDOR_MARKET_COLUMNS)
    n_days = last_day - first_day + 1
    calendar = pd.date_range(pd.Timestamp(first_day, unit="D"), periods=n_days, freq="D")
    dates = np.array(calendar.date, dtype=object)
    frames, pair_frames = [], []
    for market in markets:
        days, pairs = _one_market(file, path, market, first_day, n_days)
        frames.append(
            _market_day_frame(
                dataset,
                market,
                calendar,
                days["alive"],
                days["vendors"],
                days["sales"],
                days["crawl_rows"],
            )
        )
        pairs.insert(1, "market", market)
        pair_frames.append(pairs)
    market_day = pd.concat(frames, ignore_index=True)
    market_day["date"] = market_day["date"].dt.date

    pairs = pd.concat(pair_frames, ignore_index=True)
    # the pandas dtypes of the file's string columns (as read_parquet gives them)
    types = pq.read_schema(path).empty_table().to_pandas().dtypes
    out = pd.DataFrame(
        {
            "dataset": dataset,
            "vendor_key": pd.array(pairs["vendor_key"].to_numpy(object), dtype=types["vendor_key"]),
            "market": pd.array(pairs["market"].to_numpy(object), dtype=types["market"]),
            "first_seen": pd.Series(dates[pairs["first"].to_numpy()], dtype=object),
            "last_seen": pd.Series(dates[pairs["last"].to_numpy()], dtype=object),
            "n_listings": pairs["n_listings"].to_numpy(np.int64),
            "est_sales_usd": pairs["est_sales_usd"].round(6).to_numpy(),
            "main_category": pd.array(
                pairs["drug_category"].to_numpy(object), dtype=types["drug_category"]
            ),
            "ships_from_region": pd.array(
                pairs["ships_from_region"].to_numpy(object), dtype=types["ships_from_region"]
            ),
        }
    )
    # one row per pair, sorted by vendor_key then market (byte order, as the pandas sort)
    out = out.sort_values(["vendor_key", "market"], kind="stable", ignore_index=True)
    return market_day[MARKET_DAY_COLUMNS], out[VENDOR_MARKET_COLUMNS]
