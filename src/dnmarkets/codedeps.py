"""Which package source files a rule script or notebook depends on.

Snakemake reruns a job when its script changes, but not when a module of this
package that the script imports changes. The rules therefore list the
package files each script uses (transitively) as inputs, so that editing
``countries.py`` reruns cleaning and everything downstream, and editing the
report renderer reruns only the report.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

PACKAGE = "dnmarkets"


def _imported_modules(source: str, current: str | None) -> set[str]:
    """Names of package modules imported by `source` (module `current` for relative imports)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level and current is not None:  # from .x import y / from . import x
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
            elif node.module and node.module.split(".")[0] == PACKAGE:
                parts = node.module.split(".")
                if len(parts) > 1:
                    found.add(parts[1])
                else:  # from dnmarkets import x
                    found.update(alias.name for alias in node.names)
    return found


def _source_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return path.read_text(encoding="utf-8")


def package_dependencies(entry: str | Path, package_dir: str | Path) -> list[str]:
    """Sorted package files (modules, plus the data folder's files when a module
    uses it) that `entry` (a script or notebook) imports, directly or not."""
    package_dir = Path(package_dir)
    todo = sorted(_imported_modules(_source_of(Path(entry)), None))
    seen: set[str] = set()
    files: set[Path] = {package_dir / "__init__.py"}
    while todo:
        name = todo.pop()
        module = package_dir / f"{name}.py"
        if name in seen or not module.is_file():
            continue
        seen.add(name)
        files.add(module)
        source = module.read_text(encoding="utf-8")
        if "resources.files(" in source:  # reads packaged data files
            files.update(p for p in (package_dir / "data").rglob("*") if p.is_file())
        todo.extend(sorted(_imported_modules(source, name) - seen))
    return sorted(str(p) for p in files)
