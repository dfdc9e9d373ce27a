"""Simulated aliases as the pipeline keys them (dnmarkets.clean.text.vendor_key): two
vendors never share a key, so the clean tables' accounts are the truth's vendors; a
vendor's variants on another market may share its own key (what the key links)."""

from __future__ import annotations

import copy
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import yaml

from dnmarkets.clean.text import vendor_key
from dnmarkets.sim.config import parse_config
from dnmarkets.sim.population import make_spells, make_vendors
from dnmarkets.sim.texts import AliasMaker
from dnmarkets.sim.timeline import closure_events, demand_multiplier, open_matrix

ROOT = Path(__file__).resolve().parents[2]


def spells_at(scale: float, seed: int):
    sim = yaml.safe_load((ROOT / "config.yaml").read_text())["datasets"]["sim2017"]["simulation"]
    sim = copy.deepcopy(sim)
    sim.update(seed=seed, scale=scale)
    cfg = parse_config(sim)
    events = closure_events(cfg)
    open_mat = open_matrix(cfg)
    vendors, home, second = make_vendors(cfg, demand_multiplier(cfg, events), open_mat)
    spells, _ = make_spells(cfg, vendors, home, second, events, open_mat)
    return spells


@pytest.mark.parametrize(("scale", "seed"), [(1, 20170705), (3, 7)])
def test_no_two_vendors_share_a_key_and_variants_keep_theirs(scale, seed):
    spells = spells_at(scale, seed)
    owners = defaultdict(set)
    for uid, alias in zip(spells.uid, spells.alias, strict=True):
        owners[vendor_key(alias)].add(uid)
    shared = {key: uids for key, uids in owners.items() if len(uids) > 1}
    assert not shared, f"{len(shared)} keys held by two vendors, e.g. {next(iter(shared))}"
    # some variants link by key to the alias they came from (DrWhite -> DrWhite2)
    kinds = np.array(spells.alias_kind, dtype=object)
    by_uid = defaultdict(set)
    for uid, alias in zip(spells.uid, spells.alias, strict=True):
        by_uid[uid].add(vendor_key(alias))
    variants = {spells.uid[i] for i in np.flatnonzero(kinds == "variant")}
    assert variants
    assert any(len(by_uid[uid]) == 1 for uid in variants)


def test_new_aliases_stay_apart_when_the_combinations_run_out():
    maker, rng = AliasMaker(), np.random.default_rng(3)
    aliases = [maker.new(rng) for _ in range(60_000)]  # more than the word combinations
    keys = [vendor_key(a) for a in aliases]
    assert len(set(keys)) == len(keys)
