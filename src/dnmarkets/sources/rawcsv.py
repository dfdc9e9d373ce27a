"""Bytes of untrusted CSV files to text, with errors that name file, row and field.

Shared by the tabular importer (source scrapes) and cleaning (canonical
snapshots), so that both read the same bytes the same way:

- gzip: a truncated or damaged stream is an error naming the file (never a
  silently shortened table);
- encodings: a UTF-8 byte-order mark is dropped; UTF-16/32 (a BOM or NUL
  bytes in the header) is an error naming the encoding found; bytes that
  are not valid in the expected encoding are an error naming the data row,
  the field and the byte offset (:func:`decode`), so that a latin-1 file is
  never read with its accents silently replaced;
- line ends: LF and CRLF end records; in a file with LF line ends a bare CR
  (one not followed by LF) is data, read as a space, not a record end: a
  scraper's stray CR inside a title must not split one row into two.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from pathlib import Path

try:  # ISA-L's inflate; an environment without it uses zlib's (same bytes)
    from isal import igzip
except ImportError:  # pragma: no cover - the locked environments have it
    igzip = None

UTF8_BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32-LE",
    b"\x00\x00\xfe\xff": "UTF-32-BE",
    b"\xff\xfe": "UTF-16-LE",
    b"\xfe\xff": "UTF-16-BE",
}
_BARE_CR = re.compile(rb"\r(?!\n)")

csv.field_size_limit(16 * 1024 * 1024)  # 1 MB fields are read, not refused


def read_bytes(path: Path, error: type[Exception]) -> bytes:
    """The file's bytes, gunzipped when the name ends in .gz; `error` on a bad stream."""
    path = Path(path)
    try:
        data = path.read_bytes()
        if path.suffix != ".gz":
            return data
        if igzip is not None:
            try:  # ISA-L's inflate: about twice as fast as zlib's, the same bytes
                return igzip.decompress(data)
            except Exception:  # noqa: BLE001 - a bad stream: zlib's error message below
                pass
        # one call on the whole file: a fifth faster than reading a gzip.open stream
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:
        raise error(f"{path}: cannot read gzip file (truncated or damaged): {err}") from None


def check_wide_encoding(data: bytes, path: Path, error: type[Exception], hint: str = "") -> None:
    """`error` for UTF-16/UTF-32 data: a BOM, or NUL bytes in the first line."""
    for bom, name in _WIDE_BOMS.items():
        if data.startswith(bom):
            raise error(
                f"{path}: the file is {name} (byte-order mark {bom.hex(' ')}); "
                f"expected UTF-8: convert it (iconv -f {name} -t UTF-8){hint}"
            )
    first_line = data[: data.find(b"\n")] if b"\n" in data else data[:4096]
    if first_line.count(b"\x00") * 4 >= len(first_line) > 0:
        raise error(
            f"{path}: the header is full of NUL bytes: the file looks UTF-16 or UTF-32 "
            "without a byte-order mark; expected UTF-8"
        )


def normalise_line_ends(data: bytes) -> bytes:
    """Bare CRs become spaces in files whose records end with LF (see module docstring)."""
    if b"\r" in data and b"\n" in data:
        return _BARE_CR.sub(b" ", data)
    return data


def locate(text_before: str) -> tuple[int, int]:
    """(data row, 0-based field index) of the position right after `text_before`.

    Data rows count from 1 after the header; blank lines are not rows.
    """
    records = [r for r in csv.reader(io.StringIO(text_before, newline="")) if r]
    if not records:
        return 0, 0
    if text_before.endswith(("\n", "\r")):
        return len(records) - 1 + 1, 0
    return len(records) - 1, len(records[-1]) - 1


def decode(
    data: bytes, path: Path, error: type[Exception], encoding: str = "utf-8"
) -> tuple[str, tuple[int, str, int] | None]:
    """Text of the data, and where the first invalid byte is: (row, field, offset) or None.

    With ``encoding="utf-8"`` invalid bytes are replaced by U+FFFD in the text
    returned; the caller decides whether that is an error (:func:`decode_error`)
    or a reason to quarantine rows.
    """
    skip = len(UTF8_BOM) if encoding.replace("-", "").lower() == "utf8" else 0
    if not data.startswith(UTF8_BOM):
        skip = 0
    body = data[skip:]
    try:
        return body.decode(encoding), None
    except UnicodeDecodeError as err:
        before = body[: err.start].decode(encoding, errors="replace")
        row, field = locate(before)
        header = next(csv.reader(io.StringIO(before.split("\n", 1)[0], newline="")), [])
        name = header[field] if field < len(header) else f"field {field + 1}"
        return body.decode(encoding, errors="replace"), (row, name, err.start + skip)
    except LookupError:
        raise error(f"{path}: unknown encoding {encoding!r}") from None


def decode_error(path: Path, where: tuple[int, str, int], data: bytes, encoding: str) -> str:
    row, field, offset = where
    byte = data[offset : offset + 1].hex()
    place = f"data row {row}, field {field!r}" if row else "the header"
    return (
        f"{path}: {place}: byte 0x{byte} at byte offset {offset} is not valid {encoding} "
        "(a latin-1 or cp1252 file?); convert the file to UTF-8 or set `encoding` "
        "in the table mapping"
    )


def csv_records(
    path: Path, text: str, error: type[Exception], skip_initial_space: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Header and data records of CSV text, by the csv module in strict mode (not
    pandas: it takes a too-wide first row's extra field for an index, shifting every
    column, and pads short rows silently). Blank lines are not rows; a malformed
    record is an `error` naming the data row and the line it ends on.
    `skip_initial_space`: spaces after a separator are not data (`a, "b"`)."""
    reader = csv.reader(
        io.StringIO(text, newline=""), strict=True, skipinitialspace=skip_initial_space
    )
    records: list[list[str]] = []
    try:
        header = next(reader, None) or []
        for record in reader:
            if record:
                records.append(record)
    except csv.Error as err:
        raise error(
            f"{path}: cannot parse data row {len(records) + 1} (ending at line "
            f"{reader.line_num}) as CSV: {err}"
        ) from None
    return header, records
