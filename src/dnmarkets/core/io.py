"""Atomic, deterministic writers for result files.

Every output is written to a temporary file in the target directory and then
renamed into place, so an interrupted job never leaves a half-written file that
a later run would take for complete.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# read once, at import: setting and resetting it later could race with other threads
_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = f".{path.name}.", ".tmp" + path.suffix
    # a job killed by SIGKILL never reaches the clean-up below: its rerun does it
    for stale in path.parent.glob(glob.escape(prefix) + "*" + glob.escape(suffix)):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; outputs are for sharing
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a frame as Parquet, byte-identical for identical frames."""
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)


def read_parquet(path: str | os.PathLike) -> pd.DataFrame:
    return pd.read_parquet(path)


def write_json(obj, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def read_json(path: str | os.PathLike):
    return json.loads(Path(path).read_text())


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _json_default(value):
    # numpy scalars and timestamps appear in model outputs
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def transform_parquet(
    source: str | os.PathLike,
    path: str | os.PathLike,
    transform: Callable[[pd.DataFrame], pd.DataFrame],
    batch_rows: int = 500_000,
    arrow_transform: Callable[[pa.Table], pa.Table] | None = None,
) -> int:
    """write_parquet(transform(read_parquet(source)), path) for a row-wise `transform`,
    a batch of rows at a time, so memory holds one batch, not the table. Returns the rows.

    `arrow_transform`, if given, is `transform` on an Arrow batch: the same values,
    every column keeping its type and its nulls. The batches then stay in Arrow
    (converting every column to pandas and back was most of the time); the file is
    byte-identical to the one written through pandas."""
    # pre-buffering reads a row group's column chunks at once: more memory, more CPU here
    reader = pq.ParquetFile(source, pre_buffer=False)
    writer, rows = None, 0
    with atomic_path(path) as tmp:
        try:
            # one thread: a job's CPU seconds are the measure, and threads cost more of them
            for batch in reader.iter_batches(batch_size=batch_rows, use_threads=False):
                # through a Table: it keeps the pandas metadata (nullable dtypes, str)
                table = pa.Table.from_batches([batch], reader.schema_arrow)
                if arrow_transform is None:
                    out = transform(table.to_pandas()).reset_index(drop=True)
                    schema = None if writer is None else writer.schema
                    table = pa.Table.from_pandas(out, schema=schema, preserve_index=False)
                else:
                    if writer is None:
                        # the pandas metadata and types the first batch gets through pandas
                        # (an object column's type is inferred from its values)
                        schema = pa.Table.from_pandas(table.to_pandas(), preserve_index=False)
                        schema = schema.schema
                    else:
                        schema = writer.schema
                    table = _as_from_pandas(arrow_transform(table), schema)
                if writer is None:
                    writer = pq.ParquetWriter(
                        tmp, table.schema, compression="zstd", write_statistics=True
                    )
                writer.write_table(table)
                rows += table.num_rows
            if writer is None:  # no rows: the empty table, as write_parquet writes it
                empty = transform(reader.schema_arrow.empty_table().to_pandas())
                write_parquet(empty, tmp)
        finally:
            if writer is not None:
                writer.close()
    return rows


def _as_from_pandas(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` as a trip through pandas would give it back under `schema`: one chunk
    per column, floating-point NaN as null, the schema's types."""
    columns = []
    for column, field in zip(table.columns, schema, strict=True):
        array = column
        if isinstance(array, pa.ChunkedArray):  # combine_chunks copies even a single chunk
            array = array.chunk(0) if array.num_chunks == 1 else array.combine_chunks()
        if pa.types.is_floating(array.type) and pc.any(pc.is_nan(array)).as_py():
            array = pc.if_else(pc.is_nan(array), pa.scalar(None, array.type), array)
        if array.type != field.type:
            array = array.cast(field.type)
        columns.append(array)
    return pa.Table.from_arrays(columns, schema=schema)
