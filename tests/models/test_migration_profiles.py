"""The vendor profiles summarised once per account (read from the file without pandas)
and the displacements' choice of destination."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from dnmarkets.core.io import write_parquet
from dnmarkets.models.migration import (
    PROFILE_COLUMNS,
    account_spans,
    covariates,
    displacements,
    read_vendor_profiles,
    vendor_profiles,
)


def profile_rows(seed: int, rows: int) -> pd.DataFrame:
    """Profile rows as in the clean vendors table: several crawls per account, missing
    ratings and registration dates (one account never gives a date), keys whose byte
    order differs from a case-folded one."""
    rng = np.random.default_rng(seed)
    start = dt.date(2017, 1, 1)
    frame = pd.DataFrame(
        {
            "market": pd.array(rng.choice(["m", "M", "mé"], size=rows), dtype="str"),
            "vendor_key": pd.array(rng.choice(["a", "B", "ä", "b1", "z"], size=rows), dtype="str"),
            "crawl_date": [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 90, rows)],
            "rating": np.where(rng.random(rows) < 0.2, np.nan, rng.random(rows) * 5),
            "registered": [
                None if r < 0.3 else start - dt.timedelta(days=int(d))
                for r, d in zip(rng.random(rows), rng.integers(0, 900, rows), strict=True)
            ],
        }
    )
    frame.loc[frame["vendor_key"] == "z", "registered"] = None
    frame["registered"] = frame["registered"].astype(object)
    return frame[PROFILE_COLUMNS]


@pytest.mark.parametrize("seed", [1, 2])
def test_profiles_read_from_the_file_equal_the_pandas_summary(tmp_path, seed):
    write_parquet(profile_rows(seed, 500), tmp_path / "vendors.parquet")
    rows = pd.read_parquet(tmp_path / "vendors.parquet", columns=PROFILE_COLUMNS)
    expected = vendor_profiles(rows)
    assert expected["registered"].isna().any() and expected["rating"].notna().all()
    read = read_vendor_profiles(tmp_path / "vendors.parquet")
    assert_frame_equal(read, expected, check_exact=True)


def test_profile_summary_gives_the_spans_and_covariates_of_the_rows(tmp_path):
    rows = profile_rows(3, 400)
    summary = vendor_profiles(rows)
    keys = rows[["market", "vendor_key"]].drop_duplicates()
    vm = keys.assign(
        first_seen=dt.date(2017, 2, 1),
        last_seen=dt.date(2017, 2, 2),
        est_sales_usd=1.0,
        main_category="cannabis",
        ships_from_region="EU",
    )
    assert_frame_equal(account_spans(vm, summary), account_spans(vm, rows), check_exact=True)
    disp = keys.assign(
        first_seen=pd.Timestamp("2017-03-01"),
        closure_day=pd.Timestamp("2017-07-05"),
        identity=keys["vendor_key"],
    )
    assert_frame_equal(
        covariates(disp, vm, summary, 1), covariates(disp, vm, rows, 1), check_exact=True
    )


def test_destination_is_the_earliest_then_the_first_market_name_then_the_table_order():
    event = {"label": "t", "date": "2017-07-05", "markets_closed": ["closed"]}
    days = pd.date_range("2017-06-01", "2017-08-31", freq="2D")
    market_day = pd.DataFrame(
        [
            {"market": m, "date": d.date(), "crawled": True, "crawl_rows": 1}
            for m in ("closed", "b", "a")
            for d in (days[days < "2017-07-05"] if m == "closed" else days)
        ]
    )
    rows = [
        # identity, market, key, alias, first, last
        ("i1", "closed", "k1", "x", "2017-06-01", "2017-07-03"),
        ("i1", "b", "k2", "y", "2017-07-11", "2017-08-01"),
        ("i1", "a", "k3", "z", "2017-07-11", "2017-08-01"),  # same day: market "a" first
        ("i2", "closed", "k4", "x", "2017-06-01", "2017-07-03"),
        ("i2", "b", "k5", "first", "2017-07-13", "2017-08-01"),  # tie: table order
        ("i2", "b", "k6", "second", "2017-07-13", "2017-08-01"),
        ("i2", "a", "k7", "w", "2017-06-01", "2017-08-01"),  # seen before the closure
    ]
    accounts = pd.DataFrame(
        rows, columns=["identity", "market", "vendor_key", "alias", "first_seen", "last_seen"]
    )
    accounts["first_seen"] = pd.to_datetime(accounts["first_seen"])
    accounts["last_seen"] = pd.to_datetime(accounts["last_seen"])
    accounts["pgp"] = ""
    d = displacements(event, accounts, market_day, {"displaced_window_days": 8})
    d = d.set_index("identity")
    assert d.loc["i1", "destination"] == "a" and d.loc["i1", "alias_changed"] == 1.0
    assert d.loc["i2", "destination"] == "b"
    assert d.loc["i2", "alias_changed"] == 1.0  # alias "first" (k5), not "second"
    # b's crawl before the first sighting (07-13) was 07-11: the reappearance day is
    # the midpoint of days 07-12..07-13, 7.5 days after the closure on 07-05
    assert d.loc["i2", "delay_days"] == pytest.approx(7.5)
