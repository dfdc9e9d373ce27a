"""Byte-stable writers of the simulated files (gzip without timestamps, LF lines)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from pathlib import Path

from dnmarkets.core.io import atomic_path


def csv_gz(header: list[str], rows: list[list[str]]) -> bytes:
    """A gzipped CSV whose bytes depend only on the rows (no mtime, no file name)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return gzip_bytes(text.getvalue().encode("utf-8"))


def gzip_bytes(data) -> bytes:
    """`data` (bytes or a buffer) gzipped; the bytes depend only on the data."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="", compresslevel=6) as gz:
        gz.write(data)
    return buf.getvalue()


def write_bytes(path: Path, data: bytes) -> str:
    """Write `data` atomically; its sha256."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """Write a plain CSV atomically."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(text.getvalue(), encoding="utf-8")
