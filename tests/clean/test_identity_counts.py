"""The identities job's shortcuts give the tables of the direct computation."""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dnmarkets.clean.identity import (
    _links_by_threshold,
    _similarity,
    account_table,
    candidate_links,
    resolve,
)


def _aliases(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    stems = ["captainkush", "dutchdirect", "greenmachine", "happyhippo", "nordicnights"]
    out = []
    for _ in range(n):
        stem = list(rng.choice(stems))
        for _ in range(rng.integers(0, 3)):  # a few edits: fuzzy matches at several levels
            stem[rng.integers(len(stem))] = rng.choice(list("abcdexyz"))
        out.append("".join(stem) + rng.choice(["", "_nl", "99", "shop"]))
    return out


def _nodes(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    aliases = _aliases(n, 6)
    listings = pd.DataFrame(
        {
            "market": rng.choice(["a", "b", "c", "d"], n),
            "vendor": aliases,
            "vendor_key": [f"{a.lower()}{i}" for i, a in enumerate(aliases)],
        }
    )
    return account_table(listings).sort_values(["market", "vendor_key"]).reset_index(drop=True)


def test_links_of_all_thresholds_at_once_equal_those_one_at_a_time():
    nodes = _nodes()
    thresholds = [0.8, 0.86, 0.92, 1.0]
    together = _links_by_threshold(nodes, {}, thresholds)
    counts = []
    for t in thresholds:
        alone = candidate_links(nodes, {"fuzzy_threshold": t})
        pd.testing.assert_frame_equal(together[t], alone)
        counts.append(int((alone["rule"] == "fuzzy").sum()))
    assert counts[0] > counts[1] > counts[3] == 0  # the thresholds matter here
    resolved, _ = resolve(nodes, {"fuzzy_threshold": 0.8})
    assert resolved["identity"].nunique() < len(nodes)


def test_accounts_from_counted_profiles_equal_those_from_the_profiles():
    rng = np.random.default_rng(7)
    n = 500
    aliases = np.array(["Kush", "kush", "Hippo", "HIPPO", ""], dtype=object)
    vendors = pd.DataFrame(
        {
            "market": rng.choice(["a", "b"], n),
            "vendor": rng.choice(aliases, n),
            "pgp_fingerprint": pd.array(
                rng.choice(["A" * 40, "b" * 40, "0x" + "C" * 40, "short", "", None], n),
                dtype="str",
            ),
        }
    )
    vendors["vendor_key"] = vendors["vendor"].str.lower()
    listings = vendors[["market", "vendor_key", "vendor"]].iloc[::3]
    keys = ["market", "vendor_key", "vendor", "pgp_fingerprint"]
    counted = vendors.groupby(keys, dropna=False).size().rename("n").reset_index()
    direct = account_table(listings, vendors)
    assert (direct["pgp"].str.count(r"\|") >= 1).any()  # several keys, ordered by sightings
    pd.testing.assert_frame_equal(account_table(listings, counted), direct)


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet="abcxy1_", max_size=30),
    st.text(alphabet="abcxy1_", max_size=30),
)
def test_similarity_is_difflib_s_ratio(a, b):
    expected = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    assert _similarity(a, b) == expected


def test_similarity_of_long_repetitive_keys_is_difflib_s_ratio():
    # the block choice matters where many blocks are equally long
    rng = np.random.default_rng(9)
    for _ in range(2000):
        a, b = ("".join(rng.choice(list("ab"), rng.integers(0, 40))) for _ in range(2))
        assert _similarity(a, b) == difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
