"""Which estimand a migration interval targets: the realised decisions of one simulated
ecosystem as an estimate of the planted migration probability (a known truth)."""

from __future__ import annotations

import numpy as np
import pytest

from dnmarkets.models.intervals import wilson
from dnmarkets.models.migration import estimand_entries, truth_checks


def truth(k: int, n: int, p: float = 0.6) -> dict:
    return {"displacements": n, "migration_decision_share": k / n, "planted": {"probability": p}}


def test_realised_decisions_give_the_interval_for_the_planted_probability():
    entries, row = estimand_entries("e", truth(326, 598))
    share = entries["realised_decision_share.e"]
    assert share["value"] == pytest.approx(326 / 598)
    assert (share["ci_low"], share["ci_high"]) == pytest.approx(wilson(326, 598, 0.95)[1:])
    assert entries["realised_decisions.e"]["value"] == 326
    assert entries["planted_probability.e"]["value"] == 0.6
    z = (326 / 598 - 0.6) / np.sqrt(0.6 * 0.4 / 598)
    assert entries["planted_probability_z.e"]["value"] == pytest.approx(z)
    # 326 of 598 is 2.7 standard errors below 0.6: its interval misses the parameter
    assert row["quantity"] == "decision_share" and row["covered"] is False
    assert estimand_entries("e", {"displacements": 0}) == ({}, None)


def test_the_interval_covers_the_planted_probability_in_95_percent_of_draws():
    """Binomial decisions drawn with a planted probability: the interval of the
    realised share covers the planted value in about 95% of simulated ecosystems."""
    rng = np.random.default_rng(11)
    n, p = 598, 0.6
    covered = [
        estimand_entries("e", truth(int(k), n, p))[1]["covered"] for k in rng.binomial(n, p, 2000)
    ]
    assert 0.93 <= np.mean(covered) <= 0.97


def test_truth_checks_count_the_planted_probability_among_the_planted_checks():
    summary = {"reappear_share_90d.e": {"value": 0.58, "ci_low": 0.54, "ci_high": 0.62}}
    t = {**truth(360, 600), "reappearance_share_within_days": {"7": None, "30": None, "90": 0.59}}
    t["planted"]["delay_mean_days"] = None
    t.update(delay_mean_days=None, alias_change_share=None, pgp_change_share=None)
    t.update(destination_shares={}, final_destination_shares={})
    out, rows = truth_checks(summary, {"e": t})
    planted = [r for r in rows if r["truth"] == "planted"]
    assert {r["quantity"] for r in planted} == {"decision_share", "reappear_share_90d"}
    assert out["planted_checks_covered"]["value"] == 2
    assert out["realised_decision_share.e"]["value"] == pytest.approx(0.6)
