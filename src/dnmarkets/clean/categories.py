"""Market category paths and titles -> the drug taxonomy of docs/data_model.md.

Rules are data (``data/category_rules.csv``: pattern, category, field, priority),
tried in priority order; the first match wins. Decision procedure:

1. Path rules on the normalised category path (casefolded, accents removed,
   separators ``/`` with single spaces: ``drugs & chemicals/cannabis & hashish/weed``).
   A match giving ``non_drug`` or a drug category other than ``other_drug`` is
   conclusive (``Fraud/Accounts``, ``Drugs/Opioids/Fentanyl``).
2. A path rule giving ``other_drug`` (``Drugs/Other``, ``Drugs/Steroids``, a
   bare ``Drugs`` or ``Chemicals``) is not conclusive: the drug title rules are
   tried, and a specific category found in the title wins (``Drugs/Other`` +
   ``Cocaine 1g`` -> cocaine). Non-drug title rules are not used under a drug
   path, so an unknown path under ``Drugs/`` stays a drug (``other_drug``).
3. No path rule (empty or unknown path such as Agora's ``Other``): all title
   rules; ``non_drug`` only when a non-drug title rule matches (clearly
   non-drug); with no match ``other_drug`` with flag ``unresolved``.

Every result says which rule matched (``field:priority:pattern``).
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from importlib import resources
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dnmarkets.clean.text import (
    MAX_TEXT_LENGTH,
    _plain_array,
    clean_text,
    encode_text,
    factorize_text,
)

TAXONOMY = (
    "cannabis",
    "cocaine",
    "opioids",
    "stimulants",
    "ecstasy",
    "psychedelics",
    "prescription",
    "nps",
    "other_drug",
    "non_drug",
)
FIELDS = ("path", "title")


class Rule(NamedTuple):
    pattern: str
    category: str
    field: str
    priority: int
    regex: re.Pattern

    @property
    def name(self) -> str:
        return f"{self.field}:{self.priority}:{self.pattern}"


class CategoryResult(NamedTuple):
    """category; rule that decided it (None for the fallback); field: path |
    title | none; flag: None, or ``unresolved`` when nothing matched."""

    category: str
    rule: str | None
    field: str
    flag: str | None


def load_rules(text: str | None = None) -> list[Rule]:
    """Rules from CSV text (default: the packaged file), sorted by priority."""
    if text is None:
        text = (
            resources.files("dnmarkets")
            .joinpath("data", "category_rules.csv")
            .read_text(encoding="utf-8")
        )
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    rules = []
    for row in csv.DictReader(lines):
        category, field = row["category"].strip(), row["field"].strip()
        if category not in TAXONOMY:
            raise ValueError(f"category rule {row['pattern']!r}: unknown category {category!r}")
        if field not in FIELDS:
            raise ValueError(f"category rule {row['pattern']!r}: unknown field {field!r}")
        pattern = row["pattern"]
        rules.append(Rule(pattern, category, field, int(row["priority"]), re.compile(pattern)))
    return sorted(rules, key=lambda r: (r.field, r.priority))


@functools.cache
def _rules() -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    rules = load_rules()
    return (
        tuple(r for r in rules if r.field == "path"),
        tuple(r for r in rules if r.field == "title"),
    )


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", clean_text(text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_PATH_SEP_RE = re.compile(r"\s*(?:/|\\|>|»|::|\|)\s*")


def normalise_path(path: str | None) -> str:
    """``Drugs & Chemicals > Cannabis`` -> ``drugs & chemicals/cannabis``."""
    if not isinstance(path, str):
        return ""
    parts = [p for p in _PATH_SEP_RE.split(_fold(path)) if p]
    return "/".join(parts)


def _first(rules, text: str, skip_non_drug: bool = False) -> Rule | None:
    if not text:
        return None
    for rule in rules:
        if skip_non_drug and rule.category == "non_drug":
            continue
        if rule.regex.search(text):
            return rule
    return None


@functools.lru_cache(maxsize=100_000)
def _path_rule(path: str) -> Rule | None:
    return _first(_rules()[0], normalise_path(path))


@functools.lru_cache(maxsize=500_000)
def _title_rule(title: str, drug_only: bool) -> Rule | None:
    return _first(_rules()[1], _fold(title), skip_non_drug=drug_only)


def _title_rules(titles: list[str], drug_only: np.ndarray) -> list[Rule | None]:
    """:func:`_title_rule` of each (title, drug_only) pair. Plain ASCII titles (folding
    only lower-cases them) are tested rule by rule in Arrow, in RE2 (its ASCII ``\b``
    agrees with Python's on ASCII text), the others one by one in Python."""
    found: list[Rule | None] = [None] * len(titles)
    array = pa.array(titles, type=pa.large_string())
    fast = _plain_array(array, MAX_TEXT_LENGTH)
    at = np.flatnonzero(fast)
    folded = pc.utf8_lower(array.take(pa.array(at)))
    undecided = np.ones(len(at), dtype=bool)
    for rule in _rules()[1]:
        todo = undecided & ~drug_only[at] if rule.category == "non_drug" else undecided
        if not todo.any():
            continue
        hits = np.flatnonzero(todo & _search(rule, folded, todo))
        for i in at[hits].tolist():
            found[i] = rule
        undecided[hits] = False
    for i in np.flatnonzero(~fast).tolist():
        found[i] = _title_rule(titles[i], bool(drug_only[i]))
    return found


def _search(rule: Rule, texts: pa.Array, where: np.ndarray) -> np.ndarray:
    """Whether `rule` matches each text (looked at only where `where` is True)."""
    re2 = _re2_pattern(rule.pattern)
    if re2 == rule.pattern:
        return pc.match_substring_regex(texts, re2).to_numpy(zero_copy_only=False)
    if re2 is not None:  # RE2 finds the candidates, Python's re decides
        where = where & pc.match_substring_regex(texts, re2).to_numpy(zero_copy_only=False)
    hits = np.zeros(len(texts), dtype=bool)
    at = np.flatnonzero(where)
    hits[at] = [rule.regex.search(t) is not None for t in texts.take(pa.array(at)).to_pylist()]
    return hits


# a lookahead or lookbehind (RE2 has none), with at most one level of groups inside
_LOOKAROUND_RE = re.compile(r"\(\?<?[=!](?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*\)")


@functools.cache
def _re2_pattern(pattern: str) -> str | None:
    """`pattern` if RE2 can run it, else the pattern without its lookarounds if RE2 can
    run that (it matches wherever `pattern` does: a lookaround only restricts), else None."""
    for candidate in (pattern, _LOOKAROUND_RE.sub("", pattern)):
        try:
            pc.match_substring_regex(pa.array([""]), candidate)
        except pa.ArrowInvalid:
            continue
        return candidate
    return None


def _needs_title(rule: Rule | None) -> bool:
    return rule is None or rule.category == "other_drug"


def _combine(path_rule: Rule | None, title_rule: Rule | None) -> CategoryResult:
    if path_rule is not None and path_rule.category != "other_drug":
        return CategoryResult(path_rule.category, path_rule.name, "path", None)
    if path_rule is not None:  # inconclusive drug path
        if title_rule is not None and title_rule.category != "non_drug":
            return CategoryResult(title_rule.category, title_rule.name, "title", None)
        return CategoryResult("other_drug", path_rule.name, "path", None)
    if title_rule is not None:
        return CategoryResult(title_rule.category, title_rule.name, "title", None)
    return CategoryResult("other_drug", None, "none", "unresolved")


def categorise(path: str | None, title: str | None = None) -> CategoryResult:
    """Taxonomy category of one listing (see the module docstring)."""
    path = path if isinstance(path, str) else ""
    title = title if isinstance(title, str) else ""
    path_rule = _path_rule(path)
    title_rule = _title_rule(title, path_rule is not None) if _needs_title(path_rule) else None
    return _combine(path_rule, title_rule)


RESULT_COLUMNS = ["drug_category", "rule", "field", "flag"]


def categorise_many(
    paths: pd.Series,
    titles: pd.Series | None = None,
    columns=tuple(RESULT_COLUMNS),
    title_factors: tuple[np.ndarray, list[str]] | None = None,
) -> pd.DataFrame:
    """Vectorised :func:`categorise`: distinct paths first, titles only where needed.

    Columns drug_category, rule, field, flag (str), aligned with `paths`; `columns`
    names the ones to build (each is a column of strings as long as the input, and
    the rule names are long: the cleaning needs only the category). `title_factors`,
    codes and values of the titles (values may repeat), saves factorizing them again.
    """
    paths = pd.Series(paths)
    codes, results = categorise_codes(paths, titles, title_factors)
    # each column taken per row in Arrow from its values per result
    codes = pa.array(codes)
    table = {
        name: pd.Series(
            pa.array([r[i] for r in results], type=pa.large_string()).take(codes),
            index=paths.index,
            dtype="str",
        )
        for i, name in enumerate(RESULT_COLUMNS)
        if name in columns
    }
    return pd.DataFrame(table, index=paths.index)


def categorise_codes(
    paths: pd.Series,
    titles: pd.Series | None = None,
    title_factors: tuple[np.ndarray, list[str]] | None = None,
) -> tuple[np.ndarray, list[CategoryResult]]:
    """:func:`categorise_many` as the distinct results (values of RESULT_COLUMNS) and
    the code of each row's, so that a function of the category (is it a drug?) runs once
    per result, not per row."""
    path_codes, path_dictionary = encode_text(paths)
    if title_factors is not None:
        title_codes, title_all = title_factors
    elif titles is None:
        title_codes, title_all = np.zeros(len(paths), dtype=np.int64), [""]
    else:
        title_codes, title_all = factorize_text(titles)
    path_rules = [_path_rule(p) for p in path_dictionary.to_pylist()]
    # one result per distinct path, then one per distinct (path, title) of the rows whose
    # path needs the title (few: most paths decide alone)
    results = [_combine(rule, None) for rule in path_rules]
    needs = np.array([_needs_title(rule) for rule in path_rules], dtype=bool)
    rows = np.flatnonzero(needs[path_codes])
    n_titles = len(title_all)
    pair_codes, pairs = pd.factorize(path_codes[rows] * n_titles + title_codes[rows])
    pair_paths, pair_titles = np.divmod(pairs.astype(np.int64), n_titles)
    pair_rules = [path_rules[p] for p in pair_paths.tolist()]
    title_rules = _title_rules(
        [title_all[t] for t in pair_titles.tolist()],
        np.array([rule is not None for rule in pair_rules], dtype=bool),
    )
    # one result object per distinct (path rule, title rule): a few dozen for thousands
    # of pairs (rules by identity: _rules() holds each once)
    combined: dict[tuple[int, int], CategoryResult] = {}
    for p, t in zip(pair_rules, title_rules, strict=True):
        result = combined.get((id(p), id(t)))
        if result is None:
            result = combined[id(p), id(t)] = _combine(p, t)
        results.append(result)
    codes = path_codes.copy()
    codes[rows] = len(path_rules) + pair_codes
    return codes, results
