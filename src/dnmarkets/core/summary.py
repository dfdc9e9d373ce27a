"""The catalogue of headline numbers: results/summary.json.

Each model writes its entries under "summary"; the catalogue prefixes them as
`<dataset>.<analysis>.<quantity>[.<event>]`, so the report can cite any number
by key and a reviewer can trace it to the model file that produced it.
"""

from __future__ import annotations

import math

import numpy as np

REQUIRED_FIELDS = ("value", "ci_low", "ci_high", "unit", "description")


def check_entry(key: str, item: dict) -> None:
    missing = [f for f in REQUIRED_FIELDS if f not in item]
    if missing:
        raise ValueError(f"summary entry {key}: missing field(s) {missing}")
    low, value, high = item["ci_low"], item["value"], item["ci_high"]
    if (low is None) != (high is None):
        raise ValueError(f"summary entry {key}: interval has only one bound")
    if low is not None and isinstance(value, (int, float)) and not math.isnan(value):
        if not low <= high:
            raise ValueError(f"summary entry {key}: ci_low {low} > ci_high {high}")


def build_summary(models: list[tuple[str, str, dict]]) -> dict:
    """models: (dataset, analysis, model-json) triples -> flat, sorted catalogue."""
    catalogue = {}
    for dataset, analysis, model in models:
        for quantity, item in model["summary"].items():
            key = f"{dataset}.{analysis}.{quantity}"
            if key in catalogue:
                raise ValueError(f"summary key {key} produced twice")
            check_entry(key, item)
            catalogue[key] = item
    return dict(sorted(catalogue.items()))


def entry(value, unit: str, description: str, ci: tuple | None = None) -> dict:
    """One catalogue entry of results/summary.json."""
    low, high = ci if ci is not None else (None, None)
    return {
        "value": plain_number(value),
        "ci_low": plain_number(low),
        "ci_high": plain_number(high),
        "unit": unit,
        "description": description,
    }


def plain_number(value):
    """A JSON-ready number: numpy scalars to Python, NaN to None, floats to 10 decimals."""
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else round(float(value), 10)
    return value
