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


def reference_displacements(event, accounts, market_day, window_days):
    """The displacements written one account at a time (the former implementation)."""
    from dnmarkets.clean.identity import exact_key
    from dnmarkets.models.migration import _previous_crawl, closure_days

    closes, crawls, rows = closure_days(event, market_day), _previous_crawl(market_day), []
    by_identity = {k: g for k, g in accounts.groupby("identity", sort=False)}
    for m, c in sorted(closes.items()):
        last_crawl = pd.Timestamp(crawls[m][crawls[m] < np.datetime64(c)].max())
        on_m = accounts[
            (accounts["market"] == m)
            & (accounts["first_seen"] < c)
            & (accounts["last_seen"] >= last_crawl - pd.Timedelta(days=window_days))
        ]
        for acc in on_m.itertuples(index=False):
            other = by_identity[acc.identity]
            later = other[(other["market"] != m) & (other["first_seen"] >= c)]
            row = dict(market=m, closure_day=c, vendor_key=acc.vendor_key)
            row.update(identity=acc.identity, first_seen=acc.first_seen, migrated=False)
            row.update(destination="", reappeared=pd.NaT, delay_days=np.nan)
            row.update(alias_changed=np.nan, pgp_changed=np.nan)
            if len(later):
                dest = later.sort_values(["first_seen", "market"]).iloc[0]
                seen, days = dest["first_seen"], crawls[dest["market"]]
                prev = days[days < np.datetime64(seen)]
                one = pd.Timedelta(days=1)
                lo = max(pd.Timestamp(prev.max()) if len(prev) else seen - one, c - one)
                day = lo + (seen - lo) / 2 + pd.Timedelta(hours=12)
                row.update(migrated=True, destination=dest["market"], reappeared=seen)
                row["delay_days"] = float(max((day - c) / pd.Timedelta(days=1), 1.0))
                row["alias_changed"] = float(exact_key(acc.alias) != exact_key(dest["alias"]))
                old = set(filter(None, acc.pgp.split("|")))
                new = set(filter(None, dest["pgp"].split("|")))
                if old and new:
                    row["pgp_changed"] = float(not old & new)
            rows.append(row)
    return pd.DataFrame(rows)


def random_accounts(seed: int, n: int, migrate: float, time_of_day: bool = False):
    """Accounts of random identities on a closed market and three others."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2017-06-01") + (pd.Timedelta(hours=7) if time_of_day else pd.Timedelta(0))
    first = start + pd.to_timedelta(rng.integers(0, 100, n), unit="D")
    identity = rng.integers(0, n // 3, n).astype(str)
    market = np.where(rng.random(n) < migrate, rng.choice(["b", "a", "c"], n), "closed")
    frame = pd.DataFrame(
        {
            "identity": pd.array(np.char.add("i", identity), dtype="str"),
            "market": pd.array(market, dtype="str"),
            "vendor_key": pd.array([f"k{i}" for i in range(n)], dtype="str"),
            "alias": pd.array(rng.choice(["Ab", "ab", "a-b", "x"], n), dtype="str"),
            "pgp": pd.array(rng.choice(["", "p1", "p1|p2", "p3"], n), dtype="str"),
            "first_seen": first.astype("datetime64[s]"),
            "last_seen": (first + pd.to_timedelta(rng.integers(0, 60, n), unit="D")).astype(
                "datetime64[s]"
            ),
        }
    )
    frame.loc[frame["market"] == "closed", "first_seen"] = pd.Timestamp("2017-06-02")
    frame.loc[frame["market"] == "closed", "last_seen"] = pd.Timestamp("2017-07-03")
    return frame


def closed_market_day():
    days = pd.date_range("2017-06-01", "2017-10-31", freq="D")
    every = {"closed": 3, "a": 2, "b": 5}  # c: never crawled before its accounts appear
    rows = [
        {"market": m, "date": d.date(), "crawled": True, "crawl_rows": 1}
        for m, k in every.items()
        for d in days[::k]
        if m != "closed" or d < pd.Timestamp("2017-07-05")
    ]
    rows += [{"market": "c", "date": d.date(), "crawled": True, "crawl_rows": 1} for d in days]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("seed", "migrate", "time_of_day"),
    [(1, 0.5, False), (2, 0.9, False), (3, 0.0, False), (4, 0.5, True)],
)
def test_displacements_equal_the_row_by_row_definition(seed, migrate, time_of_day):
    event = {"label": "t", "date": "2017-07-05", "markets_closed": ["closed"]}
    accounts = random_accounts(seed, 300, migrate, time_of_day)
    expected = reference_displacements(event, accounts, closed_market_day(), 8)
    got = displacements(event, accounts, closed_market_day(), {"displaced_window_days": 8})
    assert len(got) > 0
    assert_frame_equal(got, expected, check_exact=True)


def test_top_share_interval_equals_one_bincount_per_replicate():
    from dnmarkets.models.migration import _top_share_ci

    def one_by_one(dest, level, reps, seed):
        rng = np.random.default_rng(seed)
        codes, _ = pd.factorize(pd.Series(dest))
        n, k = len(codes), codes.max() + 1
        draws = rng.integers(0, n, size=(reps, n))
        tops = np.array([np.bincount(codes[d], minlength=k).max() / n for d in draws])
        return float(np.quantile(tops, (1 - level) / 2)), float(np.quantile(tops, 0.5 + level / 2))

    rng = np.random.default_rng(5)
    for n in (1, 7, 333, 9000):  # 9000: replicates in several blocks
        dest = rng.choice(["a", "b", "c", "dd"], size=n, p=[0.4, 0.3, 0.2, 0.1])
        for reps in (1, 200, 1000):
            assert _top_share_ci(dest, 0.95, reps, 11) == one_by_one(dest, 0.95, reps, 11)


def test_shares_only_gives_the_same_shares():
    from dnmarkets.models.migration import migration

    event = {"label": "t", "date": "2017-07-05", "markets_closed": ["closed"]}
    accounts = random_accounts(1, 300, 0.5)
    vm = accounts[["market", "vendor_key"]].assign(
        est_sales_usd=1.0, main_category="cannabis", ships_from_region="EU"
    )
    args = ({"ev": event}, accounts, vm, closed_market_day(), None, {}, 0.95, 3, 200)
    full = migration(*args)["summary"]
    shares = migration(*args, shares_only=True)["summary"]
    assert "top_destination_share.ev" in shares and "km_reappear_7d.ev" not in shares
    assert shares == {k: full[k] for k in shares}
