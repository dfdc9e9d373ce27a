"""Quantities parsed from listing titles."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnmarkets.clean.quantities import GRAMS_PER_OUNCE, Quantity, parse_quantities, parse_quantity

CASES = [
    ("3.5g Cocaine &amp; free shipping", 3.5, "g"),
    ("3,5 g Speed", 3.5, "g"),
    ("0,5g MDMA crystal", 0.5, "g"),
    ("100mg", 0.1, "g"),
    ("MDMA crystal 250mg", 0.25, "g"),
    ("10 x 100mg", 1.0, "g"),
    ("Ｍｏｌｌｙ 10 x 100mg", 1.0, "g"),
    ("10x100mg MDMA", 1.0, "g"),
    ("10 × 1g", 10.0, "g"),
    ("3.5g x 2", 7.0, "g"),
    ("2 x 3.5g", 7.0, "g"),
    ("1oz OG Kush", GRAMS_PER_OUNCE, "g"),
    ("1/4 oz", GRAMS_PER_OUNCE / 4, "g"),
    ("1/8 ounce", GRAMS_PER_OUNCE / 8, "g"),
    ("half oz weed", GRAMS_PER_OUNCE / 2, "g"),
    ("quarter ounce", GRAMS_PER_OUNCE / 4, "g"),
    ("Weed 28g (1oz)", 28.0, "g"),  # two mentions that agree within 2 %
    ("28 grams", 28.0, "g"),
    ("5 gram", 5.0, "g"),
    ("1 kilo", 1000.0, "g"),
    ("1kg", 1000.0, "g"),
    ("1/2 kg", 500.0, "g"),
    ("1lb", 453.59237, "g"),
    ("5-MeO-DMT 1g", 1.0, "g"),
    ("Cocaine 1g 90% pure", 1.0, "g"),
    ("50 tabs", 50.0, "unit"),
    ("100 pills", 100.0, "unit"),
    ("10 blotters", 10.0, "unit"),
    ("LSD 10 x 150ug", 10.0, "unit"),
    ("10 tabs 150ug", 10.0, "unit"),
    ("100 pills 2mg", 100.0, "unit"),
    ("100 x Xanax 2mg bars", 100.0, "unit"),
    ("10x Xanax", 10.0, "unit"),
    ("1,000 pills", 1000.0, "unit"),
    ("5ml", 5.0, "ml"),
    ("GBL 1l", 1000.0, "ml"),
]

NONE_CASES = [
    "",
    "Netflix account lifetime",
    "Xanax 2mg",  # a tablet strength, not a quantity
    "Oxycodone 30mg",
    "Xanax bars 2mg",
    "1P-LSD 100ug",  # a dose without a count
    "2C-B 10mg",
    "1g 3.5g 7g",  # options: which one?
    "1g-3g",
    "1,000g",  # 1000 g or 1.000 g?
    "2.500 g",
    "5g + 10 tabs",  # a bundle
    "1 LSD",
    "0g",
    "1/0 oz",
    "Heroin #4",
    "MDMA 84%",
]


@pytest.mark.parametrize(("title", "quantity", "unit"), CASES)
def test_quantities(title, quantity, unit):
    result = parse_quantity(title)
    assert result is not None, title
    assert result.unit == unit
    assert result.quantity == pytest.approx(quantity, rel=1e-9)


@pytest.mark.parametrize("title", NONE_CASES)
def test_no_answer_rather_than_a_wrong_one(title):
    assert parse_quantity(title) is None


def test_non_text_gives_none():
    assert parse_quantity(None) is None
    assert parse_quantity(float("nan")) is None


def test_vectorised_matches_scalar():
    titles = [t for t, *_ in CASES] + NONE_CASES + [None]
    series = pd.Series(titles, index=range(5, 5 + len(titles)), dtype=object)
    table = parse_quantities(series)
    assert table.index.equals(series.index)
    assert str(table["quantity"].dtype) == "float64" and str(table["unit"].dtype) == "str"
    for title, row in zip(titles, table.itertuples(index=False), strict=True):
        expected = parse_quantity(title)
        if expected is None:
            assert math.isnan(row.quantity) and pd.isna(row.unit)
        else:
            assert (row.quantity, row.unit) == (expected.quantity, expected.unit)


@settings(max_examples=400, deadline=None)
@given(
    st.text(max_size=80) | st.from_regex(r"[0-9 x/.,]{1,10}\s?(mg|g|kg|oz|ml|tabs|ug|x)?.{0,10}")
)
def test_never_raises_and_returns_documented_types(title):
    result = parse_quantity(title)
    if result is not None:
        assert isinstance(result, Quantity)
        assert result.unit in {"g", "ml", "unit"}
        assert isinstance(result.quantity, float)
        assert math.isfinite(result.quantity) and result.quantity > 0


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=999),
    st.sampled_from([("g", 1.0), ("mg", 0.001), ("kg", 1000.0), ("grams", 1.0), ("ml", 1.0)]),
    st.sampled_from(["Cocaine {}", "{} of pure MDMA", "Weed - {} - free shipping"]),
)
def test_mass_round_trip(amount, unit, template):
    symbol, factor = unit
    if symbol == "mg" and amount < 50:
        return  # small milligram amounts are read as a dose on purpose
    result = parse_quantity(template.format(f"{amount}{symbol}"))
    assert result is not None
    assert result.quantity == pytest.approx(amount * factor)
    assert result.unit == ("ml" if symbol == "ml" else "g")


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=500), st.integers(min_value=1, max_value=999))
def test_count_times_mass_is_total(count, mg):
    result = parse_quantity(f"MDMA pills {count} x {mg}mg")
    assert result == Quantity(pytest.approx(count * mg / 1000), "g")


# Real Agora titles (crawl of 2014-04-06), read by hand; None where the title is
# ambiguous (a missing digit, two different amounts).
REAL_TITLES = [
    ("0,5G Cocaine 80%", 0.5, "g"),
    ("0,5 gram of Colombian Cocaine! High Quality +++", 0.5, "g"),
    ("93% pure columbian coke 2,5 gram 175 euro", 2.5, "g"),
    ("3,5g fish scale coke uncut", 3.5, "g"),
    (".25 gram pure fish scale cocaine", 0.25, "g"),
    (".5g Good Quality Cocaine", 0.5, "g"),
    ("FREE .1 Gram SAMPLE PURE COCAINE", 0.1, "g"),
    ("Custom order of 3x 1gram", 3.0, "g"),
    ("o.25 grams  .sample of 80% pure cocaine", None, None),
]


@pytest.mark.parametrize(("title", "quantity", "unit"), REAL_TITLES)
def test_real_agora_titles(title, quantity, unit):
    result = parse_quantity(title)
    if quantity is None:
        assert result is None
    else:
        assert result.unit == unit and result.quantity == pytest.approx(quantity)


def test_hit_rate_on_real_agora_drug_titles(mirror):
    """Measured on every drug listing of one real crawl: the parser reads a quantity
    from most titles (78.5% at the time of writing; what it cannot read it leaves
    empty rather than guessing)."""
    day = pd.read_csv(mirror / "agora-2014-2015" / "listings" / "2014-04-06_catProducts.csv.gz")
    drugs = day[day["cat"].astype(str).str.startswith("Drugs")]
    parsed = parse_quantities(drugs["name"])
    rate = parsed["quantity"].notna().mean()
    assert len(drugs) > 7000
    assert rate > 0.75, f"quantity parsed from {rate:.1%} of real drug titles"
