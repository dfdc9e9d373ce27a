"""The real-evidence tables that open each event's section of the report.

One row per real source and estimate: what kind of evidence it is, the estimate
with its interval, and how strong it is. A row appears only when its summary key
is there (its dataset was configured and the estimate could be made), so the
table never names a missing key. The cells hold `{{< var >}}` shortcodes, so
every number still comes from results/summary.json; the words on strength that
depend on a number (does the interval exclude zero?) are decided here from the
same summary entry, so they cannot disagree with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dnmarkets.report.mdtext import md_escape

EVENTS = ("bayonet", "onymous", "evolution")
HEADER = ("Source", "Evidence", "Estimate (95% interval)", "Strength, and on what basis")
# The executive summary's table: the same row type, one row per headline finding,
# its `kind` naming the question it answers
SUMMARY = "summary"
SUMMARY_HEADER = ("Question", "Real data", "Estimate (95% interval)", "Strength, and on what basis")


@dataclass(frozen=True)
class EvidenceRow:
    """One estimate from one real source about one event.

    key: summary key of the estimate. what: what the estimate measures (plain
    text). zero_test: the estimate is a change, so whether its interval
    excludes zero is stated. placebo_key: summary key of the empirical placebo
    p-value, if any. basis: the fixed limits of the source (plain text).
    """

    event: str
    source: str
    kind: str
    key: str
    what: str
    basis: str
    zero_test: bool = False
    placebo_key: str | None = None


_AGORA = "Agora crawls 2014–15 (real, one surviving market)"
_AGORA_BASIS = (
    "one surviving market's own crawls, counted from first to last sighting; "
    "the closed markets are not in them"
)
_CMU = "CMU-derived daily sales (real, secondary source)"
_CMU_BASIS = "secondary source derived by a third party; derivation not documented"
_CLOSED_SALES_BASIS = (
    "what the event removed, not an effect: the closed market's level before "
    "its series ends; " + _CMU_BASIS
)


def _agora_rows(event: str) -> list[EvidenceRow]:
    return [
        EvidenceRow(
            event,
            _AGORA,
            measure,
            f"agora2014.resilience.{measure}_change_pct_0d.{event}",
            f"change of Agora's active {measure} at the event against its own trend",
            _AGORA_BASIS,
            zero_test=True,
            placebo_key=f"agora2014.resilience.{measure}_placebo_p.{event}",
        )
        for measure in ("listings", "vendors")
    ]


ROWS: tuple[EvidenceRow, ...] = (
    EvidenceRow(
        "bayonet",
        "Wall Street Market forum (real, derived from a chart)",
        "forum activity",
        "wsm_forum.resilience.posts_change_pct_0d.bayonet",
        "change of posts per day at the event against the pre-event trend",
        "one forum of a market that stayed open; a proxy of arriving users, not of "
        "sales; deleted posts are missing",
        zero_test=True,
        placebo_key="wsm_forum.resilience.posts_placebo_p.bayonet",
    ),
    EvidenceRow(
        "bayonet",
        "Wall Street Market forum (real, derived from a chart)",
        "forum activity",
        "wsm_forum.resilience.posts_change_pct_30d.bayonet",
        "change of posts per day 30 days after the event",
        "as above",
        zero_test=True,
    ),
    EvidenceRow(
        "bayonet",
        "Dream Market cocaine vendors, July 2017, against AlphaBay 2017 and Hansa 2016 "
        "rosters (real)",
        "roster overlap",
        "dream2017.migration_external.closed_name_share.bayonet",
        "share of Dream's July 2017 vendors with a name seen on a market Bayonet closed",
        "an upper bound for migration: names can be reused or impersonated; one "
        "category of one market; rosters months apart",
    ),
    EvidenceRow(
        "bayonet",
        "AlphaBay scrape, April–May 2017 (real, one pass)",
        "sales (closed market)",
        "alphabay2017.landscape.est_drug_sales_usd_per_day",
        "drug sales per day on AlphaBay two months before its seizure, from the "
        "listings' sold-since counters",
        "what the event removed, not an effect; a lower bound (largest categories "
        "cut at 50 pages) that assumes current prices held since each listing started",
    ),
    EvidenceRow(
        "bayonet",
        "AlphaBay scrape, April–May 2017 (real, one pass)",
        "listings (closed market)",
        "alphabay2017.landscape.listings_total",
        "distinct listings on AlphaBay two months before its seizure",
        "what the event removed, not an effect; a lower bound (largest categories cut at 50 pages)",
    ),
    EvidenceRow(
        "bayonet",
        "Hansa snapshot, December 2016 (real)",
        "listings (closed market)",
        "hansa2016.landscape.listings_total",
        "distinct listings on Hansa half a year before its takeover",
        "what the event removed, not an effect; one snapshot, six months before",
    ),
    EvidenceRow(
        "onymous",
        _CMU,
        "sales (closed market)",
        "cmu_sales.resilience.silkroad2_sales_usd_lost_per_day.onymous",
        "Silk Road 2's sales per day in the 8 weeks before its series ends (weekly rows)",
        _CLOSED_SALES_BASIS,
    ),
    EvidenceRow(
        "onymous",
        _CMU,
        "sales (surviving market)",
        "cmu_sales.resilience.evolution_sales_usd_change_pct_0d.onymous",
        "change of Evolution's daily sales at the event against its pre-event trend",
        "one surviving market; " + _CMU_BASIS,
        zero_test=True,
        placebo_key="cmu_sales.resilience.evolution_sales_usd_placebo_p.onymous",
    ),
    EvidenceRow(
        "onymous",
        _CMU,
        "sales (surviving market)",
        "cmu_sales.resilience.evolution_sales_usd_absorbed_share_30d.onymous",
        "share of Silk Road 2's lost sales that Evolution gained within 30 days",
        "Silk Road 2's level taken as known; " + _CMU_BASIS,
        zero_test=True,
    ),
    *_agora_rows("onymous"),
    EvidenceRow(
        "evolution",
        _CMU,
        "sales (closed market)",
        "cmu_sales.resilience.evolution_sales_usd_lost_per_day.evolution",
        "Evolution's sales per day in the 8 weeks before its series ends",
        _CLOSED_SALES_BASIS,
    ),
    EvidenceRow(
        "evolution",
        _CMU,
        "sales (surviving market)",
        "cmu_sales.resilience.alphabay_sales_usd_absorbed_share_30d.evolution",
        "share of Evolution's lost sales that AlphaBay gained within 30 days",
        "AlphaBay's sales were near zero before the exit (not crawled yet, or "
        "next to nothing sold); " + _CMU_BASIS,
        zero_test=True,
    ),
    *_agora_rows("evolution"),
)

_AGORA_SHORT = "Agora crawls, 2014–15"
SUMMARY_ROWS: tuple[EvidenceRow, ...] = (
    EvidenceRow(
        SUMMARY,
        "AlphaBay scrape, April–May 2017",
        "Bayonet: what did it close?",
        "alphabay2017.landscape.est_drug_sales_usd_per_day",
        "AlphaBay's drug sales per day",
        "a lower bound (largest categories cut at 50 pages; sold-since counters)",
    ),
    EvidenceRow(
        SUMMARY,
        "Vendor rosters, 2016 to July 2017",
        "Bayonet: where did vendors go?",
        "dream2017.migration_external.closed_name_share.bayonet",
        "Dream's July 2017 cocaine vendors with a name from AlphaBay or Hansa",
        "an upper bound (names reused or impersonated; one category; rosters months apart)",
    ),
    EvidenceRow(
        SUMMARY,
        "Wall Street Market forum, 2016–18",
        "Bayonet: did a surviving market gain users?",
        "wsm_forum.resilience.posts_change_pct_0d.bayonet",
        "change of forum posts per day at the event",
        "a proxy of arriving users, not sales",
        zero_test=True,
    ),
    EvidenceRow(
        SUMMARY,
        "Daily sales derived from CMU crawls, 2014",
        "Onymous: what did it close?",
        "cmu_sales.resilience.silkroad2_sales_usd_lost_per_day.onymous",
        "Silk Road 2's sales per day before its closure",
        "a level, not an effect; secondary source",
    ),
    EvidenceRow(
        SUMMARY,
        "Daily sales derived from CMU crawls, 2014",
        "Onymous: did a surviving market gain sales?",
        "cmu_sales.resilience.evolution_sales_usd_change_pct_0d.onymous",
        "change of Evolution's sales per day at the event",
        "one surviving market; secondary source",
        zero_test=True,
    ),
    EvidenceRow(
        SUMMARY,
        _AGORA_SHORT,
        "Evolution exit: did a surviving market gain vendors?",
        "agora2014.resilience.vendors_change_pct_0d.evolution",
        "change of Agora's active vendors at the event",
        "one surviving market's own crawls",
        zero_test=True,
    ),
    EvidenceRow(
        SUMMARY,
        _AGORA_SHORT,
        "Evolution exit: did its vendors arrive on Agora?",
        "agora2014.migration_external.newcomers_from_closed_excess.evolution",
        "newcomers with a name from Evolution, after minus before the event",
        "names only; lower bound of arrivals",
        zero_test=True,
    ),
    EvidenceRow(
        SUMMARY,
        _AGORA_SHORT,
        "Supply: how much comes from the EU-27?",
        "agora2014.landscape.eu27_share_drug_listings",
        "EU-27 share (the UK apart) of drug listings with a known EU status",
        "stated origin; one market; bootstrap by vendor",
    ),
    EvidenceRow(
        SUMMARY,
        "Market registry, 2011–19",
        "Markets: how long do they live?",
        "registry.survival.median_lifetime_days",
        "median lifetime (Kaplan–Meier)",
        "one public registry of English-language markets",
    ),
)


def _zero_words(entry: Mapping) -> str:
    low, high = entry.get("ci_low"), entry.get("ci_high")
    if low is None or high is None:
        return "no interval"
    if low > 0 or high < 0:
        return "interval excludes zero"
    return "interval includes zero"


def _strength(row: EvidenceRow, summary: Mapping[str, Mapping]) -> str:
    parts = []
    if row.zero_test:
        parts.append(md_escape(_zero_words(summary[row.key])))
    if row.placebo_key and row.placebo_key in summary:
        parts.append(f"placebo p {{{{< var {row.placebo_key}.value >}}}}")
    parts.append(md_escape(row.basis))
    return "; ".join(parts)


def evidence_rows(event: str, summary: Mapping[str, Mapping]) -> list[EvidenceRow]:
    """The rows for `event` (or SUMMARY) whose estimate is in the summary and has a value."""
    return [
        row
        for row in (SUMMARY_ROWS if event == SUMMARY else ROWS)
        if row.event == event and row.key in summary and summary[row.key].get("value") is not None
    ]


def evidence_table(event: str, summary: Mapping[str, Mapping]) -> str | None:
    """The event's evidence table (or, for SUMMARY, the executive summary's) as a
    Markdown pipe table (no caption), or None when no real source bears on it."""
    rows = evidence_rows(event, summary)
    if not rows:
        return None
    header = SUMMARY_HEADER if event == SUMMARY else HEADER
    lines = ["| " + " | ".join(header) + " |", "|:--|:--|:--|:--|"]
    for row in rows:
        estimate = f"{md_escape(row.what)}: {{{{< var {row.key}.text >}}}}"
        first, second = md_escape(row.source), md_escape(row.kind)
        if event == SUMMARY:  # the question first
            first, second = second, first
        cells = (first, second, estimate, _strength(row, summary))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
