"""Normalise free-text ships-from / ships-to values to country or region codes.

Output codes
    * ISO 3166-1 alpha-2 (``DE``, ``GB`` for the UK, ``XK`` for Kosovo);
    * region codes ``EU``, ``EUROPE``, ``WW`` (worldwide), ``NA`` (North
      America), ``SA`` (South America), ``ASIA``, ``OC`` (Oceania), ``AF``
      (Africa);
    * ``MULTI`` for a list of places (``UK, Ireland``), the parts are kept in
      ``CountryResult.codes``;
    * ``UNK`` with a reason (empty, undeclared, not a place, no match ...).

Unmapped vs explicit unknown. Every ``UNK`` carries a reason. An *explicit*
unknown is a decision written in the alias table (``Internet`` -> reason
``not_a_place: digital delivery``, ``Undeclared;)`` -> ``undeclared``, ``u`` ->
``truncated_ambiguous``; the reason is the table's note) or an empty field
(``empty``). A *fallback* means no curated entry decided: reason ``unmatched``
(nothing matched), ``ambiguous_fuzzy`` (the fuzzy step could not pick), or
``partial_list`` (a ``MULTI`` with unresolved items); these are
``UNMAPPED_REASONS``. A ``fuzzy`` hit is a guess, not a decision:
:func:`explain_country` shows, item by item, which alias, name or guess was
used (and the alias note, e.g. ``joke seen on Agora`` for
``TheUnitedSnakesofCaptivity`` -> ``US``). Every distinct value of the real
Agora and Dream files resolves without fallback or guess
(tests/test_countries_real.py).

Routes: Dream Market's ``ships_from_to`` joins origin and destinations with an
arrow (``NL  → EU, WW``). Such a text stands for its origin (``NL``, method
``route``); :func:`split_route` gives both sides.

The contract's region codes ``NA``, ``SA`` and ``AF`` are also the ISO codes
of Namibia, Saudi Arabia and Afghanistan. The code column alone is therefore
ambiguous for those; the region label (``Africa`` vs ``North America``)
disambiguates. Raw texts ``NA`` (also "N/A"), ``SA`` and ``AF`` are mapped to
``UNK`` because a vendor typing them may mean either.

Matching is data-driven: ``data/iso3166.csv`` (every country's English name)
plus ``data/country_aliases.csv`` (native names, 3-letter codes, jokes and
typos seen in real crawls). Supporting a new variant means adding a line there.
Inputs are compared by a key that ignores case, accents, whitespace,
punctuation and HTML tags (Agora's ``<img class="flag-img" ...>USA``). The steps
are, first hit wins:

0. a route ``A → B`` -> the result for ``A``, method ``'route'``;
1. empty -> ``UNK`` (``empty``);
2. exact key in the alias table (``method='alias'``), then in the ISO names
   (``'name'``), also after dropping a leading "the" or a trailing "only";
3. an upper-case two-letter ISO code (``DE``; ``de`` or ``Me`` are not codes);
   flag emoji (``🇸🇪``) count as their code, next to whatever text follows them;
4. a prefix alias (``Worldwide*``: ``Worldwide except USA`` -> ``WW``);
5. a list: split at ``, ; / | & +`` and at the words "and"/"or" (also inside
   space-less Agora text such as ``UKandIreland``), every part resolved by the
   steps above or the fuzzy step (``'list'``);
6. a conservative fuzzy match (difflib ratio >= 0.85, inputs of >= 5
   characters, the best code must beat every other code by 0.02, else ``UNK``
   ``ambiguous_fuzzy``) (``'fuzzy'``);
7. otherwise ``UNK`` (``unmatched``).

Truncations: a value the table marks ``truncated_ambiguous`` stays ``UNK`` here;
:func:`resolve_truncations` settles it from the same vendor's other listings
when they point to exactly one place (rule in its docstring).

Lists (design choice): a ships-from list is not collapsed to its first country.
It becomes ``MULTI`` (unless every part is the same code, e.g. ``UK, England``),
with region ``EU`` when every part is an EU member on the date, else
``Multiple``. ``eu`` is True when every part is in the EU, False when no part
is in Europe or in the EU (``USA, Canada``), and None (unknown) otherwise.

Regions are UN M49 continents (so Turkey and Cyprus are in Asia; Cyprus is
``EU`` since 2004 anyway). The label of an EU member depends on the date: the
UK is ``EU`` until 2020-01-31 and ``Europe (non-EU)`` from 2020-02-01. ``EUROPE``
(no country given, could be in or outside the EU) is labelled
``Europe (unspecified)``, an addition to the contract's list of labels.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import difflib
import functools
import html
import re
import unicodedata
from importlib import resources
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dnmarkets.clean.text import encode_text

REGION_CODES = ("EU", "EUROPE", "WW", "NA", "SA", "ASIA", "OC", "AF")
MULTI = "MULTI"
UNKNOWN = "UNK"
# reasons meaning "no curated entry decided" (a fallback), as opposed to an
# explicit unknown from the alias table or an empty field
UNMAPPED_REASONS = frozenset({"unmatched", "ambiguous_fuzzy", "partial_list"})

REGION_LABELS = (
    "EU",
    "Europe (non-EU)",
    "Europe (unspecified)",
    "North America",
    "South America",
    "Asia",
    "Oceania",
    "Africa",
    "Worldwide",
    "Multiple",
    "Unknown",
)
# continent (iso3166.csv `region`) -> label outside the EU
_CONTINENT_LABEL = {
    "Europe": "Europe (non-EU)",
    "North America": "North America",
    "South America": "South America",
    "Asia": "Asia",
    "Oceania": "Oceania",
    "Africa": "Africa",
    "Antarctica": "Unknown",
}
# region code -> (label, EU membership)
_REGION_CODE_INFO: dict[str, tuple[str, bool | None]] = {
    "EU": ("EU", True),
    "EUROPE": ("Europe (unspecified)", None),
    "WW": ("Worldwide", None),
    "NA": ("North America", False),
    "SA": ("South America", False),
    "ASIA": ("Asia", False),
    "OC": ("Oceania", False),
    "AF": ("Africa", False),
}

FUZZY_MIN_RATIO = 0.85
FUZZY_MIN_LENGTH = 5
FUZZY_MIN_MARGIN = 0.02  # the best code must beat the runner-up code by this much
_LATEST = dt.date.max


class CountryResult(NamedTuple):
    """One normalised place.

    code: ISO alpha-2, region code, ``MULTI`` or ``UNK``.
    region: region label on the date asked for (the latest membership if none).
    method: empty | alias | name | code | flag | prefix | list | fuzzy | unmatched |
        route (origin of ``A → B``) | vendor_listings (see :func:`resolve_truncations`).
    reason: why the result is ``UNK`` (None otherwise; ``partial_list`` for a list
        with unresolved parts).
    codes: the resolved parts (one element unless ``MULTI``).
    eu: EU membership on the date (None when unknown, worldwide or mixed).
    """

    code: str
    region: str
    method: str
    reason: str | None
    codes: tuple[str, ...] = ()
    eu: bool | None = None


class Step(NamedTuple):
    """How one item of a text was resolved (see :func:`explain_country`).

    text: the item (the whole text unless it is a list); code: its code (``MULTI:...``
    for a list alias written without separators); method: as in
    :class:`CountryResult`; note: the alias table's note (the reason for ``UNK``),
    the matched key for ``fuzzy``, None otherwise.
    """

    text: str
    code: str
    method: str
    note: str | None


class _Hit(NamedTuple):
    code: str
    continent: str  # ISO continent; "" for region codes and UNK
    method: str
    reason: str | None
    note: str | None = None  # country_aliases.csv note (alias and prefix hits)


class _Place(NamedTuple):
    """Date-independent resolution of one text (cached)."""

    code: str
    method: str
    reason: str | None
    parts: tuple[tuple[str, str], ...]  # (code, continent) per distinct part
    steps: tuple[Step, ...] = ()  # how each item was resolved


# --------------------------------------------------------------------------- tables


def _data_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("dnmarkets").joinpath("data", name).read_text(encoding="utf-8")
    reader = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]


def _date_or_none(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


class _Tables:
    """ISO table and the lookup structures built from both data files.

    In country_aliases.csv, ``NA``, ``SA`` and ``AF`` mean the regions; an alias
    of Namibia, Saudi Arabia or Afghanistan is written ``ISO:NA`` etc.
    """

    def __init__(self) -> None:
        self.iso: dict[str, dict] = {}
        for row in _data_rows("iso3166.csv"):
            self.iso[row["alpha2"]] = {
                "name": row["name"],
                "continent": row["region"],
                "eu_joined": _date_or_none(row["eu_joined"]),
                "eu_left": _date_or_none(row["eu_left"]),
            }
            if row["region"] not in _CONTINENT_LABEL:
                raise ValueError(f"iso3166.csv: unknown region {row['region']!r}")
        self.exact: dict[str, _Hit] = {}
        self.prefix: list[tuple[str, _Hit]] = []
        for alpha2, info in self.iso.items():
            self.exact[text_key(info["name"])] = _Hit(alpha2, info["continent"], "name", None)
        for row in _data_rows("country_aliases.csv"):
            variant = row["raw_variant"]
            hit = self._alias_hit(row["code"], row.get("note") or "", variant)
            if variant.endswith("*"):
                self.prefix.append((text_key(variant[:-1]), hit._replace(method="prefix")))
                continue
            key = text_key(variant)
            if not key:
                raise ValueError(f"country_aliases.csv: variant {variant!r} has an empty key")
            previous = self.exact.get(key)
            if previous and previous.method == "alias" and previous[:2] != hit[:2]:
                raise ValueError(
                    f"country_aliases.csv: {variant!r} maps to {hit.code} and {previous.code}"
                )
            self.exact[key] = hit
        self.prefix.sort(key=lambda item: -len(item[0]))  # longest prefix first
        # the days on which some membership begins (a join, the day after a leave)
        self.eu_changes = sorted(
            {info["eu_joined"] for info in self.iso.values() if info["eu_joined"]}
            | {
                info["eu_left"] + dt.timedelta(days=1)
                for info in self.iso.values()
                if info["eu_left"]
            }
        )
        self.fuzzy_keys = sorted(k for k in self.exact if len(k) >= FUZZY_MIN_LENGTH - 1)

    def _alias_hit(self, code: str, note: str, variant: str) -> _Hit:
        if code.startswith("MULTI:"):  # a list written without separators: UKEU
            for part in code.removeprefix("MULTI:").split("+"):
                self._alias_hit(part, "", variant)  # each part must be a known code
            return _Hit(code, "", "alias", None, note or None)
        if code == UNKNOWN:
            return _Hit(UNKNOWN, "", "alias", note or "unspecified", note or None)
        if code in REGION_CODES:
            return _Hit(code, "", "alias", None, note or None)
        iso = code.removeprefix("ISO:")
        if iso in self.iso and (iso == code) != (iso in REGION_CODES):
            return _Hit(iso, self.iso[iso]["continent"], "alias", None, note or None)
        raise ValueError(f"country_aliases.csv: unknown code {code!r} for {variant!r}")


@functools.cache
def _tables() -> _Tables:
    return _Tables()


def iso_table() -> pd.DataFrame:
    """The embedded ISO table: alpha2, name, region (continent), eu_joined, eu_left."""
    rows = [{"alpha2": k, **v} for k, v in _tables().iso.items()]
    frame = pd.DataFrame(rows).rename(columns={"continent": "region"})
    return frame[["alpha2", "name", "region", "eu_joined", "eu_left"]]


# --------------------------------------------------------------------------- keys

_TAG_RE = re.compile(r"<[^>]*>")
_NON_ALNUM_RE = re.compile(r"[\W_]+")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def text_key(text: str) -> str:
    """Comparison key: no tags, accents, case, whitespace or punctuation."""
    if text.isascii() and "&" not in text and "<" not in text:
        # no entity, tag or accent (the alias and ISO tables' every line, most crawled
        # values): only case and punctuation to drop, without the Unicode decomposition
        return _NON_ALNUM_RE.sub("", text.lower())
    text = _TAG_RE.sub(" ", html.unescape(text))
    return _NON_ALNUM_RE.sub("", _strip_accents(text).casefold())


# --------------------------------------------------------------------------- resolution


def _exact(key: str) -> _Hit | None:
    exact = _tables().exact
    bare = key.removeprefix("the")
    for candidate in (key, bare, key.removesuffix("only"), bare.removesuffix("only")):
        if candidate and candidate in exact:
            return exact[candidate]
    return None


def _fuzzy(key: str) -> _Hit | None:
    """Best fuzzy match if unambiguous; UNK ``ambiguous_fuzzy`` on a tie of two codes."""
    if len(key) < FUZZY_MIN_LENGTH:
        return None
    tables = _tables()
    best: dict[tuple[str, str], tuple[float, str]] = {}  # (code, continent) -> (ratio, key)
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(key)
    for cand in tables.fuzzy_keys:
        matcher.set_seq1(cand)
        if matcher.real_quick_ratio() < FUZZY_MIN_RATIO or matcher.quick_ratio() < FUZZY_MIN_RATIO:
            continue
        ratio = matcher.ratio()
        target = tables.exact[cand][:2]
        if ratio >= FUZZY_MIN_RATIO and ratio > best.get(target, (0.0, ""))[0]:
            best[target] = (ratio, cand)
    if not best:
        return None
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
    if len(ranked) > 1 and ranked[1][1][0] > ranked[0][1][0] - FUZZY_MIN_MARGIN:
        return _Hit(UNKNOWN, "", "fuzzy", "ambiguous_fuzzy", "ambiguous_fuzzy")
    matched = ranked[0][1][1]
    return tables.exact[matched]._replace(method="fuzzy", note=f"closest key {matched!r}")


def _resolve_single(raw: str) -> _Hit | None:
    """Steps 2-4 for one item (no list splitting, no fuzzy)."""
    key = text_key(raw)
    if not key:
        return None
    hit = _exact(key)
    if hit:
        return hit
    stripped = _TAG_RE.sub("", raw).strip()
    iso = _tables().iso
    if re.fullmatch(r"[A-Z]{2}", stripped) and stripped in iso:
        return _Hit(stripped, iso[stripped]["continent"], "code", None)
    for prefix, prefix_hit in _tables().prefix:
        if key.startswith(prefix):
            return prefix_hit
    return None


_LIST_SPLIT_RE = re.compile(r"[,;/|&+\n]+|\s+(?:and|or|und|et|y)\s+", re.IGNORECASE)


def _split_and_or(key: str, depth: int = 0) -> list[str] | None:
    """Split a space-less key such as 'ukandireland' at 'and'/'or' if all parts resolve."""
    if depth > 4:
        return None
    for word in ("and", "or"):
        start = key.find(word, 1)
        while start != -1:
            left, right = key[:start], key[start + len(word) :]
            if left and right and _exact(left):
                rest = [right] if _exact(right) else _split_and_or(right, depth + 1)
                if rest:
                    return [left, *rest]
            start = key.find(word, start + 1)
    return None


def _parts(raw: str) -> list[str]:
    """List items of a raw text."""
    text = _TAG_RE.sub(" ", html.unescape(raw))
    pieces = [p.strip() for p in _LIST_SPLIT_RE.split(text) if p and p.strip()]
    out: list[str] = []
    for piece in pieces:
        if _resolve_single(piece):
            out.append(piece)
            continue
        split = _split_and_or(text_key(piece))
        out.extend(split if split else [piece])
    return out


_FLAG_RE = re.compile("[\U0001f1e6-\U0001f1ff]{2}")


def _flag_parts(raw: str) -> list[tuple[str, str]]:
    """(code, continent) of flag emoji (pairs of regional indicators) in the text."""
    parts = []
    for flag in _FLAG_RE.findall(raw):
        code = "".join(chr(ord(ch) - 0x1F1E6 + ord("A")) for ch in flag)
        if code == "EU":
            parts.append(("EU", ""))
        elif code == "UK":
            parts.append(("GB", _continent("GB")))
        elif code in _tables().iso:
            parts.append((code, _continent(code)))
    return parts


def _continent(code: str) -> str:
    return _tables().iso[code]["continent"]


_ROUTE_RE = re.compile(r"\s*(?:\u2192|->)\s*")


def split_route(raw: str | None) -> tuple[str, str] | None:
    """``(origin, destination)`` of a route text such as Dream's ``NL  → EU``, else None.

    Dream Market's ``ships_from_to`` column joins both fields with an arrow
    (``→``; ``->`` is accepted too). The text is split at the first arrow.
    """
    if not raw or not isinstance(raw, str):
        return None
    pieces = _ROUTE_RE.split(raw, maxsplit=1)
    if len(pieces) != 2:
        return None
    return pieces[0].strip(), pieces[1].strip()


def _expand(hit: _Hit) -> tuple[tuple[str, str], ...]:
    """(code, continent) parts of a hit; a ``MULTI:`` alias gives several."""
    if not hit.code.startswith("MULTI:"):
        return ((hit.code, hit.continent),)
    iso = _tables().iso
    return tuple(
        (c, "")
        if c in REGION_CODES
        else (c.removeprefix("ISO:"), iso[c.removeprefix("ISO:")]["continent"])
        for c in hit.code.removeprefix("MULTI:").split("+")
    )


def _step(text: str, hit: _Hit | None) -> Step:
    if hit is None:
        return Step(text.strip(), UNKNOWN, "unmatched", "unmatched")
    return Step(text.strip(), hit.code, hit.method, hit.note or hit.reason)


@functools.lru_cache(maxsize=200_000)
def _resolve(raw: str) -> _Place:
    route = split_route(raw)
    if route is not None:  # "NL  → EU": a route stands for its origin
        origin = _resolve(route[0])
        if origin.code == UNKNOWN:
            return origin
        return origin._replace(method="route")
    flags = _flag_parts(raw)
    if flags:  # "🇸🇪 Sweden": the flag counts as one more list item
        rest = _resolve(_FLAG_RE.sub(" ", raw))
        parts = tuple(dict.fromkeys([*flags, *rest.parts]))
        steps = tuple(Step(code, code, "flag", None) for code, _ in flags)
        if rest.method != "empty":
            steps += rest.steps
        if len(parts) == 1:
            method = "flag" if rest.code == UNKNOWN else rest.method
            return _Place(parts[0][0], method, None, parts, steps)
        return _Place(MULTI, "list", None, parts, steps)
    if not text_key(raw):
        return _Place(UNKNOWN, "empty", "empty", (), (Step(raw, UNKNOWN, "empty", "empty"),))
    hit = _resolve_single(raw)
    if hit is None:
        parts = _parts(raw)
        if len(parts) > 1:
            hits = [_resolve_single(p) or _fuzzy(text_key(p)) for p in parts]
            steps = tuple(_step(p, h) for p, h in zip(parts, hits, strict=True))
            resolved = [part for h in hits for part in (_expand(h) if h else ((UNKNOWN, ""),))]
            if any(code != UNKNOWN for code, _ in resolved):
                distinct = tuple(dict.fromkeys(resolved))
                if len(distinct) == 1:
                    return _Place(distinct[0][0], "list", None, distinct, steps)
                unresolved = any(code == UNKNOWN for code, _ in distinct)
                reason = "partial_list" if unresolved else None
                return _Place(MULTI, "list", reason, distinct, steps)
        hit = _fuzzy(text_key(raw))
    steps = (_step(raw, hit),)
    if hit is None:
        return _Place(UNKNOWN, "unmatched", "unmatched", (), steps)
    if hit.code == UNKNOWN:
        return _Place(UNKNOWN, hit.method, hit.reason, (), steps)
    parts = _expand(hit)
    if len(parts) > 1:
        return _Place(MULTI, hit.method, None, parts, steps)
    return _Place(parts[0][0], hit.method, None, parts, steps)


def explain_country(raw: str | None) -> tuple[Step, ...]:
    """How `raw` is resolved, item by item (one :class:`Step` unless it is a list).

    For audits: which alias (and its note, e.g. ``joke seen on Agora``) or which
    fuzzy guess produced the code. A route (``NL  → EU``) is explained by its origin.
    """
    if raw is None or (isinstance(raw, float) and np.isnan(raw)) or raw is pd.NA:
        raw = ""
    route = split_route(str(raw))
    return _resolve(route[0] if route else str(raw)).steps


# --------------------------------------------------------------------------- dates and EU


def _as_date(value) -> dt.date:
    # NaT is a datetime too
    if (
        value is None
        or value is pd.NaT
        or (not isinstance(value, dt.date | str) and pd.isna(value))
    ):
        return _LATEST
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def _iso_eu(code: str, date: dt.date) -> bool | None:
    info = _tables().iso.get(code)
    if info is None:
        return None
    joined, left = info["eu_joined"], info["eu_left"]
    if joined is None:
        return False
    return joined <= date and (left is None or date <= left)


def _part_eu(code: str, continent: str, date: dt.date) -> bool | None:
    if code == UNKNOWN:
        return None
    if not continent:
        return _REGION_CODE_INFO[code][1]
    return _iso_eu(code, date)


def eu_member(code: str | None, date=None) -> bool | None:
    """EU membership of an ISO code (or region code) on `date`.

    ``eu_joined`` is the first and ``eu_left`` the last day of membership, so the
    UK is a member on 2020-01-31 and not on 2020-02-01. `date` None means the
    membership in the table's latest state. Region ``EU`` is True, regions
    outside Europe False; ``EUROPE``, ``WW``, ``MULTI``, ``UNK`` and unknown codes
    give None. ``NA``/``SA``/``AF`` give False under either reading.
    """
    if not code:
        return None
    if code in _REGION_CODE_INFO:
        return _REGION_CODE_INFO[code][1]
    return _iso_eu(code, _as_date(date))


def _at_date(place: _Place, date: dt.date) -> CountryResult:
    codes = tuple(code for code, _ in place.parts)
    if place.code == UNKNOWN:
        return CountryResult(UNKNOWN, "Unknown", place.method, place.reason, (), None)
    flags = [_part_eu(code, continent, date) for code, continent in place.parts]
    if place.code == MULTI:
        if all(f is True for f in flags):
            region, eu = "EU", True
        else:
            region, eu = "Multiple", (False if all(f is False for f in flags) else None)
        return CountryResult(MULTI, region, place.method, place.reason, codes, eu)
    code, continent = place.parts[0]
    if continent:  # an ISO country
        region = "EU" if flags[0] else _CONTINENT_LABEL[continent]
        return CountryResult(code, region, place.method, place.reason, codes, flags[0])
    label, eu = _REGION_CODE_INFO[code]
    return CountryResult(code, label, place.method, place.reason, codes, eu)


def region_label(code: str, date=None) -> str:
    """Region label of one code on `date` (for ``NA``/``SA``/``AF`` the region wins)."""
    if code in _REGION_CODE_INFO:
        return _REGION_CODE_INFO[code][0]
    iso = _tables().iso
    if code in iso:
        place = _Place(code, "code", None, ((code, iso[code]["continent"]),))
        return _at_date(place, _as_date(date)).region
    return "Multiple" if code == MULTI else "Unknown"


# --------------------------------------------------------------------------- public API


def normalise_country(raw: str | None, date=None) -> CountryResult:
    """Normalise one ships-from/ships-to text; `date` sets the EU membership used."""
    if raw is None or (isinstance(raw, float) and np.isnan(raw)) or raw is pd.NA:
        raw = ""
    return _at_date(_resolve(str(raw)), _as_date(date))


RESULT_COLUMNS = ["code", "region", "method", "reason", "codes", "eu"]


def normalise_countries(
    values: pd.Series, dates=None, vendors=None, columns=tuple(RESULT_COLUMNS)
) -> pd.DataFrame:
    """Vectorised :func:`normalise_country`, aligned with `values`' index.

    `dates` is None, one date for all rows, or a sequence aligned with `values`.
    Only distinct (text, date) pairs are resolved, so millions of rows with a
    few thousand distinct texts take well under a second. Columns: code,
    region, method, reason (str, missing when resolved), codes (``,``-joined
    parts), eu (nullable boolean); `columns` names the ones to build. With
    `vendors` (aligned with `values`), truncated values are settled by the same
    vendor's other values, by the rule of :func:`resolve_truncations`.
    """
    values = pd.Series(values)
    if vendors is None:
        codes, results = _distinct_results(values, dates)
    else:
        codes, results, _ = _settled(values, pd.Series(vendors), dates)
    return _result_frame(results, codes, values.index, columns)


def _distinct_results(values: pd.Series, dates) -> tuple[np.ndarray, list[CountryResult]]:
    """The results of the distinct (text, period) pairs, and each row's code among them
    (see :func:`_periods`)."""
    period_codes, period_dates = _periods(dates)
    text_codes, text_dictionary = encode_text(values)
    texts = text_dictionary.to_pylist()
    if period_codes is None:  # the common case: one result per text
        return text_codes, [_at_date(_resolve(t), period_dates[0]) for t in texts]
    n = len(period_dates)
    codes, pairs = _numbered(text_codes * n + period_codes, len(texts) * n)
    results = [
        _at_date(_resolve(texts[t]), period_dates[d])
        for t, d in zip(*np.divmod(pairs, n), strict=True)
    ]
    return codes, results


def _periods(dates) -> tuple[np.ndarray | None, list[dt.date]]:
    """Per row, the code of its period (None when all rows are in one), and a day of
    each period. A date matters only for the EU memberships, which change on few days:
    the days between two changes (a period) give the same results."""
    changes = _tables().eu_changes
    if dates is None or isinstance(dates, dt.date | pd.Timestamp | str | np.datetime64):
        return None, [_as_date(dates)]
    if isinstance(dates, np.ndarray) and dates.dtype.kind == "M" and len(dates):
        if not np.isnat(dates).any():  # days of one period (a partition): not factorized
            low, high = _as_date(dates.min()), _as_date(dates.max())
            if bisect.bisect_right(changes, low) == bisect.bisect_right(changes, high):
                return None, [low]
    date_values = dates if isinstance(dates, np.ndarray | pd.Series) else list(dates)
    date_codes, uniq = pd.factorize(pd.Series(date_values), use_na_sentinel=False)
    days = [_as_date(d) for d in uniq] or [_LATEST]
    numbers = [bisect.bisect_right(changes, day) for day in days]
    first = {number: i for i, number in reversed(list(enumerate(numbers)))}
    if len(first) == 1:
        return None, days[:1]
    period = {number: k for k, number in enumerate(first)}
    of_day = np.array([period[number] for number in numbers], dtype=np.int64)
    return of_day[date_codes], [days[i] for i in first.values()]


def _numbered(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct values of integer keys in range(size), like pandas.factorize
    (but the distinct values sorted). A grid not much larger than the keys (some hundred
    texts times the crawl days of a partition) is numbered without hashing."""
    if size > 4 * len(keys) + 65_536:
        codes, uniques = pd.factorize(keys)
        return codes, uniques
    seen = np.zeros(size, dtype=bool)
    seen[keys] = True
    uniques = np.flatnonzero(seen)
    number = np.zeros(size, dtype=np.int64)
    number[uniques] = np.arange(len(uniques))
    return number[keys], uniques


def _result_frame(
    results: list[CountryResult], codes: np.ndarray, index: pd.Index, columns
) -> pd.DataFrame:
    """The `columns` of results[codes], taken per row in Arrow from their values per
    result (converting per-row object columns was most of the time)."""
    taken_at = pa.array(codes)
    values = {
        "code": lambda r: r.code,
        "region": lambda r: r.region,
        "method": lambda r: r.method,
        "reason": lambda r: r.reason,
        "codes": lambda r: ",".join(r.codes),
    }
    frame = {}
    for name in RESULT_COLUMNS:
        if name not in columns:
            continue
        if name == "eu":  # from numpy (converting Arrow booleans to pandas is slow)
            eu = np.array([bool(r.eu) for r in results], dtype=bool)
            unknown = np.array([r.eu is None for r in results], dtype=bool)
            frame[name] = pd.Series(
                pd.arrays.BooleanArray(eu[codes], unknown[codes]), index=index, copy=False
            )
        else:
            taken = pa.array([values[name](r) for r in results], type=pa.large_string())
            frame[name] = pd.Series(taken.take(taken_at), index=index, dtype="str")
    return pd.DataFrame(frame, index=index)


TRUNCATED = "truncated_ambiguous"
TRUNCATION_COLUMNS = [*RESULT_COLUMNS, "resolved_from_vendor", "vendor_candidates"]


def resolve_truncations(frame, value_col, vendor_col, date_col=None) -> pd.DataFrame:
    """Settle truncated ships-from values with the same vendor's other listings.

    ``resolve_truncations(frame, value_col, vendor_col, date_col=None)``: `frame`
    holds one listing per row, `value_col` its raw ships-from text, `vendor_col`
    the vendor and `date_col` (optional) the date for EU membership. Returns,
    aligned with `frame`'s index, the columns of :func:`normalise_countries` plus
    ``resolved_from_vendor`` (bool: the code was taken from the vendor's other
    listings) and ``vendor_candidates`` (the distinct codes the vendor's other
    listings offered for a truncated row, ``,``-joined; ``""`` on other rows).

    The rule. A value is *truncated* when the alias table says so (reason
    ``truncated_ambiguous``: Agora's ``u``, which could be the start of ``UK``/
    ``USA`` or the end of ``EU``). For such a row, the candidates are the codes of
    the same vendor's other ships-from values in `frame` that (1) resolve to a
    single place (an ISO country or a region code, not ``MULTI``, not ``UNK``,
    not themselves truncated) and (2) are consistent with the truncated text:
    their comparison key (:func:`text_key`: no case, accents, spaces,
    punctuation or HTML) starts or ends with the truncated key. If exactly one
    distinct code remains, the row gets that code, method ``vendor_listings``,
    no reason and ``resolved_from_vendor`` True. Otherwise (no candidate, or
    several: ``UK`` and ``EU`` for ``u``) the row stays ``UNK`` with reason
    ``truncated_ambiguous`` and the candidates listed. Values that are explained
    rather than truncated are not touched: ``rland`` is Agora's ``Torland`` (the
    Tor network) with "To" deleted by the parser, not a cut "Switzerland".

    Legacy form (used by ``clean.py``): ``resolve_truncations(raw, vendor,
    result, dates=None)`` with Series `raw` and `vendor`, `result` the output of
    :func:`normalise_countries` on `raw`; it returns `result` with the settled
    rows replaced (same columns, same rule).
    """
    if isinstance(frame, pd.DataFrame) and isinstance(value_col, str):
        dates = None if date_col is None else frame[date_col].to_numpy()
        codes, results, settlements = _settled(frame[value_col], frame[vendor_col], dates)
        out = _result_frame(results, codes, frame.index, RESULT_COLUMNS)
        resolved = np.zeros(len(frame), dtype=bool)
        candidates = np.full(len(frame), "", dtype=object)
        for i, found, settled in settlements:
            candidates[i] = found
            resolved[i] = settled is not None
        out["resolved_from_vendor"] = resolved
        out["vendor_candidates"] = pd.array(candidates, dtype="str")
        return out[TRUNCATION_COLUMNS]
    raw, vendor, result, dates = frame, value_col, vendor_col, date_col
    out = result.copy()
    truncated = result["reason"].eq(TRUNCATED).fillna(False).to_numpy(dtype=bool)
    if not truncated.any():
        return out
    single = ~truncated & ~result["code"].isin([UNKNOWN, MULTI]).to_numpy(dtype=bool)
    cols = {col: out.columns.get_loc(col) for col in RESULT_COLUMNS}
    for i, _, settled in _settlements(pd.Series(raw), pd.Series(vendor), truncated, single, dates):
        if settled is None:
            continue
        for col in RESULT_COLUMNS:
            value = ",".join(settled.codes) if col == "codes" else getattr(settled, col)
            out.iloc[i, cols[col]] = value
    return out


def _settled(values: pd.Series, vendors: pd.Series, dates):
    """:func:`_distinct_results` with the truncated rows settled (each settled row gets a
    result of its own), and the settlements (see :func:`_settlements`)."""
    codes, results = _distinct_results(values, dates)
    truncated = np.array([r.reason == TRUNCATED for r in results], dtype=bool)
    if not truncated.any():  # the common case: no truncated value
        return codes, results, []
    truncated = truncated[codes]
    single = np.array([r.code not in (UNKNOWN, MULTI) for r in results], dtype=bool)[codes]
    settlements = _settlements(values, vendors, truncated, single & ~truncated, dates)
    for i, _, settled in settlements:
        if settled is not None:
            codes[i] = len(results)
            results.append(settled)
    return codes, results, settlements


def _settlements(raw: pd.Series, vendor: pd.Series, truncated: np.ndarray, single, dates):
    """Per truncated row (by position): (row, the candidate codes ``,``-joined, the
    settled result or None); `single` marks the rows resolved to one place."""
    todo = np.flatnonzero(truncated)
    raw = raw.reset_index(drop=True)
    vendor = vendor.reset_index(drop=True)
    # the other single-place values of the vendors that have a truncated value (their
    # rows found in Arrow, then their distinct (vendor, value) pairs in row order)
    vendors = pa.array(vendor.astype("str").array)
    wanted = pc.is_in(vendors, value_set=vendors.take(pa.array(todo)))
    rows = np.flatnonzero(single & wanted.to_numpy(zero_copy_only=False))
    pairs = zip(vendor.take(rows).tolist(), raw.take(rows).tolist(), strict=True)
    options: dict[object, dict[str, tuple[str, str]]] = {}  # vendor -> key -> (code, continent)
    for who, value in dict.fromkeys(pairs):
        options.setdefault(who, {})[text_key(str(value))] = _resolve(str(value)).parts[0]
    out = []
    for i, date in zip(todo.tolist(), _dates_at(dates, todo), strict=True):
        key = text_key(str(raw.iat[i]))
        found = {
            part
            for other, part in options.get(vendor.iat[i], {}).items()
            if key and other != key and (other.startswith(key) or other.endswith(key))
        }
        settled = None
        if len(found) == 1:
            (part,) = found
            settled = _at_date(_Place(part[0], "vendor_listings", None, (part,)), date)
        out.append((i, ",".join(sorted(code for code, _ in found)), settled))
    return out


def _dates_at(dates, rows: np.ndarray) -> list[dt.date]:
    """The dates of the given rows (`dates`: None, one date or one per row)."""
    if dates is None:
        return [_LATEST] * len(rows)
    if np.ndim(dates) == 0:
        return [_as_date(np.asarray(dates, dtype=object).item())] * len(rows)
    return [_as_date(d) for d in pd.Series(dates).iloc[rows]]
