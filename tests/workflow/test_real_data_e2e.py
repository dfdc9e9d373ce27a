"""The real datasets through the whole workflow, from the local mirror (as in CI).

A shortened real configuration: Agora around Operation Onymous (a few weeks of
crawls), the Dream Market scrape, AlphaBay's roster of April-May 2017 and the
Hansa snapshot of December 2016, the series datasets and Dream's 2016 seller
roster, without the simulated dataset (about 40 s before AlphaBay and Hansa were
added, about 60 s with them, on 2 cores; measured on a shared 2-core machine:
206 s before the roster, 247 s with it, its own jobs about 11 s).
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import yaml
from conftest import ROOT, make_project, run_snakemake

AGORA_PERIOD = ["2014-10-20", "2014-11-30"]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, mirror):
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    del cfg["datasets"]["sim2017"]
    cfg["datasets"]["agora2014"]["period"] = AGORA_PERIOD
    cfg["analysis"]["bootstrap_replicates"] = 200
    cfg["mirror"] = str(mirror)
    project = make_project(tmp_path_factory.mktemp("real") / "project", cfg)
    # real vendors get pseudonyms under a secret key (dnmarkets.clean.privacy); here a test key
    (project / "secrets").mkdir()
    (project / "secrets/pseudonym.key").write_text("test-key-not-secret\n")
    proc = run_snakemake(project)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return project


def test_every_fetched_file_matches_the_project_checksums(real_run):
    sources = pd.read_csv(real_run / "data/sources.tsv", sep="\t", comment="#")
    for source in ("agora2014", "dream2017", "reference"):
        fetched = pd.read_csv(real_run / f"data/raw/{source}/fetched.tsv", sep="\t")
        expected = sources[sources["source"] == source].set_index("path")["sha256"]
        got = fetched.assign(path=fetched["path"].str.removeprefix("files/")).set_index("path")
        assert got["sha256"].to_dict() == expected.to_dict()
        assert set(fetched["obtained_by"]) == {"mirror"}


def test_source_rows_are_all_accounted_for(real_run):
    for dataset in ("agora2014", "dream2017", "alphabay2017", "hansa2016"):
        imported = pd.read_csv(real_run / f"data/raw/{dataset}/import_accounting.tsv", sep="\t")
        per_source = imported.groupby("source_file").agg(
            source_rows=("source_rows", "first"), rows=("rows", "sum")
        )
        assert (per_source["source_rows"] == per_source["rows"]).all()
        acc = pd.read_parquet(real_run / f"results/clean/{dataset}/accounting.parquet")
        assert (acc["raw_rows"] == acc["clean_rows"] + acc["quarantined_rows"]).all()
        assert acc["raw_rows"].sum() == imported["rows"].sum()


def test_agora_crawls_are_restricted_to_the_period(real_run):
    listings = pd.read_parquet(real_run / "results/clean/agora2014/listings.parquet")
    days = pd.to_datetime(listings["crawl_date"])
    assert days.min() >= pd.Timestamp(AGORA_PERIOD[0])
    assert days.max() <= pd.Timestamp(AGORA_PERIOD[1])
    assert listings["price_usd"].gt(0).all()  # every clean row has a converted price


def test_summary_has_real_entries_with_intervals(real_run):
    summary = json.loads((real_run / "results/summary.json").read_text())
    for dataset in ("agora2014", "dream2017"):
        entry = summary[f"{dataset}.landscape.eu_share_drug_listings"]
        assert 0 < entry["ci_low"] <= entry["value"] <= entry["ci_high"] < 1
    # Dream's file is a scrape of the cocaine category: every listing is a drug
    assert summary["dream2017.landscape.drug_share_listings"]["value"] == 1.0
    # Agora's listing pages carry no feedback: no sales estimate is claimed
    assert "agora2014.landscape.eu_share_drug_sales" not in summary
    # the catalogue keys of the landscape before Bayonet (issue 22), with intervals
    for key in (
        "alphabay2017.landscape.drug_share_listings",
        "alphabay2017.landscape.top_vendor_listing_share",
        "hansa2016.landscape.eu_share_drug_listings",
    ):
        assert 0 < summary[key]["ci_low"] <= summary[key]["value"] <= summary[key]["ci_high"] < 1
    sales = summary["alphabay2017.landscape.est_drug_sales_usd_per_day"]
    assert 0 < sales["ci_low"] <= sales["value"] <= sales["ci_high"]
    # AlphaBay's scrape has no ships-from column: no EU share is claimed
    assert summary["alphabay2017.landscape.eu_share_drug_listings"]["value"] is None


def test_report_shows_real_data_labelled(real_run):
    html = (real_run / "results/report/report.html").read_text()
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "Agora, 2014–15 (real crawls)" in text
    assert "Dream Market, July 2017 (real scrape)" in text
    assert "AlphaBay before Operation Bayonet, April–May 2017 (real scrape)" in text
    assert "Hansa, December 2016 (real scrape)" in text
    assert "Published figures on AlphaBay (not computed by this pipeline)" in text
    assert "Published figures (not computed by this pipeline)" in text
    assert "Simulated data only" not in text
    assert "REAL DATA" in html or "real data" in text.lower()


def test_series_datasets_are_accounted_and_modelled(real_run):
    """The daily series (CMU-derived sales, the WSM forum's posts) from the mirror: rows
    accounted for, and the catalogue keys of their interrupted time series."""
    for dataset in ("cmu_sales", "wsm_forum"):
        acc = pd.read_parquet(real_run / f"results/clean/{dataset}/accounting.parquet")
        assert (acc["raw_rows"] == acc["clean_rows"] + acc["quarantined_rows"]).all()
    summary = json.loads((real_run / "results/summary.json").read_text())
    for key in (
        "wsm_forum.resilience.posts_change_pct_0d.bayonet",
        "cmu_sales.resilience.evolution_sales_usd_change_pct_0d.onymous",
        "cmu_sales.resilience.silkroad2_sales_usd_lost_per_day.onymous",
        "cmu_sales.resilience.evolution_sales_usd_lost_per_day.evolution",
    ):
        entry = summary[key]
        assert entry["ci_low"] <= entry["value"] <= entry["ci_high"], key
    # AlphaBay's sales start near zero at the Evolution exit: no percentage is claimed
    assert (
        summary["cmu_sales.resilience.alphabay_sales_usd_change_pct_0d.evolution"]["value"] is None
    )
    html = (real_run / "results/report/report.html").read_text()
    assert 'id="sec-resilience-wsm-forum"' in html and 'id="sec-resilience-cmu-sales"' in html


def test_bayonet_roster_overlap(real_run):
    """Dream's 2016 seller roster accounted for; the roster overlap at Bayonet in the
    catalogue with its intervals and in the report; no alias in what is published."""
    acc = json.loads((real_run / "results/clean/dream2016/roster_accounting.json").read_text())
    assert acc["raw_rows"] == 690 == acc["clean_rows"] + acc["quarantined_rows"]
    summary = json.loads((real_run / "results/summary.json").read_text())
    prefix = "dream2017.migration_external."
    for key in ("closed_name_share", "origin_seen_share", "closed_name_share_on_earlier_roster"):
        entry = summary[f"{prefix}{key}.bayonet"]
        assert 0 < entry["ci_low"] <= entry["value"] <= entry["ci_high"] < 1, key
    # the split adds up to the whole
    count = summary[f"{prefix}closed_name_count.bayonet"]["value"]
    parts = [
        summary[f"{prefix}closed_name_count_{g}.bayonet"]["value"]
        for g in ("on_earlier_roster", "not_on_earlier_roster")
    ]
    assert count == sum(parts)
    html = (real_run / "results/report/report.html").read_text()
    assert 'id="sec-migration-dream2017"' in html
    clean = pd.read_parquet(real_run / "private/clean/dream2016/roster.parquet")
    published = " ".join(
        p.read_text(errors="ignore") for p in (real_run / "results/models/dream2017").glob("*.json")
    )
    assert not any(v in published for v in clean["vendor"] if len(v) > 5)
