"""Write envs/*.yaml (conda environments for `snakemake --sdm conda`) from uv.lock.

The lock file is the single source of versions: every package in a conda
environment is pinned to the version the lock holds, installed with pip inside
a conda Python 3.11, with the full dependency closure pinned (several packages,
e.g. pypandoc-binary and typst, exist only on PyPI). tests/workflow/test_envs.py fails
when the two drift apart; rerun `uv run python tools/make_envs.py` after
`uv lock`. The project package itself
reaches the rule scripts through PYTHONPATH (set in rules/common.smk).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Rule groups and the top-level packages their scripts import.
GROUPS = {
    "pipeline": [
        "snakemake",
        "pandas",
        "pyarrow",
        "numpy",
        "scipy",
        "pandera",
        "pyyaml",
        "matplotlib",
        "duckdb",
        "currencyconverter",
        "isal",  # the cleaning's gunzip (dnmarkets.sources.rawcsv; zlib without it)
    ],
    "models": [
        "pandas",
        "pyarrow",
        "numpy",
        "scipy",
        "statsmodels",
        "matplotlib",
        "duckdb",
        "currencyconverter",
    ],
    "notebooks": [
        "pandas",
        "pyarrow",
        "numpy",
        "scipy",
        "statsmodels",
        "seaborn",
        "matplotlib",
        "papermill",
        "ipykernel",
        "nbformat",
    ],
    "report": ["pandas", "pyarrow", "pyyaml", "pypandoc-binary", "typst", "matplotlib"],
}


def locked_versions(lock_path: Path = ROOT / "uv.lock") -> dict[str, str]:
    lock = tomllib.loads(lock_path.read_text())
    return {pkg["name"]: pkg["version"] for pkg in lock["package"] if "version" in pkg}


def closure(packages: list[str], lock_path: Path = ROOT / "uv.lock") -> list[str]:
    """The packages and everything they depend on, as the lock resolves it."""
    lock = tomllib.loads(lock_path.read_text())
    deps = {
        pkg["name"]: [d["name"] for d in pkg.get("dependencies", []) if _applies(d)]
        for pkg in lock["package"]
    }
    seen: set[str] = set()
    todo = list(packages)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(deps.get(name, []))
    return sorted(seen)


# The environments' Python (render writes `python=3.11`): the lock covers 3.11 to
# 3.13, and a dependency for another version only (papermill's aiohttp on 3.12)
# is left out. Its first and a late patch release: a marker on the patch level
# (python_full_version < '3.11.5') keeps the dependency if either matches.
ENV_PYTHONS = ("3.11.0", "3.11.99")


def _applies(dep: dict) -> bool:
    # this pipeline runs on Linux; drop Windows/macOS-only dependencies
    marker = dep.get("marker", "")
    if any(
        s in marker
        for s in (
            "sys_platform == 'win32'",
            "sys_platform == 'darwin'",
            "platform_system == 'Windows'",
            "os_name == 'nt'",
        )
    ):
        return False
    if "python" not in marker:
        return True
    from packaging.markers import Marker

    return any(
        Marker(marker).evaluate(
            {
                "python_full_version": v,
                "python_version": v.rsplit(".", 1)[0],
                "sys_platform": "linux",
            }
        )
        for v in ENV_PYTHONS
    )


def render(group: str, packages: list[str], versions: dict[str, str]) -> str:
    lines = [
        f"# Conda environment for the '{group}' rules (snakemake --sdm conda).",
        "# Generated from uv.lock by tools/make_envs.py; do not edit by hand.",
        f"name: dnmarkets-{group}",
        "channels:",
        "  - conda-forge",
        "  - nodefaults",
        "dependencies:",
        f"  - python={ENV_PYTHONS[0].rsplit('.', 1)[0]}",
        "  - pip",
        "  - pip:",
    ]
    for name in closure(packages):
        lines.append(f"      - {name}=={versions[name]}")
    return "\n".join(lines) + "\n"


def main() -> int:
    versions = locked_versions()
    for group, packages in GROUPS.items():
        (ROOT / "envs" / f"{group}.yaml").write_text(render(group, packages, versions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
