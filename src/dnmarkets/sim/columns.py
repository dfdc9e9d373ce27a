"""Text columns of the simulated files built per column in Arrow, not per row in Python.

Each kernel gives, value for value, the string of the per-value formatter it
replaces (``fmt_count``, ``fmt_btc``, ``fmt_eur``, ``fmt_usd``, the rating and
timestamp texts, ``alias_mess``) and ``csv_text`` the bytes that ``csv.writer``
writes, so the simulated files stay byte-identical (tests/sim/test_columns.py
compares them on random and edge values). Numbers are formatted from integers:
a value x with d decimals is ``rint(x * 10**d)``, which equals Python's correctly
rounded decimal formatting unless ``x * 10**d`` lies within 1e-6 of a half (or
is large, or negative); those few values are formatted by Python.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# exact powers of ten as floats (10**k is exactly representable up to k = 22)
_MAX_DEC = 15  # more decimals: Python formats the value
_POW10 = np.array([float(10**k) for k in range(_MAX_DEC + 1)])
_EXACT_LIMIT = 1e9  # below it x * 10**d is within 1.2e-7 of the exact product
_HALF_MARGIN = 1e-6


def strings(values) -> pa.Array:
    """A string array of Python strings (a list or an object array)."""
    return pa.array(values, type=pa.string())


def take(column: pa.Array, indices: np.ndarray) -> pa.Array:
    """The values at `indices` (a numpy integer array)."""
    return pc.take(column, pa.array(np.asarray(indices, dtype=np.int64)))


def assemble(parts: list[tuple[np.ndarray, pa.Array]], n: int) -> pa.Array:
    """A column of n rows from parts (rows, values) that cover every row once."""
    if not parts:
        return strings([])
    inverse = np.empty(n, dtype=np.int64)
    inverse[np.concatenate([rows for rows, _ in parts])] = np.arange(n)
    return take(pa.concat_arrays([values for _, values in parts]), inverse)


def _int_text(n: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(n, dtype=np.int64)), pa.string())


def _zero_padded(n: np.ndarray, width) -> pa.Array:
    """n (0 <= n < 10**width) with leading zeros to `width` digits (`width` per value)."""
    return pc.utf8_slice_codeunits(_int_text(n + 10 ** np.asarray(width, dtype=np.int64)), start=1)


def grouped_int(n: np.ndarray, sep: str) -> pa.Array:
    """Non-negative integers with `sep` between groups of three digits (f"{n:,}")."""
    n = np.asarray(n, dtype=np.int64)
    text = _int_text(n)
    big = n >= 1000
    if big.any():
        hi = grouped_int(n[big] // 1000, sep)
        joined = pc.binary_join_element_wise(hi, _zero_padded(n[big] % 1000, 3), sep)
        text = pc.replace_with_mask(text, pa.array(big), joined)
    return text


def counts_text(n: np.ndarray, thousands: bool) -> pa.Array:
    """`fmt_count` per value: integers, with thousands separators if the market uses them."""
    n = np.asarray(n, dtype=np.int64)
    if (n < 0).any():  # not produced by the simulator; Python's own formatting
        return strings([f"{v:,}" if thousands else str(v) for v in n.tolist()])
    return grouped_int(n, ",") if thousands else _int_text(n)


def signature_key(signature: list[np.ndarray]) -> np.ndarray:
    """One integer per row, equal for rows whose signature columns are all equal."""
    n = len(signature[0])
    key = np.zeros(n, dtype=np.int64)
    if not n:
        return key
    for col in signature:
        col = np.asarray(col)
        if col.dtype.kind in "biu" and col.min() >= 0:
            code, size = col.astype(np.int64), int(col.max()) + 1
        else:
            _, code = np.unique(col, return_inverse=True)
            size = int(code.max()) + 1
        if int(key.max()) + 1 > (2**62) // size:  # keep the mixed-radix key in int64
            _, key = np.unique(key, return_inverse=True)
        key = key * size + code
    return key


def by_signature(signature: list[np.ndarray], text_of: Callable[[int], str]) -> pa.Array:
    """Per row, `text_of(r)` of a representative row r with the same signature.

    The signature columns hold every value the per-row function's branches read
    (its thresholds crossed, not the raw draws), so the function runs once per
    distinct signature rather than once per row, and gives the same strings.
    """
    key = signature_key(signature)
    if not key.size:
        return strings([])
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    texts = strings([text_of(r) for r in first.tolist()])
    return pc.take(texts, pa.array(inverse))


_INT_FORMAT = re.compile(r"([^{}]*)\{:(?:0(\d+))?d\}")


def int_format(fmt: str, n: np.ndarray) -> pa.Array:
    """`fmt.format(v)` per value, for formats "<prefix>{:d}" and "<prefix>{:0Nd}"."""
    n = np.asarray(n, dtype=np.int64)
    match = _INT_FORMAT.fullmatch(fmt)
    if match is None or (n < 0).any():
        return strings([fmt.format(v) for v in n.tolist()])
    prefix, width = match.group(1), match.group(2)
    text = _int_text(n)
    if width:
        short = n < 10 ** int(width)
        text = pc.if_else(pa.array(short), _zero_padded(np.where(short, n, 0), int(width)), text)
    return pc.binary_join_element_wise(prefix, text, "") if prefix else text


def _py_decimal(x: float, dec: int, group: str, point: str) -> str:
    text = format(x, f"{',' if group else ''}.{dec}f")
    return text.translate({ord(","): group, ord("."): point})


def decimal_text(x: np.ndarray, dec, group: str = "", point: str = ".") -> pa.Array:
    """x with `dec` decimals (a number or one per value), `point` as the decimal point and
    `group` (if any) between thousands: f"{x:,.{dec}f}" with the separators swapped."""
    x = np.asarray(x, dtype=float)
    dec = np.broadcast_to(np.asarray(dec, dtype=np.int64), x.shape)
    short = dec <= _MAX_DEC
    dec_ok = np.where(short, dec, 0)
    scaled = x * _POW10[dec_ok]
    with np.errstate(invalid="ignore"):
        whole = np.floor(scaled)
        ok = (
            short
            & (x >= 0)
            & (scaled < _EXACT_LIMIT)
            & (np.abs(scaled - whole - 0.5) > _HALF_MARGIN)
            & np.isfinite(scaled)
        )
    units = np.where(ok, np.rint(np.where(ok, scaled, 0.0)), 0).astype(np.int64)
    scale = 10**dec_ok
    ints = units // scale
    int_text = grouped_int(ints, group) if group else _int_text(ints)
    frac_text = _zero_padded(units % scale, dec_ok)
    text = pc.binary_join_element_wise(int_text, frac_text, point)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        fixed = [_py_decimal(float(x[i]), int(dec[i]), group, point) for i in bad.tolist()]
        text = pc.replace_with_mask(text, pa.array(~ok), strings(fixed))
    return text


def _prefixed(prefix: np.ndarray, before: pa.Array, after: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(prefix, dtype=bool)), before, after)


def usd_text(x: np.ndarray, dollar: np.ndarray) -> pa.Array:
    """`fmt_usd` per value: "$1,234.50" or "USD 1,234.50"."""
    number = decimal_text(x, 2, group=",")
    return _prefixed(
        dollar,
        pc.binary_join_element_wise("$", number, ""),
        pc.binary_join_element_wise("USD", number, " "),
    )


def eur_text(x: np.ndarray, prefix: np.ndarray) -> pa.Array:
    """`fmt_eur` per value: "EUR 1.234,50" or "1.234,50 €"."""
    number = decimal_text(x, 2, group=".", point=",")
    return _prefixed(
        prefix,
        pc.binary_join_element_wise("EUR", number, " "),
        pc.binary_join_element_wise(number, "€", " "),
    )


def btc_decimals(x: np.ndarray) -> np.ndarray:
    """Decimals of a BTC amount: at least 5, and at least 4 significant digits."""
    x = np.asarray(x, dtype=float)
    dec = np.full(x.shape, 5, dtype=np.int64)
    pos = np.flatnonzero(x > 0)
    lg = np.log10(x[pos])
    dec[pos] = np.maximum(5, 3 - np.floor(lg)).astype(np.int64)
    # numpy's log10 may differ from math.log10 by one unit in the last place: next to
    # a power of ten, ask math.log10 (what fmt_btc uses)
    near = np.flatnonzero(np.abs(lg - np.rint(lg)) < 1e-9)
    if near.size:
        dec[pos[near]] = [max(5, 3 - math.floor(math.log10(v))) for v in x[pos[near]].tolist()]
    return dec


def btc_text(x: np.ndarray, prefix: np.ndarray) -> pa.Array:
    """`fmt_btc` per value: "BTC 0.0123" (trailing zeros dropped) or "0.012300 BTC"."""
    number = decimal_text(x, btc_decimals(x))
    trimmed = pc.utf8_rtrim(pc.utf8_rtrim(number, characters="0"), characters=".")
    return _prefixed(
        prefix,
        pc.binary_join_element_wise("BTC", trimmed, " "),
        pc.binary_join_element_wise(number, "BTC", " "),
    )


def rating_text(r: np.ndarray, price_style: str) -> pa.Array:
    """The vendor rating as the market shows it (out of 5 with two decimals, or percent)."""
    if price_style == "usd":
        return decimal_text(r, 2)
    if price_style == "eur":
        return decimal_text(r, 2, point=",")
    # int(round(r * 20)): Python's round of the product is half-to-even, as rint
    return pc.binary_join_element_wise(_int_text(np.rint(np.asarray(r) * 20)), "%", "")


@cache
def _clock() -> pa.Array:
    """ "HH:MM:SS" for every second of a day."""
    s = np.arange(86400, dtype=np.int64)
    parts = [_zero_padded(s // 3600, 2), _zero_padded((s // 60) % 60, 2), _zero_padded(s % 60, 2)]
    return pc.binary_join_element_wise(*parts, ":")


def timestamps(date: str, secs: np.ndarray) -> pa.Array:
    """f"{date} HH:MM:SS" for seconds of the day (0 to 86399)."""
    secs = np.asarray(secs, dtype=np.int64)
    if secs.size and (secs.min() < 0 or secs.max() > 86399):
        raise ValueError("timestamps: seconds outside the day")
    return pc.binary_join_element_wise(date, pc.take(_clock(), pa.array(secs)), " ")


def iso_dates(start, days: np.ndarray) -> pa.Array:
    """ISO dates `days` after the date `start`."""
    base = np.datetime64(start, "D")
    return strings((base + np.asarray(days, dtype=np.int64)).astype(str).astype(object))


def alias_mess_text(aliases: pa.Array, u: np.ndarray) -> pa.Array:
    """`alias_mess` per value: lower or upper case, or spaces around, by the draw `u`."""
    if not pc.all(pc.string_is_ascii(aliases)).as_py():  # str.lower/upper beyond ASCII
        from dnmarkets.sim.texts import alias_mess

        return strings(
            [alias_mess(a, v) for a, v in zip(aliases.to_pylist(), u.tolist(), strict=True)]
        )
    choices = np.select([u < 0.25, u < 0.4, u < 0.7, u < 0.85], [0, 1, 2, 3], 4)
    forms = [
        pc.ascii_lower(aliases),
        pc.ascii_upper(aliases),
        pc.binary_join_element_wise(" ", aliases, " ", ""),
        pc.binary_join_element_wise(aliases, " ", ""),
        pc.binary_join_element_wise("  ", aliases, ""),
    ]
    return pc.choose(pa.array(choices.astype(np.int8)), *forms)


def blank_where(column: pa.Array, blank: np.ndarray) -> pa.Array:
    """The column with "" where `blank`."""
    return pc.if_else(pa.array(blank), "", column)


def csv_field(column: pa.Array) -> pa.Array:
    """csv.writer's QUOTE_MINIMAL with "\\n" line ends: quote values holding a comma, a
    quote, a newline or a carriage return, doubling their quotes. Python 3.13's writer
    quotes a carriage return too; 3.11's and 3.12's write it bare, which a CSV reader
    takes for a line end (RFC 4180 asks for it quoted)."""
    need = pc.match_substring_regex(column, '[,"\r\n]')
    if not pc.any(need).as_py():
        return column
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
    return pc.if_else(need, quoted, column)


def _header_text(header: list[str]) -> str:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(header)
    return text.getvalue()


def csv_text(header: list[str], fields: list[pa.Array]) -> bytes:
    """The UTF-8 bytes csv.writer writes for the header and the rows of these columns of
    CSV fields (`csv_field` of string columns without nulls; two or more columns)."""
    head = _header_text(header).encode("utf-8")
    if len(fields) < 2:
        raise ValueError("csv_text: needs two or more columns")
    n = len(fields[0])
    if not n:
        return head
    if any(c.null_count for c in fields):
        raise ValueError("csv_text: a column holds nulls")
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*fields, ","), "", "\n")
    # the values of a string array sit back to back in its data buffer
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    first, last = int(offsets[lines.offset]), int(offsets[lines.offset + n])
    return head + lines.buffers()[2].slice(first, last - first).to_pybytes()
