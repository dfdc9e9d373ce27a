"""The simulation config: checked, with defaults filled, as the dataclasses the
simulator reads (``SimConfig``, ``Market``), and the fixed model constants."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from dnmarkets.sim.vocabularies import KNOWN_STYLES, VOCAB_ORDER
from dnmarkets.sources.reference import CLOSURES

DEFAULTS: dict = {
    "vendors_at_start": 900,
    "listings_per_vendor": 4.0,
    "vendor_entry_per_day": 2.5,
    "vendor_mean_lifetime_days": 400,
    "listing_mean_lifetime_days": 60,
    "multi_home_share": 0.15,
    "non_drug_share": 0.33,
    "eu_vendor_share": 0.46,
    "feedback_probability": 0.7,
    "sales_per_listing_day": 0.35,
    "hostile_title_share": 0.0005,
    "duplicate_row_share": 0.01,
    "empty_field_share": 0.01,
}
MIGRATION_DEFAULTS: dict = {
    "delay_shape": 1.5,
    "size_preference": 1.0,
    "alias_change_probability": 0.20,
    "pgp_change_probability": 0.14,
}
REQUIRED = ("seed", "start", "end", "scale", "markets", "takedowns", "migration", "demand")
PROBABILITY_KEYS = (
    "multi_home_share",
    "non_drug_share",
    "eu_vendor_share",
    "feedback_probability",
    "hostile_title_share",
    "duplicate_row_share",
    "empty_field_share",
)
POSITIVE_KEYS = ("listings_per_vendor", "vendor_mean_lifetime_days", "listing_mean_lifetime_days")
NONNEGATIVE_KEYS = ("vendors_at_start", "vendor_entry_per_day", "sales_per_listing_day")
PRICE_STYLES = ("usd", "eur", "btc")
SLUG_RE = re.compile(r"^[a-z0-9]+$")

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


def _parse_date(value, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"simulation config: {what} must be an ISO date YYYY-MM-DD, got {value!r}")


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"simulation config: {what} must be a finite number, got {value!r}")
    return float(value)


def _check_probability(value, what: str) -> float:
    x = _number(value, what)
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"simulation config: {what} must be in [0, 1], got {value!r}")
    return x


def parse_config(sim_cfg: Mapping) -> SimConfig:
    if not isinstance(sim_cfg, Mapping):
        raise ValueError(f"simulation config must be a mapping, got {type(sim_cfg).__name__}")
    missing = [k for k in REQUIRED if k not in sim_cfg]
    if missing:
        raise ValueError(f"simulation config: missing key(s) {missing}")
    known = set(REQUIRED) | set(DEFAULTS)
    unknown = sorted(k for k in sim_cfg if k not in known)
    if unknown:
        raise ValueError(f"simulation config: unknown key(s) {unknown}")

    seed = sim_cfg["seed"]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"simulation config: seed must be a non-negative integer, got {seed!r}")
    start = _parse_date(sim_cfg["start"], "start")
    end = _parse_date(sim_cfg["end"], "end")
    if end < start:
        raise ValueError(f"simulation config: end {end} is before start {start}")
    scale = _number(sim_cfg["scale"], "scale")
    if scale <= 0:
        raise ValueError(f"simulation config: scale must be > 0, got {sim_cfg['scale']!r}")

    p = {k: sim_cfg.get(k, v) for k, v in DEFAULTS.items()}
    for k in PROBABILITY_KEYS:
        p[k] = _check_probability(p[k], k)
    for k in POSITIVE_KEYS:
        p[k] = _number(p[k], k)
        if p[k] <= 0:
            raise ValueError(f"simulation config: {k} must be > 0, got {p[k]!r}")
    for k in NONNEGATIVE_KEYS:
        p[k] = _number(p[k], k)
        if p[k] < 0:
            raise ValueError(f"simulation config: {k} must be >= 0, got {p[k]!r}")

    raw_markets = sim_cfg["markets"]
    if not isinstance(raw_markets, list) or not raw_markets:
        raise ValueError("simulation config: markets must be a non-empty list")
    slugs: list[str] = []
    for i, m in enumerate(raw_markets):
        if not isinstance(m, Mapping):
            raise ValueError(f"simulation config: markets[{i}] must be a mapping")
        for key in ("slug", "opened", "size", "price_style", "crawl_every_days", "coverage"):
            if key not in m:
                raise ValueError(f"simulation config: markets[{i}] lacks {key!r}")
        slug = m["slug"]
        if not isinstance(slug, str) or not SLUG_RE.match(slug):
            raise ValueError(
                f"simulation config: markets[{i}].slug must match [a-z0-9]+, got {slug!r}"
            )
        if slug in slugs:
            raise ValueError(f"simulation config: market {slug!r} listed twice")
        slugs.append(slug)

    takedowns = sim_cfg["takedowns"]
    if not isinstance(takedowns, list):
        raise ValueError("simulation config: takedowns must be a list")
    td_by_market: dict[str, dict] = {}
    for i, t in enumerate(takedowns):
        if not isinstance(t, Mapping) or "market" not in t or "date" not in t:
            raise ValueError(f"simulation config: takedowns[{i}] needs market and date")
        if t["market"] not in slugs:
            raise ValueError(
                f"simulation config: takedowns[{i}] names unknown market {t['market']!r}"
                f" (markets: {', '.join(slugs)})"
            )
        if t["market"] in td_by_market:
            raise ValueError(f"simulation config: market {t['market']!r} taken down twice")
        closure = t.get("closure", "raided")
        if closure not in CLOSURES:
            raise ValueError(f"simulation config: takedowns[{i}].closure must be one of {CLOSURES}")
        date = _parse_date(t["date"], f"takedowns[{i}].date")
        police = None
        if t.get("police_control_from") is not None:
            police = _parse_date(t["police_control_from"], f"takedowns[{i}].police_control_from")
            if police > date:
                raise ValueError(
                    f"simulation config: takedowns[{i}].police_control_from is after its date"
                )
        td_by_market[t["market"]] = {"date": date, "closure": closure, "police": police}

    markets: list[Market] = []
    for i, m in enumerate(raw_markets):
        slug = m["slug"]
        opened = _parse_date(m["opened"], f"markets[{i}].opened")
        size = _number(m["size"], f"markets[{i}].size")
        if size <= 0:
            raise ValueError(f"simulation config: markets[{i}].size must be > 0")
        if m["price_style"] not in PRICE_STYLES:
            raise ValueError(
                f"simulation config: markets[{i}].price_style must be one of {PRICE_STYLES},"
                f" got {m['price_style']!r}"
            )
        every = m["crawl_every_days"]
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(
                f"simulation config: markets[{i}].crawl_every_days must be an integer >= 1"
            )
        coverage = _check_probability(m["coverage"], f"markets[{i}].coverage")
        if coverage <= 0:
            raise ValueError(f"simulation config: markets[{i}].coverage must be > 0")
        closed, closure, police, takedown = None, None, None, False
        if m.get("closed") is not None:
            closed = _parse_date(m["closed"], f"markets[{i}].closed")
            closure = m.get("closure") or "voluntary"
            if closure not in CLOSURES:
                raise ValueError(
                    f"simulation config: markets[{i}].closure must be one of {CLOSURES}"
                )
            if closed < opened:
                raise ValueError(f"simulation config: market {slug!r} closes before it opens")
        td = td_by_market.get(slug)
        if td is not None and (closed is None or td["date"] <= closed):
            closed, closure, police, takedown = td["date"], td["closure"], td["police"], True
            if closed < opened:
                raise ValueError(
                    f"simulation config: market {slug!r} is taken down before it opens"
                )
        mk = Market(
            index=i,
            slug=slug,
            name=str(m.get("name", slug)),
            opened=opened,
            size=size,
            price_style=m["price_style"],
            every=int(every),
            coverage=coverage,
            closed=closed,
            closure=closure,
            police_control_from=police,
            takedown=takedown,
        )
        n_days = (end - start).days + 1
        mk.open_day = min(max(0, (opened - start).days), n_days)
        mk.close_day = n_days if closed is None else min(max(0, (closed - start).days), n_days)
        mk.style = market_style(slug, i)
        markets.append(mk)
    if not any(m.open_day == 0 and m.close_day > 0 for m in markets):
        raise ValueError(f"simulation config: no market is open on the start date {start}")

    mig = sim_cfg["migration"]
    if not isinstance(mig, Mapping):
        raise ValueError("simulation config: migration must be a mapping")
    mig = {**MIGRATION_DEFAULTS, **mig}
    unknown = sorted(
        k for k in mig if k not in set(MIGRATION_DEFAULTS) | {"probability", "delay_mean_days"}
    )
    if unknown or "probability" not in mig or "delay_mean_days" not in mig:
        raise ValueError(
            "simulation config: migration needs probability and delay_mean_days"
            + (f"; unknown key(s) {unknown}" if unknown else "")
        )
    for k in ("probability", "alias_change_probability", "pgp_change_probability"):
        mig[k] = _check_probability(mig[k], f"migration.{k}")
    for k in ("delay_mean_days", "delay_shape"):
        mig[k] = _number(mig[k], f"migration.{k}")
        if mig[k] <= 0:
            raise ValueError(f"simulation config: migration.{k} must be > 0")
    mig["size_preference"] = _number(mig["size_preference"], "migration.size_preference")
    if mig["size_preference"] < 0:
        raise ValueError("simulation config: migration.size_preference must be >= 0")

    dem = sim_cfg["demand"]
    if not isinstance(dem, Mapping) or "dip" not in dem or "recovery_days" not in dem:
        raise ValueError("simulation config: demand needs dip and recovery_days")
    unknown = sorted(k for k in dem if k not in ("dip", "recovery_days"))
    if unknown:
        raise ValueError(f"simulation config: demand has unknown key(s) {unknown}")
    dem = {
        "dip": _check_probability(dem["dip"], "demand.dip"),
        "recovery_days": _number(dem["recovery_days"], "demand.recovery_days"),
    }
    if dem["recovery_days"] <= 0:
        raise ValueError("simulation config: demand.recovery_days must be > 0")

    effective = _jsonable(dict(sim_cfg))
    for k, v in DEFAULTS.items():
        effective.setdefault(k, v)
    effective["migration"] = {**MIGRATION_DEFAULTS, **_jsonable(dict(sim_cfg["migration"]))}
    return SimConfig(
        seed=int(seed),
        start=start,
        end=end,
        n_days=(end - start).days + 1,
        scale=scale,
        p=p,
        markets=markets,
        migration=mig,
        demand=dem,
        effective=effective,
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


def market_style(slug: str, index: int) -> dict:
    """How a market writes ids, escapes titles and shows numbers (known markets: their own)."""
    if slug in KNOWN_STYLES:
        style = dict(KNOWN_STYLES[slug], vocab=slug)
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
