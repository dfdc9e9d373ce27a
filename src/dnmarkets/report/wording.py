"""Words chosen from an estimate and its 95% interval, so that the text can never
be stronger than its numbers.

The rules (also in docs/report_rendering.md, "Words follow numbers"):

- a change "rose" or "fell" only when its whole interval lies above or below
  zero; otherwise it "showed no detectable change";
- a share is "a majority" only when its interval lies above one half, "a
  minority" when it lies below, "about half" when the interval lies within
  40-60%, and otherwise "a share whose interval spans one half";
- without an interval no word is chosen: the number stands alone, marked as
  having no interval; without a value the phrase says it could not be
  estimated (so a report variable exists for every entry).

Each phrase carries the number it rests on, formatted as everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping

HALF_BAND = (0.4, 0.6)  # "about half" only when the whole interval is inside it


def _interval(item: Mapping) -> tuple[float, float] | None:
    low, high = item.get("ci_low"), item.get("ci_high")
    if item.get("value") is None or low is None or high is None:
        return None
    return float(low), float(high)


def change_word(item: Mapping) -> str | None:
    """'rose', 'fell' or 'showed no detectable change' (None without an interval)."""
    interval = _interval(item)
    if interval is None:
        return None
    low, high = interval
    if low > 0:
        return "rose"
    if high < 0:
        return "fell"
    return "showed no detectable change"


def portion_word(item: Mapping) -> str | None:
    """'a majority', 'a minority', 'about half' or 'a share whose interval spans
    one half', for an entry in unit "share" (None otherwise)."""
    interval = _interval(item)
    if interval is None or item.get("unit") != "share":
        return None
    low, high = interval
    if low > 0.5:
        return "a majority"
    if high < 0.5:
        return "a minority"
    if HALF_BAND[0] <= low and high <= HALF_BAND[1]:
        return "about half"
    return "a share whose interval spans one half"


def worded(item: Mapping, text: str) -> dict[str, str]:
    """The wording variables of one summary entry, given its formatted `text`
    ("value (95% CI a–b)"): `change` ("rose, +5.5% ...") and, for shares,
    `portion` ("a majority, 61.0% ..."). Without an interval no word is chosen
    and the phrase says so; without a value it says the estimate is missing."""
    if item.get("value") is None:
        missing = "could not be estimated"
        return {"change": missing, "portion": missing}
    word = change_word(item)
    out = {"change": f"{word}, {text}" if word else f"changed by {text} (no interval)"}
    if item.get("unit") == "share":
        word = portion_word(item)
        out["portion"] = f"{word}, {text}" if word else f"{text} (no interval)"
    return out
