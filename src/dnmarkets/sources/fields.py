"""Field parsers and text repairs for source scrapes, chosen by name in the mapping.

- :func:`repair_mojibake`: a minimal, documented repair of text that was UTF-8,
  then read as the wrong 8-bit encoding (AlphaBay 2017's CSVs went through
  Mac Excel: `ξ`, bytes CE BE, appears as `Î¾`, or as `Œæ` once more through
  Mac Roman). No repair library is in the environment (ftfy is not installed),
  so only two chains are tried on each run of non-ASCII characters, and a
  repair is kept only when every character it gives is in a script a listing
  plausibly uses; anything else is left as read (never dropped).
- :func:`drop_zone_name`: `2016-12-11 20:13:54.654635085 -0500 EST` (Go's
  time format, Hansa 2016) to an ISO 8601 time with its numeric offset.
"""

from __future__ import annotations

import re

import pandas as pd

# runs of characters that a Latin-1 reading makes of non-ASCII bytes
_NON_ASCII_RUN = re.compile(r"[\u0080-\u00ff]+")
# what a repaired run may hold: accented Latin letters, Greek, Cyrillic, general
# punctuation, symbols, arrows, dingbats and emoji; not CJK or Latin Extended
# (a random byte pair is often "valid" UTF-8 there: e4 bb b4 is 仴)
_PLAUSIBLE = re.compile(
    r"^[\u00a0-\u00ff\u0370-\u03ff\u0400-\u04ff\u2000-\u2bff\U0001f000-\U0001faff\ufe0f]+$"
)


def _repaired_run(run: str) -> str:
    raw = run.encode("latin-1")
    candidates = [raw]
    try:  # once more through Mac Roman: cp1252 bytes of Mac Roman text of UTF-8 bytes
        candidates.append(raw.decode("cp1252").encode("mac_roman"))
    except (UnicodeDecodeError, UnicodeEncodeError):
        pass
    for data in candidates:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if _PLAUSIBLE.match(text) and text != run:
            return text
    return run


def repair_mojibake(text: str) -> str:
    """Text read as Latin-1 with each run of non-ASCII characters repaired where a
    chain above gives plausible UTF-8 (module docstring); ASCII is never touched, so
    separators, quotes and line ends keep their places."""
    cache: dict[str, str] = {}

    def fix(match: re.Match) -> str:
        run = match.group()
        if run not in cache:
            cache[run] = _repaired_run(run)
        return cache[run]

    return _NON_ASCII_RUN.sub(fix, text)


_ZONE_TIME = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.\d+)?"  # day, time, fraction
    r"\s*([+-]\d{2})(\d{2})(?:\s+[A-Z]{2,5})?\s*$"  # offset, zone name
)


def drop_zone_name(values: pd.Series) -> pd.Series:
    """`YYYY-MM-DD hh:mm:ss[.frac] +hhmm [ZONE]` to `YYYY-MM-DDThh:mm:ss+hh:mm`; other
    text is kept as it is (cleaning then quarantines it as unparseable_crawl_date)."""

    def one(text: str) -> str:
        match = _ZONE_TIME.match(text)
        if not match:
            return text
        day, time, hours, minutes = match.groups()
        return f"{day}T{time}{hours}:{minutes}"

    codes, uniques = pd.factorize(values)
    converted = [one(u) for u in uniques] + [""]
    return pd.Series([converted[c] for c in codes], index=values.index, dtype=object)


def day_of_match(match: re.Match) -> str:
    """The crawl day a file-name pattern found: its `year`, `month` and `day` groups
    (`(?P<year>\\d{4})(?P<month>\\d{2})(?P<day>\\d{2})` for `20170420`) as YYYY-MM-DD,
    or else its first group as it is."""
    groups = match.groupdict()
    if {"year", "month", "day"} <= groups.keys():
        return f"{groups['year']}-{groups['month']}-{groups['day']}"
    return match.group(1)
