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


# the model families whose change of a measure at an event the report sets side by
# side (the headline, then the robustness fits); their estimates' signs decide
# whether the text may say the families agree on the direction
MODEL_FAMILIES = ("_0d", "_0d_segmented", "_0d_hac", "_0d_poisson", "_week1_arima")


def agreement_flags(summary: Mapping[str, Mapping], measure: str = "vendors") -> dict[str, dict]:
    """{"signs_agree": {dataset: {event: bool}}, "lasting": {...}} from the resilience
    entries of `measure`: whether every model family's change at the event has the
    same (non-zero) sign, and whether the 90-day change's interval excludes zero.
    The report words its comparison of the families and its statement about a
    lasting difference from these flags, not from one run's numbers."""
    signs: dict[str, dict] = {}
    lasting: dict[str, dict] = {}
    stem = f"{measure}_change_pct"
    for key in summary:
        dataset, analysis, *rest = key.split(".")
        if analysis != "resilience" or len(rest) != 2 or rest[0] != f"{stem}_0d":
            continue
        event = rest[1]
        values = [
            summary[name]["value"]
            for suffix in MODEL_FAMILIES
            if (name := f"{dataset}.resilience.{stem}{suffix}.{event}") in summary
            and summary[name].get("value") is not None
        ]
        if len(values) >= 2:
            agree = all(v > 0 for v in values) or all(v < 0 for v in values)
            signs.setdefault(dataset, {})[event] = agree
        late = summary.get(f"{dataset}.resilience.{stem}_90d.{event}", {})
        low, high = late.get("ci_low"), late.get("ci_high")
        if low is not None and high is not None:
            lasting.setdefault(dataset, {})[event] = bool(low > 0 or high < 0)
    return {"signs_agree": signs, "lasting": lasting}


def every_measure_agrees(
    summary: Mapping[str, Mapping], measures=("listings", "vendors", "sales")
) -> dict[str, dict]:
    """{dataset: {event: bool}}: true where, for every measure with several model
    families, all families' changes at the event share one sign."""
    out: dict[str, dict] = {}
    for measure in measures:
        for dataset, events in agreement_flags(summary, measure)["signs_agree"].items():
            for event, agree in events.items():
                out.setdefault(dataset, {})[event] = out.get(dataset, {}).get(event, True) and agree
    return out


SIDES = (("before", "pre_event_buffer_days"), ("after", "transition_buffer_days"))


def buffer_days(resilience: Mapping, measures=("listings", "vendors", "sales")) -> dict:
    """{measure: {"before": "14 days", "after": "21 days"}}: the transition buffers of
    the configuration (`dnmarkets.models.resilience.measure_settings`), as the methods
    appendix states them whichever datasets a run analyses."""
    from dnmarkets.models.resilience import measure_settings

    out = {}
    for measure in measures:
        settings = measure_settings(dict(resilience), measure)
        out[measure] = {side: f"{settings[key]} days" for side, key in SIDES}
    return out


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
