"""What the landscape's headline shares are made of, for one dataset.

- EU-27 and the UK apart. Until 31 January 2020 the UK is an EU member, so the
  cleaning's ``ships_from_eu`` counts it in. Each drug listing's origin falls in one
  :data:`ORIGINS` group (:func:`origin_groups`): the UK alone; EU-27 (one or more
  named EU members other than the UK); an EU origin that may or may not be the UK
  (the bare word "EU" while the UK was a member, or a list naming the UK and other
  members: in neither share); outside the EU; "Europe" without a country, whose EU
  status is unknown (Hansa's "Europe (EU)"); and unknown (worldwide, unreadable,
  lists mixing EU and other places). Shares are over drug listings of known EU
  status (the denominator of the existing EU share), so EU-27 + UK + the
  undecided EU origins = that EU share.
- The drug share by listing rows (sightings) next to the share by distinct
  listings: a listing seen on forty crawls weighs forty times in the first.
- Vendor concentration: the share of drug listings (and of estimated drug sales)
  held by the top 1%, 5% and 10% of vendors. A vendor is a normalised alias (the
  cleaning's ``vendor_key``), pooled across the markets of a dataset: an alias seen
  on two markets is one vendor, a vendor who changed alias is two (the cross-market
  identities of dnmarkets.clean.identity, which also link PGP keys and alias
  variants, are not used here). Every real dataset is one market.
- Fentanyl and NPS offers: drug listings whose title or category path mentions
  fentanyl or an analogue (:data:`FENTANYL`), and listings in the ``nps``
  category. These count offers that say so, not verified content.
"""

from __future__ import annotations

import math
import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dnmarkets.clean.countries import eu_member, normalise_countries
from dnmarkets.clean.text import MAX_TEXT_LENGTH, _plain, clean_text, factorize_text
from dnmarkets.core.summary import entry
from dnmarkets.models.intervals import bootstrap_top_shares, share_by_vendor

ORIGINS = ("eu27", "uk", "eu_undecided", "non_eu", "europe_unknown", "unknown")
UK = "GB"
TOP_VENDOR_SHARES = (0.01, 0.05, 0.10)

# Fentanyl, its analogues (carfentanil, acetyl-, furanyl-, butyr-, acryl-, ocfentanil,
# sufentanil, ...: all contain "fentan"), misspellings seen in titles (fentanil,
# fentanayl, fentnayl, fentynal, fentanly, fentany), the short "fent" ("Fent HCL", "Fent Patch")
# and the brands of fentanyl patches, sprays and lozenges. Matched on folded text.
FENTANYL = re.compile(
    r"fent[aey]n[aiy]{0,2}l|fentnayl|fentanay\b|fentany\b|\bfenta?\b"
    r"|\bdur[ao]gesic\b|\bactiq\b|\bfentora\b|\babstral\b|\binstanyl\b"
)
# Titles that name fentanyl to say the goods are free of it, or sell a test for it
# ("fentanyl free shipping" and "fentanyl freebase" are offers of fentanyl).
NOT_FENTANYL = re.compile(
    r"(?:\bno|\bzero|\bnot|\bwithout|\bfree of)\s+(?:any\s+)?fent"
    r"|fent[a-z]*[\s-]+free\b(?![\s-]*(?:shipping|ship|upgrade|express|tracking|delivery|gift))"
    r"|test(?:ing)?[\s-]*strip|reagent|test kit"
)


def fold(text: str) -> str:
    """Cleaned, casefolded text without accents (``Fentanýl`` -> ``fentanyl``)."""
    decomposed = unicodedata.normalize("NFKD", clean_text(text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def mentions_fentanyl(text: str) -> bool:
    """The text names fentanyl or an analogue, and not to say it is free of it."""
    folded = fold(text)
    return bool(FENTANYL.search(folded)) and not NOT_FENTANYL.search(folded)


def fentanyl_flags(titles: pd.Series, paths: pd.Series) -> np.ndarray:
    """mentions_fentanyl of each title or category path, worked out per distinct text."""
    flags = np.zeros(len(titles), dtype=bool)
    for values in (titles, paths):
        codes, uniques = factorize_text(values)
        hits = np.append(_mentions_fentanyl_many(uniques), False)
        flags |= hits[codes]  # code -1 (missing) takes the trailing False
    return flags


# FENTANYL matches only folded text containing one of these
_FENTANYL_NEEDLES = ("fent", "gesic", "actiq", "abstral", "instanyl")


def _mentions_fentanyl_many(texts: list[str]) -> np.ndarray:
    """mentions_fentanyl of each text. A plain text (printable ASCII that clean_text
    leaves as it is) folds to its lower case, so one without any of the pattern's
    needles in any case cannot match: Arrow sorts those out, the Python fold and
    regexes run on the others only (per distinct title they were the landscape job's
    largest cost at 100x scale)."""
    python = ~_plain(texts, MAX_TEXT_LENGTH)
    if not python.all():
        array = pa.array(texts, type=pa.large_string())
        for needle in _FENTANYL_NEEDLES:
            python |= pc.match_substring(array, needle, ignore_case=True).to_numpy(
                zero_copy_only=False
            )
    hits = np.zeros(len(texts), dtype=bool)
    todo = np.flatnonzero(python)
    hits[todo] = [mentions_fentanyl(texts[i]) for i in todo]
    return hits


def origin_groups(first: pd.DataFrame) -> pd.Categorical:
    """The :data:`ORIGINS` group of each listing from its (first sighting's)
    ships_from, ships_from_eu, ships_from_raw and crawl_date."""
    group = {name: np.int8(i) for i, name in enumerate(ORIGINS)}
    # ships_from compared in Arrow and the groups kept as codes: an object array of the
    # codes and of the group names (and the Categorical's hash of them) took 0.8 GB at
    # 100x scale, the landscape job's peak
    ships_from = first["ships_from"].astype("str")

    def code_is(value: str) -> np.ndarray:
        return (ships_from == value).to_numpy(dtype=bool, na_value=False)

    eu = first["ships_from_eu"].astype("boolean")
    out = np.full(len(first), group["unknown"], dtype=np.int8)
    out[(eu == False).to_numpy(dtype=bool, na_value=False)] = group["non_eu"]  # noqa: E712
    out[code_is("EUROPE")] = group["europe_unknown"]
    is_eu = eu.to_numpy(dtype=bool, na_value=False)
    out[is_eu] = group["eu27"]
    # the bare "EU" (or a list with it) may be the UK while the UK was a member
    # per distinct day (a call per listing was slow at 100x scale)
    days, distinct_days = pd.factorize(first["crawl_date"], use_na_sentinel=False)
    uk_member = np.array([bool(eu_member(UK, d)) for d in distinct_days], dtype=bool)[days]
    out[is_eu & code_is("EU") & uk_member] = group["eu_undecided"]
    multi = is_eu & code_is("MULTI")
    if multi.any():
        parts = normalise_countries(first.loc[multi, "ships_from_raw"])["codes"].str.split(",")
        undecided = np.array([UK in p or "EU" in p for p in parts], dtype=bool)
        undecided &= uk_member[multi]
        out[np.flatnonzero(multi)[undecided]] = group["eu_undecided"]
    out[code_is(UK)] = group["uk"]
    return pd.Categorical.from_codes(out, categories=list(ORIGINS))


def origin_entries(drugs: pd.DataFrame, boot: dict) -> dict:
    """EU-27 and UK shares of drug listings of known EU status, with their counts."""
    pct = int(round(boot["level"] * 100))
    origin = drugs["origin"]
    known = drugs[drugs["ships_from_eu"].notna()]
    one = pd.Series(1.0, index=known.index)
    ci = f"({pct}% CI, bootstrap by vendor)"
    eu27 = share_by_vendor(known, known["origin"] == "eu27", one, boot)
    uk = share_by_vendor(known, known["origin"] == "uk", one, boot)

    def count(group: str) -> int:
        return int((origin == group).sum())

    return {
        "known_origin_drug_listings": entry(
            len(known),
            "count",
            "Drug listings whose origin is known to be in or outside the EU (the denominator "
            "of the EU, EU-27 and UK shares)",
        ),
        "eu27_share_drug_listings": entry(
            eu27[0],
            "share",
            "Share of drug listings of known origin shipped from a named EU-27 member "
            f"(the UK left out) {ci}",
            eu27[1:],
        ),
        "uk_share_drug_listings": entry(
            uk[0],
            "share",
            f"Share of drug listings of known origin shipped from the UK {ci}",
            uk[1:],
        ),
        "eu27_drug_listings": entry(
            count("eu27"), "count", "Drug listings shipped from a named EU-27 member"
        ),
        "uk_drug_listings": entry(count("uk"), "count", "Drug listings shipped from the UK"),
        "eu_undecided_drug_listings": entry(
            count("eu_undecided"),
            "count",
            "Drug listings from the EU that may be the UK (the bare 'EU' while the UK was a "
            "member, or a list naming the UK and other members): in the EU share, in neither "
            "the EU-27 nor the UK share",
        ),
        "unknown_eu_status_drug_listings": entry(
            count("europe_unknown"),
            "count",
            "Drug listings shipped from 'Europe' without a country (EU status unknown): left "
            "out of the denominator of the EU, EU-27 and UK shares",
        ),
    }


def drug_share_rows_entry(items: pd.DataFrame, boot: dict) -> dict:
    """Share of listing rows (sightings) that are drugs, with its vendor bootstrap."""
    pct = int(round(boot["level"] * 100))
    share = share_by_vendor(items, items["is_drug"], items["sightings"].astype(float), boot)
    return {
        "drug_share_rows": entry(
            share[0],
            "share",
            "Share of listing rows (one per listing and crawl) that offer drugs; a listing "
            f"seen on many crawls weighs more ({pct}% CI, bootstrap by vendor)",
            share[1:],
        ),
        "listing_rows": entry(
            int(items["sightings"].sum()), "count", "Listing rows (one per listing and crawl)"
        ),
    }


def top_share(values: np.ndarray, top: float) -> float:
    """Share of the total held by the largest ceil(top x n) entries."""
    values = np.sort(np.asarray(values, dtype=float))[::-1]
    if values.sum() <= 0:
        return float("nan")
    k = max(1, math.ceil(top * len(values) - 1e-9))
    return float(values[:k].sum() / values.sum())


def concentration(drugs: pd.DataFrame, boot: dict) -> tuple[dict, list[dict]]:
    """Top 1/5/10% vendors' shares of drug listings and of estimated drug sales
    (where the dataset has sales): summary entries and a table."""
    pct = int(round(boot["level"] * 100))
    per_vendor = drugs.groupby("vendor_key", sort=True).agg(
        listings=("vendor_key", "size"), sales=("est_sales_usd", "sum")
    )
    measures = {"listing": ("listings", "drug listings")}
    if per_vendor["sales"].sum() > 0:
        measures["sales"] = ("sales", "estimated drug sales (feedback x price)")
    summary, rows = {}, []
    n = len(per_vendor)
    ks = [max(1, math.ceil(top * n - 1e-9)) for top in TOP_VENDOR_SHARES]
    # the intervals of top_share(resample, top), every top from one set of draws
    intervals = {
        name: bootstrap_top_shares(per_vendor[column].to_numpy(dtype=float), ks, **boot)
        for name, (column, _) in measures.items()
    }
    for j, top in enumerate(TOP_VENDOR_SHARES):
        k = ks[j] if n else 0
        row = {"top": f"{top:.0%}", "vendors": k}
        for name, (column, words) in measures.items():
            values = per_vendor[column].to_numpy(dtype=float)
            value = top_share(values, top)
            low, high = intervals[name][j]
            summary[f"top{round(top * 100)}pct_vendors_{name}_share"] = entry(
                value,
                "share",
                f"Share of {words} held by the top {top:.0%} of vendors ({k} of {n} with a "
                f"drug listing; vendor = normalised alias; {pct}% CI, bootstrap by vendor)",
                (low, high),
            )
            row.update({f"{name}_share": value, f"{name}_low": low, f"{name}_high": high})
        rows.append(row)
    summary["drug_vendors"] = entry(n, "count", "Vendors (normalised aliases) with a drug listing")
    return summary, rows


def offer_entries(drugs: pd.DataFrame, boot: dict) -> dict:
    """Drug listings that mention fentanyl (or an analogue), and NPS listings, with
    their shares of drug listings."""
    pct = int(round(boot["level"] * 100))
    one = pd.Series(1.0, index=drugs.index)
    out = {"drug_listings": entry(len(drugs), "count", "Distinct drug listings observed")}
    flags = {
        "fentanyl": (
            drugs["mentions_fentanyl"],
            "whose title or category names fentanyl or "
            "an analogue (offers that say so, not verified content)",
        ),
        "nps": (drugs["drug_category"] == "nps", "in the new psychoactive substances category"),
    }
    for name, (flag, words) in flags.items():
        share = share_by_vendor(drugs, flag, one, boot)
        out[f"{name}_listings"] = entry(int(flag.sum()), "count", f"Drug listings {words}")
        out[f"{name}_share_drug_listings"] = entry(
            share[0],
            "share",
            f"Share of drug listings {words} ({pct}% CI, bootstrap by vendor)",
            share[1:],
        )
    return out
