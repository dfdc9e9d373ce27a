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
accounting records source file, snapshot file and row counts.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import string
from pathlib import Path

import numpy as np
import pandas as pd

from .canonical import LISTING_COLUMNS, OPTIONAL_LISTING_COLUMNS, VENDOR_COLUMNS
from .io import atomic_path, sha256_file

CANONICAL = {"listings": LISTING_COLUMNS, "vendors": VENDOR_COLUMNS}
OPTIONAL = {"listings": OPTIONAL_LISTING_COLUMNS}


class ImportSpecError(ValueError):
    """The mapping in the config cannot be applied to a source file."""


def _transform(name: str):
    if name == "openpgp_fingerprint":
        from .pgp import fingerprints

        return lambda values: fingerprints(values)["fingerprint"].fillna("").astype(str)
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
        value = match.group(1)
    elif "constant" in spec:
        value = str(spec["constant"])
    elif "column" in spec:
        return _source_column(frame, spec["column"], where).str.slice(0, 10)
    else:
        raise ImportSpecError(f"{where}: crawl_date needs filename, column or constant")
    return pd.Series([value] * len(frame), index=frame.index, dtype=object)


def read_source_csv(path: Path) -> tuple[pd.DataFrame, int]:
    """All cells as text; returns the frame and the number of rows whose bytes
    were not valid UTF-8 (their bad bytes become U+FFFD, and are counted)."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8", errors="replace")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.ParserError as err:  # names the line; we add the file
        raise ImportSpecError(f"{path}: {err}") from err
    bad = int(frame.apply(lambda c: c.str.contains("\ufffd", regex=False)).any(axis=1).sum())
    return frame, bad


def _write_csv_gz(frame: pd.DataFrame, path: Path) -> None:
    # no file name and mtime 0 in the gzip header: same rows, same bytes
    data = frame.to_csv(index=False).encode("utf-8")
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as out:
            out.write(data)


def import_table(
    files: list[Path], table: str, spec: dict, market: str, out_dir: Path, root: Path
) -> list[dict]:
    """Write canonical snapshot files of one table; one accounting record per output."""
    records = []
    written: set[str] = set()
    for path in sorted(files):
        rel = path.relative_to(root).as_posix()
        frame, bad_utf8 = read_source_csv(path)
        canonical = pd.DataFrame(
            {
                col: map_column(frame, spec["columns"].get(col), f"{rel} ({table}.{col})")
                for col in CANONICAL[table]
                + [c for c in OPTIONAL.get(table, []) if c in spec["columns"]]
            },
            index=frame.index,
        )
        dates = crawl_dates(frame, path, spec["crawl_date"], f"{rel} (crawl_date)")
        for date in sorted(dates.unique()):
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
                raise ImportSpecError(f"{rel}: crawl date {date!r} is not YYYY-MM-DD")
            part = canonical[(dates == date).to_numpy()]
            snap = f"snapshots/{market}/{date}_{table}.csv.gz"
            if snap in written:
                raise ImportSpecError(f"{rel}: a second source file maps to {snap}")
            written.add(snap)
            _write_csv_gz(part, out_dir / snap)
            records.append(
                {
                    "source_file": rel,
                    "snapshot_file": snap,
                    "source_rows": len(frame),
                    "rows": len(part),
                    "rows_bad_utf8": bad_utf8,
                }
            )
    return records


def source_files(root: Path, pattern: str, table_spec: dict, period) -> list[Path]:
    from .partitions import in_period, tabular_crawl_days

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


def import_dataset(spec: dict, source_root: Path, out_dir: Path) -> pd.DataFrame:
    """Import every configured table of a tabular dataset; write manifest.tsv.

    Returns the import accounting (one row per snapshot file written)."""
    market = spec["market"]["slug"]
    records = []
    for table in ("listings", "vendors"):
        if table in spec:
            files = source_files(source_root, spec[table]["files"], spec[table], spec.get("period"))
            records += import_table(files, table, spec[table], market, out_dir, source_root)
    accounting = pd.DataFrame(records)
    manifest = pd.DataFrame(
        {
            "path": accounting["snapshot_file"],
            "sha256": [sha256_file(out_dir / p) for p in accounting["snapshot_file"]],
            "rows": accounting["rows"],
        }
    ).sort_values("path")
    with atomic_path(out_dir / "manifest.tsv") as tmp:
        manifest.to_csv(tmp, sep="\t", index=False)
    return accounting
