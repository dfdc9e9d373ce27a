"""Partitions derived from config, and the summary catalogue's checks."""

import datetime as dt

import pytest

from dnmarkets.core.summary import build_summary
from dnmarkets.sources.partitions import months_between, parse_partition, simulated_partitions


def test_months_between_spans_year_end():
    assert months_between(dt.date(2017, 11, 30), dt.date(2018, 2, 1)) == [
        "2017-11",
        "2017-12",
        "2018-01",
        "2018-02",
    ]
    assert months_between(dt.date(2018, 1, 1), dt.date(2017, 1, 1)) == []


def test_simulated_partitions_respect_opening_and_takedown():
    cfg = {
        "start": "2017-01-01",
        "end": "2017-12-31",
        "markets": [
            {"slug": "alpha", "opened": "2014-01-01"},
            {"slug": "late", "opened": "2017-11-01"},
            {"slug": "scam", "opened": "2016-01-01", "closed": "2017-02-10"},
        ],
        "takedowns": [{"market": "alpha", "date": "2017-07-05"}],
    }
    parts = simulated_partitions(cfg)
    assert simulated_partitions(cfg, 6)[:2] == ["alpha__2017-01", "alpha__2017-07"]
    assert [p for p in parts if p.startswith("alpha")][-1] == "alpha__2017-07"
    assert [p for p in parts if p.startswith("late")] == ["late__2017-11", "late__2017-12"]
    assert [p for p in parts if p.startswith("scam")] == ["scam__2017-01", "scam__2017-02"]


def test_parse_partition_rejects_bad_names():
    assert parse_partition("dream__2017-07") == ("dream", "2017-07")
    with pytest.raises(ValueError, match="partition"):
        parse_partition("dream_2017-07")


def entry(value, low=None, high=None):
    return {"value": value, "ci_low": low, "ci_high": high, "unit": "share", "description": "d"}


def test_build_summary_prefixes_and_validates():
    cat = build_summary([("sim", "landscape", {"summary": {"x": entry(0.5, 0.4, 0.6)}})])
    assert list(cat) == ["sim.landscape.x"]
    with pytest.raises(ValueError, match="ci_low"):
        build_summary([("sim", "landscape", {"summary": {"x": entry(0.5, 0.7, 0.6)}})])
    with pytest.raises(ValueError, match="twice"):
        build_summary(
            [("s", "a", {"summary": {"x": entry(1)}}), ("s", "a", {"summary": {"x": entry(1)}})]
        )
    with pytest.raises(ValueError, match="missing"):
        build_summary([("s", "a", {"summary": {"x": {"value": 1}}})])
