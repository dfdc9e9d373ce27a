"""Newcomers on a surviving market matched to closed markets
(dnmarkets.models.migration_external)."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from dnmarkets.models.intervals import wilson
from dnmarkets.models.migration_external import (
    arrivals,
    newcomer_diff,
    read_name_list,
    read_vendor_markets,
)

EVENTS = {
    "raid": {
        "label": "Raid",
        "date": "2014-11-05",
        "end_date": "2014-11-06",
        "markets_closed": ["sr", "c9", "hydra"],
    }
}


def write_gz(path, text):
    with gzip.open(path, "wt") as f:
        f.write(text)
    return path


def test_read_vendor_markets_drops_shifted_rows(tmp_path):
    path = write_gz(
        tmp_path / "vm.csv.gz",
        ",vendor,date_min,date_max, exact_SR\n"
        "0,alpha,2014-04-06,2015-07-07,1.0\n"
        "1,0.28,BBMC,BBMC,\n",
    )
    df, bad = read_vendor_markets(path)
    assert bad == 1 and list(df["vendor"]) == ["alpha"]
    assert "exact_SR" in df.columns  # header whitespace stripped


def test_read_name_list_uses_identity_keys(tmp_path):
    path = write_gz(tmp_path / "names.txt.gz", 'vendor\n"Green_Owl"\n"GreenOwl2"\n"shop"\n"ab"\n')
    assert read_name_list(path) == {"greenowl"}


def vendors():
    rows = []
    # 10 newcomers before (2 on sr), 20 after (6 on sr or c9 list), 5 old vendors
    for i in range(10):
        rows.append((f"before{chr(97 + i)}", "2014-09-01", "1.0" if i < 2 else "", "0"))
    for i in range(20):
        rows.append(
            (f"after{chr(97 + i)}", "2014-12-01", "1.0" if i < 4 else "", "1" if i < 5 else "0")
        )
    for i in range(5):
        rows.append((f"old{chr(97 + i)}", "2014-02-01", "1.0", "1"))
    rows.append(("end", "2015-06-30", "", "0"))
    df = pd.DataFrame(rows, columns=["vendor", "date_min", "exact_SR", "hamming_SR"])
    df["first_seen"] = pd.to_datetime(df["date_min"])
    return df


def test_arrivals_by_hand():
    names = {"c9": {"afterk", "afterl"}}  # identity keys of two newcomers
    r = arrivals(vendors(), EVENTS, {"sr": "exact_SR"}, {"sr": "hamming_SR"}, names, 0.95)
    s = r["summary"]
    assert s["newcomers.raid"]["value"] == 20
    assert s["newcomers_from_closed.raid"]["value"] == 6
    assert s["newcomers_from_closed_share.raid"]["value"] == pytest.approx(0.3)
    assert (
        s["newcomers_from_closed_share.raid"]["ci_low"],
        s["newcomers_from_closed_share.raid"]["ci_high"],
    ) == pytest.approx(wilson(6, 20, 0.95)[1:])
    assert s["newcomers_from_closed_share_before.raid"]["value"] == pytest.approx(0.2)
    assert s["newcomers_from_closed_excess.raid"]["value"] == pytest.approx(10.0)  # points
    assert s["newcomers_from_closed_excess.raid"]["unit"] == "points"
    # a near name (Hamming) adds one more: aftere
    assert s["newcomers_from_closed_share_near.raid"]["value"] == pytest.approx(7 / 20)
    rows = {row["market"]: row for row in r["tables"]["raid"]}
    assert set(rows) == {"sr", "c9"}  # hydra has no source
    assert rows["sr"]["seen_after"] == 4 and rows["c9"]["seen_after"] == 2


def test_event_outside_the_crawls_is_skipped():
    late = {"late": dict(EVENTS["raid"], date="2015-06-01", end_date="2015-06-02")}
    assert arrivals(vendors(), late, {"sr": "exact_SR"}, {}, {}, 0.95)["summary"] == {}


def test_newcomer_diff_interval_contains_difference_and_zero_when_equal():
    d, low, high = newcomer_diff(30, 100, 30, 100, 0.95)
    assert d == 0 and low < 0 < high
    d, low, high = newcomer_diff(60, 100, 20, 100, 0.95)
    assert d == pytest.approx(0.4) and 0 < low < d < high


def test_agora_newcomers_real_data(mirror):
    vm, bad = read_vendor_markets(mirror / "agora-2014-2015/vendor_markets.csv.gz")
    assert len(vm) > 3000 and bad < 20
    names = {"cloud9": read_name_list(mirror / "agora-2014-2015/cloud9_vendors.txt.gz")}
    events = {
        "onymous": {**EVENTS["raid"], "markets_closed": ["silkroad2", "cloud9", "hydra"]},
        "evolution": {
            "label": "Evolution",
            "date": "2015-03-14",
            "end_date": "2015-03-18",
            "markets_closed": ["evolution"],
        },
    }
    flags = {"silkroad2": "exact_SR", "cloud9": "exact_c9", "evolution": "exact_Evo"}
    r = arrivals(vm, events, flags, {}, names, 0.95)["summary"]
    for ev in events:
        n, k = r[f"newcomers.{ev}"]["value"], r[f"newcomers_from_closed.{ev}"]["value"]
        assert 100 < n < 1000 and 0 < k < n
    # our own Cloud-9 name matching finds at least the derived table's exact matches
    after = (vm["first_seen"] > "2014-11-06") & (vm["first_seen"] <= "2015-02-04")
    derived = (pd.to_numeric(vm["exact_c9"], errors="coerce").fillna(0) > 0) & after
    onymous = arrivals(vm, {"onymous": events["onymous"]}, {}, {}, names, 0.95)
    own = {row["market"]: row for row in onymous["tables"]["onymous"]}["cloud9"]["seen_after"]
    assert own >= int(derived.sum()) * 0.8
