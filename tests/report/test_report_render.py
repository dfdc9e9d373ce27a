"""The report renderer: pandoc + Typst fallback for the Quarto subset, escaping, formatting."""

from __future__ import annotations

import html
import os
import re
import shutil
import stat
import struct
import zlib
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import parse_html
from pypdf import PdfReader

from dnmarkets.report.engines import LUA_FILTER, TYPST_HEADER
from dnmarkets.report.format import format_entry, format_value, signed
from dnmarkets.report.mdtext import csv_safe, md_escape, md_note_table, md_table
from dnmarkets.report.quarto import build_variables
from dnmarkets.report.render import ReportError, render_report

ROOT = Path(__file__).resolve().parents[2]
# Files of report/ that a test project takes as they are: the stylesheet and the
# offline renderer's Lua filter and Typst header
REPORT_FILES = ("styles.css", str(LUA_FILTER), str(TYPST_HEADER))


def copy_report_files(dest: Path, names=REPORT_FILES) -> None:
    for name in names:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "report" / name, dest / name)


SUMMARY = {
    "sim2017.landscape.eu_share_drug_listings": {
        "value": 0.4612,
        "ci_low": 0.4401,
        "ci_high": 0.4823,
        "unit": "share",
        "description": "Share of drug listings with known origin shipped from the EU",
    },
    "sim2017.landscape.listings_total": {
        "value": 123456,
        "ci_low": None,
        "ci_high": None,
        "unit": "count",
        "description": "Distinct listings observed",
    },
    "sim2017.landscape.est_drug_sales_usd": {
        "value": 1234567.0,
        "ci_low": 1.0e6,
        "ci_high": 1.5e6,
        "unit": "usd",
        "description": "Estimated *drug* sales <USD>",
    },
}


def png(path: Path, width: int = 900, height: int = 600, data: bool = True) -> Path:
    """A valid RGB PNG written with the standard library; with `data`, the CSV of its
    numbers beside it, as save_figure writes it (the HTML report links it)."""
    if data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".csv").write_text(f"width,height\n{width},{height}\n")
    row = b"\x00" + bytes([31, 78, 121]) * width
    raw = row * height

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
    return path


def visible_text(text: str) -> str:
    """HTML body text with tags removed and entities decoded, whitespace collapsed."""
    body = text.split("<body", 1)[1]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", body)))


def pdf_text(path: Path) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(path).pages))


def make_source(
    root: Path, index: str, files: dict[str, str] | None = None, quarto: str | None = None
) -> Path:
    src = root / "src"
    src.mkdir(parents=True)
    (src / "_quarto.yml").write_text(
        quarto
        or (
            "project:\n  type: default\nnumber-sections: true\ntoc: true\n"
            "format:\n  html:\n    css: styles.css\n  typst:\n    papersize: a4\n"
        )
    )
    copy_report_files(src)
    (src / "index.qmd").write_text(index)
    for name, text in (files or {}).items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    return src


def render(root: Path, src: Path, summary=None, assets=None, meta=None, engine="pandoc"):
    out = root / "out"
    render_report(
        src,
        root / "build",
        summary if summary is not None else SUMMARY,
        assets or {},
        meta or {},
        out / "report.html",
        out / "report.pdf",
        engine=engine,
    )
    return (out / "report.html").read_text(), out / "report.pdf"


# --------------------------------------------------------------------------
# A small report project (tests/fixtures/report_skeleton, the first version of
# report/), rendered once with a fake summary and assets. The real report/ is
# rendered by the end-to-end tests.
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def skeleton(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("skeleton")
    assets = tmp / "notebooks" / "sim2017" / "landscape"
    png(assets / "regions.png")
    markets = pd.DataFrame({"Market": ["AlphaBay", "Hansa"], "Listings": [1234.0, 56.0]})
    (assets / "markets.md").write_text(
        md_table(
            markets,
            caption="Markets in the simulated data.",
            label="tbl-markets-sim2017",
            formats={"Listings": "{:,.0f}"},
        )
    )
    provenance = tmp / "provenance"
    provenance.mkdir()
    (provenance / "version.md").write_text("Code version `abc123`.\n")
    (provenance / "software.md").write_text(
        md_table(
            pd.DataFrame({"package": ["pandas"], "version": ["2.2.3"]}),
            caption="Software used for this run.",
            label="tbl-software",
        )
    )
    out = tmp / "results" / "report"
    # the fixture holds only its index.qmd; project settings, styles, filter and header
    # are the real ones
    source = tmp / "source"
    shutil.copytree(ROOT / "tests" / "fixtures" / "report_skeleton", source)
    copy_report_files(source, ("_quarto.yml", *REPORT_FILES))
    render_report(
        source,
        out / "_build",
        SUMMARY,
        {"assets/sim2017/landscape": assets, "assets/provenance": provenance},
        {"datasets": {"sim2017": True}, "title": "Skeleton report", "date": "2026-01-02"},
        out / "report.html",
        out / "report.pdf",
        engine="pandoc",
    )
    return out


def test_skeleton_outputs_exist_and_pdf_has_pages(skeleton):
    assert (skeleton / "report.html").stat().st_size > 5_000
    reader = PdfReader(skeleton / "report.pdf")
    assert len(reader.pages) >= 2
    text = pdf_text(skeleton / "report.pdf")
    assert "Figure 1" in text
    assert "Table 1" in text and "Table 2: Software used for this run." in text
    assert "46.1% (95% CI 44.0%–48.2%)" in text
    assert "123,456" in text
    assert "Skeleton report" in text and "Contents" in text
    # only the report files in the output directory: no temp files left behind
    assert sorted(p.name for p in skeleton.iterdir()) == [
        "_build",
        "data",
        "report.html",
        "report.pdf",
    ]
    assert stat.S_IMODE((skeleton / "report.html").stat().st_mode) & 0o044


def test_skeleton_html_toc_figures_numbers(skeleton):
    text = (skeleton / "report.html").read_text()
    refs = parse_html(text)
    # navigable table of contents with numbered sections
    assert '<nav id="TOC"' in text
    for anchor in ("sec-key-findings", "sec-landscape", "sec-methods", "sec-reproducibility"):
        assert ("a", f"#{anchor}") in refs.refs and anchor in refs.ids
    assert '<span class="header-section-number">2.1</span>' in text
    # numbered figure and table, cross-references, alt text, formatted number
    body = visible_text(text)
    assert "Figure 1: Drug listings by ships-from region" in body
    assert "Table 1: Markets in the simulated data." in body
    assert re.search(r'<a href="#fig-regions-sim2017"[^>]*>Figure 1</a>', text)
    assert re.search(r'<a href="#sec-landscape"[^>]*>Section 2</a>', text)
    assert refs.images and refs.images[0]["alt"].startswith("Bar chart of the share")
    assert "46.1% (95% CI 44.0%–48.2%)" in body
    assert "qcallout qcallout-note" in text and "About the data" in body
    # the html-only sentence is in the HTML
    assert "The PDF version of this report has the same content." in body


def test_skeleton_html_is_self_contained(skeleton):
    refs = parse_html((skeleton / "report.html").read_text())
    assert refs.images, "no figures"
    assert refs.scripts == 0
    for tag, ref in refs.refs:
        if ref.startswith("data:"):
            continue
        if tag == "a" and ref.startswith("data/"):  # a data link: a CSV beside the report
            assert ref.endswith(".csv") and (skeleton / ref).is_file(), ref
            continue
        assert ref.startswith("#"), f"non-embedded reference <{tag}> {ref[:80]}"
        assert ref[1:] in refs.ids, f"dangling anchor {ref}"
    assert all(img["src"].startswith("data:image/png;base64,") for img in refs.images)


def test_skeleton_figures_and_tables_link_their_data(skeleton):
    text = (skeleton / "report.html").read_text()
    figure = re.search(r'<figure id="fig-regions-sim2017">.*?</figure>', text, re.S).group(0)
    caption = re.search(r"<figcaption>.*?</figcaption>", figure, re.S).group(0)
    link = '<span class="data-link"><a href="data/sim2017/landscape/regions.csv">Data\xa0(CSV)</a>'
    assert caption.endswith(link + "</span></figcaption>")
    # the figure's CSV is the one its notebook wrote beside the image
    figure_csv = skeleton / "data/sim2017/landscape/regions.csv"
    assert figure_csv.read_text() == "width,height\n900,600\n"
    tables = re.findall(r"<table\b.*?</table>", text, re.S)
    assert len(tables) == 2
    for table in tables:
        caption = re.search(r"<caption>.*?</caption>", table, re.S).group(0)
        assert re.search(r'<a href="data/tables/[\w-]+\.csv">Data\xa0\(CSV\)</a>', caption)
    # a table's CSV: its cells as shown (the markets table of the fixture)
    rows = (skeleton / "data/tables/tbl-markets-sim2017.csv").read_text().splitlines()
    assert rows == ["Market,Listings", 'AlphaBay,"1,234"', "Hansa,56"]
    assert sorted(p.name for p in (skeleton / "data/tables").iterdir()) == [
        "tbl-markets-sim2017.csv",
        "tbl-software.csv",
    ]
    # a table's scroll region is named by its caption, not by the data link
    labels = re.findall(r'role="region" aria-label="([^"]*)"', text)
    assert len(labels) == 2 and not [label for label in labels if "CSV" in label], labels
    # no data link in the PDF
    assert "(CSV)" not in pdf_text(skeleton / "report.pdf")


def test_skeleton_headings_have_anchors(skeleton):
    text = (skeleton / "report.html").read_text()
    headings = re.findall(r"<h([1-6])([^>]*)>(.*?)</h\1>", text, re.S)
    sections = [(attrs, body) for _, attrs, body in headings if 'id="toc-title"' not in attrs]
    assert len(sections) >= 5
    for attrs, body in sections:
        if "id=" not in attrs:
            continue  # the title
        hid = re.search(r'id="([^"]+)"', attrs).group(1)
        anchor = re.search(r'<a class="anchor" href="#([^"]+)" aria-label="([^"]+)">§</a>', body)
        assert anchor and anchor.group(1) == hid, body
        assert anchor.group(2).startswith("Link to this section: ")
    assert (
        'href="#sec-landscape" aria-label="Link to this section: 2 Market landscape">§</a>' in text
    )
    # the table of contents lists the headings without their anchors
    toc = re.search(r'<nav id="TOC".*?</nav>', text, re.S).group(0)
    assert "§" not in toc and 'class="anchor"' not in toc


def test_tables_without_label_or_caption_get_numbered_data_files(tmp_path):
    index = (
        "# A\n\n| x | y |\n|---|--:|\n| a | -1.5 |\n\n"
        '| k |\n|---|\n| \\"q\\", r |\n\n: Second, captioned\n'
    )
    src = make_source(tmp_path / "p", index)
    text, _ = render(tmp_path / "p", src)
    data = tmp_path / "p/out/data/tables"
    assert sorted(p.name for p in data.iterdir()) == ["table-1.csv", "table-2.csv"]
    # the minus sign shown (U+2212) is a hyphen in the CSV; quotes and commas are quoted
    assert "\u22121.5" in text
    assert (data / "table-1.csv").read_text() == "x,y\na,-1.5\n"
    assert (data / "table-2.csv").read_text() == 'k\n"""q"", r"\n'


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
        ("-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("+x", "'+x"),
        ("-1.5", "-1.5"),
        ("-1,361 (-1,962 to -759)", "-1,361 (-1,962 to -759)"),
        ("-35.7% (95% CI -46.7%–-22.5%)", "-35.7% (95% CI -46.7%–-22.5%)"),
        ("-46.7% to -22.5%", "-46.7% to -22.5%"),
        ("+0.6 (0.2)", "+0.6 (0.2)"),
        ("-1 to 2+HYPERLINK(1)", "'-1 to 2+HYPERLINK(1)"),
        ("-", "-"),
        ("Ashford", "Ashford"),
    ],
)
def test_csv_cells_never_start_a_spreadsheet_formula(cell, written):
    assert csv_safe(cell) == written


def test_a_scraped_formula_in_a_table_is_inert_in_its_csv(tmp_path):
    title = md_escape('=HYPERLINK("http://evil.example","x")')
    src = make_source(tmp_path / "p", f"# A\n\n| Title | n |\n|---|--:|\n| {title} | -2 |\n")
    render(tmp_path / "p", src)
    rows = (tmp_path / "p/out/data/tables/table-1.csv").read_text().splitlines()
    assert rows == ["Title,n", '"\'=HYPERLINK(""http://evil.example"",""x"")",-2']


def test_a_figure_without_its_data_fails_the_render(tmp_path):
    src = make_source(tmp_path / "p", '# A\n\n![Cap](assets/one.png){#fig-one fig-alt="Alt"}\n')
    png(src / "assets" / "one.png", 40, 20, data=False)
    with pytest.raises(ReportError, match=r"figure data one\.csv not found"):
        render(tmp_path / "p", src)


def struct_alt_texts(reader: PdfReader) -> list[str]:
    """The /Alt texts of the PDF's structure tree (the tags screen readers read)."""
    found, todo = [], [reader.trailer["/Root"]["/StructTreeRoot"]]
    while todo:
        node = todo.pop()
        node = node.get_object() if hasattr(node, "get_object") else node
        if isinstance(node, list):
            todo.extend(node)
        elif isinstance(node, dict):
            if "/Alt" in node:
                found.append(str(node["/Alt"]))
            if "/K" in node:
                todo.append(node["/K"])
    return found


def test_skeleton_pdf_is_pdf_ua_1_with_the_figure_alt_text(skeleton):
    reader = PdfReader(skeleton / "report.pdf")
    # PDF/UA-1 identification (ISO 14289-1, 5): pdfuaid:part 1 in the XMP metadata
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r"<pdfuaid:part>1</pdfuaid:part>", xmp), xmp[:500]
    assert reader.trailer["/Root"]["/MarkInfo"]["/Marked"]
    assert reader.metadata.title == "Skeleton report"
    # the figure's fig-alt is its alternative text in the structure tree
    assert any(alt.startswith("Bar chart of the share") for alt in struct_alt_texts(reader))


def test_pdf_ua_render_fails_on_an_image_without_alt_text(tmp_path):
    index = "# A\n\nText ![](assets/a.png) more.\n"
    ua = (
        "project:\n  type: default\nformat:\n  html:\n    css: styles.css\n"
        "  typst:\n    papersize: a4\n    pdf-standard: ua-1\n"
    )
    png(tmp_path / "assets/a.png", 20, 20)
    assets = {"assets": tmp_path / "assets"}
    src = make_source(tmp_path / "ua", index, quarto=ua)
    with pytest.raises(ReportError, match="(?s)missing alt text.*hint: .*alt text"):
        render(tmp_path / "ua", src, assets=assets)
    # control: the same source without the standard renders
    src = make_source(tmp_path / "plain", index)
    _page, pdf = render(tmp_path / "plain", src, assets=assets)
    assert "Text" in pdf_text(pdf)


def test_skeleton_variables_file(skeleton):
    variables = yaml.safe_load((skeleton / "_build" / "_variables.yml").read_text())
    entry = variables["sim2017"]["landscape"]["eu_share_drug_listings"]
    assert entry["value"] == "46.1%"
    assert entry["ci"] == "95% CI 44.0%–48.2%"
    assert entry["text"] == "46.1% (95% CI 44.0%–48.2%)"
    assert entry["unit"] == "share"
    sales = variables["sim2017"]["landscape"]["est_drug_sales_usd"]
    assert sales["value"] == "USD 1.2 million"
    assert sales["description"] == r"Estimated \*drug\* sales \<USD\>"


# --------------------------------------------------------------------------
# Quarto subset on tiny sources
# --------------------------------------------------------------------------

CONDITIONAL = """---
title: Conditions
---

# Data

::: {.content-visible when-meta="datasets.agora2014"}
AGORA-ONLY {{< var agora2014.landscape.share.text >}}

{{< include assets/agora2014/table.md >}}

![Agora figure](assets/agora2014/missing.png){#fig-agora}
:::

::: {.content-hidden when-meta="datasets.agora2014"}
NO-AGORA-TEXT
:::

::: {.content-visible unless-meta="datasets.sim2017"}
NO-SIM-TEXT
:::

::: {.content-visible when-meta="datasets.sim2017"}
SIM-TEXT {{< var sim2017.landscape.listings_total.value >}}
:::

::: {.content-visible when-format="html"}
HTML-ONLY-TEXT
:::

::: {.content-visible when-format="pdf"}
PDF-ONLY-TEXT
:::

::: {.content-hidden when-format="html"}
NOT-IN-HTML-TEXT
:::

Inline [SPAN-SIM]{.content-visible when-meta="datasets.sim2017"} end.
"""


def test_conditional_content_follows_metadata_and_format(tmp_path):
    src = make_source(tmp_path, CONDITIONAL)
    page, pdf = render(tmp_path / "a", src, meta={"datasets": {"sim2017": True}})
    body, text = visible_text(page), pdf_text(pdf)
    for out in (body, text):
        assert "SIM-TEXT 123,456" in out
        assert "NO-AGORA-TEXT" in out
        assert "SPAN-SIM" in out
        assert "AGORA-ONLY" not in out and "NO-SIM-TEXT" not in out
    assert "HTML-ONLY-TEXT" in body and "HTML-ONLY-TEXT" not in text
    assert "PDF-ONLY-TEXT" in text and "PDF-ONLY-TEXT" not in body
    assert "NOT-IN-HTML-TEXT" in text and "NOT-IN-HTML-TEXT" not in body

    # flip the flags: the other branches appear (and now need their files and keys)
    assets = tmp_path / "agora"
    (assets / "table.md").parent.mkdir(parents=True)
    (assets / "table.md").write_text("AGORA-FRAGMENT\n")
    png(assets / "missing.png", 20, 10)
    summary = {
        **SUMMARY,
        "agora2014.landscape.share": {
            "value": 0.25,
            "ci_low": 0.2,
            "ci_high": 0.3,
            "unit": "share",
            "description": "",
        },
    }
    page, pdf = render(
        tmp_path / "b",
        src,
        summary=summary,
        assets={"assets/agora2014": assets},
        meta={"datasets": {"agora2014": True, "sim2017": False}},
    )
    body, text = visible_text(page), pdf_text(pdf)
    for out in (body, text):
        assert "AGORA-ONLY 25.0% (95% CI 20.0%–30.0%)" in out
        assert "AGORA-FRAGMENT" in out
        assert "NO-SIM-TEXT" in out
        assert "SIM-TEXT" not in out.replace("NO-SIM-TEXT", "")
        assert "NO-AGORA-TEXT" not in out and "SPAN-SIM" not in out
    assert "Figure 1: Agora figure" in body and "Figure 1" in text


TABLE_NUMBERS = """---
title: Table numbers
---

# Tables

| A | B |
|---|---|
| 1 | 2 |

: First table {#tbl-first}

::: {.content-visible when-meta="datasets.agora2014"}
| Hidden | Table |
|---|---|
| 1 | 2 |

: Hidden table {#tbl-hidden}
:::

| Uncaptioned | table |
|---|---|
| 3 | 4 |

| Captioned | but unlabelled |
|---|---|
| 5 | 6 |

: An unlabelled caption

| C | D |
|---|---|
| 7 | 8 |

: Second table {#tbl-second}

See @tbl-first and @tbl-second.
"""


def test_table_numbers_do_not_skip_hidden_or_unlabelled_tables(tmp_path):
    src = make_source(tmp_path, TABLE_NUMBERS)
    page, pdf = render(tmp_path, src, meta={"datasets": {"sim2017": True}})
    for out in (visible_text(page), pdf_text(pdf)):
        assert re.findall(r"Table (\d+):", out) == ["1", "2"], out
        assert "See Table 1 and Table 2." in out
        assert "Hidden table" not in out and "Uncaptioned" in out
        assert "An unlabelled caption" in out


MINUS = """---
title: Minus
---

# Numbers

Changed by -34.8% (95% CI -42.8% to -25.8%), table cell (-5) and USD -87,600;
dates 2017-01-05, range 1-2, word a-1, and code `x -1`.

| Change | Interval |
|---|---|
| -34.8% | (-42.8% to -25.8%) |
"""


def test_one_minus_sign_in_html_and_pdf(tmp_path):
    src = make_source(tmp_path, MINUS)
    page, pdf = render(tmp_path, src)
    for out in (visible_text(page), pdf_text(pdf)):
        assert "by \u221234.8% (95% CI \u221242.8% to \u221225.8%)" in out
        assert "(\u22125)" in out and "USD \u221287,600" in out
        assert "2017-01-05" in out and "range 1-2" in out and "a-1" in out
        assert "\u221234.8%" in out and "(\u221242.8% to \u221225.8%)" in out
        numbers = re.findall(r"(?<![\w-])-\d", out.replace("x -1", ""))
        assert numbers == [], numbers  # no hyphen-minus left before a number
    assert "<code>x -1</code>" in page  # code keeps what it says


CROSSREF = """---
title: Cross-references
author: Analyst
number-sections: true
---

# Introduction {#sec-intro}

See @fig-one, @fig-two and @tbl-one; details in @sec-details. Number only: [-@fig-two].

::: {.callout-warning}
## Careful
Callout body text.
:::

![First caption](assets/one.png){#fig-one fig-alt="Alt one"}

![Unnumbered caption](assets/one.png)

| A | B |
|---|---|
| 1 | 2 |

: Table caption here {#tbl-one}

# Details {#sec-details}

## Sub part {#sec-sub}

![Second caption](assets/two.png){#fig-two fig-alt="Alt two"}

Back to @sec-sub and @sec-intro. Mail someone@example.org.

```markdown
Code keeps {{< var not.a.key >}} and @fig-one as they are.
```
"""


def test_crossrefs_callouts_and_code(tmp_path):
    src = make_source(tmp_path, CROSSREF)
    png(src / "assets" / "one.png", 40, 20)
    png(src / "assets" / "two.png", 40, 20)
    page, pdf = render(tmp_path, src)
    body, text = visible_text(page), pdf_text(pdf)
    assert "See Figure 1, Figure 2 and Table 1; details in Section 2." in body
    assert "Number only: 2." in body
    assert "Back to Section 2.1 and Section 1." in body
    assert "Figure 1: First caption" in body and "Figure 2: Second caption" in body
    assert "Table 1: Table caption here" in body
    assert "Figure 3" not in body  # unlabelled figures are not numbered
    assert {img["alt"] for img in parse_html(page).images} >= {"Alt one", "Alt two"}
    assert "someone@example.org" in body
    assert "{{< var not.a.key >}} and @fig-one" in body  # code untouched
    assert "qcallout-warning" in page and "Careful" in body and "Callout body text." in body
    # PDF: same numbers from Typst, clickable references (link annotations)
    assert "See Figure 1, Figure 2 and Table 1; details in Section 2." in text
    assert "Back to Section 2.1 and Section 1." in text
    assert "Figure 1: First caption" in text.replace("  ", " ")
    assert "Figure 3" not in text
    assert "Careful" in text and "Analyst" in text
    annots = [a.get_object() for p in PdfReader(pdf).pages for a in (p.get("/Annots") or [])]
    assert sum(1 for a in annots if a.get("/Subtype") == "/Link") >= 6


# Each table on a new A6 page after one more one-line paragraph than the last: the
# captions fall at every height down to the foot of the page, where a page break
# would leave a caption without its table.
CAPTIONED_TABLES = "---\ntitle: Captions\n---\n\n" + "\n\n".join(
    "```{=typst}\n#pagebreak()\n```\n\n"
    + "Filler.\n\n" * k
    + f"| Column | Value |\n|---|---|\n| firstrow{k}q | 1 |\n| secondrow{k}q | 2 |\n\n"
    + f": Caption of table{k}q {{#tbl-t{k}}}"
    for k in range(1, 16)
)
A6 = "project:\n  type: default\nformat:\n  html: default\n  typst:\n    papersize: a6\n"


def test_a_table_caption_stays_on_the_page_of_its_first_row(tmp_path):
    _, pdf = render(tmp_path, make_source(tmp_path, CAPTIONED_TABLES, quarto=A6))
    pages = [re.sub(r"\s+", " ", p.extract_text()) for p in PdfReader(pdf).pages]

    def page_of(word: str) -> int:
        return next(i for i, text in enumerate(pages) if word in text)

    # an A6 page holds about 12 fillers: the sweep reaches the foot of the page
    assert page_of("table15q") > 15
    apart = [k for k in range(1, 16) if page_of(f"table{k}q") != page_of(f"firstrow{k}q")]
    assert apart == []


# A figure too tall for what is left of its page, then text: the figure floats to
# the next page and the text after it fills this one (no half-empty page).
FLOATING_FIGURE = (
    "---\ntitle: Floats\n---\n\n```{=typst}\n#pagebreak()\n```\n\n"
    + "Before.\n\n" * 8
    + '![Tall figure](assets/tall.png){#fig-tall fig-alt="A tall figure"}\n\n'
    + "After the figure in the source.\n\n" * 3
)


def test_a_figure_that_does_not_fit_lets_the_text_after_it_fill_the_page(tmp_path):
    src = make_source(tmp_path, FLOATING_FIGURE, quarto=A6)
    png(src / "assets" / "tall.png", 600, 500)
    _, pdf = render(tmp_path, src)
    pages = [re.sub(r"\s+", " ", p.extract_text()) for p in PdfReader(pdf).pages]
    before = next(i for i, text in enumerate(pages) if "Before." in text)
    figure = next(i for i, text in enumerate(pages) if "Tall figure" in text)
    assert figure == before + 1  # it does not fit after the eight paragraphs
    assert "After the figure in the source." in pages[before]


def test_unknown_crossref_raises(tmp_path):
    src = make_source(tmp_path, "---\ntitle: X\n---\n\n# A\n\nSee @fig-nothing.\n")
    with pytest.raises(ReportError, match="fig-nothing"):
        render(tmp_path, src)


def test_missing_variable_raises_naming_the_key(tmp_path):
    src = make_source(tmp_path, "# A\n\nValue {{< var sim2017.landscape.no_such_key.text >}}.\n")
    with pytest.raises(ReportError, match=r"sim2017\.landscape\.no_such_key\.text"):
        render(tmp_path, src)
    assert not (tmp_path / "out" / "report.html").exists()


def test_group_variable_and_meta_shortcode(tmp_path):
    src = make_source(
        tmp_path,
        "---\ntitle: Meta test\n---\n\n# A\n\n"
        "Title is {{< meta title >}}; label {{< meta labels.sim >}}; "
        "literal {{{< var x >}}}.\n",
    )
    page, pdf = render(tmp_path, src, meta={"labels": {"sim": "Simulated 2017"}})
    assert "Title is Meta test; label Simulated 2017; literal {{< var x >}}." in visible_text(page)
    assert "literal {{< var x >}}." in pdf_text(pdf)
    bad = make_source(tmp_path / "g", "# A\n\n{{< var sim2017.landscape >}}\n")
    with pytest.raises(ReportError, match="names a group"):
        render(tmp_path / "g", bad)
    bad = make_source(tmp_path / "m", "# A\n\n{{< meta nowhere.key >}}\n")
    with pytest.raises(ReportError, match="nowhere.key"):
        render(tmp_path / "m", bad)


def test_missing_include_image_and_cycle_raise(tmp_path):
    src = make_source(tmp_path / "i", "# A\n\n{{< include assets/none/table.md >}}\n")
    with pytest.raises(ReportError, match=r"assets/none/table\.md"):
        render(tmp_path / "i", src)
    src = make_source(tmp_path / "p", "# A\n\n![Cap](assets/absent.png){#fig-a}\n")
    with pytest.raises(ReportError, match=r"assets/absent\.png"):
        render(tmp_path / "p", src)
    src = make_source(
        tmp_path / "c",
        "# A\n\n{{< include _a.md >}}\n",
        files={
            "_a.md": "A\n\n{{< include sub/_b.md >}}\n",
            "sub/_b.md": "B\n\n{{< include ../_a.md >}}\n",
        },
    )
    with pytest.raises(ReportError, match="include cycle"):
        render(tmp_path / "c", src)
    src = make_source(tmp_path / "r", "# A\n\n![Remote](https://example.org/x.png)\n")
    with pytest.raises(ReportError, match="remote"):
        render(tmp_path / "r", src)


def test_nested_include_relative_to_including_file(tmp_path):
    src = make_source(
        tmp_path,
        "# A\n\n{{< include chapters/_one.qmd >}}\n",
        files={
            "chapters/_one.qmd": "ONE-TEXT\n\n{{< include parts/_two.md >}}\n",
            "chapters/parts/_two.md": "TWO-TEXT {{< var "
            "sim2017.landscape.listings_total.value >}}\n",
        },
    )
    page, pdf = render(tmp_path, src)
    assert "ONE-TEXT" in visible_text(page) and "TWO-TEXT 123,456" in visible_text(page)
    assert "TWO-TEXT 123,456" in pdf_text(pdf)


# --------------------------------------------------------------------------
# Untrusted text
# --------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "Vendor *bold* _it_ [link](https://evil.example) ![img](x.png) `code` <b>&amp;</b>",
    "{{< var sim2017.landscape.listings_total.value >}} {{< include /etc/passwd >}} @fig-x",
    "#set page(width: 1cm) $x^2$ // comment /* block */ = heading <label> @ref ~ -- ... \\",
    "::: {.callout-note}",
    "1. not a list | pipe | 'single' \"double\" ^sup^ ~sub~ ~~strike~~",
]


def test_hostile_strings_render_literally_without_script(tmp_path):
    fragment_df = pd.DataFrame({"Vendor": HOSTILE, "Listings": range(len(HOSTILE))})
    fragment = md_table(
        fragment_df, caption="Vendors <script>alert(2)</script>", label="tbl-vendors"
    )
    index = (
        "# Hostile\n\n"
        + "\n\n".join(md_escape(s) for s in HOSTILE)
        + "\n\nPipeline-escaped: &lt;script&gt;alert(3)&lt;/script&gt;\n\n"
        + "{{< include assets/vendors.md >}}\n\n"
        + "{{< include assets/unescaped.md >}}\n\n"
        + "Description: {{< var sim2017.landscape.est_drug_sales_usd.description >}}\n"
    )
    src = make_source(
        tmp_path,
        index,
        files={
            "assets/vendors.md": fragment,
            # a fragment that forgot to escape: raw HTML must still not pass through
            "assets/unescaped.md": "RAW <script>alert(4)</script> <img src=x onerror=alert(5)>\n",
        },
    )
    page, pdf = render(tmp_path, src, meta={"title": md_escape("<script>alert(1)</script>")})
    refs = parse_html(page)
    assert refs.scripts == 0
    assert not re.search(r"<script", page, re.I)
    assert "onerror" not in "".join(str(i) for i in refs.images)
    assert all(img["src"].startswith("data:") for img in refs.images)
    body, text = visible_text(page), pdf_text(pdf)
    assert "<title><script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for s in HOSTILE:  # in the paragraphs and in the table cells
        assert body.count(s) >= 2, s
        assert s in text, s
    assert "Vendors <script>alert(2)</script>" in body
    assert "<script>alert(3)</script>" in body and "<script>alert(3)</script>" in text
    assert "RAW <script>alert(4)</script>" in body
    assert "Estimated *drug* sales <USD>" in body and "Estimated *drug* sales <USD>" in text
    assert "/etc/passwd" in body  # shown, not included


@pytest.mark.parametrize(
    "text",
    [
        "a*b*c",
        "_x_",
        "[x](y)",
        "<b>",
        "&amp;",
        "{{< var k >}}",
        "{{{< v >}}}",
        "@fig-a",
        "$5 and $6",
        "#tag",
        "x // y",
        "'quoted' \"twice\"",
        "a -- b --- c",
        "wait...",
        "back\\slash",
        "pipe | bar",
        "- item",
        "+ plus",
        "1. one",
        "A) first",
        "> quote",
        ": caption",
        "= eq",
        "~tilde~",
        "^caret^",
        "café Ωμέγα Гидра ∑",
    ],
)
def test_md_escape_round_trip(tmp_path, text):
    src = make_source(tmp_path, "# R\n\n" + md_escape(text) + "\n\nEND\n")
    page, pdf = render(tmp_path, src)
    assert f" {text} END" in visible_text(page)
    assert f"{text} END" in pdf_text(pdf)


def test_md_escape_basics():
    assert md_escape("46.1%") == "46.1%"
    assert md_escape("2017-01-01") == "2017-01-01"
    assert "{{<" not in md_escape("{{< var x >}}")
    assert md_escape("a\nb\t c") == "a b c"
    assert md_escape(None) == ""


def test_md_table_escapes_aligns_and_captions():
    df = pd.DataFrame(
        {"Name": ["a|b", "*c*", None], "Rows": [1000, 20, 3], "Share": [0.5, 0.25, float("nan")]}
    )
    text = md_table(df, caption="Cap *x*", label="tbl-x", formats={"Rows": "{:,.0f}"})
    lines = text.splitlines()
    assert lines[0].startswith("| Name | Rows | Share |")
    assert re.fullmatch(r"\|:-+\|-+:\|-+:\|", lines[1])
    assert r"a\|b" in lines[2] and "1,000" in lines[2]
    assert r"\*c\*" in lines[3]
    assert lines[4].startswith("|  | 3 |")
    assert lines[-1] == r": Cap \*x\* {#tbl-x}"
    assert md_table(df, align="lcr").splitlines()[1].startswith("|:-")
    with pytest.raises(ValueError):
        md_table(df, label="tbl bad")
    with pytest.raises(ValueError):
        md_table(df, formats={"Nope": "{}"})


# --------------------------------------------------------------------------
# Formatting of summary entries
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (0.4612, "share", "46.1%"),
        (46.12, "percent", "46.1%"),
        (2.84, "points", "2.8 percentage points"),
        (123456, "count", "123,456"),
        (12.34, "count", "12.3"),
        (12.0, "count", "12"),
        (1234567, "usd", "USD 1.2 million"),
        (45312, "usd", "USD 45,300"),
        (12.5, "usd", "USD 12.50"),
        (2.5e9, "eur", "EUR 2.5 billion"),
        (12.4, "days", "12.4 days"),  # as the notebooks print days
        (123.0, "days", "123 days"),
        (123.4, "days", "123 days"),
        (1, "days", "1 day"),
        (0.000123456, "ratio", "0.000123"),
        (1.5, "ratio", "1.50"),
        (12345.6, "other", "12,300"),
        (None, "share", "n/a"),
        ("Dream*Market", "text", "Dream*Market"),
    ],
)
def test_format_value(value, unit, expected):
    assert format_value(value, unit) == expected


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (-0.348, "share", "\u221234.8%"),
        (-1401.2, "count", "\u22121,401"),
        (-87600.0, "usd", "USD \u221287,600"),
        (-2.5e6, "eur", "EUR \u22122.5 million"),
        (-0.0123, "ratio", "\u22120.0123"),
        (float("-inf"), "ratio", "\u2212\u221e"),
    ],
)
def test_negative_numbers_carry_the_minus_sign(value, unit, expected):
    assert format_value(value, unit) == expected
    assert "-" not in format_value(value, unit)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (-0.0004, "share", "0.0%"),
        (-0.04, "points", "0.0 percentage points"),
        (-0.001, "usd", "USD 0.00"),
    ],
)
def test_a_negative_number_that_rounds_to_zero_has_no_sign(value, unit, expected):
    assert format_value(value, unit) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.8, "+0.8"), (-1.6, "-1.6"), (-0.04, "0.0"), (0.04, "0.0"), (-0.0, "0.0"), (2.25, "+2.2")],
)
def test_signed_differences(value, expected):
    assert signed(value) == expected


def test_percentage_points_name_their_unit_once():
    entry = format_entry({"value": -2.84, "ci_low": -3.63, "ci_high": -2.05, "unit": "points"})
    assert entry["text"] == "\u22122.8 percentage points (95% CI \u22123.6 to \u22122.0)"


def test_format_entry_and_nested_variables():
    entry = format_entry(
        {"value": 3, "ci_low": None, "ci_high": None, "unit": "count", "description": "a <b>"}
    )
    assert entry == {
        "value": "3",
        "ci": "",
        "text": "3",
        "unit": "count",
        "description": r"a \<b\>",
        "change": "changed by 3 (no interval)",
    }
    variables = build_variables(
        {
            "d.a.q": {
                "value": 0.5,
                "ci_low": 0.4,
                "ci_high": 0.6,
                "unit": "share",
                "description": "",
            },
            "d.a.q.event": {
                "value": 2,
                "ci_low": 1,
                "ci_high": 3,
                "unit": "days",
                "description": "",
            },
        }
    )
    assert variables["d"]["a"]["q"]["text"] == "50.0% (95% CI 40.0%–60.0%)"
    assert variables["d"]["a"]["q"]["event"]["ci"] == "95% CI 1 day–3 days"
    with pytest.raises(ReportError, match="clash"):
        build_variables(
            {"d.x.value": {"value": 1, "unit": "count"}, "d.x": {"value": 2, "unit": "count"}}
        )


# --------------------------------------------------------------------------
# Engine selection: Quarto when on PATH (a stand-in records what it is given)
# --------------------------------------------------------------------------

FAKE_QUARTO = """#!/bin/sh
echo "$@" >> "$FAKE_QUARTO_LOG"
case "$*" in
  *"--to html"*) cp index.qmd index.html ;;
  *"--to typst"*) printf '%%PDF-1.4 fake' > index.pdf ;;
esac
"""


def test_auto_engine_uses_quarto_when_on_path(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    quarto = bin_dir / "quarto"
    quarto.write_text(FAKE_QUARTO)
    quarto.chmod(0o755)
    log_file = tmp_path / "quarto.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_QUARTO_LOG", str(log_file))
    src = make_source(tmp_path, CONDITIONAL)
    page, pdf = render(
        tmp_path, src, engine="auto", meta={"datasets": {"sim2017": True}, "title": "From config"}
    )
    calls = log_file.read_text().splitlines()
    assert any("render index.qmd --to html" in c for c in calls)
    assert any("render index.qmd --to typst" in c for c in calls)
    assert pdf.read_bytes().startswith(b"%PDF")
    # Quarto gets the merged metadata and the source with metadata conditions
    # resolved; var shortcodes are left for Quarto (it reads _variables.yml).
    front = yaml.safe_load(page.split("---\n")[1])
    assert front["title"] == "From config" and front["datasets"] == {"sim2017": True}
    assert "SIM-TEXT {{< var sim2017.landscape.listings_total.value >}}" in page
    assert "AGORA-ONLY" not in page and "when-meta" not in page.split("[SPAN-SIM]")[0]
    assert 'when-format="typst"' in page and 'when-format="pdf"' not in page
    assert (tmp_path / "build" / "_variables.yml").is_file()


def test_quarto_engine_requires_quarto(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    src = make_source(tmp_path, "# A\n")
    with pytest.raises(ReportError, match="quarto"):
        render(tmp_path, src, engine="quarto")


# --------------------------------------------------------------------------
# The offline renderer's Lua filter and Typst header are files of the project
# --------------------------------------------------------------------------


def test_pandoc_engine_reads_the_filter_and_typst_header_of_the_project(tmp_path):
    src = make_source(tmp_path, "# A\n\n::: {.callout-tip}\nBody.\n:::\n")
    lua, header = src / LUA_FILTER, src / TYPST_HEADER
    assert "tip = 'Tip'" in lua.read_text()
    lua.write_text(lua.read_text().replace("tip = 'Tip'", "tip = 'TITLE-FROM-THE-FILTER'"))
    header.write_text(header.read_text() + "#set page(header: [HEADER-FROM-THE-FILE])\n")
    page, pdf = render(tmp_path, src)
    assert "TITLE-FROM-THE-FILTER" in visible_text(page)
    text = pdf_text(pdf)
    assert "TITLE-FROM-THE-FILTER" in text and "HEADER-FROM-THE-FILE" in text


def test_pandoc_engine_needs_the_filter_file(tmp_path):
    src = make_source(tmp_path, "# A\n")
    (src / LUA_FILTER).unlink()
    with pytest.raises(ReportError, match="quarto-subset.lua not found"):
        render(tmp_path, src)


def test_negative_interval_bounds_are_joined_with_to():
    entry = {
        "value": -37.1,
        "ci_low": -40.7,
        "ci_high": -33.2,
        "unit": "percent",
        "description": "",
    }
    assert format_entry(entry)["ci"] == "95% CI \u221240.7% to \u221233.2%"
    positive = {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6, "unit": "share", "description": ""}
    assert format_entry(positive)["ci"].endswith("40.0%–60.0%")


REPORT_SOURCES = sorted(
    str(p.relative_to(ROOT / "report")) for p in (ROOT / "report").rglob("*.qmd")
)


@pytest.mark.parametrize("source", REPORT_SOURCES)
def test_report_source_fences_are_balanced(source):
    """Every ::: block of the report source is closed within its file (an open one
    swallows the rest of the report into a callout or hides it)."""
    depth = 0
    for number, line in enumerate((ROOT / "report" / source).read_text().splitlines(), 1):
        if line.startswith(":::"):
            depth += 1 if line[3:].strip().startswith("{") else -1
            assert depth >= 0, f"{source} line {number}: ::: closes nothing"
    assert depth == 0, f"{source}: {depth} ::: block(s) left open"


@pytest.mark.parametrize("source", REPORT_SOURCES)
def test_notebook_tables_have_their_caption_in_the_report_source(source):
    """A notebook's table fragment holds only the table: its caption follows the
    include, on the next line (pandoc attaches a caption right after a table)."""
    lines = (ROOT / "report" / source).read_text().splitlines()
    for number, line in enumerate(lines, 1):
        m = re.match(r"^\{\{< include (\S+) >\}\}$", line)
        if m and "/assets/" in m.group(1) and "/assets/provenance/" not in m.group(1):
            caption = lines[number] if number < len(lines) else ""
            assert re.match(r"^: .+ \{#tbl-[\w-]+\}$", caption), (
                f"{source} line {number}: no ': Caption {{#tbl-x}}' line after {m.group(1)}"
            )


def test_conditional_spans_drop_their_variables_when_hidden():
    from dnmarkets.report.quarto import apply_meta_conditions

    text = (
        'A. [B {{< var missing.key >}}.]{.content-visible when-meta="shown"}\n'
        '[C {{< var x.y >}}\nacross lines.]{.content-visible when-meta="absent"} D.\n'
        '[E]{.content-hidden when-meta="shown"}[F]{.other}\n'
        '```\n[G]{.content-visible when-meta="absent"}\n```\n'
    )
    out = apply_meta_conditions(text, {"shown": True})
    assert out == "A. B {{< var missing.key >}}.\n D.\n[F]{.other}\n" + (
        '```\n[G]{.content-visible when-meta="absent"}\n```\n'
    )


def test_an_empty_result_table_is_a_note_row_not_a_bare_header():
    text = md_note_table("No row was <quarantined>.")
    lines = text.strip().splitlines()
    assert len(lines) == 3  # header, separator, one row
    assert lines[0].strip("| ") == "Note"
    assert lines[2] == r"| No row was \<quarantined\>. |"  # escaped like every cell
