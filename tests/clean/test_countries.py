"""Ships-from / ships-to normalisation, EU membership by date, vectorised mapping."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnmarkets.clean import countries
from dnmarkets.clean.countries import (
    MULTI,
    REGION_CODES,
    REGION_LABELS,
    UNKNOWN,
    CountryResult,
    eu_member,
    iso_table,
    normalise_countries,
    normalise_country,
    region_label,
    resolve_truncations,
)

D2017 = dt.date(2017, 6, 1)

# raw text, code, region on 2017-06-01, method
CASES = [
    ("Germany", "DE", "EU", "name"),
    ("germany", "DE", "EU", "name"),
    ("  GERMANY ", "DE", "EU", "name"),
    ("DE", "DE", "EU", "code"),
    ("Deutschland", "DE", "EU", "alias"),
    ("GER", "DE", "EU", "alias"),
    ("DEU", "DE", "EU", "alias"),
    ("Germnay", "DE", "EU", "fuzzy"),
    ("UK", "GB", "EU", "alias"),
    ("U.K.", "GB", "EU", "alias"),
    ("uk", "GB", "EU", "alias"),
    ("England", "GB", "EU", "alias"),
    ("Great Britain", "GB", "EU", "alias"),
    ("United Kingdom", "GB", "EU", "name"),
    ("UnitedKingdom", "GB", "EU", "name"),
    ("UntiedKingdom", "GB", "EU", "alias"),  # seen on Agora: curated typo
    ("UnitedKingdon", "GB", "EU", "fuzzy"),
    ("USA", "US", "North America", "alias"),
    ("US", "US", "North America", "alias"),
    ("usa", "US", "North America", "alias"),
    ("America", "US", "North America", "alias"),
    ("United States of America", "US", "North America", "alias"),
    ("UnitedStates", "US", "North America", "name"),
    ("USAonly", "US", "North America", "alias"),
    ("TheUnitedSnakesofCaptivity", "US", "North America", "alias"),
    ('<imgclass="flag-img"src="/images/flag/w13/USA.png"/>USA', "US", "North America", "alias"),
    ("Holland", "NL", "EU", "alias"),
    ("The Netherlands", "NL", "EU", "alias"),
    ("TheNetherlands", "NL", "EU", "alias"),
    ("Nederland", "NL", "EU", "alias"),
    ("Netherlands", "NL", "EU", "name"),
    ("Österreich", "AT", "EU", "alias"),
    ("Oesterreich", "AT", "EU", "alias"),
    ("España", "ES", "EU", "alias"),
    ("CzechRepublic", "CZ", "EU", "alias"),
    ("Czechia", "CZ", "EU", "name"),
    ("Sverige", "SE", "EU", "alias"),
    ("Schweiz", "CH", "Europe (non-EU)", "alias"),
    ("Switzerland", "CH", "Europe (non-EU)", "name"),
    ("Norway", "NO", "Europe (non-EU)", "name"),
    ("Russian Federation", "RU", "Europe (non-EU)", "alias"),
    ("Canada", "CA", "North America", "name"),
    ("China", "CN", "Asia", "name"),
    ("HongKong", "HK", "Asia", "name"),
    ("Hong Kong", "HK", "Asia", "name"),
    ("India", "IN", "Asia", "name"),
    ("Australia", "AU", "Oceania", "name"),
    ("AUS", "AU", "Oceania", "alias"),
    ("NewZealand", "NZ", "Oceania", "name"),
    ("SouthAfrica", "ZA", "Africa", "name"),
    ("Colombia", "CO", "South America", "name"),
    ("Bangkok", "TH", "Asia", "alias"),
    ("Côte d'Ivoire", "CI", "Africa", "name"),
    ("Saint Vincent and the Grenadines", "VC", "North America", "name"),
    ("SaintVincentandtheGrenadines", "VC", "North America", "name"),
    ("Bosnia and Herzegovina", "BA", "Europe (non-EU)", "name"),
    ("EU", "EU", "EU", "alias"),
    ("European Union", "EU", "EU", "alias"),
    ("EUexceptSweden,Norway,Finland", "EU", "EU", "prefix"),
    ("Europe", "EUROPE", "Europe (unspecified)", "alias"),
    ("EUROPA", "EUROPE", "Europe (unspecified)", "alias"),
    ("Worldwide", "WW", "Worldwide", "alias"),
    ("WORLDWIDE", "WW", "Worldwide", "alias"),
    ("World", "WW", "Worldwide", "alias"),
    ("WorldwideexceptUSA/Israel/NL", "WW", "Worldwide", "prefix"),
    ("Worldwide (except Australia)", "WW", "Worldwide", "prefix"),
    ("Wordwide", "WW", "Worldwide", "prefix"),
    ("North America", "NA", "North America", "alias"),
    ("Namibia", "NA", "Africa", "name"),
    ("Asia", "ASIA", "Asia", "alias"),
]


@pytest.mark.parametrize(("raw", "code", "region", "method"), CASES)
def test_variants(raw, code, region, method):
    result = normalise_country(raw, D2017)
    assert (result.code, result.region, result.method) == (code, region, method)
    assert result.reason is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty"),
        ("", "empty"),
        ("   ", "empty"),
        ("!!", "empty"),
        (float("nan"), "empty"),
        ("Undeclared;)", "undeclared"),
        ("undeclared", "undeclared"),
        ("Internet", "not_a_place: digital delivery"),
        ("Me", "not_a_place"),
        ("rland", 'not_a_place: Torland (Tor network) with "To" deleted by the parser'),
        ("u", "truncated_ambiguous"),
        ("N/A", "not_available"),
        ("NA", "not_available"),
        ("SA", "ambiguous_code"),
        ("AF", "ambiguous_code"),
        ("bluerave", "not_a_place: vendor slogan"),
        ("TheHomeoftheBodyBags,shotty,andMacmake-up", "joke"),
        ("NOTSHIPPINGTOUS", "restriction_only: says where not to ship"),
        ("YouTube", "not_a_place: digital service"),
        ("Blorptania", "unmatched"),
        ("Germ", "unmatched"),  # too short for the fuzzy step
        ("Austrai", "ambiguous_fuzzy"),  # Australia or Austria?
        ("de", "unmatched"),  # lower-case two letters are not taken as a code
    ],
)
def test_unknown_with_reason(raw, reason):
    result = normalise_country(raw, D2017)
    assert result.code == UNKNOWN
    assert result.region == "Unknown"
    assert result.reason == reason
    assert result.eu is None


@pytest.mark.parametrize(
    ("raw", "codes"),
    [
        ("EUAUSUSA", ("EU", "AU", "US")),
        ("UKEU", ("GB", "EU")),
        ("UK/ROI", ("GB", "IE")),
    ],
)
def test_lists_written_without_separators_are_aliases(raw, codes):
    result = normalise_country(raw, D2017)
    assert (result.code, result.method, result.codes) == (MULTI, "alias", codes)


@pytest.mark.parametrize(
    ("raw", "codes", "region_2017", "eu_2017"),
    [
        ("UK, Ireland", ("GB", "IE"), "EU", True),
        ("UKandIreland", ("GB", "IE"), "EU", True),
        ("Germany / Netherlands", ("DE", "NL"), "EU", True),
        ("UK,USA,Philippines", ("GB", "US", "PH"), "Multiple", None),
        ("USA,UKandPhilippines", ("US", "GB", "PH"), "Multiple", None),
        ("USA&Mexico", ("US", "MX"), "Multiple", False),
        ("Switzerland, Norway", ("CH", "NO"), "Multiple", False),
        ("ChinaorEU", ("CN", "EU"), "Multiple", None),
        ("Uk,USA&Worldwide", ("GB", "US", "WW"), "Multiple", None),
        ("Germany, fast shipping", ("DE", UNKNOWN), "Multiple", None),
    ],
)
def test_lists_become_multi(raw, codes, region_2017, eu_2017):
    """Lists split on separators ("and", "&", ",", ...)."""
    result = normalise_country(raw, D2017)
    assert result.code == MULTI
    assert result.method == "list"
    assert result.codes == codes
    assert result.region == region_2017
    assert result.eu is eu_2017


def test_list_of_one_country_is_that_country():
    result = normalise_country("UK, England", D2017)
    assert (result.code, result.method, result.codes) == ("GB", "list", ("GB",))


def test_partial_list_has_reason():
    assert normalise_country("Germany, fast shipping", D2017).reason == "partial_list"


def test_all_eu_list_depends_on_date():
    # the UK left: "UK, Ireland" is an EU list in 2017 and a mixed one in 2021
    assert normalise_country("UK, Ireland", "2017-06-01").region == "EU"
    later = normalise_country("UK, Ireland", "2021-06-01")
    assert (later.region, later.eu) == ("Multiple", None)


@pytest.mark.parametrize(
    ("code", "date", "member"),
    [
        ("GB", "2020-01-30", True),
        ("GB", "2020-01-31", True),
        ("GB", "2020-02-01", False),
        ("GB", "1972-12-31", False),
        ("GB", "1973-01-01", True),
        ("HR", "2013-06-30", False),
        ("HR", "2013-07-01", True),
        ("PL", "2004-04-30", False),
        ("PL", "2004-05-01", True),
        ("RO", "2006-12-31", False),
        ("RO", "2007-01-01", True),
        ("DE", "2017-06-01", True),
        ("CH", "2017-06-01", False),
        ("US", "2017-06-01", False),
        ("EU", "2017-06-01", True),
        ("NA", "2017-06-01", False),
        ("WW", "2017-06-01", None),
        ("EUROPE", "2017-06-01", None),
        ("UNK", "2017-06-01", None),
        ("XX", "2017-06-01", None),
        ("", "2017-06-01", None),
    ],
)
def test_eu_member(code, date, member):
    assert eu_member(code, dt.date.fromisoformat(date)) is member


def test_uk_region_label_changes_after_brexit():
    assert normalise_country("UK", "2020-01-31").region == "EU"
    after = normalise_country("UK", "2020-02-01")
    assert (after.code, after.region, after.eu) == ("GB", "Europe (non-EU)", False)
    assert region_label("GB", "2021-03-01") == "Europe (non-EU)"
    assert region_label("GB", "2019-03-01") == "EU"
    assert normalise_country("UK").region == "Europe (non-EU)"  # no date: latest membership


def test_eu28_in_2017_and_eu27_in_2021():
    eu28 = "AT BE BG CY CZ DE DK EE ES FI FR GB GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"
    eu28 = eu28.split()
    assert len(eu28) == 28
    assert all(eu_member(c, D2017) for c in eu28)
    members_2021 = [c for c in eu28 if eu_member(c, dt.date(2021, 1, 1))]
    assert sorted(set(eu28) - set(members_2021)) == ["GB"]
    assert not eu_member("NO", D2017) and not eu_member("TR", D2017)


def test_iso_table_is_complete_and_consistent():
    table = iso_table()
    assert len(table) >= 249
    assert table["alpha2"].is_unique
    assert table["alpha2"].str.fullmatch(r"[A-Z]{2}").all()
    assert set(table["region"]) <= {
        "Europe",
        "North America",
        "South America",
        "Asia",
        "Oceania",
        "Africa",
        "Antarctica",
    }
    joined = table.dropna(subset=["eu_joined"])
    left = joined.dropna(subset=["eu_left"])
    assert (left["eu_left"] > left["eu_joined"]).all()
    # every country name resolves to its own code
    for alpha2, name in zip(table["alpha2"], table["name"], strict=True):
        assert normalise_country(name, D2017).code == alpha2, name


def test_vectorised_matches_scalar_and_keeps_index():
    raw = [r for r, *_ in CASES] + ["UK, Ireland", "", None, "Undeclared;)"]
    series = pd.Series(raw, index=np.arange(100, 100 + len(raw)), dtype=object)
    table = normalise_countries(series, D2017)
    assert list(table.columns) == ["code", "region", "method", "reason", "codes", "eu"]
    assert table.index.equals(series.index)
    assert str(table["code"].dtype) == "str" and str(table["eu"].dtype) == "boolean"
    for value, row in zip(raw, table.itertuples(index=False), strict=True):
        expected = normalise_country(value, D2017)
        assert row.code == expected.code and row.region == expected.region
        assert (row.eu if row.eu is not pd.NA else None) == expected.eu


def test_vectorised_with_row_dates():
    series = pd.Series(["UK", "UK", "Germany", "UK"])
    dates = [dt.date(2020, 1, 31), dt.date(2020, 2, 1), dt.date(2020, 2, 1), None]
    table = normalise_countries(series, dates)
    assert table["region"].tolist() == ["EU", "Europe (non-EU)", "EU", "Europe (non-EU)"]
    assert table["eu"].tolist() == [True, False, True, False]


def test_vectorised_on_both_sides_of_every_eu_membership_change():
    """The vectorised form resolves a text once per period without a membership change:
    the same results as one call per row, on the day before and on the day of every
    change (joins, the day after a leave)."""
    changes = countries._tables().eu_changes
    days = [d + dt.timedelta(days=k) for d in changes for k in (-1, 0)] + [None]
    places = [*countries.iso_table()["alpha2"], "EU", "Europe", "UK, Ireland", "Croatia, USA"]
    values = pd.Series([p for p in places for _ in days])
    dates = [d for _ in places for d in days]
    table = normalise_countries(values, dates)
    for value, date, row in zip(values, dates, table.itertuples(index=False), strict=True):
        expected = normalise_country(value, date)
        assert (row.code, row.region) == (expected.code, expected.region), (value, date)
        assert (None if row.eu is pd.NA else row.eu) == expected.eu, (value, date)


@pytest.mark.parametrize(
    "days", [["2014-01-02", "2014-03-01"], ["2020-01-31", "2020-02-01"], ["2020-02-01", "NaT"]]
)
def test_vectorised_with_datetime64_days(days):
    values = pd.Series(["UK", "Germany", "UK, Germany", "USA"] * len(days))
    dates = np.repeat(np.array(days, dtype="datetime64[s]"), 4)
    table = normalise_countries(values, dates)
    expected = normalise_countries(values, [None if pd.isna(d) else d for d in dates.tolist()])
    pd.testing.assert_frame_equal(table, expected, check_exact=True)


def test_vectorised_resolves_each_distinct_value_once(monkeypatch):
    calls = []
    original = countries._resolve.__wrapped__

    def counting(raw):
        calls.append(raw)
        return original(raw)

    monkeypatch.setattr(countries, "_resolve", counting)
    series = pd.Series(np.tile(["Germany", "UK, Ireland", "xyz"], 100_000))
    table = normalise_countries(series, D2017)
    assert len(table) == 300_000
    assert sorted(calls) == sorted(["Germany", "UK, Ireland", "xyz"])
    assert table["code"].value_counts().to_dict() == {
        "DE": 100_000,
        MULTI: 100_000,
        UNKNOWN: 100_000,
    }


VALID_CODES = set(iso_table()["alpha2"]) | set(REGION_CODES) | {MULTI, UNKNOWN}


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.dates(min_value=dt.date(1950, 1, 1)) | st.none())
def test_never_raises_and_returns_documented_types(raw, date):
    result = normalise_country(raw, date)
    assert isinstance(result, CountryResult)
    assert result.code in VALID_CODES
    assert result.region in REGION_LABELS
    assert result.eu in (True, False, None)
    assert (result.reason is not None) == (
        result.code == UNKNOWN or result.reason == "partial_list"
    )
    if result.code == MULTI:
        assert len(result.codes) >= 2
    if result.code == UNKNOWN:
        assert result.codes == ()


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20), max_size=20)
)
def test_vectorised_equals_scalar_on_arbitrary_text(values):
    table = normalise_countries(pd.Series(values, dtype=object), D2017)
    assert table["code"].tolist() == [normalise_country(v, D2017).code for v in values]


def test_truncated_origin_settled_by_the_vendors_other_listings():
    raw = pd.Series(["u", "USA", "USA", "u", "UK", "EU", "u", "Germany"])
    vendor = pd.Series(["a", "a", "a", "b", "b", "b", "c", "c"])
    result = resolve_truncations(raw, vendor, normalise_countries(raw, [D2017] * 8))
    # a: only "USA" starts or ends with "u" -> US, and the method says how
    assert (result.loc[0, "code"], result.loc[0, "method"]) == ("US", "vendor_listings")
    assert pd.isna(result.loc[0, "reason"])
    # b: "UK" starts and "EU" ends with "u": ambiguous, stays unknown with its reason
    assert (result.loc[3, "code"], result.loc[3, "reason"]) == (UNKNOWN, "truncated_ambiguous")
    # c: nothing consistent with "u"
    assert result.loc[6, "code"] == UNKNOWN
    # other rows untouched
    assert result.drop(index=[0]).equals(normalise_countries(raw, [D2017] * 8).drop(index=[0]))


def test_vectorised_settles_truncations_as_resolve_truncations():
    raw = pd.Series(["u", "USA", "USA", "u", "UK", "EU", "u", "Germany"], index=range(10, 18))
    vendor = pd.Series(["a", "a", "a", "b", "b", "b", "c", "c"], index=range(20, 28))
    dates = [D2017, D2017, D2017, None, D2017, D2017, D2017, dt.date(2021, 1, 1)]
    expected = resolve_truncations(raw, vendor, normalise_countries(raw, dates), dates)
    settled = normalise_countries(raw, dates, vendors=vendor)
    pd.testing.assert_frame_equal(settled, expected, check_exact=True)
    assert settled["method"].tolist()[0] == "vendor_listings"
    # only the columns asked for, in the usual order
    some = normalise_countries(raw, dates, vendors=vendor, columns=["eu", "code"])
    pd.testing.assert_frame_equal(some, expected[["code", "eu"]], check_exact=True)


def test_list_item_written_as_a_separator_less_alias_is_expanded():
    # "UKEU" is the alias MULTI:GB+EU; as one item of a list it used to raise KeyError
    result = normalise_country("UKEU, Asia", D2017)
    assert (result.code, result.codes, result.reason) == (MULTI, ("GB", "EU", "ASIA"), None)


@pytest.mark.parametrize(
    ("raw", "route", "code", "codes"),
    [
        ("NL  → EU", ("NL", "EU"), "NL", ("NL",)),
        ("DE → WW, DE", ("DE", "WW, DE"), "DE", ("DE",)),
        ("UK -> worldwide", ("UK", "worldwide"), "GB", ("GB",)),
        ("UK, Ireland → EU", ("UK, Ireland", "EU"), MULTI, ("GB", "IE")),
        (" → EU", ("", "EU"), UNKNOWN, ()),
    ],
)
def test_route_stands_for_its_origin(raw, route, code, codes):
    assert countries.split_route(raw) == route
    result = normalise_country(raw, D2017)
    assert (result.code, result.codes) == (code, codes)
    assert result.method == ("empty" if code == UNKNOWN else "route")


def test_split_route_of_plain_text_is_none():
    assert countries.split_route("NL") is None
    assert countries.split_route("") is None
    assert countries.split_route(None) is None


def test_explain_country_shows_alias_notes_and_guesses():
    (step,) = countries.explain_country("TheUnitedSnakesofCaptivity")
    assert (step.code, step.method, step.note) == ("US", "alias", "joke seen on Agora")
    steps = countries.explain_country("UK, Germnay")
    assert [(s.text, s.code, s.method) for s in steps] == [
        ("UK", "GB", "alias"),
        ("Germnay", "DE", "fuzzy"),
    ]
    assert countries.explain_country(None)[0].method == "empty"
    assert countries.explain_country("Blorptania")[0].method == "unmatched"


def test_unmapped_reasons_are_the_fallbacks():
    assert countries.UNMAPPED_REASONS == {"unmatched", "ambiguous_fuzzy", "partial_list"}
    for raw in ("Blorptania", "Austrai", "Germany, fast shipping"):
        assert normalise_country(raw).reason in countries.UNMAPPED_REASONS
    for raw in ("", "Internet", "u", "Undeclared;)"):
        assert normalise_country(raw).reason not in countries.UNMAPPED_REASONS


def test_resolve_truncations_frame_form_regions_and_no_dates():
    frame = pd.DataFrame(
        {"v": ["x", "x", "y", "y"], "from": ["u", "E.U.", "u", "Europe"]},
        index=["r1", "r2", "r3", "r4"],
    )
    out = resolve_truncations(frame, "from", "v")
    assert out.index.tolist() == ["r1", "r2", "r3", "r4"]
    # a region is a candidate too; no date: the latest membership
    assert (out.loc["r1", "code"], out.loc["r1", "region"]) == ("EU", "EU")
    assert out.loc["r1", "eu"] and out.loc["r1", "vendor_candidates"] == "EU"
    assert out["resolved_from_vendor"].tolist() == [True, False, False, False]
    assert out.loc["r3", "code"] == UNKNOWN  # "europe" neither starts nor ends with "u"
    assert out["resolved_from_vendor"].dtype == bool


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=20))
def test_text_key_shortcut_gives_the_full_key(text):
    # the ASCII shortcut (no entity, tag or accent) gives the key of the full procedure
    import html
    import unicodedata

    full = countries._TAG_RE.sub(" ", html.unescape(text))
    full = unicodedata.normalize("NFKD", full)
    full = "".join(ch for ch in full if not unicodedata.combining(ch)).casefold()
    assert countries.text_key(text) == countries._NON_ALNUM_RE.sub("", full)
