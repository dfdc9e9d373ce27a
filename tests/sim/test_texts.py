"""The listings' fixed texts built per column (`dnmarkets.sim.texts.listing_texts`) equal,
listing for listing, the per-listing functions they are built from (the loop the
simulator ran before), on a simulated population with many hostile titles."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

import dnmarkets.sim.listings as listings_module
from dnmarkets.sim.config import parse_config
from dnmarkets.sim.draws import S_TEXT, stream
from dnmarkets.sim.listings import _categories, _products, make_listings
from dnmarkets.sim.population import make_spells, make_vendors
from dnmarkets.sim.texts import (
    KINDS,
    VOCABS,
    _dressed,
    _ships_from,
    _ships_to,
    _title,
    fmt_usd,
)
from dnmarkets.sim.timeline import closure_events, demand_multiplier, open_matrix

ROOT = Path(__file__).resolve().parents[2]


def reference_texts(cfg, v, lst, qty, name_i, dose) -> dict[str, list]:
    """The per-listing loop: one call of each text function per listing."""
    u = stream(cfg.seed, S_TEXT).random((lst.n, 12))
    out = {k: [] for k in ("title", "category", "ships_from", "ships_to", "usd_price")}
    for i in range(lst.n):
        ui, kname = u[i], KINDS[lst.kind[i]]
        m, uid = cfg.markets[int(lst.market[i])], int(lst.uid[i])
        sf = _ships_from(v, uid, ui)
        out["ships_from"].append(sf)
        out["ships_to"].append(_ships_to(v, uid, sf, ui))
        out["category"].append(VOCABS[m.style["vocab"]][kname])
        decimal_comma = m.price_style == "eur" and ui[9] < 0.3
        title = _title(kname, name_i[i], v.country[uid], float(qty[i]), dose[i], ui, decimal_comma)
        out["title"].append(_dressed(title, ui, m.style["escape"], lst.hostile[i]))
        out["usd_price"].append(fmt_usd(float(lst.price_usd[i]), bool(lst.alt_price[i])))
    return out


@pytest.mark.parametrize("seed", [20170705, 101])
def test_listing_texts_equal_the_per_listing_functions(seed, monkeypatch):
    sim = yaml.safe_load((ROOT / "config.yaml").read_text())["datasets"]["sim2017"]["simulation"]
    sim = copy.deepcopy(sim)
    sim.update(seed=seed, scale=0.6, start="2017-05-01", end="2017-09-30", hostile_title_share=0.05)
    cfg = parse_config(sim)
    events = closure_events(cfg)
    open_mat = open_matrix(cfg)
    vendors, home, second = make_vendors(cfg, demand_multiplier(cfg, events), open_mat)
    spells, _ = make_spells(cfg, vendors, home, second, events, open_mat)
    captured = {}

    def capture(*args):  # the inputs listing_texts gets
        captured["args"] = args
        return real(*args)

    real = listings_module.listing_texts
    monkeypatch.setattr(listings_module, "listing_texts", capture)
    lst = make_listings(cfg, vendors, spells)
    assert lst.n > 5000 and lst.hostile.sum() > 100
    expected = reference_texts(*captured["args"])
    in_blocks = real(*captured["args"], block=997)  # blocks of draws, as at large scales
    for name, values in expected.items():
        assert getattr(lst.texts, name).to_pylist() == values, name
        assert getattr(in_blocks, name).to_pylist() == values, name


def test_products_give_every_kind():
    rng = np.random.default_rng(3)
    p = {"non_drug_share": 0.33}
    cat, kind = _categories(rng, p, rng.integers(0, 8, size=20_000))
    qty, _, _, _ = _products(kind, *rng.random((3, kind.size)), np.ones(kind.size))
    assert set(kind.tolist()) == set(range(len(KINDS)))
    assert (qty > 0).all()
