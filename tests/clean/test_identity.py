"""Identity matching across markets (dnmarkets.clean.identity): hand-made cases."""

from __future__ import annotations

import pandas as pd
import pytest

from dnmarkets.clean.identity import (
    account_table,
    exact_key,
    identity_key,
    normalise_fingerprint,
    pairwise_scores,
    resolve,
    truth_uids,
)

FP_A = "0ADC8ACFE82BD188EACADF13BD8959771328FB10"
FP_B = "17F219519C81BAC11CD5CE6B1ACEA79E6E33553D"
FP_C = "3033A9A80CB2D717E06C45D8077A64D8F33235A1"


@pytest.mark.parametrize(
    "alias, key",
    [
        ("Lady_Amsterdam", "ladyamsterdam"),
        ("LADY-AMSTERDAM", "ladyamsterdam"),
        ("Lady_Amsterdam_NL", "ladyamsterdam"),  # country token dropped
        ("Lady_Amsterdam2", "ladyamsterdam"),  # trailing digits
        ("Lady_Amsterdam_Official", "ladyamsterdam"),
        ("RealLady_Amsterdam", "ladyamsterdam"),  # decorative prefix
        ("NewLadyAmsterdam", "ladyamsterdam"),
        ("LadyAmsterdamReloaded", "ladyamsterdam"),
        ("Lady_Amsterdam_back", "ladyamsterdam"),
        ("  lady amsterdam ", "ladyamsterdam"),
        ("abc1", "abc1"),  # too short to strip
        ("Real", "real"),
        ("Owl_UK", "owluk"),  # a stem shorter than 4 keeps its country token
        ("Ｄｒ＿Ｗｈｉｔｅ", "drwhite"),  # full-width (NFKC)
        (None, ""),
    ],
)
def test_identity_key(alias, key):
    assert identity_key(alias) == key


def test_exact_key_keeps_digits_and_prefixes():
    assert exact_key("Lady_Amsterdam2") == "ladyamsterdam2"
    assert exact_key("RealDrWhite") == "realdrwhite"


def test_normalise_fingerprint():
    assert normalise_fingerprint(FP_A.lower()) == FP_A
    spaced = " ".join(FP_A[i : i + 4] for i in range(0, 40, 4))
    assert normalise_fingerprint(spaced) == FP_A
    assert normalise_fingerprint("ABC") == ""
    assert normalise_fingerprint(None) == ""


def nodes(rows):
    return pd.DataFrame(rows, columns=["market", "vendor_key", "alias", "pgp"])


def same(resolved, a, b):
    ident = resolved.set_index(["market", "vendor_key"])["identity"]
    return ident[a] == ident[b]


def test_alias_variant_and_pgp_links():
    r, links = resolve(
        nodes(
            [
                ("alpha", "ladyamsterdam", "Lady_Amsterdam", FP_A),
                ("dream", "ladyamsterdamnl", "Lady_Amsterdam_NL", FP_A),  # variant, same key
                ("hansa", "greenowl", "GreenOwl", FP_B),
                ("dream", "bluefox", "BlueFox", FP_B),  # new alias, same key
                ("valhalla", "greenowl", "greenowl", ""),  # same alias, no key
            ]
        ),
        {},
    )
    assert same(r, ("alpha", "ladyamsterdam"), ("dream", "ladyamsterdamnl"))
    assert same(r, ("hansa", "greenowl"), ("dream", "bluefox"))
    assert same(r, ("hansa", "greenowl"), ("valhalla", "greenowl"))
    assert not same(r, ("alpha", "ladyamsterdam"), ("hansa", "greenowl"))
    assert set(links["rule"]) >= {"pgp", "alias", "alias_variant"}


def test_exact_alias_links_even_when_the_key_changed():
    r, _ = resolve(
        nodes([("alpha", "greenowl", "GreenOwl", FP_A), ("dream", "greenowl", "green_owl", FP_B)]),
        {},
    )
    assert same(r, ("alpha", "greenowl"), ("dream", "greenowl"))


def test_variant_link_refused_when_pgp_keys_contradict():
    r, links = resolve(
        nodes(
            [
                ("alpha", "apothekeberlin", "ApothekeBerlin420", FP_A),
                ("dream", "apothekeberlin", "ApothekeBerlin", FP_B),
            ]
        ),
        {},
    )
    assert not same(r, ("alpha", "apothekeberlin"), ("dream", "apothekeberlin"))
    assert not links.loc[links["rule"] == "alias_variant", "used"].any()


def test_contradiction_checked_for_the_whole_identity_not_only_the_pair():
    # A (key A) ~ B (no key) by variant, then B ~ C (key C): C would join A's key
    r, _ = resolve(
        nodes(
            [
                ("alpha", "coldstone", "ColdStone", FP_A),
                ("dream", "coldstone", "ColdStone2", ""),
                ("hansa", "coldstone", "RealColdStone", FP_C),
            ]
        ),
        {},
    )
    assert not (
        same(r, ("alpha", "coldstone"), ("dream", "coldstone"))
        and same(r, ("dream", "coldstone"), ("hansa", "coldstone"))
    )


@pytest.mark.parametrize("alias", ["shop", "Pharma", "weed", "abc"])
def test_generic_and_short_aliases_never_link_by_alias(alias):
    r, _ = resolve(nodes([("alpha", "x", alias, ""), ("dream", "x", alias, "")]), {})
    assert r["identity"].nunique() == 2


def test_key_ambiguous_within_a_market_does_not_link():
    r, _ = resolve(
        nodes(
            [
                ("alpha", "nightowl", "NightOwl", ""),
                ("alpha", "nightowl7", "NightOwl_7x", ""),  # another account, same variant key
                ("dream", "nightowl", "night-owl", ""),
            ]
        ),
        {"fuzzy_threshold": 1.0},
    )
    # the exact alias still links NightOwl and night-owl; the variant does not
    assert same(r, ("alpha", "nightowl"), ("dream", "nightowl"))
    assert r["identity"].nunique() == 2


def test_fuzzy_links_long_similar_aliases_only():
    base = [
        ("alpha", "purplemountain", "PurpleMountain", ""),
        ("dream", "purplemountian", "PurpleMountian", ""),
    ]
    r, _ = resolve(nodes(base), {"fuzzy_threshold": 0.9, "fuzzy_min_length": 8})
    assert r["identity"].nunique() == 1
    r, _ = resolve(nodes(base), {"fuzzy_threshold": 1.0})
    assert r["identity"].nunique() == 2
    short = [("alpha", "owlet", "Owlet", ""), ("dream", "owlat", "Owlat", "")]
    r, _ = resolve(nodes(short), {"fuzzy_threshold": 0.5, "fuzzy_min_length": 8})
    assert r["identity"].nunique() == 2
    # contradicting PGP keys refuse the fuzzy link
    keyed = [(m, k, a, fp) for (m, k, a, _), fp in zip(base, [FP_A, FP_B], strict=True)]
    r, _ = resolve(nodes(keyed), {"fuzzy_threshold": 0.9})
    assert r["identity"].nunique() == 2


def test_pgp_shared_by_two_accounts_of_one_market_is_not_used():
    r, _ = resolve(
        nodes(
            [
                ("alpha", "aaaaaa", "RiverStone", FP_A),
                ("alpha", "bbbbbb", "SunnyHill", FP_A),
                ("dream", "cccccc", "MoonLake", FP_A),
            ]
        ),
        {},
    )
    assert r["identity"].nunique() == 3


def test_account_table_takes_most_shown_alias_and_fingerprints():
    listings = pd.DataFrame(
        {
            "market": ["alpha"] * 3 + ["dream"],
            "vendor_key": ["greenowl"] * 3 + ["bluefox"],
            "vendor": ["GreenOwl", "GreenOwl", "greenowl", "BlueFox"],
        }
    )
    vendors = pd.DataFrame(
        {
            "market": ["alpha", "alpha", "alpha"],
            "vendor_key": ["greenowl"] * 3,
            "vendor": ["GreenOwl"] * 3,
            "pgp_fingerprint": [FP_A, FP_A, FP_B.lower()],
        }
    )
    t = account_table(listings, vendors).set_index(["market", "vendor_key"])
    assert t.loc[("alpha", "greenowl"), "alias"] == "GreenOwl"
    assert t.loc[("alpha", "greenowl"), "pgp"] == f"{FP_A}|{FP_B}"
    assert t.loc[("dream", "bluefox"), "pgp"] == ""


def test_pairwise_scores_by_hand():
    # 4 accounts of true vendor u1 on 3 markets (2 on alpha), 1 of u2
    resolved = pd.DataFrame(
        {
            "market": ["alpha", "alpha", "dream", "hansa", "dream"],
            "identity": ["i1", "i1", "i1", "i2", "i3"],
        }
    )
    uid = pd.Series(["u1", "u1", "u1", "u1", "u2"])
    s = pairwise_scores(resolved, uid)
    # true cross-market pairs of u1: 4 accounts -> 6 pairs minus 1 same-market = 5
    assert s["true_pairs"] == 5
    # predicted: i1 has 3 accounts (2 on alpha): 3 - 1 = 2 cross-market pairs
    assert s["predicted_pairs"] == 2 and s["correct_pairs"] == 2
    assert s["precision"] == 1.0 and s["recall"] == pytest.approx(0.4)
    wrong = resolved.assign(identity=["i1", "i1", "i1", "i2", "i1"])
    s = pairwise_scores(wrong, uid)
    assert s["predicted_pairs"] == 4 and s["precision"] == pytest.approx(0.5)


def test_truth_uids_drops_keys_shared_by_two_vendors():
    resolved = pd.DataFrame({"market": ["a", "a", "b"], "vendor_key": ["owl", "fox", "owl"]})
    truth = pd.DataFrame(
        {
            "uid": ["u1", "u2", "u3", "u1"],
            "market": ["a", "a", "a", "b"],
            "alias": ["Owl", "Fox", "fox", "owl"],
        }
    )
    u = truth_uids(resolved, truth)
    assert u.iloc[0] == "u1" and pd.isna(u.iloc[1]) and u.iloc[2] == "u1"


def _fuzzy_pairs_by_the_nested_loop(keys: list[str], threshold: float) -> list[tuple[str, str]]:
    """The fuzzy comparison as first written (every pair of a block, difflib on each):
    the reference for the bounded, vectorised version."""
    import difflib
    from collections import defaultdict

    blocks: dict[str, list[str]] = defaultdict(list)
    for k in sorted(set(keys)):
        blocks["^" + k[:4]].append(k)
        blocks["$" + k[-4:]].append(k)
    seen, out = set(), []
    for block in blocks.values():
        for x in range(len(block)):
            for y in range(x + 1, len(block)):
                a, b = block[x], block[y]
                if (a, b) in seen or abs(len(a) - len(b)) > 3:
                    continue
                seen.add((a, b))
                if difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= threshold:
                    out.append((a, b))
    return out


@pytest.mark.parametrize("threshold", [0.8, 0.86, 0.92])
def test_fuzzy_pairs_equal_the_nested_loop(threshold):
    """The multiset bound only drops pairs that cannot reach the threshold: the same
    pairs in the same order as comparing every pair with difflib."""
    import random

    from dnmarkets.clean.identity import _possible_pairs, _similarity

    rng = random.Random(11)
    stems = ["darkstar", "darknight", "darkside", "greenleaf", "greentree", "sunshine"]
    keys = set()
    for _ in range(400):
        word = rng.choice(stems) + "".join(rng.choices("abcdeéxyz0123", k=rng.randint(0, 5)))
        if rng.random() < 0.4:  # a typo: one character changed, dropped or doubled
            i = rng.randrange(len(word))
            word = word[:i] + rng.choice(["", word[i] * 2, "q"]) + word[i + 1 :]
        keys.add(word)
    keys = sorted(keys)
    blocks: dict[str, list[str]] = {}
    for k in keys:
        blocks.setdefault("^" + k[:4], []).append(k)
        blocks.setdefault("$" + k[-4:], []).append(k)
    seen, got = set(), []
    for block in blocks.values():
        for x, y in _possible_pairs(block, threshold):
            a, b = block[x], block[y]
            if (a, b) not in seen:
                seen.add((a, b))
                if _similarity(a, b) >= threshold:
                    got.append((a, b))
    expected = _fuzzy_pairs_by_the_nested_loop(keys, threshold)
    assert len(expected) > 20  # the planted typos do link
    assert got == expected


def test_account_with_two_aliases_is_merged_and_joins_one_identity():
    # DrWhite7 and DrWhite42 are two vendors; the cleaning's vendor_key puts both on
    # alpha under "drwhite". Through that account's keys dream's DrWhite7 and hansa's
    # DrWhite42 would become one identity.
    listings = pd.DataFrame(
        {
            "market": ["alpha", "alpha", "dream", "hansa"],
            "vendor_key": ["drwhite", "drwhite", "drwhite", "drwhite"],
            "vendor": ["DrWhite7", "DrWhite42", "DrWhite7", "DrWhite42"],
        }
    )
    vendors = listings.assign(pgp_fingerprint=[FP_A, FP_B, FP_A, FP_B])
    table = account_table(listings, vendors)
    forms = table.set_index("market")["alias_forms"].to_dict()
    assert forms == {"alpha": 2, "dream": 1, "hansa": 1}
    r, _ = resolve(table, {})
    # alpha's account joins one of them (a leaf), and does not bridge the two
    assert r["identity"].nunique() == 2
    assert not same(r, ("dream", "drwhite"), ("hansa", "drwhite"))
    # without the rule, all three are one identity
    r, _ = resolve(table.drop(columns="alias_forms"), {})
    assert r["identity"].nunique() == 1


def test_merged_accounts_keys_do_not_vouch_for_a_name_link():
    # dream's DrWhite7 and hansa's DrWhite42 share the stem but not a key; alpha's
    # merged account shows both keys and must not make the variant link look consistent
    r, _ = resolve(
        nodes(
            [
                ("alpha", "drwhite", "DrWhite7", f"{FP_A}|{FP_B}"),
                ("dream", "drwhite", "DrWhite7", FP_A),
                ("hansa", "drwhite", "DrWhite42", FP_B),
            ]
        ).assign(alias_forms=[2, 1, 1]),
        {},
    )
    assert not same(r, ("dream", "drwhite"), ("hansa", "drwhite"))


def test_an_identity_holds_one_account_per_market():
    # alpha's account shows two keys (a renewed key); dream has one account per key,
    # two different vendors: only the first link of alpha to dream is kept
    r, links = resolve(
        nodes(
            [
                ("alpha", "greenowl", "GreenOwl", f"{FP_A}|{FP_B}"),
                ("dream", "bluefox", "BlueFox", FP_A),
                ("dream", "redcat", "RedCat", FP_B),
                ("hansa", "greenowl", "GreenOwl", ""),
            ]
        ),
        {},
    )
    assert not r.duplicated(["identity", "market"]).any()
    assert same(r, ("alpha", "greenowl"), ("dream", "bluefox"))
    assert same(r, ("alpha", "greenowl"), ("hansa", "greenowl"))
    assert not same(r, ("dream", "bluefox"), ("dream", "redcat"))
    assert (~links["used"]).sum() == 1


def _crowded_market(seed: int = 7):
    """Listings, profiles and truth of 120 vendors on eight markets: 72 named from nine
    stems plus a number (as the simulator names vendors once its words run out), 48
    with names of their own. Four in five move to a second market under the same name, a fifth
    of the movers with a new PGP key. The cleaning's vendor_key drops the numbers, so
    vendors of one stem share an account where they sell on the same market."""
    import numpy as np

    from dnmarkets.clean.text import vendor_keys

    rng = np.random.default_rng(seed)
    stems = ["DrWhite", "CandyMan", "GreenOwl", "BlueFox", "SnowKing", "DutchMagic"]
    stems += ["LadyLemon", "TigerKush", "MoonRabbit"]
    own = ["".join(rng.choice(list("bcdfghjklmnpqrstvwxz"), 9)) for _ in range(48)]
    aliases = [f"{stems[v % 9]}{n}" for v, n in enumerate(rng.permutation(200)[:72] + 2)] + own
    markets = ["alpha", "dream", "hansa", "wall", "agora", "evo", "sr2", "cloud"]
    rows = []

    def new_key():
        return "".join(f"{b:02X}" for b in rng.integers(0, 256, 20))

    for v, alias in enumerate(aliases):
        key = new_key()
        home, second = rng.choice(8, size=2, replace=False)
        rows.append((f"u{v}", markets[home], alias, key))
        if rng.random() < 0.8:
            rows.append((f"u{v}", markets[second], alias, new_key() if rng.random() < 0.2 else key))
    truth = pd.DataFrame(rows, columns=["uid", "market", "alias", "pgp_fingerprint"])
    vendors = truth.assign(vendor_key=vendor_keys(truth["alias"]), vendor=truth["alias"])
    return vendors[["market", "vendor_key", "vendor"]], vendors, truth


def test_crowded_aliases_keep_vendors_apart_and_movers_linked():
    from dnmarkets.clean.identity import _UnionFind, candidate_links

    listings, vendors, truth = _crowded_market()
    table = account_table(listings, vendors).sort_values(["market", "vendor_key"])
    table = table.reset_index(drop=True)
    assert (table["alias_forms"] > 1).sum() > 5  # the stems do collide within markets
    r, _ = resolve(table, {})
    scores = pairwise_scores(r, truth_uids(r, truth))
    assert scores["true_pairs"] > 20
    assert scores["precision"] >= 0.95 and scores["recall"] >= 0.9
    # every candidate link taken, merged accounts included: distinct vendors chain
    uf = _UnionFind(len(table))
    links = candidate_links(table.drop(columns="alias_forms"), {})
    for a, b in links[["a", "b"]].itertuples(index=False):
        uf.union(a, b)
    chained = table.assign(identity=[uf.find(i) for i in range(len(table))])
    assert pairwise_scores(chained, truth_uids(chained, truth))["precision"] < 0.8
