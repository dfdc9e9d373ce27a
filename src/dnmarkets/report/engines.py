"""The report engines: Quarto itself, or pandoc + Typst for the Quarto subset.

`render_quarto` runs `quarto render` (formats html and typst) in the build
folder. `render_pandoc` renders the preprocessed Markdown (see
dnmarkets.report.quarto) with pandoc to one self-contained HTML file, checked
for `<script>` elements and non-embedded resources, and with pandoc to Typst,
compiled to the PDF by the typst wheel. The pandoc engine reads two files of
the report project (from its copy in the build folder): the Lua filter
`filters/quarto-subset.lua` (the Quarto features pandoc lacks) and the Typst
styling `typst/header.typ`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path

from dnmarkets.core.io import atomic_path
from dnmarkets.report.quarto import (
    MAIN_DOCUMENT,
    ReportError,
    document_options,
    resolve_meta_shortcodes,
    yaml_dump,
)
from dnmarkets.report.web import DATA_DIR, finish_html

log = logging.getLogger(__name__)

# Files of the report project (paths inside it) that the pandoc engine uses.
LUA_FILTER = Path("filters/quarto-subset.lua")
TYPST_HEADER = Path("typst/header.typ")


def _run(cmd: list[str], cwd: Path, what: str) -> subprocess.CompletedProcess:
    log.info("running %s", " ".join(shlex.quote(c) for c in cmd))
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReportError(f"{what} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    for line in proc.stderr.splitlines():
        if line.strip():
            log.warning("%s: %s", what, line)
    return proc


def _publish(built: Path, out: Path) -> None:
    """Copy a built file onto `out` atomically (temp file + os.replace)."""
    with atomic_path(out) as tmp:
        shutil.copyfile(built, tmp)


# ---------------------------------------------------------------------------
# Quarto engine
# ---------------------------------------------------------------------------


def render_quarto(build: Path, project: Mapping, out_html: Path, out_pdf: Path) -> None:
    """Render the build folder's index.qmd with Quarto to `out_html` and `out_pdf`."""
    quarto = shutil.which("quarto")
    # Our "pdf" is the Typst PDF; Quarto's "pdf" alias means LaTeX only.
    index = build / MAIN_DOCUMENT
    text = index.read_text(encoding="utf-8")
    index.write_text(
        re.sub(r"\b(when|unless)-format=([\"'])pdf\2", r'\1-format="typst"', text), encoding="utf-8"
    )
    _run(
        [quarto, "render", MAIN_DOCUMENT, "--to", "html", "-M", "embed-resources:true"],
        build,
        "quarto render (html)",
    )
    _run([quarto, "render", MAIN_DOCUMENT, "--to", "typst"], build, "quarto render (typst)")
    out_dir = build / ((project.get("project") or {}).get("output-dir") or ".")
    stem = Path(MAIN_DOCUMENT).stem
    for built, out in ((out_dir / f"{stem}.html", out_html), (out_dir / f"{stem}.pdf", out_pdf)):
        if not built.is_file():
            raise ReportError(f"quarto did not produce {built}")
        _publish(built, out)


# ---------------------------------------------------------------------------
# pandoc + Typst engine
# ---------------------------------------------------------------------------

_NOT_METADATA = {
    "project",
    "format",
    "execute",
    "jupyter",
    "engine",
    "filters",
    "css",
    "embed-resources",
    "self-contained",
    "theme",
    "output-dir",
    "output-file",
    "pdf-standard",
}


def _pandoc() -> str:
    try:
        import pypandoc

        return pypandoc.get_pandoc_path()
    except (ImportError, OSError) as err:
        found = shutil.which("pandoc")
        if found:
            return found
        raise ReportError("pandoc not found (install pypandoc-binary)") from err


def _project_file(build: Path, rel: Path) -> Path:
    """A file of the report project that the pandoc engine needs, in the build folder."""
    path = build / rel
    if not path.is_file():
        raise ReportError(
            f"{rel} not found in the report project: the pandoc engine needs it "
            "(docs/report_rendering.md)"
        )
    return path


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "0")
    return bool(value)


def _normalise_authors(meta: dict) -> None:
    authors = meta.get("author")
    if authors is None:
        return
    if not isinstance(authors, list):
        authors = [authors]
    meta["author"] = [a.get("name", "") if isinstance(a, Mapping) else a for a in authors]


def _pandoc_metadata(options: Mapping, variables: Mapping) -> dict:
    metadata = {k: v for k, v in options.items() if k not in _NOT_METADATA}
    metadata = resolve_meta_shortcodes(metadata, variables, options)
    _normalise_authors(metadata)
    if str(metadata.get("date", "")).strip().lower() in ("today", "now", "last-modified"):
        metadata["date"] = dt.date.today().isoformat()
    if "title" in metadata and "pagetitle" not in metadata:
        metadata.setdefault("pagetitle", metadata["title"])
    metadata.setdefault("lang", "en")
    return metadata


def _pandoc_args(
    pandoc: str, source: Path, options: Mapping, lua: Path, meta_file: Path, to: str
) -> list[str]:
    """The pandoc command line both outputs share, ending with `--to <to>`."""
    args = [
        pandoc,
        source.name,
        "--from",
        "markdown",
        "--standalone",
        "--lua-filter",
        str(lua),
        "--metadata-file",
        str(meta_file),
        "--resource-path",
        ".",
    ]
    if _truthy(options.get("toc", False)):
        args += ["--toc", f"--toc-depth={int(options.get('toc-depth', 3))}"]
    if _truthy(options.get("number-sections", False)):
        args.append("--number-sections")
    return [*args, "--to", to]


def render_pandoc(
    build: Path,
    markdown: str,
    project: Mapping,
    front: Mapping,
    variables: Mapping,
    out_html: Path,
    out_pdf: Path,
) -> None:
    """Render `markdown` (the preprocessed index.qmd, shortcodes resolved) with
    pandoc to `out_html` and with pandoc + Typst to `out_pdf`."""
    pandoc = _pandoc()
    lua = _project_file(build, LUA_FILTER)
    header = _project_file(build, TYPST_HEADER)
    work = build / "_render"
    work.mkdir(exist_ok=True)
    source = build / "_report.md"  # in the project root: image paths stay relative to it
    source.write_text(markdown, encoding="utf-8")

    html_opts = document_options(project, front, "html")
    html_out = _pandoc_html(pandoc, source, html_opts, variables, lua, work)
    # heading anchors, and the CSVs of the figures' and tables' data links beside the report
    page = finish_html(html_out.read_text(encoding="utf-8"), build, out_html.parent / DATA_DIR)
    html_out.write_text(page, encoding="utf-8")
    typ_opts = document_options(project, front, "typst")
    typ_out = _pandoc_typst(pandoc, source, typ_opts, variables, lua, header, work)
    pdf_out = work / "report.pdf"
    _compile_typst(typ_out, pdf_out, build, _pdf_standards(typ_opts))

    _publish(html_out, out_html)
    _publish(pdf_out, out_pdf)


def _pandoc_html(
    pandoc: str, source: Path, options: Mapping, variables: Mapping, lua: Path, work: Path
) -> Path:
    """pandoc -> one self-contained HTML file in `work`, checked."""
    build = source.parent
    html_meta = _pandoc_metadata(options, variables)
    html_meta.setdefault("toc-title", "Contents")
    meta_file = work / "metadata-html.yml"
    meta_file.write_text(yaml_dump(html_meta), encoding="utf-8")
    html_out = work / "report.html"
    args = [
        *_pandoc_args(pandoc, source, options, lua, meta_file, "html5"),
        "--embed-resources",
        "--mathml",
        "--output",
        str(html_out),
    ]
    css = options.get("css") or []
    for sheet in [css] if isinstance(css, str) else css:
        if not (build / sheet).is_file():
            raise ReportError(f"stylesheet {sheet!r} (format: html: css) not found")
        args += ["--css", sheet]
    proc = _run(args, build, "pandoc (html)")
    if re.search(r"Could not (fetch|find|open)", proc.stderr):
        raise ReportError(f"pandoc (html) could not embed a resource:\n{proc.stderr[-2000:]}")
    _check_html(html_out.read_text(encoding="utf-8"))
    return html_out


def _pandoc_typst(
    pandoc: str,
    source: Path,
    options: Mapping,
    variables: Mapping,
    lua: Path,
    header: Path,
    work: Path,
) -> Path:
    """pandoc -> the Typst source, next to `source` (the images it references)."""
    build = source.parent
    typ_meta = _pandoc_metadata(options, variables)
    numbered = _truthy(options.get("number-sections", False))
    if not numbered:
        typ_meta.pop("section-numbering", None)
    meta_file = work / "metadata-typst.yml"
    meta_file.write_text(yaml_dump(typ_meta), encoding="utf-8")
    typ_out = build / "_report.typ"
    args = [
        *_pandoc_args(pandoc, source, options, lua, meta_file, "typst"),
        "--include-in-header",
        str(header),
        "--output",
        str(typ_out),
        "--variable",
        f"page-numbering={options.get('page-numbering', '1')}",
    ]
    if numbered:
        args += ["--variable", f"section-numbering={options.get('section-numbering', '1.1.1')}"]
    _run(args, build, "pandoc (typst)")
    return typ_out


class _ResourceScan(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts = 0
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        for name, value in attrs:
            if (
                name in ("src", "srcset", "poster", "data")
                and value
                and not value.startswith("data:")
            ):
                self.external.append(f"<{tag} {name}={value[:100]}>")
            if tag == "link" and name == "href" and value and not value.startswith("data:"):
                self.external.append(f"<link href={value[:100]}>")


def _check_html(html: str) -> None:
    """The pandoc HTML must be self-contained and script-free."""
    scan = _ResourceScan()
    scan.feed(html)
    scan.close()
    if scan.scripts:
        raise ReportError("the HTML output contains a <script> element")
    if scan.external:
        raise ReportError(
            f"the HTML output references resources that were not embedded: {scan.external[:5]}"
        )


def _pdf_standards(options: Mapping) -> list[str]:
    """The typst format's `pdf-standard` (Quarto's option: one name or a list, e.g.
    ua-1), for the typst wheel's `pdf_standards`."""
    value = options.get("pdf-standard") or []
    return [str(v).lower() for v in ([value] if isinstance(value, str) else value)]


def _compile_typst(typ: Path, pdf: Path, root: Path, standards: list[str] | None = None) -> None:
    import typst

    kwargs = {}
    if standards:
        # Typst checks the standard while it writes the PDF (PDF/UA-1: a document
        # title, alt text on every image and equation) and fails where it is not met
        kwargs["pdf_standards"] = standards
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        kwargs["timestamp"] = int(epoch)
    fonts = root / "fonts"
    if fonts.is_dir():  # report/fonts/: fonts shipped with the report source
        kwargs["font_paths"] = [str(fonts)]
    # Text uses Typst's embedded fonts (Libertinus Serif, DejaVu Sans Mono)
    # unless mainfont says otherwise; system fonts only supply glyphs those
    # lack (e.g. CJK in scraped market names).
    try:
        _, warnings = typst.compile_with_warnings(
            str(typ), output=str(pdf), root=str(root), **kwargs
        )
    except typst.TypstError as err:
        hints = "".join(f"\n  hint: {h}" for h in getattr(err, "hints", None) or [])
        raise ReportError(f"typst failed on {typ.name}: {err}{hints}") from err
    for warning in warnings or []:
        log.warning("typst: %s", getattr(warning, "message", warning))
