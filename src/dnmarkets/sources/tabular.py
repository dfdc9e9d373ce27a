"""Import tabular scrapes into canonical raw snapshots, by a declarative mapping.

A real dataset in config.yaml says, per table (`listings`, `vendors`), which
source files to read, how to find each row's crawl day, and how each canonical
column (docs/data_model.md) is made from the source columns:

    columns:
      title: name                        # copy a source column
      price: {template: "{price} BTC"}   # fill a template with source columns
      category: {constant: Drugs/Cocaine}
      listing_id: {hash: [vendor, name]} # stable id where the source has none
      listing_id: {column: product_link, regex: "offer=([0-9.]+)"}
      pgp_fingerprint: {column: publicKey, transform: openpgp_fingerprint}

A canonical column left out is empty. Values are copied as text: all parsing
and checking is cleaning's job, so every source row becomes exactly one raw
row (in the same order, so `raw_row` is also the source row), and the import
accounting records source file, snapshot file and row counts. A source row
of the wrong width (a stray separator) is imported with one field more than
the header, so that cleaning quarantines it as `field_count`.

What stops an import, naming the file (and row and field where there is
one): a truncated gzip, UTF-16 text, bytes invalid in the table's `encoding`
(default UTF-8), an empty or header-only file, a duplicated or missing
source column, an unterminated quote, a crawl day that is not a date, before
the market's `opened` day or in the future, and two source files of one
crawl day unless `files_per_crawl: many` (docs/bad_input.md).

Reader options of a table mapping, for real files' quirks (each tested on a
fixture cut from the real file, tests/sources/test_raw_formats.py):
`line_ends: cr`, `repair: mojibake`, `skip_initial_space`, `strip_header`,
`column_names` (no header row), `pad_short_rows` and `files_per_crawl: many`.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import os
import re
import string
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from dnmarkets.core.io import atomic_path, sha256_file
from dnmarkets.sources.canonical import LISTING_COLUMNS, OPTIONAL_LISTING_COLUMNS, VENDOR_COLUMNS
from dnmarkets.sources.fields import day_of_match, drop_zone_name, repair_mojibake
from dnmarkets.sources.partitions import market_matches, path_market_value, tabular_markets
from dnmarkets.sources.rawcsv import (
    check_wide_encoding,
    csv_records,
    decode,
    decode_error,
    normalise_line_ends,
    read_bytes,
)

UNMATCHED_DIR = "unmatched"  # rows of markets the config does not know (quarantined)
CANONICAL = {"listings": LISTING_COLUMNS, "vendors": VENDOR_COLUMNS}
OPTIONAL = {"listings": OPTIONAL_LISTING_COLUMNS}


class ImportSpecError(ValueError):
    """The mapping in the config cannot be applied to a source file."""


def _transform(name: str):
    if name == "openpgp_fingerprint":
        from dnmarkets.sources.pgp import fingerprints

        return lambda values: fingerprints(values)["fingerprint"].fillna("").astype(str)
    if name == "drop_zone_name":
        return drop_zone_name
    raise ImportSpecError(f"unknown transform {name!r}")


def _source_column(frame: pd.DataFrame, column: str, where: str) -> pd.Series:
    if column not in frame.columns:
        raise ImportSpecError(
            f"{where}: source column {column!r} not found (columns: {list(frame.columns)})"
        )
    return frame[column]


def map_column(frame: pd.DataFrame, spec, where: str) -> pd.Series:
    """One canonical column (as text) from the source frame according to `spec`."""
    n = len(frame)
    if spec is None:
        return pd.Series([""] * n, index=frame.index, dtype=object)
    if isinstance(spec, str):
        spec = {"column": spec}
    if "constant" in spec:
        return pd.Series([str(spec["constant"])] * n, index=frame.index, dtype=object)
    if "template" in spec:
        fields = [f for _, f, _, _ in string.Formatter().parse(spec["template"]) if f]
        for field in fields:
            _source_column(frame, field, where)
        # an empty source value gives an empty result, not a bare " BTC"
        empty = np.zeros(n, dtype=bool)
        for field in fields:
            empty |= (frame[field].str.strip() == "").to_numpy()
        values = [spec["template"].format(**row) for row in frame[fields].to_dict("records")]
        return pd.Series(np.where(empty, "", values), index=frame.index, dtype=object)
    if "hash" in spec:
        cols = [_source_column(frame, c, where) for c in spec["hash"]]
        joined = cols[0].str.cat(cols[1:], sep="\x1f") if len(cols) > 1 else cols[0]
        codes, uniques = pd.factorize(joined)
        digests = np.array(
            ["h" + hashlib.sha1(u.encode("utf-8")).hexdigest()[:16] for u in uniques] + [""],
            dtype=object,
        )
        return pd.Series(digests[codes], index=frame.index, dtype=object)
    if "column" in spec:
        values = _source_column(frame, spec["column"], where)
        if "regex" in spec:
            values = values.str.extract(spec["regex"], expand=False).fillna("")
        if "transform" in spec:
            values = _transform(spec["transform"])(values).set_axis(frame.index)
        return values.astype(object)
    raise ImportSpecError(f"{where}: cannot read column spec {spec!r}")


def crawl_dates(frame: pd.DataFrame, path: Path, spec: dict, where: str) -> pd.Series:
    """Crawl day (YYYY-MM-DD) of every row: from the file name, a column or a constant."""
    if "filename" in spec:
        match = re.search(spec["filename"], path.name)
        if not match:
            raise ImportSpecError(f"{where}: file name does not match {spec['filename']!r}")
        value = day_of_match(match)
    elif "constant" in spec:
        value = str(spec["constant"])
    elif "column" in spec:
        return _source_column(frame, spec["column"], where).str.slice(0, 10)
    else:
        raise ImportSpecError(f"{where}: crawl_date needs filename, column or constant")
    return pd.Series([value] * len(frame), index=frame.index, dtype=object)


class SourceTable(NamedTuple):
    """A source file's cells as text: one frame row per record (short rows padded with
    empty cells), and the records whose width differs from the header's."""

    frame: pd.DataFrame
    odd_rows: dict[int, list[str]]  # 0-based row -> all its fields
    padded_rows: list[int] = []  # 0-based rows short of their last fields (pad_short_rows)


def read_source_csv(
    path: Path, encoding: str = "utf-8", options: dict | None = None
) -> SourceTable:
    """Read a source CSV strictly: errors name the file, and the row and field where
    they can (see :mod:`dnmarkets.sources.rawcsv` for gzip, encodings and line ends).

    `options` are the table mapping's reader options (schemas/config.schema.yaml):
    `line_ends: cr`, `repair: mojibake`, `skip_initial_space`, `strip_header`,
    `column_names` (a file without a header row) and `pad_short_rows`."""
    options = options or {}
    data = read_bytes(path, ImportSpecError)
    if encoding.replace("-", "").lower() == "utf8":
        check_wide_encoding(data, path, ImportSpecError, " or set `encoding`")
    if options.get("line_ends") != "cr":  # records end with bare CR: LFs are in cells
        data = normalise_line_ends(data)
    text, bad = decode(data, path, ImportSpecError, encoding)
    if bad is not None:  # never silently replaced: the user must choose the encoding
        raise ImportSpecError(decode_error(path, bad, data, encoding))
    if options.get("repair") == "mojibake":
        text = repair_mojibake(text)
    header, records = csv_records(
        path, text, ImportSpecError, bool(options.get("skip_initial_space"))
    )
    if options.get("column_names"):  # no header row: the first record is data
        records = ([header] if header else []) + records
        header = list(options["column_names"])
    elif options.get("strip_header"):
        header = [name.strip() for name in header]
    if not header:
        raise ImportSpecError(f"{path}: empty file (no header row)")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise ImportSpecError(f"{path}: duplicated column(s) in header: {', '.join(duplicated)}")
    if not records:
        raise ImportSpecError(
            f"{path}: header but no data rows (an empty crawl): leave the file out of "
            "the source list or the `period`"
        )
    width = len(header)
    # rows missing only their last `pad_short_rows` fields are complete rows with
    # those fields empty (Hansa: no ShippingCountry), not cut-off lines
    shortest = width - int(options.get("pad_short_rows", 0))
    odd = {i: r for i, r in enumerate(records) if not shortest <= len(r) <= width}
    padded = [i for i, r in enumerate(records) if shortest <= len(r) < width]
    rows = [(r + [""] * width)[:width] for r in records] if odd or padded else records
    columns = list(zip(*rows, strict=True))
    frame = pd.DataFrame(
        {name: pd.Series(columns[i], dtype=object) for i, name in enumerate(header)}
    )
    return SourceTable(frame, odd, padded)


def _parse_day(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else None
    except ValueError:
        return None


def check_crawl_days(
    dates: pd.Series, rel: str, spec_date: dict, opened: str | None, today: dt.date
) -> None:
    """Every crawl day is a real date, not before the market opened and not in the future;
    the error names the file, the first row with the bad day and where the day comes from."""
    field = (
        f"column {spec_date['column']!r}"
        if "column" in spec_date
        else ("the file name" if "filename" in spec_date else "the configured constant")
    )
    first_open = dt.date.fromisoformat(opened) if opened else None
    for value in dates.unique():
        day = _parse_day(value)
        if day is None:
            problem = f"crawl date {value!r} is not a YYYY-MM-DD date"
        elif first_open and day < first_open:
            problem = f"crawl date {value} is before the market opened ({opened})"
        elif day > today:
            problem = f"crawl date {value} is in the future (today is {today})"
        else:
            continue
        row = int(dates.index[np.flatnonzero((dates == value).to_numpy())[0]]) + 1
        raise ImportSpecError(f"{rel}: data row {row}, crawl_date from {field}: {problem}")


def _odd_row_extras(part: pd.DataFrame, odd: dict[int, list[str]], width: int) -> dict:
    """Rows of the wrong width stay rows, so that cleaning quarantines them as
    `field_count`: their canonical row gets one field more than the header, the
    source's extra fields (a stray separator) or a note of a short row's width."""
    extras = {}
    for i in part.index.intersection(list(odd)):
        fields = odd[i]
        extras[i] = (
            fields[width:]
            if len(fields) > width
            else [f"short source row: {len(fields)} of {width} fields"]
        )
    return extras


def _write_csv_gz(frame: pd.DataFrame, path: Path, extras: dict | None = None) -> None:
    # no file name and mtime 0 in the gzip header: same rows, same bytes
    if extras:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(frame.columns)
        for i, row in zip(frame.index, frame.itertuples(index=False), strict=True):
            writer.writerow([*row, *extras.get(i, [])])
        data = buf.getvalue().encode("utf-8")
    else:
        data = frame.to_csv(index=False).encode("utf-8")
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as out:
            out.write(data)


def _canonical_frame(frame: pd.DataFrame, table: str, spec: dict, rel: str) -> pd.DataFrame:
    """The canonical columns (and the mapped optional ones) of one source file."""
    return pd.DataFrame(
        {
            col: map_column(frame, spec["columns"].get(col), f"{rel} ({table}.{col})")
            for col in CANONICAL[table]
            + [c for c in OPTIONAL.get(table, []) if c in spec["columns"]]
        },
        index=frame.index,
    )


def row_markets(frame: pd.DataFrame, rel: str, table_spec: dict, where: str) -> pd.Series:
    """The market value in the data of every row of a multi-market table: from a source
    column (`market: {column}`) or from the file's path (`market: {path: regex}`); ""
    where the path does not match."""
    rule = table_spec["market"]
    if "column" in rule:
        return _source_column(frame, rule["column"], where).str.strip()
    value = path_market_value(table_spec, rel) or ""
    return pd.Series([value] * len(frame), index=frame.index, dtype=object)


def _unmatched_snapshot(rel: str, date: str, table: str) -> str:
    # one folder per source file: rows of unknown markets of one day may come from many files
    folder = hashlib.sha1(rel.encode("utf-8")).hexdigest()[:12]
    return f"{UNMATCHED_DIR}/{folder}/{date}_{table}.csv.gz"


def import_table(
    files: list[Path],
    table: str,
    spec: dict,
    markets: dict,
    out_dir: Path,
    root: Path,
) -> list[dict]:
    """Write canonical snapshot files of one table; one accounting record per
    (source file, snapshot). With `files_per_crawl: many` the files of one crawl
    day (one per category, say) are parts of one snapshot, concatenated in file
    name order; `first_row` is where a source file's rows start in it.

    `markets` maps each market's value in the data to `(slug, opened)`; with the key
    None (a single-market dataset) every row is that market's. Rows of a multi-market
    table whose value is not configured go to `unmatched/` files with the value in an
    extra `market` column, where cleaning quarantines them as `unknown_market`."""
    records = []
    written: dict[str, str] = {}
    parts_of: dict[str, list[tuple[str, pd.DataFrame, dict]]] = {}  # files_per_crawl: many
    combine = spec.get("files_per_crawl") == "many"
    today = dt.date.today()
    opened = {slug: day for slug, day in markets.values()}
    # one file reached by two paths (a symlink, `..`) is read once
    unique = {p.resolve(): Path(os.path.normpath(p)) for p in files}
    for path in sorted(unique.values()):
        rel = path.relative_to(root).as_posix()
        source = read_source_csv(path, spec.get("encoding", "utf-8"), spec)
        frame = source.frame
        canonical = _canonical_frame(frame, table, spec, rel)
        dates = crawl_dates(frame, path, spec["crawl_date"], f"{rel} (crawl_date)")
        if None in markets:
            slugs = pd.Series([markets[None][0]] * len(frame), index=frame.index, dtype=object)
        else:
            values = row_markets(frame, rel, spec, f"{rel} ({table} market)")
            slugs = values.map({v: slug for v, (slug, _) in markets.items()}).fillna("")
        for slug in sorted(slugs.unique()):
            mine = (slugs == slug).to_numpy()
            check_crawl_days(dates[mine], rel, spec["crawl_date"], opened.get(slug), today)
        for slug, date in sorted(set(zip(slugs, dates, strict=True))):
            rows = ((slugs == slug) & (dates == date)).to_numpy()
            part = canonical[rows]
            if slug:
                snap = f"snapshots/{slug}/{date}_{table}.csv.gz"
            else:
                snap = _unmatched_snapshot(rel, date, table)
                part = part.assign(market=values[rows])
            extras = _odd_row_extras(part, source.odd_rows, frame.shape[1])
            if combine:  # written once all files are read
                parts_of.setdefault(snap, []).append((rel, part, extras))
            elif snap in written:  # two files of one crawl day: a duplicate snapshot
                raise ImportSpecError(
                    f"{rel}: crawl day {date} of market {slug!r} ({table}) is also in "
                    f"{written[snap]}: two snapshots of one crawl; keep one of the files "
                    "(or set `files_per_crawl: many` if each file is a part of the crawl)"
                )
            else:
                written[snap] = rel
                _write_csv_gz(part, out_dir / snap, extras)
            record = {
                "source_file": rel,
                "snapshot_file": snap,
                "source_rows": len(frame),
                "rows": len(part),
                "rows_odd_width": len(part.index.intersection(list(source.odd_rows))),
            }
            if "pad_short_rows" in spec:
                record["rows_padded"] = len(part.index.intersection(source.padded_rows))
            records.append(record)
    first_rows = {
        key: row
        for snap, parts in parts_of.items()
        for key, row in _write_parts(snap, parts, out_dir).items()
    }
    if combine:
        for record in records:
            record["first_row"] = first_rows[(record["source_file"], record["snapshot_file"])]
    return records


def _write_parts(snap: str, parts: list[tuple[str, pd.DataFrame, dict]], out_dir: Path) -> dict:
    """One snapshot file of several source files' parts, in order; returns the first
    snapshot row of each (source file, snapshot)."""
    frames, extras, first_rows, offset = [], {}, {}, 0
    for rel, part, part_extras in parts:
        first_rows[(rel, snap)] = offset + 1
        renumber = dict(zip(part.index, range(offset, offset + len(part)), strict=True))
        frames.append(part.set_axis(range(offset, offset + len(part))))
        extras.update({renumber[i]: fields for i, fields in part_extras.items()})
        offset += len(part)
    _write_csv_gz(pd.concat(frames), out_dir / snap, extras)
    return first_rows


def source_files(root: Path, pattern: str, table_spec: dict, period) -> list[Path]:
    from dnmarkets.sources.partitions import in_period, tabular_crawl_days

    files = sorted(root.glob(pattern))
    if period is not None and "filename" in table_spec["crawl_date"]:
        # a file whose name has no date is kept: its import then fails, naming it
        files = [
            f
            for f in files
            if not (days := tabular_crawl_days(table_spec, [f.name])) or in_period(days[0], period)
        ]
    if not files:
        raise ImportSpecError(f"{root}: no source file matches {pattern!r}")
    return files


def opened_day(spec: dict, slug: str) -> str | None:
    return next(m.get("opened") for m in tabular_markets(spec) if m["slug"] == slug)


def import_dataset(spec: dict, source_root: Path, out_dir: Path) -> pd.DataFrame:
    """Import every configured table of a tabular dataset; write manifest.tsv.

    Returns the import accounting (one row per snapshot file written)."""
    if "markets" in spec:
        markets = {
            value: (slug, opened_day(spec, slug)) for value, slug in market_matches(spec).items()
        }
    else:
        markets = {None: (spec["market"]["slug"], spec["market"].get("opened"))}
    records = []
    for table in ("listings", "vendors"):
        if table in spec:
            files = source_files(source_root, spec[table]["files"], spec[table], spec.get("period"))
            records += import_table(files, table, spec[table], markets, out_dir, source_root)
    accounting = pd.DataFrame(records)
    # one line per snapshot file (several source files may make one snapshot)
    rows = accounting.groupby("snapshot_file", sort=False)["rows"].sum()
    manifest = pd.DataFrame(
        {
            "path": rows.index,
            "sha256": [sha256_file(out_dir / p) for p in rows.index],
            "rows": rows.to_numpy(),
        }
    ).sort_values("path")
    with atomic_path(out_dir / "manifest.tsv") as tmp:
        manifest.to_csv(tmp, sep="\t", index=False)
    return accounting
