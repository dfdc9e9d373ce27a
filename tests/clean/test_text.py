"""Untrusted text cleaning and vendor identity keys."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnmarkets.clean.text import (
    MAX_TEXT_LENGTH,
    clean_coded_texts,
    clean_text,
    clean_text_flagged,
    clean_texts,
    clean_texts_factorized,
    codes_of_rows,
    dictionary_codes,
    encode_text,
    factorize_text,
    vendor_key,
    vendor_keys,
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("3.5g Cocaine &amp; free shipping", "3.5g Cocaine & free shipping"),
        ("a &amp;amp; b", "a & b"),
        ("a &amp;amp;amp;amp; b", "a & b"),
        ("&lt;b&gt;bold&lt;/b&gt;", "<b>bold</b>"),
        ("caf&eacute; &#233; &#x41;", "café é A"),
        ("Ｍｏｌｌｙ 10 x 100mg", "Molly 10 x 100mg"),
        ("ﬁne", "fine"),
        ("  lots   of\t\tspace\n\nand lines  ", "lots of space and lines"),
        ("null\x00byte", "nullbyte"),
        ("bell\x07 and \x1b[31mescape", "bell and [31mescape"),
        ("bidi \u202eoverride\u202c", "bidi override"),
        ("zero\u200bwidth", "zerowidth"),
        ("nbsp\u00a0space", "nbsp space"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),  # kept as text
        ("", ""),
    ],
)
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


def test_none_and_nan_give_empty_string():
    assert clean_text(None) == ""
    assert clean_text(float("nan")) == ""


def test_truncation_is_flagged_and_visible():
    text, truncated = clean_text_flagged("x" * 600)
    assert truncated and len(text) == MAX_TEXT_LENGTH and text.endswith("…")
    text, truncated = clean_text_flagged("x" * MAX_TEXT_LENGTH)
    assert not truncated and text == "x" * MAX_TEXT_LENGTH
    # the cap applies after cleaning: 600 escaped ampersands are 600 characters
    text, truncated = clean_text_flagged("&amp;" * 400)
    assert not truncated and text == "&" * 400


def test_clean_texts_vectorised():
    series = pd.Series(["a &amp; b", None, "a &amp; b", "x\x00"], index=[7, 8, 9, 10])
    out = clean_texts(series)
    assert out.tolist() == ["a & b", "", "a & b", "x"]
    assert out.index.tolist() == [7, 8, 9, 10] and str(out.dtype) == "str"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=700))
def test_clean_text_properties(raw):
    text, truncated = clean_text_flagged(raw)
    assert len(text) <= MAX_TEXT_LENGTH
    assert text == text.strip() and "  " not in text
    assert not any(unicodedata.category(ch) in {"Cc", "Cf", "Cs"} for ch in text)
    assert clean_text(text) == text  # idempotent
    assert truncated == text.endswith("…") or not truncated


@pytest.mark.parametrize(
    ("alias", "key"),
    [
        ("DrWhite", "drwhite"),
        (" drwhite ", "drwhite"),
        ("Dr_White", "drwhite"),
        ("Dr-White", "drwhite"),
        ("Dr.White", "drwhite"),
        ("Dr White", "drwhite"),
        ("DRWHITE", "drwhite"),
        ("ＤｒＷｈｉｔｅ", "drwhite"),
        ("DrWhite_Official", "drwhite"),
        ("DrWhiteShop", "drwhite"),
        ("DrWhite-Store", "drwhite"),
        ("DrWhite2017", "drwhite"),
        ("DrWhiteShop2", "drwhite"),
        ("Dr White Store 99", "drwhite"),
        ("Pharma1", "pharma"),
        ("abc1", "abc1"),  # stem shorter than 4 characters: digits kept
        ("Shop", "shop"),
        ("TheShop", "theshop"),
        ("the.store", "thestore"),
        ("1234", "1234"),
        ("Straße", "strasse"),
        ("", ""),
        (None, ""),
    ],
)
def test_vendor_key(alias, key):
    assert vendor_key(alias) == key


@pytest.mark.parametrize(
    "parts",
    [
        [["b", None, "a"], ["a", "", "c", None]],  # two Arrow chunks, missing values
        [["x", "y", "x"]],
        [[]],
    ],
)
def test_encode_text_numbers_values_as_pandas_factorize(parts):
    series = pd.concat([pd.Series(p, dtype="str") for p in parts], ignore_index=True)
    codes, dictionary = encode_text(series)
    expected_codes, expected = pd.factorize(series.fillna(""))
    assert codes.dtype == np.int64 and codes.tolist() == expected_codes.tolist()
    assert dictionary.to_pylist() == list(expected)
    assert factorize_text(series)[1] == list(expected)


def test_factorize_text_of_objects():
    codes, uniques = factorize_text(pd.Series([1.5, None, "x", 1.5], dtype=object))
    assert codes.tolist() == [0, 1, 2, 0] and uniques == ["1.5", "", "x"]


def test_vendor_keys_vectorised():
    out = vendor_keys(pd.Series(["DrWhite", " drwhite ", None], index=[4, 5, 6]))
    assert out.tolist() == ["drwhite", "drwhite", ""] and out.index.tolist() == [4, 5, 6]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_vendor_key_properties(alias):
    key = vendor_key(alias)
    assert key == unicodedata.normalize("NFKC", key.casefold())  # case-folded, NFKC
    assert not any(ch in key for ch in "_-. ")
    assert vendor_key(key) == key  # idempotent


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("amp &;#\t\x7f\x00é "), max_size=12), max_size=8))
def test_clean_texts_equals_clean_text_on_every_value(raws):
    """The values clean_texts leaves alone (tested in Arrow) are exactly those that
    clean_text leaves alone: same results as one clean_text per value."""
    raws = [
        *raws,
        "x" * MAX_TEXT_LENGTH,
        "x" * (MAX_TEXT_LENGTH + 1),
        "a b",
        " a",
        "a  b",
        "a &amp; b",
        "a\tb",
        "ﬁne",
    ]
    assert clean_texts(pd.Series(raws)).tolist() == [clean_text(r) for r in raws]


def _strip_controls_loop(text: str) -> str:
    """strip_controls without its shortcut for printable texts."""
    from dnmarkets.clean import text as text_module

    return "".join(
        " " if ch in text_module._KEEP_AS_SPACE else ch
        for ch in text
        if ch in text_module._KEEP_AS_SPACE
        or unicodedata.category(ch) not in text_module._DROP_CATEGORIES
    )


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_strip_controls_shortcut_changes_nothing(value):
    from dnmarkets.clean.text import strip_controls

    assert strip_controls(value) == _strip_controls_loop(value)


def test_strip_controls_printable_non_ascii():
    from dnmarkets.clean.text import strip_controls

    for value in ["Kokaïn 1g ✓ 😀", "a\u00a0b", "a\u200bb", "x\u2028y", "tab\there", "ünï"]:
        assert strip_controls(value) == _strip_controls_loop(value)


def test_codes_of_rows_keeps_only_the_rows_values():
    # three chunks, a missing value among the rows taken, a value no taken row holds
    column = pa.chunked_array([["b", "a"], [None, "c"], ["a", "b"]], type=pa.large_string())
    rows = np.array([5, 2, 1, 4])
    codes, dictionary = codes_of_rows(column, rows)
    assert np.asarray(dictionary.to_pylist(), dtype=object)[codes].tolist() == ["b", "", "a", "a"]
    assert sorted(dictionary.to_pylist()) == ["", "a", "b"]  # "c" dropped


def test_clean_coded_texts_matches_clean_texts_factorized():
    values = pd.Series(["a&amp;b", "plain text", "  x  y ", "plain text", "a&b"], dtype="str")
    out, codes, texts, array = clean_texts_factorized(values)
    rows = np.arange(len(values))
    coded_codes, dictionary = codes_of_rows(values, rows)
    coded_out, coded_texts, coded_array = clean_coded_texts(coded_codes, dictionary)
    expected = ["a&b", "plain text", "x y", "plain text", "a&b"]
    assert coded_out.to_pylist() == out.tolist() == expected
    assert [coded_texts[c] for c in coded_codes] == [texts[c] for c in codes]
    assert list(coded_array) == coded_texts


@pytest.mark.parametrize("run", [1, 3, 40, 900])
def test_dictionary_codes_of_runs_as_pandas_factorize(run):
    # long runs take the run path (a value hashed per run), short ones the per-row one;
    # both must number the values as pandas.factorize, missing values -1
    rng = np.random.default_rng(run)
    words = ["a", "b", "", "é", None, "x" * 40]
    values = [words[i] for i in np.repeat(rng.integers(0, len(words), 30), run)]
    column = pa.array(values, type=pa.large_string())
    cut = len(values) // 3
    for array in (column, pa.chunked_array([column.slice(0, cut), column.slice(cut)])):
        codes, dictionary = dictionary_codes(array)
        expected_codes, expected = pd.factorize(pd.Series(values, dtype=object))
        assert codes.dtype == np.int64 and codes.tolist() == expected_codes.tolist()
        assert dictionary.to_pylist() == list(expected)


@pytest.mark.parametrize(
    "raw",
    [
        "a  b",
        "   ",
        " x" * 300,  # 600 characters, 599 once trimmed: cut
        "y" * 499 + "    z",  # 501 characters once collapsed: cut
        "y" * 498 + "    z",  # 500 once collapsed: kept whole
        "a  &amp;  b",  # an entity: cleaned in Python
        "é  x",
        "a \x7f b",
    ],
)
def test_spaced_texts_cleaned_in_arrow_as_clean_text(raw):
    codes = np.array([0, 1, 0])
    column, texts, _ = clean_coded_texts(codes, pa.array([raw, "plain"], type=pa.large_string()))
    assert texts == [clean_text(raw), "plain"]
    assert column.to_pylist() == [clean_text(raw), "plain", clean_text(raw)]
