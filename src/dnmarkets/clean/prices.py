"""Display prices to (currency, amount), and conversion to USD and EUR.

Accepted forms: a currency code or symbol before or after the number
(``USD 45.00``, ``$1,234.50``, ``1234.5 USD``, ``0.01230 BTC``, ``฿0.5``,
``45,50 €``, ``EUR 1.234,50``, ``1 234,56 EUR``, ``45,- €``), or a plain number
when the caller gives a default currency. Known currencies: USD, EUR, BTC
(the three the rates table can convert); anything else is ``unknown_currency``.

Separators (documented rules, applied in this order):

1. Groups separated by spaces (``1 234,56``) are thousands groups: every group
   after the first must have exactly three digits.
2. Both ``.`` and ``,`` present: the right-most one is the decimal separator,
   the other one groups thousands (groups of three digits, else unparseable).
3. One separator occurring several times (``1,234,567``): thousands.
4. One separator occurring once, followed by 1, 2 or 4+ digits: decimal
   (``1,23`` = 1.23, ``0.01230`` = 0.0123).
5. One separator followed by exactly three digits is ambiguous (``1,234``).
   It is decimal when the integer part is 0 (``0,123``) or the currency is BTC
   (BTC prices are small numbers); otherwise the caller's style decides
   (``decimal_comma=True``: a comma is decimal and a point groups thousands;
   ``False``: the reverse); without a style it is a thousands separator.

Failure reasons: ``empty``, ``unparseable``, ``unknown_currency`` (a currency
token not known, or no currency and no default), ``non_positive`` (the parsed
amount is returned with it).

Rates: a table with columns ``date, btc_usd, eur_usd``; ``btc_usd`` is USD per
BTC and ``eur_usd`` USD per EUR (the EUR/USD quote, about 1.06-1.20 in 2017).
They value a price in US dollars: a date without the rate its currency needs
uses the nearest earlier date with one, at most 7 days back; otherwise the
conversion fails with reason ``no_rate``.

Euros (one method, dnmarkets.sources.ecb): a price listed in EUR keeps its
amount; any other is converted from its USD value at the ECB euro reference
rate of the same day (the last rate published before it on weekends and
holidays). A day outside the ECB file raises ``NoEcbRate``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dnmarkets.clean.text import encode_text, strip_controls
from dnmarkets.sources.ecb import NoEcbRate, usd_per_eur

CURRENCIES = ("USD", "EUR", "BTC")
RATE_MAX_AGE_DAYS = 7

_CURRENCY_TOKENS = {
    "usd": "USD",
    "$": "USD",
    "us$": "USD",
    "usd$": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "eur": "EUR",
    "€": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "eur€": "EUR",
    "btc": "BTC",
    "฿": "BTC",
    "xbt": "BTC",
    "ƀ": "BTC",
    "bitcoin": "BTC",
    "bitcoins": "BTC",
}  # keys are casefolded


class PriceResult(NamedTuple):
    """currency and amount (None on failure); reason None on success."""

    currency: str | None
    amount: float | None
    reason: str | None


class PriceStyle(NamedTuple):
    """How a market displays prices: default currency of bare numbers, decimal comma."""

    default_currency: str | None = None
    decimal_comma: bool | None = None


class Conversion(NamedTuple):
    usd: float | None
    eur: float | None
    reason: str | None


# --------------------------------------------------------------------------- parsing

_SPACES_RE = re.compile(r"[\s\u00a0\u202f\u2009']+")
_NUMBER_CHARS = set("0123456789.,")
_SHAPE_RE = re.compile(
    r"^(?P<sign>[-+]?)\s*(?P<pre>[^\d\s.,+-]*?)\s*(?P<sign2>[-+]?)\s*"
    r"(?P<num>\d[\d.,\s\u00a0\u202f\u2009']*|[.,]\d+)\s*(?P<dash>[.,]-)?\s*"
    r"(?P<post>[^\d\s.,+-]*)\s*$"
)


def _currency(token: str) -> str | None | bool:
    """Currency code of a token; '' -> None; an unknown token -> False."""
    token = token.strip()
    if not token:
        return None
    return _CURRENCY_TOKENS.get(token.casefold(), False)


def _grouped(groups: list[str]) -> bool:
    """Thousands groups: first 1-3 digits, then exactly 3 each."""
    return (
        bool(groups)
        and 1 <= len(groups[0]) <= 3
        and all(len(g) == 3 for g in groups[1:])
        and all(g.isdigit() for g in groups)
    )


def parse_number(text: str, decimal_comma: bool | None = None, small: bool = False) -> float | None:
    """A non-negative number with thousands/decimal separators, by the module's rules.

    `small` marks amounts that are usually below 1000 (BTC), so that a single
    separator followed by three digits is read as decimal.
    """
    text = text.strip()
    if " " in text or "\u00a0" in text or "\u202f" in text or "\u2009" in text or "'" in text:
        groups = [g for g in _SPACES_RE.split(text)]
        last = groups[-1]
        # the last group may carry decimals: "1 234,56"
        head = re.match(r"^(\d{3})([.,]\d+)?$", last)
        if not head or not _grouped(groups[:-1] + [head.group(1)]):
            return None
        text = "".join(groups[:-1]) + last
    if not text or set(text) - _NUMBER_CHARS or not any(c.isdigit() for c in text):
        return None
    n_comma, n_point = text.count(","), text.count(".")
    if n_comma and n_point:
        dec = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if dec == "," else ","
        whole, _, frac = text.rpartition(dec)
        if thousands in frac or dec in whole or not frac.isdigit():
            return None
        if not _grouped(whole.split(thousands)):
            return None
        return _to_float(whole.replace(thousands, ""), frac)
    if not n_comma and not n_point:
        return _to_float(text, "")
    sep = "," if n_comma else "."
    parts = text.split(sep)
    if len(parts) > 2:
        return _to_float("".join(parts), "") if _grouped(parts) else None
    whole, frac = parts
    if not frac.isdigit() or (whole and not whole.isdigit()):
        return None
    if len(frac) != 3 or not whole:
        return _to_float(whole or "0", frac)
    # exactly three digits after a single separator: ambiguous
    if int(whole) == 0 or small:
        decimal = True
    elif decimal_comma is None:
        decimal = False
    else:
        decimal = (sep == ",") == decimal_comma
    if decimal:
        return _to_float(whole, frac)
    return _to_float(whole + frac, "") if len(whole) <= 3 else None


def _to_float(whole: str, frac: str) -> float | None:
    try:
        value = float(f"{whole or '0'}.{frac or '0'}")
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@functools.lru_cache(maxsize=500_000)
def _parse_cached(
    raw: str, default_currency: str | None, decimal_comma: bool | None
) -> PriceResult:
    # control and format characters (NUL, zero-width space) are scraper debris, not
    # part of the price: removed as in titles, so "USD\x005" is not an unknown currency
    text = strip_controls(unicodedata.normalize("NFKC", raw)).strip()
    if not text:
        return PriceResult(None, None, "empty")
    match = _SHAPE_RE.match(text)
    if not match:
        return PriceResult(None, None, "unparseable")
    pre, post = _currency(match["pre"]), _currency(match["post"])
    if pre is False or post is False:
        return PriceResult(None, None, "unknown_currency")
    if pre and post and pre != post:
        return PriceResult(None, None, "unparseable")
    if match["sign"] and match["sign2"]:
        return PriceResult(None, None, "unparseable")
    currency = pre or post or default_currency
    if currency is None:
        return PriceResult(None, None, "unknown_currency")
    if currency not in CURRENCIES:
        return PriceResult(None, None, "unknown_currency")
    number = match["num"].strip()
    amount = parse_number(number, decimal_comma, small=currency == "BTC")
    if amount is None:
        return PriceResult(None, None, "unparseable")
    if (match["sign"] or match["sign2"]) == "-":
        amount = -amount
    if amount <= 0:
        return PriceResult(currency, amount, "non_positive")
    return PriceResult(currency, amount, None)


def parse_price(
    raw: str | None, default_currency: str | None = None, decimal_comma: bool | None = None
) -> PriceResult:
    """Parse one display price; never raises on text input."""
    if raw is None or not isinstance(raw, str):
        if raw is None or (isinstance(raw, float) and math.isnan(raw)) or raw is pd.NA:
            return PriceResult(None, None, "empty")
        raw = str(raw)
    if default_currency is not None and default_currency not in CURRENCIES:
        raise ValueError(f"default_currency must be one of {CURRENCIES}: {default_currency!r}")
    return _parse_cached(raw, default_currency, decimal_comma)


# The bulk parsers below give codes, not strings, so that the callers count and take
# them per row in numpy: currency an index into CURRENCIES (-1: none), the decimal
# separator an index into _SEPS (0: none), the reason an index into PRICE_REASONS.
_SEPS = ("", ".", ",")
PRICE_REASONS = (None, "empty", "unparseable", "unknown_currency", "non_positive")


def _currency_code(currency: str | None) -> int:
    return CURRENCIES.index(currency) if currency else -1


class DistinctPrices(NamedTuple):
    """The parse of each distinct price, as codes: currency (index into CURRENCIES, -1
    none), amount (NaN none), reason (index into PRICE_REASONS, 0 success)."""

    currency: np.ndarray
    amount: np.ndarray
    reason: np.ndarray

    def rows(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reason, amount, currency) of each row, `codes[i]` being row i's distinct
        price: the amount NaN and the currency -1 where the price failed (reason not 0).
        Codes and numbers taken per row (no per-row strings or object comparisons)."""
        ok = self.reason == 0
        amount = np.where(ok, self.amount, np.nan)
        currency = np.where(ok, self.currency, -1).astype(np.int8)
        return self.reason[codes], amount[codes], currency[codes]

    def frame(self) -> pd.DataFrame:
        """The columns of :func:`parse_prices`: currency, amount, reason (str)."""
        names = np.array([*CURRENCIES, None], dtype=object)  # code -1: the last
        reasons = np.array(PRICE_REASONS, dtype=object)
        return pd.DataFrame(
            {
                "currency": pd.array(names[self.currency], dtype="str"),
                "amount": self.amount,
                "reason": pd.array(reasons[self.reason], dtype="str"),
            }
        )


# Common shapes parsed in bulk with pyarrow (RE2), without Python per value: one
# currency token and either plain digits with optional decimals (not exactly three
# digits: that case is ambiguous), or thousands groups with the other separator
# as decimal (``1,234.50``, ``1.234,50``). Everything else takes parse_price().
_FAST_RE = (
    r"^(?P<pre>USD|EUR|BTC|\$|€|฿)? ?"
    r"(?:(?P<int>[0-9]{1,12})(?:(?P<sep>[.,])(?P<frac>[0-9]{1,2}|[0-9]{4,12}))?"
    r"|(?P<gint>[0-9]{1,3}(?:,[0-9]{3})+)(?P<gsep>\.)(?P<gfrac>[0-9]{1,12})"
    r"|(?P<eint>[0-9]{1,3}(?:\.[0-9]{3})+)(?P<esep>,)(?P<efrac>[0-9]{1,12}))"
    r" ?(?P<post>USD|EUR|BTC|€|฿)?$"
)
_FAST_TOKENS = {"USD": "USD", "$": "USD", "EUR": "EUR", "€": "EUR", "BTC": "BTC", "฿": "BTC"}


def _unmatched(n: int) -> dict[str, np.ndarray]:
    return {
        "matched": np.zeros(n, bool),
        "currency": np.full(n, -1, np.int8),
        "amount": np.full(n, np.nan),
        "sep": np.zeros(n, np.int8),
    }


def _fast_parse(uniques: pa.Array | list[str]) -> dict[str, np.ndarray]:
    """matched (bool), currency, amount, sep (codes, see above) per value."""
    if isinstance(uniques, pa.Array):
        array = uniques
    else:
        try:
            array = pa.array(uniques, type=pa.string())
        except (UnicodeError, pa.ArrowException):  # e.g. lone surrogates: all take the slow path
            return _unmatched(len(uniques))
    # the commonest shape (digits, optional point decimals, a currency after them: all
    # of Agora's) by a match, a trim and a cast, which RE2 and Arrow run several times
    # faster than the extraction of the ten groups below; the others take the extraction
    simple = pc.match_substring_regex(array, _SIMPLE_RE).to_numpy(zero_copy_only=False)
    if simple.all() and len(array):
        return _simple_parse(array)
    if not simple.any():
        return _fast_parse_all(array)
    # the others (Agora's: the empty price) masked as missing in the simple parse, which
    # copies no value, then parsed on their own
    out = _simple_parse(_masked(array, simple))
    at = np.flatnonzero(~simple)
    for key, values in _fast_parse_all(array.take(pa.array(at))).items():
        out[key][at] = values
    return out


def _masked(array: pa.Array, keep: np.ndarray) -> pa.Array:
    """`array` with the values where `keep` is False missing (it shares the value buffers)."""
    valid = np.zeros(array.offset + len(array), dtype=bool)
    valid[array.offset :] = keep & array.is_valid().to_numpy(zero_copy_only=False)
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    buffers = [bitmap, *array.buffers()[1:]]
    return pa.Array.from_buffers(array.type, len(array), buffers, offset=array.offset)


_SIMPLE_RE = r"^[0-9]{1,12}(?:\.(?:[0-9]{1,2}|[0-9]{4,12}))? ?(?:USD|EUR|BTC|€|฿)$"
_SIMPLE_TOKENS = {"USD": "USD", "EUR": "EUR", "BTC": "BTC", "€": "EUR", "฿": "BTC"}
# in that shape the number is what is left when the token's characters and the space
# are trimmed, and the last byte names the token (the five tokens' last bytes differ)
_SIMPLE_TRIM = "".join(sorted(set("".join(_SIMPLE_TOKENS)))) + " "
_SIMPLE_CURRENCY_OF_LAST_BYTE = np.full(256, -1, np.int8)
_SIMPLE_CURRENCY_OF_LAST_BYTE[[token.encode()[-1] for token in _SIMPLE_TOKENS]] = [
    CURRENCIES.index(name) for name in _SIMPLE_TOKENS.values()
]


def _last_bytes(array: pa.Array) -> np.ndarray:
    """The last byte of each (non-empty) string, read from the array's buffers (a numpy
    gather, several times faster than Arrow's slice and look-up of each value)."""
    _, offsets, data = array.buffers()
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    ends = np.frombuffer(offsets, dtype=width)[array.offset + 1 : array.offset + len(array) + 1]
    return np.frombuffer(data, dtype=np.uint8)[ends - 1]


def _simple_parse(array: pa.Array) -> dict[str, np.ndarray]:
    """_fast_parse of values of the _SIMPLE_RE shape: the number is the text before the
    token (the same string the extraction joins, so the same float)."""
    number = pc.utf8_rtrim(array, characters=_SIMPLE_TRIM)
    # (missing values, masked by _fast_parse: no point, a NaN amount, a currency it replaces)
    has_point = pc.fill_null(pc.match_substring(number, "."), False).to_numpy(zero_copy_only=False)
    return {
        "matched": np.ones(len(array), dtype=bool),
        "currency": _SIMPLE_CURRENCY_OF_LAST_BYTE[_last_bytes(array)],
        "amount": pc.cast(number, pa.float64()).to_numpy(zero_copy_only=False).astype(float),
        "sep": has_point.astype(np.int8),  # 1: "."
    }


def _fast_parse_all(array: pa.Array) -> dict[str, np.ndarray]:
    array = array.cast(pa.string())  # the joins below take string, not large_string
    parts = pc.extract_regex(array, _FAST_RE)
    valid = parts.is_valid().to_numpy(zero_copy_only=False)

    def field(name: str) -> pa.Array:
        return pc.fill_null(parts.field(name), "")

    pre, post = field("pre"), field("post")
    whole = pc.binary_join_element_wise(
        field("int"),
        pc.replace_substring(field("gint"), ",", ""),
        pc.replace_substring(field("eint"), ".", ""),
        "",
    )
    frac = pc.binary_join_element_wise(field("frac"), field("gfrac"), field("efrac"), "")
    frac = pc.if_else(pc.equal(frac, ""), "0", frac)
    whole = pc.if_else(pc.equal(whole, ""), "0", whole)
    amount = pc.cast(pc.binary_join_element_wise(whole, frac, "."), pa.float64())
    sep = pc.binary_join_element_wise(field("sep"), field("gsep"), field("esep"), "")
    one_token = pc.not_equal(pc.equal(pre, ""), pc.equal(post, ""))
    token = pc.if_else(pc.equal(pre, ""), post, pre)
    # the currency of each token looked up in Arrow (no Python string per value)
    at = pc.index_in(token, value_set=pa.array(list(_FAST_TOKENS), type=token.type))
    codes = np.array([*(_currency_code(c) for c in _FAST_TOKENS.values()), -1], np.int8)
    return {
        "matched": valid & one_token.to_numpy(zero_copy_only=False),
        "currency": codes[pc.fill_null(at, len(_FAST_TOKENS)).to_numpy()],
        "amount": amount.to_numpy(zero_copy_only=False).astype(float),
        "sep": pc.index_in(sep, value_set=pa.array(_SEPS, type=sep.type)).to_numpy(),
    }


def _distinct_prices(values: pd.Series):
    """Codes, distinct values and their bulk parse (shared by style and parsing)."""
    # missing values as '': the distinct strings stay an Arrow array for the bulk parse
    codes, uniques = encode_text(values)
    return codes, uniques, _fast_parse(uniques)


def parse_prices(values: pd.Series, style: PriceStyle | None = None) -> pd.DataFrame:
    """Vectorised :func:`parse_price` over distinct values; columns currency (str),
    amount (float64), reason (str, missing on success), aligned with `values`."""
    values = pd.Series(values)
    codes, uniques, fast = _distinct_prices(values)
    return _per_row(_distinct_table(uniques, fast, style or PriceStyle()), codes, values.index)


def parse_market_prices(values: pd.Series, share: float = 0.9):
    """(style, table): :func:`infer_price_style` then :func:`parse_prices` with that
    style, parsing the distinct values once for both."""
    values = pd.Series(values)
    style, codes, distinct = parse_market_price_codes(values, share)
    return style, _per_row(distinct, codes, values.index)


def parse_market_price_codes(values: pd.Series, share: float = 0.9):
    """(style, codes, distinct): :func:`parse_market_prices` as the code of each value
    and the :class:`DistinctPrices` of the distinct values (``codes[i]`` is value i's),
    so that a caller can take what it needs per row without per-row string columns."""
    values = pd.Series(values)
    distinct = _distinct_prices(values)
    if values.isna().any():  # the style ignores missing prices: they would change the weights
        style = infer_price_style(values, share)
    else:
        style = _style_of(*distinct, share)
    codes, uniques, fast = distinct
    return style, codes, _distinct_table(uniques, fast, style)


def _per_row(distinct: DistinctPrices, codes: np.ndarray, index) -> pd.DataFrame:
    out = distinct.frame().iloc[codes].reset_index(drop=True)
    out.index = index
    return out


def _distinct_table(uniques: pa.Array, fast, style: PriceStyle) -> DistinctPrices:
    currency = fast["currency"].copy()
    amount = fast["amount"].copy()
    reason = np.where(amount > 0, 0, PRICE_REASONS.index("non_positive")).astype(np.int8)
    for i in np.flatnonzero(~fast["matched"]):
        result = parse_price(uniques[i].as_py(), style.default_currency, style.decimal_comma)
        currency[i] = _currency_code(result.currency)
        amount[i] = np.nan if result.amount is None else result.amount
        reason[i] = PRICE_REASONS.index(result.reason)
    return DistinctPrices(currency, amount, reason)


def _evidence(raw: str) -> tuple[str | None, str | None]:
    """Explicit currency of a price and the decimal separator it proves (if any)."""
    text = strip_controls(unicodedata.normalize("NFKC", raw)).strip()
    match = _SHAPE_RE.match(text)
    if not match:
        return None, None
    currency = _currency(match["pre"]) or _currency(match["post"]) or None
    num = _SPACES_RE.sub("", match["num"])
    sep = None
    if "," in num and "." in num:
        sep = "," if num.rfind(",") > num.rfind(".") else "."
    elif num.count(",") + num.count(".") == 1:
        frac = num.replace(",", ".").rpartition(".")[2]
        if frac.isdigit() and len(frac) != 3:
            sep = "," if "," in num else "."
    return (currency if currency in CURRENCIES else None), sep


def infer_price_style(values: pd.Series, share: float = 0.9) -> PriceStyle:
    """Guess a market's display convention from its prices.

    The default currency is the currency of at least `share` of the prices that
    name one; decimal_comma is True (False) when at least `share` of the prices
    whose decimal separator is certain use a comma (a point). Otherwise None.
    """
    return _style_of(*_distinct_prices(pd.Series(values).dropna()), share)


def _style_of(codes, uniques: pa.Array, fast, share: float) -> PriceStyle:
    currency = fast["currency"].copy()
    sep = fast["sep"].copy()
    for i in np.flatnonzero(~fast["matched"]):
        found, proved = _evidence(uniques[i].as_py())
        currency[i], sep[i] = _currency_code(found), _SEPS.index(proved or "")
    # prices per currency and per separator: each distinct value weighted by its rows
    weight = np.bincount(codes, minlength=len(uniques))
    currencies = np.bincount(currency + 1, weights=weight, minlength=len(CURRENCIES) + 1)[1:]
    seps = np.bincount(sep, weights=weight, minlength=len(_SEPS))
    default = None
    if currencies.sum():
        top = int(np.argmax(currencies))  # a tie goes to the first in CURRENCIES
        if currencies[top] >= share * currencies.sum():
            default = CURRENCIES[top]
    decimal_comma = None
    total = seps[1:].sum()
    if total:
        if seps[_SEPS.index(",")] >= share * total:
            decimal_comma = True
        elif seps[_SEPS.index(".")] >= share * total:
            decimal_comma = False
    return PriceStyle(default, decimal_comma)


# --------------------------------------------------------------------------- conversion


class Rates:
    """A rates table prepared for look-ups (daily dates, one series per column)."""

    def __init__(self, rates: pd.DataFrame) -> None:
        missing = {"date", "btc_usd", "eur_usd"} - set(rates.columns)
        if missing:
            raise ValueError(f"rates table lacks column(s) {sorted(missing)}")
        dates = pd.to_datetime(rates["date"], errors="coerce").to_numpy("datetime64[D]")
        self.series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for col in ("btc_usd", "eur_usd"):
            values = pd.to_numeric(rates[col], errors="coerce").to_numpy(dtype=float)
            ok = ~np.isnat(dates) & np.isfinite(values) & (values > 0)
            d, v = dates[ok], values[ok]
            order = np.argsort(d, kind="stable")
            d, v = d[order], v[order]
            # one value per date: the last row of a date wins
            keep = np.append(d[1:] != d[:-1], True) if len(d) else np.array([], dtype=bool)
            self.series[col] = (d[keep], v[keep])

    def lookup(self, column: str, dates) -> np.ndarray:
        """Rate on each date, or on the nearest earlier date <= 7 days back; NaN if none."""
        return self.lookup_days(column, _days(dates))

    def lookup_days(self, column: str, days: np.ndarray) -> np.ndarray:
        """:meth:`lookup` of days already as datetime64[D] (NaT: NaN)."""
        known, values = self.series[column]
        out = np.full(len(days), np.nan)
        if not len(known):
            return out
        idx = np.searchsorted(known, days, side="right") - 1
        valid = (idx >= 0) & ~np.isnat(days)
        safe = np.where(valid, idx, 0)
        age = (days - known[safe]).astype("timedelta64[D]").astype(np.int64)
        valid &= age <= RATE_MAX_AGE_DAYS
        out[valid] = values[safe[valid]]
        return out


def _days(dates) -> np.ndarray:
    return pd.to_datetime(pd.Series(dates), errors="coerce").to_numpy("datetime64[D]")


def _factorize_runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """pd.factorize of values that come in runs of equal ones (a partition's crawl days:
    one per file, the files in turn), hashing one value per run instead of per row."""
    starts, codes, uniques = _day_runs(values)
    return np.repeat(codes, np.diff(starts, append=len(values))), uniques


def _day_runs(dates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(where each run of equal dates starts, the run's code among the distinct dates,
    the distinct dates): pd.factorize by runs (missing: code -1). Datetimes are hashed
    one per run; other dates per row."""
    if isinstance(dates, np.ndarray) and dates.dtype.kind == "M":
        starts = _run_starts(dates)
        codes, uniques = pd.factorize(dates[starts])
        return starts, codes, uniques
    codes, uniques = pd.factorize(pd.Series(dates))
    starts = _run_starts(codes)
    return starts, codes[starts], uniques


def _run_starts(values: np.ndarray) -> np.ndarray:
    if not len(values):
        return np.zeros(0, dtype=np.intp)
    if values.dtype.kind == "M":  # compared as integers (NaTs then make one run: code -1)
        values = values.view(np.int64)
    return np.flatnonzero(np.append(True, values[1:] != values[:-1]))


def _as_rates(rates) -> Rates:
    return rates if isinstance(rates, Rates) else Rates(rates)


_CONVERSION_REASONS = (None, "unknown_currency", "no_rate", "no_amount")


def convert_many(amounts, currencies, dates, rates) -> pd.DataFrame:
    """Vectorised conversion; columns usd, eur (float64) and reason (``no_rate``,
    ``unknown_currency`` or missing)."""
    amounts = np.asarray(amounts, dtype=float)
    # the currencies as codes of their distinct names (a Categorical's own; missing: -1),
    # then as codes into CURRENCIES (an unknown name: -1, as a missing one)
    if isinstance(getattr(currencies, "dtype", None), pd.CategoricalDtype):
        currencies = pd.Categorical(currencies)
        codes, names = currencies.codes, currencies.categories
    else:
        codes, names = pd.factorize(pd.Series(currencies))
    known = np.array([_currency_code(n) if n in CURRENCIES else -1 for n in names] + [-1])
    currency = known.astype(np.int8)[codes]
    usd, eur = convert_coded(amounts, currency, dates, rates)
    # index into _CONVERSION_REASONS
    reason = np.where(np.isnan(usd), 2, 0).astype(np.int8)
    reason[currency < 0] = 1
    reason[(currency >= 0) & np.isnan(amounts)] = 3
    reasons = pa.array(_CONVERSION_REASONS, type=pa.large_string())
    return pd.DataFrame(
        {
            "usd": usd,
            "eur": eur,
            "reason": pd.Series(reasons.take(pa.array(reason)), dtype="str"),
        },
        copy=False,  # the columns are new arrays: no second copy
    )


def convert_coded(amounts, currency: np.ndarray, dates, rates) -> tuple[np.ndarray, np.ndarray]:
    """(usd, eur) of :func:`convert_many` (NaN where it gives a reason) for currencies
    given as codes into CURRENCIES (int8, -1: none or unknown): no names per row, and no
    reason column for a caller that has its own."""
    rates = _as_rates(rates)
    amounts = np.asarray(amounts, dtype=float)
    currency = np.asarray(currency)
    if np.ndim(dates) == 0 or isinstance(dates, str | dt.date):
        dates = [dates] * len(amounts)
    # the rates looked up once per distinct date (a partition has a few dozen), in the
    # order the dates first occur (missing: code -1); the rows' dates come in runs (one
    # crawl day per file, the files in turn), and what depends on the day alone is
    # worked out per run
    starts, run_days, day_values = _day_runs(dates)
    run_lengths = np.diff(starts, append=len(amounts))
    day_codes = np.repeat(run_days, run_lengths)
    days = _days(day_values)
    # USD per unit of each (currency, day) pair, taken per row by one flat index: row
    # 1 + the currency's code (row 0: none), column 1 + the day's code (column 0: none).
    # NaN: no currency, rate or day (a day is needed for the euro rate), so a finite USD
    # value is a conversion
    n_days = len(days) + 1
    per_unit = np.full((len(CURRENCIES) + 1, n_days), np.nan)
    per_unit[1 + _currency_code("USD"), 1:] = np.where(np.isnat(days), np.nan, 1.0)
    per_unit[1 + _currency_code("EUR"), 1:] = rates.lookup_days("eur_usd", days)
    per_unit[1 + _currency_code("BTC"), 1:] = rates.lookup_days("btc_usd", days)
    pair = (currency + 1).astype(np.intp)  # in place: a few array passes less
    pair *= n_days
    pair += day_codes
    pair += 1
    usd = amounts * per_unit.ravel().take(pair)
    ok = np.isfinite(usd)
    # euros: listed euros as listed; others from USD at the ECB rate of the day
    is_eur = currency == _currency_code("EUR")
    to_convert = ok & ~is_eur
    ecb = np.full(n_days, np.nan)  # code -1 (no day) takes the last
    if to_convert.any():
        # the ECB rates of the days converted
        used = np.zeros(n_days, dtype=bool)
        # (no code -1: converted rows have a day)
        used[run_days[np.logical_or.reduceat(to_convert, starts)]] = True
        used = np.flatnonzero(used)
        try:
            ecb[used] = usd_per_eur(days[used])
        except NoEcbRate:
            # asked again in the order the converted rows have the days, so that the
            # error names the day of the first such row outside the ECB file
            usd_per_eur(days[pd.unique(day_codes[to_convert])])
            raise
    eur = usd / np.repeat(ecb[run_days], run_lengths)
    eur[is_eur] = amounts[is_eur]
    usd[~ok] = np.nan
    eur[~ok] = np.nan
    return usd, eur


def convert(amount: float, currency: str, date, rates) -> Conversion:
    """Convert one amount to (usd, eur) at `date`; reason ``no_rate`` when no rate
    within 7 days before the date, ``unknown_currency`` for other currencies;
    NoEcbRate for a day outside the ECB file."""
    row = convert_many([amount], [currency], [date], rates).iloc[0]
    if isinstance(row["reason"], str):
        return Conversion(None, None, row["reason"])
    return Conversion(float(row["usd"]), float(row["eur"]), None)
