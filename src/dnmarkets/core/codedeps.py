"""Which package source files a rule script or notebook depends on.

Snakemake reruns a job when its script changes, but not when a module of this
package that the script imports changes. The rules therefore list the
package files each script uses (transitively) as inputs, so that editing
``clean/countries.py`` reruns cleaning and everything downstream, and editing
the report renderer reruns only the report.

Modules are named by their dotted path inside the package (``models.its``);
a module that imports another also runs the ``__init__.py`` of every package
on the way, so those count too. An import of a package module that does not
exist is an error: skipping it would silently stop edits of a moved file from
rerunning the rules that use it.
"""

from __future__ import annotations

import ast
import functools
import json
from pathlib import Path

PACKAGE = "dnmarkets"


class UnresolvedImport(ImportError):
    """A package import that names no module or package file."""


def _imported_names(
    source: str, current: str | None, is_package: bool
) -> set[tuple[str, tuple[str, ...]]]:
    """Package imports of `source`, as (dotted module inside the package, names
    imported from it) pairs; module "" is the package itself.

    `current` is the dotted name of the importing module (None for a script or a
    notebook, which has no relative imports); `is_package` says it is an
    ``__init__.py``, whose relative imports start at itself, not at its parent.
    """
    found: set[tuple[str, tuple[str, ...]]] = set()
    for node in _statements(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE:
                    found.add((".".join(parts[1:]), ()))
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            if node.level:
                if current is None:
                    continue
                base = current.split(".") if current else []
                if not is_package:
                    base = base[:-1]
                up = node.level - 1
                if up > len(base):
                    raise UnresolvedImport(
                        f"{PACKAGE}.{current}: relative import beyond the package"
                    )
                base = base[: len(base) - up]
                module = ".".join(base + (node.module.split(".") if node.module else []))
                found.add((module, names))
            elif node.module and node.module.split(".")[0] == PACKAGE:
                found.add((".".join(node.module.split(".")[1:]), names))
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


def _module_file(package_dir: Path, module: str) -> Path | None:
    """The file of dotted `module` ("" is the package): a module or a package's __init__."""
    parts = module.split(".") if module else []
    as_package = package_dir.joinpath(*parts, "__init__.py")
    if as_package.is_file():
        return as_package
    if parts:
        as_module = package_dir.joinpath(*parts[:-1], parts[-1] + ".py")
        if as_module.is_file():
            return as_module
    return None


def _with_parents(module: str) -> list[str]:
    """`module` and every package above it: importing a.b.c runs a, a.b and a.b.c."""
    parts = module.split(".") if module else []
    return [".".join(parts[:i]) for i in range(len(parts) + 1)]


def package_dependencies(entry: str | Path, package_dir: str | Path) -> list[str]:
    """Sorted package files (modules, package ``__init__`` files, plus the data
    folder's files when a module uses it) that `entry` (a script or notebook)
    imports, directly or not. Raises UnresolvedImport for a package module that
    does not exist."""
    package_dir = Path(package_dir)
    entry = Path(entry)
    todo = sorted(_imported_names(_source_of(entry), None, False))
    importer = {item: str(entry) for item in todo}
    seen: set[str] = set()
    files: set[Path] = set()
    while todo:
        module, names = item = todo.pop()
        if _module_file(package_dir, module) is None:
            raise UnresolvedImport(
                f"{importer[item]}: imports {'.'.join([PACKAGE, module]).rstrip('.')},"
                f" which is not a module or package under {package_dir}"
            )
        # `from pkg.sub import x`: x is a submodule when such a file exists, else a name
        submodules = [
            f"{module}.{n}" if module else n
            for n in names
            if n != "*" and _module_file(package_dir, f"{module}.{n}" if module else n)
        ]
        for name in [m for sub in [module, *submodules] for m in _with_parents(sub)]:
            if name in seen:
                continue
            seen.add(name)
            path = _module_file(package_dir, name)
            if path is None:  # a parent folder without __init__.py (namespace package)
                raise UnresolvedImport(f"{package_dir}: package {name!r} has no __init__.py")
            files.add(path)
            stat = path.stat()
            imported, reads_data = _module_facts(
                str(path), name, path.name == "__init__.py", stat.st_mtime_ns, stat.st_size
            )
            if reads_data:
                files.update(p for p in (package_dir / "data").rglob("*") if p.is_file())
            for new in sorted(imported):  # each module's imports are queued once
                importer.setdefault(new, str(path))
                todo.append(new)
    return sorted(str(p) for p in files)


@functools.cache
def _module_facts(
    path: str, name: str, is_package: bool, mtime_ns: int, size: int
) -> tuple[frozenset[tuple[str, tuple[str, ...]]], bool]:
    """(package imports, reads packaged data files) of one module, parsed once per
    version of the file: the Snakefile asks for some forty scripts, and parsing the
    same modules for each took seconds of every no-op run."""
    source = Path(path).read_text(encoding="utf-8")
    return frozenset(_imported_names(source, name, is_package)), "resources.files(" in source
