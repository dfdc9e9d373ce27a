"""The Quarto-subset source handling shared by both report engines.

Reads a Quarto project the way Quarto does for the features the report uses:
front matter and option resolution (`_quarto.yml`, then the document, per
format), `when-meta`/`unless-meta` conditional divs, `{{< include >}}` lines,
`var`/`meta`/`pagebreak` shortcodes, the report variables (`_variables.yml`)
made from the summary, and checks that every image is a local file. What the
renderer implements and what it does not: docs/report_rendering.md.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from dnmarkets.report.format import format_entry
from dnmarkets.report.mdtext import md_escape

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
# Front matter, metadata conditions, includes, shortcodes, images
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
    return _apply_span_conditions("".join(out), metadata)


# [text]{.content-visible when-meta="key"}: an inline conditional (no brackets inside)
_SPAN = re.compile(
    r"\[(?P<body>[^\[\]]*)\]\{(?P<attrs>[^{}]*\bcontent-(?:visible|hidden)\b[^{}]*)\}"
)


def _apply_span_conditions(text: str, metadata: Mapping) -> str:
    """Conditional spans decided like divs: a hidden one disappears with its
    variables, a visible one is replaced by its text (fenced code left alone)."""

    def decide(m: re.Match) -> str:
        action, attrs = _div_action(m.group("attrs"), metadata)
        if action == "drop":
            return ""
        if action == "unwrap":
            return m.group("body")
        return m.group(0) if attrs == m.group("attrs") else f"[{m.group('body')}]{{{attrs}}}"

    pieces = re.split(r"(^```.*?^```[ \t]*$)", text, flags=re.M | re.S)
    return "".join(p if p.startswith("```") else _SPAN.sub(decide, p) for p in pieces)


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


def resolve_meta_shortcodes(value, variables: Mapping, metadata: Mapping):
    """`value` (a metadata string, or a map or list of them) with its shortcodes resolved."""
    if isinstance(value, str) and "{{<" in value:
        return resolve_shortcodes(value, variables, metadata, source="front matter")
    if isinstance(value, dict):
        return {k: resolve_meta_shortcodes(v, variables, metadata) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_meta_shortcodes(v, variables, metadata) for v in value]
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


def yaml_dump(data) -> str:
    """YAML as the renderer writes it: keys in order, Unicode as is."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
