"""Every number in the report's prose comes from results/summary.json.

The chapters quote numbers through `{{< var key.field >}}`, so they are computed
by the pipeline and printed with the summary's rounding. A number typed into the
text instead (a result copied by hand, which goes stale on the next run) fails
here unless report/fixed_numbers.yaml lists its phrase with a reason: names,
the method's settings, published figures shown as comparisons.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPORT = Path(__file__).resolve().parents[2] / "report"
CHAPTERS = sorted((REPORT / "chapters").rglob("*.qmd"))
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
NUMBER = re.compile(r"(?<![\w.])[−-]?\d[\d,.]*")


def fixed_numbers() -> dict[str, dict[str, str]]:
    return yaml.safe_load((REPORT / "fixed_numbers.yaml").read_text(encoding="utf-8"))


def fixed_phrases() -> dict[str, str]:
    groups = fixed_numbers()
    return {p: why for name, group in groups.items() if name != "files" for p, why in group.items()}


def checked(chapter: Path) -> bool:
    return chapter.relative_to(REPORT / "chapters").as_posix() not in fixed_numbers()["files"]


def prose(text: str) -> str:
    """The text a reader reads as sentences: no shortcodes, comments, code, image
    or table lines, captions, attributes, cross-references, years or dates."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"\{\{<.*?>\}\}", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", "", text)
    lines = [
        line
        for line in text.splitlines()
        if not line.strip().startswith((":::", "![", ": ", "|", "---"))
    ]
    text = re.sub(r"\s+", " ", "\n".join(lines))
    text = re.sub(r"\{[#.][^}]*\}", "", text)
    text = re.sub(r"@(sec|fig|tbl)-[\w-]+", "", text)
    text = re.sub(r"\b(1[89]|20)\d\d\b(–\d\d\b)?", "", text)  # years, year ranges
    return re.sub(rf"\b\d{{1,2}}(–\d{{1,2}})? ({MONTHS})", "", text)  # dates


def typed_numbers(text: str, phrases) -> list[str]:
    for phrase in sorted(phrases, key=len, reverse=True):
        text = text.replace(phrase, " ")
    return [m.group(0) for m in NUMBER.finditer(text)]


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if checked(c)], ids=lambda p: p.name)
def test_no_number_is_typed_into_the_text(chapter):
    found = typed_numbers(prose(chapter.read_text(encoding="utf-8")), fixed_phrases())
    assert not found, (
        f"{chapter.relative_to(REPORT)}: numbers typed into the text {found}: quote a "
        "summary key with {{< var >}}, or list the phrase in report/fixed_numbers.yaml "
        "with the reason it is fixed"
    )


def test_every_fixed_phrase_is_still_used_and_has_a_reason():
    text = " ".join(prose(p.read_text(encoding="utf-8")) for p in CHAPTERS)
    for name, why in fixed_numbers()["files"].items():
        assert why and (REPORT / "chapters" / name).is_file(), name
    for phrase, why in fixed_phrases().items():
        assert why and why.strip(), phrase
        assert phrase in text, f"report/fixed_numbers.yaml: {phrase!r} is no longer in the text"


def test_a_number_copied_by_hand_is_caught():
    text = prose("Prices were USD 63.11 per gram ({{< var x.supply.median.text >}}).")
    assert typed_numbers(text, fixed_phrases()) == ["63.11"]
    assert typed_numbers(prose("In 2017–18, on 5 July 2017, {{< var a.b.c.value >}}."), {}) == []
