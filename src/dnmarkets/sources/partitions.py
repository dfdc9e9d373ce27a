"""Partitions of a dataset's raw snapshots: one market over a block of months.

A partition is named `<market>__<YYYY-MM>` after the first month of its block;
blocks of `block_months` calendar months are aligned on January, so monthly,
quarterly and half-yearly blocks all have stable names. Cleaning runs once per
partition, so the work parallelises across cores and
cluster nodes. Partitions must be known when Snakemake builds the DAG, so they
are derived from the configuration (simulated data) or from the checksum
manifest kept in the project (real data), never from files yet to be made.
"""

from __future__ import annotations

import datetime as dt
import re

from dnmarkets.sources.fields import day_of_match

PARTITION_RE = re.compile(r"^(?P<market>[a-z0-9]+)__(?P<month>\d{4}-\d{2})$")


def partition_name(market: str, month: str) -> str:
    return f"{market}__{month}"


def parse_partition(name: str) -> tuple[str, str]:
    match = PARTITION_RE.match(name)
    if not match:
        raise ValueError(f"not a partition name (expected <market>__<YYYY-MM>): {name!r}")
    return match["market"], match["month"]


def months_between(first: dt.date, last: dt.date) -> list[str]:
    """Calendar months touched by [first, last], as YYYY-MM strings."""
    if last < first:
        return []
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def block_start(month: str, block_months: int) -> str:
    """First month of the aligned block holding `month`."""
    year, mon = (int(x) for x in month.split("-"))
    first = (mon - 1) // block_months * block_months + 1
    return f"{year:04d}-{first:02d}"


def block_months_of(month: str, block_months: int) -> list[str]:
    """All months of the block starting at `month`."""
    year, mon = (int(x) for x in month.split("-"))
    return [f"{year:04d}-{m:02d}" for m in range(mon, min(mon + block_months, 13))]


def simulated_partitions(sim_cfg: dict, block_months: int = 1) -> list[str]:
    """Partitions in which a simulated market can be crawled."""
    if not 1 <= block_months <= 12 or 12 % block_months:
        raise ValueError(f"block_months must divide 12, got {block_months}")
    start = dt.date.fromisoformat(sim_cfg["start"])
    end = dt.date.fromisoformat(sim_cfg["end"])
    takedowns = {t["market"]: dt.date.fromisoformat(t["date"]) for t in sim_cfg["takedowns"]}
    names = []
    for market in sim_cfg["markets"]:
        first = max(start, dt.date.fromisoformat(market["opened"]))
        last = end
        if "closed" in market:
            last = min(last, dt.date.fromisoformat(market["closed"]))
        if market["slug"] in takedowns:
            last = min(last, takedowns[market["slug"]])
        blocks = {block_start(m, block_months) for m in months_between(first, last)}
        names += [partition_name(market["slug"], m) for m in blocks]
    return sorted(names)


def tabular_crawl_days(table_spec: dict, paths: list[str]) -> list[str]:
    """Crawl days (YYYY-MM-DD) of a tabular source's files, from names or a constant."""
    rule = table_spec["crawl_date"]
    if "constant" in rule:
        return [rule["constant"]] if paths else []
    if "filename" not in rule:
        raise ValueError("partitions of a tabular table need crawl_date filename or constant")
    days = []
    for path in paths:
        match = re.search(rule["filename"], path.rsplit("/", 1)[-1])
        if match:
            days.append(day_of_match(match))
    return sorted(days)


def in_period(day: str, period: list[str] | None) -> bool:
    return period is None or period[0] <= day <= period[1]


def tabular_markets(spec: dict) -> list[dict]:
    """The markets of a tabular dataset: its `markets` list, or its one `market`."""
    return spec["markets"] if "markets" in spec else [spec["market"]]


def market_matches(spec: dict) -> dict[str, str]:
    """Value in the data (column or path) -> market slug; `match` defaults to the slug."""
    return {str(m.get("match", m["slug"])): m["slug"] for m in tabular_markets(spec)}


def path_market_value(table_spec: dict, path: str) -> str | None:
    """The market named by a file's path (relative to the mirror root) under the
    table's `market: {path: regex}` (the regex's first group), or None."""
    match = re.search(table_spec["market"]["path"], path)
    return match.group(1) if match else None


def _table_markets(spec: dict, table: str, paths: list[str]) -> dict[str, list[str]]:
    """Source paths of each market of one table. A market taken from a column may
    be in any file, so every file counts for every market; a path that names no
    configured market counts for none (its rows are quarantined at import)."""
    table_spec = spec[table]
    if "markets" not in spec:
        return {spec["market"]["slug"]: paths}
    if "path" not in table_spec["market"]:
        return {m["slug"]: paths for m in tabular_markets(spec)}
    matches = market_matches(spec)
    out: dict[str, list[str]] = {}
    for path in paths:
        slug = matches.get(path_market_value(table_spec, path))
        if slug is not None:
            out.setdefault(slug, []).append(path)
    return out


def tabular_partitions(spec: dict, source_paths: list[str], block_months: int = 1) -> list[str]:
    """Partitions of a tabular dataset, from the source files listed in data/sources.tsv."""
    from fnmatch import fnmatch

    blocks = set()
    for table in ("listings", "vendors"):
        if table not in spec:
            continue
        paths = [p for p in source_paths if fnmatch(p, spec[table]["files"])]
        for slug, market_paths in _table_markets(spec, table, paths).items():
            days = tabular_crawl_days(spec[table], market_paths)
            blocks |= {
                (slug, block_start(d[:7], block_months))
                for d in days
                if in_period(d, spec.get("period"))
            }
    return sorted(partition_name(slug, m) for slug, m in blocks)
