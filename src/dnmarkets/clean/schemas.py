"""Pandera schemas of the clean tables (docs/data_model.md, section 2).

String columns must have pandas' ``str`` dtype (the default string dtype of
pandas 3; pandera alone would also accept ``object``), dates are
``datetime.date`` objects (written to Parquet as date32), nullable integers
``Int64`` and nullable booleans ``boolean``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pandera.pandas as pa

from dnmarkets.clean.categories import TAXONOMY
from dnmarkets.clean.countries import MULTI, REGION_CODES, REGION_LABELS, UNKNOWN
from dnmarkets.clean.prices import CURRENCIES

_SHIPS_FROM_RE = rf"^(?:[A-Z]{{2}}|{'|'.join([*REGION_CODES, MULTI, UNKNOWN])})$"


# pandas 3's default string dtype (Arrow storage, NaN for missing)
_STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)


def _is_str_dtype(series: pd.Series) -> bool:
    return series.dtype == _STR_DTYPE


def _str(nullable: bool = False, checks: list | None = None, **kwargs) -> pa.Column:
    # the dtype is tested by the str_dtype check alone: pandera's own test of a string
    # dtype builds a per-row result and a failure report even when it passes (3 ms a
    # column, a twentieth of the cleaning); the check is the same test, once
    return pa.Column(
        None,
        checks=[pa.Check(_is_str_dtype, element_wise=False, name="str_dtype"), *(checks or [])],
        nullable=nullable,
        **kwargs,
    )


def _only_dates(series: pd.Series) -> bool:
    """Object dtype holding only ``datetime.date`` (not datetime) or nulls: the same
    rule as pandera's ``Date``, tested on the distinct values (a column holds few
    distinct days) instead of calling a Python function per row."""
    if series.dtype != object:
        return False
    return all(pd.isnull(v) or type(v) is dt.date for v in pd.unique(series.to_numpy()))


def _date(nullable: bool = False, required: bool = True) -> pa.Column:
    return pa.Column(
        checks=[pa.Check(_only_dates, element_wise=False, name="date_objects")],
        nullable=nullable,
        required=required,
        metadata={"dtype": "date"},
    )


_SNAPSHOT = _str(checks=[pa.Check.str_matches(r"^.+/\d{4}-\d{2}-\d{2}$")])
_RAW_ROW = pa.Column("int64", pa.Check.ge(1))
_TABLE = _str(checks=[pa.Check.isin(["listings", "vendors"])])


def _unique_rows(df: pd.DataFrame) -> bool:
    return not df.duplicated(["raw_file", "raw_row"]).any()


LISTINGS_SCHEMA = pa.DataFrameSchema(
    {
        "dataset": _str(),
        "market": _str(),
        "snapshot": _SNAPSHOT,
        "crawl_date": _date(),
        "listing_id": _str(checks=[pa.Check.str_length(min_value=1)]),
        "title": _str(checks=[pa.Check.str_length(max_value=500)]),
        "vendor": _str(checks=[pa.Check.str_length(min_value=1)]),
        "vendor_key": _str(),
        "category_raw": _str(),
        "drug_category": _str(checks=[pa.Check.isin(TAXONOMY)]),
        "is_drug": pa.Column(bool),
        "ships_from_raw": _str(),
        "ships_from": _str(checks=[pa.Check.str_matches(_SHIPS_FROM_RE)]),
        "ships_from_region": _str(checks=[pa.Check.isin(REGION_LABELS)]),
        "ships_from_eu": pa.Column("boolean", nullable=True),
        "ships_from_method": _str(),
        "ships_to_raw": _str(),
        "price_raw": _str(),
        "currency": _str(checks=[pa.Check.isin(CURRENCIES)]),
        "price_amount": pa.Column("float64", pa.Check.gt(0)),
        "price_usd": pa.Column("float64", pa.Check.gt(0)),
        "price_eur": pa.Column("float64", pa.Check.gt(0)),
        "quantity": pa.Column("float64", pa.Check.gt(0), nullable=True),
        "quantity_unit": _str(nullable=True, checks=[pa.Check.isin(["g", "ml", "unit"])]),
        "quantity_source": _str(nullable=True, checks=[pa.Check.isin(["title", "column"])]),
        "feedback_count": pa.Column("Int64", pa.Check.ge(0), nullable=True),
        "raw_file": _str(),
        "raw_row": _RAW_ROW,
        # only where the source has per-listing sales counters (AlphaBay 2017)
        "sold_count": pa.Column("Int64", pa.Check.ge(0), nullable=True, required=False),
        "sold_since": _date(nullable=True, required=False),
    },
    checks=[
        pa.Check(_unique_rows, name="one_row_per_raw_row"),
        pa.Check(
            lambda df: (df["is_drug"] == (df["drug_category"] != "non_drug")).all(),
            name="is_drug_matches_category",
        ),
        pa.Check(
            lambda df: (
                (df["quantity"].isna() == df["quantity_unit"].isna())
                & (df["quantity"].isna() == df["quantity_source"].isna())
            ).all(),
            name="quantity_and_unit_together",
        ),
    ],
    strict=True,
    ordered=True,
    name="listings",
)

VENDORS_SCHEMA = pa.DataFrameSchema(
    {
        "dataset": _str(),
        "market": _str(),
        "snapshot": _SNAPSHOT,
        "crawl_date": _date(),
        "vendor": _str(checks=[pa.Check.str_length(min_value=1)]),
        "vendor_key": _str(),
        "pgp_fingerprint": _str(
            # v4 keys (SHA-1, 40 hex); v3 (MD5, 32) and v5/v6 (SHA-256, 64) also occur
            nullable=True,
            checks=[pa.Check.str_matches(r"^(?:[0-9A-F]{32}|[0-9A-F]{40}|[0-9A-F]{64})$")],
        ),
        "rating": pa.Column("float64", pa.Check.in_range(0, 5), nullable=True),
        "registered": _date(nullable=True),
        "total_sales": pa.Column("Int64", pa.Check.ge(0), nullable=True),
        "raw_file": _str(),
        "raw_row": _RAW_ROW,
    },
    checks=[pa.Check(_unique_rows, name="one_row_per_raw_row")],
    strict=True,
    ordered=True,
    name="vendors",
)

QUARANTINE_SCHEMA = pa.DataFrameSchema(
    {
        "dataset": _str(),
        "market": _str(),
        "snapshot": _SNAPSHOT,
        "table": _TABLE,
        "raw_file": _str(),
        "raw_row": _RAW_ROW,
        "field": _str(),
        "reason": _str(checks=[pa.Check.str_length(min_value=1)]),
        "raw": _str(checks=[pa.Check.str_startswith("{")]),
    },
    checks=[pa.Check(_unique_rows, name="one_row_per_raw_row")],
    strict=True,
    ordered=True,
    name="quarantine",
)

ACCOUNTING_SCHEMA = pa.DataFrameSchema(
    {
        "dataset": _str(),
        "market": _str(),
        "snapshot": _SNAPSHOT,
        "table": _TABLE,
        "raw_file": _str(unique=True),
        "raw_rows": pa.Column("int64", pa.Check.ge(0)),
        "clean_rows": pa.Column("int64", pa.Check.ge(0)),
        "quarantined_rows": pa.Column("int64", pa.Check.ge(0)),
    },
    checks=[
        pa.Check(
            lambda df: (df["raw_rows"] == df["clean_rows"] + df["quarantined_rows"]).all(),
            name="rows_balance",
        )
    ],
    strict=True,
    ordered=True,
    name="accounting",
)
