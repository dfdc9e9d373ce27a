"""The manifest of a results folder, and its check.

Rule `manifest` writes `results/manifest.json`: the sha256 of every raw input
and every result file, with the code version, the lock file's hash and the
configuration (taken from the provenance record). A reviewer who was sent a
results folder runs `./run.sh verify [results]` (this module) to check that
its files are the ones the pipeline made: it names every file that is missing,
changed, or not in the manifest, and exits non-zero if there is any.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dnmarkets.core.io import read_json, sha256_file
from dnmarkets.sources.raw_checksums import read_manifest

MANIFEST_NAME = "manifest.json"
# timings and the report's scratch build differ between identical runs: not results
SKIPPED_DIRS = {"benchmarks", "_build"}
# raw-folder files that list other files with their (already verified) sha256
CHECKSUM_LISTS = ("manifest.tsv", "fetched.tsv")


def result_files(results_dir: str | Path) -> list[str]:
    """Result files under `results_dir` (relative paths), without scratch and hidden files."""
    root = Path(results_dir)
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or rel.as_posix() == MANIFEST_NAME:
            continue
        if SKIPPED_DIRS & set(rel.parts) or any(p.startswith(".") for p in rel.parts):
            continue  # hidden: Snakemake's directory timestamps, a killed writer's temp file
        files.append(rel.as_posix())
    return files


def input_hashes(raw_dirs: list[str | Path]) -> dict[str, str]:
    """sha256 of the raw inputs: each raw folder's own files, hashed now, and the
    files its checksum lists name, with the sha256 recorded there (checked when
    the files were fetched or read, and too large to hash twice)."""
    hashes = {}
    for raw in map(Path, raw_dirs):
        for path in sorted(p for p in raw.iterdir() if p.is_file()):
            hashes[path.as_posix()] = sha256_file(path)
            if path.name in CHECKSUM_LISTS:
                listed = read_manifest(path)
                for rel, sha in zip(listed["path"], listed["sha256"], strict=True):
                    hashes[(raw / rel).as_posix()] = sha
    return dict(sorted(hashes.items()))


def build_manifest(results_dir: str | Path, provenance: dict, raw_dirs: list) -> dict:
    root = Path(results_dir)
    return {
        "code_version": provenance["code_version"],
        "lock_sha256": provenance["lock_sha256"],
        "config": provenance["config"],
        "inputs": input_hashes(raw_dirs),
        "results": {rel: sha256_file(root / rel) for rel in result_files(root)},
    }


def check(results_dir: str | Path, inputs_root: str | Path | None = None) -> list[str]:
    """Problems of a results folder against its manifest, one line per file (empty: all match).

    With `inputs_root` (the project folder), the raw inputs are checked as well.
    """
    root = Path(results_dir)
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.is_file():
        return [f"missing: {manifest_path} (no manifest to check against)"]
    manifest = read_json(manifest_path)
    problems = _compare(manifest["results"], root, result_files(root), root)
    if inputs_root is not None:
        problems += _compare(manifest["inputs"], Path(inputs_root), None, Path(inputs_root))
    return problems


def _compare(expected: dict[str, str], root: Path, present: list[str] | None, shown: Path):
    problems = []
    for rel, sha in sorted(expected.items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"missing: {shown / rel}")
        elif sha256_file(path) != sha:
            problems.append(f"changed: {shown / rel}")
    for rel in sorted(set(present or []) - set(expected)):
        problems.append(f"extra (not in the manifest): {shown / rel}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./run.sh verify",
        description="Check a results folder against its manifest.json (sha256 of every file).",
    )
    parser.add_argument("results", nargs="?", default="results", help="default: results")
    parser.add_argument(
        "--inputs",
        metavar="PROJECT",
        help="also check the raw inputs, relative to this project folder",
    )
    args = parser.parse_args(argv)
    problems = check(args.results, args.inputs)
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(f"FAILED: {len(problems)} file(s) differ from the manifest", file=sys.stderr)
        return 1
    manifest = read_json(Path(args.results) / MANIFEST_NAME)
    checked = len(manifest["results"]) + (len(manifest["inputs"]) if args.inputs else 0)
    print(
        f"OK: {checked} files match {Path(args.results) / MANIFEST_NAME} "
        f"(code version {manifest['code_version']}, lock sha256 {manifest['lock_sha256'][:12]})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
