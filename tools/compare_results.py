"""Compare two results folders file by file: does a refactoring change any result?

    python tools/compare_results.py BEFORE/results AFTER/results

Every file present in either folder is compared by SHA-256, in groups:

- results: clean tables, identities, model JSON, summary.json, figures and tables
  written by the notebooks. Any difference here fails (exit status 1).
- code-dependent: files that record the code itself (executed notebooks hold
  their source cells; provenance holds the commit and the package's files; the
  manifest holds their hashes; the rendered report shows the provenance). Their
  differences are listed, with the changed lines of the text ones, for a reader
  to check that only the code version moved.
- report fragments: the Markdown tables and meta.json the notebooks write for
  the report to include. Their differences are listed; a changed fragment that
  changes what the report shows also shows up in report.html.
- ignored: timings (results/benchmarks) and the renderer's scratch folder.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import sys
from pathlib import Path

IGNORED_PREFIXES = ("benchmarks/", "report/_build/")
CODE_DEPENDENT_PREFIXES = ("provenance/", "report/")
CODE_DEPENDENT_NAMES = ("manifest.json",)
CODE_DEPENDENT_SUFFIXES = (".ipynb",)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def group_of(rel: str) -> str:
    if rel.startswith(IGNORED_PREFIXES):
        return "ignored"
    if rel.startswith("notebooks/") and rel.endswith((".md", "meta.json")):
        return "report fragments"
    if (
        rel.startswith(CODE_DEPENDENT_PREFIXES)
        or rel in CODE_DEPENDENT_NAMES
        or rel.endswith(CODE_DEPENDENT_SUFFIXES)
    ):
        return "code-dependent"
    return "results"


def changed_lines(before: Path, after: Path, limit: int = 12) -> list[str]:
    try:
        a = before.read_text(encoding="utf-8").splitlines()
        b = after.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        return ["    (binary)"]
    lines = [
        f"    {line[:160]}"
        for line in difflib.unified_diff(a, b, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    more = len(lines) - limit
    return lines[:limit] + ([f"    ... {more} more changed lines"] if more > 0 else [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--quiet", action="store_true", help="no changed lines, names only")
    args = parser.parse_args()
    files = {
        p.relative_to(root).as_posix()
        for root in (args.before, args.after)
        for p in root.rglob("*")
        if p.is_file()
    }
    counts: dict[str, int] = {}
    failed = False
    for rel in sorted(files):
        group = group_of(rel)
        if group == "ignored":
            continue
        a, b = args.before / rel, args.after / rel
        if not a.is_file() or not b.is_file():
            print(f"[{group}] only in {'after' if b.is_file() else 'before'}: {rel}")
            failed = failed or group == "results"
            continue
        if sha256(a) == sha256(b):
            counts[group] = counts.get(group, 0) + 1
            continue
        print(f"[{group}] differs: {rel}")
        if group == "results":
            failed = True
        if not args.quiet:
            print("\n".join(changed_lines(a, b)))
    for group, n in sorted(counts.items()):
        print(f"{n} {group} files identical")
    print("RESULTS DIFFER" if failed else "every result file identical")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
