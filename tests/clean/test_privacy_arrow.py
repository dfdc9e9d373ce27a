"""The Arrow path of publish_clean writes the same bytes as the pandas path."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dnmarkets.clean.privacy import (
    pseudonymise,
    pseudonymise_arrow,
    publish_arrow,
    publish_quarantine,
    publish_quarantine_arrow,
    publish_table,
    scrub_own_alias,
    scrub_own_alias_arrow,
)
from dnmarkets.core.io import transform_parquet, write_parquet

KEY = b"test-key"
# titles whose vendor's alias occurs in them in ASCII and in other scripts and cases,
# where re's case folding goes beyond ASCII (Kelvin sign, long s, dotted I)
ALIASES = ["KwikDrugs", "kwik", "Straße", "KELVIN", "sSnake", "İstanbul", "a|b", "", None]
TITLES = [
    "KwikDrugs 1g",
    "1g by KWIKDRUGS and kwikdrugs",
    "kwik 2g",
    "STRASSE straße STRAßE",
    "\u212aelvin and kelvin",
    "\u017fsnake oil",
    "istanbul İstanbul",
    "a|b c",
    "",
    None,
    "Ünïcödé title",
]


def _listings(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vendor = pd.array(rng.choice(np.array(ALIASES, dtype=object), n), dtype="str")
    title = pd.array(rng.choice(np.array(TITLES, dtype=object), n), dtype="str")
    price = rng.random(n)
    price[rng.random(n) < 0.2] = np.nan
    dates = [pd.Timestamp("2017-01-01").date() if x else None for x in rng.random(n) < 0.5]
    return pd.DataFrame(
        {
            "title": title,
            "vendor": vendor,
            "vendor_key": pd.array(
                [v.lower() if isinstance(v, str) else None for v in vendor], dtype="str"
            ),
            "pgp_fingerprint": pd.array(
                rng.choice(np.array(["A" * 40, "B" * 40 + "|" + "C" * 40, "", None]), n),
                dtype="str",
            ),
            "price_usd": price,
            "registered": dates,
            "feedback_count": pd.array(rng.integers(0, 5, n), dtype="Int64"),
            "ships_from_eu": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "is_drug": rng.random(n) < 0.5,
        }
    )


def test_arrow_columns_equal_the_pandas_ones():
    frame = _listings(400, 1)
    titles = pa.array(frame["title"])
    vendors = pa.array(frame["vendor"])
    assert scrub_own_alias_arrow(titles, vendors, KEY).to_pylist() == [
        None if pd.isna(t) else t for t in scrub_own_alias(frame["title"], frame["vendor"], KEY)
    ]
    scrubbed = scrub_own_alias_arrow(titles, vendors, KEY).to_pylist()
    assert any(t and t.startswith("v_") for t in scrubbed)  # the test has hits
    for column, prefix in (("vendor", "v"), ("pgp_fingerprint", "k")):
        expected = pseudonymise(frame[column], KEY, prefix)
        got = pseudonymise_arrow(pa.array(frame[column]), KEY, prefix).to_pylist()
        assert got == [None if pd.isna(x) else x for x in expected]


@pytest.mark.parametrize("dates", ["first_batch", "none"])
def test_streamed_arrow_publication_is_byte_identical(tmp_path, dates):
    frame = _listings(3000, 2)
    # the type of an object column (dates) comes from the first batch's values
    if dates == "first_batch":
        frame.loc[:999, "registered"] = pd.Timestamp("2017-02-01").date()
    else:
        frame["registered"] = None
    source = tmp_path / "private.parquet"
    write_parquet(frame, source)
    via_pandas, via_arrow = tmp_path / "pandas.parquet", tmp_path / "arrow.parquet"
    memo: dict = {}
    kwargs = {"batch_rows": 1000}
    assert transform_parquet(source, via_pandas, lambda f: publish_table(f, KEY), **kwargs) == 3000
    transform_parquet(
        source,
        via_arrow,
        lambda f: publish_table(f, KEY),
        arrow_transform=lambda t: publish_arrow(t, KEY, memo),
        **kwargs,
    )
    assert via_pandas.read_bytes() == via_arrow.read_bytes()
    assert memo["v"] and memo["k"]


def test_empty_and_quarantine_tables_are_byte_identical(tmp_path):
    raws = [
        json.dumps({"vendor": "KwikDrugs", "title": "KWIKDRUGS ünï", "price": "1"}),
        json.dumps({"vendor": "", "_extra_fields": ["x", "y"], "pgp_fingerprint": "A" * 40}),
        json.dumps({"title": "no vendor €", "rating": 4.5, "n": None}, ensure_ascii=False),
    ]
    quarantine = pd.DataFrame(
        {"reason": pd.array(["r"] * 30, dtype="str"), "raw": pd.array(raws * 10, dtype="str")}
    )
    cases = [
        ("quarantine", quarantine, publish_quarantine, publish_quarantine_arrow),
        ("empty_quarantine", quarantine.iloc[:0], publish_quarantine, publish_quarantine_arrow),
        ("empty_listings", _listings(5, 3).iloc[:0], publish_table, publish_arrow),
    ]
    for name, frame, publish, publish_a in cases:
        source = tmp_path / f"{name}.parquet"
        write_parquet(frame, source)
        a, b = tmp_path / f"{name}_pandas.parquet", tmp_path / f"{name}_arrow.parquet"
        transform_parquet(source, a, lambda f, p=publish: p(f, KEY), batch_rows=7)
        transform_parquet(
            source,
            b,
            lambda f, p=publish: p(f, KEY),
            arrow_transform=lambda t, p=publish_a: p(t, KEY),
            batch_rows=7,
        )
        assert a.read_bytes() == b.read_bytes(), name


def test_nan_becomes_null_as_through_pandas(tmp_path):
    # a file written by Arrow may hold NaN (not null); pandas turns it into null
    table = pa.table(
        {
            "vendor": pa.array(["KwikDrugs", None, "x"], pa.large_string()),
            "price": pa.array([1.5, float("nan"), None], pa.float64()),
        }
    )
    source = tmp_path / "nan.parquet"
    pq.write_table(table, source)
    a, b = tmp_path / "pandas.parquet", tmp_path / "arrow.parquet"
    transform_parquet(source, a, lambda f: publish_table(f, KEY))
    transform_parquet(
        source,
        b,
        lambda f: publish_table(f, KEY),
        arrow_transform=lambda t: publish_arrow(t, KEY),
    )
    assert pq.read_table(b).column("price").null_count == 2
    assert a.read_bytes() == b.read_bytes()
