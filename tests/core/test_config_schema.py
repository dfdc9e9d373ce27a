"""The configuration schema as the one source of defaults and allowed values."""

from __future__ import annotations

from pathlib import Path

import yaml

from dnmarkets.core.configcheck import schema_defaults
from dnmarkets.sim.config import SIMULATION
from dnmarkets.sources.reference import CLOSURES

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((ROOT / "schemas/config.schema.yaml").read_text())


def test_closure_types_are_the_registry_s():
    """The registry's closure types and the config's are one list."""
    assert tuple(SCHEMA["$defs"]["closure"]["enum"]) == CLOSURES


def test_default_config_sets_what_the_schema_defaults_to():
    """config.yaml and the schema's defaults agree where config.yaml repeats a value
    (a default changed in one place only would make direct calls and runs differ)."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    sim = config["datasets"]["sim2017"]["simulation"]
    defaults = schema_defaults(SIMULATION)
    assert defaults, "the schema gives the simulation no defaults"
    for key, value in defaults.items():
        if key in sim and not isinstance(value, dict):
            assert sim[key] == value, key
