"""Which package files a rule script depends on (dnmarkets.core.codedeps)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dnmarkets.core.codedeps import UnresolvedImport, package_dependencies


def make_package(root: Path) -> Path:
    pkg = root / "dnmarkets"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import thing\nimport json\n")
    (pkg / "b.py").write_text("from dnmarkets import c\n")
    (pkg / "c.py").write_text("from importlib import resources\nresources.files('x')\n")
    (pkg / "d.py").write_text("")
    (pkg / "unused.py").write_text("import dnmarkets.a\n")
    (pkg / "data" / "table.csv").write_text("x\n")
    return pkg


def test_transitive_imports_and_data_files(tmp_path):
    pkg = make_package(tmp_path)
    script = tmp_path / "script.py"
    script.write_text("from dnmarkets.a import thing\n")
    got = {Path(f).relative_to(pkg).as_posix() for f in package_dependencies(script, pkg)}
    assert got == {"__init__.py", "a.py", "b.py", "c.py", "data/table.csv"}


def test_an_edited_module_is_parsed_again(tmp_path):
    """The parse of a module is cached per version of the file: a new import counts."""
    pkg = make_package(tmp_path)
    script = tmp_path / "script.py"
    script.write_text("import dnmarkets.b\n")
    before = {Path(f).name for f in package_dependencies(script, pkg)}
    assert "d.py" not in before
    b = pkg / "b.py"
    b.write_text("from dnmarkets import c\nfrom . import d\n")
    stat = b.stat()
    os.utime(b, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a later mtime for sure
    after = {Path(f).name for f in package_dependencies(script, pkg)}
    assert after == before | {"d.py"}


def make_layered_package(root: Path) -> Path:
    """A package with subpackages, as the real one: dnmarkets/{core,models}/..."""
    pkg = root / "dnmarkets"
    for sub in ("core", "models", "models/deep"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "io.py").write_text("import json\n")
    (pkg / "core" / "stats.py").write_text("")
    (pkg / "models" / "its.py").write_text("from ..core.io import write\nfrom . import helpers\n")
    (pkg / "models" / "helpers.py").write_text("from dnmarkets.core import stats\n")
    (pkg / "models" / "deep" / "__init__.py").write_text("from .leaf import x\n")
    (pkg / "models" / "deep" / "leaf.py").write_text("from ...core.io import write\n")
    (pkg / "models" / "unused.py").write_text("")
    return pkg


def deps(script: Path, pkg: Path) -> set[str]:
    return {Path(f).relative_to(pkg).as_posix() for f in package_dependencies(script, pkg)}


def test_dotted_modules_and_package_inits_are_resolved(tmp_path):
    pkg = make_layered_package(tmp_path)
    script = tmp_path / "script.py"
    script.write_text("from dnmarkets.models.its import fit\n")
    assert deps(script, pkg) == {
        "__init__.py",
        "core/__init__.py",
        "core/io.py",
        "core/stats.py",
        "models/__init__.py",
        "models/its.py",
        "models/helpers.py",
    }
    # `from pkg.sub import module` and a package's __init__ with relative imports
    script.write_text("from dnmarkets.models import deep\nimport dnmarkets.core\n")
    assert deps(script, pkg) == {
        "__init__.py",
        "core/__init__.py",
        "core/io.py",
        "models/__init__.py",
        "models/deep/__init__.py",
        "models/deep/leaf.py",
    }


def test_an_import_of_a_missing_module_fails_loudly(tmp_path):
    """A moved module left behind in an import must not silently drop a dependency."""
    pkg = make_layered_package(tmp_path)
    script = tmp_path / "script.py"
    script.write_text("from dnmarkets.models.gone import fit\n")
    with pytest.raises(UnresolvedImport, match=r"script\.py: imports dnmarkets\.models\.gone"):
        package_dependencies(script, pkg)
    # also when the stale import sits in a module the script uses
    (pkg / "models" / "helpers.py").write_text("from ..its_old import fit\n")
    script.write_text("from dnmarkets.models.helpers import x\n")
    with pytest.raises(UnresolvedImport, match=r"helpers\.py: imports dnmarkets\.its_old"):
        package_dependencies(script, pkg)


def test_every_rule_script_and_notebook_resolves_in_the_real_package():
    root = Path(__file__).resolve().parents[2]
    entries = sorted(root.glob("scripts/*.py")) + sorted(root.glob("notebooks/*.ipynb"))
    for entry in entries:
        files = package_dependencies(entry, root / "src/dnmarkets")
        assert files, f"{entry.name} uses no package module"
