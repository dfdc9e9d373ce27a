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
    return cluster_bootstrap_ratios([(numerator, denominator)], replicates, seed, level)[0]


# resampled clusters x replicates drawn at once (int64 draws: 80 MB; the counts and
# resamples built from them are as large again: the job's peak at 100x scale)
_DRAW_CELLS = 1e7


def _whole_numbers(values: np.ndarray) -> bool:
    """Every value a whole number and any resample's sum below 2**53: float sums of
    such values are exact in any order (a count matrix product gives them)."""
    if not len(values) or not np.isfinite(values).all():
        return not len(values)
    return bool((np.floor(values) == values).all() and len(values) * np.abs(values).max() < 2**53)


def cluster_bootstrap_ratios(
    pairs: list[tuple[np.ndarray, np.ndarray]],
    replicates: int,
    seed: int,
    level: float = 0.95,
) -> list[tuple[float, float, float]]:
    """cluster_bootstrap_ratio of each (numerator, denominator) pair over the same
    clusters: the draws depend only on the seed and the number of clusters, so one
    set of draws serves every pair (drawing was most of the cost at 100x scale).

    Each replicate's sums are those of numerator[draws].sum(axis=1): for values that
    are whole numbers (counts) through a count matrix product, exact in any order;
    for others (sales) through that same gather and sum, so the rounding is the same."""
    pairs = [(np.asarray(a, dtype=float), np.asarray(b, dtype=float)) for a, b in pairs]
    results: list = [(np.nan, np.nan, np.nan)] * len(pairs)
    active = [i for i, (_, den) in enumerate(pairs) if not den.sum() <= 0]
    if not active:
        return results
    n = len(pairs[active[0]][0])
    # the distinct arrays to sum per replicate, each once (pairs share denominators)
    arrays: list[np.ndarray] = []
    slots: dict[int, tuple[int, int]] = {}

    def slot(values: np.ndarray) -> int:
        for k, known in enumerate(arrays):
            if known is values or np.array_equal(known, values):
                return k
        arrays.append(values)
        return len(arrays) - 1

    for i in active:
        slots[i] = (slot(pairs[i][0]), slot(pairs[i][1]))
    whole = [k for k, a in enumerate(arrays) if _whole_numbers(a)]
    other = [k for k in range(len(arrays)) if k not in set(whole)]
    matrix = np.column_stack([arrays[k] for k in whole]) if whole else None
    sums = np.empty((len(arrays), replicates))
    rng = np.random.default_rng(seed)
    chunk = max(1, int(_DRAW_CELLS // max(n, 1)))
    for start in range(0, replicates, chunk):
        size = min(chunk, replicates - start)
        idx = rng.integers(0, n, size=(size, n))
        if whole:
            rows = np.arange(size)[:, None] * n
            counts = np.bincount((idx + rows).ravel(), minlength=size * n).reshape(size, n)
            sums[whole, start : start + size] = (counts.astype(float) @ matrix).T
            del counts, rows
        for k in other:
            sums[k, start : start + size] = arrays[k][idx].sum(axis=1)
    alpha = (1 - level) / 2
    for i in active:
        num, den = pairs[i]
        estimate = num.sum() / den.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            stats = sums[slots[i][0]] / sums[slots[i][1]]
        low, high = np.nanquantile(stats, [alpha, 1 - alpha])
        results[i] = (float(estimate), float(low), float(high))
    return results


def share_by_vendor(frame: pd.DataFrame, flag: pd.Series, weight: pd.Series, boot: dict):
    """Weighted share of rows with `flag`, its interval from resampling vendors
    (`vendor_key`); `boot` holds cluster_bootstrap_ratio's replicates and seed."""
    return shares_by_vendor(frame, [(flag, weight)], boot)[0]


def shares_by_vendor(
    frame: pd.DataFrame, flags_weights: list[tuple[pd.Series, pd.Series]], boot: dict
) -> list[tuple[float, float, float]]:
    """share_by_vendor of each (flag, weight) over the same rows: one grouping by
    vendor and one set of draws (cluster_bootstrap_ratios) for all."""
    # the vendors' ranks in sorted order, missing keys NaN: grouping by them gives the
    # group ids grouping by vendor_key does (and so pandas' same summation path),
    # without hashing the strings again for every pair
    codes, _ = pd.factorize(frame["vendor_key"], sort=True)
    vendor = np.where(codes >= 0, codes, np.nan)
    pairs = []
    for flag, weight in flags_weights:
        # one pair at a time, as share_by_vendor grouped them (the pairs can be dozens)
        per_vendor = (
            pd.DataFrame(
                {"vendor": vendor, "num": weight * flag.astype(float), "den": weight},
                index=frame.index,
            )
            .groupby("vendor", sort=True)[["num", "den"]]
            .sum()
        )
        pairs.append((per_vendor["num"].to_numpy(), per_vendor["den"].to_numpy()))
    return cluster_bootstrap_ratios(pairs, **boot)


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


def bootstrap_top_shares(
    values: np.ndarray, ks: list[int], replicates: int, seed: int, level: float = 0.95
) -> list[tuple[float, float]]:
    """bootstrap_vendors of each statistic "share of the total held by the largest k
    values" (NaN if the total is not positive), k in `ks`, with one set of draws.

    The statistic sorts each resample, so a resample enters only as its values in
    descending order: built here from how often each vendor was drawn (its sorted
    values repeated that often) instead of a sort per replicate, and summed as the
    same descending view, so the floating-point sums are the same."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return [(float("nan"), float("nan"))] * len(ks)
    ascending = np.sort(values)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(values, kind="stable")] = np.arange(n)
    stats = np.empty((len(ks), replicates))
    rng = np.random.default_rng(seed)
    chunk = max(1, int(_DRAW_CELLS // n))
    for start in range(0, replicates, chunk):
        size = min(chunk, replicates - start)
        drawn = rank[rng.integers(0, n, size=(size, n))] + np.arange(size)[:, None] * n
        counts = np.bincount(drawn.ravel(), minlength=size * n)
        del drawn
        positions = np.repeat(np.tile(np.arange(n), size), counts)
        resamples = ascending[positions].reshape(size, n)[:, ::-1]
        del positions, counts
        total = resamples.sum(axis=1)
        for j, k in enumerate(ks):
            with np.errstate(invalid="ignore", divide="ignore"):
                share = resamples[:, :k].sum(axis=1) / total
            stats[j, start : start + size] = np.where(total <= 0, np.nan, share)
    alpha = (1 - level) / 2
    return [tuple(float(q) for q in np.nanquantile(row, [alpha, 1 - alpha])) for row in stats]
