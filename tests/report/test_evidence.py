"""The real-evidence tables of the resilience chapter (dnmarkets.report.evidence)."""

from __future__ import annotations

import pytest

from dnmarkets.report.evidence import EVENTS, ROWS, evidence_rows, evidence_table
from dnmarkets.report.quarto import build_variables, resolve_shortcodes


def entry(value, low=None, high=None, unit="percent"):
    return {"value": value, "ci_low": low, "ci_high": high, "unit": unit, "description": ""}


WSM = "wsm_forum.resilience.posts_change_pct_0d.bayonet"
WSM_P = "wsm_forum.resilience.posts_placebo_p.bayonet"
OVERLAP = "dream2017.migration_external.closed_name_share.bayonet"
AGORA_VENDORS = "agora2014.resilience.vendors_change_pct_0d.evolution"


def body_rows(table: str) -> list[str]:
    return table.splitlines()[2:]


def test_every_row_names_a_known_event_and_a_key_of_that_event():
    for row in ROWS:
        assert row.event in EVENTS
        if ".resilience." in row.key or ".migration_external." in row.key:
            assert row.key.endswith("." + row.event), row.key


def test_no_real_source_gives_no_table():
    summary = {"sim2017.resilience.listings_change_pct_0d.bayonet": entry(-30.0, -35.0, -25.0)}
    assert all(evidence_table(event, summary) is None for event in EVENTS)


def test_rows_only_for_keys_in_the_summary_so_no_missing_key_is_named():
    summary = {WSM: entry(40.0, -10.0, 120.0)}
    table = evidence_table("bayonet", summary)
    assert [r.key for r in evidence_rows("bayonet", summary)] == [WSM]
    assert OVERLAP not in table and WSM_P not in table
    assert len(body_rows(table)) == 1
    # the roster overlap appears once the other analysis writes its key
    summary[OVERLAP] = entry(0.3, 0.2, 0.4, unit="share")
    assert OVERLAP in evidence_table("bayonet", summary)
    assert evidence_table("onymous", summary) is None


@pytest.mark.parametrize(
    ("low", "high", "words"),
    [
        (-10.0, 120.0, "interval includes zero"),
        (5.0, 120.0, "interval excludes zero"),
        (-50.0, -2.0, "interval excludes zero"),
        (None, None, "no interval"),
    ],
)
def test_strength_words_follow_the_interval(low, high, words):
    table = evidence_table("evolution", {AGORA_VENDORS: entry(20.0, low, high)})
    (row,) = body_rows(table)
    strength = row.split(" | ")[-1]
    assert strength.startswith(words)


def test_placebo_p_and_descriptive_rows():
    summary = {
        WSM: entry(40.0, -10.0, 120.0),
        WSM_P: entry(0.31, unit=""),
        OVERLAP: entry(0.3, 0.2, 0.4, unit="share"),
    }
    rows = body_rows(evidence_table("bayonet", summary))
    assert f"placebo p {{{{< var {WSM_P}.value >}}}}" in rows[0]
    # a share of names is not a change: no statement about zero, its bias named
    assert "zero" not in rows[1] and "upper bound" in rows[1]


def test_a_row_without_a_value_is_left_out():
    summary = {
        "cmu_sales.resilience.alphabay_sales_usd_absorbed_share_30d.evolution": entry(None),
        AGORA_VENDORS: entry(20.0, 5.0, 40.0),
    }
    assert [r.key for r in evidence_rows("evolution", summary)] == [AGORA_VENDORS]


def test_table_resolves_against_the_summary_variables():
    summary = {
        WSM: entry(40.04, -10.0, 120.0),
        WSM_P: entry(0.31, unit=""),
        OVERLAP: entry(0.3, 0.2, 0.4, unit="share"),
    }
    table = evidence_table("bayonet", summary)
    resolved = resolve_shortcodes(table, build_variables(summary), {})
    assert "{{<" not in resolved
    assert "40.0% (95% CI \u221210.0% to 120.0%)" in resolved.replace("\\", "")
    assert "30.0% (95% CI 20.0%–40.0%)" in resolved.replace("\\", "")
    # a pipe table: every line has the header's number of cells
    widths = {line.count(" | ") for line in resolved.splitlines() if not line.startswith("|:")}
    assert widths == {3}


def test_the_executive_summary_table_holds_real_keys_only_with_the_question_first():
    from dnmarkets.report.evidence import SUMMARY, SUMMARY_ROWS

    assert SUMMARY_ROWS and all(row.event == SUMMARY for row in SUMMARY_ROWS)
    assert not any(row.key.startswith("sim") for row in SUMMARY_ROWS)
    summary = {WSM: entry(40.0, -10.0, 120.0)}
    table = evidence_table(SUMMARY, summary)
    (row,) = body_rows(table)
    assert table.splitlines()[0].startswith("| Question | Real data |")
    assert row.startswith("| Bayonet: did a surviving market gain users? | Wall Street Market")
    assert "interval includes zero" in row
    assert evidence_table(SUMMARY, {"sim2017.landscape.drug_share_listings": entry(0.6)}) is None
