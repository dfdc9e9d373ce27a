"""The vectorised schema checks (dnmarkets.clean.schemas.passes_fast) against pandera:
they pass the cleaning's own tables and fail wherever pandera fails, so that
``validate`` raises pandera's error for every bad table."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pandera.errors
import pytest
from test_clean import listing, run, vendor, write_snapshot

from dnmarkets.clean.schemas import (
    ACCOUNTING_SCHEMA,
    LISTINGS_SCHEMA,
    QUARANTINE_SCHEMA,
    VENDORS_SCHEMA,
    _unique_objects,
    _unique_rows,
    passes_fast,
    validate,
)

SCHEMAS = {
    "listings": LISTINGS_SCHEMA,
    "vendors": VENDORS_SCHEMA,
    "quarantine": QUARANTINE_SCHEMA,
    "accounting": ACCOUNTING_SCHEMA,
}


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    root = tmp_path_factory.mktemp("schemas")
    rows = [
        listing("ab-1", title="Cocaine 5g"),
        listing("ab-2", title="Weed", price=""),
        listing("ab-3", title="Héroïne brune 1g", vendor="Zoë"),
        listing("ab-4", title="Scale 0.01g", category="Other"),
        listing("ab-5", title="Pure cocaine, no quantity"),
    ]
    files = [
        write_snapshot(root, "alphabay", "2017-03-04", "listings", rows),
        write_snapshot(root, "alphabay", "2017-03-04", "vendors", [vendor("DrWhite"), vendor("")]),
    ]
    result = run(root, files)
    return {name: getattr(result, name) for name in SCHEMAS}


def test_the_cleanings_tables_pass(tables):
    assert len(tables["quarantine"]) == 2
    assert tables["listings"]["quantity"].isna().any()
    for name, schema in SCHEMAS.items():
        assert passes_fast(schema, tables[name]), name
        assert validate(schema, tables[name]) is tables[name]


def _str(values):
    return pd.Series(values, dtype="str")


# (table, column, change): each breaks one column check, dtype or nullability
BREAKS = [
    ("listings", "snapshot", lambda s: _str(["alphabay/2017-3-04"] * len(s))),
    ("listings", "crawl_date", lambda s: pd.Series(pd.to_datetime(s.astype(str)))),
    ("listings", "listing_id", lambda s: _str([""] * len(s))),
    ("listings", "title", lambda s: _str(["é" * 501] * len(s))),
    ("listings", "title", lambda s: s.astype(object)),
    ("listings", "vendor", lambda s: _str([None] * len(s))),
    ("listings", "drug_category", lambda s: _str(["coke"] * len(s))),
    ("listings", "ships_from", lambda s: _str(["de"] * len(s))),
    ("listings", "ships_from_region", lambda s: _str(["Mars"] * len(s))),
    ("listings", "currency", lambda s: _str(["GBP"] * len(s))),
    ("listings", "price_usd", lambda s: s * 0),
    ("listings", "price_eur", lambda s: s.where(s.index > 0)),
    ("listings", "price_amount", lambda s: s.astype("float32")),
    ("listings", "quantity", lambda s: s.fillna(-1.0)),
    ("listings", "quantity_unit", lambda s: _str(["kg"] * len(s))),
    ("listings", "feedback_count", lambda s: pd.Series([-1] * len(s), dtype="Int64")),
    ("listings", "raw_row", lambda s: s * 0),
    ("listings", "is_drug", lambda s: s.astype("boolean")),
    ("vendors", "pgp_fingerprint", lambda s: _str(["abc"] * len(s))),
    ("vendors", "rating", lambda s: pd.Series([5.5] * len(s))),
    ("vendors", "registered", lambda s: pd.Series(["2017-01-01"] * len(s), dtype=object)),
    ("vendors", "total_sales", lambda s: pd.Series([-3] * len(s), dtype="Int64")),
    ("quarantine", "raw", lambda s: _str(["[]"] * len(s))),
    ("quarantine", "reason", lambda s: _str([""] * len(s))),
    ("quarantine", "table", lambda s: _str(["sales"] * len(s))),
    ("accounting", "raw_file", lambda s: _str([s.iloc[0]] * len(s))),
    ("accounting", "raw_rows", lambda s: s - 100),
]


@pytest.mark.parametrize(("table", "column", "change"), BREAKS)
def test_a_broken_column_fails_both(tables, table, column, change):
    df = tables[table].copy()
    df[column] = change(df[column]).to_numpy() if column == "crawl_date" else change(df[column])
    assert not passes_fast(SCHEMAS[table], df)
    with pytest.raises(pandera.errors.SchemaError):
        validate(SCHEMAS[table], df)


def test_frame_checks_and_column_order_fail_both(tables):
    broken = {
        "duplicate raw row": tables["listings"].assign(raw_row=1),
        "is_drug against the category": tables["listings"].assign(
            is_drug=~tables["listings"]["is_drug"]
        ),
        "quantity without unit": tables["listings"].assign(quantity=1.0),
        "columns reordered": tables["listings"].iloc[:, ::-1],
        "extra column": tables["listings"].assign(extra=1),
        "missing column": tables["listings"].drop(columns="title"),
    }
    for what, df in broken.items():
        assert not passes_fast(LISTINGS_SCHEMA, df), what
        with pytest.raises((pandera.errors.SchemaError, pandera.errors.SchemaErrors)):
            validate(LISTINGS_SCHEMA, df)


def test_rows_balance_in_accounting(tables):
    df = tables["accounting"].assign(clean_rows=np.int64(0))
    assert not passes_fast(ACCOUNTING_SCHEMA, df)
    with pytest.raises(pandera.errors.SchemaError, match="rows_balance"):
        validate(ACCOUNTING_SCHEMA, df)


def test_where_re2_is_stricter_pandera_decides(tables):
    # Python's "$" also matches before a final newline, RE2's does not: the fast check
    # fails, and pandera (the reference) accepts the table
    df = tables["listings"].assign(ships_from=_str(["DE\n"] * len(tables["listings"])))
    assert not passes_fast(LISTINGS_SCHEMA, df)
    assert validate(LISTINGS_SCHEMA, df) is not None


def test_one_datetime_among_shared_date_objects_fails_both(tables):
    # the date check hashes only the rows holding another object than the row before: a
    # datetime of the same day between rows sharing one date object is still seen
    df = pd.concat([tables["listings"]] * 3, ignore_index=True).assign(
        raw_row=lambda d: np.arange(1, len(d) + 1)
    )
    day = df["crawl_date"].iloc[0]
    dates = np.array([day] * len(df), dtype=object)
    dates[len(df) // 2] = dt.datetime(day.year, day.month, day.day)
    df["crawl_date"] = dates
    assert passes_fast(LISTINGS_SCHEMA, df.assign(crawl_date=np.array([day] * len(df))))
    assert not passes_fast(LISTINGS_SCHEMA, df)
    with pytest.raises(pandera.errors.SchemaError):
        validate(LISTINGS_SCHEMA, df)


@pytest.mark.parametrize("seed", range(10))
def test_unique_objects_as_pandas_unique(seed):
    rng = np.random.default_rng(seed)
    # shared objects, equal values in distinct objects, missing values, a strided array
    pool = [dt.date(2014, 1, 1), dt.date(2014, 1, 1), dt.date(2014, 1, 2), None, np.nan, "x"]
    values = np.array([pool[i] for i in np.repeat(rng.integers(0, 6, 40), 3)], dtype=object)
    for array in (values, values[::2], values[:0], values[:1]):
        assert list(_unique_objects(array)) == list(pd.unique(array))


@pytest.mark.parametrize("seed", range(12))
def test_one_row_per_raw_row_as_pandas_duplicated(seed):
    # missing files, files in runs or not, row numbers in a small range (marked) or not
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    files = np.array(["a.csv", "b.csv", None])[rng.integers(0, 3, n)]
    if seed % 2:
        files = np.sort(files.astype(str))
    rows = rng.integers(1, 40 if seed % 3 else 2**35, n)
    df = pd.DataFrame({"raw_file": pd.Series(files, dtype="str"), "raw_row": rows})
    assert _unique_rows(df) == (not df.duplicated(["raw_file", "raw_row"]).any())
