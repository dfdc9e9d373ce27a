"""Property-based tests: arbitrary input never crashes the parsers and never loses a row.

Parsers of prices, quantities, countries and dates, the Agora HTML importer,
the tabular importer and cleaning as a whole. The number of examples comes
from the hypothesis profile in conftest.py ("ci": 200, no deadline); the
tests that clean or import whole files use fewer.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import html
import io
import math
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import assert_rows_balanced
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dnmarkets.clean.countries import normalise_countries, normalise_country
from dnmarkets.clean.partition import (
    EARLIEST_REGISTRATION,
    _age_days,
    _count_lower_value,
    _counts,
    _date_value,
    _dates,
    _is_utf8,
    _map_unique,
    _registered_dates,
    _scrape_checks,
    clean_partition,
)
from dnmarkets.clean.prices import CURRENCIES, PriceStyle, parse_price, parse_prices
from dnmarkets.clean.quantities import parse_quantities, parse_quantity
from dnmarkets.sources.agora_html import (
    COLUMNS,
    parse_category_page_with_counts,
    read_crawl_archive,
)
from dnmarkets.sources.canonical import LISTING_COLUMNS, VENDOR_COLUMNS
from dnmarkets.sources.tabular import import_dataset

PRICE_REASONS = {"empty", "unparseable", "unknown_currency", "non_positive"}
REGIONS = {
    "EU",
    "Europe (non-EU)",
    "Europe (unspecified)",  # "Europe", or a misspelling of it ("EUORP")
    "North America",
    "South America",
    "Asia",
    "Oceania",
    "Africa",
    "Worldwide",
    "Unknown",
    "Multiple",  # a list of origins in several regions ("Germany, USA")
}
# text that looks like the fields it is fed to, mixed with anything at all
PRICE_BITS = ["USD", "EUR", "BTC", "$", "€", "฿", " ", ",", ".", "-", "0", "1", "12", "345", "1e9"]
QTY_BITS = [
    "g",
    "mg",
    "kg",
    "oz",
    "ml",
    "x",
    "*",
    "/",
    " ",
    ".",
    ",",
    "1",
    "3.5",
    "100",
    "half",
    "9" * 30,
    "9" * 400,
]
DATE_BITS = [
    "2017",
    "-",
    "03",
    "04",
    " ",
    ":",
    "T",
    "Z",
    "Registered ",
    " years",
    " months",
    " days",
    "99999999999",
    "0000",
    "9999-12-31",
]
COUNTRY_BITS = ["Germany", "DE", "UK", "EU", "USA", ",", " ", "->", "/", "Worldwide", "🇩🇪"]


def mixed(bits: list[str], max_size: int = 40) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(bits), st.text(max_size=6))
    return st.lists(piece, max_size=12).map("".join).map(lambda s: s[:max_size]) | st.text()


def series(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[pd.Series]:
    """A series of texts with a shuffled, gappy index (alignment must survive)."""
    return st.lists(strategy, max_size=25).map(
        lambda v: pd.Series(v, index=np.arange(len(v))[::-1] * 3 + 7, dtype=object)
    )


# --------------------------------------------------------------------------- prices


@given(
    mixed(PRICE_BITS), st.sampled_from([None, *CURRENCIES]), st.sampled_from([None, True, False])
)
def test_price_parser_never_crashes_and_always_says_why(text, default, decimal_comma):
    result = parse_price(text, default, decimal_comma)
    if result.reason is None:
        assert result.currency in CURRENCIES
        assert math.isfinite(result.amount) and result.amount > 0
    else:
        assert result.reason in PRICE_REASONS


@given(series(mixed(PRICE_BITS)), st.sampled_from([None, "USD", "BTC"]), st.booleans())
def test_vectorised_prices_keep_every_row_and_agree_with_the_scalar_parser(values, default, comma):
    out = parse_prices(values, PriceStyle(default, comma))
    assert out.index.equals(values.index)
    for raw, (_, row) in zip(values, out.iterrows(), strict=True):
        one = parse_price(raw, default, comma)
        got_reason = None if pd.isna(row["reason"]) else row["reason"]
        if one.reason in (None, "non_positive") and got_reason in (None, "non_positive"):
            assert row["currency"] == one.currency
            assert math.isclose(row["amount"], one.amount, rel_tol=1e-12)
        else:
            assert got_reason == one.reason


# --------------------------------------------------------------------------- quantities


@given(mixed(QTY_BITS))
def test_quantity_parser_never_crashes_and_gives_a_positive_amount_or_none(title):
    result = parse_quantity(title)
    if result is not None:
        assert result.unit in {"g", "ml", "unit"}
        assert math.isfinite(result.quantity) and result.quantity > 0


@given(series(mixed(QTY_BITS)))
def test_vectorised_quantities_keep_every_row(titles):
    out = parse_quantities(titles)
    assert out.index.equals(titles.index)
    for title, q in zip(titles, out["quantity"], strict=True):
        one = parse_quantity(title)
        assert (one is None and np.isnan(q)) or (one is not None and q == one.quantity)


@given(series(mixed(["1", "234", ",", ".", " ", "~", "-", "9" * 25, "0"])))
def test_count_parsers_keep_every_row_and_fit_int64(values):
    for parse in (_counts, lambda v: _map_unique(v, _count_lower_value, "Int64")):
        out = parse(values.astype(str))
        assert out.index.equals(values.index)
        assert out.dropna().between(0, 2**63 - 1).all()


# --------------------------------------------------------------------------- countries


@given(mixed(COUNTRY_BITS), st.dates(min_value=dt.date(1990, 1, 1)) | st.none())
def test_country_parser_never_crashes_and_always_gives_a_code_and_region(text, day):
    result = normalise_country(text, day)
    assert isinstance(result.code, str) and result.code
    assert result.region in REGIONS
    assert result.eu in (True, False, None)


@given(series(mixed(COUNTRY_BITS)), st.dates(min_value=dt.date(2000, 1, 1)))
@example(pd.Series(["EUORP"], index=[7], dtype=object), dt.date(2000, 1, 1))
def test_vectorised_countries_keep_every_row(values, day):
    out = normalise_countries(values, [day] * len(values))
    assert out.index.equals(values.index)
    assert out["code"].notna().all() and (out["code"] != "").all()
    assert out["region"].isin(REGIONS).all()


# --------------------------------------------------------------------------- dates


@given(mixed(DATE_BITS))
def test_date_parsers_never_crash(text):
    day = _date_value(text)
    assert day is None or isinstance(day, dt.date)
    age = _age_days(text)
    assert age is None or (math.isfinite(age) and age >= 0)


@given(
    series(mixed(DATE_BITS)), st.dates(min_value=dt.date(2011, 1, 1), max_value=dt.date(2030, 1, 1))
)
def test_registration_dates_keep_every_row_and_are_possible(values, crawl_day):
    crawl = pd.Series([crawl_day] * len(values), index=values.index, dtype=object)
    out = _registered_dates(values.astype(str), crawl)
    assert out.index.equals(values.index)
    assert len(_dates(values.astype(str))) == len(values)
    for day in out:
        assert day is None or EARLIEST_REGISTRATION <= day <= crawl_day


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _with_byte(text: str, at: int, byte: int) -> bytes:
    """The text's UTF-8 (lone surrogates kept) with one byte of 0x80-0xFF put in."""
    data = text.encode("utf-8", "surrogatepass")
    at %= len(data) + 1
    return data[:at] + bytes([byte]) + data[at:]


# bytes near UTF-8 (a byte put into text: cut sequences, stray continuation bytes),
# surrogates, overlong forms and code points past U+10FFFF, beside arbitrary bytes
_NEAR_UTF8 = st.one_of(
    st.binary(max_size=40),
    st.builds(_with_byte, st.text(max_size=20), st.integers(0, 80), st.integers(0x80, 0xFF)),
    st.sampled_from([b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"a\xe2\x82"]),
)


@given(_NEAR_UTF8)
@example(b"plain ascii, 1,2\n")
@example("10 Seeds (Non-Fem'd \u2640\u2642)".encode())
def test_whole_buffer_utf8_check_agrees_with_python(data):
    """The raw read trusts this check in place of the CSV reader's: it must say what
    Python's strict decoder says, for every byte string."""
    assert _is_utf8(data) == _decodes(data)


@given(series(mixed(DATE_BITS)))
def test_scrape_date_checks_give_one_verdict_per_row(values):
    crawl = np.full(len(values), np.datetime64("2017-03-04", "D"))
    unparseable, mismatch = _scrape_checks(values.astype(str), crawl)
    assert len(unparseable) == len(mismatch) == len(values)


# --------------------------------------------------------------------------- HTML importer

ROW = '<tr class="products-list-item">'
HTML_BITS = [
    ROW,
    "<tr>",
    "</tr>",
    "<td>",
    "</td>",
    "<table>",
    "</table>",
    "<script>",
    "<a href=",
    '"/p/x"',
    '"/vendor/v"',
    ">",
    "<",
    "&amp;",
    "&#",
    "From: ",
    "To: ",
    " BTC",
    "<br/>",
]


@given(st.lists(st.one_of(st.sampled_from(HTML_BITS), st.text(max_size=10)), max_size=50))
def test_html_parser_never_crashes_and_emits_every_row_it_sees(parts):
    rows, counts = parse_category_page_with_counts("".join(parts), "./cat/abc/1")
    assert counts["items_seen"] == counts["rows_emitted"] == len(rows)
    assert [r["row_in_page"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(list(r) == COLUMNS for r in rows)


def listing_row(i: int, title: str, price: str, origin: str, vendor: str) -> str:
    esc = html.escape
    return (
        f'{ROW}<td><a href="/p/id{i}">{esc(title)}</a></td><td>{esc(price)} BTC</td>'
        f"<td>From: {esc(origin)}<br/>To: EU</td>"
        f'<td><a class="gen-user-link" href="/vendor/v{i}#"/>{esc(vendor)}</a></td></tr>'
    )


cell = st.text(max_size=20)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(st.tuples(cell, cell, cell, cell), max_size=5), min_size=1, max_size=4),
    st.booleans(),
)
def test_html_archive_import_never_loses_a_row(pages, latin1):
    """Every listing row of every page of an archive comes out once, in page order,
    also from a page that is not valid UTF-8."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "crawl.tar.xz"
        with tarfile.open(archive, "w:xz") as tar:
            for p, rows in enumerate(pages, 1):
                body = "".join(listing_row(i, *r) for i, r in enumerate(rows))
                doc = f"<html><body><table>{body}</table></body></html>"
                data = doc.encode("utf-8") + (b"\xe9" if latin1 else b"")
                info = tarfile.TarInfo(f"cat/h{p}/{p}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        out = read_crawl_archive(archive)
    assert len(out) == sum(len(rows) for rows in pages)
    counts = out.attrs["import_counts"]
    assert counts["items_seen"] == counts["rows_emitted"] == counts["items_in_markup"] == len(out)
    assert counts["undecodable_pages"] == (len(pages) if latin1 else 0)
    expected_titles = [" ".join(r[0].split()) for rows in pages for r in rows]
    assert out["title"].tolist() == expected_titles


# --------------------------------------------------------------------------- whole files

RATES = pd.DataFrame({"date": ["2017-03-03", "2017-03-04"], "btc_usd": 1000.0, "eur_usd": 1.1})
CFG = {"min_price_usd": 0.5, "max_price_usd": 250000, "low_coverage_threshold": 0.3}
any_field = st.one_of(st.text(max_size=30), st.sampled_from(["", "USD 5", "Germany", "ab-1", "x"]))


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(buf.getvalue().encode("utf-8")))
    return path


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(any_field, min_size=7, max_size=11), max_size=8),
    st.lists(st.lists(any_field, min_size=5, max_size=7), max_size=5),
)
def test_cleaning_arbitrary_rows_never_loses_one(listing_rows, vendor_rows):
    """Rows of any content and (near) any width: each ends clean or quarantined."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "data/raw/sim2017/snapshots/alphabay"
        files = [
            write_rows(folder / "2017-03-04_listings.csv.gz", LISTING_COLUMNS, listing_rows),
            write_rows(folder / "2017-03-04_vendors.csv.gz", VENDOR_COLUMNS, vendor_rows),
        ]
        result = clean_partition(files, "sim2017", "alphabay", RATES, CFG, root)
    # rows that are all empty fields are blank lines in CSV, not rows
    nonblank = [r for r in listing_rows + vendor_rows if any(r) or len(r) > 1]
    assert assert_rows_balanced(result) == len(nonblank)


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(any_field, min_size=2, max_size=4), min_size=1, max_size=8))
def test_importing_arbitrary_rows_keeps_every_row_through_cleaning(rows):
    """Source rows of any content become one snapshot row each, and cleaning accounts
    for every one of them (odd widths included)."""
    spec = {
        "market": {"slug": "demo", "name": "Demo"},
        "listings": {
            "files": "demo/*.csv.gz",
            "crawl_date": {"filename": r"^(\d{4}-\d{2}-\d{2})"},
            "columns": {
                "listing_id": {"hash": ["name"]},
                "title": "name",
                "vendor": "vendor",
                "price": {"template": "{price} BTC"},
            },
        },
    }
    rows = [r for r in rows if any(r) or len(r) > 1]  # an all-empty 1-field row is a blank line
    if not rows:
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_rows(root / "mirror/demo/2017-03-04.csv.gz", ["name", "price", "vendor"], rows)
        accounting = import_dataset(spec, root / "mirror", root / "data/raw/demo")
        assert accounting["rows"].tolist() == [len(rows)]
        files = [root / "data/raw/demo" / p for p in accounting["snapshot_file"]]
        result = clean_partition(files, "demo", "demo", RATES, CFG, root)
    assert assert_rows_balanced(result) == len(rows)
