"""Markdown text for the report: escaping untrusted strings and pipe tables.

Table fragments and report variables carry strings scraped from hostile
websites (market names, vendor aliases, listing titles). `md_escape` turns any
string into Markdown that renders as exactly that text in HTML and in the PDF,
under pandoc and under Quarto: no emphasis, links, raw HTML, citations or
cross-references, no `{{< shortcodes >}}`, no Typst markup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

# Characters that can start Markdown syntax anywhere in a line (pandoc's Markdown,
# as read by Quarto): emphasis, code, links/spans/footnotes, attributes and
# shortcodes, raw HTML and autolinks, entities, math, sub/superscript and
# strikeout, citations and cross-references, table cells, smart quotes.
_ALWAYS = set("\\`*_{}[]<>&$^~@|\"'#")
# Syntax that only matters at the start of a line/block (lists, headings,
# block quotes, fenced divs, definition lists, table captions, title blocks).
_LEADING = set("-+=:%!")
_ORDERED_LIST = re.compile(r"^(\(?[0-9]+|\(?[A-Za-z])([.)])(\s|$)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def md_escape(text: object) -> str:
    """Escape `text` so that it renders literally as inline Markdown text.

    Whitespace runs (including newlines) become single spaces, so the result
    fits in a paragraph or a pipe-table cell.
    """
    s = "" if text is None else str(text)
    s = _CONTROL.sub("", s)
    s = re.sub(r"\s+", " ", s).strip()
    out = []
    for i, ch in enumerate(s):
        prev = s[i - 1] if i else ""
        nxt = s[i + 1] if i + 1 < len(s) else ""
        if ch in _ALWAYS:
            out.append("\\" + ch)
        elif i == 0 and ch in _LEADING:
            out.append("\\" + ch)
        elif ch == "-" and (prev == "-" or nxt == "-"):
            out.append("\\-")  # "--" and "---" would become dashes
        elif ch == "." and (prev == "." or nxt == "."):
            out.append("\\.")  # "..." would become an ellipsis
        else:
            out.append(ch)
    result = "".join(out)
    m = _ORDERED_LIST.match(result)
    if m:  # "1. x", "a) x" at the start would become a list
        result = m.group(1) + "\\" + m.group(2) + result[m.end(2) :]
    return result


def _is_missing(value) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain_cell(value) -> str:
    if _is_missing(value):
        return ""
    if isinstance(value, pd.Timestamp):
        if value == value.normalize() and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else str(value)
    return str(value)


_ALIGN = {
    "l": ":---",
    "left": ":---",
    "r": "---:",
    "right": "---:",
    "c": ":---:",
    "center": ":---:",
    "d": "---",
    "default": "---",
}
_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_:.-]*$")


def md_note_table(message: str) -> str:
    """A one-cell table saying why a result table is empty ("No row was quarantined."): the
    report keeps the table's number and caption, and a reader gets a row, not a bare header."""
    return md_table(pd.DataFrame({"Note": [message]}))


def md_table(
    df: pd.DataFrame,
    caption: str | None = None,
    label: str | None = None,
    align: Sequence[str] | Mapping[str, str] | str | None = None,
    formats: Mapping[str, str | Callable[[object], str]] | None = None,
) -> str:
    """A pipe table from a DataFrame, every header and cell escaped with `md_escape`.

    caption: plain text (escaped), written as Quarto's `: Caption {#label}`.
    label: cross-reference id, e.g. "tbl-markets" (cite it as `@tbl-markets`).
    align: per column "l"/"r"/"c" (a string like "lrr", a list, or a dict by
        column name); default: numeric columns right, others left.
    formats: per column a format string ("{:,.0f}") or a callable; other cells
        are written as given (str), missing values as empty cells.
    """
    if label is not None and not _LABEL.match(label):
        raise ValueError(f"invalid table label {label!r}")
    if label is not None and caption is None:
        raise ValueError(f"table {label!r}: a cross-referenced table needs a caption")
    formats = dict(formats or {})
    unknown = set(formats) - set(df.columns)
    if unknown:
        raise ValueError(f"formats for unknown column(s): {sorted(map(str, unknown))}")
    columns = list(df.columns)
    if align is None:
        aligns = [
            "r"
            if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
            else "l"
            for c in columns
        ]
    elif isinstance(align, Mapping):
        aligns = [align.get(c, "d") for c in columns]
    else:
        aligns = list(align)
    if len(aligns) != len(columns) or any(a not in _ALIGN for a in aligns):
        raise ValueError(f"align must give one of {sorted(_ALIGN)} per column, got {align!r}")

    def cell(col, value) -> str:
        fmt = formats.get(col)
        if fmt is None or _is_missing(value):
            return md_escape(_plain_cell(value))
        return md_escape(fmt(value) if callable(fmt) else fmt.format(value))

    header = [md_escape(c) for c in columns]
    rows = [
        [cell(c, v) for c, v in zip(columns, row, strict=True)]
        for row in df.itertuples(index=False, name=None)
    ]
    # Dashes in the separator line set the relative column widths when pandoc
    # wraps a wide table: size them by the widest cell and the longest word of
    # the header (headers wrap, short cells such as names and numbers should not).
    widths = [
        max([len(w) for w in header[j].split()] + [len(r[j]) for r in rows] + [3])
        for j in range(len(columns))
    ]
    widths = [min(w, 40) for w in widths]
    sep = []
    for a, w in zip(aligns, widths, strict=True):
        spec = _ALIGN[a]
        sep.append(
            spec[0] + "-" * w + spec[-1] if spec[0] == ":" or spec[-1] == ":" else "-" * (w + 2)
        )
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(sep) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    text = "\n".join(lines) + "\n"
    if caption is not None:
        text += "\n: " + md_escape(caption) + (f" {{#{label}}}" if label else "") + "\n"
    return text


# A spreadsheet reads a cell that starts with one of these as a formula ("CSV
# injection"): a scraped title "=HYPERLINK(...)" in a data link's CSV would run
# when a reader opens it. A number or an interval as the report shows it
# ("-1.5", "-35.7% (-46.7% to -22.5%)") is left as it is.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# a signed number, interval or estimate with its standard error, as the report shows
# them ("-1.5", "-46.7% to -22.5%", "+0.6 (0.2)", "-35.7% (95% CI -46.7%–-22.5%)"):
# digits, signs and punctuation, and the words "to", "CI", "USD"; no formula can run
# without a function name or a "|"/"!"
_SHOWN_NUMBER = re.compile(r"^[-+][0-9][0-9.,%()\s+\-–]*$")
_NUMBER_WORDS = re.compile(r"\b(?:to|CI|USD)\b")


def csv_safe(value: object) -> object:
    """`value` for a CSV a spreadsheet may open: a string that a spreadsheet would
    take for a formula gets a leading apostrophe (OWASP's advice); other values as given."""
    if not isinstance(value, str) or len(value) < 2 or not value.startswith(_FORMULA_START):
        return value
    if _SHOWN_NUMBER.match(_NUMBER_WORDS.sub(" ", value)):
        return value
    return "'" + value
