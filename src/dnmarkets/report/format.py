"""Numbers as the report prints them: significant digits, money, shares, days, and
a summary entry's value with its 95% interval (escaped Markdown)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from dnmarkets.report.mdtext import md_escape
from dnmarkets.report.wording import worded

CI_LABEL = "95% CI"
# The report's one minus sign, as matplotlib draws it on the figures (axes.unicode_minus);
# the renderer's filter turns a hyphen before a number in any other text into it too.
MINUS = "\u2212"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _sig(value: float, digits: int = 3) -> str:
    """`digits` significant digits, thousands separators, no exponent."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    rounded = round(value, decimals)
    if decimals <= 0:
        return f"{rounded:,.0f}"
    # rounding can carry into a new digit (9.996 -> 10.00): recompute once
    decimals = max(digits - 1 - math.floor(math.log10(abs(rounded))), 0) if rounded else decimals
    return f"{round(value, decimals):,.{decimals}f}"


def signed(value: float, decimals: int = 1) -> str:
    """A difference with its sign ("+0.8", "-1.6"); one that rounds to zero is "0.0",
    neither "-0.0" nor "+0.0" (a sign the rounded number does not have)."""
    text = f"{value:+.{decimals}f}"
    return text[1:] if float(text) == 0 else text


def _money(value: float, currency: str) -> str:
    size = abs(value)
    for threshold, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if size >= threshold:
            scaled = value / threshold
            return f"{currency} {scaled:,.{1 if abs(scaled) < 100 else 0}f} {word}"
    if size >= 1000:
        return f"{currency} {_sig(value, 3)}"
    if size >= 100 or float(value).is_integer():
        return f"{currency} {value:,.0f}"
    return f"{currency} {value:,.2f}"


def format_value(value, unit: str) -> str:
    """One number as the report prints it (plain text, not yet escaped); a negative
    number with the minus sign U+2212."""
    text = _format_value(value, unit)
    if _is_number(value) and value < 0:
        if math.isinf(value) or re.search(r"[1-9]", text):
            return text.replace("-", MINUS)
        return text.replace("-", "")  # rounds to zero: "0.0%", not "-0.0%"
    return text


def _format_value(value, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not _is_number(value):
        return str(value)
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if unit == "share":
        return f"{value * 100:.1f}%"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "points":  # a difference of two percentages
        return f"{value:.1f} percentage points"
    if unit == "count":
        if abs(value) < 100 and not float(value).is_integer():
            return f"{value:,.1f}"
        return f"{round(value):,}"
    if unit == "usd":
        return _money(value, "USD")
    if unit == "eur":
        return _money(value, "EUR")
    if unit == "days":
        # one decimal, as the notebooks' tables print a median of 11.5 days
        if abs(value) < 100 and not float(value).is_integer():
            number = f"{value:.1f}"
        else:
            number = f"{round(value):,}"
        return f"{number} {'day' if number == '1' else 'days'}"
    return _sig(float(value), 3)


def _bound(value, unit: str) -> str:
    """An interval bound; in percentage points bare, as the value names the unit once
    ("−2.8 percentage points (95% CI −3.6 to −2.0)")."""
    if unit == "points" and _is_number(value):
        return format_value(value, "percent").removesuffix("%")
    return format_value(value, unit)


def format_entry(item: Mapping) -> dict[str, str]:
    """A summary entry -> the Markdown strings of its report variables.

    value: the formatted value; ci: "95% CI a–b" (empty without an interval);
    text: "value (95% CI a–b)" or just the value; unit; description; and, where
    the entry has an interval, the words chosen from it (`dnmarkets.report.wording`):
    change ("rose, text") and, for shares, portion ("a majority, text"). All are
    escaped with `md_escape`, so they render literally in both outputs.
    """
    unit = str(item.get("unit") or "")
    value = format_value(item.get("value"), unit)
    low, high = item.get("ci_low"), item.get("ci_high")
    ci = ""
    if low is not None and high is not None:
        # "−40.7%–−33.2%" misreads: negative bounds are joined with "to"
        sep = " to " if _is_number(low) and min(low, high) < 0 else "–"
        ci = f"{CI_LABEL} {_bound(low, unit)}{sep}{_bound(high, unit)}"
    text = f"{value} ({ci})" if ci else value
    words = {name: md_escape(phrase) for name, phrase in worded(item, text).items()}
    return {
        **words,
        "value": md_escape(value),
        "ci": md_escape(ci),
        "text": md_escape(text),
        "unit": md_escape(unit),
        "description": md_escape(item.get("description") or ""),
    }
