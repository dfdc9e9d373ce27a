"""What the report's source learns from the summary: which sections have their
numbers (the `when-meta` flags) and the title page's data period."""

from __future__ import annotations

from collections.abc import Mapping

# <flag>.<dataset>.<event>: true where the summary has the quantity that a report
# section shows (the crawls covered the event; placebo dates existed; open
# markets' gains could be set against the closed markets' losses; ...)
SECTION_FLAGS = {
    "fitted": ("resilience", "listings_change_pct_0d"),
    "placebo": ("resilience", "listings_placebos"),
    "displaced": ("resilience", "listings_absorbed_share_30d"),
    "migrated": ("migration", "top_destination_share"),
    "overlap": ("migration_external", "closed_name_share"),
    "newcomers": ("migration_external", "newcomers_from_closed_excess"),
}


def section_flags(summary: Mapping[str, Mapping]) -> dict[str, dict]:
    """{flag: {dataset: {event: True}}} for every SECTION_FLAGS quantity in the summary."""
    present: dict[str, dict] = {flag: {} for flag in SECTION_FLAGS}
    for key in summary:
        dataset, analysis, *rest = key.split(".")
        for flag, (model, quantity) in SECTION_FLAGS.items():
            if analysis == model and len(rest) == 2 and rest[0] == quantity:
                present[flag].setdefault(dataset, {})[rest[1]] = True
    return present


def data_period(summary: Mapping[str, Mapping], datasets) -> str | None:
    """The years the crawls of `datasets` span ("2014–2017", or "2017"), from their
    first and last crawl days in the summary; None when none has crawl days."""
    days = [
        summary[f"{name}.landscape.{which}_crawl_day"]["value"]
        for name in datasets
        for which in ("first", "last")
        if summary.get(f"{name}.landscape.{which}_crawl_day", {}).get("value")
    ]
    if not days:
        return None
    first, last = min(days)[:4], max(days)[:4]
    return first if first == last else f"{first}–{last}"


def title_block(report: Mapping, summary: Mapping[str, Mapping], datasets, real: bool) -> dict:
    """The configured title block with the data period in the title (the crawls of
    `datasets`, the real ones in a real-data edition) and, for an edition without
    real data, the subtitle saying so."""
    out = dict(report)
    period = data_period(summary, datasets)
    if period:
        out["title"] = f"{out['title']} ({period})"
    if not real:
        out["subtitle"] = f"{out['subtitle']}: simulated data only"
    return out
