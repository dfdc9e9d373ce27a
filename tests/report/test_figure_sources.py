"""Every figure of the report names, just before its image in the report source,
the notebook (or script) and the function that draw it:

    <!-- drawn by notebooks/landscape.ipynb with dnmarkets.figures.landscape.activity_figure -->

(an HTML comment: Quarto keeps it as a comment, the offline renderer drops it).
The names must hold: the notebook exists and calls the function, the function
exists in the package, and the image the report shows is a file that the notebook
saves from that function's figure, in the folder the workflow gives the notebook
(the rule's `assets`: results/notebooks/<dataset>/<notebook>[_<event>], which the
report sees as assets/<dataset>/<folder>/).
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "report"
DRAWN_BY = re.compile(r"^<!-- drawn by (?P<source>\S+) with (?P<function>[\w.]+) -->$")
IMAGE = re.compile(r"!\[.*?\]\((?P<src>[^)\s]+)\)", re.S)


def report_figures() -> list[tuple[str, str, str | None]]:
    """(where, image path, the drawn-by comment before it) for every image."""
    figures = []
    for path in sorted(REPORT.rglob("*.qmd")):
        blocks = re.split(r"\n\s*\n", path.read_text())
        for i, block in enumerate(blocks):
            for m in IMAGE.finditer(block):
                before = block[: m.start()].strip() or (blocks[i - 1].strip() if i else "")
                comment = before.splitlines()[-1] if before else None
                figures.append((path.relative_to(REPORT).as_posix(), m.group("src"), comment))
    return figures


FIGURES = report_figures()


def notebook_folders() -> dict[str, list[re.Pattern]]:
    """Notebook -> the folder patterns its rules write (rules/*.smk)."""
    text = "\n".join(p.read_text() for p in sorted((ROOT / "rules").glob("*.smk")))
    folders: dict[str, list[re.Pattern]] = {}
    for rule in re.split(r"\n(?=rule )", text):
        notebook = re.search(r'notebook="(notebooks/[^"]+\.ipynb)"', rule)
        assets = re.search(r'assets=directory\("results/notebooks/([^"]+)"\)', rule)
        if notebook and assets:
            pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(assets.group(1)))
            folders.setdefault(notebook.group(1), []).append(re.compile(pattern))
    return folders


def code_of(source: Path) -> ast.Module:
    if source.suffix == ".ipynb":
        cells = json.loads(source.read_text(encoding="utf-8"))["cells"]
        text = "\n".join(
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in cells
            if c["cell_type"] == "code"
        )
    else:
        text = source.read_text(encoding="utf-8")
    return ast.parse(text)


def file_pattern(node: ast.expr) -> str | None:
    """`out / "a.png"` or `out / f"{name}_km.png"` -> a regex of the file name."""
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)):
        return None
    name = node.right
    if isinstance(name, ast.Constant) and isinstance(name.value, str):
        return re.escape(name.value)
    if isinstance(name, ast.JoinedStr):
        return "".join(
            re.escape(part.value) if isinstance(part, ast.Constant) else "[^/]+"
            for part in name.values
        )
    return None


class SavedFigures(ast.NodeVisitor):
    """The files a notebook or script writes, each with the function that drew it:
    `fig = f(...)` then `save_figure(fig, out / "x.png")`, or `f(..., out / "x.png")`."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # local name -> module.attribute or module
        self.calls: set[str] = set()
        self.saved: list[tuple[str, str]] = []  # (file name regex, function)
        self.drawing: str | None = None

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.names[alias.asname or alias.name] = alias.name

    def qualified(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Name):
            return self.names.get(func.id)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            module = self.names.get(func.value.id)
            return f"{module}.{func.attr}" if module else None
        return None

    def visit_Assign(self, node: ast.Assign) -> None:
        if isinstance(node.value, ast.Call):
            name = self.qualified(node.value.func)
            if name:
                self.drawing = name
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = self.qualified(node.func)
        if name:
            self.calls.add(name)
            paths = [p for p in map(file_pattern, node.args) if p]
            if name == "dnmarkets.figures.style.save_figure":
                self.saved += [(p, self.drawing) for p in paths]
            else:
                self.saved += [(p, name) for p in paths]
        self.generic_visit(node)


def test_the_report_has_figures():
    assert len(FIGURES) >= 20, FIGURES


@pytest.mark.parametrize(
    ("where", "image", "comment"), FIGURES, ids=[f"{w}:{i}" for w, i, _ in FIGURES]
)
def test_figure_names_its_notebook_and_function(where, image, comment):
    m = DRAWN_BY.match(comment or "")
    assert m, f"{where}: {image}: no '<!-- drawn by <notebook> with <function> -->' before it"
    source, function = ROOT / m.group("source"), m.group("function")
    assert source.is_file(), f"{where}: {image}: {m.group('source')} does not exist"

    module, _, attribute = function.rpartition(".")
    assert hasattr(importlib.import_module(module), attribute), f"{function} does not exist"

    saved = SavedFigures()
    saved.visit(code_of(source))
    assert function in saved.calls, f"{m.group('source')} does not call {function}"

    parts = Path(image).parts  # assets/<dataset>/<folder>/<file>
    if m.group("source").startswith("notebooks/"):
        assert parts[0] == "assets" and len(parts) == 4, image
        folder = f"{parts[1]}/{parts[2]}"
        patterns = notebook_folders().get(m.group("source"), [])
        assert any(p.fullmatch(folder) for p in patterns), (
            f"{image}: results/notebooks/{folder} is not a folder of {m.group('source')} "
            f"(rules/*.smk: {[p.pattern for p in patterns]})"
        )
    written = [f for pattern, f in saved.saved if re.fullmatch(pattern, parts[-1])]
    assert written, f"{m.group('source')} writes no {parts[-1]}"
    assert function in written, f"{parts[-1]} is drawn by {written}, not {function}"
