"""End to end: the workflow on a tiny configuration, its report, its determinism."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from conftest import make_project, parse_html, result_hashes, run_snakemake, tiny_config
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
        assert not re.match(r"^[a-z]+:", ref) or ref.startswith("mailto:"), f"external ref {ref}"
        assert (tiny_run / "results/report" / ref).exists(), f"missing file {ref}"
    for img in parser.images:
        assert img.get("alt"), f"image without alt text: {str(img)[:80]}"


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


def test_noop_rerun_does_nothing(tiny_run):
    proc = run_snakemake(tiny_run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr


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
