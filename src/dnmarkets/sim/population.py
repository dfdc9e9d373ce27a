"""Vendors and their spells on markets: entry, careers, home and second markets,
and the migration of vendors displaced by market closures."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dnmarkets.sim.config import FIXED, SimConfig
from dnmarkets.sim.draws import (
    S_MIGRATION,
    S_VENDORS,
    pick,
    pick_u,
    pick_u_cum_many,
    row_pick,
    stream,
)
from dnmarkets.sim.texts import AliasMaker, pgp_keys
from dnmarkets.sim.vocabularies import (
    CATEGORIES,
    COUNTRY_TILTS,
    COUNTRY_VARIANTS,
    DRUG_CATEGORY_MIX,
    EU_MIX,
    NON_EU_MIX,
)


@dataclass
class Vendors:
    n: int
    n_initial: int
    start: np.ndarray
    career_last: np.ndarray
    country: list[str]
    eu: np.ndarray
    main_cat: np.ndarray  # index into CATEGORIES
    size: np.ndarray
    price_level: np.ndarray
    rating: np.ndarray
    region_only: np.ndarray
    pref_variant: np.ndarray
    alias: list[str]
    pgp: list[str]
    registered_back: np.ndarray  # days before start for initial vendors
    alias_maker: AliasMaker | None = None


def _category_table(cfg: SimConfig) -> dict[str, np.ndarray]:
    """Per country, the probabilities of a vendor's main category (drugs tilted, non-drug)."""
    s_nd = cfg.p["non_drug_share"]
    base = np.array([w for _, w in DRUG_CATEGORY_MIX])
    out = {}
    for code in COUNTRY_VARIANTS:
        w = base.copy()
        for cat, mult in COUNTRY_TILTS.get(code, {}).items():
            w[CATEGORIES.index(cat)] *= mult
        w = w / w.sum() * (1.0 - s_nd)
        out[code] = np.append(w, s_nd)
    return out


def make_vendors(
    cfg: SimConfig, demand: np.ndarray, open_mat: np.ndarray
) -> tuple[Vendors, np.ndarray, np.ndarray]:
    """All vendors of the period, with each one's home and second market (-1: none)."""
    rng = stream(cfg.seed, S_VENDORS)
    p = cfg.p
    n0 = max(1, int(round(p["vendors_at_start"] * cfg.scale)))
    lam = p["vendor_entry_per_day"] * cfg.scale * demand * open_mat.any(axis=1)
    counts = rng.poisson(lam)
    starts = np.concatenate(
        [np.zeros(n0, dtype=np.int64), np.repeat(np.arange(cfg.n_days), counts)]
    )
    n = len(starts)
    life = np.ceil(rng.exponential(p["vendor_mean_lifetime_days"], size=n)).astype(np.int64)
    life = np.maximum(life, 1)
    eu = rng.random(n) < p["eu_vendor_share"]
    eu_idx = pick(rng, n, [w for _, w in EU_MIX])
    non_idx = pick(rng, n, [w for _, w in NON_EU_MIX])
    names = np.array([c for c, _ in EU_MIX] + [c for c, _ in NON_EU_MIX], dtype=object)
    country_i = np.where(eu, eu_idx, len(EU_MIX) + non_idx)
    country = names[country_i].tolist()
    table = _category_table(cfg)
    u_cat = rng.random(n)
    main_cat = np.zeros(n, dtype=np.int64)
    for i, code in enumerate(names.tolist()):  # per country: its category probabilities
        sel = country_i == i
        if sel.any():
            main_cat[sel] = pick_u_cum_many(u_cat[sel], table[code])
    sig = FIXED["vendor_size_lognormal_sigma"]
    size = np.exp(rng.normal(-sig * sig / 2, sig, size=n))
    price_level = np.exp(rng.normal(0.0, FIXED["vendor_price_level_sigma"], size=n))
    rating = np.clip(5.0 - rng.exponential(0.12, size=n), 3.0, 5.0)
    region_only = rng.random(n) < FIXED["region_only_ships_from_vendor_share"]
    pref_variant = rng.integers(0, 1_000_000, size=n)
    registered_back = rng.integers(30, 721, size=n)
    # markets
    sizes = np.array([m.size for m in cfg.markets])
    w = open_mat[starts] * sizes[None, :]
    u_home, u_multi, u_second = rng.random(n), rng.random(n), rng.random(n)
    home = row_pick(w, u_home)
    w2 = w.copy()
    w2[np.arange(n), home] = 0.0
    has_second = (u_multi < p["multi_home_share"]) & (w2.sum(axis=1) > 0)
    second = np.where(has_second, row_pick(w2, u_second), -1)
    maker = AliasMaker()
    alias_rng = stream(cfg.seed, S_VENDORS, 1)
    alias = [maker.new(alias_rng) for _ in range(n)]
    pgp = pgp_keys(stream(cfg.seed, S_VENDORS, 2), n)
    vendors = Vendors(
        n=n,
        n_initial=n0,
        start=starts,
        career_last=starts + life - 1,
        country=country,
        eu=eu,
        main_cat=main_cat,
        size=size,
        price_level=price_level,
        rating=rating,
        region_only=region_only,
        pref_variant=pref_variant,
        alias=alias,
        pgp=pgp,
        registered_back=registered_back,
        alias_maker=maker,
    )
    return vendors, home, second


@dataclass
class Spells:
    uid: list = field(default_factory=list)
    market: list = field(default_factory=list)
    first: list = field(default_factory=list)
    last: list = field(default_factory=list)  # planned last day (may exceed the period)
    alias: list = field(default_factory=list)
    pgp: list = field(default_factory=list)
    migrated_from: list = field(default_factory=list)
    alias_changed: list = field(default_factory=list)
    alias_kind: list = field(default_factory=list)
    pgp_changed: list = field(default_factory=list)
    registered: list = field(default_factory=list)  # day offset (negative before start)
    end_reason: list = field(default_factory=list)

    def add(self, **kw) -> int:
        """Append a spell; its index."""
        for k, v in kw.items():
            getattr(self, k).append(v)
        return len(self.uid) - 1

    def __len__(self) -> int:
        return len(self.uid)


def _first_spells(cfg: SimConfig, v: Vendors, home: np.ndarray, second: np.ndarray) -> Spells:
    """Each vendor's spells on its home and (if any) second market, for its whole career."""
    sp = Spells()
    for i in range(v.n):
        reg = int(v.start[i]) if i >= v.n_initial else -int(v.registered_back[i])
        for mk in (int(home[i]), int(second[i])):
            if mk < 0:
                continue
            mreg = max(reg, (cfg.markets[mk].opened - cfg.start).days)
            sp.add(
                uid=i,
                market=mk,
                first=int(v.start[i]),
                last=int(v.career_last[i]),
                alias=v.alias[i],
                pgp=v.pgp[i],
                migrated_from=-1,
                alias_changed=False,
                alias_kind="",
                pgp_changed=False,
                registered=mreg,
                end_reason="exit",
            )
    return sp


def _closures(cfg: SimConfig, events: list[dict]) -> list[tuple[int, int, str]]:
    """(closure day, market index, event key) of closures inside the period, by day."""
    closures = []
    for ev in events:
        for m in ev["markets"]:
            if 0 < m.close_day < cfg.n_days:
                closures.append((m.close_day, m.index, ev["key"]))
    return sorted(closures)


@dataclass
class _Migration:
    """What the displacement of spells needs besides the spells themselves."""

    cfg: SimConfig
    v: Vendors
    open_mat: np.ndarray
    by_uid: dict[int, list[int]]
    rng: np.random.Generator
    alias_rng: np.random.Generator
    sizes: np.ndarray  # market size ** size_preference


def _displace(mg: _Migration, sp: Spells, s: int, c_day: int, mk: int, key: str) -> dict:
    """End spell `s` at the closure; maybe open a new spell elsewhere; the record of it."""
    cfg, mig = mg.cfg, mg.cfg.migration
    sp.last[s] = c_day - 1
    sp.end_reason[s] = "closure_" + (cfg.markets[mk].closure or "unknown")
    u_mig, u_alias, u_kind, u_pgp, u_dest = mg.rng.random(5)
    scale_g = mig["delay_mean_days"] / mig["delay_shape"]
    delay = max(1, int(math.ceil(mg.rng.gamma(mig["delay_shape"], scale_g))))
    life = max(1, int(math.ceil(mg.rng.exponential(cfg.p["vendor_mean_lifetime_days"]))))
    decided = bool(u_mig < mig["probability"])
    uid = sp.uid[s]
    r = c_day + delay
    rec = {
        "event": key,
        "uid": uid,
        "from": mk,
        "closure_day": c_day,
        "decided": decided,
        "delay": delay,
        "migrated": False,
        "dest": -1,
        "alias_changed": False,
        "alias_kind": "",
        "pgp_changed": False,
        "spell": s,
        "new_spell": -1,
    }
    if not decided or r >= cfg.n_days:
        return rec
    cand = mg.open_mat[r].copy()
    for o in mg.by_uid[uid]:
        if sp.first[o] <= r <= sp.last[o]:
            cand[sp.market[o]] = False
    w = np.where(cand, mg.sizes, 0.0)
    if w.sum() <= 0:
        return rec
    dest = pick_u(u_dest, list(w))
    alias_changed = bool(u_alias < mig["alias_change_probability"])
    kind = ""
    alias = sp.alias[s]
    if alias_changed:
        if u_kind < FIXED["alias_change_new_vs_variant"]:
            kind, alias = "new", mg.v.alias_maker.new(mg.alias_rng)
        else:
            kind, alias = (
                "variant",
                mg.v.alias_maker.variant(alias, mg.v.country[uid], mg.alias_rng),
            )
    pgp_changed = bool(u_pgp < mig["pgp_change_probability"])
    pgp = pgp_keys(mg.alias_rng, 1)[0] if pgp_changed else sp.pgp[s]
    ns = sp.add(
        uid=uid,
        market=dest,
        first=r,
        last=r + life - 1,
        alias=alias,
        pgp=pgp,
        migrated_from=mk,
        alias_changed=alias_changed,
        alias_kind=kind,
        pgp_changed=pgp_changed,
        registered=r,
        end_reason="exit",
    )
    mg.by_uid[uid].append(ns)
    rec.update(
        migrated=True,
        dest=dest,
        alias_changed=alias_changed,
        alias_kind=kind,
        pgp_changed=pgp_changed,
        new_spell=ns,
    )
    return rec


def make_spells(
    cfg: SimConfig,
    v: Vendors,
    home: np.ndarray,
    second: np.ndarray,
    events: list[dict],
    open_mat: np.ndarray,
) -> tuple[Spells, list[dict]]:
    """All vendor spells, migrations included, and one record per displaced spell."""
    sp = _first_spells(cfg, v, home, second)
    by_uid: dict[int, list[int]] = {}
    for s, u in enumerate(sp.uid):
        by_uid.setdefault(u, []).append(s)
    mg = _Migration(
        cfg=cfg,
        v=v,
        open_mat=open_mat,
        by_uid=by_uid,
        rng=stream(cfg.seed, S_MIGRATION),
        alias_rng=stream(cfg.seed, S_MIGRATION, 1),
        sizes=np.array([m.size for m in cfg.markets]) ** cfg.migration["size_preference"],
    )
    records: list[dict] = []
    for c_day, mk, key in _closures(cfg, events):
        displaced = [
            s for s in range(len(sp)) if sp.market[s] == mk and sp.first[s] < c_day <= sp.last[s]
        ]
        records += [_displace(mg, sp, s, c_day, mk, key) for s in displaced]
    for s in range(len(sp)):
        if sp.last[s] >= cfg.n_days:
            sp.last[s] = cfg.n_days - 1
            sp.end_reason[s] = "active_at_end"
    return sp, records
