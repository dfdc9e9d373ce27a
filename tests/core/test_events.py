"""Events as each dataset has them (dnmarkets.core.events): in simulated data the event's
closed markets are the fictitious markets of the takedowns that play it."""

from __future__ import annotations

from pathlib import Path

import yaml

from dnmarkets.core.events import dataset_events, planted_closures

ROOT = Path(__file__).resolve().parents[2]


def test_simulated_dataset_closes_its_own_markets_and_real_ones_keep_the_configured():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    events, datasets = config["events"], config["datasets"]
    sim = dataset_events(events, "sim2017", datasets["sim2017"])
    assert list(sim) == ["bayonet"]
    assert sim["bayonet"]["markets_closed"] == ["ashford", "harbor"]
    assert events["bayonet"]["markets_closed"] == ["alphabay", "hansa"]  # config untouched
    assert sim["bayonet"]["date"] == events["bayonet"]["date"]
    real = dataset_events(events, "agora2014", datasets["agora2014"])
    assert real == {name: events[name] for name in ("evolution", "onymous")}


def test_takedowns_without_an_event_play_none():
    spec = {
        "kind": "simulated",
        "simulation": {
            "takedowns": [
                {"market": "a", "event": "x"},
                {"market": "b"},
                {"market": "c", "event": "x"},
            ]
        },
    }
    assert planted_closures(spec) == {"x": ["a", "c"]}
    events = {"x": {"datasets": ["s"], "markets_closed": ["real"]}, "y": {"datasets": ["s"]}}
    assert dataset_events(events, "s", spec) == {
        "x": {"datasets": ["s"], "markets_closed": ["a", "c"]},
        "y": {"datasets": ["s"], "markets_closed": []},
    }
