"""Render the Quarto report (report/) to one HTML file and one PDF.

`render_report` copies the report project to a fresh build folder, adds the
assets and `_variables.yml` (from the summary), merges the pipeline's metadata
over the front matter, and preprocesses the source the same way for both
engines (dnmarkets.report.quarto): conditional divs with
`when-meta`/`unless-meta` are resolved first (a hidden div disappears with its
includes, variables and images, so sections for datasets that were not
analysed need no files), then includes are expanded, then every image and
every `var`/`meta` key is checked, so a report never silently shows
"?var:key" or a broken figure.

With `quarto` on PATH the expanded source is rendered by Quarto (formats html
and typst), which resolves `var`/`meta` itself from `_variables.yml` and the
front matter. Without it, the shortcodes are substituted and the source is
rendered by pandoc (HTML) and pandoc + Typst (PDF) (dnmarkets.report.engines).
The Quarto features this offline path implements, and the escaping untrusted
text needs (`md_escape` / `md_table`, dnmarkets.report.mdtext):
docs/report_rendering.md.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

import yaml

from dnmarkets.report.engines import render_pandoc, render_quarto
from dnmarkets.report.quarto import (
    MAIN_DOCUMENT,
    ReportError,
    build_variables,
    check_images,
    deep_merge,
    document_options,
    expand_source,
    resolve_shortcodes,
    split_front_matter,
    yaml_dump,
)

__all__ = ["ReportError", "render_report"]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# Build directory
# ---------------------------------------------------------------------------

_IGNORE = shutil.ignore_patterns(
    "_build", "_output", ".quarto", "__pycache__", "*.pyc", ".ipynb_checkpoints", "_freeze"
)


def _prepare_build(source_dir: Path, build_dir: Path) -> None:
    if not (source_dir / MAIN_DOCUMENT).is_file():
        raise ReportError(f"{source_dir / MAIN_DOCUMENT} not found")
    src, build = source_dir.resolve(), build_dir.resolve()
    if build == src or src.is_relative_to(build):
        raise ReportError(f"build directory {build_dir} would overwrite the source {source_dir}")
    if build.exists():
        shutil.rmtree(build)
    inside = build.is_relative_to(src)

    def ignore(directory: str, names: list[str]) -> set[str]:
        skip = set(_IGNORE(directory, names))
        if inside:
            skip |= {n for n in names if (Path(directory) / n).resolve() == build}
        return skip

    shutil.copytree(src, build, ignore=ignore)


def _copy_assets(assets: Mapping[str, Path], build_dir: Path) -> None:
    build = build_dir.resolve()
    for dest, source in sorted(assets.items()):
        rel = Path(dest)
        target = (build / rel).resolve()
        if rel.is_absolute() or not target.is_relative_to(build) or target == build:
            raise ReportError(f"asset destination {dest!r} must be a path inside the build dir")
        source = Path(source)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True, ignore=_IGNORE)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        else:
            raise ReportError(f"asset source {source} (for {dest}) not found")


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def render_report(
    source_dir: Path,
    build_dir: Path,
    summary: dict,
    assets: dict[str, Path],
    meta: dict,
    out_html: Path,
    out_pdf: Path,
    engine: str = "auto",
) -> None:
    """Render the Quarto project in `source_dir` to `out_html` and `out_pdf`.

    source_dir is copied to a fresh build_dir; assets (destination inside the
    build dir -> source directory or file) are copied in; `_variables.yml` is
    written from the summary (see `report.format.format_entry`); `meta` is merged
    over the front matter of index.qmd. engine: "quarto", "pandoc" or "auto" (Quarto
    when `quarto` is on PATH).
    """
    started = time.perf_counter()
    source_dir, build_dir = Path(source_dir), Path(build_dir)
    out_html, out_pdf = Path(out_html), Path(out_pdf)
    if engine == "auto":
        engine = "quarto" if shutil.which("quarto") else "pandoc"
    if engine not in ("quarto", "pandoc"):
        raise ValueError(f"engine must be 'auto', 'quarto' or 'pandoc', not {engine!r}")
    if engine == "quarto" and not shutil.which("quarto"):
        raise ReportError("engine 'quarto' requested but quarto is not on PATH")

    _prepare_build(source_dir, build_dir)
    _copy_assets(assets, build_dir)
    build = build_dir.resolve()

    vars_path = build / "_variables.yml"
    base_vars = yaml.safe_load(vars_path.read_text()) if vars_path.exists() else {}
    variables = build_variables(summary, base_vars or {})
    vars_path.write_text(
        "# Written by dnmarkets.report.render from results/summary.json; do not edit.\n"
        + yaml_dump(variables),
        encoding="utf-8",
    )

    project_path = build / "_quarto.yml"
    project = (yaml.safe_load(project_path.read_text()) or {}) if project_path.exists() else {}
    index = build / MAIN_DOCUMENT
    front, body = split_front_matter(index.read_text(encoding="utf-8"))
    front = deep_merge(front, meta or {})

    # Shared by both engines: metadata conditions, includes, then checks of
    # images and var/meta keys. Quarto renders the expanded source, so both
    # engines see exactly the same Markdown.
    metadata = document_options(project, front, "html")
    expanded = expand_source(body, index, build, metadata)
    check_images(expanded, build)
    resolved = resolve_shortcodes(expanded, variables, metadata)

    if engine == "quarto":
        # The merged metadata goes into the front matter of the build copy.
        index.write_text("---\n" + yaml_dump(front) + "---\n" + expanded, encoding="utf-8")
        render_quarto(build, project, out_html, out_pdf)
    else:
        render_pandoc(build, resolved, project, front, variables, out_html, out_pdf)
    log.info(
        "report rendered with %s in %.1f s: %s, %s",
        engine,
        time.perf_counter() - started,
        out_html,
        out_pdf,
    )
