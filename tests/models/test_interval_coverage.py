"""Coverage study of the resilience intervals: the summary statistics and one seed end to end."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import yaml
from conftest import ROOT
from scipy import stats

from dnmarkets.models.interval_coverage import (
    ROW_COLUMNS,
    coverage_entries,
    coverage_markdown,
    halves_difference,
    halves_summary,
    last_crawl_gaps,
    run_seed,
    summarise_coverage,
    wilson_interval,
)


def synthetic_rows(measure: str, n: int, n_covered: int, errors: list[float]) -> list[dict]:
    """n seeds; the first n_covered intervals contain the truth, the others miss it."""
    rows = []
    for i in range(n):
        true = -40.0
        estimate = true + errors[i % len(errors)]
        low, high = (estimate - 5, estimate + 5)
        if i >= n_covered:  # move the interval away from the truth, keep the estimate
            low, high = (true + 1, true + 11) if estimate > true else (true - 11, true - 1)
            estimate = (low + high) / 2
        rows.append(
            {
                "seed": i,
                "event": "bayonet",
                "measure": measure,
                "horizon_days": 0,
                "true": true,
                "estimate": estimate,
                "ci_low": low,
                "ci_high": high,
                "covered": low <= true <= high,
            }
        )
    return rows


def by_measure(summary: list[dict]) -> dict[str, dict]:
    return {s["measure"]: s for s in summary}


def test_wilson_interval_known_values():
    # reference values of the Wilson score interval (z = 1.959964)
    low, high = wilson_interval(19, 20)
    assert low == pytest.approx(0.7639, abs=1e-4)
    assert high == pytest.approx(0.9911, abs=1e-4)
    low, high = wilson_interval(0, 20)
    assert low == 0.0
    assert high == pytest.approx(0.1611, abs=1e-4)
    low, high = wilson_interval(20, 20)
    assert low == pytest.approx(0.8389, abs=1e-4)
    assert high == pytest.approx(1.0)


def test_summary_counts_coverage_and_tells_good_from_bad_intervals():
    rows = synthetic_rows("listings", 40, 38, [0.0])  # 95%: consistent
    rows += synthetic_rows("sales", 40, 28, [0.0])  # 70%: far below
    rows += synthetic_rows("vendors", 40, 40, [0.0])  # 100%: consistent with 95%
    summary = by_measure(summarise_coverage(rows))
    assert [s for s in summary] == ["listings", "sales", "vendors"]

    good = summary["listings"]
    assert (good["n"], good["covered"]) == (40, 38)
    assert good["coverage"] == pytest.approx(0.95)
    assert good["consistent"] and good["nominal_in_wilson"]
    assert good["binom_p"] == pytest.approx(1.0)

    bad = summary["sales"]
    assert bad["coverage"] == pytest.approx(0.70)
    assert not bad["consistent"] and not bad["nominal_in_wilson"]
    assert bad["binom_p"] < 1e-4
    assert bad["wilson_high"] < 0.95

    full = summary["vendors"]
    assert full["coverage"] == 1.0
    # 40/40 happens with probability 0.95**40 = 13% under 95% coverage: not rejected. The
    # two-sided exact p sums the outcomes no more likely than it: all but 37, 38, 39 covered.
    more_likely = sum(stats.binom.pmf(k, 40, 0.95) for k in (37, 38, 39))
    assert stats.binom.pmf(40, 40, 0.95) == pytest.approx(0.95**40)
    assert full["binom_p"] == pytest.approx(1 - more_likely, rel=1e-6)
    assert full["consistent"] and full["nominal_in_wilson"]


def test_summary_bias_se_rmse_and_width():
    errors = [-3.0, 1.0, 2.0, 4.0]
    rows = synthetic_rows("listings", 8, 8, errors)
    s = summarise_coverage(rows)[0]
    err = pd.Series(errors * 2)
    assert s["bias"] == pytest.approx(err.mean())
    assert s["bias_se"] == pytest.approx(err.std(ddof=1) / math.sqrt(8))
    assert s["rmse"] == pytest.approx(math.sqrt((err**2).mean()))
    assert s["mean_width"] == pytest.approx(10.0)
    assert s["mean_true"] == pytest.approx(-40.0)
    assert s["mean_estimate"] == pytest.approx(-40.0 + err.mean())


def test_summary_flags_a_systematic_bias_with_covered_intervals_missing():
    # estimates 10 points too low with 8-point-wide intervals: never covered
    rows = [
        {
            "seed": i,
            "measure": "sales",
            "true": -50.0 + 0.1 * i,
            "estimate": -60.0 + 0.1 * i,
            "ci_low": -64.0 + 0.1 * i,
            "ci_high": -56.0 + 0.1 * i,
            "covered": False,
        }
        for i in range(20)
    ]
    s = summarise_coverage(rows)[0]
    assert (s["event"], s["horizon_days"]) == ("", 0)
    assert s["coverage"] == 0.0 and not s["consistent"]
    assert s["bias"] == pytest.approx(-10.0)
    assert s["bias_se"] == pytest.approx(0.0, abs=1e-9)
    assert s["rmse"] == pytest.approx(10.0)


def test_summary_of_nothing_is_empty():
    assert summarise_coverage([]) == []


def test_markdown_table_from_the_json_file():
    rows = synthetic_rows("listings", 20, 19, [1.0, -1.0])
    rows += synthetic_rows("sales", 20, 5, [-3.0])
    stored = json.loads(json.dumps({"summary": summarise_coverage(rows), "settings": {}}))
    table = coverage_markdown(stored)
    lines = table.strip().splitlines()
    assert len(lines) == 4
    assert all(line.startswith("|") and line.endswith("|") for line in lines)
    assert len({line.count("|") for line in lines}) == 1
    assert lines[2].startswith("| listings | 0 | 20 | 19 | 95% | 76% to 99% |")
    assert "| yes |" in lines[2]
    assert lines[3].startswith("| sales | 0 | 20 | 5 | 25% |")
    assert "| no |" in lines[3]
    assert coverage_markdown(stored["summary"]) == table


def test_last_crawl_gaps():
    days = pd.date_range("2017-06-28", "2017-07-08").date
    md = pd.DataFrame(
        {
            "market": ["ashford"] * len(days) + ["coldbrook"] * len(days),
            "date": list(days) * 2,
            "crawled": [d.day in (28, 1, 3) for d in days] + [True] * len(days),
        }
    )
    gaps = last_crawl_gaps(
        md, {"ashford": "2017-07-05", "coldbrook": "2017-07-05", "gone": "2017-07-20"}
    )
    assert gaps == {
        "last_crawl_gap_ashford": 2,
        "last_crawl_gap_coldbrook": 0,
        "last_crawl_gap_gone": None,
    }


def tiny_seed_config() -> dict:
    """The project config cut down to three markets, one cleaning partition each, 4 months."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    spec = config["datasets"]["sim2017"]
    spec["partition_months"] = 12
    sim = spec["simulation"]
    sim["markets"] = [m for m in sim["markets"] if m["slug"] in {"ashford", "coldbrook", "harbor"}]
    return config


def test_one_seed_end_to_end_at_tiny_scale():
    # the end leaves 28 days after the transition (16 days of closures, a 14-day buffer)
    overrides = {"start": "2017-05-10", "end": "2017-09-30", "scale": 0.05}
    rows = run_seed(7, tiny_seed_config(), overrides=overrides)
    assert sorted((r["measure"], r["horizon_days"]) for r in rows) == [
        (m, d) for m in ("listings", "sales", "vendors") for d in (0, 30, 90)
    ]
    for row in rows:
        assert set(ROW_COLUMNS) <= set(row)
        assert (row["seed"], row["event"]) == (7, "bayonet")
        values = [row[k] for k in ("true", "estimate", "ci_low", "ci_high", "seconds")]
        assert all(math.isfinite(v) for v in values)
        if row["horizon_days"] == 0:
            assert -100 < row["true"] < 0  # the planted takedown shrinks the ecosystem
        assert row["ci_low"] <= row["estimate"] <= row["ci_high"]
        assert row["covered"] == (row["ci_low"] <= row["true"] <= row["ci_high"])
        assert row["error"] == pytest.approx(row["estimate"] - row["true"])
        assert row["width"] == pytest.approx(row["ci_high"] - row["ci_low"])
        # days from the last crawl to the seizure (crawls every 3-4 days, some missed)
        assert 0 <= row["last_crawl_gap_ashford"] <= 14
        assert 0 <= row["last_crawl_gap_harbor"] <= 14


def test_summary_split_by_a_diagnostic_column():
    rows = synthetic_rows("listings", 10, 10, [0.0])
    rows += synthetic_rows("listings", 11, 1, [0.0])
    for i, row in enumerate(rows):
        row["gap"] = "<=1 day" if i < 10 else ">=2 days"
    rows[-1]["gap"] = "none"  # a stratum of one seed: no standard error
    split = summarise_coverage(rows, by=["gap"])
    assert [(s["gap"], s["n"], s["covered"]) for s in split] == [
        ("<=1 day", 10, 10),
        (">=2 days", 10, 1),
        ("none", 1, 0),
    ]
    assert split[-1]["bias_se"] is None
    stored = json.loads(json.dumps({"by_gap": split}))
    table = coverage_markdown(stored, "by_gap", "gap").splitlines()
    assert table[0].startswith("| Measure | Days after | gap | Seeds |")
    assert table[4].startswith("| listings | 0 | none | 1 | 0 | 0% |")
    assert "| - |" in table[4]
    assert len({line.count("|") for line in table}) == 1


def test_halves_split_the_seeds_and_find_the_largest_difference():
    # seeds 0-9 err by -1, seeds 10-19 by +3 for sales; listings err by +1 throughout
    rows = [
        {**r, "estimate": r["true"] + (-1.0 if r["seed"] < 10 else 3.0)}
        for r in synthetic_rows("sales", 20, 20, [0.0])
    ] + synthetic_rows("listings", 20, 20, [1.0])
    halves = {(h["measure"], h["half"]): h for h in halves_summary(pd.DataFrame(rows))}
    assert {h["n"] for h in halves.values()} == {10}
    assert halves[("sales", "first")]["bias"] == pytest.approx(-1.0)
    assert halves[("sales", "second")]["bias"] == pytest.approx(3.0)
    assert halves[("listings", "second")]["bias"] == pytest.approx(1.0)
    gap = halves_difference(list(halves.values()))
    assert gap == {"measure": "sales", "horizon_days": 0, "difference": pytest.approx(4.0)}


def test_entries_of_the_stored_study_match_its_per_seed_rows():
    """The stored summary is reproduced from the stored CSV, and the largest bias and the
    halves come from the same rows (the report's sentences on them read these entries)."""
    study = json.loads((ROOT / "data/studies/its_coverage.json").read_text())
    rows = pd.read_csv(ROOT / "data/studies/its_coverage.csv")
    again = summarise_coverage(rows[["seed", *ROW_KEYS]])
    for stored, recomputed in zip(study["summary"], again, strict=True):
        assert recomputed["bias"] == pytest.approx(stored["bias"])
        assert recomputed["covered"] == stored["covered"]
    entries = coverage_entries(study, rows)
    biases = [abs(s["bias"]) for s in study["summary"]]
    assert entries["bias_max_abs"]["value"] == pytest.approx(max(biases))
    assert entries["coverage_min"]["value"] == min(s["coverage"] for s in study["summary"])
    assert entries["bias_bound_max_abs"]["value"] >= entries["bias_max_abs"]["value"]
    n = entries["half_seeds"]["value"]
    assert 2 * n == entries["seeds"]["value"]
    # the mean of the halves' biases is the whole study's (equal halves)
    whole = entries["bias_sales_0d"]["value"]
    halves = [entries[f"bias_{h}_half_sales_0d"]["value"] for h in ("first", "second")]
    assert sum(halves) / 2 == pytest.approx(whole)
    assert "halves_max_difference" in entries
    assert coverage_entries(study).keys() < entries.keys()


ROW_KEYS = ["event", "measure", "horizon_days", "true", "estimate", "ci_low", "ci_high", "covered"]
