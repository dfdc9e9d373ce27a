"""Category paths and titles -> drug taxonomy."""

from __future__ import annotations

import pandas as pd
import pytest

from dnmarkets.clean.categories import (
    TAXONOMY,
    categorise,
    categorise_codes,
    categorise_many,
    load_rules,
    normalise_path,
)

PATHS = [
    # sim-style paths
    ("Drugs & Chemicals/Cannabis & Hashish/Weed", "cannabis"),
    ("Drugs/Cannabis/Buds & Flowers", "cannabis"),
    ("Drugs/Opioids/Fentanyl", "opioids"),
    ("Fraud/Accounts", "non_drug"),
    ("Digital Goods/E-Books", "non_drug"),
    ("Drugs/Benzos", "prescription"),
    ("Drugs/RCs", "nps"),
    # Agora paths
    ("Drugs/Cannabis/Weed", "cannabis"),
    ("Drugs/Cannabis/Hash", "cannabis"),
    ("Drugs/Cannabis/Concentrates", "cannabis"),
    ("Drugs/Cannabis/Edibles", "cannabis"),
    ("Drugs/Cannabis/Seeds", "cannabis"),
    ("Drugs/Cannabis/Synthetics", "nps"),
    ("Drugs/Stimulants/Cocaine", "cocaine"),
    ("Drugs/Stimulants/Speed", "stimulants"),
    ("Drugs/Stimulants/Meth", "stimulants"),
    ("Drugs/Stimulants/Mephedrone", "nps"),
    ("Drugs/Stimulants/Prescription", "prescription"),
    ("Drugs/Ecstasy/MDMA", "ecstasy"),
    ("Drugs/Ecstasy/Pills", "ecstasy"),
    ("Drugs/Ecstasy/MDA", "ecstasy"),
    ("Drugs/Psychedelics/LSD", "psychedelics"),
    ("Drugs/Psychedelics/Mushrooms", "psychedelics"),
    ("Drugs/Psychedelics/NB", "psychedelics"),
    ("Drugs/Psychedelics/2C", "psychedelics"),
    ("Drugs/Opioids/Heroin", "opioids"),
    ("Drugs/Opioids/Oxycodone", "opioids"),
    ("Drugs/Opioids", "opioids"),
    ("Drugs/Prescription", "prescription"),
    ("Drugs/Prescription/Xanax", "prescription"),
    ("Drugs/Barbiturates", "prescription"),
    ("Drugs/Dissociatives/MXE", "nps"),
    ("Drugs/Dissociatives/Ketamine", "other_drug"),
    ("Drugs/Steroids", "other_drug"),
    ("Drugs/Weight loss", "other_drug"),
    ("Drugs/Other", "other_drug"),
    ("Drugs/Something new", "other_drug"),  # unknown paths under Drugs/
    ("Services/Hacking", "non_drug"),
    ("Services/Money", "non_drug"),
    ("Counterfeits/Watches", "non_drug"),
    ("Information/Guides", "non_drug"),
    ("Info/eBooks/Drugs", "non_drug"),
    ("Weapons/Lethal firearms", "non_drug"),
    ("Forgeries/Physical documents", "non_drug"),
    ("Data/Accounts", "non_drug"),
    ("Electronics", "non_drug"),
    ("Jewelry", "non_drug"),
    ("Tobacco", "non_drug"),
    ("Tobacco/Smoked", "non_drug"),
    ("Drug paraphernalia", "non_drug"),
    ("Drug paraphernalia/Injecting equipment/Syringes", "non_drug"),
    ("Drugs > Opioids > Oxycodone", "opioids"),
    ("  drugs /  cannabis / WEED ", "cannabis"),
]


@pytest.mark.parametrize(("path", "category"), PATHS)
def test_paths(path, category):
    result = categorise(path, "")
    assert result.category == category
    assert result.field == "path"
    assert result.rule is not None and result.rule.startswith("path:")
    assert result.flag is None


@pytest.mark.parametrize(
    ("path", "title", "category", "field", "flag"),
    [
        # inconclusive drug paths: the title decides
        ("Drugs/Other", "3.5g Cocaine &amp; free shipping", "cocaine", "title", None),
        ("Drugs/Other", "Ｍｏｌｌｙ 10 x 100mg", "ecstasy", "title", None),
        ("Drugs/Other", "China White Heroin", "opioids", "title", None),
        ("Drugs/Other", "1P-LSD 100ug blotters", "nps", "title", None),
        ("Drugs/Other", "Fast speed delivery", "other_drug", "path", None),
        ("Drugs/Other", "Guide to cooking", "other_drug", "path", None),  # no non-drug under Drugs/
        ("Drugs/Dissociatives/Ketamine", "Ketamine pharma grade", "prescription", "title", None),
        ("Drugs/Dissociatives/Ketamine", "Ketamine crystals", "other_drug", "title", None),
        ("Drugs", "OG Kush 7g", "cannabis", "title", None),
        # conclusive paths ignore the title
        ("Fraud/Accounts", "Cocaine selling guide", "non_drug", "path", None),
        ("Drugs/Cannabis/Weed", "Netflix account", "cannabis", "path", None),
        # unknown paths: title, else other_drug flagged
        ("Other", "Netflix account lifetime", "non_drug", "title", None),
        ("Other", "1g MDMA", "ecstasy", "title", None),
        ("", "Speed paste 10g", "stimulants", "title", None),
        ("Other", "Mystery box", "other_drug", "none", "unresolved"),
        ("", "", "other_drug", "none", "unresolved"),
        (None, None, "other_drug", "none", "unresolved"),
    ],
)
def test_title_rules(path, title, category, field, flag):
    result = categorise(path, title)
    assert (result.category, result.field, result.flag) == (category, field, flag)


def test_rule_name_identifies_the_rule():
    result = categorise("Drugs/Opioids/Fentanyl")
    field, priority, pattern = result.rule.split(":", 2)
    assert field == "path" and int(priority) == 20 and "fentanyl" in pattern


def test_rules_file_is_valid():
    rules = load_rules()
    assert {r.field for r in rules} == {"path", "title"}
    assert {r.category for r in rules} <= set(TAXONOMY)
    # every drug category has a title rule, so inconclusive paths can be refined
    title_categories = {r.category for r in rules if r.field == "title"}
    assert set(TAXONOMY) - {"other_drug"} <= title_categories | {"other_drug"}
    assert title_categories >= {"cannabis", "cocaine", "opioids", "ecstasy", "psychedelics"}


def test_bad_rules_are_rejected():
    with pytest.raises(ValueError, match="unknown category"):
        load_rules("pattern,category,field,priority\nweed,marijuana,path,1\n")
    with pytest.raises(ValueError, match="unknown field"):
        load_rules("pattern,category,field,priority\nweed,cannabis,vendor,1\n")


def test_normalise_path():
    assert normalise_path("Drugs &amp; Chemicals > Cannabis » Weed") == (
        "drugs & chemicals/cannabis/weed"
    )
    assert normalise_path(None) == ""


def test_vectorised_matches_scalar():
    paths = [p for p, _ in PATHS] + ["Drugs/Other", "Drugs/Other", "Other", None]
    titles = [""] * len(PATHS) + ["Cocaine 1g", "Weed 5g", "Netflix account", None]
    table = categorise_many(pd.Series(paths, index=range(3, 3 + len(paths))), pd.Series(titles))
    assert list(table.columns) == ["drug_category", "rule", "field", "flag"]
    assert table.index.tolist() == list(range(3, 3 + len(paths)))
    expected = [categorise(p, t) for p, t in zip(paths, titles, strict=True)]
    assert table["drug_category"].tolist() == [e.category for e in expected]
    assert table["field"].tolist() == [e.field for e in expected]
    assert table["drug_category"].tolist()[-4:] == ["cocaine", "cannabis", "non_drug", "other_drug"]


# titles whose folded form is tested in Arrow (plain ASCII) next to ones that go to
# Python (accents, entities, non-ASCII word characters around a keyword, a lookahead)
TRICKY_TITLES = [
    "Speed delivery 10 Xanax",
    "SPEED 10g",
    "speed  shipping",
    "Cocaïne 1g",
    "ёcoke 1g",
    "coke_1g",
    "Coke&amp;Weed",
    "NETFLIX account + weed",
    "e-book about mdma",
    "2C-B 10x",
    "25I-NBOMe blotters",
    "jwh018",
    "",
    "Ｃｏｃａｉｎｅ",
    "x" * 600 + " weed",
]


@pytest.mark.parametrize("path", ["Drugs/Other", "Other", "Drugs/Steroids", None])
def test_vectorised_title_rules_match_scalar(path):
    paths = pd.Series([path] * len(TRICKY_TITLES))
    table = categorise_many(paths, pd.Series(TRICKY_TITLES))
    expected = [categorise(path, t) for t in TRICKY_TITLES]
    assert table["drug_category"].tolist() == [e.category for e in expected]
    assert table["rule"].fillna("").tolist() == [e.rule or "" for e in expected]
    assert table["flag"].isna().tolist() == [e.flag is None for e in expected]


def test_categorise_codes_gives_categorise_many_per_row():
    paths = pd.Series(["Drugs/Cannabis/Weed", "Drugs/Other", "Services", "Drugs/Other", ""])
    titles = pd.Series(["x", "10g MDMA crystal", "hacking", "digital scale", "bud"])
    codes, results = categorise_codes(paths, titles)
    table = categorise_many(paths, titles)
    assert [results[c].category for c in codes] == table["drug_category"].tolist()
    assert [results[c].field for c in codes] == table["field"].tolist()
    assert len({results[c].category for c in codes}) > 1
