"""Which package files a rule script depends on (dnmarkets.codedeps)."""

from __future__ import annotations

import os
from pathlib import Path

from dnmarkets.codedeps import package_dependencies


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
