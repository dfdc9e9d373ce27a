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
import pyarrow as pa_arrow
import pyarrow.compute as pc

from dnmarkets.clean.categories import TAXONOMY
from dnmarkets.clean.countries import MULTI, REGION_CODES, REGION_LABELS, UNKNOWN
from dnmarkets.clean.prices import CURRENCIES
from dnmarkets.clean.text import dictionary_codes, long_run_starts

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
    return _only_date_values(_unique_objects(series.to_numpy()))


def _only_date_values(distinct) -> bool:
    return all(pd.isnull(v) or type(v) is dt.date for v in distinct)


def _unique_objects(values: np.ndarray) -> np.ndarray:
    """``pd.unique`` of an object array, hashing only the rows that hold another object
    than the row before: the object pointers are compared in numpy, and a file's rows
    share one date object, so a column of dates is hashed a few times, not per row."""
    values = np.ascontiguousarray(values)
    if values.dtype != object or len(values) < 2:
        return pd.unique(values)
    pointers = np.frombuffer(memoryview(values).cast("B"), dtype=np.uintp)
    firsts = np.flatnonzero(np.concatenate([[True], pointers[1:] != pointers[:-1]]))
    return pd.unique(values[firsts])


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


def one_chunk(values):
    """An Arrow array from an array or chunked array (one chunk: no copy, unlike
    ``combine_chunks``)."""
    if not isinstance(values, pa_arrow.ChunkedArray):
        return values
    return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()


def str_codes(values) -> tuple[np.ndarray, pa_arrow.Array]:
    """(int64 code of each value, missing: -1; the distinct values) of an Arrow string
    array: :func:`dictionary_codes`, which hashes a column in runs (a table's raw_file
    and snapshot, a file's rows together) once per run."""
    values = one_chunk(values)
    if len(values) == 0:
        return np.empty(0, dtype=np.int64), values
    return dictionary_codes(values)


def _codes(series: pd.Series) -> np.ndarray:
    """int64 codes of the distinct values (missing: -1), hashed in Arrow for str."""
    if series.dtype == _STR_DTYPE:
        return str_codes(_arrow_strings(series))[0]
    return pd.factorize(series)[0].astype(np.int64)


def _unique_rows(df: pd.DataFrame) -> bool:
    rows = df["raw_row"].to_numpy()
    if len(rows) and rows.dtype.kind == "i" and 0 <= rows.min() and rows.max() < 2**40:
        # one integer per (file, row): hashing it is several times faster than the pairs
        # (file code + 1) * (rows.max() + 1) + row, missing file: code -1; computed in
        # place (the codes are a new array): each temporary of a row's size costs its
        # page faults
        key = _codes(df["raw_file"])
        key += 1
        key *= int(rows.max()) + 1
        key += rows
        size = int(key.max()) + 1
        if size < 8 * len(key) + 4096:  # a small range: marked, not hashed
            seen = np.zeros(size, dtype=bool)
            seen[key] = True
            return int(np.count_nonzero(seen)) == len(key)
        return not pd.Series(key).duplicated().any()
    return not df.duplicated(["raw_file", "raw_row"]).any()


def _isna(series: pd.Series) -> np.ndarray:
    if series.dtype == _STR_DTYPE:  # Arrow's validity bits, not pandas' per-row test
        return pc.is_null(series.array._pa_array).to_numpy(zero_copy_only=False)
    return series.isna().to_numpy()


def _is_drug_matches_category(df: pd.DataFrame) -> bool:
    is_drug, category = df["is_drug"], df["drug_category"]
    if is_drug.dtype == bool and category.dtype == _STR_DTYPE:
        # compared in Arrow, not by pandas per row (missing is not "non_drug", as there)
        drug = pc.fill_null(pc.not_equal(category.array._pa_array, "non_drug"), True)
        return bool((is_drug.to_numpy() == drug.to_numpy(zero_copy_only=False)).all())
    return bool((is_drug == (category != "non_drug")).all())


def _quantity_and_unit_together(df: pd.DataFrame) -> bool:
    missing = _isna(df["quantity"])
    return bool(
        ((missing == _isna(df["quantity_unit"])) & (missing == _isna(df["quantity_source"]))).all()
    )


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
        pa.Check(_is_drug_matches_category, name="is_drug_matches_category"),
        pa.Check(_quantity_and_unit_together, name="quantity_and_unit_together"),
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


# --------------------------------------------------------------------------- fast validation


def _arrow_strings(series: pd.Series):
    """The Arrow storage of a str column (no copy)."""
    return series.array._pa_array


def _all(mask) -> bool:
    return bool(pc.all(mask, min_count=0).as_py())


def _lengths_pass(values, stats: dict) -> bool | None:
    """pandera's str_length (code points) with byte lengths where they settle it: a
    UTF-8 character has 1 to 4 bytes, so bytes <= max or bytes >= 4 * min (and a
    non-empty string has at least one character) pass without counting."""
    if stats.get("exact_value") is not None:
        return None
    low, high = stats.get("min_value"), stats.get("max_value")
    if not len(values):
        return True
    nbytes = pc.binary_length(values)
    counted = None
    if low is not None:
        fewest = pc.min(nbytes).as_py()
        if not (fewest >= 4 * low or (low <= 1 and fewest >= low)):
            counted = pc.utf8_length(values)
            if pc.min(counted).as_py() < low:
                return False
    if high is not None and pc.max(nbytes).as_py() > high:
        counted = pc.utf8_length(values) if counted is None else counted
        if pc.max(counted).as_py() > high:
            return False
    return True


def _distinct(values) -> pa_arrow.Array:
    """The distinct non-missing values of a string array. A column in runs (a file's
    snapshot, a constant) is hashed once per run, as in :func:`str_codes`; others row
    by row."""
    values = one_chunk(values)
    starts = long_run_starts(values)
    if starts is not None:
        values = values.take(pa_arrow.array(starts))
    return pc.unique(values).drop_null()


def _series_check_passes(check, series: pd.Series) -> bool | None:
    """True/False for the checks the schemas use, evaluated in Arrow or numpy on the
    non-missing values (pandera's default); None for a check not known here."""
    name, stats = check.name, check.statistics
    if name in ("str_dtype", "date_objects"):  # the schemas' own whole-column tests
        function = getattr(check, "_check_fn", None)  # pandera's attribute; else pandera runs
        return None if function is None else bool(function(series))
    if name in ("str_matches", "str_length", "isin", "str_startswith"):
        if series.dtype != _STR_DTYPE:
            return False
        values = _arrow_strings(series)  # nulls: skipped by pc.all, min and max
        if name == "str_startswith":
            return _all(pc.starts_with(values, stats["string"]))
        if name == "str_length":
            return _lengths_pass(values, stats)
        values = _distinct(values)  # the columns so checked: few distinct values
        if name == "isin":
            return _all(pc.is_in(values, value_set=pa_arrow.array(list(stats["allowed_values"]))))
        # RE2 is at least as strict as Python's re here ($ only at the very end, \d
        # ASCII): a pass is a pass for pandera too; a failure goes to pandera
        return _all(pc.match_substring_regex(values, stats["pattern"]))
    if name in ("greater_than", "greater_than_or_equal_to", "in_range"):
        if series.dtype.kind not in "iuf" and str(series.dtype) not in ("Int64", "Float64"):
            return None
        # missing as NaN, which fails no comparison below (no copy without them)
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        if name == "greater_than":
            return not (values <= stats["min_value"]).any()
        if name == "greater_than_or_equal_to":
            return not (values < stats["min_value"]).any()
        if not (stats["include_min"] and stats["include_max"]):
            return None
        return not ((values < stats["min_value"]) | (values > stats["max_value"])).any()
    return None


def _has_missing(series: pd.Series, distinct=None) -> bool:
    """`distinct`: the distinct values of an object column, if known."""
    if series.dtype == _STR_DTYPE:
        return _arrow_strings(series).null_count > 0
    if series.dtype == object:  # dates: the distinct objects tested, not every row
        try:
            distinct = _unique_objects(series.to_numpy()) if distinct is None else distinct
            return bool(pd.isna(distinct).any())
        except TypeError:  # unhashable values
            pass
    return bool(series.isna().any())


def _distinct_objects(series: pd.Series):
    """The distinct values of an object column (dates), None for other columns or
    unhashable values: hashed once for the null and the date checks."""
    if series.dtype != object:
        return None
    try:
        return _unique_objects(series.to_numpy())
    except TypeError:
        return None


def passes_fast(schema: pa.DataFrameSchema, df: pd.DataFrame) -> bool:
    """True when `df` certainly passes `schema`: the same column, dtype, null, unique
    and value checks as pandera's, vectorised once per column (pandera's own run costs
    about a tenth of the cleaning). False when a check fails or is not known here."""
    if schema.coerce or schema.unique or schema.index is not None or not schema.strict:
        return False  # options these schemas do not use: pandera decides
    if any(c.coerce or c.regex for c in schema.columns.values()):
        return False
    present = [n for n in schema.columns if n in df.columns]
    required = [n for n, c in schema.columns.items() if c.required]
    if list(df.columns) != present or not set(required) <= set(present):
        return False
    for name in present:
        column, series = schema.columns[name], df[name]
        if column.dtype is not None and str(series.dtype) != str(column.dtype):
            return False
        distinct = _distinct_objects(series)
        if not column.nullable and _has_missing(series, distinct):
            return False
        if column.unique and series.duplicated().any():
            return False
        for check in column.checks:
            if not check.ignore_na or check.element_wise:
                return False
            if check.name == "date_objects" and distinct is not None:
                passed = _only_date_values(distinct)  # _only_dates on the values hashed above
            else:
                passed = _series_check_passes(check, series)
            if not passed:
                return False
    for check in schema.checks:  # the schemas' own frame checks, as they are
        function = getattr(check, "_check_fn", None)
        if check.element_wise or function is None or not bool(function(df)):
            return False
    return True


def validate(schema: pa.DataFrameSchema, df: pd.DataFrame) -> pd.DataFrame:
    """``schema.validate(df)``, with the vectorised checks first: pandera runs only
    where they do not pass, so a failure raises pandera's own error."""
    return df if passes_fast(schema, df) else schema.validate(df)
