"""Combining per-partition tables into one table per dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dnmarkets.core.io import atomic_path


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


def write_merged_parts(paths: list[str | Path], table: str, path: str | Path) -> int:
    """merge_parts written to `path` one partition at a time, so memory holds one
    partition (as Arrow), not the dataset; the rows, their order and the dtypes
    pandas reads back are those of write_parquet(merge_parts(...)). Returns the rows."""
    if not paths:
        raise ValueError(f"no partitions to merge for table {table!r}")
    files = [pq.ParquetFile(p) for p in paths]
    non_empty = [f for f in files if f.metadata.num_rows] or files[:1]
    # all-null columns of one partition are typed null: the other partitions' types win
    schema = pa.unify_schemas([f.schema_arrow for f in non_empty], promote_options="permissive")
    schema = schema.with_metadata(non_empty[0].schema_arrow.metadata)
    rows = 0
    with atomic_path(path) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd", write_statistics=True) as writer:
            for f in non_empty:
                part = f.read().cast(schema)
                writer.write_table(part)
                rows += part.num_rows
                del part
    return rows
