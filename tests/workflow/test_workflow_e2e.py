"""End to end: the workflow on a tiny configuration, its report, its determinism."""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import threading
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import (
    ROOT,
    make_project,
    parse_html,
    real_market_names,
    result_hashes,
    run_snakemake,
    strings_of,
    tiny_config,
)
from pypdf import PdfReader

pytestmark = pytest.mark.e2e


def test_report_files_exist_and_pdf_has_pages(tiny_run):
    html = tiny_run / "results/report/report.html"
    pdf = tiny_run / "results/report/report.pdf"
    assert html.stat().st_size > 10_000
    reader = PdfReader(pdf)
    assert len(reader.pages) >= 4
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "Figure 1: Active listings" in text and "Table 1: Markets" in text
    assert "Contents" in text
    assert "SIMULATED" in text.upper()
    # an accessible PDF: PDF/UA-1 (Typst checked it while writing; pdfuaid:part 1 in XMP)
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert "<pdfuaid:part>1</pdfuaid:part>" in xmp


def test_html_references_no_missing_file(tiny_run):
    html = (tiny_run / "results/report/report.html").read_text()
    parser = parse_html(html)
    assert parser.images, "the report has no figures"
    for _tag, ref in parser.refs:
        if ref.startswith("data:"):
            continue
        if ref.startswith("#"):
            assert ref[1:] in parser.ids, f"dangling anchor {ref}"
            continue
        if _tag == "a" and ref.startswith(("https://", "http://")):
            continue  # a reference's web address, for the reader: not a resource
        assert not re.match(r"^[a-z]+:", ref) or ref.startswith("mailto:"), f"external ref {ref}"
        assert (tiny_run / "results/report" / ref).exists(), f"missing file {ref}"
    for img in parser.images:
        assert img.get("alt"), f"image without alt text: {str(img)[:80]}"


def _data_links(block: str) -> list[str]:
    return re.findall(r'<span class="data-link"><a href="(data/[^"]+\.csv)">', block)


def test_every_figure_and_table_links_its_data(tiny_run):
    report = tiny_run / "results/report"
    html = (report / "report.html").read_text()
    figures = re.findall(r"<figure\b.*?</figure>", html, re.S)
    tables = re.findall(r"<table\b.*?</table>", html, re.S)
    assert len(figures) >= 10 and len(tables) >= 20
    linked = []
    for block in figures + tables:
        links = _data_links(block)
        assert len(links) == 1, block[:300]
        csv_path = report / links[0]
        assert csv_path.is_file() and len(pd.read_csv(csv_path)) > 0, links[0]
        linked.append(links[0])
    assert len(set(linked)) == len(linked)
    # the data folder holds the linked files and no others; the manifest lists each
    written = {p.relative_to(report).as_posix() for p in (report / "data").rglob("*.csv")}
    assert written == set(linked)
    manifest = json.loads((tiny_run / "results/manifest.json").read_text())["results"]
    assert {f"report/{p}" for p in linked} <= set(manifest)
    # no data link in the PDF
    pdf_text = " ".join(page.extract_text() for page in PdfReader(report / "report.pdf").pages)
    assert "(CSV)" not in pdf_text


def test_a_figure_csv_holds_the_numbers_drawn(tiny_run):
    """The categories figure's CSV: the notebook's, with the model's shares."""
    report = tiny_run / "results/report"
    shown = pd.read_csv(report / "data/sim2017/landscape/categories.csv")
    notebook = tiny_run / "results/notebooks/sim2017/landscape/categories.csv"
    assert (report / "data/sim2017/landscape/categories.csv").read_bytes() == notebook.read_bytes()
    model = json.loads((tiny_run / "results/models/sim2017/landscape.json").read_text())
    expected = pd.DataFrame(model["tables"]["categories"]).set_index("drug_category")
    drawn = shown.set_index("drug_category")["share_listings"]
    assert sorted(drawn.index) == sorted(expected.index)
    assert drawn.to_dict() == pytest.approx(expected["share_listings"].to_dict())


def test_a_table_csv_holds_the_numbers_shown(tiny_run):
    """The markets table: its CSV row by row as the HTML shows it, and its counts the
    landscape model's."""
    report = tiny_run / "results/report"
    html = (report / "report.html").read_text()
    table = re.search(r'<table id="tbl-markets-sim2017"[^>]*>.*?</table>', html, re.S).group(0)
    cells = [
        [re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", c))).strip() for c in row]
        for row in (
            re.findall(r"<t[hd]\b[^>]*>(.*?)</t[hd]>", tr, re.S)
            for tr in re.findall(r"<tr\b.*?</tr>", table, re.S)
        )
    ]
    path = _data_links(table)[0]
    assert path == "data/tables/tbl-markets-sim2017.csv"
    frame = pd.read_csv(report / path, dtype=str, keep_default_na=False)
    assert [list(frame.columns), *frame.to_numpy().tolist()] == cells
    model = json.loads((tiny_run / "results/models/sim2017/landscape.json").read_text())
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    names = {m["slug"]: m["name"] for m in config["datasets"]["sim2017"]["simulation"]["markets"]}
    crawls = {names[row["market"]]: row["crawls"] for row in model["tables"]["markets"]}
    counts = frame["Crawls"].str.replace(",", "").astype(int)
    shown = dict(zip(frame["Market"], counts, strict=True))
    assert shown == crawls


def test_every_heading_has_an_anchor(tiny_run):
    html = (tiny_run / "results/report/report.html").read_text()
    headings = re.findall(r"<h[1-6]\b([^>]*)>(.*?)</h[1-6]>", html, re.S)
    sections = [(attrs, body) for attrs, body in headings if 'id="' in attrs]
    assert len(sections) >= 20
    for attrs, body in sections:
        hid = re.search(r'id="([^"]+)"', attrs).group(1)
        if hid == "toc-title":
            continue
        assert f'<a class="anchor" href="#{hid}" aria-label="Link to this section: ' in body


def test_report_numbers_come_from_the_summary(tiny_run):
    summary = json.loads((tiny_run / "results/summary.json").read_text())
    share = summary["sim2017.landscape.eu_share_drug_listings"]
    assert share["ci_low"] <= share["value"] <= share["ci_high"]
    html = (tiny_run / "results/report/report.html").read_text()
    assert f"{share['value'] * 100:.1f}%" in html


def test_row_accounting_balances(tiny_run):
    acc = pd.read_parquet(tiny_run / "results/clean/sim2017/accounting.parquet")
    assert (acc["raw_rows"] == acc["clean_rows"] + acc["quarantined_rows"]).all()
    listings = pd.read_parquet(tiny_run / "results/clean/sim2017/listings.parquet")
    quarantine = pd.read_parquet(tiny_run / "results/clean/sim2017/quarantine.parquet")
    assert acc["clean_rows"].sum() == len(listings) + len(
        pd.read_parquet(tiny_run / "results/clean/sim2017/vendors.parquet")
    )
    assert acc["quarantined_rows"].sum() == len(quarantine)


def test_simulated_results_name_no_real_market(tiny_run):
    """Summary keys and texts, clean and panel tables' markets, notebook tables and raw
    paths of the simulated dataset: fictitious market names only."""
    summary = json.loads((tiny_run / "results/summary.json").read_text())
    sim = {k: v for k, v in summary.items() if k.startswith("sim2017.")}
    assert any(".destination_share_" in k for k in sim)  # keys that carry a market slug
    texts = list(strings_of(sim))
    texts += [
        m
        for table in (
            "clean/sim2017/listings",
            "clean/sim2017/vendors",
            "panels/sim2017/market_day",
        )
        for m in pd.read_parquet(tiny_run / f"results/{table}.parquet", columns=["market"])[
            "market"
        ].unique()
    ]
    notebooks = tiny_run / "results/notebooks/sim2017"
    texts += [p.read_text() for pattern in ("*.md", "*.json") for p in notebooks.rglob(pattern)]
    texts += [p.as_posix() for p in (tiny_run / "data/raw/sim2017").rglob("*")]
    texts.append((tiny_run / "data/raw/sim2017/ground_truth.json").read_text())
    found = {text[:80]: real_market_names(text) for text in texts}
    assert not {text: names for text, names in found.items() if names}


def test_tables_name_markets_as_readers_know_them(tiny_run):
    """The markets and accounting tables show each market's configured name, not its slug."""
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    markets = config["datasets"]["sim2017"]["simulation"]["markets"]
    for name in ("markets.md", "accounting.md"):
        table = (tiny_run / "results/notebooks/sim2017/landscape" / name).read_text()
        cells = {c.strip() for line in table.splitlines() for c in line.split("|")}
        assert {m["name"] for m in markets} & cells, name
        assert not {m["slug"] for m in markets if m["slug"] != m["name"]} & cells, name


def test_noop_rerun_does_nothing(tiny_run):
    proc = run_snakemake(tiny_run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_published_config_repeats_the_run(tiny_run):
    config = tiny_run / "results/provenance/config.yaml"
    record = json.loads((tiny_run / "results/provenance/provenance.json").read_text())
    assert yaml.safe_load(config.read_text()) == record["config"]
    proc = run_snakemake(tiny_run, "--dry-run", "--configfile", str(config))
    assert proc.returncode == 0, proc.stderr[-3000:]
    # no analysis step reruns: only the record of how the run was called changes
    jobs = set(re.findall(r"^rule (\w+):", proc.stdout + proc.stderr, flags=re.M))
    assert jobs <= {"rulegraph", "provenance", "report", "manifest", "all"}, jobs


def test_two_runs_give_identical_result_tables(tiny_run, tmp_path):
    other = make_project(tmp_path / "again", tiny_config())
    proc = run_snakemake(other)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = result_hashes(tiny_run), result_hashes(other)
    assert first.keys() == second.keys()
    # the manifest holds the provenance record's hash
    skip = ("provenance.json", "manifest.json")
    differing = [k for k in first if first[k] != second[k] and not k.endswith(skip)]
    assert not differing, differing


def test_editing_a_notebook_reruns_only_it_the_report_and_the_manifest(tiny_run):
    nb = tiny_run / "notebooks/landscape.ipynb"
    nb.write_text(nb.read_text().replace("# Market landscape", "# Market landscape (edited)"))
    proc = run_snakemake(tiny_run, "--dry-run")
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = set(re.findall(r"^rule (\w+):", proc.stdout + proc.stderr, flags=re.M))
    assert jobs - {"all"} == {"landscape_notebook", "report", "manifest"}, jobs


def test_editing_a_module_in_a_subpackage_reruns_the_rules_that_use_it(tiny_run):
    """Code dependencies follow the package's subpackages (dnmarkets.core.codedeps):
    an edit of models/its.py reruns the resilience model and what reads it, not the
    cleaning or the panels."""
    module = tiny_run / "src/dnmarkets/models/its.py"
    text, stat = module.read_text(), module.stat()
    try:
        module.write_text(text + "\n# edited\n")
        proc = run_snakemake(tiny_run, "--dry-run")
        assert proc.returncode == 0, proc.stderr[-3000:]
        jobs = set(re.findall(r"^rule (\w+):", proc.stdout + proc.stderr, flags=re.M))
        assert "resilience_model" in jobs and "report" in jobs, jobs
        assert not jobs & {"simulate", "clean_partition", "merge_clean", "panels"}, jobs
    finally:
        module.write_text(text)
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))


# --------------------------------------------------------------------------
# Untrusted text and vendor privacy: what the run publishes, read as an attacker
# or a vendor would. The tiny run's simulated crawls carry hostile titles at a
# raised rate (conftest.tiny_config).
# --------------------------------------------------------------------------

TEXT_SUFFIXES = {".json", ".md", ".html", ".ipynb", ".tsv", ".csv", ".txt", ".typ", ".yml", ".log"}
# alias tokens shorter than this also occur as ordinary words ("kush", "pharma")
MIN_ALIAS_LENGTH = 6


def raw_aliases(project: Path) -> set[str]:
    """Every alias as scraped (the private clean tables keep them), lower-cased."""
    aliases: set[str] = set()
    for table in ("listings", "vendors"):
        for path in (project / "private/clean").glob(f"*/{table}.parquet"):
            aliases |= set(pd.read_parquet(path, columns=["vendor"])["vendor"].dropna().str.lower())
    return {a for a in aliases if len(a) >= MIN_ALIAS_LENGTH}


def published_text(path: Path) -> str | None:
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        return "\n".join(frame[c].astype(str).str.cat(sep="\n") for c in frame.columns).lower()
    if path.suffix == ".pdf":
        return " ".join(page.extract_text() for page in PdfReader(path).pages).lower()
    if path.suffix in TEXT_SUFFIXES:
        return path.read_text(errors="replace").lower()
    return None  # images: drawn from aggregates only


def test_no_raw_alias_anywhere_under_results(tiny_run):
    aliases = raw_aliases(tiny_run)
    assert len(aliases) > 100, "the private clean tables should hold the scraped aliases"
    checked, leaks = 0, {}
    for path in sorted((tiny_run / "results").rglob("*")):
        text = published_text(path) if path.is_file() else None
        if text is None:
            continue
        checked += 1
        tokens = set(re.findall(r"[^\s\"'<>|,;:()\[\]{}\\/]+", text))
        found = sorted(aliases & tokens)
        if found:
            leaks[str(path.relative_to(tiny_run))] = found[:5]
    assert checked > 50
    assert not leaks, leaks
    # the report, as text, also never contains an alias inside a longer word
    report = published_text(tiny_run / "results/report/report.html")
    long_aliases = [a for a in aliases if len(a) >= 9]
    assert not [a for a in long_aliases if a in report]


class _RecordingHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail(
        "no Chromium on this machine: the browser test needs Debian's `chromium` "
        "(.ci/run installs it; elsewhere: apt-get install chromium)"
    )


def headless_chromium(profile) -> list[str]:
    """Chromium headless with a fresh profile and no background connections (which
    this machine's closed network refuses)."""
    return [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        f"--user-data-dir={profile}",
    ]


def load_in_chromium(directory: Path, page: str, profile: Path) -> tuple[str, list[str], list[str]]:
    """Serve `directory` on 127.0.0.1 and load `page` in headless Chromium: the DOM,
    the paths the browser requested, and the page's console messages (errors among them)."""
    handler = type("Handler", (_RecordingHandler,), {"requests": []})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: handler(*a, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{page}"
        proc = subprocess.run(
            [
                *headless_chromium(profile),
                "--virtual-time-budget=5000",
                # console messages go to stderr as INFO:CONSOLE lines
                "--enable-logging=stderr",
                "--v=0",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, list(handler.requests), console


def test_browser_check_sees_console_errors_and_requests(tmp_path):
    """Control for the report checks below: a page with a script error, a console
    error and a missing image is caught by the same method."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site/bad.html").write_text(
        '<html><body><img src="missing.png"><script>console.error("boom");'
        "undefined_function();</script></body></html>"
    )
    _dom, requests, console = load_in_chromium(tmp_path / "site", "bad.html", tmp_path / "p")
    assert "/missing.png" in requests
    assert any("boom" in line for line in console)
    assert any("Uncaught ReferenceError" in line for line in console)


def test_hostile_titles_are_inert_in_a_real_browser(tiny_run, tmp_path):
    report_dir = tiny_run / "results/report"
    html = (report_dir / "report.html").read_text()
    # the report shows hostile titles (the markup table), so the test means something
    assert "/leak/script" in html and "/leak/img" in html
    dom, requests, console = load_in_chromium(report_dir, "report.html", tmp_path / "profile")
    # a payload that ran or was parsed as markup would have requested /leak/...
    assert requests and requests[0] == "/report.html"
    extra = [p for p in requests if p not in ("/report.html", "/favicon.ico")]
    assert not extra, extra
    # and the report itself logs nothing: no script error, no failed load
    assert not console, console
    assert not re.search(r"<script\b", dom, re.I)
    assert not re.search(r"<img[^>]*onerror", dom, re.I)
    # the payloads are there as text
    assert "&lt;script&gt;fetch('/leak/script')&lt;/script&gt;" in dom
    assert "{{&lt; include /etc/passwd &gt;}}" in dom or "{{< include /etc/passwd >}}" in dom


def test_printed_html_has_no_sidebar_anchors_or_data_links(tiny_run, tmp_path):
    """The print styles, as Chromium prints the HTML: the text without the table of
    contents, the heading anchors and the data links (which the screen page has)."""
    html = tiny_run / "results/report/report.html"
    page = html.read_text()
    assert '<nav id="TOC"' in page and 'class="anchor"' in page and "data-link" in page
    printed = tmp_path / "printed.pdf"
    proc = subprocess.run(
        [
            *headless_chromium(tmp_path / "profile"),
            "--no-pdf-header-footer",
            f"--print-to-pdf={printed}",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0 and printed.is_file(), proc.stderr[-2000:]
    text = " ".join(p.extract_text() for p in PdfReader(printed).pages)
    assert "Figure 1: Active listings" in text and "Table 1: Markets" in text
    assert "(CSV)" not in text and "§" not in text
    assert "Contents" not in text  # the sidebar's title


def test_hostile_titles_do_not_break_the_pdf(tiny_run):
    reader = PdfReader(tiny_run / "results/report/report.pdf")
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "Listing titles containing markup" in text
    for payload in ("fetch('/leak/script')", "#set page(fill: red)", "\\input{/etc/passwd}"):
        assert payload in text, payload
    assert len(reader.pages) >= 4


# Accessibility: axe-core (npm, pinned in tools/a11y/package-lock.json, installed by
# `./run.sh test` via tools/a11y/install.sh) in headless Chromium, WCAG 2.1 A and AA
def axe_check():
    spec = importlib.util.spec_from_file_location(
        "axe_check", ROOT / "tools" / "a11y" / "axe_check.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not module.AXE_JS.is_file():
        message = (
            f"axe-core not installed ({module.AXE_JS.relative_to(ROOT)}): run "
            "tools/a11y/install.sh (needs npm; ./run.sh test runs it)"
        )
        if os.environ.get("DNM_CI") == "1":
            pytest.fail(message)  # CI must run the check
        pytest.skip(message)
    return module


def test_axe_check_finds_violations_on_a_bad_page(tmp_path):
    """Control for the report check below: missing language, an image without alt
    text, faint text and a scrolling table no keyboard can reach are each found."""
    axe = axe_check()
    page = tmp_path / "bad.html"
    page.write_text(
        "<!doctype html><html><head><title>x</title></head><body>"
        '<p style="color:#bbb">faint text</p><img src="data:image/png;base64,iVBORw0KGgo=">'
        '<div style="overflow-x:auto;width:5em"><table><tr><th>long header cells</th>'
        "<th>wider than the box</th></tr></table></div></body></html>"
    )
    results = axe.run_axe(page, chromium=chromium())
    for result in results.values():
        found = {v["id"] for v in result["violations"]}
        assert {"html-has-lang", "image-alt", "color-contrast"} <= found, found
    assert "scrollable-region-focusable" in {v["id"] for v in results[400]["violations"]}


def test_report_meets_wcag_21_aa_in_axe_core(tiny_run):
    axe = axe_check()
    results = axe.run_axe(tiny_run / "results/report/report.html", chromium=chromium())
    assert set(results) == set(axe.WIDTHS)  # the sidebar layout and a phone-sized one
    for width, result in results.items():
        assert result["passes"] >= 20, result  # the rules ran on a page with content
        assert not result["violations"], f"at {width}px:\n" + axe.describe(result["violations"])
