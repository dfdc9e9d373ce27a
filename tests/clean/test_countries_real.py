"""Ships-from/ships-to normalisation on every distinct value of the real files.

Every distinct raw value of Agora's ``from``/``to`` and Dream's ``ships_from``/
``ships_to``/``ships_from_to`` must map to a country, a region, a list or an
explicit unknown with a reason: no fallback (``UNMAPPED_REASONS``) and no
fuzzy guess, not even for one item of a list. The real files are read once per
session (only the needed columns) and reduced to distinct values with counts.
"""

from __future__ import annotations

import glob
import time

import pandas as pd
import pytest

from dnmarkets.clean import countries
from dnmarkets.clean.countries import (
    MULTI,
    REGION_CODES,
    TRUNCATION_COLUMNS,
    UNKNOWN,
    UNMAPPED_REASONS,
    explain_country,
    normalise_countries,
    resolve_truncations,
    split_route,
)

AGORA_GLOB = "agora-2014-2015/listings/*.csv.gz"
DREAM = "dream-2017-07/dream_market_cocaine_listings.csv.gz"
DATE = "2015-01-01"  # EU membership is the same over 2014-2017 for every code seen
# Agora rows whose ships-from is UNK, measured over all 2,805,212 rows: 24.85%
# (points: 16.60 empty field, 4.20 "Internet" (digital delivery), 3.52 "rland"
# (Torland), 0.16 other non-places ("Agora", "Me" ...), 0.32 undeclared, 0.05 the rest).
AGORA_FROM_UNK_MEASURED = 0.2485
AGORA_FROM_UNK_MARGIN = 0.01


@pytest.fixture(scope="session")
def agora(mirror) -> dict[str, object]:
    """Agora: the 2.8 M ``from`` values, distinct ``to`` values and (vendor, from) pairs."""
    files = sorted(glob.glob(str(mirror / AGORA_GLOB)))
    assert len(files) == 201, f"expected 201 Agora listing files, found {len(files)}"
    frame = pd.concat(
        [
            pd.read_csv(f, dtype=str, keep_default_na=False, usecols=["from", "to", "vendor"])
            for f in files
        ],
        ignore_index=True,
    )
    pairs = frame.groupby(["vendor", "from"], sort=False).size().rename("rows").reset_index()
    return {
        "from": frame["from"],
        "to": frame["to"].value_counts(),
        "pairs": pairs,
    }


@pytest.fixture(scope="session")
def dream(mirror) -> pd.DataFrame:
    cols = ["ships_from", "ships_to", "ships_from_to"]
    return pd.read_csv(mirror / DREAM, dtype=str, keep_default_na=False, usecols=cols)


@pytest.fixture(scope="session")
def real_values(agora, dream) -> pd.DataFrame:
    """Distinct raw values per source column with row counts and their mapping."""
    sources = {
        "agora.from": agora["from"].value_counts(),
        "agora.to": agora["to"],
        **{f"dream.{col}": dream[col].value_counts() for col in dream.columns},
    }
    values = pd.concat(
        [
            pd.DataFrame({"column": name, "raw": counts.index.astype(str), "rows": counts.values})
            for name, counts in sources.items()
        ],
        ignore_index=True,
    )
    mapped = normalise_countries(values["raw"], DATE)
    return pd.concat([values, mapped], axis=1)


def _kind(row) -> str:
    if row.code == UNKNOWN:
        return f"UNK {row.reason}"
    if row.code == MULTI:
        return "multi"
    return "region" if row.code in REGION_CODES else "country"


# --------------------------------------------------------------------------- (1) coverage


def test_every_real_value_is_mapped_without_fallback_or_guess(real_values):
    problems = []
    for row in real_values.itertuples(index=False):
        if row.reason in UNMAPPED_REASONS:
            problems.append(f"{row.column}: {row.raw!r} -> {row.code} ({row.reason})")
        elif row.code == UNKNOWN and not (isinstance(row.reason, str) and row.reason):
            problems.append(f"{row.column}: {row.raw!r} -> UNK without a reason")
        guessed = [s for s in explain_country(row.raw) if s.method in {"fuzzy", "unmatched"}]
        if guessed:
            problems.append(f"{row.column}: {row.raw!r} relies on {guessed}")
    assert not problems, "real values without a curated mapping:\n" + "\n".join(problems)
    # every distinct value of the five columns was enumerated
    sizes = real_values.groupby("column").size().to_dict()
    assert sizes == {
        "agora.from": 379,
        "agora.to": 523,
        "dream.ships_from": 17,
        "dream.ships_to": 31,
        "dream.ships_from_to": 57,
    }
    summary = real_values.assign(kind=[_kind(r) for r in real_values.itertuples()])
    print("\n" + summary.groupby(["column", "kind"]).size().unstack(0).fillna(0).to_string())


def test_dream_routes_split_into_origin_and_destination(dream):
    distinct = dream[["ships_from", "ships_to", "ships_from_to"]].drop_duplicates()
    for origin, destination, route in distinct.itertuples(index=False, name=None):
        assert split_route(origin) is None and split_route(destination) is None
        assert split_route(route) == (origin, destination)
        whole = countries.normalise_country(route, DATE)
        assert whole.method == "route"
        assert whole.code == countries.normalise_country(origin, DATE).code
        for side in (origin, destination):
            result = countries.normalise_country(side, DATE)
            assert result.reason not in UNMAPPED_REASONS, (route, side)
            assert all(s.method != "fuzzy" for s in explain_country(side)), (route, side)


# --------------------------------------------------------------------------- (2) spot checks


@pytest.mark.parametrize(
    ("column", "raw", "code", "detail"),
    [
        ("agora.from", "USA", "US", None),
        ("agora.from", "TheUnitedSnakesofCaptivity", "US", "joke seen on Agora"),
        ("agora.to", "maulofamerica", "US", "joke"),
        ("agora.from", "UntiedKingdom", "GB", "typo (Agora)"),
        ("agora.from", "Americana", "US", "variant of America (Agora)"),
        ("agora.from", '<imgclass="flag-img"src="/images/flag/w13/USA.png"/>USA', "US", None),
        ("agora.from", '<imgsrc="/images/flag/w13/POL.png"class="flag-img"/', "PL", None),
        ("agora.from", "EU", "EU", None),
        ("agora.from", "Europe", "EUROPE", None),
        ("agora.from", "EUexceptSweden,Norway,Finland", "EU", None),
        ("agora.from", "WorldwideexceptUSA/Israel/NL", "WW", None),
        ("agora.from", "Moldova,Republicof", "MD", None),  # a name with a comma, not a list
        ("agora.from", "Swaziland", "SZ", None),
        ("agora.to", "Internationa", "WW", "truncated International (unambiguous)"),
        ("agora.to", "europ", "EUROPE", "truncated Europe (unambiguous)"),
        ("agora.from", "", UNKNOWN, "empty"),
        ("agora.from", "rland", UNKNOWN, "not_a_place: Torland"),
        ("agora.from", "torland", UNKNOWN, "not_a_place: Tor network"),
        ("agora.from", "u", UNKNOWN, "truncated_ambiguous"),
        ("agora.from", "Undeclared;)", UNKNOWN, "undeclared"),
        ("agora.from", "Undelcared;)", UNKNOWN, "undeclared"),
        ("agora.from", "Internet", UNKNOWN, "not_a_place: digital delivery"),
        ("agora.from", "Agora", UNKNOWN, "not_a_place"),
        ("agora.from", "TheHumanRace", UNKNOWN, "joke: people not places"),
        ("agora.from", "NetherlandsAntilles", UNKNOWN, "historical entity"),
        ("agora.to", "NOTSHIPPINGTOUS", UNKNOWN, "restriction_only"),
        ("agora.to", "YourInbox", UNKNOWN, "not_a_place: digital delivery"),
        ("agora.to", "domestic", UNKNOWN, "relative: the vendor's own country"),
        ("dream.ships_from", "GB", "GB", None),
        ("dream.ships_from", "WW", "WW", None),
        ("dream.ships_from_to", "NL  → EU", "NL", None),
    ],
)
def test_tricky_real_values(real_values, column, raw, code, detail):
    row = real_values[(real_values["column"] == column) & (real_values["raw"] == raw)]
    assert len(row) == 1, f"{raw!r} is not a value of {column}"
    assert row["code"].iloc[0] == code
    if code == UNKNOWN:
        assert row["reason"].iloc[0].startswith(detail)
    elif detail:  # the alias note says why (a joke, a typo ...)
        assert any(s.note == detail for s in explain_country(raw)), explain_country(raw)


@pytest.mark.parametrize(
    ("column", "raw", "codes"),
    [
        ("agora.from", "UK,USA,Philippines", ("GB", "US", "PH")),
        ("agora.from", "USA,UKandPhilippines", ("US", "GB", "PH")),
        ("agora.from", "ChinaorEU", ("CN", "EU")),
        ("agora.from", "EU,CH,Scandinavia", ("EU", "CH", "EUROPE")),
        ("agora.from", "USA,Europe,Canada,Phillipines", ("US", "EUROPE", "CA", "PH")),
        ("agora.from", "EU,USA,Cancada", ("EU", "US", "CA")),
        ("agora.to", "UKEUROPE", ("GB", "EUROPE")),
        ("agora.to", "UKandEU", ("GB", "EU")),
        ("dream.ships_to", "N. America, WW", ("NA", "WW")),
        ("dream.ships_to", "GB, IE", ("GB", "IE")),
    ],
)
def test_real_lists_are_multi(real_values, column, raw, codes):
    row = real_values[(real_values["column"] == column) & (real_values["raw"] == raw)]
    assert len(row) == 1, f"{raw!r} is not a value of {column}"
    assert row["code"].iloc[0] == MULTI
    assert tuple(row["codes"].iloc[0].split(",")) == codes


# --------------------------------------------------------------------------- (3) truncations


def test_resolve_truncations_on_a_small_frame():
    frame = pd.DataFrame(
        [
            # vendor a: "u" fits only "UK" among a's other values -> GB
            ("a", "u", "2017-06-01"),
            ("a", "UK", "2017-06-01"),
            ("a", "World", "2017-06-01"),
            # vendor b: "UK" starts and "EU" ends with "u" -> undecided
            ("b", "u", "2017-06-01"),
            ("b", "UK", "2017-06-01"),
            ("b", "EU", "2017-06-01"),
            # vendor c: nothing consistent with "u"; a list is no candidate
            ("c", "u", "2017-06-01"),
            ("c", "Germany", "2017-06-01"),
            ("c", "UK,USA", "2017-06-01"),
            # vendor d: the key ignores HTML: the flag image of USA fits "u"
            ("d", "u", "2017-06-01"),
            ("d", '<imgclass="flag-img"src="/images/flag/w13/USA.png"/>USA', "2017-06-01"),
            # vendor e: "rland" is Torland, explained, not truncated: untouched
            ("e", "rland", "2017-06-01"),
            ("e", "Switzerland", "2017-06-01"),
            # vendor f: the date sets the EU membership of the settled code
            ("f", "u", "2021-06-01"),
            ("f", "uk", "2021-06-01"),
        ],
        columns=["vendor_name", "ships_from", "day"],
        index=pd.RangeIndex(100, 115),
    )
    out = resolve_truncations(frame, "ships_from", "vendor_name", date_col="day")
    assert list(out.columns) == TRUNCATION_COLUMNS
    assert out.index.equals(frame.index)
    got = out[["code", "method", "resolved_from_vendor", "vendor_candidates"]]
    assert got.loc[100].tolist() == ["GB", "vendor_listings", True, "GB"]
    assert pd.isna(out.loc[100, "reason"]) and out.loc[100, "region"] == "EU"
    assert got.loc[103].tolist() == [UNKNOWN, "alias", False, "EU,GB"]
    assert out.loc[103, "reason"] == "truncated_ambiguous"
    assert got.loc[106].tolist() == [UNKNOWN, "alias", False, ""]
    assert got.loc[109].tolist() == ["US", "vendor_listings", True, "US"]
    assert got.loc[111].tolist() == [UNKNOWN, "alias", False, ""]
    assert out.loc[111, "reason"].startswith("not_a_place: Torland")
    assert (out.loc[113, "code"], out.loc[113, "region"], out.loc[113, "eu"]) == (
        "GB",
        "Europe (non-EU)",
        False,
    )
    # rows that were not truncated are exactly what normalise_countries gives
    plain = normalise_countries(frame["ships_from"], frame["day"].to_numpy())
    untouched = ~out["resolved_from_vendor"]
    assert out.loc[untouched, plain.columns].equals(plain.loc[untouched])
    assert (out.loc[untouched, "vendor_candidates"] != "").sum() == 1  # row 103 only


def test_resolve_truncations_on_real_agora(agora):
    pairs = agora["pairs"]
    # one row per distinct (vendor, value): the rule only looks at the set of a
    # vendor's values, so this equals the row-level result, weighted by `rows`
    out = resolve_truncations(pairs, "from", "vendor")
    truncated = out["vendor_candidates"].ne("") | out["reason"].eq("truncated_ambiguous")
    truncated |= out["resolved_from_vendor"]
    cases = pairs[truncated].join(out[truncated])
    print("\ntruncated Agora ships-from values:")
    print(cases[["vendor", "from", "rows", "code", "vendor_candidates"]].to_string(index=False))
    resolved_rows = int(pairs.loc[out["resolved_from_vendor"], "rows"].sum())
    print(f"rows settled by the vendor's other listings: {resolved_rows}")
    # the only truncated value is USAVE's "u" (26 rows, 2015-06): USAVE also ships
    # from "UK" and "EU", so the listings do not decide and the rows stay UNK
    assert cases[["vendor", "from", "rows"]].values.tolist() == [["USAVE", "u", 26]]
    assert cases["vendor_candidates"].tolist() == ["EU,GB"]
    assert resolved_rows == 0
    # "rland" (Torland) is not treated as truncated even where the vendor also
    # ships from "Switzerland" (Citra-EVO's rland listings are hacking tutorials)
    citra = pairs["vendor"].eq("Citra-EVO") & pairs["from"].eq("rland")
    assert out.loc[citra, "code"].tolist() == [UNKNOWN]
    assert not out.loc[citra, "resolved_from_vendor"].any()


# --------------------------------------------------------------------------- (4) row share


def test_share_of_agora_rows_with_unknown_origin(real_values):
    agora = real_values[real_values["column"] == "agora.from"]
    total = agora["rows"].sum()
    unknown = agora[agora["code"] == UNKNOWN]
    share = unknown["rows"].sum() / total
    by_reason = (unknown.groupby("reason")["rows"].sum() / total).sort_values(ascending=False)
    print(f"\nAgora rows with ships-from UNK: {share:.2%} of {total:,}")
    print((by_reason * 100).round(2).to_string())
    assert total == 2_805_212
    assert share < AGORA_FROM_UNK_MEASURED + AGORA_FROM_UNK_MARGIN


def test_vectorised_mapping_of_all_agora_rows_is_fast(agora):
    values = agora["from"]
    countries._resolve.cache_clear()  # time the cold path: every distinct value resolved
    start = time.perf_counter()
    table = normalise_countries(values, DATE)
    seconds = time.perf_counter() - start
    print(f"\nnormalise_countries on {len(values):,} Agora ships-from values: {seconds:.2f} s")
    assert len(table) == len(values) and table.index.equals(values.index)
    assert seconds < 15
