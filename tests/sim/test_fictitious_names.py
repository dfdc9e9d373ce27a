"""The simulated ecosystem names no real market: config, raw files, ground truth.

Simulated results must never read as real ones, and a simulated market named
after a real one (a table row "AlphaBay", a key `destination_share_dream`)
would. `real_market_names` is shared with the end-to-end check of the tiny
run's summary and clean tables (tests/workflow/test_workflow_e2e.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml
from conftest import real_market_names, strings_of

from dnmarkets.sim.simulate import simulate
from dnmarkets.sim.vocabularies import STYLES, VOCABS

ROOT = Path(__file__).resolve().parents[2]


def sim_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())["datasets"]["sim2017"]


def test_the_name_check_finds_real_names():
    assert real_market_names("destination_share_dream.bayonet") == ["dream"]
    assert real_market_names("x.wallstreet, Wall Street Market") == ["wall street", "wallstreet"]
    assert real_market_names("snapshots/alphabay/2017-07-01_listings.csv.gz") == ["alphabay"]
    assert real_market_names("daydream, hansard, agoraphobia, Harbor Market") == []


def test_default_simulated_markets_have_fictitious_names():
    spec = sim_config()
    sim = spec["simulation"]
    names = [str(v) for m in sim["markets"] for v in (m["slug"], m["name"], m.get("style"))]
    names += [str(v) for t in sim["takedowns"] for v in (t["market"], t.get("event"))]
    assert len(sim["markets"]) == 8
    found = {n: real_market_names(n) for n in [*names, spec["label"]]}
    assert not {n: f for n, f in found.items() if f}, found
    # the styles are named by their form, not by a market
    assert not [s for s in [*STYLES, *VOCABS] if real_market_names(s)]


def test_style_names_agree_between_schema_and_simulator():
    schema = yaml.safe_load((ROOT / "schemas/config.schema.yaml").read_text())
    assert schema["$defs"]["sim_market"]["properties"]["style"]["enum"] == list(STYLES)
    assert list(STYLES) == list(VOCABS)


def test_simulated_files_and_truth_name_no_real_market(tmp_path):
    sim = dict(sim_config()["simulation"], start="2017-06-01", end="2017-08-31", scale=0.05)
    simulate(sim, tmp_path)
    paths = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    assert any("/ashford/" in p for p in paths)  # the largest market's snapshots
    assert not [p for p in paths if real_market_names(p)]
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert "bayonet" in truth["events"]  # the planted event keeps the real event's name
    found = {s: real_market_names(s) for s in strings_of(truth)}
    assert not {s: f for s, f in found.items() if f}
    for table in ("markets.csv", "ground_truth_daily.csv.gz", "ground_truth_vendors.csv.gz"):
        frame = pd.read_csv(tmp_path / table, dtype=str, keep_default_na=False)
        markets = frame.filter(regex="market|name").stack().unique()
        assert len(markets) and not [m for m in markets if real_market_names(m)], table
