"""Checksum manifests of raw files: `path<TAB>sha256<TAB>rows` per line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dnmarkets.core.io import sha256_file


class ChecksumError(RuntimeError):
    """A raw file is missing or differs from its manifest entry."""


class AccountingError(RuntimeError):
    """Raw rows listed in a manifest are not all in the clean tables or quarantine."""


def read_manifest(path: str | Path) -> pd.DataFrame:
    manifest = pd.read_csv(path, sep="\t", dtype={"path": str, "sha256": str})
    missing = {"path", "sha256"} - set(manifest.columns)
    if missing:
        raise ChecksumError(f"{path}: manifest lacks column(s) {sorted(missing)}")
    twice = manifest["path"].duplicated(keep=False)
    if twice.any():  # one file listed twice would be read (and counted) twice
        rows = ", ".join(str(i + 2) for i in manifest.index[twice])  # +2: 1-based, header
        raise ChecksumError(
            f"{path}: {manifest['path'][twice].iloc[0]} is listed more than once (lines {rows})"
        )
    return manifest


def check_all_cleaned(manifest_path: str | Path, accounting: pd.DataFrame) -> None:
    """Every file of the manifest was cleaned, with all its rows (raw = clean + quarantined).

    Partitions are planned from the config before the raw files exist; a file
    outside every planned partition (a market or month the config does not
    know) would otherwise be left out of the dataset without a word.
    `accounting` is the merged accounting table; its raw_file paths are
    relative to the project root, as is `manifest_path`.
    """
    root = Path(manifest_path).parent
    manifest = read_manifest(manifest_path)
    expected = {(root / p).as_posix(): p for p in manifest["path"]}
    cleaned = accounting.set_index("raw_file")
    left_out = sorted(p for full, p in expected.items() if full not in cleaned.index)
    if left_out:
        shown = ", ".join(left_out[:5]) + (
            f" and {len(left_out) - 5} more" if len(left_out) > 5 else ""
        )
        raise AccountingError(
            f"{manifest_path}: {len(left_out)} raw file(s) in no cleaning partition: {shown}. "
            "Is the market or month in the config (markets, period)?"
        )
    if "rows" in manifest:
        rows = dict(
            zip((root / manifest["path"]).map(Path.as_posix), manifest["rows"], strict=True)
        )
        for full, n in rows.items():
            got = cleaned.loc[full]
            if (
                int(got["raw_rows"]) != int(n)
                or got["raw_rows"] != got["clean_rows"] + got["quarantined_rows"]
            ):
                raise AccountingError(
                    f"{full}: {n} rows in {manifest_path}, but {got['raw_rows']} raw = "
                    f"{got['clean_rows']} clean + {got['quarantined_rows']} quarantined"
                )


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


def files_from_manifest(manifest_path: str | Path, prefix: str) -> list[Path]:
    """Files listed in a manifest whose path starts with `prefix`, sorted."""
    root = Path(manifest_path).parent
    return [root / p for p in sorted(read_manifest(manifest_path)["path"]) if p.startswith(prefix)]
