"""Landscape shares: clustered bootstrap against a planted truth and the delta method."""

import numpy as np
import pandas as pd
import pytest

from dnmarkets.models.intervals import cluster_bootstrap_ratio
from dnmarkets.models.landscape import distinct_listings


def clustered_sample(rng, n_vendors=400, true_share=0.46):
    """Vendors with 1-20 listings each; all listings of a vendor share an origin."""
    sizes = rng.integers(1, 21, n_vendors)
    eu = rng.random(n_vendors) < true_share
    return eu * sizes, sizes.astype(float)


def test_interval_covers_planted_share_at_nominal_rate():
    # The population share is that of the vendor-size-weighted superpopulation:
    # sizes are independent of origin, so the listing share's expectation is true_share.
    rng = np.random.default_rng(7)
    hits = 0
    runs = 60
    for seed in range(runs):
        num, den = clustered_sample(rng)
        est, low, high = cluster_bootstrap_ratio(num, den, replicates=400, seed=seed)
        hits += low <= 0.46 <= high
    # 95% nominal; with 60 runs a correct interval covers at least 51 times with
    # probability > 0.99 (binomial), a naive listing-level interval would not.
    assert hits >= 51


def test_bootstrap_matches_delta_method_standard_error():
    rng = np.random.default_rng(3)
    num, den = clustered_sample(rng, n_vendors=800)
    est, low, high = cluster_bootstrap_ratio(num, den, replicates=2000, seed=1)
    ratio = num.sum() / den.sum()
    c = len(num)
    # cluster-robust linearisation (an independent computation of the same SE)
    resid = num - ratio * den
    se_delta = np.sqrt(c / (c - 1) * np.sum(resid**2)) / den.sum()
    se_boot = (high - low) / (2 * 1.959964)
    assert est == pytest.approx(ratio)
    assert se_boot == pytest.approx(se_delta, rel=0.15)


def test_bootstrap_is_deterministic_for_a_seed():
    rng = np.random.default_rng(0)
    num, den = clustered_sample(rng)
    assert cluster_bootstrap_ratio(num, den, 200, 5) == cluster_bootstrap_ratio(num, den, 200, 5)


def test_distinct_listings_counts_each_listing_once_with_its_sales():
    rows = pd.DataFrame(
        {
            "market": ["m", "m", "m"],
            "listing_id": ["a", "a", "b"],
            "crawl_date": pd.to_datetime(["2017-01-01", "2017-01-04", "2017-01-02"]).date,
            "vendor_key": ["v", "v", "w"],
            "is_drug": [True, True, False],
            "drug_category": ["cocaine", "cocaine", "non_drug"],
            "ships_from": ["DE", "DE", "US"],
            "ships_from_region": ["EU", "EU", "North America"],
            "ships_from_eu": pd.array([True, True, False], dtype="boolean"),
            "feedback_count": pd.array([2, 5, 1], dtype="Int64"),
            "price_usd": [10.0, 10.0, 3.0],
            "ships_from_raw": ["Germany", "Germany", "USA"],
            "title": ["Coke 1g", "Coke 1g", "Fake ID"],
            "category_raw": ["Drugs/Cocaine", "Drugs/Cocaine", "Fraud"],
        }
    )
    items = distinct_listings(rows).set_index("listing_id")
    assert len(items) == 2
    assert items.loc["a", "est_sales_usd"] == pytest.approx(30.0)
    # b is new (first seen after the market's first crawl): its 1 feedback is a sale
    assert items.loc["b", "est_sales_usd"] == pytest.approx(3.0)


def test_validation_quotes_the_simulator_settings_and_flags_a_missed_truth():
    from dnmarkets.models.validation import landscape_validation

    truth = {
        "config": {"eu_vendor_share": 0.4, "non_drug_share": 0.25},
        "supply": {
            "drug_share_listings": 0.7,
            "eu_share_drug_listings": 0.5,
            "eu_share_drug_sales_usd": 0.9,
        },
    }

    def est(value, low, high):
        return {"value": value, "ci_low": low, "ci_high": high, "unit": "share"}

    landscape = {
        "summary": {
            "drug_share_listings": est(0.69, 0.65, 0.72),
            "eu_share_drug_listings": est(0.52, 0.48, 0.55),
            "eu_share_drug_sales": est(0.5, 0.45, 0.55),  # misses the planted 0.9
        }
    }
    out = landscape_validation(landscape, truth)["summary"]
    assert out["planted_eu_vendor_share"]["value"] == 0.4
    assert out["planted_non_drug_share"]["value"] == 0.25
    assert out["landscape_checks_covered"]["value"] == 2
    assert out["landscape_checks"]["value"] == 3


def test_the_leading_region_is_counted_among_listings_that_name_a_region():
    from dnmarkets.models.landscape import _leading_region_entries

    regions = ["North America"] * 5 + ["EU"] * 4 + ["Unknown"] * 6 + ["Worldwide"] * 2
    drugs = pd.DataFrame(
        {"ships_from_region": regions, "vendor_key": [f"v{i}" for i in range(len(regions))]}
    )
    out = _leading_region_entries(drugs, {"replicates": 200, "seed": 1, "level": 0.95})
    assert out["leading_region"]["value"] == "North America"  # not "Unknown"
    assert out["named_region_drug_listings"]["value"] == 9
    share = out["leading_region_share_drug_listings"]
    assert share["value"] == pytest.approx(5 / 9)
    assert share["ci_low"] < 5 / 9 < share["ci_high"]
    assert _leading_region_entries(drugs[drugs["ships_from_region"] == "Unknown"], {}) == {}


def test_shares_over_the_same_vendors_equal_one_call_each():
    """shares_by_vendor (one set of draws for every pair) gives each pair exactly
    what share_by_vendor gives it: counts and non-integer sales, vendors sorted or not."""
    from dnmarkets.models.intervals import share_by_vendor, shares_by_vendor

    rng = np.random.default_rng(2)
    boot = {"replicates": 150, "seed": 9, "level": 0.95}
    for case in range(4):
        n = 2000
        keys = np.array([f"v{x:04d}" for x in rng.integers(0, 300, n)], dtype=object)
        frame = pd.DataFrame({"vendor_key": np.sort(keys) if case % 2 else keys})
        frame.loc[rng.random(n) < 0.02, "vendor_key"] = None
        one = pd.Series(1.0, index=frame.index)
        sales = pd.Series(rng.lognormal(4, 2, n) * (rng.random(n) < 0.7), index=frame.index)
        flags = [pd.Series(rng.random(n) < p, index=frame.index) for p in (0.1, 0.5, 0.0)]
        pairs = [(flag, weight) for flag in flags for weight in (one, sales)]
        got = shares_by_vendor(frame, pairs, boot)
        expected = [share_by_vendor(frame, flag, weight, boot) for flag, weight in pairs]
        assert np.array_equal(got, expected, equal_nan=True)
