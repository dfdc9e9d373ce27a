"""Supply by country and prices: shares, vendors per million, price per gram and a
planted quantity discount recovered; the stored coverage study turned into entries."""

from __future__ import annotations

from datetime import date as dt_date

import numpy as np
import pandas as pd
import pytest
from conftest import listings_frame

from dnmarkets.models.interval_coverage import coverage_entries
from dnmarkets.models.landscape import distinct_listings
from dnmarkets.models.supply import eu_population, supply_estimates

ANALYSIS = {"bootstrap_replicates": 200, "seed": 1, "confidence_level": 0.95}
ECB_2017_03_01 = 1.0533  # USD per EUR, the ECB file's rate of the day


def listings(n_vendors=120, seed=0, elasticity=0.8):
    """Vendors in DE (half), NL (a third) or US; cocaine at USD 60 x q^elasticity."""
    rng = np.random.default_rng(seed)
    rows = []
    for v in range(n_vendors):
        country = ["DE", "DE", "DE", "NL", "NL", "US"][v % 6]
        for j in range(5):
            q = float(rng.choice([0.5, 1, 3.5, 7, 28]))
            price = 60 * q**elasticity * np.exp(rng.normal(0, 0.1))
            rows.append(
                {
                    "market": "m",
                    "listing_id": f"{v}-{j}",
                    "crawl_date": pd.Timestamp("2017-03-01").date(),
                    "vendor_key": f"v{v}",
                    "is_drug": True,
                    "drug_category": "cocaine",
                    "ships_from": country,
                    "ships_from_region": "EU" if country != "US" else "North America",
                    "ships_from_eu": country != "US",
                    "feedback_count": pd.NA,
                    "price_usd": price,
                    "price_eur": price / ECB_2017_03_01,
                    "currency": "USD",
                    "price_amount": price,
                    "quantity": q,
                    "quantity_unit": "g",
                    "ships_from_raw": country,
                    "title": f"Cocaine {q}g",
                    "category_raw": "Drugs/Cocaine",
                }
            )
    return listings_frame(rows)


def test_leading_countries_per_million_and_planted_discount():
    frame = listings()
    result = supply_estimates(frame, distinct_listings(frame), ANALYSIS)
    s, t = result["summary"], result["tables"]
    first = s["eu_country_1_share"]
    assert first["ci_low"] < 0.6 < first["ci_high"]  # DE: 3 of 5 EU vendors
    assert t["eu_countries"][0]["country"] == "DE"
    per_million = {r["country"]: r["per_million"] for r in t["vendors_per_million"]}
    assert per_million["NL"] == pytest.approx(40 / eu_population()["NL"])
    slope = s["quantity_elasticity_cocaine"]
    assert slope["ci_low"] < 0.8 < slope["ci_high"]
    per_gram = s["usd_per_gram_cocaine"]
    prices = frame["price_usd"] / frame["quantity"]
    assert per_gram["value"] == pytest.approx(float(np.median(prices)))
    eur = s["eur_per_gram_cocaine"]
    assert eur["unit"] == "eur" and eur["ci_low"] < eur["value"] < eur["ci_high"]
    assert eur["value"] == pytest.approx(float(np.median(prices)) / ECB_2017_03_01)
    cells = {(c["category"], c["region"]): c for c in t["price_per_gram"]}
    assert cells["cocaine", "EU"]["eur_low"] < cells["cocaine", "EU"]["median_eur_per_gram"]
    assert not any(k.endswith(("_rate_low", "_rate_high")) for k in s)  # day known


def test_origin_counts_tell_no_stated_origin_from_none_in_the_eu():
    frame = listings(n_vendors=12)
    counts = supply_estimates(frame, distinct_listings(frame), ANALYSIS)["tables"]["origin_counts"]
    # 12 vendors x 5 listings; 2 vendors in 6 ship from the US
    assert counts == [{"drug_listings": 60, "known_origin": 60, "eu_origin": 50}]
    blank = frame.assign(
        ships_from=pd.Series([pd.NA] * len(frame), dtype="str"),
        ships_from_region=pd.Series([pd.NA] * len(frame), dtype="str"),
        ships_from_eu=pd.Series([pd.NA] * len(frame), dtype="boolean"),
        ships_from_raw="",
    )
    result = supply_estimates(blank, distinct_listings(blank), ANALYSIS)
    assert result["tables"]["origin_counts"] == [
        {"drug_listings": 60, "known_origin": 0, "eu_origin": 0}
    ]
    assert result["tables"]["eu_countries"] == []


def test_rate_range_recomputes_the_median_on_each_possible_day():
    frame = listings()
    btc = frame["price_usd"] / 2000.0  # listed in BTC
    frame = frame.assign(currency="BTC", price_amount=btc)
    days = ["2017-07-14", "2017-07-15", "2017-07-17"]  # Fri, Sat (Friday's ECB), Mon
    rates = pd.DataFrame({"date": days, "btc_usd": [2000.0, 2500.0, 1900.0], "eur_usd": 1.1})
    s = supply_estimates(frame, distinct_listings(frame), ANALYSIS, price_days=(rates, days))[
        "summary"
    ]
    per_gram = float(np.median(btc / frame["quantity"]))
    # the ECB file's rates: 14 July 1.1415 (also for the 15th), 17 July 1.1462
    eur_per_btc = [2000.0 / 1.1415, 2500.0 / 1.1415, 1900.0 / 1.1462]
    low, high = s["eur_per_gram_cocaine_rate_low"], s["eur_per_gram_cocaine_rate_high"]
    assert low["value"] == pytest.approx(per_gram * min(eur_per_btc))
    assert high["value"] == pytest.approx(per_gram * max(eur_per_btc))
    assert low["ci_low"] is None and "not a confidence bound" in low["description"]
    with pytest.raises(ValueError, match="no exchange rate for cocaine prices on 2017-07-30"):
        supply_estimates(
            frame, distinct_listings(frame), ANALYSIS, price_days=(rates, ["2017-07-30"])
        )


def test_no_discount_is_a_slope_of_one():
    frame = listings(seed=2, elasticity=1.0)
    s = supply_estimates(frame, distinct_listings(frame), ANALYSIS)["summary"]
    assert (
        s["quantity_elasticity_cocaine"]["ci_low"]
        < 1.0
        < s["quantity_elasticity_cocaine"]["ci_high"]
    )


def test_population_table_is_the_28_members_of_2015():
    population = eu_population()
    assert len(population) == 28 and population["DE"] > 80 and population["MT"] < 1
    # Eurostat news release 124/2015 (first estimates, 1 January 2015): EU 508.2 million
    # (508.3 after revision, news release of July 2016); the four largest members
    assert 508.0 <= float(population.sum()) <= 508.6
    published = {"DE": 81.2, "FR": 66.4, "GB": 64.8, "IT": 60.8}
    for country, millions in published.items():
        assert abs(population[country] - millions) <= 0.1, country


def test_coverage_entries_from_a_stored_study():
    study = {
        "settings": {},
        "summary": [
            {
                "measure": "listings",
                "horizon_days": 0,
                "n": 40,
                "coverage": 0.6,
                "wilson_low": 0.45,
                "wilson_high": 0.74,
                "bias": 0.7,
                "bias_se": 0.6,
                "rmse": 4.0,
                "mean_width": 6.9,
            },
        ],
    }
    other = {**study["summary"][0], "measure": "listings (segmented)", "coverage": 0.8}
    entries = coverage_entries({**study, "summary_alternative": [other]})
    assert entries["coverage_segmented_listings_0d"]["value"] == 0.8
    assert entries["width_segmented_listings_0d"]["value"] == 6.9
    entries = coverage_entries(study)
    assert entries["seeds"]["value"] == 40
    assert entries["coverage_listings_0d"]["ci_low"] == 0.45
    assert entries["bias_listings_0d"]["ci_low"] == pytest.approx(0.7 - 1.96 * 0.6)
    assert "wall_minutes" not in entries  # a study stored without timings
    timed = coverage_entries({**study, "timing": {"wall_seconds": 1089.0}})
    assert timed["wall_minutes"]["value"] == 18


def test_title_parser_checked_against_a_grams_column():
    """Listings with stated grams (Dream): the parser's hit rate and agreement on them."""
    frame = listings(n_vendors=12)
    frame["quantity_source"] = "column"
    frame["title"] = [
        f"{q:g}g cocaine" if i % 4 else "cocaine, ask for sizes"
        for i, q in enumerate(frame["quantity"])
    ]
    frame.loc[frame.index[1], "title"] = "999g cocaine"  # a title that disagrees
    s = supply_estimates(frame, distinct_listings(frame), ANALYSIS)["summary"]
    n = len(frame)
    assert s["quantity_column_listings"]["value"] == n
    read = n - len(range(0, n, 4))
    assert s["title_parser_hit_share"]["value"] == pytest.approx(read / n)
    assert s["title_parser_agreement_share"]["value"] == pytest.approx((read - 1) / read)
    agreement = s["title_parser_agreement_share"]
    assert agreement["ci_low"] < (read - 1) / read < agreement["ci_high"]


@pytest.mark.parametrize("category_effects", [False, True])
def test_log_price_fit_is_the_formula_fit(category_effects):
    """The hand-built design matrix gives statsmodels' formula (patsy) fit exactly."""
    import statsmodels.formula.api as smf

    from dnmarkets.models.supply import _log_price_fit

    rng = np.random.default_rng(3)
    n = 3000
    category = rng.choice(["stimulants", "cannabis", "opioids", "ecstasy"], n)
    effect = pd.Series({"stimulants": 1.0, "cannabis": -0.5, "opioids": 0.7, "ecstasy": 0.0})
    q = np.exp(rng.normal(0, 1, n))
    price = 50 * q**0.8 * np.exp(effect[category].to_numpy() + rng.normal(0, 0.3, n))
    part = pd.DataFrame(
        {
            "drug_category": pd.array(category, dtype="str"),
            "quantity": q,
            "price_usd": price,
            "vendor_key": pd.array([f"v{i}" for i in rng.integers(0, 90, n)], dtype="str"),
        },
        index=rng.permutation(n) + 7,  # an index of a filtered frame
    )
    formula = "log_price ~ log_q" + (" + C(drug_category)" if category_effects else "")
    frame = pd.DataFrame(
        {
            "log_price": np.log(part["price_usd"]),
            "log_q": np.log(part["quantity"]),
            "vendor": pd.factorize(part["vendor_key"])[0],
            "drug_category": part["drug_category"],
        }
    )
    fit = smf.ols(formula, frame).fit(cov_type="cluster", cov_kwds={"groups": frame["vendor"]})
    low, high = fit.conf_int(alpha=0.05).loc["log_q"]
    expected = (float(fit.params["log_q"]), float(low), float(high))
    assert _log_price_fit(part, 0.95, category_effects=category_effects) == expected
    assert abs(expected[0] - 0.8) < 0.05  # and the planted slope is found


def test_half_years_of_dates():
    from dnmarkets.models.supply import _half_years

    dates = pd.Series(
        [dt_date(2017, 6, 30), dt_date(2017, 7, 1), dt_date(2016, 1, 1), dt_date(2017, 6, 30)],
        index=[5, 3, 9, 1],
    )
    assert _half_years(dates).to_dict() == {5: "2017-H1", 3: "2017-H2", 9: "2016-H1", 1: "2017-H1"}


def test_median_interval_equals_a_loop_over_replicates():
    """_median_ci's medians read off draw counts are those of concatenating each
    replicate's drawn vendors (the same draws), NaN values and ties included."""
    from dnmarkets.models.supply import _median_ci

    rng = np.random.default_rng(5)
    for case in range(12):
        n = int(rng.integers(1, 3000))
        values = np.round(rng.lognormal(3, 1, n), case % 3)
        if case == 4:
            values[rng.integers(0, n)] = np.nan
        clusters = rng.integers(0, max(1, n // (1 + case)), n).astype(str)
        codes, index = np.unique(clusters, return_inverse=True)
        groups = [values[index == g] for g in range(len(codes))]
        draws = np.random.default_rng(case)
        picks = [draws.integers(0, len(groups), len(groups)) for _ in range(60)]
        stats = [np.median(np.concatenate([groups[i] for i in pick])) for pick in picks]
        expected = (np.median(values), *np.quantile(stats, [0.05, 0.95]))
        got = _median_ci(values, clusters, 60, case, 0.9)
        assert np.array_equal(got, expected, equal_nan=True)
