"""Which package source files a rule script or notebook depends on.

Snakemake reruns a job when its script changes, but not when a module of this
package that the script imports changes. The rules therefore list the
package files each script uses (transitively) as inputs, so that editing
``countries.py`` reruns cleaning and everything downstream, and editing the
report renderer reruns only the report.
"""

from __future__ import annotations

import ast
import functools
import json
from pathlib import Path

PACKAGE = "dnmarkets"


def _imported_modules(source: str, current: str | None) -> set[str]:
    """Names of package modules imported by `source` (module `current` for relative imports)."""
    found: set[str] = set()
    for node in _statements(ast.parse(source)):
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


def _statements(tree: ast.AST):
    """Every statement, nested ones included (imports are statements: walking only
    statements skips the expressions, most of a module's nodes)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                stack.extend(children)


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
        stat = module.stat()
        imported, reads_data = _module_facts(str(module), name, stat.st_mtime_ns, stat.st_size)
        if reads_data:
            files.update(p for p in (package_dir / "data").rglob("*") if p.is_file())
        todo.extend(sorted(imported - seen))
    return sorted(str(p) for p in files)


@functools.cache
def _module_facts(path: str, name: str, mtime_ns: int, size: int) -> tuple[frozenset[str], bool]:
    """(package modules imported, reads packaged data files) of one module, parsed once
    per version of the file: the Snakefile asks for some forty scripts, and parsing
    the same modules for each took seconds of every no-op run."""
    source = Path(path).read_text(encoding="utf-8")
    return frozenset(_imported_modules(source, name)), "resources.files(" in source
