"""Render the Quarto report (report/) to one HTML file and one PDF.

With `quarto` on PATH the project is rendered by Quarto (formats html and
typst). Without it, the same source is rendered by pandoc (HTML) and pandoc +
Typst (PDF), implementing the small part of Quarto's Markdown the report uses:

- shortcodes `{{< var a.b.c >}}`, `{{< meta key >}}`, `{{< include file >}}`
  (on its own line, relative to the including file, recursive) and
  `{{< pagebreak >}}`; `{{{< ... >}}}` renders a shortcode literally;
  shortcodes inside fenced code blocks are left alone;
- conditional content: `.content-visible` / `.content-hidden` divs, spans and
  code blocks with `when-format`/`unless-format` ("html"; "pdf" and "typst"
  both mean the PDF) and `when-meta`/`unless-meta` (dotted metadata key);
- cross-references `@fig-x`, `@tbl-x`, `@sec-x` (also `[-@fig-x]` for the
  number only) to figures `![Caption](path){#fig-x fig-alt="..."}`, tables
  with a caption `: Caption {#tbl-x}` and headings `# Title {#sec-x}`;
- callouts `::: {.callout-note title="..."}` (note, tip, warning, caution,
  important; or the first heading of the div as the title);
- front matter and `_quarto.yml` options: title, subtitle, author, date, lang,
  toc, toc-depth, toc-title, number-sections, `format: html: css`, and for the
  PDF `format: typst:` papersize, margin, fontsize, mainfont, columns,
  section-numbering.

Both engines get the same preprocessed source: conditional divs with
`when-meta`/`unless-meta` are resolved first (a hidden div disappears with its
includes, variables and images, so sections for datasets that were not
analysed need no files), then includes are expanded, then every image and
every `var`/`meta` key is checked, so a report never silently shows
"?var:key" or a broken figure. Quarto then resolves `var`/`meta` itself from
`_variables.yml` and the front matter; the pandoc path substitutes them first.

The pandoc path never passes raw HTML through: raw HTML in the source
(including in included fragments) is shown as text, HTML comments are dropped,
and the output is checked for `<script>` elements and non-embedded resources.
Text from untrusted sources must be escaped with `md_escape` / `md_table`
(dnmarkets.report.mdtext, re-exported here) when it is written as Markdown.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from pathlib import Path

import yaml

from dnmarkets.core.io import atomic_path
from dnmarkets.report.format import format_entry, format_value
from dnmarkets.report.mdtext import md_escape, md_table

__all__ = [
    "ReportError",
    "build_variables",
    "format_entry",
    "format_value",
    "md_escape",
    "md_table",
    "render_report",
]

log = logging.getLogger(__name__)

MAIN_DOCUMENT = "index.qmd"


class ReportError(RuntimeError):
    """The report cannot be rendered (missing key, file, tool; render failure)."""


def build_variables(summary: Mapping[str, Mapping], base: Mapping | None = None) -> dict:
    """Nested report variables (the content of `_variables.yml`).

    `sim2017.landscape.eu_share` becomes
    {"sim2017": {"landscape": {"eu_share": {"value": ..., "ci": ..., ...}}}}.
    `base` holds variables already defined by the report source.
    """
    out: dict = copy.deepcopy(dict(base or {}))
    for key in sorted(summary):
        parts = key.split(".")
        if not all(parts):
            raise ReportError(f"summary key {key!r}: empty component")
        node = out
        for depth, part in enumerate(parts):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise ReportError(f"summary key {key!r} clashes with variable {where!r}")
            node = child
        fields = format_entry(summary[key])
        clash = set(fields) & {k for k, v in node.items() if isinstance(v, dict)}
        if clash:
            raise ReportError(f"summary key {key!r}: sub-key(s) {sorted(clash)} clash with fields")
        node.update(fields)
    return out


# ---------------------------------------------------------------------------
# Source handling: front matter, includes, shortcodes, images
# ---------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FENCE_CLOSE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*$")
_SHORTCODE = re.compile(
    r"\{\{\{<(?P<esc>.*?)>\}\}\}"  # {{{< x >}}}: literal {{< x >}}
    r"|\{\{</\*(?P<cmt>.*?)\*/>\}\}"  # {{</* x */>}}: literal {{< x >}}
    r"|\{\{<\s*(?P<name>[A-Za-z][\w-]*)(?P<args>(?:\s(?:(?!>\}\}).)*)?)>\}\}"
)
_INCLUDE_LINE = re.compile(r"^\s*\{\{<\s*include\s+(?P<arg>.+?)\s*>\}\}\s*$")
_IMAGE = re.compile(r"!\[(?:[^\]\\]|\\.)*\]\(\s*<?(?P<src>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _code_mask(lines: list[str]) -> Iterator[tuple[str, bool]]:
    """(line, inside a fenced code block) for each line."""
    fence: str | None = None
    for line in lines:
        if fence is None:
            m = _FENCE_OPEN.match(line)
            if m and not (m.group(1)[0] == "`" and "`" in line[m.end() :]):
                fence = m.group(1)
                yield line, True
                continue
            yield line, False
        else:
            m = _FENCE_CLOSE.match(line)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            yield line, True


def split_front_matter(text: str) -> tuple[dict, str]:
    """YAML front matter (a dict) and the body of a .qmd file."""
    m = re.match(r"^---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|$)", text, re.S)
    if not m:
        return {}, text
    meta = yaml.safe_load(m.group(1) or "") or {}
    if not isinstance(meta, dict):
        raise ReportError("front matter is not a YAML mapping")
    return meta, text[m.end() :]


def _unquote(arg: str) -> str:
    arg = arg.strip()
    try:
        parts = shlex.split(arg)
    except ValueError:
        return arg
    return parts[0] if len(parts) == 1 else arg


_DIV_OPEN = re.compile(r"^ {0,3}:{3,}\s*(?:\{(?P<attrs>.*)\}|(?P<cls>[^\s{}:]+))\s*:*\s*$")
_DIV_CLOSE = re.compile(r"^ {0,3}:{3,}\s*$")
_ATTR_KV = re.compile(r"""(?P<key>[\w-]+)=(?P<val>"[^"]*"|'[^']*'|[^\s}]+)""")
_META_CONDITION = re.compile(r"""\s*\b(?:when|unless)-meta=(?:"[^"]*"|'[^']*'|[^\s}]+)""")


def meta_truthy(metadata: Mapping, key: str) -> bool:
    """Truthiness of a (dotted) metadata key, as `when-meta` uses it."""
    try:
        value = _lookup(metadata, key)
    except KeyError:
        return False
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "0")
    return bool(value)


def _div_action(attrs: str, metadata: Mapping) -> tuple[str, str | None]:
    """What to do with a fenced div: ("keep", new attrs) / ("unwrap", None) / ("drop", None).

    Only `when-meta`/`unless-meta` conditions are decided here (they depend on
    metadata only); format conditions are left to the renderer.
    """
    classes = set(re.findall(r"(?:^|\s)\.([\w-]+)", attrs))
    kv = {m.group("key"): m.group("val").strip("\"'") for m in _ATTR_KV.finditer(attrs)}
    visible_cls, hidden_cls = "content-visible" in classes, "content-hidden" in classes
    if not (visible_cls or hidden_cls) or not ({"when-meta", "unless-meta"} & kv.keys()):
        return "keep", attrs
    match = True
    if "when-meta" in kv:
        match = match and meta_truthy(metadata, kv["when-meta"])
    if "unless-meta" in kv:
        match = match and not meta_truthy(metadata, kv["unless-meta"])
    if "when-format" in kv or "unless-format" in kv or "when-profile" in kv:
        if not match:  # the div is shown (hidden) whatever the format
            return ("drop", None) if visible_cls else ("unwrap", None)
        return "keep", _META_CONDITION.sub("", attrs)
    visible = match if visible_cls else not match
    return ("unwrap", None) if visible else ("drop", None)


def apply_meta_conditions(text: str, metadata: Mapping) -> str:
    """Resolve `.content-visible`/`.content-hidden` divs with when-meta/unless-meta.

    Like Quarto, a visible conditional div is replaced by its content and a
    hidden one disappears, with everything in it (so includes, variables and
    images of datasets that were not analysed are never needed).
    """
    out: list[str] = []
    stack: list[str] = []
    for line, in_code in _code_mask(text.splitlines(keepends=True)):
        dropping = "drop" in stack
        if in_code:
            if not dropping:
                out.append(line)
            continue
        if stack and _DIV_CLOSE.match(line):
            action = stack.pop()
            if action == "keep" and "drop" not in stack:
                out.append(line)
            continue
        m = _DIV_OPEN.match(line)
        if m:
            if dropping:
                stack.append("drop")
                continue
            if m.group("attrs") is None:
                stack.append("keep")
                out.append(line)
                continue
            action, attrs = _div_action(m.group("attrs"), metadata)
            stack.append(action)
            if action == "keep":
                out.append(
                    line
                    if attrs == m.group("attrs")
                    else line[: m.start("attrs")] + attrs + line[m.end("attrs") :]
                )
            continue
        if not dropping:
            out.append(line)
    return "".join(out)


def expand_source(
    text: str, path: Path, root: Path, metadata: Mapping, _stack: tuple[Path, ...] = ()
) -> str:
    """`text` (the body of `path`) with metadata conditions applied and
    `{{< include f >}}` lines replaced by f's (likewise expanded) text.

    Include paths are relative to the including file and must stay inside
    `root`; a front matter in an included file is dropped.
    """
    path = path.resolve()
    stack = (*_stack, path)
    text = apply_meta_conditions(text, metadata)
    out = []
    for line, in_code in _code_mask(text.splitlines(keepends=True)):
        m = None if in_code else _INCLUDE_LINE.match(line)
        if m is None:
            if not in_code and re.search(r"(?<!\{)\{\{<\s*include\s", line):
                raise ReportError(
                    f"{path.relative_to(root)}: include must be on its own line: {line.strip()!r}"
                )
            out.append(line)
            continue
        arg = _unquote(m.group("arg"))
        target = (path.parent / arg).resolve()
        if not target.is_relative_to(root):
            raise ReportError(
                f"{path.relative_to(root)}: include {arg!r} is outside the report directory"
            )
        if not target.is_file():
            raise ReportError(
                f"{path.relative_to(root)}: included file {arg!r} not found ({target})"
            )
        if target in stack:
            chain = " -> ".join(str(p.relative_to(root)) for p in (*stack, target))
            raise ReportError(f"include cycle: {chain}")
        _, included = split_front_matter(target.read_text(encoding="utf-8"))
        included = expand_source(included, target, root, metadata, stack)
        out.append(included if included.endswith("\n") else included + "\n")
    return "".join(out)


def _lookup(tree: Mapping, key: str):
    node = tree
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def _scalar_text(value, what: str) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (Mapping, list)):
        raise ReportError(
            f"{what} is a {'map' if isinstance(value, Mapping) else 'list'}, not a single value"
        )
    return "" if value is None else str(value)


def resolve_shortcodes(
    text: str, variables: Mapping, metadata: Mapping, source: str = MAIN_DOCUMENT
) -> str:
    """Replace var/meta/pagebreak shortcodes outside fenced code blocks.

    var values are inserted as they are in `_variables.yml` (already escaped
    Markdown for summary entries), meta values as the Markdown they are in the
    metadata, as Quarto does. Unknown keys and shortcodes raise ReportError.
    """

    def replace(m: re.Match) -> str:
        if m.group("esc") is not None:
            return md_escape("{{<" + m.group("esc") + ">}}")
        if m.group("cmt") is not None:
            return md_escape("{{<" + m.group("cmt") + ">}}")
        name, args = m.group("name"), (m.group("args") or "").strip()
        key = _unquote(args) if args else ""
        if name == "var":
            try:
                value = _lookup(variables, key)
            except KeyError:
                raise ReportError(
                    f"{source}: {{{{< var {key} >}}}}: key {key!r} is not in the "
                    "summary (results/summary.json) or _variables.yml"
                ) from None
            if isinstance(value, Mapping):
                raise ReportError(
                    f"{source}: {{{{< var {key} >}}}} names a group; use "
                    f"{key}.text, {key}.value, {key}.ci or {key}.unit"
                )
            return _scalar_text(value, f"var {key}")
        if name == "meta":
            try:
                value = _lookup(metadata, key)
            except KeyError:
                raise ReportError(
                    f"{source}: {{{{< meta {key} >}}}}: metadata key {key!r} is not set"
                ) from None
            return _scalar_text(value, f"meta {key}")
        if name == "pagebreak":
            return "\n\n::: {.pagebreak}\n:::\n\n"
        raise ReportError(
            f"{source}: shortcode {{{{< {name} >}}}} is not supported without "
            "Quarto (supported: var, meta, include, pagebreak)"
        )

    out = []
    for line, in_code in _code_mask(text.splitlines(keepends=True)):
        out.append(line if in_code else _SHORTCODE.sub(replace, line))
    return "".join(out)


def _resolve_meta_shortcodes(value, variables: Mapping, metadata: Mapping):
    if isinstance(value, str) and "{{<" in value:
        return resolve_shortcodes(value, variables, metadata, source="front matter")
    if isinstance(value, dict):
        return {k: _resolve_meta_shortcodes(v, variables, metadata) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_meta_shortcodes(v, variables, metadata) for v in value]
    return value


def check_images(text: str, root: Path, source: str = MAIN_DOCUMENT) -> list[str]:
    """Every Markdown image outside code must be a local file inside `root`."""
    prose = "".join(
        "\n" if in_code else line for line, in_code in _code_mask(text.splitlines(keepends=True))
    )
    found = []
    for m in _IMAGE.finditer(prose):
        src = m.group("src")
        if src.startswith("data:"):
            continue
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", src):
            raise ReportError(
                f"{source}: image {src!r} is remote; the report must build "
                "offline and embed every image"
            )
        target = (root / src).resolve()
        if not target.is_relative_to(root.resolve()) or not target.is_file():
            raise ReportError(f"{source}: image file {src!r} not found ({target})")
        found.append(src)
    return found


# ---------------------------------------------------------------------------
# Metadata and format options
# ---------------------------------------------------------------------------


def deep_merge(base: Mapping, over: Mapping) -> dict:
    """`over` on top of `base`; mappings merge recursively, other values replace."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


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
}


def document_options(project: Mapping, front: Mapping, fmt: str) -> dict:
    """Quarto's option resolution for one format: project, project format
    options, document, document format options (later wins)."""

    def format_opts(cfg: Mapping) -> Mapping:
        formats = cfg.get("format") or {}
        if isinstance(formats, str):
            return {}
        opts = formats.get(fmt) if isinstance(formats, Mapping) else None
        return opts if isinstance(opts, Mapping) else {}

    def top(cfg: Mapping) -> dict:
        return {k: v for k, v in cfg.items() if k not in ("project", "format")}

    merged = deep_merge(top(project), format_opts(project))
    merged = deep_merge(merged, top(front))
    return deep_merge(merged, format_opts(front))


def _normalise_authors(meta: dict) -> None:
    authors = meta.get("author")
    if authors is None:
        return
    if not isinstance(authors, list):
        authors = [authors]
    meta["author"] = [a.get("name", "") if isinstance(a, Mapping) else a for a in authors]


def _yaml_dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


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


def _publish(built: Path, out: Path) -> None:
    """Copy a built file onto `out` atomically (temp file + os.replace)."""
    with atomic_path(out) as tmp:
        shutil.copyfile(built, tmp)


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
    written from the summary (see `format_entry`); `meta` is merged over the
    front matter of index.qmd. engine: "quarto", "pandoc" or "auto" (Quarto
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
        + _yaml_dump(variables),
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
        index.write_text("---\n" + _yaml_dump(front) + "---\n" + expanded, encoding="utf-8")
        _render_quarto(build, project, out_html, out_pdf)
    else:
        _render_pandoc(build, resolved, project, front, variables, out_html, out_pdf)
    log.info(
        "report rendered with %s in %.1f s: %s, %s",
        engine,
        time.perf_counter() - started,
        out_html,
        out_pdf,
    )


# ---------------------------------------------------------------------------
# Quarto engine
# ---------------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path, what: str) -> subprocess.CompletedProcess:
    log.info("running %s", " ".join(shlex.quote(c) for c in cmd))
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReportError(f"{what} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    for line in proc.stderr.splitlines():
        if line.strip():
            log.warning("%s: %s", what, line)
    return proc


def _render_quarto(build: Path, project: Mapping, out_html: Path, out_pdf: Path) -> None:
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


def _pandoc() -> str:
    try:
        import pypandoc

        return pypandoc.get_pandoc_path()
    except (ImportError, OSError) as err:
        found = shutil.which("pandoc")
        if found:
            return found
        raise ReportError("pandoc not found (install pypandoc-binary)") from err


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "0")
    return bool(value)


def _pandoc_metadata(options: Mapping, variables: Mapping) -> dict:
    metadata = {k: v for k, v in options.items() if k not in _NOT_METADATA}
    metadata = _resolve_meta_shortcodes(metadata, variables, options)
    _normalise_authors(metadata)
    if str(metadata.get("date", "")).strip().lower() in ("today", "now", "last-modified"):
        metadata["date"] = dt.date.today().isoformat()
    if "title" in metadata and "pagetitle" not in metadata:
        metadata.setdefault("pagetitle", metadata["title"])
    metadata.setdefault("lang", "en")
    return metadata


def _common_args(options: Mapping, lua: Path, meta_file: Path) -> list[str]:
    args = [
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
    return args


def _render_pandoc(
    build: Path,
    markdown: str,
    project: Mapping,
    front: Mapping,
    variables: Mapping,
    out_html: Path,
    out_pdf: Path,
) -> None:
    pandoc = _pandoc()
    work = build / "_render"
    work.mkdir(exist_ok=True)
    lua = work / "quarto-subset.lua"
    lua.write_text(_LUA_FILTER, encoding="utf-8")
    source = build / "_report.md"  # in the project root: image paths stay relative to it
    source.write_text(markdown, encoding="utf-8")

    # HTML
    html_opts = document_options(project, front, "html")
    html_meta = _pandoc_metadata(html_opts, variables)
    html_meta.setdefault("toc-title", "Contents")
    meta_file = work / "metadata-html.yml"
    meta_file.write_text(_yaml_dump(html_meta), encoding="utf-8")
    html_out = work / "report.html"
    args = [
        pandoc,
        source.name,
        *_common_args(html_opts, lua, meta_file),
        "--to",
        "html5",
        "--embed-resources",
        "--mathml",
        "--output",
        str(html_out),
    ]
    css = html_opts.get("css") or []
    for sheet in [css] if isinstance(css, str) else css:
        if not (build / sheet).is_file():
            raise ReportError(f"stylesheet {sheet!r} (format: html: css) not found")
        args += ["--css", sheet]
    proc = _run(args, build, "pandoc (html)")
    if re.search(r"Could not (fetch|find|open)", proc.stderr):
        raise ReportError(f"pandoc (html) could not embed a resource:\n{proc.stderr[-2000:]}")
    _check_html(html_out.read_text(encoding="utf-8"))

    # PDF: pandoc -> Typst -> typst.compile
    typ_opts = document_options(project, front, "typst")
    typ_meta = _pandoc_metadata(typ_opts, variables)
    numbered = _truthy(typ_opts.get("number-sections", False))
    if not numbered:
        typ_meta.pop("section-numbering", None)
    meta_file = work / "metadata-typst.yml"
    meta_file.write_text(_yaml_dump(typ_meta), encoding="utf-8")
    header = work / "header.typ"
    header.write_text(_TYPST_HEADER, encoding="utf-8")
    typ_out = build / "_report.typ"  # next to the images it references
    args = [
        pandoc,
        source.name,
        *_common_args(typ_opts, lua, meta_file),
        "--to",
        "typst",
        "--include-in-header",
        str(header),
        "--output",
        str(typ_out),
        "--variable",
        f"page-numbering={typ_opts.get('page-numbering', '1')}",
    ]
    if numbered:
        args += ["--variable", f"section-numbering={typ_opts.get('section-numbering', '1.1.1')}"]
    _run(args, build, "pandoc (typst)")
    pdf_out = work / "report.pdf"
    _compile_typst(typ_out, pdf_out, build)

    _publish(html_out, out_html)
    _publish(pdf_out, out_pdf)


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


def _compile_typst(typ: Path, pdf: Path, root: Path) -> None:
    import typst

    kwargs = {}
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
        raise ReportError(f"typst failed on {typ.name}: {err}") from err
    for warning in warnings or []:
        log.warning("typst: %s", getattr(warning, "message", warning))


# ---------------------------------------------------------------------------
# The pandoc Lua filter (Quarto subset) and the Typst styling
# ---------------------------------------------------------------------------

_LUA_FILTER = r"""
-- quarto-subset.lua: written by dnmarkets.report.render. The part of Quarto's
-- Markdown the report uses, for rendering with pandoc alone.
local is_html = FORMAT:match('^html') ~= nil
local is_typst = FORMAT == 'typst'
local meta = {}

local function ptype(v) return pandoc.utils.type(v) end

local function lookup(key)
  local node = meta
  for part in key:gmatch('[^.]+') do
    local t = ptype(node)
    if t ~= 'Meta' and t ~= 'table' then return nil end
    node = node[part]
    if node == nil then return nil end
  end
  return node
end

local falsy = {[''] = true, ['false'] = true, ['no'] = true, ['0'] = true}
local function truthy(v)
  if v == nil then return false end
  local t = ptype(v)
  if t == 'boolean' then return v end
  if t == 'string' or t == 'Inlines' or t == 'Blocks' then
    return not falsy[pandoc.utils.stringify(v):lower()]
  end
  if t == 'List' then return #v > 0 end
  if t == 'table' or t == 'Meta' then return next(v) ~= nil end
  return true
end

-- "pdf" means the PDF we make (Typst); Quarto's html aliases.
local function format_matches(name)
  name = name:lower()
  if is_html then
    return name == 'html' or name == 'html5' or name == 'html4' or name == 'html:js'
  end
  if is_typst then return name == 'typst' or name == 'pdf' end
  return name == FORMAT
end

local condition_keys = {'when-format', 'unless-format', 'when-meta', 'unless-meta',
                        'when-profile', 'unless-profile'}

local function conditional(el)
  local show = el.classes:includes('content-visible')
  local hide = el.classes:includes('content-hidden')
  if not show and not hide then return nil end
  local a = el.attributes
  local match = true
  if a['when-format'] then match = match and format_matches(a['when-format']) end
  if a['unless-format'] then match = match and not format_matches(a['unless-format']) end
  if a['when-meta'] then match = match and truthy(lookup(a['when-meta'])) end
  if a['unless-meta'] then match = match and not truthy(lookup(a['unless-meta'])) end
  if a['when-profile'] then match = false end  -- no profile is active
  local visible
  if show then visible = match else visible = not match end
  if not visible then return {} end
  for _, k in ipairs(condition_keys) do a[k] = nil end
  el.classes = el.classes:filter(function(c)
    return c ~= 'content-visible' and c ~= 'content-hidden'
  end)
  if el.t == 'Div' then return el.content end
  return el
end

local function typst_inlines(inlines)
  local s = pandoc.write(pandoc.Pandoc({pandoc.Plain(inlines)}), 'typst')
  return (s:gsub('%s+$', ''))
end

local callout_titles = {note = 'Note', tip = 'Tip', warning = 'Warning',
                        caution = 'Caution', important = 'Important'}

local function callout(div)
  if div.classes:includes('pagebreak') then
    if is_typst then return pandoc.RawBlock('typst', '#pagebreak()') end
    return nil
  end
  local kind
  for _, c in ipairs(div.classes) do
    local k = c:match('^callout%-(%a+)$')
    if k and callout_titles[k] then kind = k; break end
  end
  if not kind then return nil end
  local content = pandoc.Blocks(div.content)
  local title
  if div.attributes['title'] then
    title = pandoc.utils.blocks_to_inlines(pandoc.read(div.attributes['title'], 'markdown').blocks)
  elseif #content > 0 and content[1].t == 'Header' then
    title = content[1].content
    content:remove(1)
  else
    title = pandoc.Inlines(callout_titles[kind])
  end
  if is_typst then
    local blocks = pandoc.Blocks({pandoc.RawBlock('typst',
      '#callout(kind: "' .. kind .. '", title: [' .. typst_inlines(title) .. '])[')})
    blocks:extend(content)
    blocks:insert(pandoc.RawBlock('typst', ']'))
    return blocks
  end
  return pandoc.Div({
    pandoc.Div({pandoc.Plain(title)}, pandoc.Attr('', {'qcallout-title'})),
    pandoc.Div(content, pandoc.Attr('', {'qcallout-body'})),
  }, pandoc.Attr(div.identifier, {'qcallout', 'qcallout-' .. kind}))
end

-- Raw HTML is never passed through: comments are dropped, anything else is text.
local function html_comment(text) return text:match('^%s*<!%-%-.*%-%->%s*$') ~= nil end
local function raw_inline(el)
  if not el.format:match('^html') then return nil end
  if html_comment(el.text) then return {} end
  return pandoc.Str(el.text)
end
local function raw_block(el)
  if not el.format:match('^html') then return nil end
  if html_comment(el.text) then return {} end
  return pandoc.Para({pandoc.Str(el.text)})
end

local kind_names = {fig = 'Figure', tbl = 'Table', sec = 'Section'}

local function prefix_caption(el, text)
  local caption = el.caption
  local long = pandoc.Blocks(caption.long)
  local first = long[1]
  if first and (first.t == 'Plain' or first.t == 'Para') then
    local inl = pandoc.Inlines(text)
    inl:insert(pandoc.Space())
    inl:extend(first.content)
    first.content = inl
    long[1] = first
  else
    long:insert(1, pandoc.Plain(pandoc.Inlines(text)))
  end
  caption.long = long
  el.caption = caption
end

local function crossref(doc)
  local number_sections = truthy(doc.meta['number-sections'])
  local labels = {}
  local levels = {0, 0, 0, 0, 0, 0}
  local count = {fig = 0, tbl = 0}
  local function add(id, info)
    if id == '' then return end
    if labels[id] and id:match('^%a+%-') and kind_names[id:match('^(%a+)%-')] then
      error('duplicate cross-reference label #' .. id)
    end
    labels[id] = info
  end
  doc:walk({
    traverse = 'topdown',
    Header = function(h)
      if h.classes:includes('unnumbered') then
        add(h.identifier, {kind = 'sec', title = h.content})
        return nil
      end
      levels[h.level] = levels[h.level] + 1
      for i = h.level + 1, #levels do levels[i] = 0 end
      local parts = {}
      for i = 1, h.level do parts[#parts + 1] = tostring(levels[i]) end
      add(h.identifier, {kind = 'sec', title = h.content,
                         number = number_sections and table.concat(parts, '.') or nil})
    end,
    Figure = function(f)
      if f.identifier:match('^fig%-') then
        count.fig = count.fig + 1
        add(f.identifier, {kind = 'fig', number = tostring(count.fig)})
      end
    end,
    Table = function(t)
      if t.identifier:match('^tbl%-') then
        count.tbl = count.tbl + 1
        add(t.identifier, {kind = 'tbl', number = tostring(count.tbl)})
      end
    end,
  })

  local function ref_inlines(id, info, suppress)
    local text
    if info.number then
      if suppress then text = pandoc.Inlines(info.number)
      else text = pandoc.Inlines(kind_names[info.kind] .. ' ' .. info.number) end
    else
      text = pandoc.Inlines(info.title)
    end
    if is_typst then
      if info.number and not suppress then
        return pandoc.Inlines({pandoc.RawInline('typst', '#ref(label("' .. id .. '"));')})
      end
      return pandoc.Inlines({pandoc.RawInline('typst',
        '#link(label("' .. id .. '"))[' .. typst_inlines(text) .. '];')})
    end
    return pandoc.Inlines({pandoc.Link(text, '#' .. id, '', pandoc.Attr('', {'quarto-xref'}))})
  end

  return doc:walk({
    Cite = function(c)
      for _, cit in ipairs(c.citations) do
        local prefix = cit.id:lower():match('^(%a+)%-')
        if not (prefix and kind_names[prefix]) then return c.content end  -- not a cross-ref
      end
      local out = pandoc.Inlines({})
      for i, cit in ipairs(c.citations) do
        local id = cit.id:sub(1, 1):lower() .. cit.id:sub(2)
        local info = labels[id]
        if not info then
          error('cross-reference @' .. cit.id ..
                ': no figure, table or section is labelled #' .. id)
        end
        if i > 1 then out:extend({pandoc.Str(','), pandoc.Space()}) end
        if #cit.prefix > 0 then
          out:extend(cit.prefix)
          out:insert(pandoc.Space())
        end
        out:extend(ref_inlines(id, info, cit.mode == 'SuppressAuthor'))
        out:extend(cit.suffix)
      end
      return out
    end,
    Figure = function(f)
      f = f:walk({Image = function(img)
        local alt = img.attributes['fig-alt']
        if alt then
          img.attributes['fig-alt'] = nil
          img.caption = pandoc.Inlines(alt)
          return img
        end
      end})
      local info = labels[f.identifier]
      if info and info.kind == 'fig' then
        if is_html then prefix_caption(f, 'Figure ' .. info.number .. ':') end
        return f
      end
      if is_typst then  -- Typst would number it; Quarto does not number unlabelled figures
        local blocks = pandoc.Blocks(f.content)
        local cap = pandoc.utils.blocks_to_inlines(f.caption.long)
        if #cap > 0 then blocks:insert(pandoc.Para({pandoc.Emph(cap)})) end
        return pandoc.Div(blocks)
      end
      return f
    end,
    Table = function(t)
      local info = labels[t.identifier]
      if info and info.kind == 'tbl' then
        if #t.caption.long == 0 then error('table #' .. t.identifier .. ' has no caption') end
        if is_html then prefix_caption(t, 'Table ' .. info.number .. ':') end
        return t
      end
      if is_typst and #t.caption.long > 0 then
        local cap = pandoc.utils.blocks_to_inlines(t.caption.long)
        local caption = t.caption
        caption.long = pandoc.Blocks({})
        t.caption = caption
        return {pandoc.Para({pandoc.Emph(cap)}), t}
      end
    end,
  })
end

-- Typst shorthands pandoc does not escape: "..." (ellipsis) and "-?" (soft hyphen).
local function typst_str(s)
  if not (s.text:find('...', 1, true) or s.text:find('-?', 1, true)) then return nil end
  local raw = typst_inlines({s})
  raw = raw:gsub('%.%.%.', '.\\.\\.')
  raw = raw:gsub('%-%?', '-\\?')
  return pandoc.RawInline('typst', raw)
end

return {
  {Meta = function(m) meta = m end},
  {Div = conditional, Span = conditional, CodeBlock = conditional},
  {Div = callout},
  {RawInline = raw_inline, RawBlock = raw_block},
  {Pandoc = crossref},
  is_typst and {Str = typst_str} or {},
}
"""

_TYPST_HEADER = r"""
// Report styling (dnmarkets.report.render, pandoc + Typst path).
#let report-accent = rgb("#1f4e79")
#show link: set text(fill: report-accent)
#show ref: set text(fill: report-accent)
#show heading: set text(fill: report-accent.darken(20%))
#show heading: set block(above: 1.4em, below: 0.8em)
#show figure: set block(above: 1.2em, below: 1.2em)
#show figure.caption: set text(size: 0.9em)
// a long table continues on the next page (its header repeated) instead of
// overflowing the page or pushing the text after it away
#show figure.where(kind: table): set block(breakable: true)
#show table: set text(size: 0.85em)
#show table.cell.where(y: 0): set text(weight: "bold")
#show table.cell: set par(justify: false)
#show table.cell: set text(hyphenate: false)
#set table(
  stroke: none,
  inset: (x: 5pt, y: 4pt),
  fill: (_, y) => if y > 0 and calc.even(y) { luma(243) },
)
#let callout(kind: "note", title: none, body) = {
  let colors = (note: rgb("#0b6bcb"), tip: rgb("#198754"), warning: rgb("#b45309"),
                caution: rgb("#c2410c"), important: rgb("#b91c1c"))
  let c = colors.at(kind, default: rgb("#0b6bcb"))
  block(width: 100%, breakable: true, fill: c.lighten(92%), stroke: (left: 3pt + c),
        inset: (x: 10pt, y: 8pt), radius: 2pt, above: 1em, below: 1em)[
    #if title != none { block(below: 0.7em, text(weight: "bold", fill: c.darken(25%), title)) }
    #body
  ]
}
"""
