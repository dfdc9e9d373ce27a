"""The HTML report as a web page: heading anchors and the data behind figures and tables.

The pandoc engine's Lua filter (report/filters/quarto-subset.lua) ends every figure's
and table's caption with a "Data (CSV)" link into `data/` beside the report.
`finish_html` makes those links work and adds the anchors:

- a figure's link names the CSV its notebook wrote next to the image
  (dnmarkets.figures.style.save_figure: the numbers the figure draws); it is copied
  from the build folder's assets to `data/<dataset>/<notebook>/<name>.csv`;
- a table's link names `data/tables/<label>.csv`, written here from the table as it
  is shown (header row, then one row per table row; cells as text, the minus sign
  U+2212 written "-"), so the CSV holds exactly the numbers a reader sees (a text
  cell a spreadsheet would take for a formula starts with an apostrophe);
- every heading with an id gets a link to itself ("§", shown on hover, with an
  accessible label), as Quarto's anchor-sections do.

A link whose CSV cannot be made fails the render (ReportError), so a figure without
its data never reaches a reader.
"""

from __future__ import annotations

import csv
import html
import io
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

from dnmarkets.core.io import atomic_path
from dnmarkets.report.mdtext import csv_safe
from dnmarkets.report.quarto import ReportError

DATA_DIR = "data"
TABLES = "tables"
_DATA_HREF = re.compile(r'<a href="(data/[^"]+\.csv)"')
_TABLE = re.compile(r"<table\b.*?</table>", re.S)
_HEADING = re.compile(r"<h(?P<level>[1-6])(?P<attrs>[^>]*)>(?P<body>.*?)</h(?P=level)>", re.S)
_ID = re.compile(r'\bid="([^"]+)"')
# headings that are not sections of the text: the table of contents' title
_NO_ANCHOR = {"toc-title"}


def _text(fragment: str) -> str:
    """Visible text of an HTML fragment, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", fragment))).strip()


class _Cells(HTMLParser):
    """Rows of cell texts of one HTML table (its caption left out)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._caption = 0

    def handle_starttag(self, tag, attrs):
        if tag == "caption":
            self._caption += 1
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "caption":
            self._caption -= 1
        elif tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(re.sub(r"\s+", " ", "".join(self._cell)).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None and not self._caption:
            self._cell.append(data)


def table_rows(table_html: str) -> list[list[str]]:
    """The cells of an HTML table as shown, row by row (header first)."""
    parser = _Cells()
    parser.feed(table_html)
    parser.close()
    return [[cell.replace("\u2212", "-") for cell in row] for row in parser.rows]


def _write_csv(rows: list[list[str]], path: Path) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([[csv_safe(c) for c in r] for r in rows])
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")


def _anchor(match: re.Match) -> str:
    ids = _ID.findall(match.group("attrs"))
    if not ids or ids[0] in _NO_ANCHOR:
        return match.group(0)
    label = html.escape(f"Link to this section: {_text(match.group('body'))}", quote=True)
    link = f' <a class="anchor" href="#{ids[0]}" aria-label="{label}">§</a>'
    return (
        f"<h{match.group('level')}{match.group('attrs')}>{match.group('body')}{link}"
        f"</h{match.group('level')}>"
    )


def finish_html(page: str, build: Path, data_dir: Path) -> str:
    """`page` with heading anchors; the CSVs its data links name written to `data_dir`
    (the folder `data/` beside the published HTML), which is emptied first."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    written: set[str] = set()
    for table in _TABLE.finditer(page):
        hrefs = _DATA_HREF.findall(table.group(0))
        if len(hrefs) != 1 or not hrefs[0].startswith(f"{DATA_DIR}/{TABLES}/"):
            raise ReportError(f"a table has no data link of its own: {_text(table.group(0))[:120]}")
        if hrefs[0] in written:
            raise ReportError(f"two tables have the same data file {hrefs[0]} (a duplicate label)")
        _write_csv(table_rows(table.group(0)), data_dir.parent / hrefs[0])
        written.add(hrefs[0])
    for href in dict.fromkeys(_DATA_HREF.findall(page)):
        if href in written:
            continue
        rel = Path(href).relative_to(DATA_DIR)
        # the Lua filter drops the images' leading assets/
        source = build / "assets" / rel if (build / "assets" / rel).is_file() else build / rel
        if not source.is_file():
            raise ReportError(
                f"figure data {rel} not found (in assets/ or the report folder): the "
                f"figure {rel.with_suffix('.png')} needs the CSV of the numbers it draws "
                "(dnmarkets.figures.style.save_figure writes it)"
            )
        (data_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, data_dir / rel)
        written.add(href)
    return _HEADING.sub(_anchor, page)
