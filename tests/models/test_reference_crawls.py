"""Reference tables (rates, market registry) and the crawl-completeness check."""

from __future__ import annotations

import datetime as dt
import gzip

import numpy as np
import pandas as pd
import pytest

from dnmarkets.models.crawls import crawl_summary, crawl_table
from dnmarkets.sources.reference import btc_usd_rates, read_registry


def test_rates_from_coinmetrics(tmp_path):
    path = tmp_path / "btc.csv.gz"
    path.write_bytes(
        gzip.compress(
            b"date,price(USD),txCount\n2014-12-31,320.5,1\n2015-01-01,314.2,2\n2015-01-02,,3\n"
        )
    )
    rates = btc_usd_rates(path)
    assert rates["date"].tolist() == ["2014-12-31", "2015-01-01"]  # no price: dropped
    assert rates["btc_usd"].tolist() == [320.5, 314.2]
    # the ECB rate of the day; 1 January (no rate published) takes 31 December's
    assert rates["eur_usd"].tolist() == [1.2141, 1.2141]


def test_real_rates_cover_the_real_crawls(mirror):
    rates = btc_usd_rates(mirror / "reference" / "bitcoin_coinmetrics.csv.gz")
    dates = set(rates["date"])
    for day in ("2014-01-01", "2014-11-05", "2015-07-07", "2017-07-15"):
        assert day in dates
    july = rates[rates["date"].str.startswith("2017-07")]["btc_usd"]
    assert 1800 < july.min() < july.max() < 3000  # the BTC price in July 2017


def test_registry_types_and_flags(mirror):
    reg = read_registry(mirror / "reference" / "dnm_survival_2019.csv")
    assert len(reg) == 88 and reg["market"].is_unique
    agora = reg.set_index("market").loc["Agora"]
    assert agora["start"] == dt.date(2013, 12, 3) and agora["closure"] == "voluntary"
    assert set(reg["closure"]) <= {"raided", "scam", "hacked", "voluntary", "unknown"}
    flagged = reg.set_index("market")["problem"]
    assert flagged["Hansa"].startswith("dates of a 2014 market")
    assert flagged["Tochka"] == "alive at the update (censored)"
    done = reg.dropna(subset=["start", "end"])
    assert (done["lifetime_days"] >= 0).all()


def test_registry_bad_date_names_row_and_field(tmp_path):
    path = tmp_path / "reg.csv"
    path.write_text(
        "market,start,end,alive,closure\nA,2014-01-01,2014-02-01,False,scam\nB,2014-13-45,,True,\n"
    )
    with pytest.raises(ValueError, match=r"row 2, field start"):
        read_registry(path)


def panel(seen, active):
    days = pd.date_range("2015-01-01", periods=len(seen)).date
    return pd.DataFrame(
        {"date": days, "crawled": True, "crawl_rows": seen, "active_listings": active}
    )


def test_crawl_check_ranks_crawls_like_the_reference():
    rng = np.random.default_rng(1)
    size = np.full(60, 1000)
    coverage = rng.uniform(0.05, 0.95, 60)
    seen = (size * coverage).astype(int)
    market_day = panel(seen, size)
    reference = pd.DataFrame({"date": market_day["date"], "count": size * 0.9})
    table = crawl_table(market_day, reference, None)
    summary = crawl_summary(table, 0.3, "Grams")
    assert summary["coverage_reference_spearman"]["value"] > 0.99
    assert summary["median_active_over_reference"]["value"] == pytest.approx(1 / 0.9)
    assert summary["crawls_with_reference"]["value"] == 60
    low = summary["seen_over_reference_low_coverage"]["value"]
    assert low < summary["median_seen_over_reference"]["value"]
