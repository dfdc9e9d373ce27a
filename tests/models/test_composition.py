"""The composition of the landscape shares (dnmarkets.models.composition): EU-27 and
UK apart, drug share by rows, vendor concentration, fentanyl and NPS offers; on a
hand-computed frame, and the UK share against the simulator's planted countries."""

from __future__ import annotations

import copy
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import listings_frame

from dnmarkets.clean.text import vendor_keys
from dnmarkets.models.composition import (
    concentration,
    mentions_fentanyl,
    origin_entries,
    top_share,
)
from dnmarkets.models.intervals import bootstrap_settings
from dnmarkets.models.landscape import distinct_listings, landscape_estimates

ROOT = Path(__file__).resolve().parents[2]
BOOT = bootstrap_settings({"bootstrap_replicates": 200, "seed": 1, "confidence_level": 0.95})

# (listing, vendor, ships_from_raw, code, region, eu, category, title, sightings)
TINY = [
    ("a", "v1", "Germany", "DE", "EU", True, "cocaine", "Cocaine 1g", 3),
    ("b", "v1", "Germany", "DE", "EU", True, "opioids", "Furanyl-Fentanyl 1g", 1),
    ("c", "v2", "UK", "GB", "EU", True, "cannabis", "Weed 10g", 4),
    ("d", "v3", "UKandIreland", "MULTI", "EU", True, "cannabis", "Hash 5g", 1),
    ("e", "v4", "EU", "EU", "EU", True, "nps", "4-FA 1g", 1),
    ("f", "v5", "NL/Belgium", "MULTI", "EU", True, "ecstasy", "MDMA 1g", 1),
    ("g", "v6", "USA", "US", "North America", False, "opioids", "Fentanyl test strips", 2),
    ("h", "v7", "Europe (EU)", "EUROPE", "Europe (unspecified)", None, "cocaine", "Coke", 1),
    ("i", "v8", "Worldwide", "WW", "Worldwide", None, "non_drug", "Fake ID", 6),
]


def tiny_listings(date: str = "2017-03-01") -> pd.DataFrame:
    rows = []
    for lid, vendor, raw, code, region, eu, cat, title, n in TINY:
        for k in range(n):
            rows.append(
                {
                    "market": "m",
                    "listing_id": lid,
                    "crawl_date": (pd.Timestamp(date) + pd.Timedelta(days=k)).date(),
                    "vendor_key": vendor,
                    "is_drug": cat != "non_drug",
                    "drug_category": cat,
                    "ships_from": code,
                    "ships_from_region": region,
                    "ships_from_eu": eu,
                    "feedback_count": pd.NA,
                    "price_usd": 10.0,
                    "ships_from_raw": raw,
                    "title": title,
                    "category_raw": "Drugs",
                }
            )
    return listings_frame(rows)


def test_origin_groups_and_counts_by_hand():
    items = distinct_listings(tiny_listings()).set_index("listing_id")
    assert items["origin"].astype(str).to_dict() == {
        "a": "eu27",
        "b": "eu27",
        "c": "uk",
        "d": "eu_undecided",  # the UK and Ireland: may be either
        "e": "eu_undecided",  # the bare "EU" while the UK was a member
        "f": "eu27",
        "g": "non_eu",
        "h": "europe_unknown",
        "i": "unknown",
    }
    assert items["sightings"].to_dict() == {k[0]: k[-1] for k in TINY}
    drugs = items[items["is_drug"]].reset_index()
    out = origin_entries(drugs, BOOT)
    # known EU status: a-g (7 listings); EU-27 a, b, f; UK c
    assert out["known_origin_drug_listings"]["value"] == 7
    assert out["eu27_share_drug_listings"]["value"] == pytest.approx(3 / 7)
    assert out["uk_share_drug_listings"]["value"] == pytest.approx(1 / 7)
    assert out["eu_undecided_drug_listings"]["value"] == 2
    assert out["unknown_eu_status_drug_listings"]["value"] == 1
    low, high = (
        out["eu27_share_drug_listings"]["ci_low"],
        out["eu27_share_drug_listings"]["ci_high"],
    )
    assert low < 3 / 7 < high


def test_after_brexit_the_bare_eu_is_eu27_and_the_uk_still_counts_apart():
    frame = tiny_listings("2020-03-01")
    frame.loc[frame["ships_from"] == "GB", ["ships_from_region", "ships_from_eu"]] = (
        "Europe (non-EU)",
        False,
    )
    groups = distinct_listings(frame).set_index("listing_id")["origin"].astype(str)
    assert groups["e"] == "eu27"
    assert groups["c"] == "uk"


def test_landscape_adds_the_new_entries_and_the_single_category_flag():
    frame = tiny_listings()
    market_day = pd.DataFrame(
        {
            "market": ["m"],
            "date": [pd.Timestamp("2017-03-01")],
            "crawled": [True],
            "coverage": [1.0],
            "active_listings": [9],
            "active_vendors": [8],
            "est_sales_usd": [0.0],
        }
    )
    accounting = pd.DataFrame(
        {
            "market": ["m"],
            "table": ["listings"],
            "raw_rows": [20],
            "clean_rows": [20],
            "quarantined_rows": [0],
        }
    )
    result = landscape_estimates(
        frame,
        market_day,
        accounting,
        pd.DataFrame(),
        {**BOOT_CONFIG},
        0.3,
        single_category="cocaine",
    )
    s = result["summary"]
    # rows: 20 sightings, 6 of them the non-drug listing i
    assert s["drug_share_rows"]["value"] == pytest.approx(14 / 20)
    assert s["drug_share_listings"]["value"] == pytest.approx(8 / 9)
    assert s["listing_rows"]["value"] == 20
    assert s["fentanyl_listings"]["value"] == 1  # b; g sells test strips
    assert s["nps_listings"]["value"] == 1
    assert s["fentanyl_share_drug_listings"]["value"] == pytest.approx(1 / 8)
    assert s["single_category"]["value"] == "cocaine"
    # EU-27 + UK + undecided = the existing EU share
    eu = s["eu_share_drug_listings"]["value"]
    parts = (
        s["eu27_drug_listings"]["value"]
        + s["uk_drug_listings"]["value"]
        + s["eu_undecided_drug_listings"]["value"]
    )
    assert eu == pytest.approx(parts / s["known_origin_drug_listings"]["value"])
    assert (
        "single_category"
        not in landscape_estimates(
            frame, market_day, accounting, pd.DataFrame(), {**BOOT_CONFIG}, 0.3
        )["summary"]
    )


BOOT_CONFIG = {"bootstrap_replicates": 200, "seed": 1, "confidence_level": 0.95}


@pytest.mark.parametrize(
    "title",
    [
        "Furanyl-Fentanyl 10g",
        "25mg (0,025g) of CARFENTANIL HCL",
        "500MG Fent HCL w/ FREE upgrade",
        "99.9% Pure Fentanayl HCL",
        "10 x 100mcu Sandoz Fent Patch",
        "1000mg 99.8%+ pure Fentanyl freebase",
        "100mg of China White Fentanyl Free Shipping & Tracking",
        "SALE! 20x Durogesic patches",
        "Acetylfentanyl 1g",
        "FENTANÝL 1g",
    ],
)
def test_fentanyl_offers_are_found(title):
    assert mentions_fentanyl(title)


@pytest.mark.parametrize(
    "title",
    [
        "Fentanyl Test Strip (2x)",
        "Roxicodone 30mg *NOT FENTANYL GARBAGE*",
        "Heroin #4, fentanyl-free, lab tested",
        "6 gr of 6 diffent hash quality",
        "Oxycodone 30mg no fentanyl",
        "Reagent kit for fentanyl",
        "Fentiazac",  # not an opioid; shares only the first letters
    ],
)
def test_no_fentanyl_offer_in_these_titles(title):
    assert not mentions_fentanyl(title)


def test_top_shares_by_hand():
    counts = np.array([50, 20, 10, 5, 5, 4, 3, 1, 1, 1] + [0.0] * 0)
    assert top_share(counts, 0.10) == pytest.approx(0.5)  # 1 of 10 vendors
    assert top_share(counts, 0.05) == pytest.approx(0.5)  # at least one vendor
    assert top_share(counts, 0.30) == pytest.approx(0.8)  # 3 vendors
    drugs = pd.DataFrame(
        {
            "vendor_key": np.repeat([f"v{i}" for i in range(10)], counts.astype(int)),
            "est_sales_usd": 0.0,
        }
    )
    summary, table = concentration(drugs, BOOT)
    assert summary["top10pct_vendors_listing_share"]["value"] == pytest.approx(0.5)
    assert "top10pct_vendors_sales_share" not in summary  # no sales in this sample
    assert [r["vendors"] for r in table] == [1, 1, 1]
    drugs["est_sales_usd"] = np.where(drugs["vendor_key"] == "v9", 100.0, 0.0)
    summary, _ = concentration(drugs, BOOT)
    assert summary["top1pct_vendors_sales_share"]["value"] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def small_sim(tmp_path_factory):
    from dnmarkets.models.interval_coverage import clean_dataset
    from dnmarkets.sim.simulate import simulate

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    sim = copy.deepcopy(config["datasets"]["sim2017"]["simulation"])
    sim.update(start="2017-03-01", end="2017-04-15", scale=0.1)
    out = tmp_path_factory.mktemp("composition")
    simulate(sim, out / "raw")
    tables = clean_dataset(out / "raw", "sim2017", sim, 1, config["cleaning"])
    with gzip.open(out / "raw" / "ground_truth_vendors.csv.gz", "rt") as f:
        truth = pd.read_csv(f, dtype=str, keep_default_na=False)
    return tables["listings"], truth


def test_uk_and_eu27_shares_cover_the_planted_countries(small_sim):
    """The planted truth: each simulated vendor's true ships-from country. The true
    UK and EU-27 shares of the drug listings the crawls saw; the estimates read the
    scraped ships-from text (some vendors show only a region)."""
    listings, truth = small_sim
    items = distinct_listings(listings)
    drugs = items[items["is_drug"]]
    truth = truth.assign(vendor_key=vendor_keys(truth["alias"]))
    country = truth.drop_duplicates(["market", "vendor_key"]).set_index(["market", "vendor_key"])[
        "ships_from"
    ]
    true_country = country.reindex(pd.MultiIndex.from_frame(drugs[["market", "vendor_key"]]))
    assert true_country.notna().all()
    eu_members = {
        "DE",
        "NL",
        "FR",
        "ES",
        "BE",
        "PL",
        "IT",
        "SE",
        "AT",
        "CZ",
        "DK",
        "FI",
        "PT",
        "IE",
        "HU",
        "SK",
    }
    true_uk = float((true_country == "GB").mean())
    true_eu27 = float(true_country.isin(eu_members).mean())
    out = origin_entries(drugs, BOOT)
    uk, eu27 = out["uk_share_drug_listings"], out["eu27_share_drug_listings"]
    assert 0.03 < true_uk < 0.2  # the planted mix: 20% of EU vendors, EU 46% of vendors
    assert uk["ci_low"] <= true_uk <= uk["ci_high"]
    assert eu27["ci_low"] <= true_eu27 <= eu27["ci_high"]


def test_fentanyl_flags_of_many_titles_equal_one_at_a_time():
    """The Arrow pre-filter rules out only titles mentions_fentanyl says no to:
    obfuscated, accented, entity-encoded and spaced forms still reach the regexes."""
    from dnmarkets.models.composition import _mentions_fentanyl_many, mentions_fentanyl

    titles = [
        "Fentanyl 10mg",
        "FENT HCL",
        "no fentanyl here",
        "Durogesic patch 50",
        "ACTIQ lolly",
        "x &amp;fentanyl",
        "\uff46\uff45\uff4e\uff54\uff41\uff4e\uff59\uff4c",
        "fe\u200bntanyl",
        "Fentan\u00fdl",
        "heroin 1g",
        "",
        "abstral",
        "instanyl spray",
        "MDMA  crystal ",
        "fent\ttest strip",
    ]
    expected = [mentions_fentanyl(t) for t in titles]
    assert sum(expected) >= 6
    assert _mentions_fentanyl_many(titles).tolist() == expected
