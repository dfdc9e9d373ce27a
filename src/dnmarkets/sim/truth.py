"""Ground truth of the simulated dataset: every planted effect and what it realised,
written as ground_truth.json, ground_truth_daily.csv.gz and ground_truth_vendors.csv.gz
(with markets.csv and rates.csv)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from dnmarkets.core.io import atomic_path
from dnmarkets.sim.config import FIXED, SimConfig, date_str
from dnmarkets.sim.crawls import Tally
from dnmarkets.sim.files import csv_gz, write_bytes, write_csv
from dnmarkets.sim.listings import Listings
from dnmarkets.sim.population import Spells, Vendors
from dnmarkets.sim.vocabularies import CATALOG, CATEGORIES, COUNTRY_PRICE

GENERATOR_VERSION = "1.0"

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


# What each field of ground_truth.json means (written beside it as "_doc").
_EVENT_DOC = {
    "markets": "markets closed in the event, with closure date (first day closed) and reason",
    "event_date": "first closure of the event (t0 of the demand dip and of the windows)",
    "takedown": "true for law-enforcement takedowns (demand dip planted), false for other closures",
    "planted": "parameters planted for migration (from the config)",
    "cohort_size": "vendor identities active on the closed markets in the 30 days before "
    "event_date",
    "cohort_size_by_market": "cohort per closed market (a multi-homer counts in both)",
    "displacements": "vendor spells ended by the closures (a vendor displaced twice, by "
    "the first closure and again by a later one of the same event, counts twice)",
    "migrations": "displacements followed by a reappearance on an open market within the period",
    "migration_share": "migrations / displacements (planted: migration.probability)",
    "migration_share_se": "binomial standard error sqrt(p(1-p)/displacements) at the planted p",
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
    "alias_and_pgp_change_share": "share of migrations changing both (no identity link left)",
    "delay_mean_days": "mean realised delay of migrations (days from closure date to reappearance)",
    "delay_median_days": "median realised delay",
    "demand": "demand dip planted at event_date (takedowns only) and the implied and "
    "realised "
    "ecosystem sales changes",
    "activity": "true ecosystem activity averaged over the 28 days before event_date "
    "[t0-28, t0-1] and the 28 days from it [t0, t0+27]",
}

_DEMAND_DOC = {
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

_ACTIVITY_DOC = {
    "active_vendors": "distinct vendor identities active anywhere",
    "active_vendors_market_sum": "sum over markets of active vendors (multi-homers "
    "counted per market)",
    "active_listings": "listings alive, all markets",
    "sales_usd": "true daily sales in USD, all markets",
    "before/after/change/change_pct": "28-day means before and from t0, level change, "
    "percent change",
}

_SUPPLY_DOC = {
    "drug_share_listings": "drug listings / all listings alive at some day of the period",
    "drug_share_listing_days": "as above, weighted by days alive",
    "eu_share_drug_listings": "drug listings whose vendor ships from an EU member (UK "
    "included) / "
    "drug listings",
    "eu_share_drug_listing_days": "as above, weighted by days alive",
    "eu_share_drug_vendors": "vendors with at least one drug listing shipping from the EU "
    "/ such vendors",
    "eu_share_vendors": "all vendor identities shipping from the EU (planted: eu_vendor_share)",
    "eu_share_drug_sales_usd": "EU share of true drug sales in USD",
    "category_shares_listings": "share of listings per taxonomy category",
    "region_only_ships_from_vendor_share": "vendors who show only a region (EU, Europe, "
    "Worldwide) "
    "instead of their country",
    "vendor_countries": "vendor identities per true ships-from country (ISO 3166-1 "
    "alpha-2, UK = GB)",
}

_CRAWLS_DOC = {
    "per_market": "number of crawls, mean planned and realised coverage, crawls below 0.3 coverage",
    "rows": "row counts and injected mess, over all snapshot files",
}

_TRUTH_DOC = {
    "generator": "module and version that wrote the dataset",
    "config": "simulation configuration used, with defaults filled in",
    "fixed_parameters": "model constants that are not configurable",
    "period": "simulated days (inclusive)",
    "markets": "per market: opening, effective closure (first day closed; null if open at "
    "the end), "
    "closure reason, size, first and last open day inside the period",
    "events": "per closure event (takedowns: the configured event they play, their `event`, "
    "e.g. bayonet; <closure>_<market> for other "
    "closures): planted parameters and realised truths",
    "supply": "true shares over the whole period (no crawl error)",
    "crawls": "crawl schedule and injected mess",
    "price_model": "true listing price model: USD per unit x quantity^elasticity x vendor "
    "level x "
    "noise x country factor",
    "totals": "numbers of vendor identities, vendor-market spells, listings",
}


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


def _migration_truth(cfg: SimConfig, ev: dict, spells: Spells, records: list[dict]) -> dict:
    """The event's cohort and what its displaced spells did: shares, destinations, changes."""
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
    p = cfg.migration["probability"]
    return {
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


def _demand_truth(cfg: SimConfig, ev: dict, demand: np.ndarray, eco_sales: np.ndarray) -> dict:
    """The demand dip planted at the event and the implied and realised sales changes."""
    t0 = ev["t0"]
    sw = FIXED["sales_window_days"]
    before_sales = _window_mean(eco_sales, t0 - FIXED["activity_window_days"], t0)
    dem: dict = {"_doc": _DEMAND_DOC}
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
    return dem


def _activity_truth(t0: int, tally: Tally, eco_sales: np.ndarray) -> dict:
    """True ecosystem activity in the 28 days before the event and the 28 days from it."""
    A = FIXED["activity_window_days"]
    act: dict = {"_doc": _ACTIVITY_DOC}
    series = {
        "active_vendors": tally.distinct_vendors.astype(float),
        "active_vendors_market_sum": tally.daily["vendors"].sum(axis=1),
        "active_listings": tally.daily["listings"].sum(axis=1),
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
    return act


def _event_truth(
    cfg: SimConfig,
    ev: dict,
    demand: np.ndarray,
    spells: Spells,
    records: list[dict],
    tally: Tally,
) -> dict:
    """Planted parameters and realised truths of one closure event."""
    mig = cfg.migration
    planted = (
        "probability",
        "delay_mean_days",
        "delay_shape",
        "size_preference",
        "alias_change_probability",
        "pgp_change_probability",
    )
    eco_sales = tally.daily["sales"].sum(axis=1)
    return {
        "_doc": _EVENT_DOC,
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
        "planted": {k: mig[k] for k in planted},
        **_migration_truth(cfg, ev, spells, records),
        "demand": _demand_truth(cfg, ev, demand, eco_sales),
        "activity": _activity_truth(ev["t0"], tally, eco_sales),
    }


def _supply_truth(vendors: Vendors, spells: Spells, lst: Listings, tally: Tally) -> dict:
    """True drug, EU and category shares over the whole period (no crawl error)."""
    l_alive_days = tally.l_alive_days
    in_period = l_alive_days > 0
    drug = lst.cat != CATEGORIES.index("non_drug")
    l_eu = vendors.eu[lst.uid]
    sales_usd = tally.l_sales * lst.price_usd
    drug_vendors = np.unique(lst.uid[in_period & drug])
    all_vendors = np.unique(np.array(spells.uid))
    cat_counts = np.bincount(lst.cat[in_period], minlength=len(CATEGORIES))
    region_only = vendors.region_only[all_vendors]
    countries = [vendors.country[u] for u in all_vendors.tolist()]
    return {
        "_doc": _SUPPLY_DOC,
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
        "vendor_countries": {c: countries.count(c) for c in sorted(set(countries))},
    }


def _crawl_truth(cfg: SimConfig, tally: Tally) -> dict:
    """Per market the crawls made and their coverage; row counts and injected mess."""
    crawls: dict = {"_doc": _CRAWLS_DOC, "per_market": {}}
    for m in cfg.markets:
        cl = [c for c in tally.crawl_log if c["market"] == m.slug]
        real = [c["realised"] for c in cl if math.isfinite(c["realised"])]
        crawls["per_market"][m.slug] = {
            "crawls": len(cl),
            "first_crawl": date_str(cfg.start, cl[0]["day"]) if cl else None,
            "last_crawl": date_str(cfg.start, cl[-1]["day"]) if cl else None,
            "mean_coverage": _r(np.mean([c["coverage"] for c in cl])) if cl else None,
            "mean_realised_coverage": _r(np.mean(real)) if real else None,
            "low_coverage_crawls": sum(1 for c in real if c < 0.3),
        }
    crawls["rows"] = dict(tally.counts)
    return crawls


def _market_truth(cfg: SimConfig, m) -> dict:
    """A market's opening, effective closure (inside the period) and open days."""
    closed_in_period = m.closed and m.closed <= cfg.end
    is_open = m.open_day < m.close_day
    return {
        "name": m.name,
        "opened": m.opened.isoformat(),
        "closed": m.closed.isoformat() if closed_in_period else None,
        "closure": m.closure if closed_in_period else None,
        "police_control_from": m.police_control_from.isoformat() if m.police_control_from else None,
        "size": m.size,
        "price_style": m.price_style,
        "first_open_day": date_str(cfg.start, m.open_day) if is_open else None,
        "last_open_day": date_str(cfg.start, m.close_day - 1) if is_open else None,
    }


def ground_truth(
    cfg: SimConfig,
    events: list[dict],
    demand: np.ndarray,
    vendors: Vendors,
    spells: Spells,
    records: list[dict],
    lst: Listings,
    tally: Tally,
) -> dict:
    """The content of ground_truth.json."""
    return {
        "_doc": _TRUTH_DOC,
        "generator": {"module": "dnmarkets.sim.simulate", "version": GENERATOR_VERSION},
        "config": cfg.effective,
        "fixed_parameters": FIXED,
        "period": {"start": cfg.start.isoformat(), "end": cfg.end.isoformat(), "days": cfg.n_days},
        "markets": {m.slug: _market_truth(cfg, m) for m in cfg.markets},
        "events": {
            ev["key"]: _event_truth(cfg, ev, demand, spells, records, tally)
            for ev in events
            if 0 < ev["t0"] < cfg.n_days
        },
        "supply": _supply_truth(vendors, spells, lst, tally),
        "crawls": _crawl_truth(cfg, tally),
        "price_model": {
            "elasticity": FIXED["price_quantity_elasticity"],
            "usd_per_unit": {
                k: {"category": v["cat"], "unit": v["unit"], "usd": v["price"]}
                for k, v in CATALOG.items()
            },
            "country_factor": COUNTRY_PRICE,
        },
        "totals": {
            "vendors": len(set(spells.uid)),
            "spells": len(spells),
            "listings": int((tally.l_alive_days > 0).sum()),
        },
    }


def _write_markets_and_rates(cfg: SimConfig, out_dir: Path, btc, eur) -> None:
    rows = []
    for m in cfg.markets:
        closed = m.closed.isoformat() if m.closed and m.closed <= cfg.end else ""
        closure = (m.closure or "") if closed else ""
        police = m.police_control_from.isoformat() if m.police_control_from else ""
        rows.append([m.slug, m.opened.isoformat(), closed, closure, m.name, police])
    write_csv(
        out_dir / "markets.csv",
        ["market", "opened", "closed", "closure", "name", "police_control_from"],
        rows,
    )
    rows = [[date_str(cfg.start, d), f"{btc[d]:.2f}", f"{eur[d]:.4f}"] for d in range(cfg.n_days)]
    write_csv(out_dir / "rates.csv", ["date", "btc_usd", "eur_usd"], rows)


def _daily_rows(cfg: SimConfig, demand: np.ndarray, tally: Tally) -> list[list]:
    """ground_truth_daily rows: per open market and day, true activity and the crawl."""
    daily, rows = tally.daily, []
    for d in range(cfg.n_days):
        date = date_str(cfg.start, d)
        for m in cfg.markets:
            if not m.open_day <= d < m.close_day:
                continue
            j = m.index
            cr = bool(tally.crawled[d, j])
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
    return rows


def _vendor_truth_rows(cfg: SimConfig, vendors: Vendors, spells: Spells) -> list[list]:
    """ground_truth_vendors rows: one per spell, by vendor, first day and market."""
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
                date_str(cfg.start, spells.first[s]),
                date_str(cfg.start, spells.last[s]),
                slugs[mf] if mf >= 0 else "",
                str(bool(spells.alias_changed[s])),
                str(bool(spells.pgp_changed[s])),
                vendors.country[u],
                CATEGORIES[vendors.main_cat[u]],
                spells.alias_kind[s],
                str(bool(vendors.eu[u])),
                date_str(cfg.start, spells.registered[s]),
                f"{vendors.size[u]:.4f}",
                spells.end_reason[s],
            ]
        )
    return rows


def write_truth_files(
    cfg: SimConfig,
    out_dir: Path,
    btc: np.ndarray,
    eur: np.ndarray,
    demand: np.ndarray,
    tally: Tally,
    vendors: Vendors,
    spells: Spells,
    truth: dict,
) -> None:
    """Write markets.csv, rates.csv and the three ground-truth files."""
    _write_markets_and_rates(cfg, out_dir, btc, eur)
    daily = csv_gz(DAILY_COLUMNS, _daily_rows(cfg, demand, tally))
    write_bytes(out_dir / "ground_truth_daily.csv.gz", daily)
    vendor_rows = _vendor_truth_rows(cfg, vendors, spells)
    write_bytes(out_dir / "ground_truth_vendors.csv.gz", csv_gz(VENDOR_TRUTH_COLUMNS, vendor_rows))
    with atomic_path(out_dir / "ground_truth.json") as tmp:
        tmp.write_text(
            json.dumps(truth, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
        )
