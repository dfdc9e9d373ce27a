"""Import Agora category-listing pages (raw HTML, as crawled) into a table of listings.

Agora's listing pages (crawl of 2014-04-06 in gwern's Darknet Market Archives) show one
`<tr class="products-list-item">` per listing:

    <td><img …></td>
    <td class="column-name"><a href="/p/<id>">title</a><br/><span …>description</span></td>
    <td>0.00220594 BTC <br/></td>
    <td><i class="fa fa-truck"></i> From: <img …/> USA<br/> <i class="fa fa-home"></i> To: EU</td>
    <td><a class="gen-user-link" href="/vendor/<name>#"/>name</a><br/>
        <span class="gen-user-ratings">… 4.78/5, 150~200 deals</span>  (or "[0 deals]")</td>

and a breadcrumb `div.topnav-element > a` giving the category path. The parser is the
standard library's tolerant `html.parser`; fields are found by what they are (a `/p/` link,
a `/vendor/` or `/user/` link, a cell with "BTC", lines starting "From:"/"To:"), not by
cell position, so a row with a missing cell still yields its other fields. Every
`products-list-item` row the tokenizer sees yields exactly one output row, whatever is
missing in it; page and archive counts make that checkable.

Values are kept as shown on the page: entities decoded and whitespace collapsed, nothing
else (no number parsing, no country mapping).

Not imported: parent-category pages (14 of the 421 pages of 2014-04-06) show a tile grid
(`div.product-index-floater`: listing link, title and price only, no vendor or shipping)
instead of rows. 409 of their 411 listings are listed as rows on sub-category pages; the
ADA-2019 CSV does not hold them either.
"""

from __future__ import annotations

import logging
import lzma
import re
import tarfile
import zlib
from html.parser import HTMLParser
from os import PathLike

import pandas as pd

log = logging.getLogger(__name__)

COLUMNS = [
    "listing_id",
    "title",
    "price",
    "ships_from",
    "ships_to",
    "vendor",
    "vendor_deals",
    "category",
    "cat_hash",
    "page",
    "row_in_page",
]
ROW_CLASS = "products-list-item"
# Elements that never have content: `<img/>`, `<br/>`. For any other element HTML5 ignores
# the self-closing slash, and Agora writes its vendor links as `<a … href="/vendor/x#"/>x</a>`.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
LISTING_HREF = re.compile(r"^/p/([^/?#\s]+)")
VENDOR_HREF = re.compile(r"^/(?:vendor|user)/([^/?#\s]+)")
DEALS = re.compile(r"([0-9][0-9~,.+]*)\s*deals\b", re.IGNORECASE)
# Tags that start a new rendered line: "From:" and "To:" are recognised at line starts.
LINE_BREAKS = {"br", "div", "p", "li", "table", "tr"}
BTC = re.compile(r"\bBTC\b")
# Independent of the parser: how many listing rows the raw markup declares.
RAW_ROW = re.compile(r"<tr\b[^>]*\bclass\s*=\s*[\"']?[^\"'>]*\bproducts-list-item\b", re.I)
# wget saves the first page of a category twice: `cat/<hash>` and, once `cat/<hash>/`
# has to become a directory, `cat/<hash>.1`; both belong to the category <hash>.
MEMBER_HASH = re.compile(r"(?:^|/)cat/([^/.]+)")


def collapse(text: str) -> str:
    """Collapse runs of whitespace (including non-breaking spaces) to one space."""
    return " ".join(text.split())


class _Row:
    def __init__(self) -> None:
        self.cells: list[list[str]] = []  # text pieces per <td>; "\n" marks a line break
        self.listing_id = ""
        self.title: list[str] | None = None
        self.title_cell = -1
        self.vendor: list[str] | None = None
        self.vendor_href = ""
        self.vendor_cell = -1
        self.nested_tables = 0  # depth of tables nested inside the row

    def current_cell(self) -> int:
        if not self.cells:  # content before the first <td> still belongs to the row
            self.cells.append([])
        return len(self.cells) - 1

    def add_text(self, text: str) -> None:
        self.cells[self.current_cell()].append(text)

    def fields(self) -> dict[str, str]:
        other = [
            "".join(cell)
            for i, cell in enumerate(self.cells)
            if i not in (self.title_cell, self.vendor_cell)
        ]
        price = next((collapse(c) for c in other if BTC.search(c)), "")
        ships_from = ships_to = None
        for line in (collapse(x) for c in other for x in c.split("\n")):
            if line.startswith("From:") and ships_from is None:
                ships_from = line[5:].strip()
            elif line.startswith("To:") and ships_to is None:
                ships_to = line[3:].strip()
        deals_text = "".join(self.cells[self.vendor_cell]) if self.vendor is not None else ""
        deals = DEALS.search(deals_text or "\n".join(other))
        return {
            "listing_id": self.listing_id,
            "title": collapse("".join(self.title or [])),
            "price": price,
            "ships_from": ships_from or "",
            "ships_to": ships_to or "",
            "vendor": collapse("".join(self.vendor or [])) or self.vendor_href,
            "vendor_deals": deals.group(1) if deals else "",
        }


class _CategoryPageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[_Row] = []
        self.row: _Row | None = None
        self.capture: list[str] | None = None  # text buffer of the link being read
        self.in_crumb = False
        self.crumbs: list[str] = []

    # HTMLParser switches to raw-text mode inside <script>/<style>: an unclosed <script>
    # would then swallow every later row. Treating their content as ordinary markup keeps
    # those rows, and a script's text ends up as inert text in whatever field holds it.
    def set_cdata_mode(self, *args, **kwargs) -> None:
        pass

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.handle_starttag(tag, attrs)
        if tag in VOID:
            self.handle_endtag(tag)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attr = {k: v or "" for k, v in attrs}
        classes = attr.get("class", "").split()
        if tag == "tr" and ROW_CLASS in classes:
            self._finish_row()  # an unclosed previous row ends where the next begins
            self.row = _Row()
            return
        if self.row is None:
            self._crumb_start(tag, attr, classes)
            return
        row = self.row
        if tag == "table":
            row.nested_tables += 1
        elif row.nested_tables:
            pass  # inside a nested table: only its text counts, as part of the current cell
        elif tag == "tr":
            self._finish_row()  # another (non-listing) row of the same table begins
            return
        if tag == "td":
            self.capture = None
            if row.nested_tables:
                row.add_text(" ")  # a nested table's cells stay in the current cell
            else:
                row.cells.append([])
        elif tag in LINE_BREAKS:
            row.add_text("\n")
            self.capture = None  # the vendor name ends at the <br> before its ratings
        elif tag == "a":
            self.capture = None  # links do not nest
            href = attr.get("href", "").strip()
            if (m := LISTING_HREF.match(href)) and row.title is None:
                row.listing_id, row.title, row.title_cell = m.group(1), [], row.current_cell()
                self.capture = row.title
            elif row.vendor is None and (
                (m := VENDOR_HREF.match(href)) or "gen-user-link" in classes
            ):
                row.vendor_href = m.group(1) if m else ""
                row.vendor, row.vendor_cell = [], row.current_cell()
                self.capture = row.vendor

    def handle_endtag(self, tag: str) -> None:
        if self.row is None:
            if tag == "a" and self.capture is not None:
                self.crumbs.append(collapse("".join(self.capture)))
                self.capture = None
            elif tag == "div":
                self.in_crumb = False
            return
        if tag in ("a", "td"):
            self.capture = None
        if tag in LINE_BREAKS:
            self.row.add_text("\n")
        if tag == "table" and self.row.nested_tables:
            self.row.nested_tables -= 1
        elif tag in ("tr", "table", "tbody") and not self.row.nested_tables:
            self._finish_row()  # also when the table closes without closing the row

    def handle_data(self, data: str) -> None:
        if self.row is not None:
            self.row.add_text(data)
        if self.capture is not None:
            self.capture.append(data)

    def _crumb_start(self, tag: str, attr: dict, classes: list[str]) -> None:
        if tag == "div":
            self.in_crumb = "topnav-element" in classes
        elif tag == "a" and self.in_crumb:
            self.capture = []

    def _finish_row(self) -> None:
        if self.row is not None:
            self.rows.append(self.row)
        self.row, self.capture = None, None


def parse_category_page_with_counts(html: str, source: str) -> tuple[list[dict], dict]:
    """Parse one page; also return counts: rows seen by the tokenizer, rows emitted, and
    rows the raw markup declares (a regex on the text, independent of the parser)."""
    parser = _CategoryPageParser()
    error = ""
    try:
        parser.feed(html)
        parser.close()
    except Exception as exc:  # untrusted input: keep what was parsed, report the rest
        error = f"{type(exc).__name__}: {exc}"
        log.warning("%s: HTML parser stopped early (%s)", source, error)
    parser._finish_row()  # a truncated document leaves its last row open
    m = MEMBER_HASH.search(source)
    common = {
        "category": "/".join(c for c in parser.crumbs if c),
        "cat_hash": m.group(1) if m else "",
        "page": source,
    }
    out = [{**row.fields(), **common, "row_in_page": i} for i, row in enumerate(parser.rows, 1)]
    out = [{c: r[c] for c in COLUMNS} for r in out]
    counts = {
        "items_seen": len(parser.rows),
        "rows_emitted": len(out),
        "items_in_markup": len(RAW_ROW.findall(html)),
        "parse_errors": int(bool(error)),
    }
    return out, counts


def parse_category_page(html: str, source: str) -> list[dict]:
    """The listing rows of one Agora category page (see module docstring)."""
    rows, counts = parse_category_page_with_counts(html, source)
    log.debug("%s: %s", source, counts)
    return rows


def _natural_key(name: str) -> list:
    # page 2 before page 10
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


class ArchiveError(ValueError):
    """A crawl archive that cannot be read to its end (truncated or damaged)."""


def _read_members(path: str | PathLike, pages: list, totals: dict) -> None:
    with tarfile.open(path, mode="r:*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            fh = tar.extractfile(member)
            raw = fh.read() if fh is not None else b""
            try:
                html = raw.decode("utf-8")  # the pages declare charset=UTF-8
            except UnicodeDecodeError:
                totals["undecodable_pages"] += 1
                html = raw.decode("utf-8", errors="replace")
            rows, counts = parse_category_page_with_counts(html, member.name)
            for key, value in counts.items():
                totals[key] += value
            totals["members"] += 1
            totals["pages_with_rows"] += bool(rows)
            pages.append((_natural_key(member.name), rows))


def read_crawl_archive(path: str | PathLike) -> pd.DataFrame:
    """All listing rows of a crawl archive (`.tar.xz` of `cat/<hash>/<page>` members).

    Members are read in one pass over the compressed stream (nothing is extracted to
    disk) and the rows are returned in sorted (natural) member order. Totals are in
    `df.attrs["import_counts"]`: members, pages with rows, rows seen/emitted/declared.
    """
    pages: list[tuple[list, list[dict]]] = []
    totals = dict.fromkeys(
        ["members", "pages_with_rows", "items_seen", "rows_emitted", "items_in_markup"], 0
    )
    totals.update(parse_errors=0, undecodable_pages=0)
    try:
        _read_members(path, pages, totals)
    except (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error) as err:
        # a truncated download must not pass for a small crawl
        raise ArchiveError(
            f"{path}: cannot read the crawl archive (truncated or damaged): {err}"
        ) from None
    pages.sort(key=lambda p: p[0])
    df = pd.DataFrame([r for _, rows in pages for r in rows], columns=COLUMNS)
    df["row_in_page"] = df["row_in_page"].astype("int64")
    df.attrs["import_counts"] = totals
    log.info("%s: %s", path, totals)
    if totals["items_seen"] != totals["items_in_markup"]:
        log.warning("rows seen by the parser differ from rows declared in the markup")
    return df
