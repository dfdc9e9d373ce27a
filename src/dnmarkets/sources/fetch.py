"""Obtain the real source files: from a local mirror, or by download, always verified.

`data/sources.tsv` (kept in the project) lists every source file with the
sha256 of the file as mirrored (compressed), the sha256 of the original file,
and its public address. Two ways to obtain a source's files into
`data/raw/<source>/files/<path>`:

- mirror: copy from a local folder laid out like the mirror (air-gapped users;
  CI uses ../shared/data); checked against the mirrored sha256;
- download: fetch the original from its public address, check the original's
  sha256, and store it gzip-compressed (the name of the mirrored file).

Nothing unverified is ever left in place: files are written to a temporary
name and renamed only after their checksum matched.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dnmarkets.core.io import atomic_path, sha256_file

SOURCES_FILE = Path("data/sources.tsv")


class FetchError(RuntimeError):
    """A source file cannot be obtained or does not match its checksum."""


@dataclass(frozen=True)
class SourceFile:
    source: str
    path: str  # relative to the mirror root, e.g. agora-2014-2015/listings/....csv.gz
    sha256: str  # of the file as mirrored
    sha256_original: str  # of the original, uncompressed file ("" if none)
    url: str  # public address of the original ("" if mirror only)


def read_sources(path: str | Path = SOURCES_FILE) -> list[SourceFile]:
    with open(path, newline="", encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    rows = csv.DictReader(lines, delimiter="\t")
    files = [SourceFile(**row) for row in rows]
    seen: dict[str, int] = {}
    for i, f in enumerate(files, 1):
        if f.path in seen:  # it would be fetched, imported and counted twice
            raise FetchError(
                f"{path}: data row {i}, field 'path': {f.path} is listed twice "
                f"(first in data row {seen[f.path]})"
            )
        seen[f.path] = i
    return files


def files_of(source: str, path: str | Path = SOURCES_FILE) -> list[SourceFile]:
    files = [f for f in read_sources(path) if f.source == source]
    if not files:
        raise FetchError(f"{path}: no files listed for source {source!r}")
    return files


def _copy_verified(entry: SourceFile, mirror: Path, dest: Path) -> None:
    src = mirror / entry.path
    if not src.is_file():
        raise FetchError(
            f"{src}: missing from the mirror {mirror} (listed in {SOURCES_FILE}). "
            "Point `mirror` in the config at a complete copy of the data, "
            "or set `download: true` to fetch the files from their public sources."
        )
    actual = sha256_file(src)
    if actual != entry.sha256:
        raise FetchError(
            f"{src}: sha256 {actual} differs from {entry.sha256} in {SOURCES_FILE}; "
            "the mirror holds a different or damaged file"
        )
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
    if sha256_file(dest) != entry.sha256:  # the copy itself went wrong (disk full, ...)
        dest.unlink()
        raise FetchError(f"{dest}: copy from {src} does not match its checksum")


def _download_verified(entry: SourceFile, dest: Path, timeout: float) -> None:
    if not entry.url:
        raise FetchError(
            f"{entry.path}: has no public single-file address; obtain it from a mirror "
            "(set `mirror` in the config)"
        )
    digest = hashlib.sha256()
    compress = entry.path.endswith(".gz")  # the mirror stores these originals gzipped
    try:
        with urllib.request.urlopen(entry.url, timeout=timeout) as response:
            with atomic_path(dest) as tmp, open(tmp, "wb") as raw:
                # mtime=0 and no file name: the same download gives the same bytes
                out = (
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if compress else raw
                )
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
                if compress:
                    out.close()
                expected = entry.sha256_original or entry.sha256
                if digest.hexdigest() != expected:
                    raise FetchError(
                        f"{entry.url}: sha256 {digest.hexdigest()} differs from "
                        f"{expected} in {SOURCES_FILE}; not kept"
                    )
    except OSError as err:  # URLError is an OSError: offline, DNS, HTTP errors
        raise FetchError(
            f"{entry.url}: download failed ({err}). Without network access, copy the "
            "data to a local folder and set `mirror` in the config to it."
        ) from err


def fetch_source(
    source: str,
    dest_dir: str | Path,
    mirror: str | Path | None,
    download: bool,
    sources_file: str | Path = SOURCES_FILE,
    timeout: float = 60.0,
) -> list[dict]:
    """Obtain every file of `source` into `dest_dir/files/`; return one record per file."""
    if not mirror and not download:
        raise FetchError(
            f"source {source!r}: no way to obtain the real data. Set `mirror` to a local "
            "copy (for example `--config mirror=../shared/data`) or `download: true`."
        )
    dest_dir = Path(dest_dir)
    records = []
    for entry in files_of(source, sources_file):
        dest = dest_dir / "files" / entry.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        if mirror:
            _copy_verified(entry, Path(mirror).expanduser().resolve(), dest)
            how = "mirror"
        else:
            _download_verified(entry, dest, timeout)
            how = "download"
        records.append(
            {"path": f"files/{entry.path}", "sha256": sha256_file(dest), "obtained_by": how}
        )
    return records


def write_fetched(records: list[dict], path: str | Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, ["path", "sha256", "obtained_by"], delimiter="\t", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(records)
    os.chmod(path, 0o644)
