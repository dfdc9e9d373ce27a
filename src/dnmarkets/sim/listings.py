"""Listings: renewal sequences of listings in every vendor spell's slots, with
category, product, quantity, price and the initial feedback count."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dnmarkets.sim import columns as C
from dnmarkets.sim.config import FIXED, SimConfig
from dnmarkets.sim.draws import S_LISTINGS, pick, pick_u_many, stream
from dnmarkets.sim.population import Spells, Vendors
from dnmarkets.sim.texts import ListingTexts, listing_texts
from dnmarkets.sim.vocabularies import (
    CATALOG,
    CATEGORIES,
    COUNTRY_PRICE,
    DRUG_CATEGORY_MIX,
    KIND_MIX,
    KINDS,
)


@dataclass
class Listings:
    n: int
    spell: np.ndarray
    uid: np.ndarray
    market: np.ndarray
    start: np.ndarray
    end: np.ndarray
    kind: np.ndarray
    cat: np.ndarray
    price_usd: np.ndarray
    fb0: np.ndarray
    rate: np.ndarray
    listing_id: pa.Array
    alt_price: np.ndarray
    hostile: np.ndarray
    texts: ListingTexts | None = None  # filled in by `listing_texts`


def _spans(rng: np.random.Generator, p: dict, sp: Spells) -> tuple[np.ndarray, ...]:
    """Listing (spell, start, end, renewal round, market), ordered by market, start, spell.

    Each spell keeps about ``listings_per_vendor`` slots; a slot is a sequence of
    listings with exponential lifetimes until the spell's last day.
    """
    n_sp = len(sp)
    s_first = np.array(sp.first, dtype=np.int64)
    s_last = np.array(sp.last, dtype=np.int64)
    lpv = p["listings_per_vendor"]
    k = (
        1 + rng.poisson(max(lpv - 1.0, 0.0), size=n_sp)
        if lpv >= 1
        else np.ones(n_sp, dtype=np.int64)
    )
    slot_spell = np.repeat(np.arange(n_sp), k)
    cur = s_first[slot_spell].copy()
    last = s_last[slot_spell]
    mean_life = p["listing_mean_lifetime_days"]
    parts_spell, parts_start, parts_end, parts_round = [], [], [], []
    active = np.arange(len(slot_spell))
    rnd = 0
    while active.size:
        life = np.maximum(1, np.ceil(rng.exponential(mean_life, size=active.size)).astype(np.int64))
        st = cur[active]
        en = np.minimum(st + life - 1, last[active])
        parts_spell.append(slot_spell[active])
        parts_start.append(st)
        parts_end.append(en)
        parts_round.append(np.full(active.size, rnd))
        cur[active] = st + life
        active = active[cur[active] <= last[active]]
        rnd += 1
    spell = np.concatenate(parts_spell)
    start = np.concatenate(parts_start)
    market = np.array(sp.market, dtype=np.int64)[spell]
    order = np.lexsort((spell, start, market))
    return (
        spell[order],
        start[order],
        np.concatenate(parts_end)[order],
        np.concatenate(parts_round)[order],
        market[order],
    )


def _categories(
    rng: np.random.Generator, p: dict, main: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per listing: taxonomy category (mostly the vendor's main one) and product kind."""
    n = main.size
    mix = np.array([w for _, w in DRUG_CATEGORY_MIX]) * (1 - p["non_drug_share"])
    mix = np.append(mix, p["non_drug_share"])
    other = pick(rng, n, mix)
    cat = np.where(rng.random(n) < FIXED["main_category_listing_share"], main, other)
    u_kind = rng.random(n)
    kind = np.empty(n, dtype=np.int64)
    for ci, cname in enumerate(CATEGORIES):
        sel = cat == ci
        ks = KIND_MIX[cname]
        idx = pick_u_many(u_kind[sel], [w for _, w in ks])
        kind[sel] = np.array([KINDS.index(k) for k, _ in ks], dtype=np.int64)[idx]
    return cat, kind


def _products(kind: np.ndarray, u_q, u_name, u_dose, nd_price) -> tuple[np.ndarray, ...]:
    """Per listing: quantity, product name index, dose and USD price per unit."""
    n = kind.size
    qty = np.zeros(n)
    name_i = np.zeros(n, dtype=np.int64)
    dose = np.zeros(n)
    unit_price = np.zeros(n)
    for ki, kname in enumerate(KINDS):
        sel = np.flatnonzero(kind == ki)
        if not sel.size:
            continue
        spec = CATALOG[kname]
        names = spec["names"]
        name_i[sel] = np.minimum((u_name[sel] * len(names)).astype(np.int64), len(names) - 1)
        if spec["unit"] is None:
            qty[sel] = 1.0
            unit_price[sel] = spec["price"] * nd_price[sel]
            continue
        qs = np.array(spec["qty"], dtype=float)
        qw = 1.0 / (np.arange(len(qs)) + 1.0) ** 0.8  # smaller quantities are more common
        qty[sel] = qs[
            np.searchsorted(np.cumsum(qw) / qw.sum(), u_q[sel], side="right").clip(0, len(qs) - 1)
        ]
        if "doses" in spec:
            ds = np.array(spec["doses"], dtype=float)
            dose[sel] = ds[np.minimum((u_dose[sel] * len(ds)).astype(np.int64), len(ds) - 1)]
        elif isinstance(names[0], tuple):
            dose[sel] = np.array([names[i][1] for i in name_i[sel]], dtype=float)
        unit_price[sel] = spec["price"]
    return qty, name_i, dose, unit_price


def _listing_ids(cfg: SimConfig, market: np.ndarray) -> pa.Array:
    """Per market, ids in the market's format, increasing with time of creation."""
    parts = []
    for m in cfg.markets:
        sel = np.flatnonzero(market == m.index)
        fmt, off = m.style["id_fmt"], m.style["id_offset"]
        parts.append((sel, C.int_format(fmt, off + np.arange(sel.size))))
    return C.assemble(parts, market.size)


def make_listings(cfg: SimConfig, v: Vendors, sp: Spells) -> Listings:
    """Every listing of the period with its fixed attributes and texts."""
    rng = stream(cfg.seed, S_LISTINGS)
    p = cfg.p
    spell, start, end, rnd_arr, market = _spans(rng, p, sp)
    n = len(spell)
    uid = np.array(sp.uid, dtype=np.int64)[spell]
    cat, kind = _categories(rng, p, v.main_cat[uid])
    u_q, u_name, u_dose = rng.random(n), rng.random(n), rng.random(n)
    noise = np.exp(rng.normal(0.0, FIXED["listing_price_noise_sigma"], size=n))
    nd_price = np.exp(rng.normal(0.0, 0.8, size=n))
    age = rng.exponential(p["listing_mean_lifetime_days"], size=n)
    hostile = rng.random(n) < p["hostile_title_share"]
    alt_price = rng.random(n) < 0.3
    qty, name_i, dose, unit_price = _products(kind, u_q, u_name, u_dose, nd_price)
    country_factor = np.array([COUNTRY_PRICE.get(c, 1.0) for c in v.country])[uid]
    el = FIXED["price_quantity_elasticity"]
    price = unit_price * qty**el * v.price_level[uid] * noise * country_factor
    price = np.maximum(np.round(price, 2), 0.5)
    is_initial = (uid < v.n_initial) & (start == 0) & (rnd_arr == 0)
    rate = p["sales_per_listing_day"] * v.size[uid]
    fb0 = np.where(is_initial, rng.poisson(age * rate * p["feedback_probability"]), 0)
    del u_q, u_name, u_dose, noise, nd_price, age, unit_price, country_factor  # (memory)
    lst = Listings(
        n=n,
        spell=spell,
        uid=uid,
        market=market,
        start=start,
        end=end,
        kind=kind,
        cat=cat,
        price_usd=price,
        fb0=fb0.astype(np.int64),
        rate=rate,
        listing_id=_listing_ids(cfg, market),
        alt_price=alt_price,
        hostile=hostile,
    )
    lst.texts = listing_texts(cfg, v, lst, qty, name_i, dose)
    return lst
