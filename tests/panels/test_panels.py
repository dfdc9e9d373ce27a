"""Panels: presence from first to last sighting, feedback-based sales, coverage."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from dnmarkets.panels.build import market_day_panel, sales_increments, vendor_market_panel


def sightings(rows):
    frame = pd.DataFrame(
        rows,
        columns=["market", "listing_id", "vendor_key", "crawl_date", "feedback_count", "price_usd"],
    )
    frame["crawl_date"] = pd.to_datetime(frame["crawl_date"]).dt.date
    frame["feedback_count"] = frame["feedback_count"].astype("Int64")
    frame["drug_category"] = "cocaine"
    frame["ships_from_region"] = "EU"
    return frame


@pytest.fixture
def listings():
    return sightings(
        [
            # listing a: seen day 1 and day 5 (missed in between), 10 -> 14 feedback at $50
            ("m1", "a", "v1", "2017-01-01", 10, 50.0),
            ("m1", "a", "v1", "2017-01-05", 14, 50.0),
            # listing b: seen day 3 only
            ("m1", "b", "v2", "2017-01-03", 0, 20.0),
            # feedback reset on listing c counts as zero sales, not negative
            ("m2", "c", "v1", "2017-01-02", 8, 10.0),
            ("m2", "c", "v1", "2017-01-04", 3, 10.0),
        ]
    )


def test_listing_alive_between_first_and_last_sighting(listings):
    panel = market_day_panel(listings, "t").set_index(["market", "date"])
    m1 = panel.loc["m1"]["active_listings"]
    assert m1.tolist() == [1, 1, 2, 1, 1]  # b only on day 3, a from day 1 to 5
    assert panel.loc["m1"]["active_vendors"].tolist() == [1, 1, 2, 1, 1]


def test_sales_spread_over_days_between_sightings(listings):
    panel = market_day_panel(listings, "t").set_index(["market", "date"])
    sales = panel.loc["m1"]["est_sales_usd"].to_numpy()
    # 4 feedback x $50 = $200 spread over days 2..5
    np.testing.assert_allclose(sales, [0, 50, 50, 50, 50])
    assert panel.loc["m2"]["est_sales_usd"].sum() == 0  # reset is not negative sales


def test_sales_increments_ignore_falls(listings):
    inc = sales_increments(listings)
    assert inc["sales_usd"].tolist() == [200.0]


def test_coverage_on_crawl_days(listings):
    panel = market_day_panel(listings, "t").set_index(["market", "date"])
    day3 = panel.loc[("m1", dt.date(2017, 1, 3))]
    assert bool(day3["crawled"]) and day3["crawl_rows"] == 1
    assert day3["coverage"] == pytest.approx(0.5)  # a alive but missed, b seen
    assert np.isnan(panel.loc[("m1", dt.date(2017, 1, 2))]["coverage"])


def test_vendor_market_panel(listings):
    vm = vendor_market_panel(listings, "t").set_index(["vendor_key", "market"])
    assert vm.loc[("v1", "m1"), "est_sales_usd"] == pytest.approx(200.0)
    assert vm.loc[("v1", "m2"), "est_sales_usd"] == 0
    assert vm.loc[("v1", "m1"), "first_seen"] == dt.date(2017, 1, 1)
    assert vm.loc[("v1", "m1"), "last_seen"] == dt.date(2017, 1, 5)
    assert len(vm) == 3


def test_observed_window_is_first_to_last_crawl_of_each_market(listings):
    panel = market_day_panel(listings, "t").set_index(["market", "date"])
    # m1 is crawled on days 1, 3 and 5; m2 on days 2 and 4 only
    assert panel.loc["m1"]["observed"].tolist() == [True] * 5
    assert panel.loc["m2"]["observed"].tolist() == [False, True, True, True, False]


def test_new_listing_feedback_counts_since_the_previous_crawl():
    frame = sightings(
        [
            ("m1", "a", "v1", "2017-01-01", 10, 50.0),  # on the first crawl: age unknown
            ("m1", "a", "v1", "2017-01-03", 12, 50.0),
            ("m1", "n", "v2", "2017-01-03", 3, 20.0),  # new: 3 feedback since day 1's crawl
        ]
    )
    inc = sales_increments(frame).set_index("listing_id")
    assert inc.loc["n", "sales_usd"] == pytest.approx(60.0)
    assert inc.loc["n", "from_date"] == dt.date(2017, 1, 1)
    panel = market_day_panel(frame, "t")
    # a: 2 x $50 over days 2..3; n: 3 x $20 over days 2..3; nothing for a's first 10
    np.testing.assert_allclose(panel["est_sales_usd"], [0, 80, 80])
    vm = vendor_market_panel(frame, "t").set_index("vendor_key")
    assert vm.loc["v2", "est_sales_usd"] == pytest.approx(60.0)
    assert vm.loc["v1", "est_sales_usd"] == pytest.approx(100.0)
