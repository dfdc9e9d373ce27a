"""Bad input, class by class (catalogue: docs/bad_input.md).

Each test builds a small fixture in tmp_path and checks the behaviour a user
needs: a clear error naming file, row and field, or the row quarantined with
its reason, and the row accounting balancing (raw = clean + quarantined).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import assert_rows_balanced
from snakemake.utils import validate

from dnmarkets.clean.partition import RawFileError, clean_partition
from dnmarkets.core.configcheck import ConfigError, check_config
from dnmarkets.sources.agora_html import ArchiveError, read_crawl_archive
from dnmarkets.sources.canonical import LISTING_COLUMNS, VENDOR_COLUMNS
from dnmarkets.sources.fetch import FetchError, fetch_source, read_sources
from dnmarkets.sources.raw_checksums import (
    AccountingError,
    ChecksumError,
    check_all_cleaned,
    verify_files,
)
from dnmarkets.sources.reference import btc_usd_rates
from dnmarkets.sources.tabular import ImportSpecError, import_dataset, import_table

ROOT = Path(__file__).resolve().parents[2]
CFG = {"min_price_usd": 0.5, "max_price_usd": 250000, "low_coverage_threshold": 0.3}
RATES = pd.DataFrame(
    {
        "date": pd.date_range("2015-01-01", "2017-03-31").strftime("%Y-%m-%d"),
        "btc_usd": 1000.0,
        "eur_usd": 1.10,
    }
)
DAY = "2017-03-04"
SNAP = f"data/raw/sim2017/snapshots/alphabay/{DAY}_listings.csv.gz"


# --------------------------------------------------------------------------- fixtures


def good_listing(lid: str = "ab-1", **fields) -> dict:
    row = {
        "listing_id": lid,
        "title": "3.5g Cocaine",
        "vendor": "DrWhite",
        "price": "USD 45.00",
        "category": "Drugs/Stimulants/Cocaine",
        "ships_from": "Germany",
        "ships_to": "Worldwide",
        "feedback": "12",
        "scraped_at": f"{DAY} 13:22:10",
    }
    return {**row, **fields}


def good_vendor(alias: str = "DrWhite", **fields) -> dict:
    row = {
        "vendor": alias,
        "pgp_fingerprint": "",
        "rating": "4.9",
        "registered": "2016-02-11",
        "total_sales": "12",
        "scraped_at": f"{DAY} 10:00:00",
    }
    return {**row, **fields}


def csv_text(rows: list[dict], header: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in header])
    return buf.getvalue()


def snapshot(root: Path, data: bytes | str, rel: str = SNAP, gz: bool = True) -> Path:
    """A raw snapshot file (bytes as given, gzipped unless `gz` is False)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def listings_file(root: Path, rows: list[dict], rel: str = SNAP) -> Path:
    return snapshot(root, csv_text(rows, LISTING_COLUMNS), rel)


def clean(root: Path, files: list[Path], cfg=CFG):
    return clean_partition(files, "sim2017", "alphabay", RATES, cfg, root)


def quarantined(result) -> list[tuple[int, str, str]]:
    return [tuple(r) for r in result.quarantine[["raw_row", "field", "reason"]].values.tolist()]


# A tabular source (importer): columns name, price, from, vendor; day from the file name.
SOURCE_HEADER = "name,price,from,vendor\n"
SOURCE_ROWS = "Weed 5g,0.1,UK,alice\nCoke 1g,0.25,NL,bob\n"
SOURCE_NAME = "2015-01-02_cat.csv.gz"
SPEC = {
    "market": {"slug": "demo", "name": "Demo", "opened": "2014-01-01"},
    "listings": {
        "files": "demo/*_cat.csv.gz",
        "crawl_date": {"filename": r"^(\d{4}-\d{2}-\d{2})_cat"},
        "columns": {
            "listing_id": {"hash": ["vendor", "name"]},
            "title": "name",
            "vendor": "vendor",
            "price": {"template": "{price} BTC"},
            "category": {"constant": "Drugs"},
            "ships_from": "from",
        },
    },
}


def source(root: Path, data: bytes | str, name: str = SOURCE_NAME, gz: bool = True) -> Path:
    return snapshot(root, data, f"mirror/demo/{name}", gz)


def run_import(root: Path, spec: dict = SPEC) -> pd.DataFrame:
    return import_dataset(spec, root / "mirror", root / "data/raw/demo")


def import_and_clean(root: Path, spec: dict = SPEC):
    """Import the sources, then clean every snapshot written (the pipeline's two steps)."""
    accounting = run_import(root, spec)
    out = root / "data/raw/demo"
    files = [out / p for p in accounting["snapshot_file"]]
    return accounting, clean_partition(files, "demo", "demo", RATES, CFG, root)


# --------------------------------------------------------------------------- compression


def test_truncated_gzip_source_stops_naming_the_file(tmp_path):
    full = gzip.compress((SOURCE_HEADER + SOURCE_ROWS * 500).encode())
    path = source(tmp_path, full[: len(full) // 2], gz=False)
    with pytest.raises(ImportSpecError) as err:
        run_import(tmp_path)
    assert str(path) in str(err.value)
    assert "truncated or damaged" in str(err.value)


def test_truncated_gzip_snapshot_stops_naming_the_file(tmp_path):
    full = gzip.compress(
        csv_text([good_listing(f"ab-{i}") for i in range(500)], LISTING_COLUMNS).encode()
    )
    path = snapshot(tmp_path, full[: len(full) // 2], gz=False)
    with pytest.raises(RawFileError) as err:
        clean(tmp_path, [path])
    assert f"{path}: cannot read gzip file (truncated or damaged)" in str(err.value)


def test_truncated_html_crawl_archive_stops_naming_the_file(tmp_path):
    archive = tmp_path / "crawl.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        for page in range(20):
            data = f'<tr class="products-list-item"><td><a href="/p/{page}">t</a></td></tr>' * 300
            info = tarfile.TarInfo(f"cat/h/{page}")
            info.size = len(data.encode())
            tar.addfile(info, io.BytesIO(data.encode()))
    assert len(read_crawl_archive(archive)) == 6000
    archive.write_bytes(archive.read_bytes()[:400])
    with pytest.raises(
        ArchiveError, match=rf"{archive}: cannot read the crawl archive \(truncated"
    ):
        read_crawl_archive(archive)


# --------------------------------------------------------------------------- encodings


def test_latin1_source_stops_naming_row_field_and_byte_offset(tmp_path):
    text = SOURCE_HEADER + "Weed 5g,0.1,UK,alice\nHash 2g,0.2,Österreich,bob\n"
    source(tmp_path, text.encode("latin-1"))
    with pytest.raises(ImportSpecError) as err:
        run_import(tmp_path)
    message = str(err.value)
    assert SOURCE_NAME in message
    assert "data row 2, field 'from'" in message
    offset = text.encode("latin-1").index("Ö".encode("latin-1"))
    assert f"byte 0xd6 at byte offset {offset}" in message


def test_latin1_source_is_read_when_the_mapping_says_so(tmp_path):
    text = SOURCE_HEADER + "Hash 2g,0.2,Österreich,bob\n"
    source(tmp_path, text.encode("latin-1"))
    spec = {**SPEC, "listings": {**SPEC["listings"], "encoding": "latin-1"}}
    _, result = import_and_clean(tmp_path, spec)
    assert result.listings["ships_from_raw"].tolist() == ["Österreich"]
    assert result.listings["ships_from"].tolist() == ["AT"]
    assert_rows_balanced(result)


def test_latin1_bytes_in_a_snapshot_quarantine_the_row_naming_the_field(tmp_path):
    text = csv_text(
        [good_listing("ab-1"), good_listing("ab-2", ships_from="Österreich")], LISTING_COLUMNS
    )
    path = snapshot(tmp_path, text.encode("latin-1"))
    result = clean(tmp_path, [path])
    assert result.listings["listing_id"].tolist() == ["ab-1"]
    assert quarantined(result) == [(2, "ships_from", "invalid_utf8")]
    assert_rows_balanced(result)


@pytest.mark.parametrize(
    ("encoding", "found"), [("utf-16", "UTF-16-LE"), ("utf-16-be", "NUL bytes")]
)
def test_utf16_source_stops_naming_the_encoding(tmp_path, encoding, found):
    path = source(tmp_path, (SOURCE_HEADER + SOURCE_ROWS).encode(encoding))
    with pytest.raises(ImportSpecError) as err:
        run_import(tmp_path)
    assert str(path) in str(err.value) and found in str(err.value)


def test_utf16_snapshot_stops_naming_the_encoding(tmp_path):
    text = csv_text([good_listing()], LISTING_COLUMNS)
    path = snapshot(tmp_path, text.encode("utf-16"))
    with pytest.raises(RawFileError, match=r"2017-03-04_listings\.csv\.gz: the file is UTF-16-LE"):
        clean(tmp_path, [path])


def test_byte_order_mark_is_dropped_not_part_of_the_first_column(tmp_path):
    source(tmp_path, b"\xef\xbb\xbf" + (SOURCE_HEADER + SOURCE_ROWS).encode())
    _, result = import_and_clean(tmp_path)
    assert result.listings["title"].tolist() == ["Weed 5g", "Coke 1g"]
    path = snapshot(
        tmp_path, b"\xef\xbb\xbf" + csv_text([good_listing()], LISTING_COLUMNS).encode()
    )
    result = clean(tmp_path, [path])
    assert result.listings["listing_id"].tolist() == ["ab-1"]
    assert_rows_balanced(result)


# --------------------------------------------------------------------------- columns


def test_missing_source_column_names_file_mapping_and_column(tmp_path):
    source(tmp_path, "name,price,vendor\nWeed 5g,0.1,alice\n")
    with pytest.raises(ImportSpecError) as err:
        run_import(tmp_path)
    assert f"demo/{SOURCE_NAME} (listings.ships_from): source column 'from' not found" in str(
        err.value
    )


@pytest.mark.parametrize("missing", ["price", "vendor"])
def test_missing_snapshot_column_names_file_and_column(tmp_path, missing):
    header = [c for c in LISTING_COLUMNS if c != missing]
    path = snapshot(tmp_path, csv_text([good_listing()], header))
    with pytest.raises(RawFileError) as err:
        clean(tmp_path, [path])
    assert f"{path}: missing required column(s) {missing}" in str(err.value)


def test_extra_columns_are_ignored(tmp_path):
    source(tmp_path, "name,price,from,vendor,bonus\nWeed 5g,0.1,UK,alice,x\n")
    _, result = import_and_clean(tmp_path)
    assert result.listings["title"].tolist() == ["Weed 5g"]
    path = snapshot(
        tmp_path, csv_text([{**good_listing(), "bonus": "x"}], [*LISTING_COLUMNS, "bonus"])
    )
    result = clean(tmp_path, [path])
    assert len(result.listings) == 1
    assert_rows_balanced(result)


def test_renamed_column_names_what_is_missing_and_what_the_header_has(tmp_path):
    header = [("prize" if c == "price" else c) for c in LISTING_COLUMNS]
    path = snapshot(tmp_path, csv_text([{**good_listing(), "prize": "USD 5"}], header))
    with pytest.raises(RawFileError) as err:
        clean(tmp_path, [path])
    assert "missing required column(s) price (header has: listing_id, title, vendor, prize" in str(
        err.value
    )
    source(tmp_path, "title,price,from,vendor\nWeed 5g,0.1,UK,alice\n")
    with pytest.raises(ImportSpecError, match=r"source column 'name' not found.*'title'"):
        run_import(tmp_path)


def test_duplicated_column_stops_naming_it(tmp_path):
    source(tmp_path, "name,name,price,from,vendor\nWeed,x,0.1,UK,alice\n")
    with pytest.raises(
        ImportSpecError, match=rf"{SOURCE_NAME}: duplicated column\(s\) in header: name"
    ):
        run_import(tmp_path)
    header = [*LISTING_COLUMNS, "price"]
    path = snapshot(tmp_path, csv_text([good_listing()], header))
    with pytest.raises(RawFileError, match="duplicated column"):
        clean(tmp_path, [path])


def test_wrong_types_in_optional_fields_become_missing_values_not_lost_rows(tmp_path):
    rows = [good_listing("ab-1", feedback="lots"), good_listing("ab-2", feedback="-3")]
    vendors = [good_vendor("a", rating="five", total_sales="many", registered="soon")]
    f1 = listings_file(tmp_path, rows)
    f2 = snapshot(tmp_path, csv_text(vendors, VENDOR_COLUMNS), SNAP.replace("listings", "vendors"))
    result = clean(tmp_path, [f1, f2])
    assert result.listings["feedback_count"].isna().all()
    v = result.vendors.iloc[0]
    assert pd.isna(v["rating"]) and pd.isna(v["total_sales"]) and v["registered"] is None
    assert result.quarantine.empty
    assert_rows_balanced(result)


def test_wrong_types_in_a_source_column_reach_quarantine_through_the_import(tmp_path):
    source(tmp_path, SOURCE_HEADER + "Weed 5g,0.1,UK,alice\nHash,abc,NL,bob\nCoke,0.1.2,NL,carol\n")
    accounting, result = import_and_clean(tmp_path)
    assert accounting["rows"].tolist() == [3]
    assert result.listings["vendor"].tolist() == ["alice"]
    assert quarantined(result) == [
        (2, "price", "unparseable_price"),
        (3, "price", "unparseable_price"),
    ]
    assert json.loads(result.quarantine["raw"].iloc[0])["price"] == "abc BTC"
    assert_rows_balanced(result)


# --------------------------------------------------------------------------- empty files


def test_empty_files_stop_naming_the_file(tmp_path):
    source(tmp_path, b"")
    with pytest.raises(ImportSpecError, match=rf"{SOURCE_NAME}: empty file \(no header row\)"):
        run_import(tmp_path)
    path = snapshot(tmp_path, b"")
    with pytest.raises(RawFileError, match=r"_listings\.csv\.gz: empty file"):
        clean(tmp_path, [path])


def test_header_only_source_stops_and_header_only_snapshot_is_zero_rows(tmp_path):
    source(tmp_path, SOURCE_HEADER)
    with pytest.raises(ImportSpecError, match=rf"{SOURCE_NAME}: header but no data rows"):
        run_import(tmp_path)
    # a snapshot with no rows is a crawl that saw nothing: accounted as 0 = 0 + 0
    path = snapshot(tmp_path, ",".join(LISTING_COLUMNS) + "\n")
    result = clean(tmp_path, [path])
    assert result.accounting[["raw_rows", "clean_rows", "quarantined_rows"]].values.tolist() == [
        [0, 0, 0]
    ]


# --------------------------------------------------------------------------- prices


@pytest.mark.parametrize(
    ("price", "reason"),
    [
        ("USD 0", "non_positive_price"),  # zero
        ("0.00 BTC", "non_positive_price"),
        ("-5 USD", "non_positive_price"),  # negative
        ("USD -5", "non_positive_price"),
        ("USD 300000", "price_out_of_range"),  # absurd
        ("USD 99999999999999999999999", "price_out_of_range"),
        ("USD 0.01", "price_out_of_range"),
        ("free", "unparseable_price"),  # non-numeric
        ("USD NaN", "unparseable_price"),
        ("USD inf", "unparseable_price"),
        ("USD 1e9", "unparseable_price"),
        ("USD 5 EUR", "unparseable_price"),
        ("", "empty_price"),
        ("45 GBP", "unknown_currency"),  # unknown currencies
        ("XMR 1.5", "unknown_currency"),
        ("¥ 500", "unknown_currency"),
    ],
)
def test_bad_prices_are_quarantined_with_their_reason(tmp_path, price, reason):
    path = listings_file(tmp_path, [good_listing("ab-1"), good_listing("ab-2", price=price)])
    result = clean(tmp_path, [path])
    assert result.listings["listing_id"].tolist() == ["ab-1"]
    assert quarantined(result) == [(2, "price", reason)]
    assert json.loads(result.quarantine["raw"].iloc[0])["price"] == price
    assert_rows_balanced(result)


def test_price_without_a_rate_on_the_day_is_quarantined(tmp_path):
    rel = SNAP.replace(DAY, "2018-06-01")
    path = listings_file(tmp_path, [good_listing(price="0.1 BTC", scraped_at="")], rel)
    result = clean(tmp_path, [path])
    assert quarantined(result) == [(1, "price", "no_rate")]
    assert_rows_balanced(result)


@pytest.mark.parametrize("price", ["USD\x0045", "USD 45\u200b", "\x07USD 45", "USD 4\x005"])
def test_control_characters_in_prices_are_debris_not_part_of_the_price(tmp_path, price):
    path = listings_file(tmp_path, [good_listing(price=price)])
    result = clean(tmp_path, [path])
    assert result.listings["price_usd"].tolist() == [45.0]
    assert result.listings["price_raw"].tolist() == [price]  # the raw text is kept as found
    assert_rows_balanced(result)


def test_absurd_numbers_in_counts_and_quantities_become_missing_not_crashes(tmp_path):
    rows = [
        good_listing("ab-1", feedback="9" * 30),  # once an Int64 overflow
        good_listing("ab-2", title="9" * 400 + "g Cocaine"),  # once an infinite quantity
        good_listing("ab-3", title="1" + "0" * 400 + " pills of MDMA"),  # once a float overflow
    ]
    vendors = [good_vendor("a", total_sales="9" * 30 + "~" + "9" * 31)]
    f1 = listings_file(tmp_path, rows)
    f2 = snapshot(tmp_path, csv_text(vendors, VENDOR_COLUMNS), SNAP.replace("listings", "vendors"))
    result = clean(tmp_path, [f1, f2])
    assert result.listings["feedback_count"].isna().tolist() == [True, False, False]
    assert result.listings["quantity"].isna().tolist() == [False, True, True]
    assert result.vendors["total_sales"].isna().all()
    assert result.quarantine.empty
    assert_rows_balanced(result)


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("scraped_at", "reason"),
    [
        ("yesterday-ish", "unparseable_crawl_date"),
        ("2017-02-30 10:00:00", "unparseable_crawl_date"),
        ("04/03/2017 x", "unparseable_crawl_date"),
        ("2016-03-04 10:00:00", "crawl_date_mismatch"),
        ("2099-03-04 10:00:00", "crawl_date_mismatch"),
    ],
)
def test_unparseable_or_mismatched_scrape_dates_are_quarantined(tmp_path, scraped_at, reason):
    path = listings_file(
        tmp_path, [good_listing("ab-1"), good_listing("ab-2", scraped_at=scraped_at)]
    )
    result = clean(tmp_path, [path])
    assert quarantined(result) == [(2, "scraped_at", reason)]
    assert_rows_balanced(result)


def test_crawl_day_before_the_market_opened_stops_the_import(tmp_path):
    source(tmp_path, SOURCE_HEADER + SOURCE_ROWS, name="2013-06-01_cat.csv.gz")
    with pytest.raises(ImportSpecError) as err:
        run_import(tmp_path)
    assert "demo/2013-06-01_cat.csv.gz: data row 1, crawl_date from the file name" in str(err.value)
    assert "before the market opened (2014-01-01)" in str(err.value)


def test_crawl_day_in_the_future_stops_import_and_cleaning(tmp_path):
    future = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    source(tmp_path, SOURCE_HEADER + SOURCE_ROWS, name=f"{future}_cat.csv.gz")
    with pytest.raises(ImportSpecError, match=rf"{future}_cat\.csv\.gz: data row 1.*in the future"):
        run_import(tmp_path)
    path = listings_file(tmp_path, [good_listing()], SNAP.replace(DAY, future))
    with pytest.raises(
        RawFileError, match=rf"{future}_listings\.csv\.gz: crawl date .* in the future"
    ):
        clean(tmp_path, [path])


@pytest.mark.parametrize("day", ["2015-02-30", "02/01/2015", "soon"])
def test_unparseable_crawl_day_in_a_column_names_file_row_and_column(tmp_path, day):
    source(
        tmp_path, f"name,price,from,vendor,seen\nWeed,0.1,UK,a,2015-01-02\nCoke,0.2,NL,b,{day}\n"
    )
    spec = {**SPEC, "listings": {**SPEC["listings"], "crawl_date": {"column": "seen"}}}
    with pytest.raises(ImportSpecError) as err:
        run_import(tmp_path, spec)
    assert f"{SOURCE_NAME}: data row 2, crawl_date from column 'seen'" in str(err.value)


def test_impossible_registration_dates_become_missing_the_row_is_kept(tmp_path):
    vendors = [
        good_vendor("a", registered="2099-01-01"),  # after the crawl
        good_vendor("b", registered="1970-01-01"),  # before Bitcoin existed
        good_vendor("c", registered="Registered 900 years 0 months 0 days"),
        good_vendor("d", registered="Registered 99999999999 years"),  # once an overflow crash
        good_vendor("e", registered="2016-02-11"),
    ]
    path = snapshot(
        tmp_path, csv_text(vendors, VENDOR_COLUMNS), SNAP.replace("listings", "vendors")
    )
    result = clean(tmp_path, [path])
    assert result.vendors["registered"].tolist() == [None] * 4 + [dt.date(2016, 2, 11)]
    assert_rows_balanced(result)


# --------------------------------------------------------------------------- duplicates


def test_two_source_files_of_one_crawl_day_stop_naming_both(tmp_path):
    source(tmp_path, SOURCE_HEADER + SOURCE_ROWS, name="2015-01-02_cat.csv.gz")
    source(tmp_path, SOURCE_HEADER + SOURCE_ROWS, name="2015-01-02_cat (copy).csv.gz")
    spec = {**SPEC, "listings": {**SPEC["listings"], "files": "demo/2015-01-02_cat*.csv.gz"}}
    with pytest.raises(ImportSpecError) as err:
        run_import(tmp_path, spec)
    message = str(err.value)
    assert (
        "demo/2015-01-02_cat.csv.gz" in message and "demo/2015-01-02_cat (copy).csv.gz" in message
    )
    assert "two snapshots of one crawl" in message


def test_two_snapshot_files_of_one_crawl_day_stop_naming_both(tmp_path):
    first = listings_file(tmp_path, [good_listing()])
    second = listings_file(tmp_path, [good_listing()], "copy/" + SNAP)
    with pytest.raises(RawFileError) as err:
        clean(tmp_path, [first, second])
    assert str(first) in str(err.value) and str(second) in str(err.value)
    assert "duplicate snapshots of one crawl" in str(err.value)


def test_the_same_file_listed_twice_is_read_once(tmp_path):
    path = listings_file(tmp_path, [good_listing("ab-1"), good_listing("ab-2")])
    detour = tmp_path / "data/raw/sim2017/snapshots/../snapshots/alphabay" / path.name
    result = clean(tmp_path, [path, detour, path])
    assert result.accounting["raw_rows"].tolist() == [2]
    assert len(result.listings) == 2
    assert_rows_balanced(result)
    src = source(tmp_path, SOURCE_HEADER + SOURCE_ROWS)
    records = import_table(
        [src, src.parent / ".." / "demo" / src.name],
        "listings",
        SPEC["listings"],
        {None: ("demo", None)},
        tmp_path / "out",
        tmp_path / "mirror",
    )
    assert [(r["source_file"], r["snapshot_file"], r["rows"]) for r in records] == [
        (f"demo/{SOURCE_NAME}", "snapshots/demo/2015-01-02_listings.csv.gz", 2)
    ]


def test_a_manifest_or_sources_list_naming_a_file_twice_is_an_error(tmp_path):
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text("path\tsha256\trows\na.csv.gz\tx\t1\nb.csv.gz\ty\t1\na.csv.gz\tx\t1\n")
    with pytest.raises(ChecksumError, match=r"a\.csv\.gz is listed more than once \(lines 2, 4\)"):
        verify_files(manifest, [])
    sources = tmp_path / "sources.tsv"
    sources.write_text(
        "source\tpath\tsha256\tsha256_original\turl\n"
        "demo\tdemo/a.csv.gz\tx\t\t\ndemo\tdemo/a.csv.gz\tx\t\t\n"
    )
    with pytest.raises(
        FetchError, match=r"data row 2, field 'path': demo/a\.csv\.gz is listed twice"
    ):
        read_sources(sources)


def test_rows_repeated_inside_one_snapshot_are_quarantined_first_kept(tmp_path):
    path = listings_file(
        tmp_path, [good_listing("ab-1"), good_listing("ab-2"), good_listing("ab-1")]
    )
    result = clean(tmp_path, [path])
    assert result.listings["raw_row"].tolist() == [1, 2]
    assert quarantined(result) == [(3, "listing_id", "duplicate_in_snapshot")]
    assert_rows_balanced(result)


# --------------------------------------------------------------------------- CSV structure


def test_quoted_newlines_are_one_row_in_import_and_cleaning(tmp_path):
    source(tmp_path, SOURCE_HEADER + '"Weed\n5g",0.1,UK,alice\n"Coke\r\n1g",0.25,NL,bob\n')
    accounting, result = import_and_clean(tmp_path)
    assert accounting["rows"].tolist() == [2]
    assert result.listings["title"].tolist() == ["Weed 5g", "Coke 1g"]
    assert result.listings["raw_row"].tolist() == [1, 2]
    assert_rows_balanced(result)


def test_a_bare_carriage_return_does_not_split_a_row(tmp_path):
    source(tmp_path, SOURCE_HEADER + "Weed\r5g,0.1,UK,alice\nCoke 1g,0.25,NL,bob\n")
    accounting, result = import_and_clean(tmp_path)
    assert accounting["rows"].tolist() == [2]
    assert result.listings["title"].tolist() == ["Weed 5g", "Coke 1g"]
    text = csv_text([good_listing("ab-1"), good_listing("ab-2")], LISTING_COLUMNS)
    path = snapshot(tmp_path, text.replace("3.5g Cocaine", "3.5g\rCocaine", 1))
    result = clean(tmp_path, [path])
    assert result.accounting["raw_rows"].tolist() == [2]
    assert result.listings["title"].tolist() == ["3.5g Cocaine", "3.5g Cocaine"]
    assert_rows_balanced(result)


def test_crlf_line_ends_are_read_as_line_ends(tmp_path):
    source(tmp_path, (SOURCE_HEADER + SOURCE_ROWS).replace("\n", "\r\n"))
    _, result = import_and_clean(tmp_path)
    assert result.listings["vendor"].tolist() == ["alice", "bob"]
    assert result.listings["ships_from"].tolist() == ["GB", "NL"]


def test_stray_separator_in_a_snapshot_quarantines_the_row_with_its_fields(tmp_path):
    good = "ab-1,t,v,USD 5,Drugs,DE,DE,1,2017-03-04 10:00:00"
    stray = "ab-2,1g coke, pure,v,USD 5,Drugs,DE,DE,1,2017-03-04 10:00:00"
    short = "ab-3,cut off"
    path = snapshot(tmp_path, ",".join(LISTING_COLUMNS) + f"\n{good}\n{stray}\n{short}\n")
    result = clean(tmp_path, [path])
    assert quarantined(result) == [(2, "row", "field_count"), (3, "row", "field_count")]
    raw = json.loads(result.quarantine["raw"].iloc[0])
    assert raw["title"] == "1g coke" and raw["_extra_fields"] == ["2017-03-04 10:00:00"]
    assert_rows_balanced(result)


@pytest.mark.parametrize("odd_row", [1, 2])
def test_a_too_wide_or_short_source_row_shifts_nothing_and_is_quarantined(tmp_path, odd_row):
    rows = ["Weed 5g,0.1,UK,alice", "Coke 1g,0.25,NL,bob", "Hash 2g,0.2,NL,carol"]
    rows[odd_row - 1] += ",stray" if odd_row == 1 else ""
    if odd_row == 2:
        rows[1] = "Coke 1g,0.25,NL"
    source(tmp_path, SOURCE_HEADER + "\n".join(rows) + "\n")
    accounting, result = import_and_clean(tmp_path)
    assert accounting[["source_rows", "rows", "rows_odd_width"]].values.tolist() == [[3, 3, 1]]
    # the other rows keep their columns (a too-wide first row once shifted them all)
    kept = result.listings.sort_values("raw_row")
    assert kept["vendor"].tolist() == [
        v for i, v in enumerate(["alice", "bob", "carol"], 1) if i != odd_row
    ]
    assert kept["price_amount"].tolist() == [
        p for i, p in enumerate([0.1, 0.25, 0.2], 1) if i != odd_row
    ]
    assert quarantined(result) == [(odd_row, "row", "field_count")]
    assert_rows_balanced(result)


def test_unterminated_quote_stops_naming_file_and_row(tmp_path):
    source(tmp_path, SOURCE_HEADER + 'Weed 5g,0.1,UK,alice\n"Coke 1g,0.25,NL,bob\n')
    with pytest.raises(ImportSpecError, match=rf"{SOURCE_NAME}: cannot parse data row 2"):
        run_import(tmp_path)


# --------------------------------------------------------------------------- hostile fields


def test_null_bytes_are_removed_from_text_fields(tmp_path):
    source(tmp_path, SOURCE_HEADER + "Weed\x00 5g,0.1,UK,al\x00ice\n")
    _, result = import_and_clean(tmp_path)
    assert result.listings["title"].tolist() == ["Weed 5g"]
    path = listings_file(
        tmp_path, [good_listing(title="3.5g\x00 Cocaine", ships_from="Ger\x00many")]
    )
    result = clean(tmp_path, [path])
    assert result.listings["title"].tolist() == ["3.5g Cocaine"]
    assert_rows_balanced(result)


def test_one_megabyte_fields_are_read_capped_or_quarantined(tmp_path):
    huge = "x" * 1_000_000
    rows = [good_listing("ab-1", title=huge), good_listing("ab-2", price="9" * 1_000_000)]
    result = clean(tmp_path, [listings_file(tmp_path, rows)])
    assert len(result.listings["title"].iloc[0]) == 500  # capped, the cut marked with "…"
    assert quarantined(result)[0][:2] == (2, "price")
    assert len(json.loads(result.quarantine["raw"].iloc[0])["price"]) == 1_000_000
    assert_rows_balanced(result)
    source(tmp_path, SOURCE_HEADER + f"{huge},0.1,UK,alice\n")
    accounting, result = import_and_clean(tmp_path)
    assert accounting["rows"].tolist() == [1] and len(result.listings) == 1


# --------------------------------------------------------------------------- markets, config


def test_a_snapshot_of_a_market_in_no_partition_stops_the_merge(tmp_path):
    manifest = tmp_path / "data/raw/sim2017/manifest.tsv"
    manifest.parent.mkdir(parents=True)
    known = "snapshots/alphabay/2017-03-04_listings.csv.gz"
    unknown = "snapshots/silkroad9/2017-03-04_listings.csv.gz"  # a market the config lacks
    manifest.write_text(f"path\tsha256\trows\n{known}\tx\t2\n{unknown}\ty\t5\n")
    accounting = pd.DataFrame(
        {
            "raw_file": [(manifest.parent / known).as_posix()],
            "raw_rows": [2],
            "clean_rows": [1],
            "quarantined_rows": [1],
        }
    )
    with pytest.raises(AccountingError) as err:
        check_all_cleaned(manifest, accounting)
    assert f"1 raw file(s) in no cleaning partition: {unknown}" in str(err.value)
    # with the unknown market gone, rows must still match the manifest's count
    manifest.write_text(f"path\tsha256\trows\n{known}\tx\t2\n")
    check_all_cleaned(manifest, accounting)
    with pytest.raises(AccountingError, match=r"2 rows in .*manifest\.tsv, but 3 raw = 1 clean"):
        check_all_cleaned(manifest, accounting.assign(raw_rows=[3]))


def project_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def sources():
    return read_sources(ROOT / "data/sources.tsv")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["datasets"]["sim2017"]["simulation"]["takedowns"][1].update(
                event="bayonnet"
            ),
            "datasets.sim2017.simulation.takedowns[1].event: 'bayonnet' is not an event "
            "(bayonet, evolution, onymous)",
        ),
        (
            lambda c: [t.pop("event") for t in c["datasets"]["sim2017"]["simulation"]["takedowns"]],
            "events.bayonet.datasets: lists the simulated dataset sim2017, whose takedowns do "
            "not play it",
        ),
        (
            lambda c: c["datasets"]["sim2017"]["simulation"]["takedowns"][0].update(
                market="ashfrod"
            ),
            "datasets.sim2017.simulation.takedowns[0].market: unknown market 'ashfrod'",
        ),
        (
            lambda c: c["datasets"]["agora2014"].update(source="agora2041"),
            "datasets.agora2014.source: 'agora2041' is not a source in data/sources.tsv",
        ),
        (
            lambda c: c["datasets"]["agora2014"]["listings"].update(files="agora/*.csv"),
            "datasets.agora2014.listings.files: 'agora/*.csv' matches no file",
        ),
        (
            lambda c: c["datasets"]["cmu_sales"]["series"][0].update(file="cmu/alphabay.csv"),
            "datasets.cmu_sales.series[0].file: 'cmu/alphabay.csv' is not a file of source",
        ),
        (
            lambda c: c["datasets"]["dream2016"]["roster"].update(file="dream-2016/seller.csv"),
            "datasets.dream2016.roster.file: 'dream-2016/seller.csv' is not a file of source",
        ),
        (
            lambda c: c["analysis"]["migration"]["external"]["dream2017"]["rosters"].update(
                event="bayonnet"
            ),
            "analysis.migration.external.dream2017.rosters.event: 'bayonnet' is not an event",
        ),
        (
            lambda c: c["events"]["onymous"].update(date="2014-11-31"),
            "events.onymous.date: '2014-11-31' is not a calendar date",
        ),
    ],
)
def test_config_names_that_point_nowhere_are_errors(change, message):
    config = project_config()
    check_config(config, sources())  # the project's own config is fine
    change(config)
    validate(config, str(ROOT / "schemas/config.schema.yaml"))  # the schema cannot see these
    with pytest.raises(ConfigError, match="config.yaml refers to things that do not exist") as err:
        check_config(config, sources())
    assert message in str(err.value)


def test_an_event_in_a_dataset_not_configured_is_a_warning_not_an_error():
    # dropping a dataset (a real-data-only run) leaves its events: they are not analysed
    config = project_config()
    config["events"]["bayonet"]["datasets"] = ["sim2071"]
    warnings = check_config(config, sources())
    assert warnings == [
        "events.bayonet.datasets: 'sim2071' is not a configured dataset "
        f"({', '.join(sorted(config['datasets']))}): the event is not analysed there"
    ]


def test_a_roster_overlap_without_its_rosters_is_a_warning():
    config = project_config()
    del config["datasets"]["dream2016"]
    warnings = check_config(config, sources())
    assert warnings == [
        "analysis.migration.external.dream2017.rosters: 'dream2016' is not a configured "
        f"dataset ({', '.join(sorted(config['datasets']))}): the roster overlap is not computed"
    ]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda c: c["cleaning"].update(max_price_usdd=5), "max_price_usdd"),
        (lambda c: c["datasets"]["agora2014"]["market"].update(opend="2013-12-03"), "opend"),
        (lambda c: c.update(mirorr="../shared/data"), "mirorr"),
    ],
)
def test_config_typo_is_a_schema_error_naming_the_key(change, key):
    config = project_config()
    change(config)
    with pytest.raises(Exception, match=key):
        validate(config, str(ROOT / "schemas/config.schema.yaml"))


def test_config_errors_stop_the_workflow_before_any_job_runs(tmp_path):
    from conftest import make_project

    config = project_config()
    config["datasets"]["sim2017"]["simulation"]["takedowns"][1]["event"] = "bayonnet"
    project = make_project(tmp_path / "project", config)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1"],
        cwd=project,
        capture_output=True,
        text=True,
        env={
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
            "PYTHONPATH": str(project / "src"),
        },
        timeout=300,
    )
    assert proc.returncode != 0
    assert "takedowns[1].event: 'bayonnet' is not an event" in proc.stdout + proc.stderr
    assert not (project / "results").exists() and not (project / "data/raw/sim2017").exists()


# --------------------------------------------------------------------------- mirror, checksums


def mirror_with_two_files(tmp_path: Path) -> Path:
    folder = tmp_path / "mirror" / "demo"
    folder.mkdir(parents=True)
    lines = ["source\tpath\tsha256\tsha256_original\turl"]
    for name in ("a.csv.gz", "b.csv.gz"):
        data = gzip.compress(name.encode(), mtime=0)
        (folder / name).write_bytes(data)
        lines.append(f"demo\tdemo/{name}\t{hashlib.sha256(data).hexdigest()}\t\t")
    (tmp_path / "sources.tsv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_a_mirror_missing_a_file_stops_naming_it_and_saying_what_to_do(tmp_path):
    root = mirror_with_two_files(tmp_path)
    (root / "mirror/demo/b.csv.gz").unlink()
    with pytest.raises(FetchError) as err:
        fetch_source("demo", root / "raw", root / "mirror", False, root / "sources.tsv")
    assert "demo/b.csv.gz: missing from the mirror" in str(err.value)
    assert "download: true" in str(err.value)


def test_a_checksum_mismatch_stops_naming_the_file_and_keeps_nothing(tmp_path):
    root = mirror_with_two_files(tmp_path)
    (root / "mirror/demo/b.csv.gz").write_bytes(b"damaged")
    with pytest.raises(FetchError, match=r"demo/b\.csv\.gz: sha256 [0-9a-f]{64} differs"):
        fetch_source("demo", root / "raw", root / "mirror", False, root / "sources.tsv")
    assert not (root / "raw/files/demo/b.csv.gz").exists()
    # a raw snapshot changed after its manifest was written
    path = listings_file(tmp_path, [good_listing()])
    manifest = path.parents[2] / "manifest.tsv"
    manifest.write_text(f"path\tsha256\trows\nsnapshots/alphabay/{path.name}\t{'0' * 64}\t1\n")
    with pytest.raises(ChecksumError, match=rf"{path.name}: sha256 [0-9a-f]{{64}} differs"):
        verify_files(manifest, [path])


def test_bad_snapshot_file_names_stop_naming_the_file(tmp_path):
    for name in ("2017-03-04_listing.csv.gz", "2017-02-30_listings.csv.gz"):
        path = snapshot(tmp_path, "a\n", f"data/raw/sim2017/snapshots/alphabay/{name}")
        with pytest.raises(RawFileError, match=name.replace(".", r"\.")):
            clean(tmp_path, [path])


def test_missing_ids_and_aliases_are_quarantined(tmp_path):
    rows = [good_listing("ab-1"), good_listing(" "), good_listing("ab-3", vendor="")]
    result = clean(tmp_path, [listings_file(tmp_path, rows)])
    assert quarantined(result) == [
        (2, "listing_id", "missing_listing_id"),
        (3, "vendor", "missing_vendor"),
    ]
    assert_rows_balanced(result)


def test_a_broken_rates_file_stops_naming_the_file_and_column(tmp_path):
    path = tmp_path / "bitcoin.csv.gz"
    path.write_bytes(gzip.compress(b"date,PriceUSD\n2015-01-02,300\n"))  # renamed column
    with pytest.raises(
        ValueError, match=r"bitcoin\.csv\.gz: rates file lacks column\(s\) \['price\(USD\)'\]"
    ):
        btc_usd_rates(path)
    full = gzip.compress(b"date,price(USD)\n" + b"2015-01-02,300\n" * 2000)
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(ValueError, match=r"bitcoin\.csv\.gz: cannot read gzip file \(truncated"):
        btc_usd_rates(path)
