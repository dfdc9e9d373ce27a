"""clean_partition on small hand-written raw snapshots (sim2017 raw format)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dnmarkets.clean.partition import (
    LISTING_COLUMNS,
    VENDOR_COLUMNS,
    RawFileError,
    clean_partition,
    partition_files,
    partitions,
)
from dnmarkets.clean.schemas import (
    ACCOUNTING_SCHEMA,
    LISTINGS_SCHEMA,
    QUARANTINE_SCHEMA,
    VENDORS_SCHEMA,
)
from dnmarkets.sources.ecb import NoEcbRate

CFG = {"min_price_usd": 0.5, "max_price_usd": 250000, "low_coverage_threshold": 0.3}
RATES = pd.DataFrame(
    {
        "date": pd.date_range("2017-02-01", "2017-03-31").strftime("%Y-%m-%d").tolist()
        + ["2020-01-31", "2020-02-01"],
        "btc_usd": [1200.0] * 59 + [9000.0, 9100.0],
        "eur_usd": [1.05] * 59 + [1.10, 1.11],
    }
)


def raw_dir(root: Path) -> Path:
    return root / "data" / "raw" / "sim2017"


def write_gz(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    return path


def write_snapshot(
    root: Path,
    market: str,
    day: str,
    table: str,
    rows: list[dict] | list[list],
    header: tuple | list | None = None,
) -> Path:
    """Write a snapshot file in the raw format (RFC 4180 via the csv module)."""
    header = list(header or (LISTING_COLUMNS if table == "listings" else VENDOR_COLUMNS))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in header] if isinstance(row, dict) else row)
    path = raw_dir(root) / "snapshots" / market / f"{day}_{table}.csv.gz"
    return write_gz(path, buf.getvalue())


def listing(lid: str, day: str = "2017-03-04", **fields) -> dict:
    row = {
        "listing_id": lid,
        "title": "3.5g Cocaine &amp; free shipping",
        "vendor": "DrWhite",
        "price": "USD 45.00",
        "category": "Drugs & Chemicals/Stimulants/Cocaine",
        "ships_from": "Germany",
        "ships_to": "Worldwide",
        "feedback": "1,234",
        "scraped_at": f"{day} 13:22:10",
    }
    row.update(fields)
    return row


def vendor(alias: str, day: str = "2017-03-04", **fields) -> dict:
    row = {
        "vendor": alias,
        "pgp_fingerprint": "9f3a 0000 0000 0000 0000 0000 0000 0000 0000 00ab",
        "rating": "4.91",
        "registered": "2016-02-11",
        "total_sales": "1,204",
        "scraped_at": f"{day} 10:00:00",
    }
    row.update(fields)
    return row


def run(root: Path, files: list[Path], market: str = "alphabay", rates=RATES, cfg=CFG):
    return clean_partition(files, "sim2017", market, rates, cfg, root)


def test_accounting_balances_and_every_row_is_somewhere(tmp_path):
    rows = [
        listing("ab-1"),
        listing("ab-2", price=""),
        listing("ab-3", vendor=""),
        listing("ab-1"),  # duplicate
        listing("ab-4", ships_from="Undeclared;)"),
        listing("", title="no id"),
    ]
    f1 = write_snapshot(tmp_path, "alphabay", "2017-03-04", "listings", rows)
    f2 = write_snapshot(
        tmp_path,
        "alphabay",
        "2017-03-04",
        "vendors",
        [vendor("DrWhite"), vendor(""), vendor("Other")],
    )
    f3 = write_snapshot(
        tmp_path, "alphabay", "2017-03-07", "listings", [listing("ab-1", "2017-03-07")]
    )
    result = run(tmp_path, [f1, f2, f3])
    acc = result.accounting.set_index("raw_file")
    rel = {f: f.relative_to(tmp_path).as_posix() for f in (f1, f2, f3)}
    assert acc.loc[rel[f1], ["raw_rows", "clean_rows", "quarantined_rows"]].tolist() == [6, 2, 4]
    assert acc.loc[rel[f2], ["raw_rows", "clean_rows", "quarantined_rows"]].tolist() == [3, 2, 1]
    assert acc.loc[rel[f3], ["raw_rows", "clean_rows", "quarantined_rows"]].tolist() == [1, 1, 0]
    assert (acc["raw_rows"] == acc["clean_rows"] + acc["quarantined_rows"]).all()
    assert acc.loc[rel[f2], "table"] == "vendors"
    # each (file, row) appears exactly once across clean tables and quarantine
    seen = pd.concat(
        [t[["raw_file", "raw_row"]] for t in (result.listings, result.vendors, result.quarantine)]
    )
    assert not seen.duplicated().any()
    assert len(seen) == acc["raw_rows"].sum()
    assert sorted(seen.loc[seen["raw_file"] == rel[f1], "raw_row"]) == [1, 2, 3, 4, 5, 6]


def test_output_matches_schemas_and_contract_dtypes(tmp_path):
    f1 = write_snapshot(
        tmp_path,
        "alphabay",
        "2017-03-04",
        "listings",
        [listing("ab-1"), listing("ab-2", title="Weed", price="")],
    )
    f2 = write_snapshot(tmp_path, "alphabay", "2017-03-04", "vendors", [vendor("DrWhite")])
    result = run(tmp_path, [f1, f2])
    for table, schema in (
        (result.listings, LISTINGS_SCHEMA),
        (result.vendors, VENDORS_SCHEMA),
        (result.quarantine, QUARANTINE_SCHEMA),
        (result.accounting, ACCOUNTING_SCHEMA),
    ):
        schema.validate(table)
        # optional columns (sold_count, sold_since) only where a source has them
        assert list(table.columns) == [n for n, c in schema.columns.items() if c.required]
    dtypes = {c: str(t) for c, t in result.listings.dtypes.items()}
    assert dtypes["crawl_date"] == "object"
    assert isinstance(result.listings["crawl_date"].iloc[0], dt.date)
    assert dtypes["is_drug"] == "bool" and dtypes["ships_from_eu"] == "boolean"
    assert dtypes["feedback_count"] == "Int64" and dtypes["raw_row"] == "int64"
    assert dtypes["price_usd"] == "float64" and dtypes["quantity"] == "float64"
    for col in (
        "dataset",
        "market",
        "snapshot",
        "listing_id",
        "title",
        "vendor",
        "vendor_key",
        "category_raw",
        "drug_category",
        "ships_from",
        "ships_from_region",
        "currency",
        "quantity_unit",
        "quantity_source",
        "raw_file",
    ):
        assert dtypes[col] == "str", col
    assert {c: str(t) for c, t in result.vendors.dtypes.items()}["total_sales"] == "Int64"
    # a frame with object strings is rejected (pandas 3 'str' dtype is required)
    with pytest.raises(Exception, match="str_dtype"):
        LISTINGS_SCHEMA.validate(result.listings.astype({"title": object}))


def test_clean_listing_values(tmp_path):
    f1 = write_snapshot(
        tmp_path,
        "alphabay",
        "2017-03-04",
        "listings",
        [listing("ab-1", vendor="  DrWhite_Official ")],
    )
    row = run(tmp_path, [f1]).listings.iloc[0]
    assert row["dataset"] == "sim2017" and row["market"] == "alphabay"
    assert row["snapshot"] == "alphabay/2017-03-04"
    assert row["crawl_date"] == dt.date(2017, 3, 4)
    assert row["title"] == "3.5g Cocaine & free shipping"
    assert row["vendor"] == "DrWhite_Official" and row["vendor_key"] == "drwhite"
    assert row["drug_category"] == "cocaine" and row["is_drug"]
    assert (row["ships_from"], row["ships_from_region"], row["ships_from_eu"]) == ("DE", "EU", True)
    assert row["ships_to_raw"] == "Worldwide"
    assert (row["currency"], row["price_amount"], row["price_usd"]) == ("USD", 45.0, 45.0)
    # euros at the ECB rate: 2017-03-04 is a Saturday, Friday's rate (ECB file: 1.0565)
    assert row["price_eur"] == pytest.approx(45.0 / 1.0565)
    assert (row["quantity"], row["quantity_unit"]) == (3.5, "g")
    assert row["feedback_count"] == 1234
    assert row["raw_file"] == "data/raw/sim2017/snapshots/alphabay/2017-03-04_listings.csv.gz"
    assert row["raw_row"] == 1


def test_a_grams_column_beats_the_title_where_it_is_a_positive_number(tmp_path):
    """Dream states grams in a column of its own: used where usable, else the title."""
    header = [*LISTING_COLUMNS, "quantity_g"]
    rows = [
        listing("d-1", quantity_g="7"),  # title says 3.5g; the column wins
        listing("d-2", quantity_g=""),  # empty: the title's 3.5g
        listing("d-3", quantity_g="n/a"),  # not a number: the title's
        listing("d-4", quantity_g="-2"),  # not positive: the title's
        listing("d-5", title="Cocaine, best in town", quantity_g="0.5"),
        listing("d-6", title="Digital scale 0.01g", category="Other/Scales", quantity_g="1"),
    ]
    f1 = write_snapshot(tmp_path, "dream", "2017-03-04", "listings", rows, header)
    out = run(tmp_path, [f1], market="dream").listings.set_index("listing_id")
    got = {i: (r.quantity, r.quantity_unit, r.quantity_source) for i, r in out.iterrows()}
    assert got["d-1"] == (7.0, "g", "column")
    assert got["d-2"] == got["d-3"] == got["d-4"] == (3.5, "g", "title")
    assert got["d-5"] == (0.5, "g", "column")
    # not a drug: no quantity at all, from either source
    assert pd.isna(got["d-6"][0]) and pd.isna(got["d-6"][2])


def test_duplicates_in_snapshot_are_quarantined_first_kept(tmp_path):
    f1 = write_snapshot(
        tmp_path,
        "alphabay",
        "2017-03-04",
        "listings",
        [
            listing("ab-1", price="USD 10"),
            listing("ab-2"),
            listing("ab-1", price="USD 99"),
            listing("ab-1"),
        ],
    )
    f2 = write_snapshot(
        tmp_path, "alphabay", "2017-03-07", "listings", [listing("ab-1", "2017-03-07")]
    )
    result = run(tmp_path, [f1, f2])
    kept = result.listings[result.listings["listing_id"] == "ab-1"]
    assert kept["raw_row"].tolist() == [1, 1]  # first row of each snapshot
    assert kept["price_amount"].tolist() == [10.0, 45.0]
    quarantined = result.quarantine
    assert quarantined["reason"].tolist() == ["duplicate_in_snapshot"] * 2
    assert quarantined["raw_row"].tolist() == [3, 4]
    assert quarantined["field"].tolist() == ["listing_id", "listing_id"]
    assert json.loads(quarantined["raw"].iloc[0])["price"] == "USD 99"


def test_duplicate_vendor_profiles_are_quarantined(tmp_path):
    f = write_snapshot(
        tmp_path,
        "alphabay",
        "2017-03-04",
        "vendors",
        [vendor("DrWhite"), vendor("DrWhite", rating="1.0"), vendor("drwhite")],
    )
    result = run(tmp_path, [f])
    assert result.vendors["vendor"].tolist() == ["DrWhite", "drwhite"]
    assert result.quarantine["reason"].tolist() == ["duplicate_in_snapshot"]


@pytest.mark.parametrize("missing", ["price", "scraped_at", "listing_id"])
def test_missing_column_raises_naming_file_and_column(tmp_path, missing):
    header = [c for c in LISTING_COLUMNS if c != missing]
    path = write_snapshot(
        tmp_path, "alphabay", "2017-03-04", "listings", [listing("ab-1")], header=header
    )
    with pytest.raises(RawFileError) as err:
        run(tmp_path, [path])
    assert str(path) in str(err.value)
    assert f"missing required column(s) {missing}" in str(err.value)


def test_missing_vendor_column_raises(tmp_path):
    header = [c for c in VENDOR_COLUMNS if c not in ("rating", "total_sales")]
    path = write_snapshot(
        tmp_path, "alphabay", "2017-03-04", "vendors", [vendor("x")], header=header
    )
    with pytest.raises(RawFileError, match=r"2017-03-04_vendors\.csv\.gz.*rating, total_sales"):
        run(tmp_path, [path])


@pytest.mark.parametrize(
    ("body", "row"),
    [
        (
            "ab-1,t,v,USD 1,c,DE,DE,1,2017-03-04 10:00:00\n"
            'ab-2,"unterminated,v,USD 1,c,DE,DE,1,x\n',
            2,
        ),
        ('ab-1,"3.5g "Pure" Coke",v,USD 1,c,DE,DE,1,2017-03-04 10:00:00\n', 1),
        (
            "ab-1,t,v,USD 1,c,DE,DE,1,2017-03-04 10:00:00\n"
            'ab-2,t,v,USD 1,c,DE,DE,1,2017-03-04 10:00:00\nab-3,"x"y,v,1,c,DE,DE,1,z\n',
            3,
        ),
    ],
)
def test_broken_quoting_raises_naming_file_and_row(tmp_path, body, row):
    path = raw_dir(tmp_path) / "snapshots/alphabay/2017-03-04_listings.csv.gz"
    write_gz(path, ",".join(LISTING_COLUMNS) + "\n" + body)
    with pytest.raises(RawFileError) as err:
        run(tmp_path, [path])
    assert str(path) in str(err.value)
    assert f"data row {row}" in str(err.value)


@pytest.mark.parametrize(
    "name", ["2017-03-04_listing.csv.gz", "listings.csv.gz", "2017-13-45_listings.csv.gz"]
)
def test_bad_file_names_raise(tmp_path, name):
    path = write_gz(raw_dir(tmp_path) / "snapshots/alphabay" / name, "a\n")
    with pytest.raises(RawFileError, match=name.replace(".", r"\.")):
        run(tmp_path, [path])


def test_corrupt_gzip_raises(tmp_path):
    path = raw_dir(tmp_path) / "snapshots/alphabay/2017-03-04_listings.csv.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(RawFileError, match="cannot read gzip"):
        run(tmp_path, [path])


@pytest.mark.parametrize(
    ("price", "reason"),
    [
        ("", "empty_price"),
        ("   ", "empty_price"),
        ("free", "unparseable_price"),
        ("call me", "unparseable_price"),
        ("45 GBP", "unknown_currency"),
        ("USD 0", "non_positive_price"),
        ("-5 USD", "non_positive_price"),
        ("USD 0.10", "price_out_of_range"),
        ("USD 300000", "price_out_of_range"),
        ("300 BTC", "price_out_of_range"),  # 360,000 USD
    ],
)
def test_bad_prices_are_quarantined_with_reason(tmp_path, price, reason):
    f = write_snapshot(
        tmp_path,
        "alphabay",
        "2017-03-04",
        "listings",
        [listing("ab-1"), listing("ab-2", price=price)],
    )
    result = run(tmp_path, [f])
    assert result.listings["listing_id"].tolist() == ["ab-1"]
    q = result.quarantine.iloc[0]
    assert (q["field"], q["reason"], q["raw_row"], q["table"]) == ("price", reason, 2, "listings")
    assert json.loads(q["raw"])["price"] == price
    assert json.loads(q["raw"])["listing_id"] == "ab-2"


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"listing_id": ""}, "listing_id", "missing_listing_id"),
        ({"listing_id": "   "}, "listing_id", "missing_listing_id"),
        ({"vendor": ""}, "vendor", "missing_vendor"),
        ({"vendor": " \t "}, "vendor", "missing_vendor"),
        ({"scraped_at": "yesterday-ish"}, "scraped_at", "unparseable_crawl_date"),
        ({"scraped_at": "2017-02-01 10:00:00"}, "scraped_at", "crawl_date_mismatch"),
        ({"scraped_at": "2017-03-06 00:10:00"}, "scraped_at", "crawl_date_mismatch"),
    ],
)
def test_row_problems_are_quarantined(tmp_path, fields, field, reason):
    f = write_snapshot(
        tmp_path, "alphabay", "2017-03-04", "listings", [listing("ab-1"), listing("ab-2", **fields)]
    )
    result = run(tmp_path, [f])
    assert len(result.listings) == 1
    assert result.quarantine[["field", "reason"]].iloc[0].tolist() == [field, reason]


def test_scraped_at_empty_or_after_midnight_is_accepted(tmp_path):
    f = write_snapshot(
        tmp_path,
        "alphabay",
        "2017-03-04",
        "listings",
        [
            listing("ab-1", scraped_at=""),
            listing("ab-2", scraped_at="2017-03-05 00:20:00"),
            listing("ab-3", scraped_at="2017-03-04T13:22:10Z"),
        ],
    )
    result = run(tmp_path, [f])
    assert result.listings["listing_id"].tolist() == ["ab-1", "ab-2", "ab-3"]
    assert (result.listings["crawl_date"] == dt.date(2017, 3, 4)).all()


def test_wrong_field_count_is_quarantined_with_the_raw_fields(tmp_path):
    path = raw_dir(tmp_path) / "snapshots/alphabay/2017-03-04_listings.csv.gz"
    good = "ab-1,t,v,USD 5,Drugs,DE,DE,1,2017-03-04 10:00:00"
    write_gz(
        path,
        ",".join(LISTING_COLUMNS) + f"\n{good}\nab-2,short\n{good.replace('ab-1', 'ab-3')},extra\n",
    )
    result = run(tmp_path, [path])
    assert result.listings["listing_id"].tolist() == ["ab-1"]
    q = result.quarantine
    assert q["reason"].tolist() == ["field_count", "field_count"]
    assert q["raw_row"].tolist() == [2, 3]
    assert json.loads(q["raw"].iloc[0]) == {"listing_id": "ab-2", "title": "short"}
    assert json.loads(q["raw"].iloc[1])["_extra_fields"] == ["extra"]


def test_quoted_newlines_count_as_one_row(tmp_path):
    f = write_snapshot(
        tmp_path,
        "alphabay",
        "2017-03-04",
        "listings",
        [listing("ab-1", title="two\nlines"), listing("ab-2", price="")],
    )
    result = run(tmp_path, [f])
    assert result.listings["title"].tolist() == ["two lines"]
    assert result.quarantine["raw_row"].tolist() == [2]


def test_ships_from_unknown_is_kept(tmp_path):
    f = write_snapshot(
        tmp_path,
        "alphabay",
        "2017-03-04",
        "listings",
        [
            listing("ab-1", ships_from="Undeclared;)"),
            listing("ab-2", ships_from=""),
            listing("ab-3", ships_from="UK, Ireland"),
            listing("ab-4", ships_from="Germnay"),
        ],
    )
    result = run(tmp_path, [f])
    assert result.quarantine.empty
    lst = result.listings.set_index("listing_id")
    assert (
        lst.loc["ab-1", "ships_from"] == "UNK" and lst.loc["ab-1", "ships_from_region"] == "Unknown"
    )
    assert pd.isna(lst.loc["ab-1", "ships_from_eu"])
    assert lst.loc["ab-2", "ships_from"] == "UNK"
    assert (lst.loc["ab-3", "ships_from"], lst.loc["ab-3", "ships_from_region"]) == ("MULTI", "EU")
    assert lst.loc["ab-4", "ships_from"] == "DE"
    assert lst.loc["ab-1", "ships_from_raw"] == "Undeclared;)"


def test_btc_prices_converted_at_the_crawl_date_rate(tmp_path):
    f = write_snapshot(
        tmp_path,
        "dream",
        "2017-03-04",
        "listings",
        [listing("d-1", price="0.01230 BTC"), listing("d-2", price="BTC 0,5")],
    )
    result = run(tmp_path, [f], market="dream")
    lst = result.listings.set_index("listing_id")
    assert lst.loc["d-1", "currency"] == "BTC"
    assert lst.loc["d-1", "price_usd"] == pytest.approx(0.0123 * 1200)
    # BTC -> USD (rates table) -> EUR (ECB rate of Friday 2017-03-03: 1.0565)
    assert lst.loc["d-1", "price_eur"] == pytest.approx(0.0123 * 1200 / 1.0565)
    assert lst.loc["d-2", "price_usd"] == pytest.approx(600.0)


def test_euro_prices_kept_and_every_row_accounted(tmp_path):
    rows = [
        listing("e-1", "2017-03-06", price="45,50 €"),
        listing("e-2", "2017-03-06", price="USD 45.00"),
        listing("e-3", "2017-03-06", price="0.5 BTC"),
        listing("e-4", "2017-03-06", price="12 GBP"),  # quarantined, as before
    ]
    f = write_snapshot(tmp_path, "hansa", "2017-03-06", "listings", rows)
    result = run(tmp_path, [f], market="hansa")
    lst = result.listings.set_index("listing_id")
    assert lst.loc["e-1", "price_eur"] == 45.5  # exactly as listed
    assert lst.loc["e-1", "price_usd"] == pytest.approx(45.5 * 1.05)  # the rates table
    assert lst.loc["e-2", "price_eur"] == pytest.approx(45.0 / 1.0592)  # ECB 2017-03-06
    assert lst.loc["e-3", "price_eur"] == pytest.approx(600.0 / 1.0592)
    assert result.accounting[["raw_rows", "clean_rows", "quarantined_rows"]].iloc[0].tolist() == [
        4,
        3,
        1,
    ]
    LISTINGS_SCHEMA.validate(result.listings)


def test_crawl_day_outside_the_ecb_file_names_file_row_and_field(tmp_path):
    rates = pd.DataFrame({"date": ["1998-12-30"], "btc_usd": [1.0], "eur_usd": [1.17]})
    f = write_snapshot(
        tmp_path,
        "dream",
        "1998-12-31",
        "listings",
        [listing("d-1", "1998-12-31", price=""), listing("d-2", "1998-12-31", price="1 BTC")],
    )
    rel = f.relative_to(tmp_path).as_posix()
    with pytest.raises(
        NoEcbRate, match=rf"{rel}: row 2, field scraped_at: crawl day 1998-12-31 has no euro"
    ):
        run(tmp_path, [f], market="dream", rates=rates)


def test_missing_rate_uses_earlier_day_within_7_days(tmp_path):
    rates = pd.DataFrame({"date": ["2017-03-01"], "btc_usd": [1000.0], "eur_usd": [1.1]})
    f1 = write_snapshot(
        tmp_path,
        "dream",
        "2017-03-08",
        "listings",
        [listing("d-1", "2017-03-08", price="0.01 BTC")],
    )
    f2 = write_snapshot(
        tmp_path,
        "dream",
        "2017-03-09",
        "listings",
        [listing("d-1", "2017-03-09", price="0.01 BTC")],
    )
    result = run(tmp_path, [f1, f2], market="dream", rates=rates)
    assert result.listings["price_usd"].tolist() == [pytest.approx(10.0)]
    q = result.quarantine.iloc[0]
    assert (q["snapshot"], q["reason"]) == ("dream/2017-03-09", "no_rate")


def test_eu_membership_of_uk_before_and_after_brexit(tmp_path):
    f1 = write_snapshot(
        tmp_path, "dream", "2020-01-31", "listings", [listing("d-1", "2020-01-31", ships_from="UK")]
    )
    f2 = write_snapshot(
        tmp_path, "dream", "2020-02-01", "listings", [listing("d-1", "2020-02-01", ships_from="UK")]
    )
    lst = run(tmp_path, [f1, f2], market="dream").listings
    assert lst["crawl_date"].tolist() == [dt.date(2020, 1, 31), dt.date(2020, 2, 1)]
    assert lst["ships_from"].tolist() == ["GB", "GB"]
    assert lst["ships_from_eu"].tolist() == [True, False]
    assert lst["ships_from_region"].tolist() == ["EU", "Europe (non-EU)"]


def test_decimal_comma_market_style_is_inferred(tmp_path):
    rows = [
        listing(f"h-{i}", price=p)
        for i, p in enumerate(["45,50 €", "EUR 1.234,50", "12,00 EUR", "1.234 €", "99"])
    ]
    f = write_snapshot(tmp_path, "hansa", "2017-03-04", "listings", rows)
    lst = run(tmp_path, [f], market="hansa").listings.set_index("listing_id")
    assert lst["currency"].unique().tolist() == ["EUR"]
    assert lst.loc["h-3", "price_amount"] == 1234.0  # point groups thousands in a comma market
    assert lst.loc["h-4", "price_amount"] == 99.0  # bare number: the market's currency


def test_vendor_fields_are_parsed(tmp_path):
    f = write_snapshot(
        tmp_path,
        "alphabay",
        "2017-03-04",
        "vendors",
        [
            vendor("A", rating="4,91", total_sales="1,204"),
            vendor("B", rating="98%", pgp_fingerprint="", registered="garbage", total_sales=""),
            vendor("C", rating="7.5", pgp_fingerprint="not a key", total_sales="12.5"),
        ],
    )
    v = run(tmp_path, [f]).vendors.set_index("vendor")
    assert v.loc["A", "rating"] == pytest.approx(4.91)
    assert v.loc["B", "rating"] == pytest.approx(4.9)
    assert np.isnan(v.loc["C", "rating"])
    assert v.loc["A", "pgp_fingerprint"] == "9F3A" + "0" * 34 + "AB"
    assert pd.isna(v.loc["B", "pgp_fingerprint"]) and pd.isna(v.loc["C", "pgp_fingerprint"])
    assert v.loc["A", "registered"] == dt.date(2016, 2, 11) and v.loc["B", "registered"] is None
    assert v.loc["A", "total_sales"] == 1204
    assert pd.isna(v.loc["B", "total_sales"]) and pd.isna(v.loc["C", "total_sales"])


def test_agora_vendor_age_and_deal_ranges(tmp_path):
    """Agora shows the account's age (then, after a gap, the last visit) and deal ranges."""
    f = write_snapshot(
        tmp_path,
        "agora",
        "2015-03-01",
        "vendors",
        [
            vendor(
                "A",
                day="2015-03-01",
                registered="Registered 1 years 2 months      3 days",
                total_sales="55~70",
            ),
            vendor(
                "B", day="2015-03-01", registered="Registered 10 days      2 hours", total_sales="0"
            ),
            vendor("C", day="2015-03-01", registered="3 hours", total_sales="lots~"),
        ],
    )
    v = run(tmp_path, [f]).vendors.set_index("vendor")
    # 1 year 2 months = 365.25 + 2 * 30.44 = 426.13 days before the crawl, rounded;
    # the "3 days" after the gap is the last visit, not part of the age
    assert v.loc["A", "registered"] == dt.date(2015, 3, 1) - dt.timedelta(days=426)
    assert v.loc["B", "registered"] == dt.date(2015, 2, 19)
    assert v.loc["C", "registered"] is None  # a last-seen time only: no age shown
    assert v.loc["A", "total_sales"] == 55  # the lower bound of the range
    assert v.loc["B", "total_sales"] == 0 and pd.isna(v.loc["C", "total_sales"])


def test_output_order_is_deterministic(tmp_path):
    f1 = write_snapshot(
        tmp_path,
        "alphabay",
        "2017-03-07",
        "listings",
        [listing("ab-9", "2017-03-07"), listing("ab-10", "2017-03-07")],
    )
    f2 = write_snapshot(
        tmp_path,
        "alphabay",
        "2017-03-04",
        "listings",
        [listing("ab-3"), listing("ab-1"), listing("ab-2", price="")],
    )
    first = run(tmp_path, [f1, f2])
    second = run(tmp_path, [f2, f1])
    for name in ("listings", "vendors", "quarantine", "accounting"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    lst = first.listings
    assert list(zip(lst["crawl_date"].astype(str), lst["listing_id"], strict=True)) == [
        ("2017-03-04", "ab-1"),
        ("2017-03-04", "ab-3"),
        ("2017-03-07", "ab-10"),
        ("2017-03-07", "ab-9"),
    ]


def test_empty_inputs(tmp_path):
    header_only = write_snapshot(tmp_path, "alphabay", "2017-03-04", "listings", [])
    result = run(tmp_path, [header_only])
    assert result.listings.empty and result.quarantine.empty
    assert result.accounting[["raw_rows", "clean_rows", "quarantined_rows"]].iloc[0].tolist() == [
        0,
        0,
        0,
    ]
    nothing = run(tmp_path, [])
    assert nothing.accounting.empty
    required = [n for n, c in LISTINGS_SCHEMA.columns.items() if c.required]
    assert list(nothing.listings.columns) == required
    LISTINGS_SCHEMA.validate(nothing.listings)


def test_partition_listing(tmp_path):
    for market, day in [
        ("alphabay", "2017-03-04"),
        ("alphabay", "2017-03-01"),
        ("alphabay", "2017-04-02"),
        ("dream", "2017-03-05"),
    ]:
        for table in ("listings", "vendors"):
            write_snapshot(tmp_path, market, day, table, [])
    write_gz(raw_dir(tmp_path) / "snapshots/alphabay/notes.csv.gz", "x\n")
    raw = raw_dir(tmp_path)
    assert partitions(raw) == ["alphabay__2017-03", "alphabay__2017-04", "dream__2017-03"]
    names = [p.name for p in partition_files(raw, "alphabay", "2017-03")]
    assert names == [
        "2017-03-01_listings.csv.gz",
        "2017-03-01_vendors.csv.gz",
        "2017-03-04_listings.csv.gz",
        "2017-03-04_vendors.csv.gz",
    ]
    assert partition_files(raw, "alphabay", "2017-05") == []


def test_larger_partition_balances(tmp_path):
    rng = np.random.default_rng(7)
    prices = ["USD 45.00", "$1,234.50", "0.01230 BTC", "45,50 €", "", "free", "USD 0"]
    files = []
    for day in ("2017-03-01", "2017-03-04", "2017-03-07"):
        rows = [
            listing(
                f"ab-{rng.integers(0, 900)}",
                day,
                price=str(rng.choice(prices)),
                ships_from=str(rng.choice(["DE", "UK", "", "EU", "Germnay"])),
            )
            for _ in range(2000)
        ]
        files.append(write_snapshot(tmp_path, "alphabay", day, "listings", rows))
    result = run(tmp_path, files)
    acc = result.accounting
    assert acc["raw_rows"].tolist() == [2000, 2000, 2000]
    assert (acc["clean_rows"] + acc["quarantined_rows"] == acc["raw_rows"]).all()
    assert acc["clean_rows"].sum() == len(result.listings)
    assert set(result.quarantine["reason"]) == {
        "duplicate_in_snapshot",
        "empty_price",
        "unparseable_price",
        "non_positive_price",
    }
    assert not result.listings.duplicated(["snapshot", "listing_id"]).any()


def test_truncated_origin_is_settled_by_the_vendors_listings(tmp_path):
    f = write_snapshot(
        tmp_path,
        "alphabay",
        "2017-03-04",
        "listings",
        [
            listing("a-1", ships_from="u", vendor="Usave"),
            listing("a-2", ships_from="USA", vendor="Usave"),
            listing("b-1", ships_from="u", vendor="Other"),
        ],
    )
    lst = run(tmp_path, [f]).listings.set_index("listing_id")
    assert (lst.loc["a-1", "ships_from"], lst.loc["a-1", "ships_from_method"]) == (
        "US",
        "vendor_listings",
    )
    assert lst.loc["a-2", "ships_from_method"] == "alias"
    assert lst.loc["b-1", "ships_from"] == "UNK"  # nothing to settle it: stays unknown


HOSTILE = [
    "plain",
    'say "hi"',
    "back\\slash",
    "new\nline\r\ttab",
    "\x00\x01\x1f control",
    "ünïcødé ✓ \u2028 \U0001f600",
    "",
    '{"a": 1}, "b"',
]


def test_quarantine_raw_json_is_exactly_json_dumps_of_the_row(tmp_path):
    """The column-wise JSON of quarantined rows equals json.dumps of each row's dict,
    for quotes, backslashes, control characters, non-ASCII and rows of the wrong width."""
    from dnmarkets.clean.partition import _RawFile

    rng = np.random.default_rng(3)
    header = ["listing_id", "title", "vendor"]
    frame = pd.DataFrame({h: pd.Series(rng.choice(HOSTILE, size=40), dtype="str") for h in header})
    frame.loc[5, "title"] = pd.NA
    odd = {7: ["x", "y"], 9: ["a", "b", "c", "extra", 'more "q"']}
    table = pa.Table.from_pandas(frame, preserve_index=False)
    raw = _RawFile(Path("f"), "f", "listings", dt.date(2017, 2, 1), header, table, odd)
    rows = np.array([0, 5, 7, 9, 12, 39, 3])
    expected = []
    for r in rows:
        record = odd.get(int(r), frame.iloc[r].fillna("").tolist())
        content = dict(zip(header, record, strict=False))
        if len(record) > len(header):
            content["_extra_fields"] = list(record[len(header) :])
        expected.append(json.dumps(content, ensure_ascii=False))
    assert raw.raw_json(rows) == expected
    assert raw.raw_json(np.array([], dtype=np.int64)) == []


@pytest.mark.parametrize(
    ("values", "ok"),
    [
        ([dt.date(2017, 2, 1), None, dt.date(2017, 2, 1)], True),
        ([dt.date(2017, 2, 1), pd.NaT, np.nan], True),
        ([dt.date(2017, 2, 1), dt.datetime(2017, 2, 1)], False),  # a datetime is not a date
        ([dt.date(2017, 2, 1), "2017-02-01"], False),
        ([pd.Timestamp("2017-02-01")], False),
    ],
)
def test_date_columns_accept_only_date_objects(values, ok):
    from pandera.errors import SchemaError

    from dnmarkets.clean.schemas import _date

    column = _date(nullable=True).set_name("d")
    series = pd.Series(values, dtype=object, name="d")
    if ok:
        column.validate(series.to_frame())
    else:
        with pytest.raises(SchemaError, match="date_objects"):
            column.validate(series.to_frame())


def test_kept_rows_are_in_the_order_pandas_sorts_them():
    """(crawl day, name, raw row) order of the kept rows equals pandas' stable sort,
    for names pandas and Arrow might order differently (case, accents, emoji, digits)."""
    from dnmarkets.clean.partition import _kept_in_order

    rng = np.random.default_rng(5)
    names = ["b", "B", "a", "é", "e", "ß", "z", "Z9", "z10", "\U0001f600", "日本", " a", ""]
    n = 500
    frame = pd.DataFrame(
        {
            "day": np.sort(rng.integers(0, 4, n)).astype("datetime64[D]"),
            "name": pd.Series(rng.choice(names, n), dtype="str"),
            "row": rng.permutation(n).astype(np.int64),
        }
    )
    keep = rng.random(n) < 0.8
    expected = frame[keep].sort_values(["day", "name", "row"], kind="stable").index.to_numpy()
    got = _kept_in_order(keep, frame["day"], frame["name"], frame["row"])
    assert got.tolist() == expected.tolist()
