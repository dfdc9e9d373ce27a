"""The reproducibility appendix's configuration tables (provenance.config_overview)."""

from __future__ import annotations

from pathlib import Path

import yaml

from dnmarkets.core.provenance import config_overview, flat_settings

ROOT = Path(__file__).resolve().parents[2]


def test_flat_settings_joins_keys_and_names_what_does_not_fit():
    rows = flat_settings(
        "analysis",
        {
            "seed": 1,
            "resilience": {"horizons": [0, 30], "draws": {"main": 200}},
            "x": None,
            "markets": [{"slug": "a"}, {"slug": "b"}],
            "long": "y" * 61,
        },
        depth=3,
    )
    values = {r["Setting"]: r["Value"] for r in rows}
    assert values == {
        "seed": "1",
        "resilience.horizons": "0, 30",
        "resilience.draws.main": "200",
        "x": "",
        "markets": "(2 entries, in config.yaml)",
        "long": "(61 characters, in config.yaml)",
    }
    assert {r["Section"] for r in rows} == {"analysis"}


def test_flat_settings_stops_at_the_depth():
    rows = flat_settings("s", {"a": {"b": {"c": 1, "d": 2}}}, depth=2)
    assert rows == [{"Section": "s", "Setting": "a.b", "Value": "(2 entries, in config.yaml)"}]


def test_overview_of_the_project_config_shows_every_analysis_setting():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    tables = config_overview(config)
    assert list(tables["datasets"]["Dataset"]) == list(config["datasets"])
    assert set(tables["events"]["Event"]) == {e["label"] for e in config["events"].values()}
    settings = tables["settings"]
    shown = set(settings.loc[settings["Section"] == "analysis", "Setting"])
    for key, value in config["analysis"]["resilience"].items():
        if not isinstance(value, dict):
            assert f"resilience.{key}" in shown
    # the planted simulation values are there, the market list (Table 1) is not
    sim = settings[settings["Section"] == "sim2017 simulation"].set_index("Setting")["Value"]
    assert sim["seed"] == str(config["datasets"]["sim2017"]["simulation"]["seed"])
    assert "markets" not in sim.index
    # a short appendix: no cell runs past a table column
    assert settings["Value"].str.len().max() <= 60
