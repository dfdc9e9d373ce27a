"""Quantities from listing titles: (quantity, unit) with unit in {g, ml, unit}.

Conservative: when a title admits two readings the answer is None.

Rules, in order:

1. Products ``N x M<mass>`` and ``M<mass> x N`` (``10 x 100mg``, ``3.5g x 2``):
   the total mass ``N * M`` in grams (``10 x 100mg`` -> 1 g) or millilitres.
   With a microgram dose (``10 x 150ug`` of LSD) the answer is ``N`` units.
   Several products with different totals -> None.
2. Counts ``50 tabs``, ``100 pills``, ``10 blotters``, ``5 caps``, ``10x`` ...
   -> ``N`` units (a per-pill strength such as ``2mg`` elsewhere in the title
   is a dose, not the quantity). Different counts, or a count next to a bulk
   mass (``5g + 10 tabs``) -> None.
3. Masses and volumes: ``3.5g``, ``3,5 g``, ``100mg``, ``28 grams``, ``1kg``,
   ``1 kilo``, ``1oz`` (28.35 g), ``1/4 oz``, ``half oz``, ``1lb``, ``5ml``,
   ``1l`` (1000 ml). All mentions must agree within 2 % (``28g (1oz)``), else
   None. Not answered:
   micrograms without a count (a dose), milligram amounts in a title that
   names a dose form without a count (``Xanax bars 2mg``), lone milligram
   amounts below 50 mg (a tablet strength such as ``Oxycodone 30mg``).

Numbers: a comma or point followed by one or two digits is decimal
(``3,5 g``); followed by exactly three digits it is ambiguous (``1,000g``,
``2.500g``) and the mention is not used for masses (for counts it groups
thousands: ``1,000 pills``).

:func:`parse_quantity` (``_parse``) is the reference. The cleaning calls
:func:`title_quantities`, which reads most titles in Arrow's RE2
(:func:`arrow_quantities`: titles whose answer provably depends only on a few
mentions beside at most one product or fraction, answered by ``_parse``'s rules on
those alone, restated in numpy) and parses the others;
tests/clean/test_quantity_gates.py checks both against the reference.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dnmarkets.clean.text import factorize_text

GRAMS_PER_OUNCE = 28.349523125
GRAMS_PER_POUND = 453.59237

_MASS_UNITS = {
    # unit token -> (unit, factor)
    "kg": ("g", 1000.0),
    "kgs": ("g", 1000.0),
    "kilo": ("g", 1000.0),
    "kilos": ("g", 1000.0),
    "kilogram": ("g", 1000.0),
    "kilograms": ("g", 1000.0),
    "kilogramm": ("g", 1000.0),
    "g": ("g", 1.0),
    "gr": ("g", 1.0),
    "grs": ("g", 1.0),
    "gram": ("g", 1.0),
    "grams": ("g", 1.0),
    "gramm": ("g", 1.0),
    "gramme": ("g", 1.0),
    "grammes": ("g", 1.0),
    "mg": ("g", 1e-3),
    "mgs": ("g", 1e-3),
    "milligram": ("g", 1e-3),
    "milligrams": ("g", 1e-3),
    "ug": ("ug", 1e-6),
    "μg": ("ug", 1e-6),
    "mcg": ("ug", 1e-6),
    "microgram": ("ug", 1e-6),
    "micrograms": ("ug", 1e-6),
    "oz": ("g", GRAMS_PER_OUNCE),
    "ozs": ("g", GRAMS_PER_OUNCE),
    "ounce": ("g", GRAMS_PER_OUNCE),
    "ounces": ("g", GRAMS_PER_OUNCE),
    "lb": ("g", GRAMS_PER_POUND),
    "lbs": ("g", GRAMS_PER_POUND),
    "ml": ("ml", 1.0),
    "mls": ("ml", 1.0),
    "milliliter": ("ml", 1.0),
    "milliliters": ("ml", 1.0),
    "millilitre": ("ml", 1.0),
    "millilitres": ("ml", 1.0),
    "l": ("ml", 1000.0),
    "liter": ("ml", 1000.0),
    "liters": ("ml", 1000.0),
    "litre": ("ml", 1000.0),
    "litres": ("ml", 1000.0),
}
_COUNT_WORDS = (
    r"tabs?|tablets?|tabz|pills?|blotters?|caps|capsules?|hits?|pcs|pieces?|units?"
    r"|squares?|bars?|strips?|seeds?|vials?|ampoules?|amps"
)
_DOSE_FORM_RE = re.compile(rf"(?<![a-z])(?:{_COUNT_WORDS})(?![a-z])")

_UNIT_ALT = "|".join(sorted((re.escape(u) for u in _MASS_UNITS), key=len, reverse=True))
_NUM = r"(?:\d+(?:[.,]\d+)?|[.,]\d+)"  # also ".5g", ".25 gram" (leading-dot decimals)
_START = r"(?<![\w.,])"
_END = r"(?![a-z0-9])"
_MASS = rf"(?P<m>{_NUM})\s*(?P<u>{_UNIT_ALT}){_END}"

_PRODUCT_RES = (
    re.compile(rf"{_START}(?P<n>\d+)\s*[x*]\s*{_MASS}"),
    re.compile(rf"{_START}{_MASS}\s*[x*]\s*(?P<n>\d+){_END}(?!\s*[.,]?\d)"),
)
_FRACTION_UNITS = "oz|ozs|ounces?|lbs?|kg|kilos?|g|grams?"
_FRACTION_RE = re.compile(rf"{_START}(?P<a>\d+)\s*/\s*(?P<b>\d+)\s*(?P<u>{_FRACTION_UNITS}){_END}")
_WORD_FRACTION_RE = re.compile(
    r"(?<![a-z])(?P<f>half|quarter)\s+(?:an?\s+)?(?P<u>oz|ounce|lb|pound|kilo|kg)(?![a-z])"
)
_COUNT_RE = re.compile(
    rf"{_START}(?P<n>\d+(?:[.,]\d{{3}})*)\s*(?:x\s*)?(?:{_COUNT_WORDS}){_END}"
    rf"|{_START}(?P<nx>\d+)\s*x(?![a-z0-9])(?!\s*\d)"
)
_MASS_RE = re.compile(rf"{_START}{_MASS}")
# what either product needs: a count before "x"/"*" or after it
_PRODUCT_HINT_RE = re.compile(r"\d\s*[x*]|[x*]\s*\d")

_WORD_FRACTIONS = {"half": 0.5, "quarter": 0.25}
_WORD_UNITS = {
    "oz": GRAMS_PER_OUNCE,
    "ounce": GRAMS_PER_OUNCE,
    "lb": GRAMS_PER_POUND,
    "pound": GRAMS_PER_POUND,
    "kilo": 1000.0,
    "kg": 1000.0,
}
MIN_LONE_MG = 50.0
_SMALL_UNITS = frozenset({"mg", "mgs", "milligram", "milligrams"})  # lone ones: a dose
# every rule needs a digit followed by a letter, x, * or / (or the words half/quarter)
_HINT_RE = re.compile(r"\d\s*[a-zμ*/]|half|quarter")


MAX_NUMBER = 1e12  # far above any real quantity or count; larger ones are not parsed


class Quantity(NamedTuple):
    quantity: float
    unit: str  # g | ml | unit


def _number(text: str) -> float | None:
    """Decimal number; None when a single separator is followed by three digits."""
    whole, sep, frac = text.replace(",", ".").partition(".")
    whole = whole or "0"
    if sep and len(frac) == 3 and int(whole) != 0:
        return None
    value = float(f"{whole}.{frac}" if sep else whole)
    # a 400-digit "mass" is infinite as a float: no quantity, not an infinite one
    return value if value <= MAX_NUMBER else None


_GROUPED_RE = re.compile(r"\d{1,3}(?:[.,]\d{3})+")


def _count(text: str) -> int | None:
    # isdecimal is fullmatch(r"\d+") (Unicode decimal digits) without a regex call
    if text.isdecimal():
        value = int(text)
    elif _GROUPED_RE.fullmatch(text):
        value = int(re.sub(r"[.,]", "", text))
    else:
        return None
    return value if value <= MAX_NUMBER else None  # (as in _number: no float overflow)


def _normalise(title: str) -> str:
    if title.isascii():  # NFKC leaves ASCII as it is, and casefold is lower there
        return title.lower()
    text = unicodedata.normalize("NFKC", title).casefold()
    return text.replace("×", "x").replace("⁄", "/").replace("µ", "μ")


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _close(a: float, b: float) -> bool:
    """``np.isclose(a, b, rtol=0.02)`` for two floats (the same formula, including
    infinities and NaN), without numpy's cost per call."""
    return (abs(a - b) <= 1e-08 + 0.02 * abs(b) and math.isfinite(b)) or a == b


def _agree(values: list[Quantity]) -> Quantity | None:
    if not values:
        return None
    first = values[0]
    for other in values[1:]:
        if other.unit != first.unit or not _close(other.quantity, first.quantity):
            return None
    return first


@functools.lru_cache(maxsize=500_000)
def _parse(title: str) -> Quantity | None:
    text = _normalise(title)
    if not _HINT_RE.search(text):
        return None
    # 1. products
    products: list[Quantity] = []
    spans: list[tuple[int, int]] = []
    # each pattern needs its literal (a digit next to x or *, /, half or quarter): a
    # title without it skips the pattern (a third of the parse time)
    for pattern in _PRODUCT_RES if _PRODUCT_HINT_RE.search(text) else ():
        for match in pattern.finditer(text):
            if any(s < match.end() and match.start() < e for s, e in spans):
                continue
            spans.append(match.span())
            mass, n = _number(match["m"]), _count(match["n"]) or 0
            unit, factor = _MASS_UNITS[match["u"]]
            if mass is None or n == 0 or mass == 0:
                return None
            if unit == "ug":
                products.append(Quantity(float(n), "unit"))
            else:
                products.append(Quantity(n * mass * factor, unit))
    rest = _blank(text, spans) if spans else text
    masses: list[Quantity] = []
    mass_units: list[str] = []
    if "/" in rest:
        for match in _FRACTION_RE.finditer(rest):
            a, b = int(match["a"]), int(match["b"])
            if b == 0 or a == 0 or a >= b * 10:
                return None
            unit, factor = _MASS_UNITS[match["u"]]
            masses.append(Quantity(a / b * factor, unit))
            mass_units.append(match["u"])
        rest = _FRACTION_RE.sub(lambda m: " " * len(m.group(0)), rest)
    if "half" in rest or "quarter" in rest:
        for match in _WORD_FRACTION_RE.finditer(rest):
            masses.append(Quantity(_WORD_FRACTIONS[match["f"]] * _WORD_UNITS[match["u"]], "g"))
            mass_units.append(match["u"])
        rest = _WORD_FRACTION_RE.sub(lambda m: " " * len(m.group(0)), rest)
    counts: list[int] = []
    for match in _COUNT_RE.finditer(rest):
        n = _count(match["n"] or match["nx"])
        if n is None or n == 0:
            return None
        counts.append(n)
    for match in _MASS_RE.finditer(rest):
        value = _number(match["m"])
        if value is None or value == 0:
            return None
        unit, factor = _MASS_UNITS[match["u"]]
        masses.append(Quantity(value * factor, unit))
        mass_units.append(match["u"])
    if products:
        total = _agree(products)
        if total is None:
            return None
        # other masses must repeat the total or the per-unit mass: keep it simple, agree with total
        others = [m for m in masses if m.unit != "ug"]
        if others and _agree([total, *others]) is None:
            return None
        return total
    if counts:
        # a count with a strength (100 pills 2mg) is a count; with a bulk mass it is a bundle
        bulk = [u for u in mass_units if _MASS_UNITS.get(u, ("g", 1.0))[1] >= 1.0]
        if len(set(counts)) > 1 or bulk:
            return None
        return Quantity(float(counts[0]), "unit")
    if not masses:
        return None
    if any(m.unit == "ug" for m in masses):
        return None
    result = _agree(masses)
    if result is None:
        return None
    small_units = all(u in _SMALL_UNITS for u in mass_units)
    if small_units and (_DOSE_FORM_RE.search(rest) or result.quantity * 1000 < MIN_LONE_MG):
        return None
    return result


def parse_quantity(title: str | None) -> Quantity | None:
    """(quantity, unit) from a listing title, or None when absent or ambiguous."""
    if not isinstance(title, str) or not title:
        return None
    return _parse(title)


# Titles with at most MAX_MENTIONS quantity mentions, answered from a short canonical
# title in Arrow's RE2 (most distinct drug titles: "Cocaine 1g", "28g Shatter (90%
# THC)", "1oz (28g)", "Xanax 2mg bars", "100 pills", "10x Tesla 220mg", "Top 10
# weed", "UK/EU 5g"). Lowered printable-ASCII titles (so \s is a space) where no
# fraction, word fraction, product or count "10xtabs" can match (_RE2_SKIPPED: each
# match of those patterns of _parse contains a match of one of its alternatives; "a/b"
# without a fraction unit after it is no fraction: "Norco 10/325mg" is read here).
# Every other mass or count match of _parse is at a "live" number (_LIVE_RE): a digit
# followed by spaces and a unit or count word as a whole word, or by spaces and an "x"
# before no letter or digit ("10x", "10 x tabs"; never before a number here: that
# would be a product). The answer of _parse then depends only on the live numbers,
# each a whole run of digits, "." and "," not preceded by a letter, digit or "_" (the
# patterns' look-behind), their words ("x" with the count word after it), in order,
# and whether the title names a dose form; so it is _parse of the canonical title
# "<number> <word>; ...[; tabs]" (the same matches and counts, the same dose form),
# computed in numpy (_mention_answers). Other titles take _parse.
_RE2_WORD_FRACTION = (
    r"(?:^|[^a-z])(?:half|quarter) +(?:an? +)?(?:oz|ounce|lb|pound|kilo|kg)(?:[^a-z]|$)"
)
_RE2_FRACTION_SITE = rf"[0-9] */ *[0-9]+ *(?:{_FRACTION_UNITS})(?:[^a-z0-9]|$)"
_RE2_PRODUCT_SITES = "|".join(
    (
        r"[0-9] *[x*] *[.,]?[0-9]",  # product "N x M<unit>"
        rf"[0-9] *(?:{_UNIT_ALT}) *[x*] *[0-9]",  # product "M<unit> x N"
        rf"[0-9] *x(?:{_COUNT_WORDS})",  # count "10xtabs"
    )
)
_RE2_SKIPPED = f"{_RE2_FRACTION_SITE}|{_RE2_WORD_FRACTION}|{_RE2_PRODUCT_SITES}"
# the words of _COUNT_WORDS ("tabs?" is "tab" and "tabs") and the ASCII mass units
_COUNT_TOKENS = [
    t for w in _COUNT_WORDS.split("|") for t in ((w[:-2], w[:-1]) if w.endswith("s?") else (w,))
]
_LIVE_TOKENS = sorted(
    {*_COUNT_TOKENS, *(t for t in _MASS_UNITS if t.isascii())}, key=lambda t: (-len(t), t)
)
_TOKEN_ALT = "|".join(_LIVE_TOKENS)
# a live number (both kinds in one pattern: a digit before "x" is never before a token)
_LIVE_RE = rf"[0-9] *(?:{_TOKEN_ALT}|x)(?:[^a-z0-9]|$)"
_RE2_DOSE_FORM = rf"(?:^|[^a-z])(?:{_COUNT_WORDS})(?:[^a-z]|$)"
MAX_MENTIONS = 3
_WORD = rf"{_TOKEN_ALT}|x(?: +(?:{_COUNT_WORDS}))?"


def _mentions_re(word: str, k: int) -> str:
    """k live numbers as whole runs, in order (each match in a title with k of them),
    followed by `word`; the character between two can end one and start the next
    ("1g 2g")."""
    mentions = (rf"(?P<n{i}>[0-9.,]*[0-9]) *(?P<w{i}>{word})" for i in range(k))
    return (
        "(?:^|[^0-9a-z_.,])"
        + r"(?:[^a-z0-9_.,]|[^a-z0-9].*[^0-9a-z_.,])".join(mentions)
        + "(?:[^a-z0-9]|$)"
    )


_MENTIONS_RE = {k: _mentions_re(_WORD, k) for k in range(1, MAX_MENTIONS + 1)}
# Two or three mentions: one at a time, each in the text after the one before (RE2's
# submatch pass over the ".*" between two mentions costs with the size of the pattern).
# In a title with k live numbers the k mentions of _MENTIONS_RE[k] are its only ones:
# the first mention is the first match, each next one the first match after it (its
# number after a character that is no letter, digit, "_", "." or ","; that character
# may end the one before: "1g 2g").
_MENTION_AND_AFTER_RE = tuple(
    rf"{before}(?P<n>[0-9.,]*[0-9]) *(?P<w>{_WORD})(?P<after>[^a-z0-9].*|)$"
    for before in ("(?:^|[^0-9a-z_.,])", "[^0-9a-z_.,]")
)

# Titles whose only digits are one product ("10 x 100mg MDMA", "Soma 350mg X 90"): the
# product pattern of _parse matches there (the number is not preceded by a letter,
# digit, "_", "." or ",", the unit is a whole word: "10mgx5" is none), and no other
# pattern can (no other digit) but a word fraction once the product is blanked ("half
# 10 x 1g oz": checked in the text around it), so the answer is _parse of that product
# alone ("N x M unit", "M unit x N"; "x" for "*").
_RE2_NUM = "[0-9]+(?:[.,][0-9]+)?|[.,][0-9]+"  # _NUM
# A title with one product ("10 x 100mg MDMA", "Soma 350mg X 90 (2 strips)") and no
# other product or fraction: _parse reads the product, blanks it and reads counts and
# masses in the rest, read here as a title of its own (as beside a fraction, below).
# The product patterns of _parse in whole titles (`pre` and `post` around it; the first
# one with the shortest `pre`: the first match of _parse): the number not preceded by a
# letter, digit, "_", "." or ",", the unit a whole word ("10mgx5" is none), the count
# after "M unit x" followed by no number (checked in `post`). A second product (or a
# fraction) of _parse is in the rest, which then takes _parse.
_PRE = "^(?P<pre>|.*?[^0-9a-z_.,])"
_POST = "(?P<post>[^a-z0-9].*|)$"
_RE2_PRODUCTS = (
    f"{_PRE}(?P<n>[0-9]+) *[x*] *(?P<m>{_RE2_NUM}) *(?P<u>{_UNIT_ALT}){_POST}",
    f"{_PRE}(?P<m>{_RE2_NUM}) *(?P<u>{_UNIT_ALT})(?: *\\*| +x) *(?P<n>[0-9]+){_POST}",
)
_RE2_NUMBER_AFTER = r"^ *[.,]?[0-9]"  # (the look-ahead after the second one's count)
# ... and in a title without a product, a letter after an "x" before a number, where
# _parse's count pattern (its look-ahead) sees none: nor does _LIVE_RE then. No other
# match of _parse changes (none looks at the character after an "x" there; "x" and
# "q" are both letters to the one after it; no unit or count word starts with "q").
_RE2_X_BEFORE_NUMBER = (r"x( *[0-9])", r"xq\1")
# A title with one fraction and no product or word fraction ("1/2 oz (14g)", "3.5g
# (1/8 oz)"): _parse blanks the fraction, then reads counts and masses in the rest,
# which is read here as a title of its own (the text around the fraction, joined by a
# space: every later pattern reads a run of spaces as one) with the fraction as its
# first mass (_fraction_readings). One site of the fraction pattern (_RE2_FRACTION_SITE
# is in every match) makes its whole-title match below _parse's only one (at most 15
# digits each: a/b exact, never 0).
_RE2_FRACTION = (
    r"^(?P<pre>|.*[^0-9a-z_.,])(?P<a>[0-9]{1,15}) */ *(?P<b>[0-9]{1,15}) *"
    rf"(?P<u>{_FRACTION_UNITS})(?P<post>[^a-z0-9].*|)$"
)
# So is a title with a word fraction and no fraction or product ("Quarter LB (114g)"):
# _parse blanks them after fractions; the first one here (the shortest `pre`), a
# second one is in the rest.
_RE2_WORD_FRACTION_APART = (
    r"^(?P<pre>|.*?[^a-z])(?P<f>half|quarter) +(?:an? +)?(?P<u>oz|ounce|lb|pound|kilo|kg)"
    r"(?P<post>[^a-z].*|)$"
)


class _StandIns(dict):
    """str.translate table: a non-ASCII character as _parse's patterns see it (after
    _normalise): a word character that is no digit as "_", a symbol as "#"; digits,
    spaces and "μ" have no stand-in ("\0")."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char.isascii():
            value = char
        elif char == "μ" or re.fullmatch(r"[\d\s]", char):
            value = "\0"
        else:
            value = "_" if re.fullmatch(r"\w", char) else "#"
        self[code] = value
        return value


_STAND_INS = _StandIns()


def _ascii_stand_in(title: str) -> str:
    """_normalise(title) with each non-ASCII character replaced by its stand-in: the
    same matches and answer in _parse (its patterns name no other non-ASCII character,
    and see one only as a word character or not); the title itself where a character
    has none."""
    text = _normalise(title).translate(_STAND_INS)
    return title if "\0" in text else text


# _parse of a canonical title ("<number> <word>; ...[; tabs]", or a product "N x M
# unit") restated per mention in numpy: most canonical titles are distinct (two or
# three mentions), their numbers and words are few. tests/clean/test_quantity_gates.py
# checks it against _parse of the canonical titles.
# A word is read as _parse's patterns read "<number> <word>" there: a count word
# (also "x tabs") after a count (_COUNT_RE's first alternative), "x" after digits (its
# second), a unit after a mass (_MASS_RE).
_COUNT_WORD, _X, _UNIT = range(3)
_COUNT_WORD_RE = re.compile(rf"(?:x +)?(?:{_COUNT_WORDS})")
_OUT_UNITS = np.array(["g", "ml", "ug", "unit"], dtype=object)
_UG, _COUNTED = 2, 3  # (codes in _OUT_UNITS)
_FULL_COUNT_RE = re.compile(r"\d+(?:[.,]\d{3})*")  # the count of _COUNT_RE's first alternative
_FULL_NUM_RE = re.compile(_NUM)


def _number_readings(number: str) -> tuple[float, float, float]:
    """A number as read before a count word, before "x" and before a unit (the word
    kinds, in order): NaN where the pattern does not match there, 0 where _parse gives
    up (no number, or zero)."""

    def reading(pattern, value) -> float:
        return (value(number) or 0.0) if pattern(number) else np.nan

    return (
        reading(_FULL_COUNT_RE.fullmatch, _count),
        reading(str.isdigit, _count),
        reading(_FULL_NUM_RE.fullmatch, _number),
    )


def _word_reading(word: str) -> tuple[int, float, int, bool]:
    """(kind, factor, unit code in _OUT_UNITS, a small unit) of a word."""
    if word == "x":
        return _X, np.nan, _COUNTED, False
    if _COUNT_WORD_RE.fullmatch(word):
        return _COUNT_WORD, np.nan, _COUNTED, False
    unit, factor = _MASS_UNITS[word]
    return _UNIT, factor, list(_OUT_UNITS).index(unit), word in _SMALL_UNITS


def _readings(numbers: list[pa.Array], words: list[pa.Array], rows: int):
    """Per row and mention (rows x len(numbers) arrays): the number's value as its
    word reads it (NaN: no mention, 0: _parse gives up), the word's kind, factor, unit
    code and whether it is a small unit; one Python call per distinct number and word."""

    def table(arrays, read):
        encoded = pa.concat_arrays(arrays).dictionary_encode()
        values = [read(v) for v in encoded.dictionary.to_pylist()]
        codes = encoded.indices.to_numpy(zero_copy_only=False).reshape(len(arrays), rows).T
        return [np.array(column)[codes] for column in zip(*values, strict=True)] if values else []

    if rows == 0 or not numbers:
        empty = np.zeros((rows, len(numbers)))
        return empty, empty.astype(int), empty, empty.astype(int), empty.astype(bool)
    kind, factor, unit, small = table(words, _word_reading)
    as_count, after_x, as_mass = table(numbers, _number_readings)
    value = np.choose(kind, [as_count, after_x, as_mass])
    return value, kind, factor, unit, small


def _first(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Per row, the value of the first column where `where` holds (any, where none)."""
    return values[np.arange(len(values)), np.argmax(where, axis=1)]


def _close_to(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """_close(a, b) of each column of `a` and the row's `b`."""
    b = b[:, None]
    return (np.abs(a - b) <= 1e-08 + 0.02 * np.abs(b)) & np.isfinite(b) | (a == b)


def _mention_answers(readings, dose):
    """(quantity, unit code in _OUT_UNITS; NaN and -1 for none) per row of a canonical
    title of mentions (their _readings) and `dose` ("; tabs" at its end: dose(rows) for
    the rows at `rows`, asked only where it decides): _parse's count and mass rules, in
    its order."""
    value, kind, factor, unit, small = readings
    read = ~np.isnan(value)
    given_up = (read & (value == 0)).any(axis=1)
    is_count, is_mass = read & (kind != _UNIT), read & (kind == _UNIT)
    mass = value * factor
    # counts: all the same, and no bulk mass beside them (a strength is allowed)
    count = _first(value, is_count)
    counted = is_count.any(axis=1) & ~given_up
    counted &= ~(is_count & (value != count[:, None])).any(axis=1)
    counted &= ~(is_mass & (factor >= 1.0)).any(axis=1)
    # masses (no count): no microgram, all agree with the first (_agree, _close)
    first, first_unit = _first(mass, is_mass), _first(unit, is_mass)
    agree = (~is_mass | ((unit == first_unit[:, None]) & _close_to(mass, first))).all(axis=1)
    massed = ~is_count.any(axis=1) & is_mass.any(axis=1) & ~given_up & agree
    massed &= ~(is_mass & (unit == _UG)).any(axis=1)
    # lone milligrams: a dose where the title names a dose form, or below MIN_LONE_MG
    lone_mg = (~is_mass | small).all(axis=1)
    massed &= ~(lone_mg & ((kind == _COUNT_WORD).any(axis=1) | (first * 1000 < MIN_LONE_MG)))
    undecided = np.flatnonzero(massed & lone_mg)
    massed[undecided] = ~dose(undecided)
    quantity = np.where(counted, count, np.where(massed, first, np.nan))
    return quantity, np.where(counted, _COUNTED, np.where(massed, first_unit, -1))


def _product_readings(n: pa.Array, m: pa.Array, u: pa.Array) -> np.ndarray:
    """Rows (count, mass, factor, unit code) of the products "n x m u" (or "m u x n"):
    count and mass as _parse reads them (0 where it gives up)."""
    x = pa.repeat(pa.scalar("x", u.type), len(u))
    value, _, factor, unit, _ = _readings([n, m], [x, u], len(u))
    return np.stack([value[:, 0], value[:, 1], factor[:, 1], unit[:, 1]])


def _product_answers(product: np.ndarray, readings):
    """As _mention_answers, for a product (_product_readings) beside mentions: its total
    mass (n units for a microgram dose), where every mass beside it but micrograms
    agrees with that total; counts beside it are not used."""
    count, mass, factor, unit = product
    ug = unit == _UG
    total = np.where(ug, count, count * mass * factor)
    total_unit = np.where(ug, _COUNTED, unit)
    value, kind, factor, unit, _ = readings
    read = ~np.isnan(value)
    valid = (count > 0) & (mass > 0) & ~(read & (value == 0)).any(axis=1)
    others = read & (kind == _UNIT) & (unit != _UG)
    agree = (unit == total_unit[:, None]) & _close_to(value * factor, total)
    valid &= (~others | agree).all(axis=1)
    return np.where(valid, total, np.nan), np.where(valid, total_unit, -1).astype(int)


def _fraction_readings(parts: pa.StructArray):
    """_readings of the fractions "a/b u" (fields of `parts`) as a first mention (a mass
    in grams; 0 where _parse gives up), one Python call per distinct fraction."""
    a, b, u = (parts.field(f) for f in "abu")

    def value(fraction: str) -> float:
        a, b = (int(part) for part in fraction.split("/"))
        return 0.0 if b == 0 or a == 0 or a >= b * 10 else a / b

    encoded = pc.binary_join_element_wise(a, b, u, "/").dictionary_encode()
    fractions = [f.rsplit("/", 1) for f in encoded.dictionary.to_pylist()]
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    values = np.array([value(f) for f, _ in fractions])[codes]
    factors = np.array([_MASS_UNITS[u][1] for _, u in fractions])[codes]
    rows = len(codes)
    return values, np.full(rows, _UNIT), factors, np.zeros(rows, int), np.zeros(rows, bool)


def _word_fraction_readings(parts: pa.StructArray):
    """_readings of the word fractions "f u" (fields of `parts`: "half oz") as a first
    mention (a mass in grams, a bulk one: _parse's factor 1 for "pound")."""
    encoded = pc.binary_join_element_wise(parts.field("f"), parts.field("u"), " ")
    encoded = encoded.dictionary_encode()
    words = [w.split(" ") for w in encoded.dictionary.to_pylist()]
    values = np.array([_WORD_FRACTIONS[f] * _WORD_UNITS[u] for f, u in words])
    rows = len(parts)
    values = values[encoded.indices.to_numpy(zero_copy_only=False)] if rows else np.zeros(0)
    return values, np.full(rows, _UNIT), np.ones(rows), np.zeros(rows, int), np.zeros(rows, bool)


def _set(out, at: np.ndarray, answers) -> None:
    """Set out (matched, quantity, unit) at rows `at` to answers (quantity, unit code)."""
    matched, quantity, unit = out
    matched[at] = True
    quantity[at] = answers[0]
    unit[at] = np.append(_OUT_UNITS, None)[answers[1]]


def _extract_mentions(texts: pa.Array, k: int):
    """The rows of `texts` (titles with k live numbers) that _MENTIONS_RE[k] matches,
    and its groups there: lists of the numbers and of the words, mention by mention."""
    if k == 1:
        parts = pc.extract_regex(texts, _MENTIONS_RE[1])
        found = parts.is_valid().to_numpy(zero_copy_only=False)
        parts = parts.filter(pa.array(found))
        return np.flatnonzero(found), [parts.field("n0")], [parts.field("w0")]
    rows, numbers, words = np.arange(len(texts)), [], []
    for i in range(k):
        parts = pc.extract_regex(texts, _MENTION_AND_AFTER_RE[min(i, 1)])
        found = parts.is_valid()
        rows = rows[found.to_numpy(zero_copy_only=False)]
        parts = parts.filter(found)
        numbers = [*(n.filter(found) for n in numbers), parts.field("n")]
        words = [*(w.filter(found) for w in words), parts.field("w")]
        texts = parts.field("after")
    return rows, numbers, words


def arrow_quantities(titles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(matched, quantity, unit) per title (a list or Arrow string array): the titles
    with at most MAX_MENTIONS quantity mentions, beside at most one product, fraction
    or word fraction (above), and their :func:`parse_quantity` (NaN and None for none);
    the others unmatched."""
    n = len(titles)
    out = matched, quantity, unit = np.zeros(n, dtype=bool), np.full(n, np.nan), np.full(n, None)
    if isinstance(titles, pa.ChunkedArray):
        titles = titles.combine_chunks()
    if not isinstance(titles, pa.Array):
        try:
            titles = pa.array(titles, type=pa.large_string())
        except (UnicodeError, pa.ArrowException):  # lone surrogates: all take _parse
            return out
    lower = pc.ascii_lower(titles).cast(pa.string())
    ascii_ = pc.fill_null(pc.string_is_ascii(titles), True)
    other = np.flatnonzero(~ascii_.to_numpy(zero_copy_only=False))
    if len(other):  # non-ASCII titles read as their ASCII stand-ins, where they have one
        texts = [_ascii_stand_in(t) for t in titles.take(pa.array(other)).to_pylist()]
        mask = np.zeros(n, dtype=bool)
        mask[other] = True
        lower = pc.replace_with_mask(lower, pa.array(mask), pa.array(texts, type=pa.string()))
    # not read as they are: a character outside printable ASCII, or a skipped pattern
    hard = pc.match_substring_regex(lower, f"[^\\x20-\\x7e]|{_RE2_SKIPPED}")
    hard = pc.fill_null(hard, True).to_numpy(zero_copy_only=False)
    # one fraction or product: read apart, and the title without it (`rests`) as a title
    fraction = [np.full(n, np.nan), np.full(n, _UNIT), np.full(n, np.nan), *np.zeros((2, n), int)]
    product = np.full((4, n), np.nan)
    at = np.flatnonzero(hard)
    some = lower.take(pa.array(at, type=pa.int64()))
    printable = pc.fill_null(pc.match_substring_regex(some, r"^[\x20-\x7e]*$"), False)
    at, some = at[printable.to_numpy(zero_copy_only=False)], some.filter(printable)
    sites = pc.count_substring_regex(some, _RE2_FRACTION_SITE).to_numpy(zero_copy_only=False)
    word = pc.match_substring_regex(some, _RE2_WORD_FRACTION).to_numpy(zero_copy_only=False)
    no_product = ~pc.match_substring_regex(some, _RE2_PRODUCT_SITES).to_numpy(zero_copy_only=False)
    at_rests, rests = [], []
    for one, pattern, read in (
        ((sites == 1) & ~word & no_product, _RE2_FRACTION, _fraction_readings),
        ((sites == 0) & word & no_product, _RE2_WORD_FRACTION_APART, _word_fraction_readings),
    ):
        parts = pc.extract_regex(some.filter(pa.array(one)), pattern)
        at_rests.append(at[one][parts.is_valid().to_numpy(zero_copy_only=False)])
        parts = parts.drop_null()
        rests.append(pc.binary_join_element_wise(parts.field("pre"), parts.field("post"), " "))
        for column, values in zip(fraction, read(parts), strict=True):
            column[at_rests[-1]] = values
    at = at[~no_product]
    for pattern in _RE2_PRODUCTS:  # (the second where the first has no match)
        parts = pc.extract_regex(lower.take(pa.array(at, type=pa.int64())), pattern)
        found = parts.is_valid().to_numpy(zero_copy_only=False)
        parts = parts.drop_null()
        alone = np.ones(len(parts), dtype=bool)
        if pattern == _RE2_PRODUCTS[1]:
            after = pc.match_substring_regex(parts.field("post"), _RE2_NUMBER_AFTER)
            alone = ~after.to_numpy(zero_copy_only=False)
            parts = parts.filter(pa.array(alone))
        at_rests.append(at[found][alone])
        rests.append(pc.binary_join_element_wise(parts.field("pre"), parts.field("post"), " "))
        product[:, at_rests[-1]] = _product_readings(*(parts.field(f) for f in "nmu"))
        at = at[~found]
    # no product at all (neither pattern matches): the title is read as it is, but for
    # an "x" before a number, which is no count in _parse ("900x 25I-NBOMe")
    at_rests.append(at)
    rests.append(pc.replace_substring_regex(lower.take(pa.array(at)), *_RE2_X_BEFORE_NUMBER))
    # the titles read below: those not skipped, and the rests not skipped (in that order)
    at_rest, rest = np.concatenate(at_rests), pa.concat_arrays(rests)
    plain_rest = pc.invert(pc.match_substring_regex(rest, _RE2_SKIPPED))
    plain = pa.array(~hard)
    at_plain = np.concatenate(
        [
            np.flatnonzero(plain.to_numpy(zero_copy_only=False)),
            at_rest[plain_rest.to_numpy(zero_copy_only=False)],
        ]
    )
    plain_lower = pa.concat_arrays([lower.filter(plain), rest.filter(plain_rest)])
    live = pc.count_substring_regex(plain_lower, _LIVE_RE).to_numpy(zero_copy_only=False).copy()
    none = live == 0
    none[none] = np.isnan(fraction[0][at_plain[none]]) & np.isnan(product[0][at_plain[none]])
    matched[at_plain[none]] = True  # no mention, fraction or product: None
    live[none] = -1
    for k in range(MAX_MENTIONS + 1):
        some = plain_lower.filter(pa.array(live == k))
        found, numbers, words = _extract_mentions(some, k) if k else (np.arange(len(some)), [], [])
        at = at_plain[live == k][found]
        # the canonical title "<number> <word>; ...[; tabs]", after the fraction or
        # product if there is one
        some = some.take(pa.array(found, type=pa.int64()))

        def dose(rows, some=some):
            dose_form = pc.match_substring_regex(some.take(pa.array(rows)), _RE2_DOSE_FORM)
            return dose_form.to_numpy(zero_copy_only=False)

        readings = _readings(numbers, words, len(at))
        beside = [np.column_stack([f[at], r]) for f, r in zip(fraction, readings, strict=True)]
        answers = _mention_answers(beside, dose)
        products = _product_answers(product[:, at], readings)
        of_product = ~np.isnan(product[0][at])
        _set(out, at, [np.where(of_product, p, a) for p, a in zip(products, answers, strict=True)])
    return matched, quantity, unit


def title_quantities(titles: list[str] | None, array: pa.Array | None = None):
    """:func:`parse_quantity` of each title (`array`: the same as an Arrow string array,
    if the caller has it; then `titles` may be None), as arrays of quantity (NaN for
    none) and unit (None for none): read by :func:`arrow_quantities`, or else parsed.
    Nothing is kept from one call to the next: each partition is cleaned in its own
    job, and a benchmark that cleans them in one process must not gain from what an
    earlier one parsed."""
    matched, quantity, unit = arrow_quantities(titles if array is None else array)
    rest = np.flatnonzero(~matched)
    # only the titles left are made Python strings, when the caller has no list
    texts = [titles[i] for i in rest] if array is None else array.take(pa.array(rest)).to_pylist()
    for i, text in zip(rest, texts, strict=True):
        parsed = parse_quantity(text)
        if parsed is not None:
            quantity[i], unit[i] = parsed
    return quantity, unit


def parse_quantities(titles: pd.Series) -> pd.DataFrame:
    """Vectorised :func:`parse_quantity` over distinct titles.

    Columns quantity (float64, NaN when none) and unit (str, missing when none),
    aligned with `titles`.
    """
    titles = pd.Series(titles)
    codes, uniques = factorize_text(titles)
    results = [parse_quantity(u) for u in uniques]
    table = pd.DataFrame(
        {
            "quantity": np.array([r.quantity if r else np.nan for r in results], dtype=float),
            "unit": pd.array([r.unit if r else None for r in results], dtype="str"),
        }
    )
    out = table.iloc[codes].reset_index(drop=True)
    out.index = titles.index
    return out
