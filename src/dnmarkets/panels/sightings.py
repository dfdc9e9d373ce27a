"""The clean listings table read out of core, a chunk of whole listings at a time.

The table has one row per listing and crawl (tens of millions of rows at 100x
scale), while the models and panels need per-listing and per-vendor figures. DuckDB
sorts the columns needed on disk, within `memory_limit`, by (market, listing_id,
crawl_date, row in file) - the order of the stable pandas sorts of the in-memory
code - and hands them over in batches. Each chunk holds every sighting of its
listings, rows back in file order, so the in-memory functions applied to a chunk
give exactly their per-listing results on the whole table, and chunks come in
(market, listing_id) order, so sums taken across chunks in that order are
bit-identical too.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dnmarkets.panels.build import market_crawl_days

KEY = ["market", "listing_id"]
ROW = "_row"  # row number in the file: ties on crawl_date keep the file's order
CHUNK_ROWS = 500_000
MEMORY_LIMIT = "1GB"  # DuckDB spills to disk beyond this
# first_sightings' join and sort: at 100x scale DuckDB used 1.6 GB under a 1 GB
# limit (2.4 GB peak for the job); under 500 MB, 1.9 GB
FIRST_MEMORY_LIMIT = "500MB"


@contextlib.contextmanager
def _session(memory_limit: str, threads: int) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection that spills to its own temporary folder; both are gone
    afterwards (also when the caller stops reading a generator early)."""
    with tempfile.TemporaryDirectory(prefix="dnm-duckdb-") as tmp:
        con = _connect(tmp, memory_limit, threads)
        try:
            yield con
        finally:
            con.close()


def _connect(tmp: str, memory_limit: str, threads: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET temp_directory = '{tmp}'")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")  # no terminal bars in the job logs
    return con


def _schema(path: str | Path, columns: list[str]) -> pa.Schema:
    """The file's Arrow types of `columns`, with its pandas metadata, so chunks get
    the dtypes pandas.read_parquet gives (nullable booleans and integers, str)."""
    schema = pq.read_schema(path)
    return pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: str | Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def listing_chunks(
    path: str | Path,
    columns: list[str],
    chunk_rows: int = CHUNK_ROWS,
    memory_limit: str = MEMORY_LIMIT,
    threads: int = 2,
) -> Iterator[pd.DataFrame]:
    """Frames of `columns` (plus market, listing_id, crawl_date), each holding all
    sightings of a run of listings in (market, listing_id) order, rows in file order."""
    columns = list(dict.fromkeys([*KEY, "crawl_date", *columns]))
    schema = _schema(path, columns)
    select = ", ".join(_quote(c) for c in columns)
    query = (
        f"SELECT {select}, file_row_number AS {ROW} "
        f"FROM read_parquet({_literal(path)}, file_row_number = true) "
        f"ORDER BY market, listing_id, crawl_date, {ROW}"
    )
    with _session(memory_limit, threads) as con:
        # con.sql streams; a DB-API result (con.execute) would copy every row first
        chunks = 0
        for table in _whole_listings(con.sql(query).to_arrow_reader(chunk_rows)):
            chunks += 1
            yield _to_pandas(table, schema)
        if not chunks:  # an empty table: one empty chunk, with the dtypes
            yield schema.empty_table().to_pandas()


def _whole_listings(batches) -> Iterator[pa.Table]:
    """Consecutive record batches sorted by listing, cut where a listing ends: the last
    listing of a batch may continue in the next one, so it is held back until then."""
    carry: pa.Table | None = None
    for batch in batches:
        table = pa.Table.from_batches([batch])
        if carry is not None:
            table = pa.concat_tables([carry, table])
        n = _start_of_last_listing(table)
        carry = table.slice(n)
        if n:
            yield table.slice(0, n)
    if carry is not None and carry.num_rows:
        yield carry


def _start_of_last_listing(table: pa.Table) -> int:
    market = table.column("market")
    listing = table.column("listing_id")
    last_market, last_listing = market[-1].as_py(), listing[-1].as_py()
    n = table.num_rows
    # listings are contiguous: step back over the last one (usually a handful of rows)
    step = 64
    while True:
        lo = max(0, n - step)
        tail_m = market.slice(lo).to_pylist()
        tail_l = listing.slice(lo).to_pylist()
        for i in range(len(tail_m) - 1, -1, -1):
            if tail_m[i] != last_market or tail_l[i] != last_listing:
                return lo + i + 1
        if lo == 0:
            return 0
        step *= 4


def _to_pandas(table: pa.Table, schema: pa.Schema) -> pd.DataFrame:
    rows = table.column(ROW).to_numpy()
    data = table.drop_columns([ROW]).cast(schema)
    frame = data.to_pandas()
    # back to file order, the order the in-memory functions saw
    order = rows.argsort(kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def per_listing(
    path: str | Path, columns: list[str], *functions: Callable, chunk_rows: int = CHUNK_ROWS
) -> list[pd.DataFrame]:
    """Each `function(chunk, crawl_days)` applied to every chunk, concatenated: the
    result of `function(whole table, ...)` for functions with one row per listing."""
    days = crawl_days(path)
    parts: list[list[pd.DataFrame]] = [[] for _ in functions]
    for chunk in listing_chunks(path, columns, chunk_rows):
        for part, function in zip(parts, functions, strict=True):
            part.append(function(chunk, days))
    return [pd.concat(part, ignore_index=True) for part in parts]


def crawl_days(path: str | Path, memory_limit: str = MEMORY_LIMIT) -> pd.DataFrame:
    """panels.market_crawl_days of the whole table, read out of core."""
    schema = _schema(path, ["market", "crawl_date"])
    with _session(memory_limit, 2) as con:
        table = con.sql(
            f"SELECT DISTINCT market, crawl_date FROM read_parquet({_literal(path)}) "
            "ORDER BY market, crawl_date"
        ).to_arrow_table()
    return market_crawl_days(table.cast(schema).to_pandas())


def distinct_values(path: str | Path, column: str, memory_limit: str = MEMORY_LIMIT):
    """Batches (lists) of the distinct non-null values of `column`."""
    with _session(memory_limit, 2) as con:
        col = _quote(column)
        reader = con.sql(
            f"SELECT DISTINCT {col} FROM read_parquet({_literal(path)}) WHERE {col} IS NOT NULL"
        ).to_arrow_reader(CHUNK_ROWS)
        for batch in reader:
            yield batch.column(0).to_pylist()


def group_counts(
    path: str | Path, keys: list[str], memory_limit: str = MEMORY_LIMIT
) -> pd.DataFrame:
    """Rows of the table per distinct `keys` (nulls included), in column `n`, as
    pandas.read_parquet types: a GROUP BY on disk instead of a whole-table read."""
    schema = _schema(path, keys)
    cols = ", ".join(_quote(c) for c in keys)
    with _session(memory_limit, 2) as con:
        table = con.sql(
            f"SELECT {cols}, count(*) AS n FROM read_parquet({_literal(path)}) "
            f"GROUP BY {cols} ORDER BY {cols}"
        ).to_arrow_table()
    counts = table.select(keys).cast(schema).to_pandas()
    counts["n"] = table.column("n").to_numpy().astype("int64")
    return counts


def first_sightings(
    path: str | Path,
    columns: list[str],
    where: str | None = None,
    reduce: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    memory_limit: str = FIRST_MEMORY_LIMIT,
    threads: int = 2,
) -> pd.DataFrame:
    """Each listing's first sighting: `columns` (plus market, listing_id, crawl_date)
    of its row with the earliest crawl_date, the first in the file among equals, and
    `sightings`, its number of rows; one row per listing in (market, listing_id)
    order, pandas.read_parquet types. That is the stable sort by (market, listing_id,
    crawl_date) and drop_duplicates(keep="first") of the in-memory code, found by a
    hash aggregation (which row is first) and a join: no sort of every row's columns.
    `where`: a boolean column; only the listings whose first sighting has it true.
    `reduce`: applied to each batch of listings as an Arrow table of the file's types
    (e.g. to replace long texts by flags)."""
    columns = list(dict.fromkeys([*KEY, "crawl_date", *columns]))
    schema = _schema(path, columns)
    source = f"read_parquet({_literal(path)}, file_row_number = true)"
    # (day, row in file) as one integer; a missing day sorts last, as pandas puts NaT
    day = "coalesce(date_diff('day', DATE '1970-01-01', crawl_date), 16777216) + 16777216"
    order = f"({day})::BIGINT * 68719476736 + file_row_number"
    select = ", ".join(f"t.{_quote(c)}" for c in columns)
    # the filter on the first row inside the aggregation: a filter on the join's
    # rows made DuckDB build its hash table on them (memory) instead of on the firsts
    having = f" HAVING arg_min({_quote(where)}, {order})" if where else ""
    query = (
        "WITH firsts AS ("
        f" SELECT arg_min(file_row_number, {order}) AS first_row, count(*) AS sightings"
        f" FROM {source} GROUP BY market, listing_id{having})"
        f" SELECT {select}, f.sightings FROM {source} AS t"
        " JOIN firsts AS f ON t.file_row_number = f.first_row"
        " ORDER BY t.market, t.listing_id"
    )
    schema = schema.append(pa.field("sightings", pa.int64()))
    parts = []
    with _session(memory_limit, threads) as con:
        # batch by batch (the whole table at once, in DuckDB, Arrow and pandas, was 4 GB
        # at 100x scale), kept in Arrow and made pandas once: per-batch frames left half
        # a gigabyte of freed Python objects (the dates) the process never got back
        for batch in con.sql(query).to_arrow_reader(CHUNK_ROWS):
            table = pa.Table.from_batches([batch]).cast(schema)
            parts.append(reduce(table) if reduce else table)
    if not parts:
        parts = [reduce(schema.empty_table()) if reduce else schema.empty_table()]
    return pa.concat_tables(parts).to_pandas()


def has_value(path: str | Path, column: str, value: str) -> bool:
    """Whether any row of the table has `value` in `column` (a scan that stops at the first)."""
    with _session(MEMORY_LIMIT, 2) as con:
        found = con.sql(
            f"SELECT 1 FROM read_parquet({_literal(path)}) "
            f"WHERE {_quote(column)} = {_literal(value)} LIMIT 1"
        ).fetchall()
    return bool(found)


def distinct_values_containing(
    path: str | Path, column: str, substrings: list[str], memory_limit: str = MEMORY_LIMIT
):
    """distinct_values of `column` among the values containing one of `substrings`:
    a cheap filter before the distinct (most titles hold none of the markup's marks)."""
    col = _quote(column)
    found = " OR ".join(f"contains({col}, {_literal(s)})" for s in substrings)
    with _session(memory_limit, 2) as con:
        reader = con.sql(
            f"SELECT DISTINCT {col} FROM read_parquet({_literal(path)}) "
            f"WHERE {col} IS NOT NULL AND ({found})"
        ).to_arrow_reader(CHUNK_ROWS)
        for batch in reader:
            yield batch.column(0).to_pylist()


def listing_sales(path: str | Path, chunk_rows: int = CHUNK_ROWS) -> pd.Series:
    """panels.feedback_sales per (market, listing_id) of the whole table (listings
    with a sale), worked out in numpy on the sorted sightings, a run of whole
    listings at a time: panels._feedback_increments (one sighting per listing and
    day, the counter's rises, a new listing's counter since the market's previous
    crawl) and the per-listing sum in row order with the compensated (Kahan)
    summation of pandas' groupby sum, so the sums are bit-identical (a test compares
    them). pandas per chunk was most of both jobs' time at 100x scale."""
    previous = {
        market: (_days(group["crawl_date"]), _days(group["previous_crawl"]))
        for market, group in crawl_days(path).groupby("market", sort=False, observed=True)
    }
    query = (
        "SELECT market, listing_id, crawl_date, feedback_count, price_usd "
        f"FROM read_parquet({_literal(path)}, file_row_number = true) "
        "WHERE feedback_count IS NOT NULL "
        "ORDER BY market, listing_id, crawl_date, file_row_number"
    )
    parts: list[tuple] = []
    with _session(MEMORY_LIMIT, 2) as con:
        for table in _whole_listings(con.sql(query).to_arrow_reader(chunk_rows)):
            parts.append(_chunk_sales(table.combine_chunks(), previous))
    values = np.concatenate([p[2] for p in parts]) if parts else np.empty(0)
    keys = [
        pa.chunked_array(
            [p[k].cast(pa.large_string()) for p in parts], pa.large_string()
        ).to_pandas()
        for k in (0, 1)
    ]
    index = pd.MultiIndex.from_arrays([k.astype("str") for k in keys], names=KEY)
    return pd.Series(values, index=index, name="est_sales_usd")


def _days(dates: pd.Series) -> np.ndarray:
    """Days since 1970 of datetime.date values (NaT/None as a very small number)."""
    out = pd.to_datetime(pd.Series(dates, dtype=object)).to_numpy("datetime64[D]")
    days = out.astype("int64")
    days[np.isnat(out)] = np.iinfo(np.int64).min
    return days


def _chunk_sales(table: pa.Table, previous: dict) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """(markets, listing ids, sales) of the listings of `table` (whole listings, in
    (market, listing_id, crawl_date, row) order) with at least one sale."""
    n = table.num_rows
    market, listing = table.column("market"), table.column("listing_id")
    # rows continuing the previous row's listing
    same = np.zeros(n, dtype=bool)
    if n > 1:
        same[1:] = (
            pc.and_(
                pc.equal(market.slice(1), market.slice(0, n - 1)),
                pc.equal(listing.slice(1), listing.slice(0, n - 1)),
            )
            .to_numpy(zero_copy_only=False)
            .astype(bool)
        )
    day = table.column("crawl_date").cast(pa.int32()).to_numpy(zero_copy_only=False)
    # one sighting per listing and day: the last (drop_duplicates keep="last")
    keep = np.ones(n, dtype=bool)
    keep[:-1] = ~(same[1:] & (day[1:] == day[:-1]))
    ordinal = np.cumsum(~same) - 1  # listing number within the chunk
    rows = np.flatnonzero(keep)
    ordinal, day = ordinal[rows], day[rows]
    counter = table.column("feedback_count").to_numpy(zero_copy_only=False)[rows]
    counter = counter.astype("float64")
    price = table.column("price_usd").to_numpy(zero_copy_only=False)[rows]
    kept_same = np.zeros(len(rows), dtype=bool)
    kept_same[1:] = ordinal[1:] == ordinal[:-1]
    gained = np.full(len(rows), np.nan)
    gained[1:] = counter[1:] - counter[:-1]
    gained = np.where(gained < 0, 0.0, gained)  # clip(lower=0), NaN kept
    gained[~kept_same] = np.nan
    # a listing's first sighting: its counter, if the market had an earlier crawl
    has_previous = np.zeros(len(rows), dtype=bool)
    market_of_row = market.take(pa.array(rows)).to_numpy(zero_copy_only=False)
    for name in pd.unique(market_of_row):
        mask = market_of_row == name
        crawl, before = previous[name]
        at = np.searchsorted(crawl, day[mask])
        has_previous[mask] = before[at] != np.iinfo(np.int64).min
    new_listing = ~kept_same & has_previous
    gained = np.where(new_listing, counter, gained)
    gained = np.where(np.isnan(gained), 0.0, gained)
    with np.errstate(invalid="ignore"):
        sales = gained * price
        counted = (sales > 0) & (kept_same | new_listing)
    ordinal, sales = ordinal[counted], sales[counted]
    groups, first_row = np.unique(ordinal, return_index=True)
    # pandas sums groups with sorted ids and no NaN by np.add.reduceat (its Kahan
    # kernel otherwise); the sales here are positive and grouped in order
    totals = np.add.reduceat(sales, first_row) if len(sales) else np.empty(0)
    # each listing's key from its first row in the chunk
    starts = np.flatnonzero(~same)[groups]
    index = pa.array(starts)
    return market.take(index), listing.take(index), totals
