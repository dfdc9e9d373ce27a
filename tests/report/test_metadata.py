"""The report metadata derived from the summary (dnmarkets.report.metadata)."""

from __future__ import annotations

from dnmarkets.report.metadata import (
    agreement_flags,
    buffer_days,
    data_period,
    every_measure_agrees,
    section_flags,
    title_block,
)


def test_the_data_period_spans_the_crawls_of_the_named_datasets():
    day = lambda d: {"value": d, "unit": "date"}  # noqa: E731
    summary = {
        "a.landscape.first_crawl_day": day("2014-01-01"),
        "a.landscape.last_crawl_day": day("2015-07-07"),
        "b.landscape.first_crawl_day": day("2017-07-15"),
        "b.landscape.last_crawl_day": day("2017-07-15"),
        "sim.landscape.first_crawl_day": day("2017-01-01"),
    }
    assert data_period(summary, ["a", "b"]) == "2014–2017"
    assert data_period(summary, ["b"]) == "2017"
    assert data_period(summary, ["series_only"]) is None


def test_the_title_carries_the_period_and_a_simulated_edition_says_so():
    summary = {
        "s.landscape.first_crawl_day": {"value": "2017-01-01"},
        "s.landscape.last_crawl_day": {"value": "2018-06-30"},
    }
    report = {"title": "T", "subtitle": "S", "author": "A"}
    assert title_block(report, summary, ["s"], real=False) == {
        "title": "T (2017–2018)",
        "subtitle": "S: simulated data only",
        "author": "A",
    }
    assert title_block(report, summary, ["real_only"], real=True) == report


def test_section_flags_name_dataset_and_event_of_each_quantity_present():
    summary = {
        "a.resilience.listings_change_pct_0d.onymous": {},
        "a.resilience.listings_change_pct_0d_hac.onymous": {},  # a variant, not the quantity
        "b.migration_external.newcomers_from_closed_excess.evolution": {},
        "b.landscape.drug_share_listings": {},
    }
    flags = section_flags(summary)
    assert flags["fitted"] == {"a": {"onymous": True}}
    assert flags["newcomers"] == {"b": {"evolution": True}}
    assert flags["placebo"] == {}


def test_agreement_flags_follow_the_signs_of_the_model_families_and_the_90_day_interval():
    entry = lambda v, lo=None, hi=None: {"value": v, "ci_low": lo, "ci_high": hi}  # noqa: E731
    summary = {
        "a.resilience.vendors_change_pct_0d.onymous": entry(1.7),
        "a.resilience.vendors_change_pct_0d_segmented.onymous": entry(6.3),
        "a.resilience.vendors_change_pct_0d_hac.onymous": entry(-8.5),
        "a.resilience.vendors_change_pct_90d.onymous": entry(-4.7, -14.6, 6.4),
        "a.resilience.vendors_change_pct_0d.evolution": entry(6.4),
        "a.resilience.vendors_change_pct_0d_poisson.evolution": entry(7.5),
        "a.resilience.vendors_change_pct_week1_arima.evolution": entry(3.9),
        "a.resilience.vendors_change_pct_90d.evolution": entry(9.0, 2.0, 16.0),
        "b.resilience.vendors_change_pct_0d.onymous": entry(1.0),  # one family only
    }
    flags = agreement_flags(summary)
    assert flags["signs_agree"] == {"a": {"onymous": False, "evolution": True}}
    assert flags["lasting"] == {"a": {"onymous": False, "evolution": True}}


def test_buffer_days_follow_the_configuration_per_measure_and_side():
    resilience = {
        "transition_buffer_days": 14,
        "measure_transition_buffer_days": {"listings": {"after": 21}, "sales": 7},
    }
    assert buffer_days(resilience) == {
        "listings": {"before": "14 days", "after": "21 days"},
        "vendors": {"before": "14 days", "after": "14 days"},
        "sales": {"before": "7 days", "after": "7 days"},
    }


def test_every_measure_agrees_only_when_each_measure_s_families_share_a_sign():
    entry = lambda v: {"value": v}  # noqa: E731
    summary = {
        "s.resilience.listings_change_pct_0d.e": entry(-30.0),
        "s.resilience.listings_change_pct_0d_hac.e": entry(-28.0),
        "s.resilience.vendors_change_pct_0d.e": entry(-20.0),
        "s.resilience.vendors_change_pct_week1_arima.e": entry(-19.0),
        "s.resilience.listings_change_pct_0d.f": entry(-30.0),
        "s.resilience.listings_change_pct_0d_hac.f": entry(-28.0),
        "s.resilience.sales_change_pct_0d.f": entry(-5.0),
        "s.resilience.sales_change_pct_0d_hac.f": entry(2.0),
    }
    assert every_measure_agrees(summary) == {"s": {"e": True, "f": False}}
