"""Words chosen from intervals (dnmarkets.report.wording): the text is never
stronger than its numbers."""

from __future__ import annotations

import pytest

from dnmarkets.report.format import format_entry
from dnmarkets.report.wording import change_word, portion_word


def entry(value, low, high, unit="percent"):
    return {"value": value, "ci_low": low, "ci_high": high, "unit": unit}


@pytest.mark.parametrize(
    ("low", "high", "word"),
    [
        (2.2, 8.9, "rose"),
        (-13.9, -3.5, "fell"),
        (-2.4, 5.0, "showed no detectable change"),
        (0.0, 5.0, "showed no detectable change"),  # a bound at zero does not exclude it
        (-5.0, 0.0, "showed no detectable change"),
    ],
)
def test_a_change_rises_or_falls_only_when_the_interval_excludes_zero(low, high, word):
    assert change_word(entry((low + high) / 2, low, high)) == word


@pytest.mark.parametrize(
    ("low", "high", "word"),
    [
        (0.51, 0.70, "a majority"),
        (0.50, 0.70, "a share whose interval spans one half"),
        (0.306, 0.512, "a share whose interval spans one half"),  # "most" would overstate 40.9%
        (0.372, 0.487, "a minority"),  # 43.0%: not "mostly to one market"
        (0.441, 0.521, "about half"),
        (0.39, 0.55, "a share whose interval spans one half"),
    ],
)
def test_a_share_is_a_majority_only_when_the_whole_interval_is_above_half(low, high, word):
    assert portion_word(entry((low + high) / 2, low, high, unit="share")) == word


def test_no_interval_no_word():
    assert change_word(entry(5.0, None, None)) is None
    assert portion_word(entry(0.6, None, None, unit="share")) is None
    assert portion_word(entry(60.0, 55.0, 65.0, unit="percent")) is None  # not a share


def test_the_report_variables_carry_the_words_with_the_same_numbers():
    fields = format_entry(entry(1.3, -2.4, 5.0))
    assert fields["change"] == f"showed no detectable change, {fields['text']}"
    assert "portion" not in fields
    fields = format_entry(entry(0.43, 0.372, 0.487, unit="share"))
    assert fields["portion"].startswith("a minority, 43.0%")
    assert "change" in fields  # a share's interval also says whether it differs from zero


def test_an_entry_without_an_interval_or_value_still_has_plain_words():
    fields = format_entry(entry(5.0, None, None))
    assert fields["change"] == "changed by 5.0% (no interval)"
    assert "portion" not in fields
    fields = format_entry(entry(0.6, None, None, unit="share"))
    assert fields["portion"] == "60.0% (no interval)"
    fields = format_entry(entry(None, None, None, unit="share"))
    assert fields["change"] == fields["portion"] == "could not be estimated"
