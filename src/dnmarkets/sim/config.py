"""The simulation config: checked, with defaults filled, as the dataclasses the
simulator reads (``SimConfig``, ``Market``), and the fixed model constants."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from dnmarkets.core.configcheck import checked_simulation, schema_defaults
from dnmarkets.sim.vocabularies import STYLES, VOCAB_ORDER

# Fixed model constants (not configurable; written to ground_truth.json).
FIXED = {
    "price_quantity_elasticity": 0.85,
    "vendor_size_lognormal_sigma": 0.8,
    "vendor_price_level_sigma": 0.15,
    "listing_price_noise_sigma": 0.10,
    "main_category_listing_share": 0.80,
    "region_only_ships_from_vendor_share": 0.06,
    "preferred_country_spelling_share": 0.85,
    "alias_row_variant_share": 0.03,
    "alias_lowercase_spell_share": 0.03,
    "alias_change_new_vs_variant": 0.5,
    "missed_crawl_probability": 0.05,
    "low_coverage_crawl_probability": 0.05,
    "low_coverage_range": [0.05, 0.30],
    "crawl_coverage_sd": 0.05,
    "vendor_page_coverage_mean": 0.90,
    "event_cluster_days": 30,
    "cohort_window_days": 30,
    "activity_window_days": 28,
    "sales_window_days": 7,
}


@dataclass
class Market:
    index: int
    slug: str
    name: str
    opened: dt.date
    size: float
    price_style: str
    every: int
    coverage: float
    closed: dt.date | None  # effective closure date (first day closed), may be after end
    closure: str | None
    police_control_from: dt.date | None
    takedown: bool
    event: str | None = None  # the configured event a takedown plays (`event:` of the takedown)
    open_day: int = 0  # first open day (offset from start), clipped to >= 0
    close_day: int = 0  # first closed day, clipped to <= n_days
    style: dict = field(default_factory=dict)


@dataclass
class SimConfig:
    seed: int
    start: dt.date
    end: dt.date
    n_days: int
    scale: float
    p: dict
    markets: list[Market]
    migration: dict
    demand: dict
    effective: dict


SIMULATION = "datasets.*.simulation"  # the schema section of a simulation block


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _markets(sim: dict, start: dt.date, n_days: int) -> list[Market]:
    """The markets with their effective closure: a takedown, or an earlier own closure."""
    takedowns = {t["market"]: t for t in sim["takedowns"]}
    markets = []
    for i, m in enumerate(sim["markets"]):
        closed = _date(m["closed"]) if m.get("closed") else None
        closure, police, takedown = m.get("closure") if closed else None, None, False
        td = takedowns.get(m["slug"])
        if td is not None and (closed is None or _date(td["date"]) <= closed):
            closed, closure, takedown = _date(td["date"]), td["closure"], True
            police = _date(td["police_control_from"]) if td.get("police_control_from") else None
        opened = _date(m["opened"])
        markets.append(
            Market(
                index=i,
                slug=m["slug"],
                name=str(m["name"]),
                opened=opened,
                size=float(m["size"]),
                price_style=m["price_style"],
                every=int(m["crawl_every_days"]),
                coverage=float(m["coverage"]),
                closed=closed,
                closure=closure,
                police_control_from=police,
                takedown=takedown,
                event=td.get("event") if takedown else None,
                open_day=min(max(0, (opened - start).days), n_days),
                close_day=n_days if closed is None else min(max(0, (closed - start).days), n_days),
                style=market_style(m["slug"], i, m.get("style")),
            )
        )
    return markets


def parse_config(sim_cfg: Mapping) -> SimConfig:
    """The simulation block checked (:func:`dnmarkets.core.configcheck.checked_simulation`,
    :class:`ValueError` naming the bad key) and read into a :class:`SimConfig`."""
    sim = checked_simulation(sim_cfg)
    start, end = _date(sim["start"]), _date(sim["end"])
    n_days = (end - start).days + 1
    mig, dem = sim["migration"], sim["demand"]
    return SimConfig(
        seed=int(sim["seed"]),
        start=start,
        end=end,
        n_days=n_days,
        scale=float(sim["scale"]),
        p={k: float(sim[k]) for k in schema_defaults(SIMULATION)},
        markets=_markets(sim, start, n_days),
        migration={k: float(v) for k, v in mig.items()},
        demand={"dip": float(dem["dip"]), "recovery_days": float(dem["recovery_days"])},
        effective=_jsonable(sim),
    )


def _jsonable(obj):
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def market_style(slug: str, index: int, name: str | None = None) -> dict:
    """How a market writes ids, escapes titles and shows numbers: the named style
    (`style:` in the config), else one made from the slug and the market's place."""
    if name is not None:
        style = dict(STYLES[name], vocab=name)
    else:
        style = {
            "id_fmt": slug[:3] + "-{:06d}",
            "escape": index % 2 == 0,
            "thousands": True,
            "vocab": VOCAB_ORDER[index % len(VOCAB_ORDER)],
        }
    style["id_offset"] = (
        1000 + 137 * index if style["id_fmt"] != "{:d}" else 1_000_000 * (index + 1)
    )
    return style


def date_str(start: dt.date, day: int) -> str:
    """The ISO date `day` days after `start`."""
    return (start + dt.timedelta(days=int(day))).isoformat()
