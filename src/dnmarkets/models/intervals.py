"""Intervals shared by the models: Wilson for proportions, a vendor-cluster bootstrap
for ratios (listings of one vendor are not independent)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint


def bootstrap_settings(analysis: dict) -> dict:
    """The vendor bootstrap's replicates, seed and level from the `analysis` config."""
    return {
        "replicates": int(analysis["bootstrap_replicates"]),
        "seed": int(analysis["seed"]),
        "level": float(analysis["confidence_level"]),
    }


def wilson(k: int, n: int, level: float) -> tuple[float, float, float]:
    """Share k/n with its Wilson score interval."""
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    low, high = proportion_confint(k, n, alpha=1 - level, method="wilson")
    return k / n, float(low), float(high)


def cluster_bootstrap_ratio(
    numerator: np.ndarray,
    denominator: np.ndarray,
    replicates: int,
    seed: int,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Ratio sum(num)/sum(den) with a percentile interval resampling clusters.

    `numerator` and `denominator` hold one total per cluster (vendor).
    """
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    if denominator.sum() <= 0:
        return (np.nan, np.nan, np.nan)
    estimate = numerator.sum() / denominator.sum()
    rng = np.random.default_rng(seed)
    n = len(numerator)
    stats = np.empty(replicates)
    chunk = max(1, int(2e7 // max(n, 1)))
    for start in range(0, replicates, chunk):
        size = min(chunk, replicates - start)
        idx = rng.integers(0, n, size=(size, n))
        num = numerator[idx].sum(axis=1)
        den = denominator[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            stats[start : start + size] = num / den
    alpha = (1 - level) / 2
    low, high = np.nanquantile(stats, [alpha, 1 - alpha])
    return float(estimate), float(low), float(high)


def share_by_vendor(frame: pd.DataFrame, flag: pd.Series, weight: pd.Series, boot: dict):
    """Weighted share of rows with `flag`, its interval from resampling vendors
    (`vendor_key`); `boot` holds cluster_bootstrap_ratio's replicates and seed."""
    per_vendor = (
        pd.DataFrame(
            {"vendor": frame["vendor_key"], "num": weight * flag.astype(float), "den": weight}
        )
        .groupby("vendor", sort=True)[["num", "den"]]
        .sum()
    )
    return cluster_bootstrap_ratio(
        per_vendor["num"].to_numpy(), per_vendor["den"].to_numpy(), **boot
    )


def bootstrap_vendors(
    values: np.ndarray, statistic, replicates: int, seed: int, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of `statistic(values resampled)`, `values` holding one
    entry per vendor (cluster): for statistics that are not ratios of sums."""
    values = np.asarray(values)
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    stats = np.array(
        [statistic(values[rng.integers(0, len(values), len(values))]) for _ in range(replicates)]
    )
    alpha = (1 - level) / 2
    low, high = np.nanquantile(stats, [alpha, 1 - alpha])
    return float(low), float(high)
