"""Random streams and weighted picks shared by the simulator's modules.

Each purpose draws from its own stream, so that changing one part of the
config (say crawl coverage) leaves the draws of the others unchanged.
"""

from __future__ import annotations

import math

import numpy as np

# Random stream identifiers (child seeds are SeedSequence([seed, stream, ...])).
S_RATES, S_VENDORS, S_MIGRATION, S_LISTINGS, S_TEXT, S_SALES = 1, 2, 3, 4, 5, 6
S_SCHEDULE, S_CRAWL = 7, 8


def stream(seed: int, *ids: int) -> np.random.Generator:
    """The generator of one purpose (`ids`) under the config's seed."""
    return np.random.default_rng(np.random.SeedSequence([seed, *ids]))


def pick(rng: np.random.Generator, n: int, weights) -> np.ndarray:
    """n indices drawn with the given (unnormalised) weights."""
    w = np.asarray(weights, dtype=float)
    c = np.cumsum(w / w.sum())
    c[-1] = 1.0
    return np.searchsorted(c, rng.random(n), side="right")


def pick_u(u: float, weights) -> int:
    """The index that the uniform draw `u` falls on (unnormalised weights, summed in Python
    with fsum, correctly rounded, so that every Python version draws the same)."""
    total = math.fsum(weights)
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w / total
        if u < acc:
            return i
    return len(weights) - 1


def pick_u_many(u: np.ndarray, weights) -> np.ndarray:
    """`pick_u` per uniform draw: the same sums (the total in Python, the running sum in
    order), so the same indices."""
    total = math.fsum(weights)
    c = np.cumsum(np.array([w / total for w in weights], dtype=float))
    return np.minimum(np.searchsorted(c, np.asarray(u, dtype=float), side="right"), len(c) - 1)


def pick_u_cum(u: float, probs: np.ndarray) -> int:
    """As `pick_u`, with the cumulative sum taken by numpy."""
    c = np.cumsum(probs)
    return int(min(np.searchsorted(c / c[-1], u, side="right"), len(probs) - 1))


def pick_u_cum_many(u: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """`pick_u_cum` per uniform draw."""
    c = np.cumsum(probs)
    return np.minimum(np.searchsorted(c / c[-1], np.asarray(u), side="right"), len(probs) - 1)


def row_pick(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per row of `weights`, the column that the row's uniform draw falls on."""
    total = weights.sum(axis=1, keepdims=True)
    c = np.cumsum(weights / np.where(total > 0, total, 1.0), axis=1)
    idx = (u[:, None] >= c).sum(axis=1)
    return np.minimum(idx, weights.shape[1] - 1)
