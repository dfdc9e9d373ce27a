"""merge_clean copies the partitions' row groups: the same bytes as encoding them again."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dnmarkets.clean.merge import merge_parts, write_merged_parts, write_merged_parts_reencoded
from dnmarkets.core.io import write_parquet


def _part(n: int, seed: int, dates: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "market": pd.array(rng.choice(["a", "b", None], n), dtype="str"),
            "title": pd.array([f"title {i % 97} ü" for i in range(n)], dtype="str"),
            "price": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
            "count": pd.array(rng.integers(0, 9, n), dtype="Int64"),
            "flag": rng.random(n) < 0.5,
            # an all-null object column of a partition is typed null in its file
            "registered": [pd.Timestamp("2017-01-02").date() if dates else None] * n,
        }
    )


def _merge_both(tmp_path, frames: list[pd.DataFrame]) -> tuple[bytes, bytes, int]:
    paths = []
    for i, frame in enumerate(frames):
        paths.append(tmp_path / f"part{i}.parquet")
        write_parquet(frame, paths[-1])
    copied, encoded = tmp_path / "copied.parquet", tmp_path / "encoded.parquet"
    rows = write_merged_parts(paths, "t", copied)
    assert write_merged_parts_reencoded(paths, "t", encoded) == rows
    merged = pd.read_parquet(copied)
    pd.testing.assert_frame_equal(merged, merge_parts(paths, "t").astype(merged.dtypes))
    return copied.read_bytes(), encoded.read_bytes(), rows


def test_copied_row_groups_are_the_encoded_ones(tmp_path):
    frames = [_part(50, 1, dates=False), _part(0, 2), _part(300, 3), _part(7, 4, dates=False)]
    copied, encoded, rows = _merge_both(tmp_path, frames)
    assert rows == 357
    assert copied == encoded
    assert pq.ParquetFile(tmp_path / "copied.parquet").metadata.num_row_groups == 3


def test_partitions_of_several_row_groups(tmp_path):
    # above 1024 * 1024 rows a partition file holds several row groups
    big = pd.DataFrame({"x": np.arange(1024 * 1024 + 5, dtype="int64"), "y": "s"})
    copied, encoded, rows = _merge_both(tmp_path, [big.iloc[:10], big])
    assert rows == 1024 * 1024 + 15
    assert copied == encoded
    assert pq.ParquetFile(tmp_path / "copied.parquet").metadata.num_row_groups == 3


def test_only_empty_partitions(tmp_path):
    copied, encoded, rows = _merge_both(tmp_path, [_part(0, 1), _part(0, 2)])
    assert rows == 0 and copied == encoded


def test_a_partition_written_otherwise_is_encoded_again(tmp_path):
    frames = [_part(40, 1), _part(30, 2)]
    paths = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    write_parquet(frames[0], paths[0])
    pq.write_table(pa.Table.from_pandas(frames[1], preserve_index=False), paths[1])  # snappy
    copied, encoded = tmp_path / "copied.parquet", tmp_path / "encoded.parquet"
    assert write_merged_parts(paths, "t", copied) == 70
    write_merged_parts_reencoded(paths, "t", encoded)
    assert copied.read_bytes() == encoded.read_bytes()
