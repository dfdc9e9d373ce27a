"""Roster overlap on a planted example whose overlaps are known by construction."""

import pandas as pd
import pytest

from dnmarkets.models.intervals import wilson
from dnmarkets.models.migration_rosters import roster_model


def _names(prefix, n):
    """Distinct names without digits (normalisation drops trailing digits)."""
    letters = "bcdfghjklm"
    return [f"{prefix}vendor{letters[i // 10]}{letters[i % 10]}" for i in range(n)]


@pytest.fixture
def tables(tmp_path):
    # Dream after: 40 cocaine vendors (+5 cannabis ones, not compared):
    # 0-9 were on the earlier roster and on AlphaBay; 10-14 on the roster only;
    # 15-21 newcomers from Hansa (written in capitals with a trailing dot: case and
    # punctuation differ); 22-39 newcomers seen nowhere.
    dest = _names("d", 40)
    dest_cat = ["cocaine"] * 40 + ["cannabis"] * 5
    dest_all = dest + _names("x", 5)
    earlier = dest[:15] + _names("old", 30)
    alphabay = dest[:10] + _names("ab", 50) + _names("x", 5)  # cannabis sellers on AB too
    hansa = [n.upper() + "." for n in dest[15:22]] + _names("h", 20)
    files = {}
    for role, frame in {
        "destination": pd.DataFrame({"vendor": dest_all, "drug_category": dest_cat}),
        "earlier": pd.DataFrame({"vendor": earlier, "pgp_fingerprint": ["AB" * 20] * 45}),
        "closed_alphabay": pd.DataFrame(
            {"vendor": alphabay, "drug_category": ["cocaine"] * 30 + ["other"] * 35}
        ),
        "closed_hansa": pd.DataFrame({"vendor": hansa, "drug_category": "cocaine"}),
    }.items():
        files[role] = tmp_path / f"{role}.parquet"
        frame.to_parquet(files[role])
    return files


SPEC = {
    "event": "bayonet",
    "earlier": "dream2016",
    "closed": {"alphabay": "alphabay2017", "hansa": "hansa2016"},
    "origin": {"market": "alphabay", "drug_category": "cocaine"},
    "drug_category": "cocaine",
}
EVENTS = {"bayonet": {"label": "Operation Bayonet"}}


def test_planted_overlap(tables):
    s = roster_model(tables, SPEC, EVENTS, 0.95, 4)["summary"]
    v = {k: e["value"] for k, e in s.items()}
    assert v["vendors.bayonet"] == 40  # the 5 cannabis vendors are not compared
    assert v["closed_name_count.bayonet"] == 17  # 10 via AlphaBay + 7 via Hansa
    assert v["closed_name_count_on_earlier_roster.bayonet"] == 10
    assert v["group_size_on_earlier_roster.bayonet"] == 15
    assert v["closed_name_count_not_on_earlier_roster.bayonet"] == 7
    assert v["group_size_not_on_earlier_roster.bayonet"] == 25
    est, low, high = wilson(17, 40, 0.95)
    share = s["closed_name_share.bayonet"]
    assert (share["value"], share["ci_low"], share["ci_high"]) == pytest.approx((est, low, high))
    assert v["closed_name_share_hansa.bayonet"] == pytest.approx(7 / 40)
    # AlphaBay's 30 cocaine vendors: the first 10 are on Dream after the event
    assert v["origin_vendors.bayonet"] == 30
    assert v["origin_seen_share.bayonet"] == pytest.approx(10 / 30)
    # only the earlier roster has keys: no fingerprint comparison is made
    assert v["sides_with_fingerprints.bayonet"] == 1
    assert not any(k.startswith("fingerprint_share") for k in s)


def test_fingerprints_compared_where_both_sides_have_them(tables):
    frame = pd.read_parquet(tables["closed_hansa"])
    frame["pgp_fingerprint"] = ["AB" * 20] + ["CD" * 20] * (len(frame) - 1)
    frame.to_parquet(tables["closed_hansa"])
    s = roster_model(tables, SPEC, EVENTS, 0.95, 4)["summary"]
    assert s["sides_with_fingerprints.bayonet"]["value"] == 2
    # the earlier roster's one distinct key is on Hansa
    assert s["fingerprint_share_earlier_hansa.bayonet"]["value"] == 1.0
