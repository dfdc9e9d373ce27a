"""Daily series datasets (market x day x measure) read by configuration.

A series dataset is not a crawl of listings but a table of numbers per day that
someone else derived: daily sales by drug category (CSV, one row per day, or per
week), or forum posts per day drawn as a Plotly chart (HTML with the data inline
as JSON, read without a browser). Each configured file gives one market's
measures; every source row (one day) ends either in the clean table (one row per
measure) or in the quarantine with the field and reason, so that for every file
raw_rows == clean_rows + quarantined_rows (rows counted as source days).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from dnmarkets.sources.rawcsv import (
    check_wide_encoding,
    csv_records,
    decode,
    decode_error,
    read_bytes,
)

SERIES_COLUMNS = ["market", "date", "measure", "value", "file", "raw_row"]
QUARANTINE_COLUMNS = ["file", "raw_row", "field", "reason", "raw"]
_NEWPLOT = re.compile(r"Plotly\.newPlot\(\s*(?:\"[^\"]*\"|'[^']*'|[A-Za-z_$][\w$.]*)\s*,\s*")


class SeriesSourceError(ValueError):
    """A series source file that cannot be read as configured (names the file)."""


def measure_slug(text: str) -> str:
    """`Digital Goods` -> `digital_goods`: a column name as a measure name."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _parse_date(text: str):
    text = text.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return pd.Timestamp(text).date()
    except ValueError:
        return None


def _parse_value(text) -> tuple[float | None, str | None]:
    """A non-negative finite number, or (None, reason)."""
    if isinstance(text, bool):
        return None, "unparseable_value"
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        text = str(text).strip()
        if text == "":
            return None, "empty_value"
        try:
            value = float(text)
        except ValueError:
            return None, "unparseable_value"
    if not math.isfinite(value):
        return None, "unparseable_value"
    if value < 0:
        return None, "negative_value"
    return value, None


def read_csv_rows(path: Path, spec: dict) -> tuple[list[str], list[tuple[int, str, dict]]]:
    """(value columns, [(data row, date text, {column: cell})]) of a daily CSV.

    The value columns are those matching `spec["columns"]` (a regular expression);
    the others (rolling averages, cumulative sums) are not read."""
    data = read_bytes(path, SeriesSourceError)
    if not data.strip():
        raise SeriesSourceError(f"{path}: empty file (no header row)")
    check_wide_encoding(data, path, SeriesSourceError)
    text, bad = decode(data, path, SeriesSourceError, spec.get("encoding", "utf-8"))
    if bad is not None:
        raise SeriesSourceError(decode_error(path, bad, data, spec.get("encoding", "utf-8")))
    header, records = csv_records(path, text, SeriesSourceError)
    header = [h.strip() for h in header]
    date_column = spec["date"]
    if date_column not in header:
        raise SeriesSourceError(
            f"{path}: date column {date_column!r} not found (columns: {', '.join(header)})"
        )
    pattern = re.compile(spec["columns"])
    columns = [h for h in header if h != date_column and pattern.search(h)]
    if not columns:
        raise SeriesSourceError(
            f"{path}: no column matches {spec['columns']!r} (columns: {', '.join(header)})"
        )
    if not records:
        raise SeriesSourceError(f"{path}: header but no data rows")
    date_at = header.index(date_column)
    rows = []
    for number, record in enumerate(records, start=1):
        cells = dict(zip(header, record, strict=False))
        if len(record) != len(header):
            cells["_field_count"] = str(len(record))
        rows.append((number, record[date_at] if date_at < len(record) else "", cells))
    return columns, rows


def plotly_traces(path: Path) -> list[dict]:
    """The traces of the first `Plotly.newPlot(id, [traces], ...)` call of an HTML file."""
    data = read_bytes(path, SeriesSourceError)
    text = data.decode("utf-8", errors="replace")
    match = _NEWPLOT.search(text)
    if match is None:
        raise SeriesSourceError(
            f"{path}: no Plotly.newPlot(...) call with inline data found: not a Plotly "
            'chart saved with its data (expected Plotly.newPlot("<div id>", [traces], ...))'
        )
    try:
        traces, _ = json.JSONDecoder().raw_decode(text, match.end())
    except json.JSONDecodeError as err:
        raise SeriesSourceError(
            f"{path}: the data of Plotly.newPlot (at character {match.end()}) is not valid "
            f"JSON: {err.msg} at character {match.end() + err.pos}"
        ) from None
    if not isinstance(traces, list) or not all(isinstance(t, dict) for t in traces):
        raise SeriesSourceError(f"{path}: Plotly.newPlot's second argument is not a list of traces")
    return traces


def read_plotly_rows(path: Path, spec: dict) -> tuple[list[str], list[tuple[int, str, dict]]]:
    """([measure], [(point number, x, {measure: y})]) of one trace of a Plotly chart."""
    traces = plotly_traces(path)
    index = spec.get("trace", 0)
    if index >= len(traces):
        raise SeriesSourceError(f"{path}: trace {index} requested, the chart has {len(traces)}")
    trace = traces[index]
    for axis in ("x", "y"):
        if not isinstance(trace.get(axis), list):
            raise SeriesSourceError(
                f"{path}: trace {index} has no list of {axis} values (keys: {', '.join(trace)})"
            )
    xs, ys = trace["x"], trace["y"]
    if len(xs) != len(ys):
        raise SeriesSourceError(
            f"{path}: trace {index} has {len(xs)} x values and {len(ys)} y values"
        )
    if not xs:
        raise SeriesSourceError(f"{path}: trace {index} has no points")
    measure = spec["measure"]
    rows = [(i, str(x), {measure: y}) for i, (x, y) in enumerate(zip(xs, ys, strict=True), 1)]
    return [measure], rows


def read_series_file(path: Path, spec: dict) -> dict[str, pd.DataFrame]:
    """One configured file to its clean rows, quarantine and accounting.

    spec: `market`, `format` (`csv` or `plotly`), and for csv `date`, `columns`
    (regular expression of the value columns), `measure` (template with `{column}`,
    the column's slug) and optional `total` (a measure summing the columns); for
    plotly `measure` and optional `trace`."""
    path = Path(path)
    if spec["format"] == "csv":
        columns, rows = read_csv_rows(path, spec)
        names = {c: spec["measure"].format(column=measure_slug(c)) for c in columns}
    else:
        columns, rows = read_plotly_rows(path, spec)
        names = {c: c for c in columns}
    clean, quarantine, seen = [], [], {}
    for number, date_text, cells in rows:
        problem = None
        if "_field_count" in cells:
            problem = ("row", "field_count")
        day = _parse_date(date_text)
        if problem is None and day is None:
            problem = (spec.get("date", "x"), "unparseable_date")
        if problem is None and day in seen:
            problem = (spec.get("date", "x"), "duplicate_date")
        values = {}
        for column in columns:
            if problem is not None:
                break
            value, reason = _parse_value(cells.get(column, ""))
            if reason:
                problem = (column, reason)
            values[column] = value
        if problem is not None:
            quarantine.append(
                (str(path.name), number, problem[0], problem[1], json.dumps(cells, default=str))
            )
            continue
        seen[day] = number
        for column, value in values.items():
            clean.append((spec["market"], day, names[column], value, str(path.name), number))
        if spec.get("total"):
            # fsum is correctly rounded: the same total on every Python (sum() of
            # floats is compensated from 3.12 on and differs from 3.11's in the last bit)
            total = math.fsum(values.values())
            clean.append((spec["market"], day, spec["total"], total, str(path.name), number))
    out = {
        "series": pd.DataFrame(clean, columns=SERIES_COLUMNS),
        "quarantine": pd.DataFrame(quarantine, columns=QUARANTINE_COLUMNS),
    }
    out["accounting"] = pd.DataFrame(
        [
            {
                "file": str(path.name),
                "market": spec["market"],
                "raw_rows": len(rows),
                "clean_rows": len(rows) - len(quarantine),
                "quarantined_rows": len(quarantine),
            }
        ]
    )
    return out


def read_series_dataset(files: list[dict], root: Path) -> dict[str, pd.DataFrame]:
    """Every configured file of a series dataset (paths relative to `root`), concatenated;
    stops if a file's rows do not add up."""
    parts = [read_series_file(Path(root) / spec["file"], spec) for spec in files]
    out = {k: pd.concat([p[k] for p in parts], ignore_index=True) for k in parts[0]}
    acc = out["accounting"]
    bad = acc[acc["raw_rows"] != acc["clean_rows"] + acc["quarantined_rows"]]
    if not bad.empty:
        raise SeriesSourceError(f"row accounting does not add up: {bad.to_dict('records')}")
    out["series"]["date"] = pd.to_datetime(out["series"]["date"])
    return out


def daily(series: pd.DataFrame, market: str, measure: str, fill_zero: bool = False) -> pd.Series:
    """One market's measure indexed by day; with `fill_zero`, days missing inside the
    span count as zero (a chart of posts per day leaves out days without posts)."""
    part = series[(series["market"] == market) & (series["measure"] == measure)]
    out = part.set_index("date")["value"].sort_index().astype(float)
    if fill_zero and len(out):
        out = out.asfreq("D", fill_value=0.0)
    return out
