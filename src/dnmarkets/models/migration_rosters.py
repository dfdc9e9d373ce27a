"""Migration seen in rosters: a surviving market's vendors matched to closed markets'.

Public data around Operation Bayonet holds no before-and-after crawl of the
closed markets, only rosters: who sold on AlphaBay in April 2017 and on Hansa in
December 2016, who had a seller profile on Dream in 2016, and who sold cocaine
on Dream in July 2017. Matching normalised names (dnmarkets.clean.identity)
across them gives

- the share of the destination's vendors whose name was on a closed market,
  split by whether the name was already on the destination's earlier roster
  (there before the event) or not (a newcomer since);
- the share of a closed market's vendors in one category whose name is seen on
  the destination afterwards;
- the same by PGP fingerprint wherever both sides carry keys.

Every share is a **bound**, not an estimate of migration: name reuse and
impersonation add false matches, renamed vendors are missed, one category of
one destination is observed, and the rosters are months apart (a vendor may
have moved before or after the event, or sold on both all along).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from dnmarkets.clean.identity import identity_key, is_linkable_alias
from dnmarkets.core.summary import entry
from dnmarkets.models.intervals import wilson


def name_keys(names: Iterable[str], min_length: int) -> set[str]:
    """Linkable normalised names (short or generic names never match)."""
    keys = {identity_key(n, min_length) for n in names if isinstance(n, str)}
    return {k for k in keys if is_linkable_alias(k, min_length)}


def fingerprint_set(values: Iterable[str]) -> set[str]:
    return {str(v).upper() for v in values if isinstance(v, str) and v.strip()}


def _share(key: str, k: int, n: int, level: float, what: str, out: dict) -> None:
    pct = int(round(level * 100))
    est, low, high = wilson(k, n, level) if n else (float("nan"), None, None)
    ci = (low, high) if n else None
    out[key] = entry(est, "share", f"{what} ({pct}% Wilson interval; a bound, see the text)", ci)


def roster_overlap(
    destination: set[str],
    earlier: set[str],
    closed: dict[str, set[str]],
    origin_category: set[str],
    event: str,
    labels: dict[str, str],
    level: float,
) -> dict:
    """Catalogue entries of the name overlap at one event.

    destination: keys of the surviving market's vendors after the event;
    earlier: keys on its roster before the event; closed: market -> keys of its
    vendors before the event; origin_category: keys of one closed market's
    vendors in the destination's category."""
    s: dict = {}
    on_closed = set().union(*closed.values()) if closed else set()
    dest, where = labels["destination"], labels["closed"]
    s[f"vendors.{event}"] = entry(len(destination), "count", f"{dest}: vendors (linkable names)")
    for m, keys in sorted(closed.items()):
        s[f"closed_vendors_{m}.{event}"] = entry(
            len(keys), "count", f"Vendors (linkable names) of {labels[m]}"
        )
    s[f"earlier_roster_vendors.{event}"] = entry(
        len(earlier), "count", f"Vendors (linkable names) on {labels['earlier']}"
    )
    groups = {
        "": destination,
        "_on_earlier_roster": destination & earlier,
        "_not_on_earlier_roster": destination - earlier,
    }
    texts = {
        "": "",
        "_on_earlier_roster": f", among those already on {labels['earlier']}",
        "_not_on_earlier_roster": f", among those not on {labels['earlier']}",
    }
    for suffix, group in groups.items():
        k = len(group & on_closed)
        s[f"closed_name_count{suffix}.{event}"] = entry(
            k, "count", f"{dest}: vendors whose name was on {where}{texts[suffix]}"
        )
        s[f"group_size{suffix}.{event}"] = entry(
            len(group), "count", f"{dest}: vendors{texts[suffix]}"
        )
        _share(
            f"closed_name_share{suffix}.{event}",
            k,
            len(group),
            level,
            f"{dest}: share of vendors whose name was on {where}{texts[suffix]}",
            s,
        )
    for m, keys in sorted(closed.items()):
        _share(
            f"closed_name_share_{m}.{event}",
            len(destination & keys),
            len(destination),
            level,
            f"{dest}: share of vendors whose name was on {labels[m]}",
            s,
        )
    k = len(origin_category & destination)
    s[f"origin_vendors.{event}"] = entry(
        len(origin_category), "count", f"{labels['origin']}: vendors (linkable names)"
    )
    s[f"origin_seen_count.{event}"] = entry(
        k, "count", f"{labels['origin']}: vendors whose name is seen on {dest}"
    )
    _share(
        f"origin_seen_share.{event}",
        k,
        len(origin_category),
        level,
        f"{labels['origin']}: share of vendors whose name is seen on {dest}",
        s,
    )
    return s


def fingerprint_overlap(sides: dict[str, set[str]], event: str, level: float) -> dict:
    """Shared PGP fingerprints between every pair of sides that both carry keys."""
    s: dict = {}
    keyed = sorted(m for m, fps in sides.items() if fps)
    s[f"sides_with_fingerprints.{event}"] = entry(
        len(keyed), "count", "Rosters of this comparison that carry PGP keys"
    )
    for i, a in enumerate(keyed):
        for b in keyed[i + 1 :]:
            shared = len(sides[a] & sides[b])
            _share(
                f"fingerprint_share_{a}_{b}.{event}",
                shared,
                len(sides[a]),
                level,
                f"Share of {a}'s PGP keys also on {b}",
                s,
            )
    return s


def _vendors(path: str, drug_category: str | None = None) -> tuple[list[str], list[str]]:
    """Vendor names (and PGP fingerprints, where the table has them) of a private clean
    table: a roster, or listings restricted to one drug category."""
    table = pd.read_parquet(path)
    if drug_category is not None and "drug_category" in table:
        table = table[table["drug_category"] == drug_category]
    fps = table["pgp_fingerprint"].tolist() if "pgp_fingerprint" in table else []
    return table["vendor"].tolist(), fps


def roster_model(tables: dict, spec: dict, events: dict, level: float, min_length: int) -> dict:
    """Model JSON of a roster overlap; `tables`: role -> private clean table
    (`destination`, `earlier`, `closed_<market>`), as given by rules/common.smk."""
    event = spec["event"]
    label = events[event]["label"]
    dest_names, dest_fps = _vendors(tables["destination"], spec["drug_category"])
    earlier_names, earlier_fps = _vendors(tables["earlier"])
    closed, closed_fps = {}, {}
    for m in spec["closed"]:
        names, fps = _vendors(tables[f"closed_{m}"])
        closed[m], closed_fps[m] = name_keys(names, min_length), fingerprint_set(fps)
    origin = spec["origin"]
    origin_names, _ = _vendors(tables[f"closed_{origin['market']}"], origin["drug_category"])
    labels = {
        "destination": f"{spec['drug_category']} vendors of the market after {label}",
        "earlier": "the market's earlier roster",
        "closed": f"a market closed by {label} ({', '.join(sorted(spec['closed']))})",
        "origin": f"{origin['market']}'s {origin['drug_category']} vendors before {label}",
        **{m: m for m in spec["closed"]},
    }
    summary = roster_overlap(
        name_keys(dest_names, min_length),
        name_keys(earlier_names, min_length),
        closed,
        name_keys(origin_names, min_length),
        event,
        labels,
        level,
    )
    sides = {"destination": fingerprint_set(dest_fps), "earlier": fingerprint_set(earlier_fps)}
    sides.update(closed_fps)
    summary.update(fingerprint_overlap(sides, event, level))
    summary[f"earlier_with_fingerprint.{event}"] = entry(
        len(sides["earlier"]), "count", "PGP keys (distinct fingerprints) on the earlier roster"
    )
    return {"summary": summary}
