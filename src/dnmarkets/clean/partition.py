"""Clean one partition (one market, one month) of ``sim2017``-format raw snapshots.

Input: the listing and vendor snapshot files ``<YYYY-MM-DD>_listings.csv.gz`` /
``<YYYY-MM-DD>_vendors.csv.gz`` of docs/data_model.md section 1. Output: the
clean tables of section 2 plus quarantine and accounting, validated with the
pandera schemas of :mod:`dnmarkets.clean.schemas`.

File-level problems stop the run with :class:`RawFileError` (a name that is not
a snapshot file or has a crawl day in the future, an unreadable or truncated
gzip, UTF-16 text, an empty file, a header without a required column, a row
that cannot be parsed as CSV, e.g. an unterminated quote, two files of one
crawl day of a market). One file given twice (by two paths) is read once.
Row-level problems never stop it and never lose a row: every data row ends
either in a clean table or in quarantine, with the first failing check as
``field``/``reason`` (docs/bad_input.md catalogues both kinds):

=================== =========================== =====================================
field               reason                      when
=================== =========================== =====================================
row                 field_count                 more or fewer fields than the header
                                                (a stray separator, a cut-off line)
<the field>         invalid_utf8                bytes that are not UTF-8 (latin-1, ...)
listing_id          missing_listing_id          empty listing id
listing_id / vendor duplicate_in_snapshot       same listing id (vendor alias, for
                                                vendor files) as an earlier row of
                                                the same file; the first is kept
vendor              missing_vendor              empty alias
scraped_at          unparseable_crawl_date      not a date/time (empty is accepted:
                                                the crawl day comes from the file name)
scraped_at          crawl_date_mismatch         not on the file's day or the next one
                                                (crawls may run past midnight)
price               empty_price                 empty
price               unparseable_price           no number in the display convention
price               unknown_currency            not USD/EUR/BTC, or a bare number in a
                                                market without a clear currency
price               non_positive_price          zero or negative
price               no_rate                     no rate within 7 days before the day
price               price_out_of_range          USD price outside [min_price_usd,
                                                max_price_usd] of the config
=================== =========================== =====================================

Optional columns a source may have: ``quantity_g`` (a stated quantity, used
instead of the title's) and ``sold_count``/``sold_since`` (a sales counter and
its start, kept as the clean columns of the same names; a start after the crawl
day is missing). Ships-from that cannot be resolved is kept (code ``UNK``). Quantities are
parsed from titles of drug listings only (a non-drug "Digital scale 0.01g" has none). Unparseable
feedback counts, ratings, sales counters, registration dates or PGP
fingerprints become missing values in the clean row; they are not reasons to
set a row aside. So do impossible registration dates (after the crawl day, or
before Bitcoin existed).

Display conventions: bare numbers take the partition's dominant currency and
ambiguous separators the partition's dominant decimal separator when at least
90% of the unambiguous prices agree (:func:`dnmarkets.clean.prices.infer_price_style`, in
:func:`~dnmarkets.clean.prices.parse_market_prices`).

Blank lines are not rows (as in pandas). ``raw_row`` is the 1-based number of
the data record (header excluded, a quoted multi-line field counts once).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from dnmarkets.clean.categories import categorise_codes
from dnmarkets.clean.countries import normalise_countries
from dnmarkets.clean.prices import (
    CURRENCIES,
    PRICE_REASONS,
    Rates,
    convert_coded,
    parse_market_price_codes,
)
from dnmarkets.clean.quantities import title_quantities
from dnmarkets.clean.schemas import (
    ACCOUNTING_SCHEMA,
    LISTINGS_SCHEMA,
    QUARANTINE_SCHEMA,
    VENDORS_SCHEMA,
    one_chunk,
    str_codes,
)
from dnmarkets.clean.schemas import validate as validate_schema
from dnmarkets.clean.text import (
    clean_coded_texts,
    codes_of_rows,
    dictionary_codes,
    vendor_key,
)
from dnmarkets.core.memory import (
    no_huge_pages_for_numpy,
    reuse_freed_memory,
    use_system_allocator,
)
from dnmarkets.sources.canonical import LISTING_COLUMNS, VENDOR_COLUMNS
from dnmarkets.sources.ecb import NoEcbRate, ecb_rates
from dnmarkets.sources.partitions import partition_name
from dnmarkets.sources.rawcsv import (
    UTF8_BOM,
    check_wide_encoding,
    csv_records,
    decode,
    normalise_line_ends,
    read_bytes,
)

REQUIRED = {"listings": LISTING_COLUMNS, "vendors": VENDOR_COLUMNS}
FILE_RE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})_(?P<table>listings|vendors)\.csv\.gz$")
MAX_SCRAPE_LAG_DAYS = 1
EARLIEST_REGISTRATION = dt.date(2009, 1, 3)  # the Bitcoin genesis block
INT64_MAX = 2**63 - 1


class RawFileError(ValueError):
    """A raw file cannot be used at all (name, gzip, header or CSV structure)."""


class CleanResult(NamedTuple):
    listings: pd.DataFrame
    vendors: pd.DataFrame
    quarantine: pd.DataFrame
    accounting: pd.DataFrame


# --------------------------------------------------------------------------- files


def partition_files(raw_dir: Path, market: str, month: str) -> list[Path]:
    """Snapshot files (listings and vendors) of one market-month, sorted by name."""
    folder = Path(raw_dir) / "snapshots" / market
    files = [p for p in folder.glob(f"{month}-*.csv.gz") if FILE_RE.match(p.name)]
    return sorted(files, key=lambda p: p.name)


def partitions(raw_dir: Path) -> list[str]:
    """``<market>__<YYYY-MM>`` names of the partitions present under ``raw_dir/snapshots``."""
    names = set()
    for path in (Path(raw_dir) / "snapshots").glob("*/*.csv.gz"):
        match = FILE_RE.match(path.name)
        if match:
            names.add(partition_name(path.parent.name, match["date"][:7]))
    return sorted(names)


class _RawFile(NamedTuple):
    path: Path
    rel: str
    table: str
    crawl_date: dt.date
    header: list[str]
    # every header column (large_string), one row per record: kept in Arrow (the
    # partition's _Frame takes kept and quarantined rows from it, file by file)
    columns: pa.Table
    odd_records: dict[int, list[str]]  # 0-based row -> fields, for rows of the wrong width
    invalid_utf8: np.ndarray | None = None  # per row, the first non-UTF-8 field (None: none)

    @property
    def n_rows(self) -> int:
        return self.columns.num_rows

    def raw_json(self, rows: np.ndarray) -> list[str]:
        """The raw rows (0-based) as JSON objects keyed by the header (see
        :func:`_raw_json`); rows of the wrong width take the per-row path."""
        rows = np.asarray(rows, dtype=np.int64)
        out = _raw_json(self.columns, self.header, rows)
        for j in np.flatnonzero(np.isin(rows, list(self.odd_records))):
            out[j] = self._raw_json_row(int(rows[j]))
        return out.tolist()

    def _raw_json_row(self, row: int) -> str:
        record = self.odd_records.get(row)
        if record is None:
            values = (self.columns.column(h)[row].as_py() for h in self.header)
            record = ["" if v is None else v for v in values]
        content: dict = dict(zip(self.header, record, strict=False))
        if len(record) > len(self.header):
            content["_extra_fields"] = list(record[len(self.header) :])
        return json.dumps(content, ensure_ascii=False)


# what json.dumps(..., ensure_ascii=False) writes for one str, and the bytes it escapes
_json_str = json.encoder.encode_basestring


def _json_escapes(column: pa.Array) -> bool:
    """True if a value of the string array has a byte that JSON escapes (read from the
    array's data buffer at once; UTF-8 never uses these bytes inside a character)."""
    if not len(column):
        return False
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int64)
    start, end = offsets[column.offset], offsets[column.offset + len(column)]
    data = np.frombuffer(column.buffers()[2] or b"", dtype=np.uint8)[start:end]
    # three comparisons: several times faster than a lookup table indexed per byte
    return bool((data < 0x20).any() or (data == ord('"')).any() or (data == ord("\\")).any())


def _raw_json(table: pa.Table, header: list[str], rows: np.ndarray | None) -> np.ndarray:
    """The rows (positions in `table`; None: all) as JSON objects keyed by `header`
    (missing values as ""), as object array of str (:func:`_raw_json_arrow`)."""
    return _raw_json_arrow(table, header, rows).to_numpy(zero_copy_only=False).astype(object)


def _raw_json_arrow(table: pa.Table, header: list[str], rows: np.ndarray | None) -> pa.Array:
    """The rows (positions in `table`; None: all) as JSON objects keyed by `header`
    (missing values as ""), as an Arrow string array.

    The text is what ``json.dumps(dict(zip(header, fields)), ensure_ascii=False)``
    gives, encoded once per distinct value of each column (vendors, dates and
    categories repeat) and joined in Arrow instead of one ``dumps`` per row (the
    header has no repeated names)."""
    text = pa.large_string()
    # constant texts (str) and columns (Arrow) in order; neighbouring texts are joined
    # into one piece below, as the join's cost grows with the number of pieces
    parts: list = []
    if rows is not None:
        table = table.select(header).take(pa.array(np.asarray(rows, dtype=np.int64)))
    for i, name in enumerate(header):
        column = one_chunk(table.column(name))
        key = f"{', ' if i else '{'}{_json_str(name)}: "
        if not _json_escapes(column):
            # nothing to escape (ensure_ascii=False keeps the rest): the value in quotes
            parts += [key + '"', pc.fill_null(column, ""), '"']
            continue
        encoded = pc.dictionary_encode(column)
        values = encoded.dictionary.to_pylist()
        texts = pa.array([*map(_json_str, values), _json_str("")], type=text)
        parts += [key, texts.take(pc.fill_null(encoded.indices, len(values)))]
    parts.append("}")
    pieces: list = []
    for part in parts:
        if isinstance(part, str) and pieces and isinstance(pieces[-1], str):
            pieces[-1] += part
        else:
            pieces.append(part)
    pieces = [pa.scalar(p, text) if isinstance(p, str) else p for p in pieces]
    return pc.binary_join_element_wise(*pieces, pa.scalar("", text))


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(root))).as_posix()


_QUOTE = 34
# bytes that may stand beside a quote: separator, line ends, quote (an escaped "")
_NOT_BESIDE_QUOTE = np.ones(256, dtype=bool)
_NOT_BESIDE_QUOTE[[44, 13, 10, _QUOTE]] = False


def _stray_quotes(data: bytes) -> bool:
    """True if a quote is neither opening nor closing a field nor escaped (``"x"y``).

    A cheap byte-level scan (UTF-8 never uses these bytes inside a character);
    files where it is True are read by the strict reader, which then reports
    the row (or accepts a quote inside an unquoted field, as RFC 4180 readers do).
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    # a quote at either end of the file has the file's edge beside it: not stray
    pos = np.flatnonzero(buf[1:-1] == _QUOTE) + 1
    # the neighbours looked up in a 256-entry table (np.isin sorted them each time)
    return bool((_NOT_BESIDE_QUOTE[buf[pos - 1]] & _NOT_BESIDE_QUOTE[buf[pos + 1]]).any())


def _lines(text: str):
    """The lines of `text`, ends kept, one at a time."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _header(path: Path, text: str) -> list[str]:
    try:
        # the reader takes lines until the first record ends (a quoted header may span
        # lines); a StringIO would copy the whole file first
        header = next(csv.reader(_lines(text), strict=True), None)
    except csv.Error as err:
        raise RawFileError(f"{path}: cannot parse the header as CSV: {err}") from None
    if not header:
        raise RawFileError(f"{path}: empty file (no header row)")
    return [h.strip() for h in header]


def _is_utf8(data: bytes) -> bool:
    """True if the bytes are UTF-8: ASCII by bytes.isascii (a word at a time), else by
    Arrow's validation of the whole buffer as one value, three times cheaper than the
    CSV reader's check of every field (measured on the Agora crawls)."""
    if data.isascii():
        return True
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    whole = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        whole.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _fast_frame(data: bytes, header: list[str]) -> pa.Table | None:
    """All columns as str with pyarrow's CSV reader; None when a row has the wrong
    width, the data is not UTF-8 or the reader fails (the strict reader then takes
    over)."""
    if not _is_utf8(data):
        return None
    odd = []

    def on_invalid(row) -> str:
        odd.append(row)
        return "skip"

    names = [f"c{i}" for i in range(len(header))]
    try:
        table = pcsv.read_csv(
            pa.BufferReader(data),  # no copy (a BytesIO is read through Python, block by block)
            # one thread per file: the files are read two at a time already, and the
            # reader's own threads cost a sixth more CPU time for the same wall time
            read_options=pcsv.ReadOptions(column_names=names, skip_rows=1, use_threads=False),
            parse_options=pcsv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pcsv.ConvertOptions(
                # large_string: the storage of pandas' str dtype, so no cast in to_pandas
                column_types=dict.fromkeys(names, pa.large_string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                # checked above, at once: the fields are pieces of the data cut at
                # ASCII bytes, so they are UTF-8 if it is
                check_utf8=False,
            ),
        )
    except (pa.ArrowException, ValueError):
        return None
    if odd:
        return None
    return table.rename_columns(header)  # the header has no repeated names


def _strict_frame(path: Path, text: str, header: list[str]):
    """The strict reader (csv module): exact row numbers for errors and odd rows."""
    _, records = csv_records(path, text, RawFileError)
    width = len(header)
    odd = {i: r for i, r in enumerate(records) if len(r) != width}
    rows = [(r + [""] * width)[:width] for r in records] if odd else records
    columns = list(zip(*rows, strict=True)) if rows else [()] * width
    table = pa.table(
        {name: pa.array(columns[i], type=pa.large_string()) for i, name in enumerate(header)}
    )
    return table, odd


def _invalid_utf8_fields(table: pa.Table, header: list[str], valid: bool) -> np.ndarray | None:
    """Per row, the first field holding bytes that were not UTF-8 ('' if none; None
    for a file without any).

    Invalid bytes were decoded as U+FFFD; such rows are quarantined rather than
    kept with their accents silently replaced (a latin-1 scraper, say)."""
    if valid:
        return None
    out = np.full(table.num_rows, "", dtype=object)
    for name in reversed(header):  # the first field in header order wins
        found = pc.match_substring(table.column(name), "\ufffd")
        out[pc.fill_null(found, False).to_numpy(zero_copy_only=False)] = name
    return out


def _read_raw(path: Path, project_root: Path) -> _RawFile:
    path = Path(path)
    match = FILE_RE.match(path.name)
    if not match:
        raise RawFileError(
            f"{path}: not a snapshot file name (expected <YYYY-MM-DD>_listings.csv.gz "
            f"or <YYYY-MM-DD>_vendors.csv.gz)"
        )
    try:
        crawl_date = dt.date.fromisoformat(match["date"])
    except ValueError as err:
        raise RawFileError(f"{path}: invalid crawl date in file name: {err}") from None
    if crawl_date > dt.date.today():
        raise RawFileError(f"{path}: crawl date {crawl_date} in the file name is in the future")
    table = match["table"]
    data = read_bytes(path, RawFileError)
    check_wide_encoding(data, path, RawFileError)
    data = normalise_line_ends(data).removeprefix(UTF8_BOM)
    # a plain first line (no quote, valid UTF-8, no second BOM) is the header by itself;
    # the rest of the file is then not decoded in Python: the fast reader checks that
    # it is UTF-8 and fails otherwise, and the file takes the strict path below
    first = data[: data.find(b"\n") + 1] if b"\n" in data else data
    header_text = None
    if b'"' not in first and not data.startswith(UTF8_BOM):
        try:
            header_text = first.decode("utf-8")
        except UnicodeDecodeError:
            pass
    text, valid_utf8 = None, True
    if header_text is None:
        text, bad_bytes = decode(data, path, RawFileError)
        valid_utf8 = bad_bytes is None
    header = _header(path, text if header_text is None else header_text)
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise RawFileError(f"{path}: duplicated column(s) in header: {', '.join(duplicated)}")
    missing = [c for c in REQUIRED[table] if c not in header]
    if missing:
        raise RawFileError(
            f"{path}: missing required column(s) {', '.join(missing)} "
            f"(header has: {', '.join(header)})"
        )
    frame, odd = None, {}
    single_line_header = not any("\n" in h or "\r" in h for h in header)
    if valid_utf8 and single_line_header and not _stray_quotes(data):
        frame = _fast_frame(data, header)
    if frame is None:
        if text is None:
            text, bad_bytes = decode(data, path, RawFileError)
            valid_utf8 = bad_bytes is None
        frame, odd = _strict_frame(path, text, header)
    invalid = _invalid_utf8_fields(frame, header, valid_utf8)
    rel = _relative(path, project_root)
    return _RawFile(path, rel, table, crawl_date, header, frame, odd, invalid)


def read_raw_files(paths: list[Path], project_root: Path) -> list[_RawFile]:
    """The files read two at a time (gunzip and pyarrow's CSV reader release the
    GIL); the first bad file in `paths` order raises, as in a sequential read."""
    if len(paths) < 2:
        return [_read_raw(p, project_root) for p in paths]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(_read_raw, paths, [project_root] * len(paths)))


# --------------------------------------------------------------------------- field parsers

_COUNT_RE = re.compile(r"^\d+$|^\d{1,3}(?:([,.' \u00a0])\d{3})(?:\1\d{3})*$")


def _count_value(text: str) -> int | None:
    text = text.strip()
    if not _COUNT_RE.match(text):
        return None
    value = int(re.sub(r"\D", "", text))
    # beyond int64 it is no counter (and would overflow the Int64 column): missing
    return value if value <= INT64_MAX else None


def _factorize_text(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(code per row, distinct values), missing read as ""; str columns hashed in Arrow
    (no filled copy of the column; "" may then be listed twice)."""
    if series.dtype != "str":
        codes, uniques = pd.factorize(series.fillna(""))
        return codes, list(uniques)
    codes, dictionary = _dictionary_encoded(series)
    uniques = [*dictionary.to_pylist(), ""]
    return np.where(codes < 0, len(uniques) - 1, codes).astype(np.intp), uniques


def _map_unique(series: pd.Series, func, dtype) -> pd.Series:
    codes, uniques = _factorize_text(series)
    mapped = pd.array([func(u) for u in uniques], dtype=dtype)
    return pd.Series(mapped.take(codes) if len(codes) else mapped[:0], index=series.index)


def _counts(series: pd.Series) -> pd.Series:
    return _map_unique(series, _count_value, "Int64")


def _kept_counts(series: pd.Series, rows: np.ndarray) -> pd.Series:
    """:func:`_counts` of the rows `rows` of a str column, hashed without taking them
    first (:func:`codes_of_rows`)."""
    codes, dictionary = codes_of_rows(series, rows)
    counts = pd.array([_count_value(v) for v in dictionary.to_pylist()], dtype="Int64")
    return pd.Series(counts.take(codes))


def _rating_value(text: str) -> float | None:
    text = text.strip().replace(",", ".")
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(%|/\s*5(?:\.0+)?|/\s*100)?", text)
    if not match:
        return None
    value = float(match[1])
    scale = (match[2] or "").replace(" ", "")
    if scale in {"%", "/100"}:
        value = value / 20.0 if value <= 100 else None
    elif value > 5:
        return None
    return value


_YEAR_RE = re.compile(r"\d{4}")


def _date_value(text: str) -> dt.date | None:
    text = text.strip()
    if not _YEAR_RE.search(text):  # every format has a %Y (four digits): skip the tries
        return None
    for fmt in (
        "%Y-%m-%d",
        "%Y/%m/%d",
        "%d.%m.%Y",
        "%Y-%m-%d %H:%M:%S",
        "%b %d, %Y",
        "%d %b %Y",
        "%B %d, %Y",
        "%d %B %Y",
    ):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _dates(series: pd.Series) -> pd.Series:
    codes, uniques = _factorize_text(series)
    mapped = np.array([_date_value(u) for u in uniques] + [None], dtype=object)[:-1]
    return pd.Series(
        mapped[codes] if len(codes) else mapped[:0], index=series.index, dtype=object, copy=False
    )


_RANGE_RE = re.compile(r"^\s*(\d[\d,.' ]*)\s*[~\-–]\s*(\d[\d,.' ]*)\s*$")


def _count_lower_value(text: str) -> int | None:
    """A count, or the lower bound of a range such as Agora's `55~70` deals."""
    match = _RANGE_RE.match(text)
    return _count_value(match[1]) if match else _count_value(text)


_AGE_RE = re.compile(
    r"^\s*registered\s+(?:(\d+)\s+years?)?\s*(?:(\d+)\s+months?)?\s*(?:(\d+)\s+days?)?",
    re.IGNORECASE,
)
# Agora shows "Registered 1 years 2 months    3 days": the account's age, then
# (after a gap) when the vendor was last seen. Only the age is used.
_AGE_GAP_RE = re.compile(r"\s{2,}")


def _age_days(text: str) -> float | None:
    """Account age in days from `Registered N years N months N days`, else None."""
    head = _AGE_GAP_RE.split(text.strip(), maxsplit=1)[0]
    match = _AGE_RE.match(head)
    if not match or not any(match.groups()):
        return None
    years, months, days = (int(g) if g else 0 for g in match.groups())
    return years * 365.25 + months * 30.44 + days


def _registered_dates(text: pd.Series, crawl_days: pd.Series) -> pd.Series:
    """Registration dates: absolute dates as shown, or the crawl day minus the shown age
    (months count as 30.44 days, so an age in months is exact to about a day per month)."""
    # both read once per distinct text; the rest is day arithmetic in numpy (NaT: none)
    codes, uniques = _factorize_text(text)
    shown = np.array([*map(_date_value, uniques), None], dtype="datetime64[D]")[codes]
    age = np.array([*map(_age_days, uniques), None], dtype="float64")[codes]
    # an absurd age ("Registered 99999999999 years") would overflow the date arithmetic;
    # beyond a century it is impossible anyway (nulled below)
    age[~(age <= 36525.0)] = np.nan
    crawl = np.asarray(crawl_days.to_numpy(), dtype="datetime64[D]")
    with np.errstate(invalid="ignore"):
        relative = crawl - np.round(age).astype("timedelta64[D]")  # NaN age: NaT
    out = np.where(np.isnat(shown), relative, shown)
    # after the crawl, or before Bitcoin (and so any market) existed: not a real date
    out[(out > crawl) | (out < np.datetime64(EARLIEST_REGISTRATION, "D"))] = np.datetime64("NaT")
    # date objects (None for NaT) made once per distinct day
    day_codes, days = pd.factorize(out.view(np.int64))
    objects = days.view("datetime64[D]").astype(object)
    return pd.Series(objects[day_codes], index=text.index, dtype=object, copy=False)


def _pgp_value(text: str) -> str | None:
    key = re.sub(r"[\s:]", "", text).upper().removeprefix("0X")
    return key if re.fullmatch(r"[0-9A-F]{32}|[0-9A-F]{40}|[0-9A-F]{64}", key) else None


def _scrape_checks(scraped, crawl) -> tuple[np.ndarray, np.ndarray]:
    """(unparseable, mismatch) masks for scraped_at against the file's crawl day."""
    # stripped and parsed once per distinct value (a crawl's rows share a few); missing
    # is empty (the last code)
    codes, dictionary = _dictionary_encoded(scraped)
    codes = np.where(codes < 0, len(dictionary), codes)
    text = pd.Series([*pc.utf8_trim_whitespace(dictionary).to_pylist(), ""], dtype="str")
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    parsed = parsed.dt.tz_localize(None).to_numpy("datetime64[D]")  # the cast floors to the day
    # per distinct value, then taken per row: no per-row date arithmetic
    undated = np.isnat(parsed)
    unparseable = (undated & (text != "").to_numpy())[codes]
    # day numbers (an undated value's is never read)
    lag = np.where(undated, 0, parsed.view(np.int64))[codes]
    lag -= np.asarray(crawl, dtype="datetime64[D]").view(np.int64)
    mismatch = ~undated[codes] & ((lag < 0) | (lag > MAX_SCRAPE_LAG_DAYS))
    return unparseable, mismatch


# --------------------------------------------------------------------------- tables


def _str_col(values) -> pd.Series:
    return pd.Series(values, dtype="str").reset_index(drop=True)


def _str_of(values) -> pd.Series:
    """A str column of the values (a categorical: from its codes)."""
    if isinstance(values, pd.Categorical):
        return _coded(tuple(values.categories), values.codes)
    return _str_col(values)


def _per_file(values: list, file_idx: np.ndarray) -> pd.Series:
    """A str column holding values[file_idx] (no Python per row)."""
    return _coded(tuple(values), np.asarray(file_idx, dtype=np.int64))


def _per_file_dates(files: list[_RawFile], file_idx: np.ndarray) -> pd.Series:
    dates = np.array([f.crawl_date for f in files] + [None], dtype=object)[:-1]
    return pd.Series(dates[np.asarray(file_idx, dtype=np.int64)], dtype=object, copy=False)


def _snapshot(market: str, raw: _RawFile) -> str:
    return f"{market}/{raw.crawl_date.isoformat()}"


def sorted_quarantine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Quarantine parts as one table in raw-file order (an empty table without parts)."""
    quarantine = pd.concat(parts, ignore_index=True) if parts else _empty_like(QUARANTINE_SCHEMA)
    return quarantine.sort_values(
        ["snapshot", "table", "raw_file", "raw_row"], kind="stable"
    ).reset_index(drop=True)


def accounting_table(
    raws: list[_RawFile], dataset: str, market: str, counts: dict[str, tuple[int, int]]
) -> pd.DataFrame:
    """One accounting row per raw file: its rows, and (clean, quarantined) from `counts`."""
    return pd.DataFrame(
        {
            "dataset": _str_col([dataset] * len(raws)),
            "market": _str_col([market] * len(raws)),
            "snapshot": _str_col([_snapshot(market, r) for r in raws]),
            "table": _str_col([r.table for r in raws]),
            "raw_file": _str_col([r.rel for r in raws]),
            "raw_rows": pd.Series([r.n_rows for r in raws], dtype="int64"),
            "clean_rows": pd.Series([counts.get(r.rel, (0, 0))[0] for r in raws], dtype="int64"),
            "quarantined_rows": pd.Series(
                [counts.get(r.rel, (0, 0))[1] for r in raws], dtype="int64"
            ),
        }
    )


class _Frame:
    """Rows of a partition's files: the raw columns in Arrow (`table`) and per row its
    file (index in the file list), raw row number (1-based), crawl day, wrong-width
    flag and first non-UTF-8 field (numpy arrays, `_file` ... `_invalid_utf8`).

    ``frame[name]`` is a pandas Series of the column, made on first use (a str
    column wraps its Arrow array without a copy): a DataFrame of every column cost
    a copy of all of them per step (adding the row columns, taking the kept rows).
    `files`: (first row, table) of each file, when they all have the frame's columns."""

    def __init__(self, table: pa.Table, rows: dict[str, np.ndarray], files=None):
        self.table = table
        self.rows = rows
        self.files = files
        self._series: dict[str, pd.Series] = {}

    def __len__(self) -> int:
        return self.table.num_rows

    def __contains__(self, name: str) -> bool:
        return name in self.rows or name in self.table.column_names

    @property
    def columns(self) -> list[str]:
        return [*self.table.column_names, *self.rows]

    def __getitem__(self, name: str) -> pd.Series:
        series = self._series.get(name)
        if series is None:
            if name in self.rows:
                # no copy (pandas 3 copies a numpy array by default): the rows are read only
                series = pd.Series(self.rows[name], name=name, copy=False)
            else:
                series = self.table.column(name).to_pandas().rename(name)
            self._series[name] = series
        return series

    def take(self, positions: np.ndarray, columns=None) -> _Frame:
        """The rows at `positions`, with only the `columns` present (default: all)."""
        positions = np.asarray(positions, dtype=np.int64)
        names = [n for n in self.table.column_names if columns is None or n in columns]
        rows = {k: v[positions] for k, v in self.rows.items() if columns is None or k in columns}
        file_of = self.rows["_file"][positions]
        if self.files is None or not len(positions) or (file_of[1:] < file_of[:-1]).any():
            return _Frame(self.table.select(names).take(pa.array(positions)), rows)
        # rows grouped by file, in file order (the clean tables' order is by crawl day,
        # quarantine by raw row): taken from each file's own table, which stays in the
        # cache, and without first concatenating the files' chunks of every column
        cut = [0, *(np.flatnonzero(file_of[1:] != file_of[:-1]) + 1).tolist(), len(positions)]
        pieces = []
        for lo, hi in itertools.pairwise(cut):
            start, table = self.files[file_of[lo]]
            pieces.append(table.select(names).take(pa.array(positions[lo:hi] - start)))
        return _Frame(pa.concat_tables(pieces), rows)


def _combine(files: list[_RawFile]) -> _Frame:
    """The files' rows in one frame, with each row's file (index in `files`), raw row
    number (1-based) and crawl day; the columns of all files (missing ones empty)."""
    sizes = np.array([raw.n_rows for raw in files], dtype=np.int64)
    # the files' columns in Arrow (a column a file lacks: missing there), not copied
    # into one chunk: the takes of kept and quarantined rows read them file by file
    table = pa.concat_tables([raw.columns for raw in files], promote_options="default")
    n = table.num_rows
    bad = np.zeros(n, dtype=bool)
    for raw, start in zip(files, np.cumsum(sizes) - sizes, strict=True):
        if raw.odd_records:  # rows of the wrong width
            bad[start + np.array(list(raw.odd_records), dtype=np.int64)] = True
    file_idx = np.repeat(np.arange(len(files), dtype=np.int64), sizes)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    days = np.array([np.datetime64(raw.crawl_date, "D") for raw in files], dtype="datetime64[D]")
    rows = {
        "_bad_fields": bad,
        "_file": file_idx,
        "_row": np.arange(1, n + 1, dtype=np.int64) - starts,
        # seconds, as pandas stores a day column
        "_crawl_day": days[file_idx].astype("datetime64[s]"),
    }
    if any(raw.invalid_utf8 is not None for raw in files):  # none: no column
        rows["_invalid_utf8"] = np.concatenate(
            [
                np.full(raw.n_rows, "", dtype=object)
                if raw.invalid_utf8 is None
                else raw.invalid_utf8
                for raw in files
            ]
        )
    same_columns = all(raw.columns.schema.equals(table.schema) for raw in files)
    firsts = (np.cumsum(sizes) - sizes).tolist()
    parts = list(zip(firsts, [raw.columns for raw in files], strict=True)) if same_columns else None
    return _Frame(table, rows, parts)


def _arrow_strings(series: pd.Series) -> pa.Array:
    """The column as one Arrow array (for pandas' str dtype, its own storage)."""
    return one_chunk(pa.array(series))


def _dictionary_encoded(series) -> tuple[np.ndarray, pa.Array]:
    """(code of each row, missing: -1; the distinct values) of a str column (pandas or
    Arrow), hashed in Arrow chunk by chunk (text.dictionary_codes)."""
    arrow = isinstance(series, pa.Array | pa.ChunkedArray)
    return dictionary_codes(series if arrow else pa.array(series))


def _name_codes(name: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """(code of each row's name, rank of each code in code point order), hashed in
    Arrow; None if a name is missing."""
    codes, dictionary = _dictionary_encoded(name)
    if (codes < 0).any():
        return None
    return codes, _ranks(dictionary)


def _ranks(dictionary: pa.Array) -> np.ndarray:
    """The rank of each distinct string in code point order."""
    # Arrow sorts strings as UTF-8 bytes, i.e. by code point, as pandas' sort_values does
    order = pc.sort_indices(dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return rank


class _Names(NamedTuple):
    """A name column (listing ids, vendor aliases) stripped as ``str.strip`` does, as the
    code of each row into the distinct stripped names: the raw column is hashed once
    and stripped per distinct value (not per row), and the empty check, sort ranks,
    vendor keys and output strings are made per distinct name."""

    codes: np.ndarray
    names: pa.Array  # distinct, large_string

    @classmethod
    def of(cls, column) -> _Names:
        codes, raw = dictionary_codes(column)
        stripped = pc.utf8_trim_whitespace(raw)
        missing = codes < 0
        if missing.any():  # a missing name reads as "" (the empty check then sets it aside)
            codes = np.where(missing, len(raw), codes)
            stripped = pa.concat_arrays([stripped, pa.array([""], type=raw.type)])
        if missing.any() or not pc.all(pc.equal(stripped, raw)).as_py():
            # two raw values may strip to one name: one code for them
            merged, stripped = dictionary_codes(stripped)
            codes = merged[codes]
        return cls(codes, stripped)

    def empty(self) -> np.ndarray:
        """Per row, True where the name is empty."""
        return pc.equal(self.names, "").to_numpy(zero_copy_only=False)[self.codes]

    def order_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """(codes, ranks) as :func:`_name_codes` gives them."""
        return self.codes, _ranks(self.names)

    def column(self, rows: np.ndarray, names: pa.Array | None = None) -> pd.Series:
        """A str column of the rows' names (or of `names`, one per distinct name)."""
        names = self.names if names is None else names
        return pd.Series(names.take(pa.array(self.codes[rows])), dtype="str")

    def keys(self, rows: np.ndarray) -> pa.Array:
        """:func:`vendor_key` of each distinct name, for those the rows hold (others
        '')."""
        used = np.zeros(len(self.names), dtype=bool)
        used[self.codes[rows]] = True
        texts = self.names.to_pylist()
        keys = [vendor_key(t) if u else "" for t, u in zip(texts, used.tolist(), strict=True)]
        return pa.array(keys, type=pa.large_string())


_UNSET = object()


def _kept_in_order(keep: np.ndarray, day: pd.Series, name: pd.Series, row: pd.Series, codes=_UNSET):
    """Positions of the kept rows sorted by (crawl day, name, raw row): the clean
    tables' order. A partition has one file per table and crawl day, so the three
    keys are unique and the order is total. `codes`: :func:`_name_codes` of `name`, if
    the caller has them already."""
    kept = np.flatnonzero(keep)
    codes = _name_codes(name) if codes is _UNSET else codes
    days = np.asarray(day, dtype="datetime64[D]").astype(np.int64)
    rows = np.asarray(row, dtype=np.int64)
    if codes is not None and len(kept):
        # the three keys as one integer (day, then the name's rank, then the row), sorted
        # by numpy: twice as fast as Arrow's sort with a string key
        rank = codes[1][codes[0][kept]]
        day_k, row_k = days[kept] - days[kept].min(), rows[kept] - rows[kept].min()
        n_rank, n_row, n_day = len(codes[1]), int(row_k.max()) + 1, int(day_k.max()) + 1
        if n_rank <= 2**16 and n_day <= 2**16 and _rows_ascending_by_day(day_k, row_k):
            # rows already in (day, row) order (the files in day order): two stable sorts,
            # by name then by day, of 16-bit keys, which numpy sorts by radix (O(n))
            order = np.argsort(rank.astype(np.uint16), kind="stable")
            order = order[np.argsort(day_k.astype(np.uint16)[order], kind="stable")]
            return kept[order]
        if n_day * n_rank * n_row < 2**62:
            key = (day_k * n_rank + rank) * n_row + row_k
            return kept[np.argsort(key, kind="stable")]
    # with codes, the name's rank sorts as the name does
    names = pa.array(name) if codes is None else pa.array(codes[1][codes[0]])
    keys = pa.table({"day": np.asarray(day), "name": names, "row": rows}).take(pa.array(kept))
    # Arrow's multi-key sort (strings compared as UTF-8 bytes, i.e. by code point, as
    # pandas' sort_values does); a rank-and-lexsort in numpy was several times slower
    order = pc.sort_indices(keys, sort_keys=[(k, "ascending") for k in keys.column_names])
    return kept[order.to_numpy()]


class _ByName(NamedTuple):
    """A frame's rows sorted by (file, name, raw row), for the duplicate check and the
    output order in one sort (instead of a hash of (file, name) pairs and a sort of the
    kept rows): a stable sort of the names' ranks within each file's rows, which the
    frame holds in turn and in raw order; 16-bit ranks sort by radix (O(n))."""

    order: np.ndarray
    days_ascend: bool  # one file per crawl day, in day order: the clean tables' order

    @classmethod
    def of(cls, f: _Frame, files: list[_RawFile], codes: tuple[np.ndarray, np.ndarray]):
        file_idx = f.rows["_file"]
        rank = codes[1][codes[0]]
        rank = rank.astype(np.uint16) if len(codes[1]) <= 2**16 else rank
        order = np.empty(len(rank), dtype=np.int64)
        cuts = [0, *(np.flatnonzero(file_idx[1:] != file_idx[:-1]) + 1).tolist(), len(rank)]
        for lo, hi in itertools.pairwise(cuts):
            order[lo:hi] = np.argsort(rank[lo:hi], kind="stable") + lo
        days = [raw.crawl_date for raw in files]
        return cls(order, all(a < b for a, b in itertools.pairwise(days)))

    def duplicated(self, f: _Frame, codes: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Per row, True if its (file, name) pair came before (as DataFrame.duplicated):
        a name's later rows in a file are next to its first in the order."""
        name, file_idx = codes[0][self.order], f.rows["_file"][self.order]
        dup = np.zeros(len(self.order), dtype=bool)
        dup[self.order[1:]] = (name[1:] == name[:-1]) & (file_idx[1:] == file_idx[:-1])
        return dup

    def kept(self, keep: np.ndarray, f: _Frame, codes) -> np.ndarray:
        """:func:`_kept_in_order` of the rows where `keep` is True."""
        if not self.days_ascend:
            return _kept_in_order(keep, f.rows["_crawl_day"], None, f.rows["_row"], codes)
        return self.order[keep[self.order]]


def _rows_ascending_by_day(day: np.ndarray, row: np.ndarray) -> bool:
    """True if the days never decrease and the rows of a day increase."""
    later_day, same_day = day[1:] > day[:-1], day[1:] == day[:-1]
    return bool((later_day | (same_day & (row[1:] > row[:-1]))).all())


def _utf8_checks(f: _Frame) -> list[tuple[np.ndarray, str, str]]:
    if "_invalid_utf8" not in f:  # every file valid UTF-8
        return []
    fields = f.rows["_invalid_utf8"]
    names = sorted(set(fields) - {""})
    return [(fields == name, name, "invalid_utf8") for name in names]


def _assign_reasons(checks: list[tuple[np.ndarray, str, str]], n: int) -> tuple:
    """First failing check per row -> (field, reason) ('' when clean), as categoricals:
    no Python string per row, and compared with '' on their integer codes."""
    masks = [np.asarray(mask, dtype=bool) for mask, _, _ in checks]
    # the first failing check's number (0: none), then its names
    first = np.select(masks, list(range(1, len(checks) + 1)), default=0) if checks else None
    first = np.zeros(n, dtype=np.int64) if first is None else first
    fields = _categorical(["", *(f for _, f, _ in checks)], first)
    return fields, _categorical(["", *(r for _, _, r in checks)], first)


def _categorical(names: list[str], codes: np.ndarray) -> pd.Categorical:
    """names[code] per row, as a categorical of the distinct names."""
    distinct = list(dict.fromkeys(names))
    # int8 codes, as pandas stores up to 127 categories: no wider per-row temporary
    position = np.array([distinct.index(name) for name in names])
    position = position.astype(np.int8 if len(distinct) < 128 else np.int32)
    return pd.Categorical.from_codes(position[codes], categories=distinct, validate=False)


QUANTITY_UNITS = ("g", "ml", "unit")
QUANTITY_SOURCES = ("title", "column")


def _coded(values: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """A str column holding values[code], missing where the code is -1."""
    codes = np.asarray(codes)
    n = len(codes)
    missing = codes < 0
    any_missing = bool(missing.any())
    starts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    # Arrow's take (a masked index takes a null) unless there are few runs: the run
    # path costs Python steps per run
    if len(starts) * 1024 > n:
        indices = pa.array(codes, mask=missing) if any_missing else pa.array(codes)
        return pd.Series(pa.array(values, type=pa.large_string()).take(indices), dtype="str")
    if any_missing:
        codes = np.where(missing, len(values), codes)
    # runs of one value (a file's rows are together; a constant column): the bytes
    # written a run at a time, several times faster than Arrow's take of each string
    # (for long strings; about as fast for short ones)
    encoded = [np.frombuffer(v.encode(), dtype=np.uint8) for v in (*values, "")]
    starts = np.concatenate([[0], starts]) if n else starts
    run_codes = codes[starts]
    run_lengths = np.diff(np.append(starts, n))
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    data = np.empty(int(lengths[run_codes] @ run_lengths), dtype=np.uint8)
    at = 0
    for c, k in zip(run_codes.tolist(), run_lengths.tolist(), strict=True):
        run = data[at : at + len(encoded[c]) * k]
        at += len(run)
        # the value written once, then the written part copied after itself until the
        # run is full: log2(k) memory copies (a broadcast copies row by row, a bytes
        # join copied twice)
        run[: len(encoded[c])] = encoded[c]
        filled = len(encoded[c])
        while 0 < filled < len(run):
            step = min(filled, len(run) - filled)
            run[filled : filled + step] = run[:step]
            filled += step
    if not any_missing and (lengths[:-1] == lengths[0]).all():  # one width: no sum
        offsets = np.arange(n + 1, dtype=np.int64) * lengths[0]
    else:
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.repeat(lengths[run_codes], run_lengths), out=offsets[1:])
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if any_missing else None
    null_count = int(missing.sum()) if any_missing else 0
    buffers = [pa.py_buffer(offsets), pa.py_buffer(data)]
    array = pa.LargeStringArray.from_buffers(n, *buffers, validity, null_count)
    return pd.Series(array, dtype="str")


def _constant(value: str, n: int) -> pd.Series:
    """A str column of `n` times `value`."""
    return _coded((value,), np.zeros(n, dtype=np.int8))


def _quantities(
    codes: np.ndarray, uniques: list[str], drug: np.ndarray, c: pd.DataFrame, array=None
) -> dict[str, pd.Series]:
    """Quantity, unit and source of each kept listing: from the title (codes and texts of
    the distinct titles, `array` the texts as a str array if the caller has it), or a
    grams column; only for drugs ("Digital scale 0.01g" is no quantity): other titles
    are not parsed."""
    in_drug = np.zeros(len(uniques), dtype=bool)
    in_drug[codes[drug]] = True
    quantities = np.full(len(uniques) + 1, np.nan)
    units = np.full(len(uniques) + 1, -1, dtype=np.int64)
    drug_at = np.flatnonzero(in_drug)
    # once per distinct drug title (most in Arrow, see title_quantities)
    array = pa.array(uniques, type=pa.large_string()) if array is None else pa.array(array)
    title_quantity, title_unit = title_quantities(None, array.take(pa.array(drug_at)))
    quantities[drug_at] = title_quantity
    for code, name in enumerate(QUANTITY_UNITS):
        units[drug_at[title_unit == name]] = code
    quantity, unit = quantities[codes], units[codes]
    source = np.where(np.isnan(quantity), -1, 0)
    if "quantity_g" in c:  # a structured grams field beats the title where it is usable
        stated = pd.to_numeric(c["quantity_g"].str.strip(), errors="coerce").astype("float64")
        stated = stated.to_numpy()
        usable = (stated > 0) & np.isfinite(stated)
        quantity = np.where(usable, stated, quantity)
        unit = np.where(usable, QUANTITY_UNITS.index("g"), unit)
        source = np.where(usable, QUANTITY_SOURCES.index("column"), source)
    quantity[~drug], unit[~drug], source[~drug] = np.nan, -1, -1
    return {
        "quantity": pd.Series(quantity, dtype="float64", copy=False),
        "quantity_unit": _coded(QUANTITY_UNITS, unit),
        "quantity_source": _coded(QUANTITY_SOURCES, source),
    }


def _sold_counters(c: pd.DataFrame, crawl_days: pd.Series) -> dict:
    """`N sold since <date>` (AlphaBay): the count, and the start date where it is a
    date on or before the crawl day (else missing, as unparseable counters are)."""
    since = _dates(c["sold_since"]).to_numpy()
    possible = [s is not None and s <= day for s, day in zip(since, crawl_days, strict=True)]
    return {
        "sold_count": _counts(c["sold_count"]).astype("Int64").reset_index(drop=True),
        "sold_since": pd.Series(np.where(possible, since, None), dtype=object, copy=False),
    }


def _raise_no_ecb_rate(files: list[_RawFile], f: pd.DataFrame, priced, error: NoEcbRate):
    """Name the first priced raw row whose crawl day has no ECB euro rate."""
    ecb = ecb_rates()
    days = f["_crawl_day"].to_numpy()
    outside = np.flatnonzero(priced & ((days < ecb.first) | (days > ecb.last)))
    if not len(outside):
        raise error
    i = int(outside[0])
    raw = files[int(f["_file"].iloc[i])]
    day = np.datetime64(days[i], "D")
    raise NoEcbRate(
        f"{raw.rel}: row {int(f['_row'].iloc[i])}, field scraped_at: crawl day {day} "
        f"has no euro rate ({error})"
    ) from error


_LISTING_COLUMNS_READ = {
    *("category", "ships_from", "ships_to", "price"),
    *("quantity_g", "sold_count", "sold_since", "_file", "_row", "_crawl_day"),
}


def _listings(files: list[_RawFile], dataset: str, market: str, rates: Rates, cfg: dict):
    f = _combine(files)
    n = len(f)
    # hashed once for the empty and duplicate checks, the order and the output
    lid = _Names.of(f.table.column("listing_id"))
    vendor = _Names.of(f.table.column("vendor"))
    missing_id = lid.empty()
    lid_codes = lid.order_codes()
    by_id = _ByName.of(f, files, lid_codes)
    dup = by_id.duplicated(f, lid_codes) & ~missing_id
    unparseable_date, mismatch = _scrape_checks(f.table.column("scraped_at"), f.rows["_crawl_day"])
    # prices parsed per distinct value; the per-row columns are taken from the distinct
    # values' codes by price code (no per-row string columns for currency and reason)
    _, price_codes, prices = parse_market_price_codes(f["price"])
    # per row: the reason code, and the amount and currency (a code into CURRENCIES, so
    # that the conversion compares no names) of the rows whose price parsed (else NaN, -1)
    price_reason, amount, currency = prices.rows(price_codes)
    price_ok = price_reason == 0
    currency_names = CURRENCIES
    try:
        usd, eur = convert_coded(amount, currency, f["_crawl_day"].to_numpy(), rates)
    except NoEcbRate as error:
        _raise_no_ecb_rate(files, f, price_ok, error)
    no_rate = price_ok & np.isnan(usd)
    with np.errstate(invalid="ignore"):
        out_of_range = (
            price_ok
            & ~no_rate
            & ((usd < float(cfg["min_price_usd"])) | (usd > float(cfg["max_price_usd"])))
        )
    field, reason = _assign_reasons(
        [
            (f["_bad_fields"].to_numpy(), "row", "field_count"),
            *_utf8_checks(f),
            (missing_id, "listing_id", "missing_listing_id"),
            (dup, "listing_id", "duplicate_in_snapshot"),
            (vendor.empty(), "vendor", "missing_vendor"),
            (unparseable_date, "scraped_at", "unparseable_crawl_date"),
            (mismatch, "scraped_at", "crawl_date_mismatch"),
            (price_reason == PRICE_REASONS.index("empty"), "price", "empty_price"),
            (price_reason == PRICE_REASONS.index("unparseable"), "price", "unparseable_price"),
            (price_reason == PRICE_REASONS.index("unknown_currency"), "price", "unknown_currency"),
            (price_reason == PRICE_REASONS.index("non_positive"), "price", "non_positive_price"),
            (no_rate, "price", "no_rate"),
            (out_of_range, "price", "price_out_of_range"),
        ],
        n,
    )
    keep = reason == ""
    # the kept rows in output order, so the finished table needs no sort (a take per column)
    kept = by_id.kept(np.asarray(keep), f, lid_codes)
    # only the columns still read (ids, vendors and crawl times are taken from above)
    c = f.take(kept, _LISTING_COLUMNS_READ)
    # the raw titles hashed chunk by chunk, not taken: only the kept rows' codes are, and
    # categories and quantities run per distinct kept title
    title_codes, title_raw = codes_of_rows(f["title"], kept)
    title, title_texts, title_array = clean_coded_texts(title_codes, title_raw)
    cat_codes, cat_results = categorise_codes(
        c["category"], title_factors=(title_codes, title_texts)
    )
    drug_category = pa.array([r.category for r in cat_results], type=pa.large_string())
    file_idx = c["_file"].to_numpy()
    vendor_key_names = vendor.keys(kept)
    kept_vendor_keys = vendor.column(kept, vendor_key_names)
    # a truncated origin may be settled by the same vendor's other listings
    countries = normalise_countries(
        c["ships_from"],
        c["_crawl_day"].to_numpy(),
        vendors=kept_vendor_keys,
        columns=["code", "region", "method", "eu"],
    )
    # per result, not a string comparison per row
    drug = np.array([r.category != "non_drug" for r in cat_results], dtype=bool)[cat_codes]
    qty = _quantities(title_codes, title_texts, drug, c, title_array)
    listings = pd.DataFrame(
        {
            "dataset": _constant(dataset, len(c)),
            "market": _constant(market, len(c)),
            "snapshot": _per_file([_snapshot(market, r) for r in files], file_idx),
            "crawl_date": _per_file_dates(files, file_idx),
            "listing_id": lid.column(kept),
            "title": _str_col(title),
            "vendor": vendor.column(kept),
            "vendor_key": kept_vendor_keys,
            "category_raw": _str_col(c["category"]),
            "drug_category": _str_col(drug_category.take(pa.array(cat_codes))),
            "is_drug": drug,
            "ships_from_raw": _str_col(c["ships_from"]),
            "ships_from": _str_col(countries["code"]),
            "ships_from_region": _str_col(countries["region"]),
            "ships_from_eu": countries["eu"].astype("boolean").reset_index(drop=True),
            "ships_from_method": _str_col(countries["method"]),
            "ships_to_raw": _str_col(c["ships_to"]),
            "price_raw": _str_col(c["price"]),
            "currency": _coded(tuple(currency_names), currency[kept]),
            "price_amount": pd.Series(amount[kept], dtype="float64", copy=False),
            "price_usd": pd.Series(usd[kept], dtype="float64", copy=False),
            "price_eur": pd.Series(eur[kept], dtype="float64", copy=False),
            **qty,
            "feedback_count": _kept_counts(f["feedback"], kept),
            "raw_file": _per_file([r.rel for r in files], file_idx),
            "raw_row": c["_row"].astype("int64"),
        },
        copy=False,  # the columns are new arrays: no second copy
    )
    if "sold_count" in c:  # per-listing sales counters, where the source has them
        listings = listings.assign(**_sold_counters(c, listings["crawl_date"]))
    return listings, f, field, reason


# as _LISTING_COLUMNS_READ: vendors and crawl times are taken from above
_VENDOR_COLUMNS_READ = {
    *("pgp_fingerprint", "rating", "registered", "total_sales", "_file", "_row", "_crawl_day"),
}


def _vendors(files: list[_RawFile], dataset: str, market: str):
    f = _combine(files)
    n = len(f)
    vendor = _Names.of(f.table.column("vendor"))  # as the listings' ids
    missing = vendor.empty()
    vendor_codes = vendor.order_codes()
    by_vendor = _ByName.of(f, files, vendor_codes)
    dup = by_vendor.duplicated(f, vendor_codes) & ~missing
    unparseable_date, mismatch = _scrape_checks(f.table.column("scraped_at"), f.rows["_crawl_day"])
    field, reason = _assign_reasons(
        [
            (f["_bad_fields"].to_numpy(), "row", "field_count"),
            *_utf8_checks(f),
            (missing, "vendor", "missing_vendor"),
            (dup, "vendor", "duplicate_in_snapshot"),
            (unparseable_date, "scraped_at", "unparseable_crawl_date"),
            (mismatch, "scraped_at", "crawl_date_mismatch"),
        ],
        n,
    )
    kept = by_vendor.kept(np.asarray(reason == ""), f, vendor_codes)
    c = f.take(kept, _VENDOR_COLUMNS_READ)
    file_idx = c["_file"].to_numpy()
    vendors = pd.DataFrame(
        {
            "dataset": _constant(dataset, len(c)),
            "market": _constant(market, len(c)),
            "snapshot": _per_file([_snapshot(market, r) for r in files], file_idx),
            "crawl_date": _per_file_dates(files, file_idx),
            "vendor": vendor.column(kept),
            "vendor_key": vendor.column(kept, vendor.keys(kept)),
            "pgp_fingerprint": _str_col(_map_unique(c["pgp_fingerprint"], _pgp_value, "str")),
            "rating": _map_unique(c["rating"], _rating_value, "float64")
            .astype("float64")
            .reset_index(drop=True),
            "registered": _registered_dates(c["registered"], c["_crawl_day"]),
            "total_sales": _map_unique(c["total_sales"], _count_lower_value, "Int64")
            .astype("Int64")
            .reset_index(drop=True),
            "raw_file": _per_file([r.rel for r in files], file_idx),
            "raw_row": c["_row"].astype("int64"),
        },
        copy=False,  # the columns are new arrays: no second copy
    )
    return vendors, f, field, reason


def _quarantine(files, frame, field, reason, dataset, market, table) -> pd.DataFrame:
    bad = np.asarray(reason != "")
    rows = np.flatnonzero(bad)
    file_idx = frame.rows["_file"][rows]
    row_no = frame.rows["_row"][rows]
    headers = [tuple(raw.header) for raw in files]
    if len(set(headers)) == 1 and not any(raw.odd_records for raw in files):
        # the common case: the JSON stays in Arrow (no Python string per row), of the
        # rows filtered in raw order (Arrow filters chunk by chunk; a take was slower)
        raw_json = _raw_json_arrow(frame.table.filter(pa.array(bad)), list(headers[0]), None)
    else:
        raw_json = np.empty(len(rows), dtype=object)
        # one pass per distinct header (files of one source share it), not one per file
        for header in dict.fromkeys(headers):
            at = np.flatnonzero(np.array([h == header for h in headers])[file_idx])
            if len(at):
                raw_json[at] = _raw_json(frame.take(rows[at]).table, list(header), None)
        for i, raw in enumerate(files):  # rows of the wrong width: one dumps each
            odd = (file_idx == i) & np.isin(row_no - 1, list(raw.odd_records))
            for j in np.flatnonzero(odd):
                raw_json[j] = raw._raw_json_row(int(row_no[j] - 1))
    return pd.DataFrame(
        {
            "dataset": _constant(dataset, len(rows)),
            "market": _constant(market, len(rows)),
            "snapshot": _per_file([_snapshot(market, r) for r in files], file_idx),
            "table": _constant(table, len(rows)),
            "raw_file": _per_file([r.rel for r in files], file_idx),
            "raw_row": pd.Series(row_no, dtype="int64", copy=False),
            "field": _str_of(field[rows]),
            "reason": _str_of(reason[rows]),
            "raw": _str_col(raw_json),
        },
        copy=False,
    )


def _check_one_file_per_crawl(raws: list[_RawFile], market: str) -> None:
    """Two files of one table and crawl day (copies in two folders, say) would count
    the crawl twice in every panel: stop, naming both."""
    seen: dict[tuple[str, dt.date], str] = {}
    for raw in raws:
        key = (raw.table, raw.crawl_date)
        if key in seen:
            raise RawFileError(
                f"{raw.path}: a second {raw.table} file of {market}/{raw.crawl_date} "
                f"(the first is {seen[key]}): duplicate snapshots of one crawl; keep one"
            )
        seen[key] = str(raw.path)


def clean_partition(
    raw_files: list[Path],
    dataset: str,
    market: str,
    rates: pd.DataFrame,
    cfg: dict,
    project_root: Path,
) -> CleanResult:
    """Clean the snapshot files of one partition (see the module docstring).

    `rates` has columns date, btc_usd, eur_usd; `cfg` is the ``cleaning`` block
    of the configuration (min_price_usd, max_price_usd). Raw file paths in the
    output are relative to `project_root`.
    """
    use_system_allocator()
    no_huge_pages_for_numpy()
    reuse_freed_memory()
    prepared_rates = Rates(rates)
    # one file reached by two paths (`..`, a symlink) is one file, read once
    by_target = {Path(p).resolve(): Path(p) for p in sorted(raw_files, key=str, reverse=True)}
    unique_files = sorted(by_target.values(), key=str)
    raws = read_raw_files(unique_files, Path(project_root))
    _check_one_file_per_crawl(raws, market)
    listing_files = [r for r in raws if r.table == "listings"]
    vendor_files = [r for r in raws if r.table == "vendors"]

    listings = vendors = None
    quarantine_parts = []
    counts: dict[str, tuple[int, int]] = {}
    for table, group in (("listings", listing_files), ("vendors", vendor_files)):
        if not group:
            continue
        if table == "listings":
            listings, frame, field, reason = _listings(group, dataset, market, prepared_rates, cfg)
        else:
            vendors, frame, field, reason = _vendors(group, dataset, market)
        quarantine_parts.append(_quarantine(group, frame, field, reason, dataset, market, table))
        bad = reason != ""
        file_idx = frame.rows["_file"]
        clean_n = np.bincount(file_idx[~bad], minlength=len(group))
        bad_n = np.bincount(file_idx[bad], minlength=len(group))
        for i, raw in enumerate(group):
            counts[raw.rel] = (int(clean_n[i]), int(bad_n[i]))
    listings = _empty_like(LISTINGS_SCHEMA) if listings is None else listings
    vendors = _empty_like(VENDORS_SCHEMA) if vendors is None else vendors

    quarantine = sorted_quarantine(quarantine_parts)
    accounting = accounting_table(raws, dataset, market, counts)
    # every raw row is accounted for, in the tables actually returned
    seen: dict[str, int] = {}
    for returned in (listings, vendors, quarantine):
        codes, names = str_codes(_arrow_strings(returned["raw_file"]))
        counts_in = np.bincount(codes[codes >= 0], minlength=len(names))
        for name, count in zip(names.to_pylist(), counts_in.tolist(), strict=True):
            seen[name] = seen.get(name, 0) + count
    balance = accounting["raw_rows"] == accounting["clean_rows"] + accounting["quarantined_rows"]
    lost = [r.rel for r in raws if r.n_rows != seen.get(r.rel, 0)]
    if lost or not balance.all():  # explicit, so that python -O cannot skip it
        raise AssertionError(f"row accounting does not balance for {lost or 'some files'}")

    return CleanResult(
        validate_schema(LISTINGS_SCHEMA, listings),
        validate_schema(VENDORS_SCHEMA, vendors),
        validate_schema(QUARANTINE_SCHEMA, quarantine),
        validate_schema(ACCOUNTING_SCHEMA, accounting),
    )


_EMPTY_DTYPES = {
    "str": "str",
    "int64": "int64",
    "float64": "float64",
    "bool": "bool",
    "boolean": "boolean",
    "Int64": "Int64",
}


def _empty_like(schema) -> pd.DataFrame:
    """A zero-row frame with the schema's columns and dtypes."""
    columns = {}
    for name, column in schema.columns.items():
        if not column.required:  # optional columns exist only where a source has them
            continue
        dtype = (column.metadata or {}).get("dtype") or str(column.dtype)
        if dtype == "date":
            columns[name] = pd.Series([], dtype=object)
        else:
            columns[name] = pd.Series([], dtype=_EMPTY_DTYPES.get(dtype, "str"))
    return pd.DataFrame(columns)
