"""Combining per-partition tables into one table per dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def merge_parts(paths: list[str | Path], table: str) -> pd.DataFrame:
    """Concatenate partition tables in the given (sorted) order.

    Partitions are disjoint market-months, so the concatenation in partition
    order is already deterministic; no re-sorting of millions of rows needed.
    """
    frames = [pd.read_parquet(p) for p in paths]
    if not frames:
        raise ValueError(f"no partitions to merge for table {table!r}")
    non_empty = [f for f in frames if len(f)]
    merged = pd.concat(non_empty or frames[:1], ignore_index=True)
    return merged
