"""Combining per-partition tables into one table per dataset."""

from __future__ import annotations

import io
import struct
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


# the writer settings of write_parquet, and the row group size ParquetWriter.write_table
# uses when given none
_WRITER = {"compression": "zstd", "write_statistics": True}
_ROW_GROUP_ROWS = 1024 * 1024


def write_merged_parts(paths: list[str | Path], table: str, path: str | Path) -> int:
    """merge_parts written to `path`; the rows, their order and the dtypes pandas reads
    back are those of write_parquet(merge_parts(...)). Returns the rows.

    The file is the one a ParquetWriter writes when given the partitions one after
    the other (:func:`write_merged_parts_reencoded`), byte for byte, but made without
    decoding and encoding the rows again: the writer would encode each partition
    into the row groups the partition file already holds (written with the same
    settings), so these are copied as they are and only the footer is written anew.
    A partition whose column types differ from the merged ones (an all-null column
    of one partition is typed null) is encoded again, alone."""
    if not paths:
        raise ValueError(f"no partitions to merge for table {table!r}")
    files = [pq.ParquetFile(p) for p in paths]
    non_empty = [f for f in files if f.metadata.num_rows]
    footer = _read_footer(_empty_file(_merged_schema(non_empty))) if non_empty else None
    if footer is None:
        return write_merged_parts_reencoded(paths, table, path)
    try:
        return _copy_row_groups(paths, files, _merged_schema(non_empty), footer, path)
    except _NotCopyable:
        return write_merged_parts_reencoded(paths, table, path)


class _NotCopyable(Exception):
    """A layout the row group copy does not know."""


def _copy_row_groups(paths, files, schema: pa.Schema, footer: list, path) -> int:
    row_groups: list[list] = []
    rows = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        out.write(b"PAR1")
        for source, f in zip(paths, files, strict=True):
            if not f.metadata.num_rows:
                continue
            groups = None
            if f.schema_arrow.remove_metadata().equals(schema.remove_metadata()):
                data = open(source, "rb")  # noqa: SIM115 (closed below)
                groups = _copyable_row_groups(data)
            if groups is None:  # encoded again, as the writer would
                data = io.BytesIO()
                pq.write_table(f.read().cast(schema), data, **_WRITER)
                groups = _copyable_row_groups(data)
                if groups is None:
                    raise _NotCopyable(source)
            with data:
                for group, start, end in groups:
                    _shift_offsets(group, out.tell() - start, len(row_groups))
                    data.seek(start)
                    _copy_bytes(data, out, end - start)
                    row_groups.append(group)
                    rows += _field(group, 3)
        _set_field(footer, 3, rows)
        _set_field(footer, 4, (_STRUCT, row_groups))
        encoded = _encode_struct(footer)
        out.write(encoded + struct.pack("<I", len(encoded)) + b"PAR1")
    return rows


def _copy_bytes(source, target, size: int, block: int = 1 << 24) -> None:
    while size > 0:
        chunk = source.read(min(block, size))
        if not chunk:
            raise _NotCopyable("file shorter than its footer says")
        target.write(chunk)
        size -= len(chunk)


def write_merged_parts_reencoded(paths: list[str | Path], table: str, path: str | Path) -> int:
    """write_merged_parts by decoding each partition and encoding it again (one
    partition in memory at a time)."""
    if not paths:
        raise ValueError(f"no partitions to merge for table {table!r}")
    files = [pq.ParquetFile(p) for p in paths]
    non_empty = [f for f in files if f.metadata.num_rows] or files[:1]
    schema = _merged_schema(non_empty)
    rows = 0
    with atomic_path(path) as tmp:
        with pq.ParquetWriter(tmp, schema, **_WRITER) as writer:
            for f in non_empty:
                part = f.read().cast(schema)
                writer.write_table(part)
                rows += part.num_rows
                del part
    return rows


def _merged_schema(files: list[pq.ParquetFile]) -> pa.Schema:
    # all-null columns of one partition are typed null: the other partitions' types win
    schema = pa.unify_schemas([f.schema_arrow for f in files], promote_options="permissive")
    return schema.with_metadata(files[0].schema_arrow.metadata)


def _empty_file(schema: pa.Schema) -> bytes:
    """The file the writer makes for `schema` with no rows: its footer is the merged
    file's, but for the rows and row groups."""
    buffer = io.BytesIO()
    pq.ParquetWriter(buffer, schema, **_WRITER).close()
    return buffer.getvalue()


# --- Parquet footers (Thrift compact protocol) ---------------------------------------
# Just enough of the protocol to read a footer, change its offsets, and write it back
# exactly; any layout this does not know leads to encoding the partition again.

_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET = range(11)
_STRUCT = 12
_ZSTD = 6  # the CompressionCodec of a column chunk


def _read_footer(data: bytes) -> list | None:
    """The FileMetaData of a Parquet file (bytes) as [field id, type, value] lists, or
    None when writing it back would not give the same bytes."""
    return _footer_of(io.BytesIO(data))[0]


def _footer_of(fh) -> tuple[list | None, int]:
    """(FileMetaData or None, where the footer starts) of an open Parquet file."""
    end = fh.seek(0, io.SEEK_END)
    if end < 12:
        return None, 0
    fh.seek(end - 8)
    tail = fh.read(8)
    size = struct.unpack("<I", tail[:4])[0]
    fh.seek(0)
    if tail[4:] != b"PAR1" or fh.read(4) != b"PAR1" or size > end - 12:
        return None, 0
    fh.seek(end - 8 - size)
    raw = fh.read(size)
    try:
        reader = _Reader(raw)
        footer = reader.struct()
    except (ValueError, IndexError):
        return None, 0
    if reader.pos != len(raw) or _encode_struct(footer) != raw:
        return None, 0
    return footer, end - 8 - size


def _copyable_row_groups(fh) -> list[tuple[list, int, int]] | None:
    """(row group metadata, first byte, end) of each row group of a file the writer
    made from one table: row groups back to back from byte 4 to the footer, full
    ones (but the last), no page indexes or bloom filters elsewhere in the file."""
    footer, footer_start = _footer_of(fh)
    if footer is None:
        return None
    groups = _field(footer, 4)[1]
    out, position = [], 4
    for n, group in enumerate(groups):
        if n < len(groups) - 1 and _field(group, 3) != _ROW_GROUP_ROWS:
            return None
        start = position
        for chunk in _field(group, 1)[1]:
            # file_offset (0 as the writer sets it: deprecated) and meta_data only
            if any(f[0] not in (2, 3) for f in chunk) or _field(chunk, 2) != 0:
                return None
            meta = _field(chunk, 3)
            if any(f[0] in (8, 10, 14, 15) for f in meta):  # key-values, index, bloom
                return None
            if _field(meta, 4) != _ZSTD:  # written with other settings than write_parquet's
                return None
            first = _field(meta, 11, None)
            first = _field(meta, 9) if first is None else first
            if first != position:
                return None
            position += _field(meta, 7)
        out.append((group, start, position))
    if position != footer_start:
        return None
    return out


def _shift_offsets(group: list, delta: int, ordinal: int) -> None:
    """Move a row group's metadata to its place in the merged file."""
    for field in group:
        if field[0] == 5:  # file_offset
            field[2] += delta
        elif field[0] == 7:  # ordinal
            field[2] = ordinal
    for chunk in _field(group, 1)[1]:
        for field in _field(chunk, 3):
            if field[0] in (9, 11):  # data_page_offset, dictionary_page_offset
                field[2] += delta


_MISSING = object()


def _field(fields: list, fid: int, default=_MISSING):
    for f in fields:
        if f[0] == fid:
            return f[2]
    if default is _MISSING:
        raise KeyError(fid)
    return default


def _set_field(fields: list, fid: int, value) -> None:
    for f in fields:
        if f[0] == fid:
            f[2] = value
            return
    raise KeyError(fid)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, kind: int):
        if kind in (_TRUE, _FALSE, _BYTE):  # a boolean in a list is a byte of its own
            return self.byte()
        if kind in (_I16, _I32, _I64):
            return self.zigzag()
        if kind in (_DOUBLE, _BINARY):
            n = 8 if kind == _DOUBLE else self.varint()
            self.pos += n
            if self.pos > len(self.data):
                raise ValueError("truncated")
            return self.data[self.pos - n : self.pos]
        if kind in (_LIST, _SET):
            head = self.byte()
            size, elem = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            return (elem, [self.value(elem) for _ in range(size)])
        if kind == _STRUCT:
            return self.struct()
        raise ValueError(f"Thrift type {kind} not handled")

    def struct(self) -> list:
        fields, last = [], 0
        while True:
            head = self.byte()
            if head == _STOP:
                return fields
            kind, delta = head & 0x0F, head >> 4
            fid = last + delta if delta else self.zigzag()
            value = None if kind in (_TRUE, _FALSE) else self.value(kind)
            fields.append([fid, kind, value])
            last = fid


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def _zigzag(n: int) -> bytes:
    return _varint((n << 1) ^ (n >> 63))


def _encode_value(kind: int, value) -> bytes:
    if kind in (_TRUE, _FALSE, _BYTE):
        return bytes([value])
    if kind in (_I16, _I32, _I64):
        return _zigzag(value)
    if kind == _DOUBLE:
        return value
    if kind == _BINARY:
        return _varint(len(value)) + value
    if kind in (_LIST, _SET):
        elem, items = value
        head = bytes([len(items) << 4 | elem]) if len(items) < 15 else bytes([0xF0 | elem])
        size = b"" if len(items) < 15 else _varint(len(items))
        return head + size + b"".join(_encode_value(elem, v) for v in items)
    if kind == _STRUCT:
        return _encode_struct(value)
    raise ValueError(f"Thrift type {kind} not handled")


def _encode_struct(fields: list) -> bytes:
    out, last = bytearray(), 0
    for fid, kind, value in fields:
        delta = fid - last
        if 0 < delta <= 15:
            out.append(delta << 4 | kind)
        else:
            out.append(kind)
            out += _zigzag(fid)
        if kind not in (_TRUE, _FALSE):
            out += _encode_value(kind, value)
        last = fid
    out.append(_STOP)
    return bytes(out)
