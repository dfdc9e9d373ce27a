"""Every author-year citation in the report's chapters has an entry in the reference list.

A citation is "Name and Name, 2015", "Name and Name (2017)", "Name et al. (2020)",
"(Name 2019)" or "Name's table, 2019"; its key is the first name's letters and the year
(`Soska2015`, `VanBuskirk2017`). A market's name next to a year ("Hansa and Dream 2017",
"Dream's 2016 roster") names a dataset, not a work, and is not a citation.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = ROOT / "report" / "chapters"
REFERENCES = CHAPTERS / "appendix-references.qmd"

_NAME = r"(?:(?:[Vv]an|[Dd]e|[Vv]on|[Dd]er) )?[A-Z][A-Za-z'’-]+"
_YEAR = r"((?:19|20)\d{2})[a-z]?"
CITATION_PATTERNS = (
    re.compile(rf"\b({_NAME}) et al\.?,? \(?{_YEAR}\b"),
    re.compile(rf"\b({_NAME}) (?:and|&) ({_NAME}),? \(?{_YEAR}\b"),
    re.compile(rf"\(({_NAME}),? {_YEAR}[;,)]"),
    re.compile(rf"\b({_NAME})['’]s (?:[a-z]+ )?(?:of |, ?)?{_YEAR}\b"),
)
ENTRY = re.compile(r"^\*\*\[([A-Za-z0-9]+)\]\*\*", flags=re.MULTILINE)
MONTHS = {
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
}  # fmt: skip


def market_words(config: dict) -> set[str]:
    """Every word of every configured market's name: a market and a year is a dataset."""
    words: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if "slug" in node and "name" in node:
                words.update(str(node["name"]).split())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return words


def citations(text: str, not_authors: set[str]) -> set[str]:
    """Keys (first name's letters + year) of the author-year citations in `text`."""
    flat = re.sub(r"\s+", " ", text)
    keys = set()
    for pattern in CITATION_PATTERNS:
        for match in pattern.finditer(flat):
            names, year = match.groups()[:-1], match.groups()[-1]
            if any(n.split()[-1] in not_authors | MONTHS for n in names):
                continue
            keys.add(re.sub(r"[^A-Za-z]", "", names[0]) + year)
    return keys


def reference_keys(text: str) -> set[str]:
    return set(ENTRY.findall(text))


def _not_authors() -> set[str]:
    return market_words(yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8")))


def test_every_citation_in_the_chapters_has_a_reference():
    keys = reference_keys(REFERENCES.read_text(encoding="utf-8"))
    not_authors = _not_authors()
    missing = {}
    for path in sorted(CHAPTERS.rglob("*.qmd")):
        if path == REFERENCES:
            continue
        for key in citations(path.read_text(encoding="utf-8"), not_authors) - keys:
            missing.setdefault(key, []).append(path.relative_to(ROOT).as_posix())
    assert not missing, f"citations without an entry in {REFERENCES.name}: {missing}"


def test_the_chapters_cite_the_works_the_report_relies_on():
    # guards the patterns: if they stopped matching, the test above would pass vacuously
    found = set()
    for path in CHAPTERS.rglob("*.qmd"):
        if path != REFERENCES:
            found |= citations(path.read_text(encoding="utf-8"), _not_authors())
    assert {"Soska2015", "EMCDDA2017", "VanBuskirk2017", "ElBahrawy2020", "Branwen2019"} <= found


def test_a_new_citation_without_a_reference_is_found():
    text = (
        "as Smith and Jones (2021) found; Doe et al. 2019 disagree (Roe, 2018), "
        "and gwern Branwen's table of 2019 lists it"
    )
    assert citations(text, set()) == {"Smith2021", "Doe2019", "Roe2018", "Branwen2019"}


def test_a_market_and_a_year_is_not_a_citation():
    text = "the AlphaBay, Hansa and Dream 2017 scrapes; Dream's 2016 roster; April and May 2017"
    assert citations(text, {"Hansa", "Dream", "Market"}) == set()


def test_every_reference_key_is_unique_and_says_where_it_is_used():
    text = REFERENCES.read_text(encoding="utf-8")
    entries = re.split(r"(?m)^(?=\*\*\[)", text)[1:]
    keys = [ENTRY.match(e).group(1) for e in entries]
    assert len(keys) == len(set(keys)), keys
    unplaced = [key for key, entry in zip(keys, entries, strict=True) if "*Used in:*" not in entry]
    assert not unplaced, unplaced
