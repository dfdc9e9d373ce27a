"""Validation against the simulation's ground truth: are planted values recovered?

For each estimate with a counterpart in ground_truth.json, record the true
value, the estimate with its interval, and whether the interval covers the
truth. The report shows the table; a reviewer sees at once where a method
misses.
"""

from __future__ import annotations

from dnmarkets.core.summary import entry

# (landscape summary key, ground-truth path, what it is)
LANDSCAPE_CHECKS = [
    ("drug_share_listings", ("supply", "drug_share_listings"), "Drug share of listings"),
    ("eu_share_drug_listings", ("supply", "eu_share_drug_listings"), "EU share of drug listings"),
    ("eu_share_drug_sales", ("supply", "eu_share_drug_sales_usd"), "EU share of drug sales"),
]

# simulator settings (ground_truth.json "config") quoted in the report
PLANTED_SETTINGS = {
    "eu_vendor_share": "share of vendors shipping from an EU country",
    "non_drug_share": "share of listings that are not drugs",
}


def _truth(truth: dict, path: tuple[str, ...]):
    node = truth
    for part in path:
        node = node[part]
    return float(node)


def landscape_validation(landscape: dict, truth: dict) -> dict:
    rows, summary = [], {}
    for key, path, label in LANDSCAPE_CHECKS:
        est = landscape["summary"][key]
        true = _truth(truth, path)
        covered = est["ci_low"] is not None and est["ci_low"] <= true <= est["ci_high"]
        rows.append(
            {
                "quantity": label,
                "true": true,
                "estimate": est["value"],
                "ci_low": est["ci_low"],
                "ci_high": est["ci_high"],
                "covered": bool(covered),
                "bias": est["value"] - true,
            }
        )
        summary[f"{key}_true"] = entry(true, est["unit"], f"Planted (true) value: {label}")
    # the simulator's settings that the published comparison figures were planted as,
    # so the report quotes the configured values instead of restating them
    for key, label in PLANTED_SETTINGS.items():
        summary[f"planted_{key}"] = entry(
            float(truth["config"][key]), "share", f"Simulator setting: {label}"
        )
    summary["landscape_checks_covered"] = entry(
        sum(r["covered"] for r in rows),
        "count",
        f"Landscape estimates whose 95% interval covers the planted value (of {len(rows)})",
    )
    summary["landscape_checks"] = entry(
        len(rows), "count", "Landscape estimates checked against a planted value"
    )
    return {"summary": summary, "tables": {"landscape": rows}}
