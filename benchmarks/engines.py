"""pandas, pyarrow compute, polars and DuckDB on the same step of the pipeline (issue 8).

Not a test: it prints figures and saves benchmarks/output/engines.csv and engines.md.

The step is the one that made the models' memory grow with the data: reducing the
clean listings table (one row per listing and crawl) to one row per listing -
sightings, first and last crawl date, mean price in USD, and the vendor key and
ships-from country of the first sighting (earliest crawl, ties in file order), in
(market, listing_id) order. Every engine computes it from the same Parquet file, in
a process of its own (wall time, CPU time and peak resident memory of that process),
and every result is compared with pandas' (exactly; the mean price to 1e-9):

- pandas: the whole table read, a stable sort, a groupby (what the models once did);
- pyarrow: `Table.sort_by` and `Table.group_by(...).aggregate` (single-threaded for
  the order-dependent "first");
- polars: a lazy scan and group_by, run by the streaming engine;
- duckdb: one SQL query, 1 GB memory limit (spills to disk beyond it);
- pipeline: what the pipeline runs (`dnmarkets.panels.sightings.listing_chunks`: DuckDB
  sorts on disk, pandas reduces chunks of whole listings).

    uv run --group bench python benchmarks/engines.py TABLE.parquet [TABLE ...]
    uv run --group bench python benchmarks/engines.py --engines duckdb polars T.parquet
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from machine import describe  # noqa: E402

KEY = ["market", "listing_id"]
COLUMNS = [*KEY, "crawl_date", "vendor_key", "ships_from", "price_usd"]
ENGINES = ["pandas", "pyarrow", "polars", "duckdb", "pipeline"]
RESULT = ["market", "listing_id", "sightings", "first_seen", "last_seen", "mean_price_usd",
          "vendor_key", "ships_from"]  # fmt: skip


def _pandas_reduce(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-listing figures of rows in file order (a whole table or whole listings)."""
    # Arrow dates arrive as Python date objects, which groupby reduces in Python
    frame = frame.assign(crawl_date=pd.to_datetime(frame["crawl_date"]))
    frame = frame.sort_values([*KEY, "crawl_date"], kind="stable")
    grouped = frame.groupby(KEY, sort=False, observed=True)
    out = grouped.agg(
        sightings=("crawl_date", "size"),
        first_seen=("crawl_date", "min"),
        last_seen=("crawl_date", "max"),
        mean_price_usd=("price_usd", "mean"),
    )
    # first row of each listing in (crawl_date, file order): its vendor and country
    first = frame.drop_duplicates(KEY).set_index(KEY)[["vendor_key", "ships_from"]]
    return out.join(first).reset_index()


def run_pandas(path: str) -> pd.DataFrame:
    return _pandas_reduce(pd.read_parquet(path, columns=COLUMNS))


def run_pipeline(path: str) -> pd.DataFrame:
    from dnmarkets.panels.sightings import listing_chunks

    parts = [_pandas_reduce(chunk) for chunk in listing_chunks(path, COLUMNS)]
    return pd.concat(parts, ignore_index=True)


def run_pyarrow(path: str) -> pa.Table:
    table = pq.read_table(path, columns=COLUMNS)
    table = table.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
    table = table.sort_by([(c, "ascending") for c in [*KEY, "crawl_date", "_row"]])
    # "first" depends on the row order, which only the single-threaded group_by keeps
    out = table.group_by(KEY, use_threads=False).aggregate(
        [
            ("crawl_date", "count"),
            ("crawl_date", "min"),
            ("crawl_date", "max"),
            ("price_usd", "mean"),
            ("vendor_key", "first"),
            ("ships_from", "first"),
        ]
    )
    return out.rename_columns([*KEY, *RESULT[2:]]).sort_by([(c, "ascending") for c in KEY])


def run_polars(path: str):
    import polars as pl

    order = ["crawl_date", "_row"]
    query = (
        pl.scan_parquet(path)
        .select(COLUMNS)
        .with_row_index("_row")
        .group_by(KEY)
        .agg(
            pl.len().alias("sightings"),
            pl.col("crawl_date").min().alias("first_seen"),
            pl.col("crawl_date").max().alias("last_seen"),
            pl.col("price_usd").mean().alias("mean_price_usd"),
            pl.col("vendor_key").sort_by(order).first(),
            pl.col("ships_from").sort_by(order).first(),
        )
        .sort(KEY)
    )
    return query.collect(engine="streaming").to_arrow()


def run_duckdb(path: str) -> pa.Table:
    # the pipeline's DuckDB settings (memory limit, spill folder, insertion order)
    from dnmarkets.panels.sightings import MEMORY_LIMIT, _connect, _literal

    with tempfile.TemporaryDirectory(prefix="dnm-engines-") as tmp:
        con = _connect(tmp, MEMORY_LIMIT, os.cpu_count() or 2)
        try:
            return con.sql(
                "SELECT market, listing_id, count(*) AS sightings, "
                "min(crawl_date) AS first_seen, max(crawl_date) AS last_seen, "
                "avg(price_usd) AS mean_price_usd, "
                "arg_min(vendor_key, (crawl_date, file_row_number)) AS vendor_key, "
                "arg_min(ships_from, (crawl_date, file_row_number)) AS ships_from "
                f"FROM read_parquet({_literal(path)}, file_row_number = true) "
                "GROUP BY market, listing_id ORDER BY market, listing_id"
            ).to_arrow_table()
        finally:
            con.close()


def _as_frame(result) -> pd.DataFrame:
    frame = result if isinstance(result, pd.DataFrame) else result.to_pandas()
    frame = frame[RESULT].reset_index(drop=True)
    frame["sightings"] = frame["sightings"].astype("int64")
    for col in ["first_seen", "last_seen"]:
        frame[col] = pd.to_datetime(frame[col])
    for col in ["market", "listing_id", "vendor_key", "ships_from"]:
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


def child(engine: str, path: str, out: str) -> None:
    """Run one engine (in its own process) and save its result for the comparison."""
    start = time.perf_counter()
    result = globals()[f"run_{engine}"](path)
    seconds = time.perf_counter() - start
    _as_frame(result).to_parquet(out)
    print(json.dumps({"step_s": round(seconds, 2)}))


def measure(engine: str, path: Path, workdir: Path) -> tuple[dict, pd.DataFrame]:
    out = workdir / f"{engine}.parquet"
    cmd = [sys.executable, __file__, "--child", engine, str(path), str(out)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stdout = proc.stdout.read()
    proc.stdout.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{engine} failed on {path}")
    row = {
        "engine": engine,
        "process_s": round(wall, 2),  # interpreter start and imports included
        **json.loads(stdout.strip().splitlines()[-1]),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_mb": round(usage.ru_maxrss / 1024),
    }
    return row, pd.read_parquet(out)


def compare(reference: pd.DataFrame, other: pd.DataFrame) -> str:
    """'identical', or what differs."""
    if len(reference) != len(other):
        return f"{len(other)} listings, not {len(reference)}"
    for col in RESULT:
        a, b = reference[col], other[col]
        if col == "mean_price_usd":
            same = ((a - b).abs() <= 1e-9 * a.abs().clip(lower=1)) | (a.isna() & b.isna())
        else:
            same = (a == b) | (a.isna() & b.isna())
        if not same.all():
            return f"{int((~same).sum())} rows differ in {col}"
    return "identical"


def markdown(rows: pd.DataFrame, meta: dict) -> str:
    lines = [
        f"Engines on the per-listing reduction, {meta['date']} on {meta['machine']}.",
        f"Load average before/after: {meta['load_before']:.1f} / {meta['load_after']:.1f}.",
        "",
        "| table rows | listings | engine | step s | process s | CPU s | peak MB | result |",
        "|---:|---:|:--|---:|---:|---:|---:|:--|",
    ]
    for r in rows.itertuples():
        lines.append(
            f"| {r.rows:,} | {r.listings:,} | {r.engine} | {r.step_s:.1f} | {r.process_s:.1f} "
            f"| {r.cpu_s:.1f} | {r.peak_mb:,} | {r.result} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", type=Path, nargs="+", help="clean listings Parquet files")
    parser.add_argument("--engines", nargs="*", default=ENGINES, choices=ENGINES)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/output")
    args = parser.parse_args()
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": describe(),
        "load_before": os.getloadavg()[0],
    }
    engines = ["pandas", *[e for e in args.engines if e != "pandas"]]
    rows = []
    with tempfile.TemporaryDirectory(prefix="dnm-engines-") as tmp:
        for table in args.tables:
            n_rows = pq.ParquetFile(table).metadata.num_rows
            reference = None
            for engine in engines:
                row, result = measure(engine, table.resolve(), Path(tmp))
                if reference is None:
                    reference = result
                row.update(
                    rows=n_rows,
                    listings=len(result),
                    result="reference" if engine == "pandas" else compare(reference, result),
                )
                print(json.dumps({"table": str(table), **row}), flush=True)
                rows.append(row)
    meta["load_after"] = os.getloadavg()[0]
    frame = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / "engines.csv", index=False)
    text = markdown(frame, meta)
    (args.out / "engines.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
