"""Vendor migration measures (dnmarkets.models.migration): hand-made cases and an
independent product-limit computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dnmarkets.models.migration import (
    closure_days,
    displacements,
    km_at,
    migration,
    product_limit,
    wilson,
)


def hand_product_limit(time, event):
    """Kaplan-Meier written out: S(t) = prod over event times t_i <= t of (1 - d_i / n_i),
    with Greenwood's variance S^2 sum d_i / (n_i (n_i - d_i))."""
    time, event = np.asarray(time, float), np.asarray(event, int)
    out, s, g = [], 1.0, 0.0
    for t in np.unique(time[event == 1]):
        n = int((time >= t).sum())
        d = int(((time == t) & (event == 1)).sum())
        s *= 1 - d / n
        g += d / (n * (n - d)) if n > d else 0.0
        out.append((t, s, s * math.sqrt(g)))
    return out


def test_km_matches_hand_written_product_limit():
    rng = np.random.default_rng(7)
    n = 400
    delay = np.ceil(rng.gamma(1.5, 8.0, size=n))
    migrates = rng.random(n) < 0.6
    follow = rng.integers(20, 120, size=n).astype(float)  # censoring time
    time = np.where(migrates & (delay <= follow), delay, follow)
    event = (migrates & (delay <= follow)).astype(int)
    curve = product_limit(time, event)
    hand = hand_product_limit(time, event)
    assert len(curve) == len(hand)
    for (t, s, se), row in zip(hand, curve.itertuples(), strict=True):
        assert row.time == t
        assert row.surv == pytest.approx(s, abs=1e-12)
        assert row.se == pytest.approx(se, rel=1e-9, abs=1e-12)
    # without censoring, 1 - S(t) is the plain share with delay <= t
    full = product_limit(np.where(migrates, delay, 500.0), migrates.astype(int))
    for k in (7, 30, 90):
        est, low, high = km_at(full, k, 0.95)
        assert est == pytest.approx(((delay <= k) & migrates).mean())
        assert low < est < high


def test_km_at_before_first_event_and_interval_order():
    curve = product_limit(np.array([5.0, 10.0, 10.0, 20.0]), np.array([1, 1, 0, 0]))
    assert km_at(curve, 2, 0.95) == (0.0, 0.0, 0.0)
    est, low, high = km_at(curve, 12, 0.95)
    assert est == pytest.approx(0.5) and 0 <= low < est < high <= 1


def test_wilson_known_value():
    est, low, high = wilson(30, 100, 0.95)
    # Wilson score interval for 30/100 at 95%: 0.2189 .. 0.3958
    assert est == 0.3 and low == pytest.approx(0.2189, abs=1e-4)
    assert high == pytest.approx(0.3958, abs=1e-4)
    assert all(math.isnan(x) for x in wilson(0, 0, 0.95))


EVENT = {
    "label": "Test closure",
    "date": "2017-07-05",
    "end_date": "2017-07-20",
    "markets_closed": ["alpha", "hansa", "absent"],
}


def market_day():
    rows = []
    for m, days in {
        "alpha": pd.date_range("2017-06-01", "2017-07-04", freq="3D"),
        "hansa": pd.date_range("2017-06-01", "2017-07-18", freq="4D"),
        "dream": pd.date_range("2017-06-01", "2017-12-31", freq="3D"),
        "late": pd.date_range("2017-08-01", "2017-12-31", freq="5D"),
    }.items():
        rows += [{"market": m, "date": d.date(), "crawled": True, "crawl_rows": 10} for d in days]
    return pd.DataFrame(rows)


def test_closure_days_first_day_or_last_day_of_event():
    c = closure_days(EVENT, market_day())
    # alpha last crawled before the event: closed on its first day; hansa crawled
    # after it: closed on the last day; a market absent from the data is left out
    assert c == {"alpha": pd.Timestamp("2017-07-05"), "hansa": pd.Timestamp("2017-07-20")}


def accounts():
    rows = [
        # identity, market, key, first, last
        ("i1", "alpha", "a1", "2017-06-01", "2017-07-03"),
        ("i1", "dream", "a1", "2017-07-15", "2017-12-30"),  # migrant, 10 days
        ("i2", "alpha", "a2", "2017-06-01", "2017-07-03"),  # disappears
        ("i3", "alpha", "a3", "2017-06-01", "2017-06-10"),  # left before: not displaced
        ("i4", "alpha", "a4", "2017-06-01", "2017-07-03"),
        ("i4", "dream", "a4", "2017-06-01", "2017-12-30"),  # already there: not a migrant
        ("i5", "hansa", "h5", "2017-06-01", "2017-07-17"),
        ("i5", "late", "h5", "2017-08-01", "2017-10-01"),  # migrant to a new market
    ]
    df = pd.DataFrame(rows, columns=["identity", "market", "vendor_key", "first_seen", "last_seen"])
    df["first_seen"] = pd.to_datetime(df["first_seen"])
    df["last_seen"] = pd.to_datetime(df["last_seen"])
    df["alias"] = df["vendor_key"].str.upper()
    df.loc[7, "alias"] = "H5_new"
    df["pgp"] = ""
    return df


def test_displacements_by_hand():
    d = displacements(EVENT, accounts(), market_day(), {"displaced_window_days": 8})
    d = d.set_index("identity")
    assert sorted(d.index) == ["i1", "i2", "i4", "i5"]
    assert d.loc["i1", "migrated"] and d.loc["i1", "destination"] == "dream"
    # dream's crawl before the first sighting (07-15) was 07-13: the reappearance day
    # is the midpoint of days 07-14..07-15, 9.5 days after the closure on 07-05
    assert d.loc["i1", "delay_days"] == pytest.approx(9.5)
    assert not d.loc["i2", "migrated"] and not d.loc["i4", "migrated"]
    assert d.loc["i5", "destination"] == "late"
    # late opened 08-01 with no earlier crawl: reappeared on its first crawl, 12 days
    # after Hansa's closure on the event's last day
    assert d.loc["i5", "delay_days"] == pytest.approx(12.0)
    assert d.loc["i5", "alias_changed"] == 1.0 and d.loc["i1", "alias_changed"] == 0.0


def test_migration_summary_by_hand():
    acc = accounts()
    vm = acc[["market", "vendor_key"]].assign(
        est_sales_usd=100.0, main_category="cannabis", ships_from_region="EU"
    )
    res = migration({"ev": EVENT}, acc, vm, market_day(), None, {}, 0.95, 1, 200)
    s = res["summary"]
    assert s["displaced.ev"]["value"] == 4
    assert s["reappear_share_30d.ev"]["value"] == pytest.approx(2 / 4)
    assert s["disappear_share.ev"]["value"] == pytest.approx(2 / 4)
    lo, hi = s["reappear_share_30d.ev"]["ci_low"], s["reappear_share_30d.ev"]["ci_high"]
    assert (lo, hi) == pytest.approx(wilson(2, 4, 0.95)[1:])
    assert s["reappear_share_7d.ev"]["value"] <= s["reappear_share_30d.ev"]["value"]
    # the two migrants went to two different markets: the top one holds half
    assert s["top_destination_share.ev"]["value"] == pytest.approx(0.5)
    flows = res["tables"]["ev"]["flows"]
    assert sum(f["accounts"] for f in flows) == 4
    assert {"source": "alpha", "target": "not seen again", "accounts": 2} in flows
