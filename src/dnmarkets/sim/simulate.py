"""Deterministic generator of the simulated 2017 darknet-market ecosystem (``sim2017``).

``simulate(sim_cfg, out_dir)`` writes raw crawl snapshots in the messy form of
real scrapes (layout and columns: ``docs/data_model.md`` section 1) plus the
ground truth of every planted effect, and returns that ground truth.

Model in brief (all days are offsets from ``start``):

* Markets are open on ``[opened, closure)``: a market seized on day *c* is last
  alive (and last crawled) on *c - 1*.  Closures come from ``takedowns`` and
  from a market's own ``closed`` date (exit scam, ...).
* Vendors are persistent identities (``uid``) with a home market chosen by
  market size among the open markets, optionally a second market, a ships-from
  country, a main drug category, a sales-size multiplier, an alias and a PGP
  key.  A vendor selling on a market is a *spell*; vendors enter (Poisson,
  following the demand multiplier) and exit (exponential careers).
* When a market closes, each spell alive there is displaced: with probability
  ``migration.probability`` the vendor reappears after a gamma delay on an open
  market (chosen with probability proportional to size ** size_preference among
  markets open that day where the vendor is not already selling), possibly with
  a changed alias and/or PGP key; otherwise the spell just ends.  Refugees who
  land on a market that closes later are displaced again and draw again.
* Every spell keeps about ``listings_per_vendor`` listing slots, each a renewal
  sequence of listings with exponential lifetimes.
* Sales: Poisson per listing and day with rate ``sales_per_listing_day`` x
  vendor size x demand multiplier m(t); m(t) = prod over takedown events of
  1 - dip * exp(-(t - t0) / recovery_days) for t >= t0 (t0 = first takedown of
  a cluster of takedowns less than 30 days apart).  Each sale leaves feedback
  with ``feedback_probability``.
* Crawls: every ``crawl_every_days`` (jitter, missed crawls, a few very
  incomplete ones), each alive listing seen with the crawl's coverage; vendor
  profile pages of vendors with a seen listing on the same day.

Random streams are separate per purpose (rates, vendors, migration, listings,
texts, sales, crawl schedule, each crawl), so that changing e.g. crawl coverage
changes neither vendors, listings nor sales.  Same config => byte-identical
files.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnmarkets.core.io import atomic_path
from dnmarkets.sources.canonical import LISTING_COLUMNS, VENDOR_COLUMNS

log = logging.getLogger(__name__)

GENERATOR_VERSION = "1.0"

# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

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
CLOSURES = ("raided", "scam", "hacked", "voluntary")
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

DAILY_COLUMNS = [
    "date",
    "market",
    "active_listings",
    "active_vendors",
    "sales_usd",
    "feedback_sales_usd",
    "demand_multiplier",
    "crawled",
    "seen_listings",
    "crawl_coverage",
]
VENDOR_TRUTH_COLUMNS = [
    "uid",
    "market",
    "alias",
    "pgp_fingerprint",
    "first_day",
    "last_day",
    "migrated_from",
    "alias_changed",
    "pgp_changed",
    "ships_from",
    "main_category",
    "alias_change_kind",
    "ships_from_eu",
    "registered",
    "size",
    "end_reason",
]

# Random stream identifiers (child seeds are SeedSequence([seed, stream, ...])).
_S_RATES, _S_VENDORS, _S_MIGRATION, _S_LISTINGS, _S_TEXT, _S_SALES = 1, 2, 3, 4, 5, 6
_S_SCHEDULE, _S_CRAWL = 7, 8


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


@dataclass
class _Market:
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
class _Config:
    seed: int
    start: dt.date
    end: dt.date
    n_days: int
    scale: float
    p: dict
    markets: list[_Market]
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


def _validate(sim_cfg: Mapping) -> _Config:
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

    markets: list[_Market] = []
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
        mk = _Market(
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
        mk.style = _market_style(slug, i)
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
    return _Config(
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


# --------------------------------------------------------------------------
# Domain vocabularies
# --------------------------------------------------------------------------

EU_MEMBERS_2017 = (
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GB",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
)
EU_MIX = [
    ("DE", 0.27),
    ("NL", 0.22),
    ("GB", 0.20),
    ("FR", 0.05),
    ("ES", 0.05),
    ("BE", 0.04),
    ("PL", 0.04),
    ("IT", 0.03),
    ("SE", 0.03),
    ("AT", 0.02),
    ("CZ", 0.02),
    ("DK", 0.01),
    ("FI", 0.01),
    ("PT", 0.005),
    ("IE", 0.005),
    ("HU", 0.005),
    ("SK", 0.005),
]
NON_EU_MIX = [
    ("US", 0.52),
    ("CA", 0.08),
    ("AU", 0.08),
    ("CN", 0.07),
    ("IN", 0.05),
    ("CH", 0.04),
    ("NO", 0.02),
    ("RS", 0.02),
    ("CO", 0.02),
    ("HK", 0.02),
    ("UA", 0.02),
    ("RU", 0.02),
    ("ZA", 0.01),
    ("TH", 0.01),
    ("BR", 0.01),
    ("NZ", 0.01),
]
EUROPE_NON_EU = ("CH", "NO", "RS", "UA", "RU")
# Spellings seen in ships_from/ships_to; the first is the canonical English name.
COUNTRY_VARIANTS: dict[str, list[str]] = {
    "DE": ["Germany", "germany", "DE", "Deutschland", "GER", "Germnay", "GERMANY"],
    "NL": [
        "Netherlands",
        "Holland",
        "NL",
        "The Netherlands",
        "Nederland",
        "netherlands",
        "Netherland",
    ],
    "GB": [
        "United Kingdom",
        "UK",
        "England",
        "Great Britain",
        "GB",
        "united kingdom",
        "Untied Kingdom",
    ],
    "FR": ["France", "france", "FR", "Frankreich", "FRA"],
    "ES": ["Spain", "spain", "ES", "España", "Espana", "ESP"],
    "BE": ["Belgium", "belgium", "BE", "België", "Belgique", "Belguim"],
    "PL": ["Poland", "poland", "PL", "Polska", "POL"],
    "IT": ["Italy", "italy", "IT", "Italia", "ITA"],
    "SE": ["Sweden", "sweden", "SE", "Sverige", "Swedan"],
    "AT": ["Austria", "austria", "AT", "Österreich", "Autria"],
    "CZ": ["Czech Republic", "Czechia", "CZ", "czech republic", "Česká republika"],
    "DK": ["Denmark", "denmark", "DK", "Danmark"],
    "FI": ["Finland", "finland", "FI", "Suomi"],
    "PT": ["Portugal", "portugal", "PT"],
    "IE": ["Ireland", "ireland", "IE", "Eire"],
    "HU": ["Hungary", "hungary", "HU", "Magyarország"],
    "SK": ["Slovakia", "slovakia", "SK", "Slovensko"],
    "US": [
        "United States",
        "USA",
        "US",
        "America",
        "United States of America",
        "usa",
        "Unites States",
    ],
    "CA": ["Canada", "canada", "CA", "CAN"],
    "AU": ["Australia", "australia", "AU", "AUS", "Australlia"],
    "CN": ["China", "china", "CN", "PRC"],
    "IN": ["India", "india", "IN", "IND"],
    "CH": ["Switzerland", "switzerland", "CH", "Schweiz", "Suisse"],
    "NO": ["Norway", "norway", "NO", "Norge"],
    "RS": ["Serbia", "serbia", "RS", "Srbija"],
    "CO": ["Colombia", "colombia", "CO", "Columbia"],
    "HK": ["Hong Kong", "hong kong", "HK"],
    "UA": ["Ukraine", "ukraine", "UA"],
    "RU": ["Russia", "Russian Federation", "RU", "Россия"],
    "ZA": ["South Africa", "south africa", "ZA", "RSA"],
    "TH": ["Thailand", "thailand", "TH"],
    "BR": ["Brazil", "brazil", "BR", "Brasil"],
    "NZ": ["New Zealand", "new zealand", "NZ"],
}
REGION_SHIPS_FROM = {
    "eu": [
        ("EU", 0.35),
        ("Europe", 0.25),
        ("European Union", 0.1),
        ("Worldwide", 0.2),
        ("World Wide", 0.1),
    ],
    "europe": [("Europe", 0.6), ("Worldwide", 0.3), ("World Wide", 0.1)],
    "other": [("Worldwide", 0.6), ("World Wide", 0.3), ("worldwide", 0.1)],
}
SHIPS_TO_LISTS = {
    "GB": "UK, Ireland",
    "DE": "Germany, Austria, Switzerland",
    "NL": "Netherlands, Belgium, Germany",
    "US": "USA, Canada",
    "CA": "Canada, USA",
    "AU": "Australia only",
    "FR": "France, Belgium",
    "BE": "Belgium, Netherlands, France",
    "AT": "Austria, Germany",
    "SE": "Sweden, Norway, Denmark",
    "CH": "Switzerland, Germany, Austria",
    "NO": "Norway, Sweden",
}

# Drug taxonomy of docs/data_model.md and the mix of drug listings (2017-like).
DRUG_CATEGORY_MIX = [
    ("cannabis", 0.30),
    ("cocaine", 0.12),
    ("opioids", 0.07),
    ("stimulants", 0.12),
    ("ecstasy", 0.14),
    ("psychedelics", 0.09),
    ("prescription", 0.11),
    ("nps", 0.03),
    ("other_drug", 0.02),
]
CATEGORIES = [c for c, _ in DRUG_CATEGORY_MIX] + ["non_drug"]
# Country tilts of a vendor's main category (multipliers on the drug mix).
COUNTRY_TILTS = {
    "CN": {"nps": 8.0, "prescription": 1.5},
    "IN": {"prescription": 8.0},
    "CO": {"cocaine": 5.0},
    "NL": {"ecstasy": 2.0, "psychedelics": 1.5},
    "CA": {"cannabis": 1.5},
    "US": {"cannabis": 1.3, "prescription": 1.3, "opioids": 1.3},
    "DE": {"stimulants": 1.5},
    "HK": {"nps": 4.0},
}
COUNTRY_PRICE = {"AU": 1.5, "NZ": 1.4, "CA": 1.1, "CN": 0.8, "IN": 0.7, "CO": 0.7, "NL": 0.9}

# kind: category, unit, USD per unit, names [(name, price multiplier)], quantities.
CATALOG: dict[str, dict] = {
    "weed": dict(
        cat="cannabis",
        unit="g",
        price=10.0,
        names=[
            "Weed",
            "OG Kush",
            "Amnesia Haze",
            "White Widow",
            "Girl Scout Cookies",
            "Lemon Haze",
            "Super Silver Haze",
            "Cannabis Buds",
            "Skunk",
            "Gorilla Glue #4",
            "Marihuana Qualität",
        ],
        qty=[1, 2, 3.5, 5, 7, 10, 14, 28, 56, 100],
    ),
    "hash": dict(
        cat="cannabis",
        unit="g",
        price=8.0,
        names=[
            "Hash",
            "Moroccan Hash",
            "Afghan Hash",
            "Charas",
            "Polm Hash",
            "Dry Sift Hash",
            "Haschisch",
        ],
        qty=[1, 3.5, 5, 10, 25, 50, 100],
    ),
    "synth_cannabinoid": dict(
        cat="nps",
        unit="g",
        price=20.0,
        names=[
            "5F-ADB synthetic cannabinoid",
            "AB-FUBINACA",
            "MDMB-CHMICA",
            "Spice synthetic cannabinoid",
            "5F-MDMB-PINACA",
        ],
        qty=[1, 5, 10, 25],
    ),
    "cocaine": dict(
        cat="cocaine",
        unit="g",
        price=90.0,
        names=[
            "Cocaine",
            "Colombian Cocaine",
            "Peruvian Flake",
            "Cocaine HCL 90%",
            "Bolivian Cocaine",
            "Fishscale Cocaine",
            "Coke",
            "Cocaïne Péruvienne",
            "Kokain",
        ],
        qty=[0.5, 1, 2, 3, 3.5, 5, 7, 10, 14, 28, 50, 100],
    ),
    "crack": dict(
        cat="cocaine",
        unit="g",
        price=80.0,
        names=["Crack Rocks", "Crack Cocaine"],
        qty=[0.5, 1, 2, 3.5, 7],
    ),
    "heroin": dict(
        cat="opioids",
        unit="g",
        price=100.0,
        names=[
            "Heroin",
            "Afghan Heroin #4",
            "Brown Heroin",
            "Heroin #3",
            "Black Tar Heroin",
            "Heroína",
        ],
        qty=[0.5, 1, 2, 3.5, 5, 10, 25],
    ),
    "fentanyl": dict(
        cat="opioids",
        unit="g",
        price=400.0,
        names=["Fentanyl HCL", "Fentanyl powder", "China White Fentanyl"],
        qty=[0.1, 0.25, 0.5, 1, 5],
    ),
    "opium": dict(
        cat="opioids",
        unit="g",
        price=25.0,
        names=["Opium", "Afghan Opium", "Raw Opium"],
        qty=[1, 5, 10, 28],
    ),
    "speed": dict(
        cat="stimulants",
        unit="g",
        price=12.0,
        names=[
            "Amphetamine",
            "Speed Paste",
            "Amphetamine Sulfate",
            "Amfetamine 70%",
            "Pep",
            "Amphétamine",
        ],
        qty=[1, 5, 10, 25, 50, 100, 250, 500, 1000],
    ),
    "meth": dict(
        cat="stimulants",
        unit="g",
        price=80.0,
        names=["Crystal Meth", "Methamphetamine Ice", "Tina Crystal", "Meth Shards"],
        qty=[0.5, 1, 2, 3.5, 7, 14, 28],
    ),
    "mdma": dict(
        cat="ecstasy",
        unit="g",
        price=40.0,
        names=[
            "MDMA Crystal",
            "Molly",
            "Champagne MDMA",
            "MDMA 84%",
            "Dutch MDMA Crystals",
            "MDMA Kristalle",
        ],
        qty=[0.5, 1, 2, 5, 10, 25, 50, 100],
    ),
    "xtc_pills": dict(
        cat="ecstasy",
        unit="pill",
        price=8.0,
        names=[
            "Blue Punisher XTC",
            "Tesla XTC pills",
            "Red Bull ecstasy",
            "Superman XTC",
            "Philipp Plein XTC",
            "Rolex ecstasy pills",
            "Donald Trump XTC",
        ],
        doses=[150, 180, 200, 220, 250, 280, 300],
        qty=[5, 10, 20, 25, 50, 100, 250, 500, 1000],
    ),
    "lsd": dict(
        cat="psychedelics",
        unit="tab",
        price=8.0,
        names=["LSD blotter", "LSD tabs", "Hofmann LSD", "Lucy blotters", "LSD-25"],
        doses=[100, 150, 200, 250],
        qty=[1, 5, 10, 25, 50, 100, 500],
    ),
    "shrooms": dict(
        cat="psychedelics",
        unit="g",
        price=10.0,
        names=[
            "Magic Mushrooms",
            "Psilocybe Cubensis",
            "Golden Teacher mushrooms",
            "Dried Shrooms",
        ],
        qty=[3.5, 7, 14, 28, 56, 100],
    ),
    "dmt": dict(
        cat="psychedelics",
        unit="g",
        price=80.0,
        names=["DMT", "N,N-DMT crystal", "5-MeO-DMT"],
        qty=[0.5, 1, 2, 5],
    ),
    "twocb": dict(
        cat="psychedelics",
        unit="pill",
        price=10.0,
        names=["2C-B pills", "2C-B Bees"],
        doses=[15, 20, 25],
        qty=[5, 10, 25, 50, 100],
    ),
    "benzos": dict(
        cat="prescription",
        unit="pill",
        price=2.5,
        names=[
            ("Xanax bars", 2),
            ("Alprazolam", 1),
            ("Diazepam", 10),
            ("Valium", 10),
            ("Clonazepam", 2),
            ("Lorazepam", 2.5),
        ],
        qty=[10, 20, 30, 50, 100, 200, 500, 1000],
    ),
    "opioid_rx": dict(
        cat="prescription",
        unit="pill",
        price=25.0,
        names=[
            ("Oxycodone", 30),
            ("OxyContin", 80),
            ("Percocet", 10),
            ("Hydrocodone", 10),
            ("Tramadol", 50),
        ],
        qty=[10, 20, 30, 50, 100],
    ),
    "stim_rx": dict(
        cat="prescription",
        unit="pill",
        price=4.0,
        names=[("Adderall", 30), ("Ritalin", 10), ("Modafinil", 200)],
        qty=[10, 20, 30, 60, 100, 500],
    ),
    "rc": dict(
        cat="nps",
        unit="g",
        price=15.0,
        names=[
            "3-MMC",
            "4-FA",
            "3-FPM",
            "Etizolam powder",
            "N-Ethylhexedrone",
            "4-CMC research chemical",
        ],
        qty=[1, 5, 10, 25, 50, 100],
    ),
    "ketamine": dict(
        cat="other_drug",
        unit="g",
        price=35.0,
        names=["Ketamine", "Special K", "Ketamine needles", "S-Ketamine"],
        qty=[1, 2, 5, 10, 25, 50],
    ),
    "ghb": dict(
        cat="other_drug", unit="ml", price=0.5, names=["GHB", "GBL"], qty=[100, 250, 500, 1000]
    ),
    "fraud": dict(
        cat="non_drug",
        unit=None,
        price=15.0,
        names=[
            "Fullz {cc} with SSN & DOB",
            "CVV {cc} high balance",
            "PayPal account with balance",
            "Bank login {cc}",
            "Scans: passport {cc}",
        ],
    ),
    "digital": dict(
        cat="non_drug",
        unit=None,
        price=5.0,
        names=[
            "Netflix Premium 1 year",
            "Spotify lifetime account",
            "Windows 10 Pro key",
            "VPN 12 months",
            "eBook bundle",
            "Digital scale 0.01g",
        ],
    ),
    "counterfeit": dict(
        cat="non_drug",
        unit=None,
        price=80.0,
        names=[
            "Fake 50 EUR notes",
            "Counterfeit 20 USD bills",
            "Replica Rolex Submariner",
            "Fake ID card {cc}",
            "Fake driver's license {cc}",
        ],
    ),
    "guides": dict(
        cat="non_drug",
        unit=None,
        price=10.0,
        names=[
            "Carding guide 2017",
            "How to cash out BTC anonymously",
            "Hacking tutorial pack",
            "Drop setup guide",
            "Social engineering bible",
        ],
    ),
    "other_goods": dict(
        cat="non_drug",
        unit=None,
        price=20.0,
        names=[
            "Drug test kit",
            "Stealth packaging service",
            "Vacuum sealer bags x100",
            "Custom listing",
        ],
    ),
}
KIND_MIX = {
    "cannabis": [("weed", 0.75), ("hash", 0.25)],
    "cocaine": [("cocaine", 0.9), ("crack", 0.1)],
    "opioids": [("heroin", 0.65), ("fentanyl", 0.2), ("opium", 0.15)],
    "stimulants": [("speed", 0.6), ("meth", 0.4)],
    "ecstasy": [("mdma", 0.5), ("xtc_pills", 0.5)],
    "psychedelics": [("lsd", 0.45), ("shrooms", 0.25), ("dmt", 0.15), ("twocb", 0.15)],
    "prescription": [("benzos", 0.5), ("opioid_rx", 0.3), ("stim_rx", 0.2)],
    "nps": [("rc", 0.7), ("synth_cannabinoid", 0.3)],
    "other_drug": [("ketamine", 0.8), ("ghb", 0.2)],
    "non_drug": [
        ("fraud", 0.35),
        ("digital", 0.25),
        ("counterfeit", 0.15),
        ("guides", 0.15),
        ("other_goods", 0.10),
    ],
}
KINDS = list(CATALOG)

# Each market's own category vocabulary (kind -> raw category path).
_AB = "Drugs & Chemicals/"
VOCABS: dict[str, dict[str, str]] = {
    "alphabay": {
        "weed": _AB + "Cannabis & Hashish/Weed",
        "hash": _AB + "Cannabis & Hashish/Hash",
        "synth_cannabinoid": _AB + "Cannabis & Hashish/Synthetics",
        "cocaine": _AB + "Stimulants/Cocaine",
        "crack": _AB + "Stimulants/Crack",
        "heroin": _AB + "Opioids/Heroin",
        "fentanyl": _AB + "Opioids/Fentanyl",
        "opium": _AB + "Opioids/Opium",
        "speed": _AB + "Stimulants/Speed",
        "meth": _AB + "Stimulants/Meth",
        "mdma": _AB + "Ecstasy/MDMA",
        "xtc_pills": _AB + "Ecstasy/Pills",
        "lsd": _AB + "Psychedelics/LSD",
        "shrooms": _AB + "Psychedelics/Shrooms",
        "dmt": _AB + "Psychedelics/DMT",
        "twocb": _AB + "Psychedelics/2C-B",
        "benzos": _AB + "Benzos",
        "opioid_rx": _AB + "Prescription/Painkillers",
        "stim_rx": _AB + "Prescription/ADHD & Nootropics",
        "rc": _AB + "Research Chemicals",
        "ketamine": _AB + "Dissociatives/Ketamine",
        "ghb": _AB + "Other/GHB",
        "fraud": "Fraud/Personal Information & Scans",
        "digital": "Digital Products/Software & Accounts",
        "counterfeit": "Counterfeit Items/Money & Replicas",
        "guides": "Guides & Tutorials/Fraud",
        "other_goods": "Other Listings/Paraphernalia",
    },
    "dream": {
        "weed": "Drugs/Cannabis/Buds & Flowers",
        "hash": "Drugs/Cannabis/Hash",
        "synth_cannabinoid": "Drugs/Cannabis/Synthetic",
        "cocaine": "Drugs/Stimulants/Cocaine",
        "crack": "Drugs/Stimulants/Crack",
        "heroin": "Drugs/Opioids/Heroin",
        "fentanyl": "Drugs/Opioids/Fentanyl",
        "opium": "Drugs/Opioids/Opium",
        "speed": "Drugs/Stimulants/Speed",
        "meth": "Drugs/Stimulants/Meth",
        "mdma": "Drugs/Ecstasy/MDMA",
        "xtc_pills": "Drugs/Ecstasy/Pills",
        "lsd": "Drugs/Psychedelics/LSD",
        "shrooms": "Drugs/Psychedelics/Mushrooms",
        "dmt": "Drugs/Psychedelics/DMT",
        "twocb": "Drugs/Psychedelics/2C-B",
        "benzos": "Drugs/Benzos",
        "opioid_rx": "Drugs/Prescription",
        "stim_rx": "Drugs/Prescription",
        "rc": "Drugs/RC",
        "ketamine": "Drugs/Dissociatives/Ketamine",
        "ghb": "Drugs/Other",
        "fraud": "Digital Goods/Fraud",
        "digital": "Digital Goods/Software",
        "counterfeit": "Other/Counterfeits",
        "guides": "Digital Goods/E-Books",
        "other_goods": "Other",
    },
    "hansa": {
        "weed": "Drugs/Weed",
        "hash": "Drugs/Hash",
        "synth_cannabinoid": "Drugs/Research Chemicals/Cannabinoids",
        "cocaine": "Drugs/Cocaine",
        "crack": "Drugs/Cocaine",
        "heroin": "Drugs/Opiates/Heroin",
        "fentanyl": "Drugs/Opiates/Fentanyl",
        "opium": "Drugs/Opiates/Opium",
        "speed": "Drugs/Speed",
        "meth": "Drugs/Meth",
        "mdma": "Drugs/MDMA",
        "xtc_pills": "Drugs/XTC",
        "lsd": "Drugs/Psychedelics/LSD",
        "shrooms": "Drugs/Psychedelics/Shrooms",
        "dmt": "Drugs/Psychedelics/DMT",
        "twocb": "Drugs/Psychedelics/2C-x",
        "benzos": "Drugs/Benzodiazepines",
        "opioid_rx": "Drugs/Pharmacy/Painkillers",
        "stim_rx": "Drugs/Pharmacy/Other",
        "rc": "Drugs/Research Chemicals",
        "ketamine": "Drugs/Dissociatives",
        "ghb": "Drugs/GHB & GBL",
        "fraud": "Fraud",
        "digital": "Digital Goods",
        "counterfeit": "Counterfeits",
        "guides": "Tutorials",
        "other_goods": "Misc",
    },
    "valhalla": {
        "weed": "Päihteet/Kannabis/Marihuana",
        "hash": "Päihteet/Kannabis/Hasis",
        "synth_cannabinoid": "Päihteet/Muuntohuumeet/Kannabinoidit",
        "cocaine": "Päihteet/Stimulantit/Kokaiini",
        "crack": "Päihteet/Stimulantit/Kokaiini",
        "heroin": "Päihteet/Opiaatit/Heroiini",
        "fentanyl": "Päihteet/Opiaatit/Fentanyyli",
        "opium": "Päihteet/Opiaatit/Oopium",
        "speed": "Päihteet/Stimulantit/Amfetamiini",
        "meth": "Päihteet/Stimulantit/Metamfetamiini",
        "mdma": "Päihteet/Ekstaasi/MDMA",
        "xtc_pills": "Päihteet/Ekstaasi/Pillerit",
        "lsd": "Päihteet/Psykedeelit/LSD",
        "shrooms": "Päihteet/Psykedeelit/Sienet",
        "dmt": "Päihteet/Psykedeelit/DMT",
        "twocb": "Päihteet/Psykedeelit/2C-B",
        "benzos": "Lääkkeet/Bentsodiatsepiinit",
        "opioid_rx": "Lääkkeet/Kipulääkkeet",
        "stim_rx": "Lääkkeet/Muut",
        "rc": "Päihteet/Muuntohuumeet",
        "ketamine": "Päihteet/Dissosiatiivit/Ketamiini",
        "ghb": "Päihteet/GHB",
        "fraud": "Petokset",
        "digital": "Digitaaliset tuotteet",
        "counterfeit": "Väärennökset",
        "guides": "Oppaat",
        "other_goods": "Muut",
    },
    "traderoute": {
        "weed": "Drugs » Cannabis » Weed",
        "hash": "Drugs » Cannabis » Hashish",
        "synth_cannabinoid": "Drugs » RCs » Synthetic Cannabinoids",
        "cocaine": "Drugs » Cocaine",
        "crack": "Drugs » Cocaine » Crack",
        "heroin": "Drugs » Opiates » Heroin",
        "fentanyl": "Drugs » Opiates » Fentanyl",
        "opium": "Drugs » Opiates » Opium",
        "speed": "Drugs » Stimulants » Amphetamine",
        "meth": "Drugs » Stimulants » Meth",
        "mdma": "Drugs » Ecstasy » MDMA",
        "xtc_pills": "Drugs » Ecstasy » Pills",
        "lsd": "Drugs » Psychedelics » LSD",
        "shrooms": "Drugs » Psychedelics » Mushrooms",
        "dmt": "Drugs » Psychedelics » DMT",
        "twocb": "Drugs » Psychedelics » 2C-B",
        "benzos": "Drugs » Benzos",
        "opioid_rx": "Drugs » Pharmacy » Opioid Pills",
        "stim_rx": "Drugs » Pharmacy » Stimulant Pills",
        "rc": "Drugs » RCs",
        "ketamine": "Drugs » Dissociatives » Ketamine",
        "ghb": "Drugs » Other",
        "fraud": "Fraud » Accounts",
        "digital": "Digital » Software",
        "counterfeit": "Counterfeit",
        "guides": "Digital » Guides",
        "other_goods": "Other",
    },
    "wallstreet": {
        "weed": "Drugs/Cannabis/Flowers",
        "hash": "Drugs/Cannabis/Hash",
        "synth_cannabinoid": "Drugs/RCs/Cannabinoids",
        "cocaine": "Drugs/Cocaine/Powder",
        "crack": "Drugs/Cocaine/Crack",
        "heroin": "Drugs/Opioids/Heroin",
        "fentanyl": "Drugs/Opioids/Fentanyl",
        "opium": "Drugs/Opioids/Opium",
        "speed": "Drugs/Amphetamines/Speed",
        "meth": "Drugs/Amphetamines/Meth",
        "mdma": "Drugs/Ecstasy/MDMA",
        "xtc_pills": "Drugs/Ecstasy/Pills",
        "lsd": "Drugs/Psychedelics/LSD",
        "shrooms": "Drugs/Psychedelics/Mushrooms",
        "dmt": "Drugs/Psychedelics/DMT",
        "twocb": "Drugs/Psychedelics/2C-B",
        "benzos": "Drugs/Benzos",
        "opioid_rx": "Drugs/Prescription",
        "stim_rx": "Drugs/Prescription",
        "rc": "Drugs/RCs",
        "ketamine": "Drugs/Dissociatives/Ketamine",
        "ghb": "Drugs/Other",
        "fraud": "Fraud/Dumps & CVV",
        "digital": "Software & Malware",
        "counterfeit": "Counterfeit",
        "guides": "Guides & Tutorials",
        "other_goods": "Other",
    },
    "tochka": {
        "weed": "drugs > cannabis > weed",
        "hash": "drugs > cannabis > hash",
        "synth_cannabinoid": "drugs > cannabis > synthetic",
        "cocaine": "drugs > stimulants > cocaine",
        "crack": "drugs > stimulants > crack",
        "heroin": "drugs > opiates > heroin",
        "fentanyl": "drugs > opiates > fentanyl",
        "opium": "drugs > opiates > opium",
        "speed": "drugs > stimulants > amphetamine",
        "meth": "drugs > stimulants > methamphetamine",
        "mdma": "drugs > empathogens > mdma",
        "xtc_pills": "drugs > empathogens > ecstasy",
        "lsd": "drugs > psychedelics > lsd",
        "shrooms": "drugs > psychedelics > mushrooms",
        "dmt": "drugs > psychedelics > dmt",
        "twocb": "drugs > psychedelics > 2c-b",
        "benzos": "drugs > benzodiazepines",
        "opioid_rx": "drugs > pharma > opioids",
        "stim_rx": "drugs > pharma > stimulants",
        "rc": "drugs > research chemicals",
        "ketamine": "drugs > dissociatives > ketamine",
        "ghb": "drugs > other",
        "fraud": "digital > fraud",
        "digital": "digital > software",
        "counterfeit": "other > counterfeits",
        "guides": "digital > guides",
        "other_goods": "other",
    },
    "berlusconi": {
        "weed": "Drugs/Weed & Hash/Weed",
        "hash": "Drugs/Weed & Hash/Hashish",
        "synth_cannabinoid": "Drugs/Weed & Hash/Synthetics",
        "cocaine": "Drugs/Coke",
        "crack": "Drugs/Coke",
        "heroin": "Drugs/Opiates",
        "fentanyl": "Drugs/Opiates",
        "opium": "Drugs/Opiates",
        "speed": "Drugs/Speed & Meth",
        "meth": "Drugs/Speed & Meth",
        "mdma": "Drugs/Ecstasy & MDMA",
        "xtc_pills": "Drugs/Ecstasy & MDMA",
        "lsd": "Drugs/Psychedelics",
        "shrooms": "Drugs/Psychedelics",
        "dmt": "Drugs/Psychedelics",
        "twocb": "Drugs/Psychedelics",
        "benzos": "Drugs/Pharma/Benzos",
        "opioid_rx": "Drugs/Pharma/Pain",
        "stim_rx": "Drugs/Pharma/Other",
        "rc": "Drugs/RC",
        "ketamine": "Drugs/Others",
        "ghb": "Drugs/Others",
        "fraud": "Fraud & Cards",
        "digital": "Digital Items",
        "counterfeit": "Fake Docs & Money",
        "guides": "Guides",
        "other_goods": "Miscellaneous",
    },
}
VOCAB_ORDER = list(VOCABS)
KNOWN_STYLES = {
    "alphabay": {"id_fmt": "ab-{:06d}", "escape": True, "thousands": True},
    "dream": {"id_fmt": "{:d}", "escape": False, "thousands": True},
    "hansa": {"id_fmt": "h{:07d}", "escape": False, "thousands": False},
    "valhalla": {"id_fmt": "vh-{:05d}", "escape": True, "thousands": False},
    "traderoute": {"id_fmt": "tr{:06d}", "escape": True, "thousands": True},
    "wallstreet": {"id_fmt": "wsm-{:06d}", "escape": False, "thousands": False},
    "tochka": {"id_fmt": "{:d}", "escape": False, "thousands": True},
    "berlusconi": {"id_fmt": "bm{:06d}", "escape": False, "thousands": False},
}


def _market_style(slug: str, index: int) -> dict:
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


# Attacker-controlled titles. The URLs are relative, so that a browser showing a
# report that failed to escape them would request /leak/... from the server the
# report came from (the headless-browser test serves it and watches).
HOSTILE_PAYLOADS = [
    "<script>fetch('/leak/script')</script>",
    "<img src=/leak/img onerror=fetch('/leak/onerror')>",
    "**[click](/leak/link)** ![x](/leak/md-image)",
    "{{< include /etc/passwd >}}",
    "#set page(fill: red)",
    "\\input{/etc/passwd}",
]
DRUG_EXTRAS = [
    "FREE SHIPPING",
    "Free Shipping & Tracking",
    "Top Quality",
    "TOP QUALITY!!!",
    "Fast & Discreet",
    "Escrow",
    "Stealth",
    "Best Price",
    "NEW",
    "Sample",
    "Lab tested",
    "$$$ BEST PRICE $$$",
    "100% pure",
    "#1 vendor",
    "*** TOP ***",
    "50% OFF",
    "Vendor's choice",
    "Grandma's recipe",
    "Next Day Delivery",
    "Bulk",
    "Wholesale",
    '"Premium"',
    "<3 quality",
    "A+++",
    "_NEW_",
]
NONDRUG_EXTRAS = [
    "Instant delivery",
    "Auto-dispatch",
    "Lifetime warranty",
    "Fresh & valid",
    "100% working",
    "Best on market",
    "Vendor's pick",
]
DRUG_TEMPLATES = [
    "{q} {n}",
    "{n} {q}",
    "{q} {n} - {x}",
    "{n} - {q} - {x}",
    "[{cc}] {q} {n}",
    "{x} | {n} | {q}",
    "*** {n} {q} ***",
    "{q} of {n} {x}",
    "{n} ({q}) {x}",
]
NONDRUG_TEMPLATES = ["{n}", "{n} - {x}", "[{cc}] {n}", "{n} | {x}"]
EMOJI = ["🔥", "❄️", "🍄", "💊", "🌿", "⭐", "🚀", "💎"]
ALIAS_PREFIXES = [
    "Dr",
    "Mr",
    "The",
    "Captain",
    "Big",
    "Lord",
    "King",
    "Lady",
    "Uncle",
    "Baron",
    "Doc",
]
ALIAS_WORDS = [
    "White",
    "Green",
    "Dutch",
    "Nordic",
    "Candy",
    "Dragon",
    "Kush",
    "Snow",
    "Crystal",
    "Panda",
    "Wizard",
    "Rabbit",
    "Tesla",
    "Pharma",
    "Express",
    "Quality",
    "Chemist",
    "Cartel",
    "Factory",
    "Garden",
    "Medic",
    "Bazaar",
    "Apotheke",
    "Euro",
    "Berlin",
    "Amsterdam",
    "London",
    "Cali",
    "Golden",
    "Silver",
    "Black",
    "Blue",
    "Frosty",
    "Happy",
    "Lucky",
    "Secret",
    "Stealth",
    "Fast",
    "Organic",
    "Alpine",
    "Viking",
    "Ghost",
    "Shadow",
    "Moon",
    "Star",
    "Lion",
    "Wolf",
    "Fox",
    "Owl",
    "Tiger",
    "Bear",
    "Cookie",
    "Muffin",
    "Honey",
    "Pepper",
    "Lemon",
    "Cherry",
    "Rocket",
    "Cloud",
]
ALIAS_SUFFIXES = [
    "420",
    "69",
    "UK",
    "NL",
    "DE",
    "Official",
    "Store",
    "Direct",
    "24",
    "2k17",
    "X",
    "Shop",
    "Labs",
    "Bros",
    "Connect",
]

BTC_ANCHORS = [
    ("2016-01-01", 430),
    ("2016-07-01", 670),
    ("2017-01-01", 1000),
    ("2017-02-01", 970),
    ("2017-03-01", 1190),
    ("2017-04-01", 1080),
    ("2017-05-01", 1420),
    ("2017-05-25", 2400),
    ("2017-06-12", 2900),
    ("2017-07-01", 2500),
    ("2017-07-16", 1950),
    ("2017-08-01", 2750),
    ("2017-09-01", 4700),
    ("2017-09-15", 3600),
    ("2017-10-01", 4300),
    ("2017-11-01", 6400),
    ("2017-11-28", 9800),
    ("2017-12-17", 19000),
    ("2017-12-22", 14000),
    ("2018-01-01", 13500),
    ("2018-01-17", 11000),
    ("2018-02-06", 7000),
    ("2018-02-20", 11200),
    ("2018-03-01", 10900),
    ("2018-04-01", 6900),
    ("2018-05-05", 9700),
    ("2018-06-01", 7500),
    ("2018-06-30", 6400),
    ("2018-12-31", 3700),
    ("2019-06-30", 10800),
]
EUR_ANCHORS = [
    ("2016-01-01", 1.09),
    ("2017-01-01", 1.05),
    ("2017-04-01", 1.07),
    ("2017-07-01", 1.14),
    ("2017-09-01", 1.19),
    ("2017-12-31", 1.20),
    ("2018-02-15", 1.24),
    ("2018-04-15", 1.23),
    ("2018-06-30", 1.17),
    ("2019-06-30", 1.13),
]


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _pick(rng: np.random.Generator, n: int, weights) -> np.ndarray:
    """n indices drawn with the given (unnormalised) weights."""
    w = np.asarray(weights, dtype=float)
    c = np.cumsum(w / w.sum())
    c[-1] = 1.0
    return np.searchsorted(c, rng.random(n), side="right")


def _pick_u(u: float, weights) -> int:
    total = float(sum(weights))
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w / total
        if u < acc:
            return i
    return len(weights) - 1


def _alias_key(alias: str) -> str:
    return re.sub(r"[^0-9a-z]", "", alias.casefold())


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _flag(code: str) -> str:
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code)


def _fmt_usd(x: float, dollar: bool) -> str:
    return f"${x:,.2f}" if dollar else f"USD {x:,.2f}"


def _de_number(x: float) -> str:
    return f"{x:,.2f}".replace(",", "\0").replace(".", ",").replace("\0", ".")


def _fmt_eur(x: float, prefix: bool) -> str:
    return f"EUR {_de_number(x)}" if prefix else f"{_de_number(x)} €"


def _fmt_btc(x: float, prefix: bool) -> str:
    dec = max(5, 3 - math.floor(math.log10(x))) if x > 0 else 5
    if prefix:
        s = f"{x:.{dec}f}".rstrip("0").rstrip(".")
        return f"BTC {s}"
    return f"{x:.{dec}f} BTC"


def _fmt_count(n: int, thousands: bool) -> str:
    return f"{n:,}" if thousands else str(n)


def _fmt_qty_num(q: float, decimal_comma: bool) -> str:
    s = f"{q:g}"
    return s.replace(".", ",") if decimal_comma else s


def _quantity_text(kind: str, q: float, dose, u: float, decimal_comma: bool) -> str:
    unit = CATALOG[kind]["unit"]
    if unit == "g":
        if q < 1 and u < 0.5:
            return f"{int(round(q * 1000))}mg"
        if q in (28, 56) and u < 0.6:
            return f"{int(q // 28)}oz" if u < 0.4 else f"{int(q // 28)} oz"
        if q == 1000 and u < 0.5:
            return "1kg"
        num = _fmt_qty_num(q, decimal_comma)
        forms = [f"{num}g", f"{num} g", f"{num} grams", f"{num}gr", f"{num}G"]
        return forms[min(int(u * len(forms)), len(forms) - 1)]
    if unit == "ml":
        if q == 1000 and u < 0.5:
            return "1L"
        return f"{int(q)}ml" if u < 0.7 else f"{int(q)} ml"
    if unit == "tab":
        forms = [
            f"{int(q)} tabs",
            f"{int(q)} x {dose}ug",
            f"{int(q)} blotters",
            f"{int(q)}x {dose}ug",
        ]
        return forms[min(int(u * len(forms)), len(forms) - 1)]
    forms = [f"{int(q)} x {dose}mg", f"{int(q)}x {dose}mg", f"{int(q)} pills", f"{int(q)} pcs"]
    return forms[min(int(u * len(forms)), len(forms) - 1)]


class _AliasMaker:
    """Unique aliases (unique after casefolding and removing separators)."""

    def __init__(self) -> None:
        self.used: dict[str, None] = {}

    def _claim(self, alias: str, rng: np.random.Generator) -> str:
        base = alias
        while _alias_key(alias) in self.used or len(_alias_key(alias)) < 3:
            alias = f"{base}{int(rng.integers(2, 1000))}"
        self.used[_alias_key(alias)] = None
        return alias

    def new(self, rng: np.random.Generator) -> str:
        for _ in range(8):  # a few fresh combinations before falling back to digits
            alias = self._combination(rng)
            if _alias_key(alias) not in self.used:
                break
        return self._claim(alias, rng)

    @staticmethod
    def _combination(rng: np.random.Generator) -> str:
        u = rng.integers(0, 10_000, size=6)
        w1 = ALIAS_WORDS[u[0] % len(ALIAS_WORDS)]
        w2 = ALIAS_WORDS[u[1] % len(ALIAS_WORDS)]
        pre = ALIAS_PREFIXES[u[2] % len(ALIAS_PREFIXES)]
        suf = ALIAS_SUFFIXES[u[3] % len(ALIAS_SUFFIXES)]
        style = u[4] % 7
        if style == 0:
            alias = pre + w1
        elif style == 1:
            alias = w1 + w2
        elif style == 2:
            alias = f"{w1.lower()}_{w2.lower()}"
        elif style == 3:
            alias = w1 + w2 + suf
        elif style == 4:
            alias = f"{pre}_{w1}"
        elif style == 5:
            alias = f"{w1.lower()}{w2.lower()}{u[5] % 100}"
        else:
            alias = f"{w1}-{w2}".upper() if u[5] % 2 else f"{w1}.{w2}"
        return alias

    def variant(self, alias: str, country: str, rng: np.random.Generator) -> str:
        u = rng.integers(0, 10_000, size=2)
        forms = [
            f"{alias}{u[1] % 98 + 2}",
            f"{alias}_{country}",
            f"Real{alias}",
            f"{alias}Reloaded",
            f"{alias}_Official",
            f"New{alias}",
            f"{alias}_back",
            f"{alias}2",
        ]
        return self._claim(forms[u[0] % len(forms)], rng)


def _pgp(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.integers(0, 256, size=(n, 20), dtype=np.uint8)
    return [bytes(row).hex().upper() for row in raw]


def _date_str(start: dt.date, day: int) -> str:
    return (start + dt.timedelta(days=int(day))).isoformat()


# --------------------------------------------------------------------------
# Rates and demand
# --------------------------------------------------------------------------


def _interp_anchors(cfg: _Config, anchors, log_space: bool) -> np.ndarray:
    xs = np.array([(dt.date.fromisoformat(d) - cfg.start).days for d, _ in anchors], dtype=float)
    ys = np.array([v for _, v in anchors], dtype=float)
    days = np.arange(cfg.n_days, dtype=float)
    if log_space:
        return np.exp(np.interp(days, xs, np.log(ys)))
    return np.interp(days, xs, ys)


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    eps = rng.normal(0.0, sd, size=n)
    out = np.empty(n)
    prev = rng.normal(0.0, sd / math.sqrt(1 - phi * phi))
    for i in range(n):
        prev = phi * prev + eps[i]
        out[i] = prev
    return out


def _rates(cfg: _Config) -> tuple[np.ndarray, np.ndarray]:
    rng = _rng(cfg.seed, _S_RATES)
    btc = _interp_anchors(cfg, BTC_ANCHORS, True) * np.exp(_ar1(rng, cfg.n_days, 0.9, 0.012))
    eur = _interp_anchors(cfg, EUR_ANCHORS, False) * np.exp(_ar1(rng, cfg.n_days, 0.95, 0.002))
    return np.round(btc, 2), np.round(eur, 4)


def _events(cfg: _Config) -> list[dict]:
    """Closure events: clusters of takedowns (< 30 days apart) and other closures."""
    tds = sorted((m for m in cfg.markets if m.takedown), key=lambda m: (m.closed, m.index))
    events: list[dict] = []
    for m in tds:
        if (
            events
            and events[-1]["takedown"]
            and (m.closed - events[-1]["date"]).days < FIXED["event_cluster_days"]
        ):
            events[-1]["markets"].append(m)
        else:
            events.append({"takedown": True, "date": m.closed, "markets": [m]})
    for m in cfg.markets:
        if m.closed is not None and not m.takedown:
            events.append({"takedown": False, "date": m.closed, "markets": [m]})
    for ev in events:
        slugs = [m.slug for m in ev["markets"]]
        if ev["takedown"]:
            ev["key"] = (
                "bayonet" if {"alphabay", "hansa"} <= set(slugs) else "takedown_" + "_".join(slugs)
            )
        else:
            ev["key"] = f"{ev['markets'][0].closure}_{slugs[0]}"
        ev["t0"] = (ev["date"] - cfg.start).days
    events.sort(key=lambda e: (e["date"], e["key"]))
    return events


def _demand(cfg: _Config, events: list[dict]) -> np.ndarray:
    t = np.arange(cfg.n_days, dtype=float)
    m = np.ones(cfg.n_days)
    dip, rec = cfg.demand["dip"], cfg.demand["recovery_days"]
    for ev in events:
        if ev["takedown"]:
            after = t >= ev["t0"]
            m[after] *= 1.0 - dip * np.exp(-(t[after] - ev["t0"]) / rec)
    return m


def _open_matrix(cfg: _Config) -> np.ndarray:
    days = np.arange(cfg.n_days)[:, None]
    opened = np.array([m.open_day for m in cfg.markets])[None, :]
    closed = np.array([m.close_day for m in cfg.markets])[None, :]
    return (days >= opened) & (days < closed)


# --------------------------------------------------------------------------
# Vendors, spells, migration
# --------------------------------------------------------------------------


@dataclass
class _Vendors:
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
    alias_maker: _AliasMaker | None = None


def _category_table(cfg: _Config) -> dict[str, np.ndarray]:
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


def _make_vendors(
    cfg: _Config, demand: np.ndarray, open_mat: np.ndarray
) -> tuple[_Vendors, np.ndarray, np.ndarray]:
    rng = _rng(cfg.seed, _S_VENDORS)
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
    eu_idx = _pick(rng, n, [w for _, w in EU_MIX])
    non_idx = _pick(rng, n, [w for _, w in NON_EU_MIX])
    country = [
        EU_MIX[i][0] if e else NON_EU_MIX[j][0] for e, i, j in zip(eu, eu_idx, non_idx, strict=True)
    ]
    table = _category_table(cfg)
    u_cat = rng.random(n)
    main_cat = np.array(
        [_pick_u_cum(u, table[c]) for u, c in zip(u_cat, country, strict=True)], dtype=np.int64
    )
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
    home = _row_pick(w, u_home)
    w2 = w.copy()
    w2[np.arange(n), home] = 0.0
    has_second = (u_multi < p["multi_home_share"]) & (w2.sum(axis=1) > 0)
    second = np.where(has_second, _row_pick(w2, u_second), -1)
    maker = _AliasMaker()
    alias_rng = _rng(cfg.seed, _S_VENDORS, 1)
    alias = [maker.new(alias_rng) for _ in range(n)]
    pgp = _pgp(_rng(cfg.seed, _S_VENDORS, 2), n)
    vendors = _Vendors(
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


def _pick_u_cum(u: float, probs: np.ndarray) -> int:
    c = np.cumsum(probs)
    return int(min(np.searchsorted(c / c[-1], u, side="right"), len(probs) - 1))


def _row_pick(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    total = weights.sum(axis=1, keepdims=True)
    c = np.cumsum(weights / np.where(total > 0, total, 1.0), axis=1)
    idx = (u[:, None] >= c).sum(axis=1)
    return np.minimum(idx, weights.shape[1] - 1)


@dataclass
class _Spells:
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
        for k, v in kw.items():
            getattr(self, k).append(v)
        return len(self.uid) - 1

    def __len__(self) -> int:
        return len(self.uid)


def _make_spells(
    cfg: _Config,
    v: _Vendors,
    home: np.ndarray,
    second: np.ndarray,
    events: list[dict],
    open_mat: np.ndarray,
) -> tuple[_Spells, list[dict]]:
    sp = _Spells()
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
    by_uid: dict[int, list[int]] = {}
    for s, u in enumerate(sp.uid):
        by_uid.setdefault(u, []).append(s)

    mig = cfg.migration
    rng = _rng(cfg.seed, _S_MIGRATION)
    alias_rng = _rng(cfg.seed, _S_MIGRATION, 1)
    maker = v.alias_maker
    sizes = np.array([m.size for m in cfg.markets]) ** mig["size_preference"]
    scale_g = mig["delay_mean_days"] / mig["delay_shape"]
    closures = []
    for ev in events:
        for m in ev["markets"]:
            if 0 < m.close_day < cfg.n_days:
                closures.append((m.close_day, m.index, ev["key"]))
    closures.sort()
    records: list[dict] = []
    for c_day, mk, key in closures:
        reason = "closure_" + (cfg.markets[mk].closure or "unknown")
        displaced = [
            s for s in range(len(sp)) if sp.market[s] == mk and sp.first[s] < c_day <= sp.last[s]
        ]
        for s in displaced:
            sp.last[s] = c_day - 1
            sp.end_reason[s] = reason
            u_mig, u_alias, u_kind, u_pgp, u_dest = rng.random(5)
            delay = max(1, int(math.ceil(rng.gamma(mig["delay_shape"], scale_g))))
            life = max(1, int(math.ceil(rng.exponential(cfg.p["vendor_mean_lifetime_days"]))))
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
            records.append(rec)
            if not decided or r >= cfg.n_days:
                continue
            cand = open_mat[r].copy()
            for o in by_uid[uid]:
                if sp.first[o] <= r <= sp.last[o]:
                    cand[sp.market[o]] = False
            w = np.where(cand, sizes, 0.0)
            if w.sum() <= 0:
                continue
            dest = _pick_u(u_dest, list(w))
            alias_changed = bool(u_alias < mig["alias_change_probability"])
            kind = ""
            alias = sp.alias[s]
            if alias_changed:
                if u_kind < FIXED["alias_change_new_vs_variant"]:
                    kind, alias = "new", maker.new(alias_rng)
                else:
                    kind, alias = "variant", maker.variant(alias, v.country[uid], alias_rng)
            pgp_changed = bool(u_pgp < mig["pgp_change_probability"])
            pgp = _pgp(alias_rng, 1)[0] if pgp_changed else sp.pgp[s]
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
            by_uid[uid].append(ns)
            rec.update(
                migrated=True,
                dest=dest,
                alias_changed=alias_changed,
                alias_kind=kind,
                pgp_changed=pgp_changed,
                new_spell=ns,
            )
    for s in range(len(sp)):
        if sp.last[s] >= cfg.n_days:
            sp.last[s] = cfg.n_days - 1
            sp.end_reason[s] = "active_at_end"
    return sp, records


# --------------------------------------------------------------------------
# Listings
# --------------------------------------------------------------------------


@dataclass
class _Listings:
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
    listing_id: np.ndarray
    title: np.ndarray
    category: np.ndarray
    ships_from: np.ndarray
    ships_to: np.ndarray
    alt_price: np.ndarray
    hostile: np.ndarray
    usd_price_text: np.ndarray


def _make_listings(cfg: _Config, v: _Vendors, sp: _Spells) -> _Listings:
    rng = _rng(cfg.seed, _S_LISTINGS)
    p = cfg.p
    n_sp = len(sp)
    s_uid = np.array(sp.uid, dtype=np.int64)
    s_first = np.array(sp.first, dtype=np.int64)
    s_last = np.array(sp.last, dtype=np.int64)
    s_market = np.array(sp.market, dtype=np.int64)
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
    end = np.concatenate(parts_end)
    rnd_arr = np.concatenate(parts_round)
    market = s_market[spell]
    order = np.lexsort((spell, start, market))
    spell, start, end, rnd_arr, market = (
        spell[order],
        start[order],
        end[order],
        rnd_arr[order],
        market[order],
    )
    n = len(spell)
    uid = s_uid[spell]
    # categories and kinds
    main = v.main_cat[uid]
    mix = np.array([w for _, w in DRUG_CATEGORY_MIX]) * (1 - p["non_drug_share"])
    mix = np.append(mix, p["non_drug_share"])
    other = _pick(rng, n, mix)
    cat = np.where(rng.random(n) < FIXED["main_category_listing_share"], main, other)
    u_kind = rng.random(n)
    kind = np.empty(n, dtype=np.int64)
    for ci, cname in enumerate(CATEGORIES):
        sel = cat == ci
        ks = KIND_MIX[cname]
        idx = np.array([_pick_u(u, [w for _, w in ks]) for u in u_kind[sel]], dtype=np.int64)
        kind[sel] = (
            np.array([KINDS.index(ks[i][0]) for i in idx], dtype=np.int64) if idx.size else idx
        )
    # quantities, names, prices
    u_q, u_name, u_dose = rng.random(n), rng.random(n), rng.random(n)
    noise = np.exp(rng.normal(0.0, FIXED["listing_price_noise_sigma"], size=n))
    nd_price = np.exp(rng.normal(0.0, 0.8, size=n))
    age = rng.exponential(mean_life, size=n)
    hostile = rng.random(n) < p["hostile_title_share"]
    alt_price = rng.random(n) < 0.3
    el = FIXED["price_quantity_elasticity"]
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
        qw = 1.0 / (np.arange(len(qs)) + 1.0) ** 0.8
        qty[sel] = qs[
            np.searchsorted(np.cumsum(qw) / qw.sum(), u_q[sel], side="right").clip(0, len(qs) - 1)
        ]
        if "doses" in spec:
            ds = np.array(spec["doses"], dtype=float)
            dose[sel] = ds[np.minimum((u_dose[sel] * len(ds)).astype(np.int64), len(ds) - 1)]
        elif isinstance(names[0], tuple):
            dose[sel] = np.array([names[i][1] for i in name_i[sel]], dtype=float)
        unit_price[sel] = spec["price"]
    country_factor = np.array([COUNTRY_PRICE.get(c, 1.0) for c in v.country])[uid]
    price = unit_price * qty**el * v.price_level[uid] * noise * country_factor
    price = np.maximum(np.round(price, 2), 0.5)
    is_initial = (uid < v.n_initial) & (start == 0) & (rnd_arr == 0)
    rate = p["sales_per_listing_day"] * v.size[uid]
    fb0 = np.where(is_initial, rng.poisson(age * rate * p["feedback_probability"]), 0)
    # listing ids: per market, increasing with time of creation
    listing_id = np.empty(n, dtype=object)
    for m in cfg.markets:
        sel = np.flatnonzero(market == m.index)
        fmt, off = m.style["id_fmt"], m.style["id_offset"]
        listing_id[sel] = [fmt.format(off + j) for j in range(sel.size)]
    lst = _Listings(
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
        listing_id=listing_id,
        title=np.empty(n, dtype=object),
        category=np.empty(n, dtype=object),
        ships_from=np.empty(n, dtype=object),
        ships_to=np.empty(n, dtype=object),
        alt_price=alt_price,
        hostile=hostile,
        usd_price_text=np.empty(n, dtype=object),
    )
    _listing_texts(cfg, v, lst, qty, name_i, dose)
    return lst


def _listing_texts(cfg: _Config, v: _Vendors, lst: _Listings, qty, name_i, dose) -> None:
    """Titles, category paths, ships-from/to texts and USD price texts (fixed per listing)."""
    rng = _rng(cfg.seed, _S_TEXT)
    u = rng.random((lst.n, 12))
    markets = cfg.markets
    vocab = [VOCABS[m.style["vocab"]] for m in markets]
    escape = [m.style["escape"] for m in markets]
    eur_market = [m.price_style == "eur" for m in markets]
    usd_market = [m.price_style == "usd" for m in markets]
    variants = {c: v_ for c, v_ in COUNTRY_VARIANTS.items()}
    region_opts = {k: ([s for s, _ in o], [w for _, w in o]) for k, o in REGION_SHIPS_FROM.items()}
    pref_share = FIXED["preferred_country_spelling_share"]
    for i in range(lst.n):
        ui = u[i]
        kname = KINDS[lst.kind[i]]
        spec = CATALOG[kname]
        mk = int(lst.market[i])
        uid = int(lst.uid[i])
        cc = v.country[uid]
        # ships_from
        if v.region_only[uid]:
            grp = "eu" if v.eu[uid] else ("europe" if cc in EUROPE_NON_EU else "other")
            opts, ws = region_opts[grp]
            sf = opts[_pick_u(ui[0], ws)]
        else:
            vs = variants[cc]
            if ui[0] < pref_share:
                j = int(v.pref_variant[uid]) % 100
                j = 0 if j < 55 else 1 + (j - 55) % (len(vs) - 1)
            else:
                j = min(int(ui[1] * len(vs)), len(vs) - 1)
            sf = vs[j]
            if ui[2] < 0.01:
                sf = f"{_flag('GB' if cc == 'GB' else cc)} {sf}"
        lst.ships_from[i] = sf
        # ships_to
        t = ui[3]
        name0 = COUNTRY_VARIANTS[cc][0]
        if t < 0.35:
            st = "Worldwide"
        elif t < 0.40:
            st = "World Wide"
        elif t < 0.52:
            st = "EU" if v.eu[uid] else "Worldwide"
        elif t < 0.60:
            if v.eu[uid] or cc in EUROPE_NON_EU:
                st = "Europe"
            else:
                st = "North America" if cc in ("US", "CA") else "Worldwide"
        elif t < 0.72:
            st = name0 if ui[4] < 0.5 else sf
        elif t < 0.87:
            st = SHIPS_TO_LISTS.get(cc, f"{name0} only")
        elif t < 0.92:
            st = "Worldwide except USA"
        elif t < 0.95:
            st = "Worldwide except Australia"
        else:
            st = "World Wide" if ui[4] < 0.5 else "worldwide"
        lst.ships_to[i] = st
        # category path
        lst.category[i] = vocab[mk][kname]
        # title
        name = spec["names"][name_i[i]]
        if isinstance(name, tuple):
            name = name[0]
        name = name.replace("{cc}", cc if cc != "GB" else "UK")
        if ui[5] < 0.01:
            name = _fullwidth(name)
        if spec["unit"] is None:
            x = NONDRUG_EXTRAS[min(int(ui[6] * len(NONDRUG_EXTRAS)), len(NONDRUG_EXTRAS) - 1)]
            tpl = NONDRUG_TEMPLATES[
                min(int(ui[7] * len(NONDRUG_TEMPLATES)), len(NONDRUG_TEMPLATES) - 1)
            ]
            title = tpl.format(n=name, x=x, cc=cc if cc != "GB" else "UK")
        else:
            d = dose[i]
            d_txt = f"{d:g}"
            q = _quantity_text(kname, float(qty[i]), d_txt, ui[8], eur_market[mk] and ui[9] < 0.3)
            x = DRUG_EXTRAS[min(int(ui[6] * len(DRUG_EXTRAS)), len(DRUG_EXTRAS) - 1)]
            tpl = DRUG_TEMPLATES[min(int(ui[7] * len(DRUG_TEMPLATES)), len(DRUG_TEMPLATES) - 1)]
            title = tpl.format(n=name, q=q, x=x, cc=cc if cc != "GB" else "UK")
        if ui[10] < 0.03:
            e = EMOJI[int(ui[10] * 1000) % len(EMOJI)]
            title = f"{e} {title} {e}" if ui[11] < 0.5 else f"{title} {e}"
        elif ui[10] < 0.035:
            title = title.replace(" ", "\u00a0", 1)
        if escape[mk] or ui[9] > 0.98:
            title = title.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&quot;")
        if lst.hostile[i]:
            payload = HOSTILE_PAYLOADS[int(ui[11] * 1e6) % len(HOSTILE_PAYLOADS)]
            title = f"{title} {payload}" if ui[4] < 0.6 else f"{payload} {title}"
        lst.title[i] = title
        if usd_market[mk]:
            lst.usd_price_text[i] = _fmt_usd(float(lst.price_usd[i]), bool(lst.alt_price[i]))


# --------------------------------------------------------------------------
# Crawls
# --------------------------------------------------------------------------


def _crawl_schedule(cfg: _Config) -> dict[int, list[tuple[int, float, int]]]:
    """day -> [(market index, coverage, start second)], per market its own stream."""
    plan: dict[int, list[tuple[int, float, int]]] = {}
    lo, hi = FIXED["low_coverage_range"]
    for m in cfg.markets:
        first, stop = m.open_day, min(m.close_day, cfg.n_days)
        if first >= stop:
            continue
        rng = _rng(cfg.seed, _S_SCHEDULE, m.index)
        d = first + int(rng.integers(0, m.every))
        days: list[int] = []
        while d < stop:
            miss, jit = rng.random(), int(rng.integers(-1, 2))
            if miss >= FIXED["missed_crawl_probability"]:
                dd = d + (jit if m.every >= 3 else 0)
                dd = min(max(dd, first), stop - 1)
                if not days or dd > days[-1]:
                    days.append(dd)
            d += m.every
        for dd in days:
            low = rng.random() < FIXED["low_coverage_crawl_probability"]
            cov = (
                rng.uniform(lo, hi)
                if low
                else float(
                    np.clip(m.coverage + rng.normal(0, FIXED["crawl_coverage_sd"]), 0.05, 1.0)
                )
            )
            sec = int(rng.integers(0, 10 * 3600))
            plan.setdefault(dd, []).append((m.index, float(cov), sec))
    return plan


def _times(rng: np.random.Generator, n: int, start_sec: int) -> np.ndarray:
    gaps = rng.exponential(1.0, size=n)
    span = min(max(2.0 * n, 600.0), 86399.0 - start_sec)
    return start_sec + np.floor(np.cumsum(gaps) / max(gaps.sum(), 1e-9) * span).astype(np.int64)


def _ts(date: str, secs: np.ndarray) -> list[str]:
    return [f"{date} {s // 3600:02d}:{(s // 60) % 60:02d}:{s % 60:02d}" for s in secs.tolist()]


def _alias_mess(alias: str, u: float) -> str:
    if u < 0.25:
        return alias.lower()
    if u < 0.4:
        return alias.upper()
    if u < 0.7:
        return f" {alias} "
    if u < 0.85:
        return f"{alias} "
    return f"  {alias}"


def _csv_gz(header: list[str], rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="", compresslevel=6) as gz:
        gz.write(text.getvalue().encode("utf-8"))
    return buf.getvalue()


def _write_bytes(path: Path, data: bytes) -> str:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _with_duplicates(
    rng: np.random.Generator, rows: list[list[str]], share: float
) -> tuple[list, int]:
    n = len(rows)
    k = int(rng.binomial(n, share)) if n else 0
    if not k:
        return rows, 0
    src = np.sort(rng.choice(n, size=k, replace=False))
    # each copy lands later in the file than its original (a page fetched again)
    pos = src + rng.random(k) * (n - src)
    key = np.concatenate([np.arange(n, dtype=float), pos + 0.5])
    order = np.argsort(key, kind="stable")
    allrows = rows + [rows[i] for i in src.tolist()]
    return [allrows[i] for i in order.tolist()], k


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def simulate(sim_cfg: dict, out_dir: Path) -> dict:
    """Generate the simulated ecosystem into ``out_dir``; return the ground truth.

    Writes ``markets.csv``, ``rates.csv``, ``ground_truth.json``,
    ``ground_truth_daily.csv.gz``, ``ground_truth_vendors.csv.gz``,
    ``snapshots/<market>/<YYYY-MM-DD>_{listings,vendors}.csv.gz`` and
    ``manifest.tsv`` (written last).  Raises ``ValueError`` on invalid config.
    """
    t_start = time.perf_counter()
    cfg = _validate(sim_cfg)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_days, n_mk = cfg.n_days, len(cfg.markets)
    p = cfg.p

    btc, eur = _rates(cfg)
    events = _events(cfg)
    demand = _demand(cfg, events)
    open_mat = _open_matrix(cfg)
    vendors, home, second = _make_vendors(cfg, demand, open_mat)
    spells, mig_records = _make_spells(cfg, vendors, home, second, events, open_mat)
    lst = _make_listings(cfg, vendors, spells)
    log.info("sim2017: %d vendors, %d spells, %d listings", vendors.n, len(spells), lst.n)

    s_uid = np.array(spells.uid, dtype=np.int64)
    s_market = np.array(spells.market, dtype=np.int64)
    s_first = np.array(spells.first, dtype=np.int64)
    s_last = np.array(spells.last, dtype=np.int64)
    n_sp = len(spells)
    s_alias = spells.alias
    s_pgp = spells.pgp
    s_lower = _rng(cfg.seed, _S_VENDORS, 3).random(n_sp) < FIXED["alias_lowercase_spell_share"]
    s_shown = [a.lower() if low else a for a, low in zip(s_alias, s_lower.tolist(), strict=True)]
    s_reg = [_date_str(cfg.start, r) for r in spells.registered]
    s_rating = vendors.rating[s_uid]
    # sales before the simulated period (shown on profiles of vendors already active)
    k_est = max(p["listings_per_vendor"], 1.0)
    pre_days = np.where(s_first == 0, -np.minimum(np.array(spells.registered), 0), 0)
    s_cum_sales = np.round(
        pre_days * k_est * p["sales_per_listing_day"] * vendors.size[s_uid]
    ).astype(np.int64)

    plan = _crawl_schedule(cfg)
    sales_rng = _rng(cfg.seed, _S_SALES)
    cum_fb = lst.fb0.copy()
    l_sales = np.zeros(lst.n, dtype=np.int64)
    l_alive_days = np.zeros(lst.n, dtype=np.int64)
    daily = {
        k: np.zeros((n_days, n_mk)) for k in ("listings", "vendors", "sales", "fbsales", "seen")
    }
    crawled = np.zeros((n_days, n_mk), dtype=bool)
    distinct_vendors = np.zeros(n_days, dtype=np.int64)
    manifest: list[tuple[str, str, int]] = []
    counts = {
        "listing_rows": 0,
        "vendor_rows": 0,
        "duplicate_listing_rows": 0,
        "duplicate_vendor_rows": 0,
        "hostile_title_rows": 0,
        "empty_price": 0,
        "empty_ships_from": 0,
        "empty_vendor": 0,
        "empty_feedback": 0,
        "empty_pgp": 0,
        "empty_rating": 0,
        "empty_total_sales": 0,
        "alias_variant_rows": 0,
    }
    crawl_log: list[dict] = []
    e_share = p["empty_field_share"]
    dup_share = p["duplicate_row_share"]
    written: list[Path] = []

    order_start = np.argsort(lst.start, kind="stable")
    sorted_start = lst.start[order_start]
    for d in range(n_days):
        # alive listings: started and not ended
        cand = order_start[: np.searchsorted(sorted_start, d, side="right")]
        idx = np.sort(cand[lst.end[cand] >= d])
        rate = lst.rate[idx] * demand[d]
        sales = sales_rng.poisson(rate)
        fb = sales_rng.binomial(sales, p["feedback_probability"])
        cum_fb[idx] += fb
        l_sales[idx] += sales
        l_alive_days[idx] += 1
        s_cum_sales += np.bincount(lst.spell[idx], weights=sales, minlength=n_sp).astype(np.int64)
        mk_idx = lst.market[idx]
        daily["listings"][d] = np.bincount(mk_idx, minlength=n_mk)
        daily["sales"][d] = np.bincount(mk_idx, weights=sales * lst.price_usd[idx], minlength=n_mk)
        daily["fbsales"][d] = np.bincount(mk_idx, weights=fb * lst.price_usd[idx], minlength=n_mk)
        s_alive = (s_first <= d) & (s_last >= d)
        daily["vendors"][d] = np.bincount(s_market[s_alive], minlength=n_mk)
        distinct_vendors[d] = np.unique(s_uid[s_alive]).size
        date = _date_str(cfg.start, d)
        for mk, cov, sec in plan.get(d, []):
            m = cfg.markets[mk]
            crng = _rng(cfg.seed, _S_CRAWL, mk, d)
            here = idx[mk_idx == mk]
            seen = here[crng.random(here.size) < cov]
            seen = seen[crng.permutation(seen.size)]
            crawled[d, mk] = True
            daily["seen"][d, mk] = seen.size
            rows, n_dup, stats = _listing_rows(
                cfg,
                m,
                d,
                date,
                seen,
                lst,
                cum_fb,
                s_shown,
                crng,
                sec,
                btc[d],
                eur[d],
                e_share,
                dup_share,
            )
            for k_, v_ in stats.items():
                counts[k_] += v_
            rel = f"snapshots/{m.slug}/{date}_listings.csv.gz"
            path = out_dir / rel
            sha = _write_bytes(path, _csv_gz(LISTING_COLUMNS, rows))
            manifest.append((rel, sha, len(rows)))
            written.append(path)
            counts["listing_rows"] += len(rows)
            counts["duplicate_listing_rows"] += n_dup
            # vendor profile pages
            sp_seen = np.unique(lst.spell[seen])
            vcov = float(
                np.clip(FIXED["vendor_page_coverage_mean"] + crng.normal(0, 0.04), 0.5, 1.0)
            )
            sp_seen = sp_seen[crng.random(sp_seen.size) < vcov]
            sp_seen = sp_seen[crng.permutation(sp_seen.size)]
            vrows, vdup, vstats = _vendor_rows(
                m,
                date,
                sp_seen,
                s_alias,
                s_pgp,
                s_rating,
                s_reg,
                s_cum_sales,
                crng,
                sec,
                e_share,
                dup_share,
            )
            for k_, v_ in vstats.items():
                counts[k_] += v_
            rel = f"snapshots/{m.slug}/{date}_vendors.csv.gz"
            path = out_dir / rel
            sha = _write_bytes(path, _csv_gz(VENDOR_COLUMNS, vrows))
            manifest.append((rel, sha, len(vrows)))
            written.append(path)
            counts["vendor_rows"] += len(vrows)
            counts["duplicate_vendor_rows"] += vdup
            crawl_log.append(
                {
                    "market": m.slug,
                    "day": d,
                    "coverage": cov,
                    "realised": seen.size / here.size if here.size else float("nan"),
                }
            )

    _remove_stale_snapshots(out_dir, written)
    truth = _ground_truth(
        cfg,
        events,
        demand,
        vendors,
        spells,
        mig_records,
        lst,
        l_sales,
        l_alive_days,
        daily,
        distinct_vendors,
        crawl_log,
        counts,
    )
    _write_static(cfg, out_dir, btc, eur, demand, daily, crawled, vendors, spells, truth)
    manifest.sort()
    text = "path\tsha256\trows\n" + "".join(f"{r}\t{s}\t{n}\n" for r, s, n in manifest)
    with atomic_path(out_dir / "manifest.tsv") as tmp:
        tmp.write_text(text, encoding="utf-8")
    log.info(
        "sim2017: %d listing rows, %d vendor rows in %d snapshot files, %.1f s",
        counts["listing_rows"],
        counts["vendor_rows"],
        len(manifest),
        time.perf_counter() - t_start,
    )
    return truth


def _listing_rows(
    cfg,
    m: _Market,
    d: int,
    date: str,
    seen: np.ndarray,
    lst: _Listings,
    cum_fb: np.ndarray,
    s_shown: list[str],
    rng: np.random.Generator,
    sec: int,
    btc_usd: float,
    eur_usd: float,
    e_share: float,
    dup_share: float,
):
    n = seen.size
    u = rng.random((n, 6))
    secs = _times(rng, n, sec)
    ts = _ts(date, secs)
    price_usd = lst.price_usd[seen]
    alt = lst.alt_price[seen]
    if m.price_style == "usd":
        prices = lst.usd_price_text[seen].tolist()
    elif m.price_style == "eur":
        amounts = np.round(price_usd / eur_usd, 2)
        prices = [_fmt_eur(a, b) for a, b in zip(amounts.tolist(), alt.tolist(), strict=True)]
    else:
        amounts = price_usd / btc_usd
        prices = [_fmt_btc(a, b) for a, b in zip(amounts.tolist(), alt.tolist(), strict=True)]
    thousands = m.style["thousands"]
    fbs = [_fmt_count(f, thousands) for f in cum_fb[seen].tolist()]
    spell_ids = lst.spell[seen].tolist()
    ids, titles = lst.listing_id[seen], lst.title[seen]
    cats, sfs, sts = lst.category[seen], lst.ships_from[seen], lst.ships_to[seen]
    hostile = lst.hostile[seen]
    stats = {
        "empty_price": 0,
        "empty_ships_from": 0,
        "empty_vendor": 0,
        "empty_feedback": 0,
        "alias_variant_rows": 0,
        "hostile_title_rows": 0,
    }
    rows = []
    for i in range(n):
        ui = u[i]
        vendor = s_shown[spell_ids[i]]
        if ui[4] < FIXED["alias_row_variant_share"]:
            vendor = _alias_mess(vendor, ui[5])
            stats["alias_variant_rows"] += 1
        price, sf, fbk = prices[i], sfs[i], fbs[i]
        if ui[0] < e_share:
            price = ""
            stats["empty_price"] += 1
        if ui[1] < e_share:
            sf = ""
            stats["empty_ships_from"] += 1
        if ui[2] < e_share:
            vendor = ""
            stats["empty_vendor"] += 1
        if ui[3] < e_share:
            fbk = ""
            stats["empty_feedback"] += 1
        rows.append([ids[i], titles[i], vendor, price, cats[i], sf, sts[i], fbk, ts[i]])
    rows, n_dup = _with_duplicates(rng, rows, dup_share)
    stats["hostile_title_rows"] = int(hostile.sum())
    if n_dup:
        hostile_ids = set(ids[hostile].tolist())
        stats["hostile_title_rows"] = sum(1 for r in rows if r[0] in hostile_ids)
    return rows, n_dup, stats


def _vendor_rows(
    m: _Market,
    date: str,
    sp_seen: np.ndarray,
    s_alias,
    s_pgp,
    s_rating,
    s_reg,
    s_cum_sales,
    rng: np.random.Generator,
    sec: int,
    e_share: float,
    dup_share: float,
):
    n = sp_seen.size
    u = rng.random((n, 5))
    secs = _times(rng, n, sec + 60)
    ts = _ts(date, secs)
    thousands = m.style["thousands"]
    stats = {"empty_pgp": 0, "empty_rating": 0, "empty_total_sales": 0, "alias_variant_rows": 0}
    rows = []
    for i, s in enumerate(sp_seen.tolist()):
        ui = u[i]
        alias = s_alias[s]
        if ui[3] < FIXED["alias_row_variant_share"]:
            alias = _alias_mess(alias, ui[4])
            stats["alias_variant_rows"] += 1
        r = float(s_rating[s])
        if m.price_style == "usd":
            rating = f"{r:.2f}"
        elif m.price_style == "eur":
            rating = f"{r:.2f}".replace(".", ",")
        else:
            rating = f"{int(round(r * 20))}%"
        pgp = s_pgp[s]
        total = _fmt_count(int(s_cum_sales[s]), thousands)
        if ui[0] < e_share:
            pgp = ""
            stats["empty_pgp"] += 1
        if ui[1] < e_share:
            rating = ""
            stats["empty_rating"] += 1
        if ui[2] < e_share:
            total = ""
            stats["empty_total_sales"] += 1
        rows.append([alias, pgp, rating, s_reg[s], total, ts[i]])
    rows, n_dup = _with_duplicates(rng, rows, dup_share)
    return rows, n_dup, stats


def _remove_stale_snapshots(out_dir: Path, written: list[Path]) -> None:
    keep = {p.resolve() for p in written}
    root = out_dir / "snapshots"
    if not root.is_dir():
        return
    stale = sorted(p for p in root.rglob("*.csv.gz") if p.resolve() not in keep)
    for p in stale:
        p.unlink()
    if stale:
        log.info("removed %d snapshot files left from an earlier run", len(stale))


# --------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------


def _r(x, nd: int = 6):
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    return float(f"{x:.{nd}g}")


def _share(num, den):
    return _r(num / den) if den else None


def _window_mean(arr: np.ndarray, lo: int, hi: int):
    lo, hi = max(lo, 0), min(hi, len(arr))
    return float(arr[lo:hi].mean()) if hi > lo else None


def _pct(after, before):
    if after is None or before is None or before == 0:
        return None
    return _r(100.0 * (after - before) / before)


def _event_truth(
    cfg: _Config,
    ev: dict,
    demand: np.ndarray,
    spells: _Spells,
    records: list[dict],
    daily: dict,
    distinct_vendors: np.ndarray,
) -> dict:
    mig = cfg.migration
    idxs = [m.index for m in ev["markets"]]
    t0 = ev["t0"]
    last_close = max(m.close_day for m in ev["markets"])
    W = FIXED["cohort_window_days"]
    s_uid = np.array(spells.uid)
    s_market = np.array(spells.market)
    s_first = np.array(spells.first)
    s_last = np.array(spells.last)
    in_window = np.isin(s_market, idxs) & (s_first <= t0 - 1) & (s_last >= max(t0 - W, 0))
    cohort = np.unique(s_uid[in_window])
    cohort_by_market = {
        m.slug: int(np.unique(s_uid[in_window & (s_market == m.index)]).size) for m in ev["markets"]
    }
    recs = [r for r in records if r["event"] == ev["key"]]
    migrated = [r for r in recs if r["migrated"]]
    n_disp, n_mig = len(recs), len(migrated)
    delays = np.array([r["delay"] for r in migrated], dtype=float)
    dest_counts = {m.slug: 0 for m in cfg.markets}
    for r in migrated:
        dest_counts[cfg.markets[r["dest"]].slug] += 1
    final = [r for r in migrated if r["dest"] not in idxs]
    final_counts = {m.slug: 0 for m in cfg.markets if m.index not in idxs}
    for r in final:
        final_counts[cfg.markets[r["dest"]].slug] += 1
    cohort_set = {int(u): None for u in cohort.tolist()}
    final_uids = {r["uid"]: None for r in final if r["uid"] in cohort_set}
    horizon = last_close + 90
    elsewhere = (~np.isin(s_market, idxs)) & (s_first <= horizon) & (s_last >= last_close)
    present = {int(u): None for u in s_uid[elsewhere].tolist() if int(u) in cohort_set}
    p = mig["probability"]
    out: dict = {
        "_doc": {
            "markets": "markets closed in the event, with closure date (first day closed) and "
            "reason",
            "event_date": "first closure of the event (t0 of the demand dip and of the windows)",
            "takedown": "true for law-enforcement takedowns (demand dip planted), false for other "
            "closures",
            "planted": "parameters planted for migration (from the config)",
            "cohort_size": "vendor identities active on the closed markets in the 30 days before "
            "event_date",
            "cohort_size_by_market": "cohort per closed market (a multi-homer counts in both)",
            "displacements": "vendor spells ended by the closures (a Hansa refugee displaced "
            "again counts twice)",
            "migrations": "displacements followed by a reappearance on an open market within the "
            "period",
            "migration_share": "migrations / displacements (planted: migration.probability)",
            "migration_share_se": "binomial standard error sqrt(p(1-p)/displacements) at the "
            "planted p",
            "migration_decision_share": "share of displacements drawn to migrate, incl. those "
            "whose reappearance "
            "fell after the end of the period or found no open market",
            "reappearance_share_within_days": "share of displacements reappearing within 7/30/90 "
            "days of "
            "the closure (delay = first day on new market - closure date)",
            "destination_shares": "share of migrations going to each market (incl. markets "
            "closing later "
            "in the same event)",
            "final_destination_shares": "as destination_shares, among migrations to markets not "
            "closed in "
            "the event",
            "cohort_migrated_share": "share of the cohort with a migration spell on a market not "
            "closed in "
            "the event",
            "cohort_present_elsewhere_share": "share of the cohort active on a market not closed "
            "in the event "
            "within 90 days after the last closure (incl. vendors already "
            "selling there: what identity matching can see)",
            "alias_change_share": "share of migrations with a changed alias (new or variant)",
            "alias_change_new_share": "share of migrations with a new unrelated alias",
            "alias_change_variant_share": "share of migrations with a variant of the old alias "
            "(suffix, "
            "number, prefix)",
            "pgp_change_share": "share of migrations with a new PGP key",
            "alias_and_pgp_change_share": "share of migrations changing both (no identity link "
            "left)",
            "delay_mean_days": "mean realised delay of migrations (days from closure date to "
            "reappearance)",
            "delay_median_days": "median realised delay",
            "demand": "demand dip planted at event_date (takedowns only) and the implied and "
            "realised "
            "ecosystem sales changes",
            "activity": "true ecosystem activity averaged over the 28 days before event_date "
            "[t0-28, t0-1] and the 28 days from it [t0, t0+27]",
        },
        "markets": {
            m.slug: {
                "closed": m.closed.isoformat(),
                "closure": m.closure,
                "police_control_from": m.police_control_from.isoformat()
                if m.police_control_from
                else None,
            }
            for m in ev["markets"]
        },
        "event_date": ev["date"].isoformat(),
        "takedown": ev["takedown"],
        "planted": {
            k: mig[k]
            for k in (
                "probability",
                "delay_mean_days",
                "delay_shape",
                "size_preference",
                "alias_change_probability",
                "pgp_change_probability",
            )
        },
        "cohort_size": int(cohort.size),
        "cohort_size_by_market": cohort_by_market,
        "displacements": n_disp,
        "migrations": n_mig,
        "migration_share": _share(n_mig, n_disp),
        "migration_share_se": _r(math.sqrt(p * (1 - p) / n_disp)) if n_disp else None,
        "migration_decision_share": _share(sum(r["decided"] for r in recs), n_disp),
        "reappearance_share_within_days": {
            str(k): _share(sum(1 for r in migrated if r["delay"] <= k), n_disp) for k in (7, 30, 90)
        },
        "destination_shares": {k: _share(v, n_mig) for k, v in dest_counts.items()},
        "final_destination_shares": {k: _share(v, len(final)) for k, v in final_counts.items()},
        "cohort_migrated_share": _share(len(final_uids), cohort.size),
        "cohort_present_elsewhere_share": _share(len(present), cohort.size),
        "alias_change_share": _share(sum(r["alias_changed"] for r in migrated), n_mig),
        "alias_change_new_share": _share(sum(r["alias_kind"] == "new" for r in migrated), n_mig),
        "alias_change_variant_share": _share(
            sum(r["alias_kind"] == "variant" for r in migrated), n_mig
        ),
        "pgp_change_share": _share(sum(r["pgp_changed"] for r in migrated), n_mig),
        "alias_and_pgp_change_share": _share(
            sum(r["alias_changed"] and r["pgp_changed"] for r in migrated), n_mig
        ),
        "delay_mean_days": _r(delays.mean()) if n_mig else None,
        "delay_median_days": _r(np.median(delays)) if n_mig else None,
    }
    eco_sales = daily["sales"].sum(axis=1)
    A = FIXED["activity_window_days"]
    sw = FIXED["sales_window_days"]
    before_sales = _window_mean(eco_sales, t0 - A, t0)
    dem: dict = {
        "_doc": {
            "dip": "share of buyer demand lost at event_date (planted)",
            "recovery_days": "e-folding time of the recovery (planted)",
            "multiplier": "m(t) = 1 - dip * exp(-(t - t0) / recovery_days) for t >= t0, else 1 "
            "(multiplies every listing's sales rate and the vendor entry rate)",
            "implied_sales_change_pct": "change of ecosystem sales implied by the demand "
            "multiplier alone at "
            "t0 + 0/30/90 days, in percent (-100 dip exp(-k/recovery_days))",
            "realised_sales_change_pct": "true ecosystem sales (all markets) averaged over days "
            "[t0+k, t0+k+6] vs the 28 days before t0, in percent (includes "
            "the supply lost with the closed markets)",
            "multiplier_at_days": "realised multiplier (all takedown events combined) at t0 + k",
        }
    }
    if ev["takedown"]:
        dip, rec = cfg.demand["dip"], cfg.demand["recovery_days"]
        dem.update(
            dip=dip,
            recovery_days=rec,
            multiplier="1 - dip*exp(-(t-t0)/recovery_days)",
            implied_sales_change_pct={
                str(k): _r(-100 * dip * math.exp(-k / rec)) for k in (0, 30, 90)
            },
        )
    else:
        dem.update(
            dip=0.0,
            recovery_days=None,
            multiplier="none (not a takedown)",
            implied_sales_change_pct={str(k): 0.0 for k in (0, 30, 90)},
        )
    dem["realised_sales_change_pct"] = {
        str(k): _pct(_window_mean(eco_sales, t0 + k, t0 + k + sw), before_sales)
        for k in (0, 30, 90)
    }
    dem["multiplier_at_days"] = {
        str(k): _r(demand[t0 + k]) if 0 <= t0 + k < cfg.n_days else None for k in (0, 30, 90)
    }
    out["demand"] = dem
    act: dict = {
        "_doc": {
            "active_vendors": "distinct vendor identities active anywhere",
            "active_vendors_market_sum": "sum over markets of active vendors (multi-homers "
            "counted per market)",
            "active_listings": "listings alive, all markets",
            "sales_usd": "true daily sales in USD, all markets",
            "before/after/change/change_pct": "28-day means before and from t0, level change, "
            "percent change",
        }
    }
    series = {
        "active_vendors": distinct_vendors.astype(float),
        "active_vendors_market_sum": daily["vendors"].sum(axis=1),
        "active_listings": daily["listings"].sum(axis=1),
        "sales_usd": eco_sales,
    }
    for name, arr in series.items():
        b = _window_mean(arr, t0 - A, t0)
        a = _window_mean(arr, t0, t0 + A)
        act[name] = {
            "before": _r(b),
            "after": _r(a),
            "change": _r(a - b) if a is not None and b is not None else None,
            "change_pct": _pct(a, b),
        }
    out["activity"] = act
    return out


def _ground_truth(
    cfg: _Config,
    events,
    demand,
    vendors: _Vendors,
    spells: _Spells,
    records,
    lst: _Listings,
    l_sales,
    l_alive_days,
    daily,
    distinct_vendors,
    crawl_log,
    counts,
) -> dict:
    nd = CATEGORIES.index("non_drug")
    in_period = l_alive_days > 0
    drug = lst.cat != nd
    l_eu = vendors.eu[lst.uid]
    sales_usd = l_sales * lst.price_usd
    drug_vendors = np.unique(lst.uid[in_period & drug])
    all_vendors = np.unique(np.array(spells.uid))
    cat_counts = np.bincount(lst.cat[in_period], minlength=len(CATEGORIES))
    region_only = vendors.region_only[all_vendors]
    supply = {
        "_doc": {
            "drug_share_listings": "drug listings / all listings alive at some day of the period",
            "drug_share_listing_days": "as above, weighted by days alive",
            "eu_share_drug_listings": "drug listings whose vendor ships from an EU member (UK "
            "included) / "
            "drug listings",
            "eu_share_drug_listing_days": "as above, weighted by days alive",
            "eu_share_drug_vendors": "vendors with at least one drug listing shipping from the EU "
            "/ such vendors",
            "eu_share_vendors": "all vendor identities shipping from the EU (planted: "
            "eu_vendor_share)",
            "eu_share_drug_sales_usd": "EU share of true drug sales in USD",
            "category_shares_listings": "share of listings per taxonomy category",
            "region_only_ships_from_vendor_share": "vendors who show only a region (EU, Europe, "
            "Worldwide) "
            "instead of their country",
            "vendor_countries": "vendor identities per true ships-from country (ISO 3166-1 "
            "alpha-2, UK = GB)",
        },
        "drug_share_listings": _share(int((in_period & drug).sum()), int(in_period.sum())),
        "drug_share_listing_days": _share(
            float(l_alive_days[drug].sum()), float(l_alive_days.sum())
        ),
        "eu_share_drug_listings": _share(
            int((in_period & drug & l_eu).sum()), int((in_period & drug).sum())
        ),
        "eu_share_drug_listing_days": _share(
            float(l_alive_days[drug & l_eu].sum()), float(l_alive_days[drug].sum())
        ),
        "eu_share_drug_vendors": _share(int(vendors.eu[drug_vendors].sum()), drug_vendors.size),
        "eu_share_vendors": _share(int(vendors.eu[all_vendors].sum()), all_vendors.size),
        "eu_share_drug_sales_usd": _share(
            float(sales_usd[drug & l_eu].sum()), float(sales_usd[drug].sum())
        ),
        "category_shares_listings": {
            c: _share(int(cat_counts[i]), int(cat_counts.sum())) for i, c in enumerate(CATEGORIES)
        },
        "region_only_ships_from_vendor_share": _share(int(region_only.sum()), all_vendors.size),
        "vendor_countries": {},
    }
    countries = [vendors.country[u] for u in all_vendors.tolist()]
    for c in sorted({c: None for c in countries}):
        supply["vendor_countries"][c] = countries.count(c)
    crawls: dict = {
        "_doc": {
            "per_market": "number of crawls, mean planned and realised coverage, crawls below 0.3 "
            "coverage",
            "rows": "row counts and injected mess, over all snapshot files",
        },
        "per_market": {},
    }
    for m in cfg.markets:
        cl = [c for c in crawl_log if c["market"] == m.slug]
        real = [c["realised"] for c in cl if math.isfinite(c["realised"])]
        crawls["per_market"][m.slug] = {
            "crawls": len(cl),
            "first_crawl": _date_str(cfg.start, cl[0]["day"]) if cl else None,
            "last_crawl": _date_str(cfg.start, cl[-1]["day"]) if cl else None,
            "mean_coverage": _r(np.mean([c["coverage"] for c in cl])) if cl else None,
            "mean_realised_coverage": _r(np.mean(real)) if real else None,
            "low_coverage_crawls": sum(1 for c in real if c < 0.3),
        }
    crawls["rows"] = dict(counts)
    ev_truth = {
        ev["key"]: _event_truth(cfg, ev, demand, spells, records, daily, distinct_vendors)
        for ev in events
        if 0 < ev["t0"] < cfg.n_days
    }
    truth = {
        "_doc": {
            "generator": "module and version that wrote the dataset",
            "config": "simulation configuration used, with defaults filled in",
            "fixed_parameters": "model constants that are not configurable",
            "period": "simulated days (inclusive)",
            "markets": "per market: opening, effective closure (first day closed; null if open at "
            "the end), "
            "closure reason, size, first and last open day inside the period",
            "events": "per closure event (bayonet = AlphaBay + Hansa takedowns; "
            "<closure>_<market> for other "
            "closures): planted parameters and realised truths",
            "supply": "true shares over the whole period (no crawl error)",
            "crawls": "crawl schedule and injected mess",
            "price_model": "true listing price model: USD per unit x quantity^elasticity x vendor "
            "level x "
            "noise x country factor",
            "totals": "numbers of vendor identities, vendor-market spells, listings",
        },
        "generator": {"module": "dnmarkets.sim.simulate", "version": GENERATOR_VERSION},
        "config": cfg.effective,
        "fixed_parameters": FIXED,
        "period": {"start": cfg.start.isoformat(), "end": cfg.end.isoformat(), "days": cfg.n_days},
        "markets": {
            m.slug: {
                "name": m.name,
                "opened": m.opened.isoformat(),
                "closed": m.closed.isoformat() if m.closed and m.closed <= cfg.end else None,
                "closure": m.closure if m.closed and m.closed <= cfg.end else None,
                "police_control_from": m.police_control_from.isoformat()
                if m.police_control_from
                else None,
                "size": m.size,
                "price_style": m.price_style,
                "first_open_day": _date_str(cfg.start, m.open_day)
                if m.open_day < m.close_day
                else None,
                "last_open_day": _date_str(cfg.start, m.close_day - 1)
                if m.open_day < m.close_day
                else None,
            }
            for m in cfg.markets
        },
        "events": ev_truth,
        "supply": supply,
        "crawls": crawls,
        "price_model": {
            "elasticity": FIXED["price_quantity_elasticity"],
            "usd_per_unit": {
                k: {"category": v["cat"], "unit": v["unit"], "usd": v["price"]}
                for k, v in CATALOG.items()
            },
            "country_factor": COUNTRY_PRICE,
        },
        "totals": {
            "vendors": int(all_vendors.size),
            "spells": len(spells),
            "listings": int(in_period.sum()),
        },
    }
    return truth


def _write_static(
    cfg: _Config,
    out_dir: Path,
    btc,
    eur,
    demand,
    daily,
    crawled,
    vendors: _Vendors,
    spells: _Spells,
    truth: dict,
) -> None:
    rows = []
    for m in cfg.markets:
        closed = m.closed.isoformat() if m.closed and m.closed <= cfg.end else ""
        closure = (m.closure or "") if closed else ""
        police = m.police_control_from.isoformat() if m.police_control_from else ""
        rows.append([m.slug, m.opened.isoformat(), closed, closure, m.name, police])
    _write_csv(
        out_dir / "markets.csv",
        ["market", "opened", "closed", "closure", "name", "police_control_from"],
        rows,
    )
    rows = [[_date_str(cfg.start, d), f"{btc[d]:.2f}", f"{eur[d]:.4f}"] for d in range(cfg.n_days)]
    _write_csv(out_dir / "rates.csv", ["date", "btc_usd", "eur_usd"], rows)
    rows = []
    for d in range(cfg.n_days):
        date = _date_str(cfg.start, d)
        for m in cfg.markets:
            if not m.open_day <= d < m.close_day:
                continue
            j = m.index
            cr = bool(crawled[d, j])
            alive = daily["listings"][d, j]
            rows.append(
                [
                    date,
                    m.slug,
                    int(alive),
                    int(daily["vendors"][d, j]),
                    f"{daily['sales'][d, j]:.2f}",
                    f"{daily['fbsales'][d, j]:.2f}",
                    f"{demand[d]:.6f}",
                    "True" if cr else "False",
                    int(daily["seen"][d, j]) if cr else "",
                    f"{daily['seen'][d, j] / alive:.4f}" if cr and alive else "",
                ]
            )
    _write_bytes(out_dir / "ground_truth_daily.csv.gz", _csv_gz(DAILY_COLUMNS, rows))
    rows = []
    slugs = [m.slug for m in cfg.markets]
    order = sorted(
        range(len(spells)), key=lambda s: (spells.uid[s], spells.first[s], spells.market[s])
    )
    for s in order:
        u = spells.uid[s]
        mf = spells.migrated_from[s]
        rows.append(
            [
                f"v{u:06d}",
                slugs[spells.market[s]],
                spells.alias[s],
                spells.pgp[s],
                _date_str(cfg.start, spells.first[s]),
                _date_str(cfg.start, spells.last[s]),
                slugs[mf] if mf >= 0 else "",
                str(bool(spells.alias_changed[s])),
                str(bool(spells.pgp_changed[s])),
                vendors.country[u],
                CATEGORIES[vendors.main_cat[u]],
                spells.alias_kind[s],
                str(bool(vendors.eu[u])),
                _date_str(cfg.start, spells.registered[s]),
                f"{vendors.size[u]:.4f}",
                spells.end_reason[s],
            ]
        )
    _write_bytes(out_dir / "ground_truth_vendors.csv.gz", _csv_gz(VENDOR_TRUTH_COLUMNS, rows))
    with atomic_path(out_dir / "ground_truth.json") as tmp:
        tmp.write_text(
            json.dumps(truth, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
        )


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(text.getvalue(), encoding="utf-8")


__all__ = [
    "simulate",
    "DEFAULTS",
    "LISTING_COLUMNS",
    "VENDOR_COLUMNS",
    "HOSTILE_PAYLOADS",
    "COUNTRY_VARIANTS",
]
