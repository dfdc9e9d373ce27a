"""The multiple-testing paragraph counts the tests the pipeline runs: its counts follow
the configured events and horizons and the real-evidence tables, so a new horizon,
event or evidence row that the paragraph does not count makes this test fail."""

from __future__ import annotations

from pathlib import Path

import yaml

from dnmarkets.report.evidence import ROWS

ROOT = Path(__file__).resolve().parents[2]
PART = ROOT / "report" / "chapters" / "parts" / "multiple-testing.qmd"


def _config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))


def _events(config: dict, dataset: str) -> int:
    return sum(dataset in event["datasets"] for event in config["events"].values())


def _placebo_rows(dataset: str) -> int:
    return sum(1 for row in ROWS if row.placebo_key and row.placebo_key.startswith(f"{dataset}."))


def _text() -> str:
    return " ".join(PART.read_text(encoding="utf-8").split())


def test_the_counts_follow_the_configured_events_and_horizons():
    config = _config()
    horizons = len(config["analysis"]["resilience"]["horizons"])
    text = _text()
    agora = _events(config, "agora2014")
    assert f"{agora} events × 2 measures (listings, vendors) × {horizons} horizons" in text
    assert f"= {agora * 2 * horizons} changes with intervals" in text
    assert f"{_placebo_rows('agora2014')} of them at the event with a placebo p-value" in text
    sim = _events(config, "sim2017")
    assert (
        f"{sim} event × 3 measures (listings, vendors, sales) × {horizons} horizons "
        f"= {sim * 3 * horizons} changes" in text
    )


def test_the_counts_follow_the_real_evidence_tables():
    text = _text()
    # one placebo p-value per evidence row that quotes one
    assert _placebo_rows("wsm_forum") == 1 and "2 changes, 1 of them with a placebo" in text
    cmu_changes = sum(1 for row in ROWS if row.key.startswith("cmu_sales.") and row.zero_test)
    assert _placebo_rows("cmu_sales") == 1
    assert f"CMU-derived daily sales: {cmu_changes} changes" in text


def test_the_paragraph_says_no_correction_is_applied():
    text = _text()
    assert "No correction for multiple testing" in text
    assert "1 in 20" in text
