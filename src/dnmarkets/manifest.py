"""Checksum manifests of raw files: `path<TAB>sha256<TAB>rows` per line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .io import sha256_file


class ChecksumError(RuntimeError):
    """A raw file is missing or differs from its manifest entry."""


def read_manifest(path: str | Path) -> pd.DataFrame:
    manifest = pd.read_csv(path, sep="\t", dtype={"path": str, "sha256": str})
    missing = {"path", "sha256"} - set(manifest.columns)
    if missing:
        raise ChecksumError(f"{path}: manifest lacks column(s) {sorted(missing)}")
    return manifest


def verify_files(manifest_path: str | Path, files: list[Path]) -> None:
    """Check each file against the manifest beside which the paths are relative."""
    root = Path(manifest_path).parent
    expected = read_manifest(manifest_path).set_index("path")["sha256"].to_dict()
    for file in files:
        rel = Path(file).relative_to(root).as_posix()
        if rel not in expected:
            raise ChecksumError(f"{file}: not listed in {manifest_path}")
        if not Path(file).exists():
            raise ChecksumError(f"{file}: listed in {manifest_path} but missing")
        actual = sha256_file(file)
        if actual != expected[rel]:
            raise ChecksumError(
                f"{file}: sha256 {actual} differs from {expected[rel]} in {manifest_path}"
            )


def partition_files_from_manifest(
    manifest_path: str | Path, market: str, months: list[str]
) -> list[Path]:
    """Snapshot files of one market in the given months, listed in a manifest, sorted."""
    root = Path(manifest_path).parent
    prefixes = tuple(f"snapshots/{market}/{month}-" for month in months)
    paths = sorted(p for p in read_manifest(manifest_path)["path"] if p.startswith(prefixes))
    return [root / p for p in paths]
