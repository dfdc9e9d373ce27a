"""Vendor migration after market closures: who reappears where, and how fast.

For an event with closed markets present in the data:

* **Closure day** of a closed market: the event's first day, or its last day
  (``end_date``) when the market is still crawled after the first day (Hansa
  closed 15 days after AlphaBay).
* **Displaced accounts** (the cohort): vendor accounts of a closed market that
  were active before its closure and seen within ``displaced_window_days``
  of the market's last crawl before it (a vendor active at the closure is not
  seen in every crawl; the window is about two crawl intervals). A vendor on
  two closed markets is displaced twice, as in the simulator's truth.
* **Reappearance**: the first account of the same identity
  (:mod:`dnmarkets.clean.identity`) on another market first seen on or after the
  closure day. Crawls are days apart, so the day of reappearance is estimated
  as the midpoint between the destination's previous crawl and the first
  sighting; the delay is that day minus the closure day (at least one day).
* Shares of displaced accounts reappearing within 7, 30 and 90 days and the
  share not seen again within 90 days (Wilson intervals); destination shares
  among migrants (Wilson; the top destination's share with a bootstrap
  interval that includes the choice of the top market); the Kaplan-Meier
  (product-limit) curve of time to reappearance, censored at the end of the
  data (statsmodels ``SurvfuncRight``; log-log pointwise intervals); alias and
  PGP change shares among migrants; and a logistic regression of migration on
  vendor characteristics (odds ratios).

The alias/PGP change shares are measured on *linked* migrants: a migrant who
changed both alias and key cannot be linked, so both shares are lower bounds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight

from dnmarkets.clean.identity import exact_key
from dnmarkets.core.configcheck import schema_defaults
from dnmarkets.core.summary import entry
from dnmarkets.models.intervals import wilson

HORIZONS = (7, 30, 90)
MIN_OUTCOMES = 10  # fewest migrants (and non-migrants) for the regression


def closure_days(event: dict, market_day: pd.DataFrame) -> dict[str, pd.Timestamp]:
    """Closure day of each closed market that appears in the data."""
    start = pd.Timestamp(event["date"])
    end = pd.Timestamp(event.get("end_date") or event["date"])
    out = {}
    crawled = market_day[market_day["crawled"] & (market_day["crawl_rows"] > 0)]
    for m in event["markets_closed"]:
        days = pd.to_datetime(crawled.loc[crawled["market"] == m, "date"])
        if days.empty or days.min() >= start:
            continue  # not in the data, or only crawled after the event
        out[m] = end if days.max() >= start else start
    return out


# the columns of the vendor profiles (clean vendors table) read here
PROFILE_COLUMNS = ["market", "vendor_key", "crawl_date", "rating", "registered"]
PROFILE_KEYS = ["market", "vendor_key"]


def vendor_profiles(vendors: pd.DataFrame) -> pd.DataFrame:
    """Per account (market, vendor_key, sorted): first and last crawl with a profile
    (first_seen, last_seen), mean rating and earliest registration date, from the
    profile rows (PROFILE_COLUMNS). The models read only these: summarised once, not
    per event and matching threshold."""
    return (
        vendors.groupby(PROFILE_KEYS)
        .agg(
            first_seen=("crawl_date", "min"),
            last_seen=("crawl_date", "max"),
            rating=("rating", "mean"),
            registered=("registered", "min"),
        )
        .reset_index()
    )


def read_vendor_profiles(path) -> pd.DataFrame:
    """vendor_profiles of the clean vendors table at `path`, without reading it into
    pandas (tens of millions of rows at 100x scale): a column at a time, integer
    codes for the accounts, numpy minima and maxima for the dates, and pandas'
    grouped mean (the same summation) for the rating."""
    import pyarrow.parquet as pq

    from dnmarkets.panels.build import ranked_codes

    def column(name):
        return pq.read_table(path, columns=[name], read_dictionary=PROFILE_KEYS).column(0)

    market, markets = ranked_codes(column("market"), "market", path)
    vendor, vendors = ranked_codes(column("vendor_key"), "vendor_key", path)
    # accounts numbered in (market, vendor_key) order, as the group-by sorts them
    width = max(len(vendors), 1)
    key = market.astype(np.int64) * width + vendor
    del market, vendor
    present = np.bincount(key, minlength=max(len(markets), 1) * width) > 0
    accounts = np.flatnonzero(present)
    group = (np.cumsum(present) - 1)[key]
    del key, present
    n = len(accounts)
    first, last = _min_max(group, _days(column("crawl_date")), n)
    earliest, _ = _min_max(group, _days(column("registered")), n)
    rating = pd.Series(_floats(column("rating"))).groupby(group).mean().to_numpy()
    # the pandas dtypes read_parquet gives the key columns
    types = pq.read_schema(path).empty_table().to_pandas().dtypes
    return pd.DataFrame(
        {
            "market": pd.array(
                np.array(markets, dtype=object)[accounts // width], dtype=types["market"]
            ),
            "vendor_key": pd.array(
                np.array(vendors, dtype=object)[accounts % width], dtype=types["vendor_key"]
            ),
            "first_seen": _dates(first),
            "last_seen": _dates(last),
            "rating": rating,
            "registered": _dates(earliest),
        }
    )


def _min_max(group: np.ndarray, days: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Earliest and latest of `days` per group (missing days skipped; NaN for a
    group without any, as pandas' min and max)."""
    known = ~np.isnan(days)
    low, high = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(low, group[known], days[known])
    np.maximum.at(high, group[known], days[known])
    low[np.isinf(low)], high[np.isinf(high)] = np.nan, np.nan
    return low, high


def _days(column) -> np.ndarray:
    """A date column as days since 1970-01-01, NaN where missing."""
    days = column.cast("int32").cast("float64")
    return np.concatenate([c.to_numpy(zero_copy_only=False) for c in days.chunks] or [np.zeros(0)])


def _floats(column) -> np.ndarray:
    values = column.cast("float64")
    return np.concatenate(
        [c.to_numpy(zero_copy_only=False) for c in values.chunks] or [np.zeros(0)]
    )


def _dates(days: np.ndarray) -> np.ndarray:
    """datetime.date objects of days since 1970-01-01; NaN stays NaN (as pandas'
    min of an object column with no date)."""
    out = np.full(len(days), np.nan, dtype=object)
    known = ~np.isnan(days)
    out[known] = (np.datetime64("1970-01-01", "D") + days[known].astype(np.int64)).astype(object)
    return out


def _profiles(vendors: pd.DataFrame | None) -> pd.DataFrame | None:
    """The per-account summary of `vendors` (profile rows, or already a summary)."""
    if vendors is None or not len(vendors):
        return None
    return vendor_profiles(vendors) if "crawl_date" in vendors.columns else vendors


def account_spans(vendor_market: pd.DataFrame, vendors: pd.DataFrame | None) -> pd.DataFrame:
    """First and last sighting of each (market, vendor_key), from listings and profiles.
    `vendors`: the profile rows (PROFILE_COLUMNS) or their summary (vendor_profiles)."""
    spans = vendor_market[["market", "vendor_key", "first_seen", "last_seen"]].copy()
    profiles = _profiles(vendors)
    if profiles is not None:
        prof = profiles[["market", "vendor_key", "first_seen", "last_seen"]]
        spans = pd.concat([spans, prof], ignore_index=True)
    spans["first_seen"] = pd.to_datetime(spans["first_seen"])
    spans["last_seen"] = pd.to_datetime(spans["last_seen"])
    return (
        spans.groupby(["market", "vendor_key"])
        .agg(first_seen=("first_seen", "min"), last_seen=("last_seen", "max"))
        .reset_index()
    )


def _previous_crawl(market_day: pd.DataFrame) -> dict[str, np.ndarray]:
    crawled = market_day[market_day["crawled"] & (market_day["crawl_rows"] > 0)]
    return {
        m: np.sort(pd.to_datetime(g["date"]).to_numpy())
        for m, g in crawled.groupby("market", sort=True)
    }


def displacements(
    event: dict,
    accounts: pd.DataFrame,
    market_day: pd.DataFrame,
    settings: dict,
) -> pd.DataFrame:
    """One row per displaced account with its reappearance (if any).

    `accounts`: market, vendor_key, identity, alias, pgp, first_seen, last_seen.
    """
    s = {**schema_defaults("analysis.migration"), **settings}
    closes = closure_days(event, market_day)
    crawls = _previous_crawl(market_day)
    frames = []
    for m, c in sorted(closes.items()):
        m_crawls = crawls[m][crawls[m] < np.datetime64(c)]
        last_crawl = pd.Timestamp(m_crawls.max())
        window = pd.Timedelta(days=int(s["displaced_window_days"]))
        on_m = accounts[
            (accounts["market"] == m)
            & (accounts["first_seen"] < c)
            & (accounts["last_seen"] >= last_crawl - window)
        ]
        if len(on_m):
            frames.append(_displaced(m, c, on_m, _destinations(accounts, m, c), crawls))
    # (the frame the rows gave when built one dict per account: no rows, no columns)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame([])


def _displaced(
    market: str, closure: pd.Timestamp, on_m: pd.DataFrame, destinations: pd.DataFrame, crawls
) -> pd.DataFrame:
    """The rows of displacements for the cohort `on_m` of one closed market."""
    n = len(on_m)
    dest = destinations.reindex(on_m["identity"].to_numpy())
    moved = dest["market"].notna().to_numpy()
    delay = np.full(n, np.nan)
    alias_changed = np.full(n, np.nan)
    pgp_changed = np.full(n, np.nan)
    if moved.any():
        went = dest[moved]
        delay[moved] = _delays(went, closure, crawls)
        alias_changed[moved] = [
            float(exact_key(a) != exact_key(b))
            for a, b in zip(on_m["alias"].to_numpy()[moved], went["alias"], strict=True)
        ]
        changed = []
        for a, b in zip(on_m["pgp"].to_numpy()[moved], went["pgp"], strict=True):
            old, new = _pgp_keys(a), _pgp_keys(b)
            changed.append(float(not old & new) if old and new else np.nan)
        pgp_changed[moved] = changed
        reappeared = dest["first_seen"].to_numpy()
    else:  # (rows of NaT only: pandas types them in seconds)
        reappeared = np.full(n, np.datetime64("NaT", "s"))
    # lists of python objects where the rows held them, so pandas types them alike
    return pd.DataFrame(
        {
            "market": [market] * n,
            "closure_day": [closure] * n,
            "vendor_key": on_m["vendor_key"].to_numpy(),
            "identity": on_m["identity"].to_numpy(),
            "first_seen": on_m["first_seen"].to_numpy(),
            "migrated": moved,
            "destination": np.where(moved, dest["market"].to_numpy(object), ""),
            "reappeared": reappeared,
            "delay_days": delay,
            "alias_changed": alias_changed,
            "pgp_changed": pgp_changed,
        }
    )


def _destinations(accounts: pd.DataFrame, market: str, closure: pd.Timestamp) -> pd.DataFrame:
    """Per identity, its first account on another market first seen on or after the
    closure (earliest first sighting, then market name, then table order): market,
    first_seen, alias, pgp, indexed by identity. One stable sort of the candidates
    instead of a search per displaced account."""
    later = accounts[(accounts["market"] != market) & (accounts["first_seen"] >= closure)]
    later = later[["identity", "market", "first_seen", "alias", "pgp"]]
    later = later.sort_values(["first_seen", "market"], kind="stable")
    return later.drop_duplicates("identity").set_index("identity")


def _delays(dest: pd.DataFrame, closure: pd.Timestamp, crawls: dict) -> np.ndarray:
    """Days from the closure to each destination's reappearance day: the mean day of
    (the destination's previous crawl, the first sighting], where the previous crawl
    is at least the day before the closure (and the day before the first sighting
    when the destination has no earlier crawl); at least one day."""
    seen = dest["first_seen"].to_numpy()
    markets = dest["market"].to_numpy(object)
    one = np.timedelta64(1, "D")
    previous = seen - one  # no earlier crawl of the destination (it opened)
    for market in np.unique(markets):
        here = markets == market
        days = crawls[market]
        before = np.searchsorted(days, seen[here], side="left")  # crawls < first sighting
        found = before > 0
        previous[np.flatnonzero(here)[found]] = days[before[found] - 1]
    lo = np.maximum(previous, np.datetime64(closure) - one)
    stamps = [lo, seen, np.datetime64(closure)]
    if all((np.asarray(t).astype("datetime64[D]") == t).all() for t in stamps):
        # whole days (dates): the half-day arithmetic is exact in float days, as
        # with timestamps (lo + (seen - lo) / 2 + 12 hours - closure, in days)
        lo_d, seen_d = (
            lo.astype("datetime64[D]").astype(np.int64),
            seen.astype("datetime64[D]").astype(np.int64),
        )
        closure_d = np.datetime64(closure, "D").astype(np.int64)
        return np.maximum((lo_d - closure_d) + (seen_d - lo_d) / 2 + 0.5, 1.0)
    out = []
    for lo_t, seen_t in zip(lo, seen, strict=True):  # (times of day: as timestamps)
        lo_t, seen_t = pd.Timestamp(lo_t), pd.Timestamp(seen_t)
        day = lo_t + (seen_t - lo_t) / 2 + pd.Timedelta(hours=12)
        out.append(float(max((day - closure) / pd.Timedelta(days=1), 1.0)))
    return np.array(out)


def _pgp_keys(pgp: str) -> set[str]:
    return set(filter(None, pgp.split("|")))


def product_limit(time: np.ndarray, event: np.ndarray) -> pd.DataFrame:
    """Kaplan-Meier with statsmodels: times, S(t), Greenwood SE and a 95%
    log-log pointwise interval of S, at every event time."""
    sf = SurvfuncRight(np.asarray(time, float), np.asarray(event, int))
    return pd.DataFrame(
        {
            "time": sf.surv_times,
            "surv": sf.surv_prob,
            "se": sf.surv_prob_se,
            "n_risk": sf.n_risk,
            "n_events": sf.n_events,
        }
    )


def km_at(curve: pd.DataFrame, t: float, level: float) -> tuple[float, float, float]:
    """Cumulative share reappeared by day t (1 - S(t)) with a log-log interval."""
    before = curve[curve["time"] <= t]
    if before.empty:
        return 0.0, 0.0, 0.0
    s, se = float(before["surv"].iloc[-1]), float(before["se"].iloc[-1])
    if s <= 0 or s >= 1 or se == 0:
        return 1 - s, 1 - s, 1 - s
    z = stats.norm.ppf(0.5 + level / 2)
    v = se / (s * abs(math.log(s)))
    lo_s = s ** math.exp(z * v)  # S^(exp(+z v)) is the lower bound of S
    hi_s = s ** math.exp(-z * v)
    return 1 - s, 1 - hi_s, 1 - lo_s


def _top_share_ci(dest: np.ndarray, level: float, reps: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    codes, _ = pd.factorize(pd.Series(dest))
    n, k = len(codes), codes.max() + 1
    draws = rng.integers(0, n, size=(reps, n))
    # each replicate's count of every market: one bincount over a block of replicates
    # (replicate r's codes offset by r * k), not one per replicate
    tops = np.empty(reps)
    block = max(1, (1 << 22) // max(n, 1))
    for lo in range(0, reps, block):
        picked = codes[draws[lo : lo + block]]
        picked += (np.arange(len(picked)) * k)[:, None]
        counts = np.bincount(picked.ravel(), minlength=len(picked) * k).reshape(-1, k)
        tops[lo : lo + block] = counts.max(axis=1) / n
    return (
        float(np.quantile(tops, (1 - level) / 2)),
        float(np.quantile(tops, 0.5 + level / 2)),
    )


def covariates(
    disp: pd.DataFrame,
    vendor_market: pd.DataFrame,
    vendors: pd.DataFrame | None,
    min_size: int,
) -> pd.DataFrame:
    """Characteristics of each displaced account for the regression."""
    vm = vendor_market[
        ["market", "vendor_key", "est_sales_usd", "main_category", "ships_from_region"]
    ]
    x = disp.merge(vm, on=["market", "vendor_key"], how="left")
    x["log_sales"] = np.log1p(x["est_sales_usd"].fillna(0.0))
    start = x["first_seen"]
    profiles = _profiles(vendors)
    if profiles is not None:
        prof = profiles[["market", "vendor_key", "rating", "registered"]]
        x = x.merge(prof, on=["market", "vendor_key"], how="left")
        reg = pd.to_datetime(x["registered"], errors="coerce")
        start = reg.where(reg.notna() & (reg < x["first_seen"]), x["first_seen"])
    else:
        x["rating"] = np.nan
    x["tenure_years"] = (x["closure_day"] - start).dt.days / 365.25
    for col in ("main_category", "ships_from_region"):
        v = x[col].fillna("unknown").astype(str)
        counts = v.value_counts()
        x[col] = v.where(v.map(counts) >= min_size, "other")
    return x


def logistic(x: pd.DataFrame, level: float) -> list[dict]:
    """Odds ratios of migrating (reappearing within 90 days) with Wald intervals."""
    y = ((x["migrated"]) & (x["delay_days"] <= 90)).astype(float)
    cols = {"log_sales": x["log_sales"], "tenure_years": x["tenure_years"]}
    if x["rating"].notna().mean() > 0.9:
        cols["rating"] = x["rating"].fillna(x["rating"].mean())
    design = pd.DataFrame(cols)
    for col, label in (("main_category", "category"), ("ships_from_region", "region")):
        levels = x[col].value_counts()
        if len(levels) < 2:
            continue
        ref = levels.index[0]
        for lv in sorted(levels.index):
            if lv != ref:
                design[f"{label}: {lv} (vs {ref})"] = (x[col] == lv).astype(float)
    design = design.loc[:, design.nunique() > 1]  # a constant column says nothing
    if min(y.sum(), len(y) - y.sum()) < MIN_OUTCOMES:
        raise ValueError(f"fewer than {MIN_OUTCOMES} migrants or non-migrants")
    design = sm.add_constant(design, has_constant="add")
    fit = sm.GLM(y, design, family=sm.families.Binomial()).fit()
    ci = fit.conf_int(alpha=1 - level)
    out = []
    for name in design.columns:
        if name == "const":
            continue
        out.append(
            {
                "term": name,
                "odds_ratio": float(np.exp(fit.params[name])),
                "ci_low": float(np.exp(ci.loc[name, 0])),
                "ci_high": float(np.exp(ci.loc[name, 1])),
                "p_value": float(fit.pvalues[name]),
            }
        )
    return out


TERM_KEYS = {"log_sales": "sales", "tenure_years": "tenure", "rating": "rating"}


def _cohort_entries(disp: pd.DataFrame, name: str, label: str) -> tuple[dict, dict]:
    """Counts of displaced accounts and identities, and each closed market's closure and cohort."""
    tab: dict = {"closure_days": {}, "displaced_by_market": {}}
    for m, g in disp.groupby("market"):
        tab["closure_days"][m] = g["closure_day"].iloc[0].date().isoformat()
        tab["displaced_by_market"][m] = int(len(g))
    summary = {
        f"displaced.{name}": entry(
            len(disp),
            "count",
            f"Vendor accounts displaced by {label} (active on a closed market at its closure)",
        ),
        f"displaced_identities.{name}": entry(
            disp["identity"].nunique(), "count", f"Distinct vendor identities displaced by {label}"
        ),
    }
    return summary, tab


def _reappearance_entries(
    disp: pd.DataFrame, follow: pd.Series, name: str, label: str, level: float, pct: int
) -> dict:
    """Shares reappearing within each observed horizon, and not seen again within 90 days."""
    summary = {}
    n = len(disp)
    delay = disp["delay_days"]
    for k in HORIZONS:
        if follow.min() < k:
            continue
        hits = int((disp["migrated"] & (delay <= k)).sum())
        est, low, high = wilson(hits, n, level)
        summary[f"reappear_share_{k}d.{name}"] = entry(
            est,
            "share",
            f"Share of vendors displaced by {label} seen on another market within {k} days "
            f"of the closure ({pct}% Wilson interval)",
            (low, high),
        )
    if f"reappear_share_90d.{name}" in summary:
        hits = int((disp["migrated"] & (delay <= 90)).sum())
        est, low, high = wilson(n - hits, n, level)
        summary[f"disappear_share.{name}"] = entry(
            est,
            "share",
            f"Share of vendors displaced by {label} not seen on any crawled market within "
            f"90 days ({pct}% Wilson interval; includes migrants the matching missed)",
            (low, high),
        )
    return summary


def _km_entries(
    disp: pd.DataFrame, follow: pd.Series, name: str, label: str, level: float, pct: int
) -> tuple[dict, dict]:
    """Kaplan-Meier shares reappeared by each horizon (censored at the data end), and the curve."""
    time = np.where(disp["migrated"], disp["delay_days"], follow.to_numpy(float))
    curve = product_limit(time, disp["migrated"].to_numpy(int))
    summary = {}
    for k in HORIZONS:
        est, low, high = km_at(curve, k, level)
        summary[f"km_reappear_{k}d.{name}"] = entry(
            est,
            "share",
            f"Kaplan-Meier share reappeared by day {k} after {label} (censored at the end "
            f"of the data; {pct}% log-log interval)",
            (low, high),
        )
    tab = {"km": curve.to_dict(orient="records"), "km_followup_days": float(time.max())}
    return summary, tab


def _delay_entries(
    mig: pd.DataFrame, name: str, label: str, level: float, pct: int, seed: int, reps: int
) -> dict:
    """Mean (t interval) and median (bootstrap interval) days to reappearance among migrants."""
    nm = len(mig)
    d = mig["delay_days"].to_numpy(float)
    tq = stats.t.ppf(0.5 + level / 2, max(nm - 1, 1))
    half = tq * d.std(ddof=1) / math.sqrt(nm) if nm > 1 else float("nan")
    summary = {
        f"delay_mean_days.{name}": entry(
            d.mean(),
            "days",
            f"Mean days from closure to reappearance among migrants after {label} "
            f"({pct}% t interval; day of reappearance at the midpoint between crawls)",
            (d.mean() - half, d.mean() + half),
        )
    }
    rng = np.random.default_rng(seed)
    meds = np.median(rng.choice(d, size=(reps, nm), replace=True), axis=1)
    summary[f"delay_median_days.{name}"] = entry(
        float(np.median(d)),
        "days",
        f"Median days from closure to reappearance among migrants after {label} "
        f"({pct}% bootstrap interval)",
        (float(np.quantile(meds, (1 - level) / 2)), float(np.quantile(meds, 0.5 + level / 2))),
    )
    return summary


def _destination_entries(
    mig: pd.DataFrame,
    markets_closed: list[str],
    name: str,
    label: str,
    level: float,
    pct: int,
    seed: int,
    reps: int,
) -> tuple[dict, dict]:
    """Destination shares among migrants (all, and final: open markets) and the top one's share."""
    summary = {}
    dest_rows = []
    closed = set(markets_closed)
    for scope, frame in (("all", mig), ("final", mig[~mig["destination"].isin(closed)])):
        total = len(frame)
        for m, cnt in frame["destination"].value_counts().sort_index().items():
            est, low, high = wilson(int(cnt), total, level)
            dest_rows.append(
                {
                    "scope": scope,
                    "destination": m,
                    "migrants": int(cnt),
                    "share": est,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
            if scope == "all":
                summary[f"destination_share_{m}.{name}"] = entry(
                    est,
                    "share",
                    f"Share of migrants after {label} whose first new market was {m} "
                    f"({pct}% Wilson interval)",
                    (low, high),
                )
    tab = {"destinations": dest_rows}
    final = mig[~mig["destination"].isin(closed)]["destination"].to_numpy()
    if len(final):
        counts = pd.Series(final).value_counts()
        top = str(sorted(counts[counts == counts.max()].index)[0])
        low, high = _top_share_ci(final, level, reps, seed)
        summary[f"top_destination_share.{name}"] = entry(
            counts.max() / len(final),
            "share",
            f"Share of migrants after {label} going to the most chosen open market "
            f"({top}; among markets not closed in the event; {pct}% bootstrap interval "
            "that includes the choice of the top market)",
            (low, high),
        )
        tab["top_destination"] = top
    return summary, tab


def _flows(disp: pd.DataFrame) -> list[dict]:
    """Accounts from each closed market to each destination and to "not seen again"."""
    flows = []
    for m, g in disp.groupby("market"):
        moved = g[g["migrated"] & (g["delay_days"] <= 90)]
        for dst, cnt in moved["destination"].value_counts().sort_index().items():
            flows.append({"source": m, "target": dst, "accounts": int(cnt)})
        flows.append(
            {"source": m, "target": "not seen again", "accounts": int(len(g) - len(moved))}
        )
    return flows


def _change_entries(mig: pd.DataFrame, name: str, label: str, level: float, pct: int) -> dict:
    """Shares of linked migrants with a changed alias and with a changed PGP key."""
    summary = {}
    for col, key, what in (
        ("alias_changed", "alias_change_share", "a changed alias"),
        ("pgp_changed", "pgp_change_share", "a changed PGP key"),
    ):
        v = mig[col].dropna()
        est, low, high = wilson(int(v.sum()), len(v), level)
        summary[f"{key}.{name}"] = entry(
            est,
            "share",
            f"Share of linked migrants after {label} with {what} (of {len(v)} with the "
            f"information; a lower bound: migrants changing both cannot be linked; "
            f"{pct}% Wilson interval)",
            (low, high),
        )
    return summary


def _regression_entries(
    x: pd.DataFrame, name: str, label: str, level: float, pct: int
) -> tuple[dict, dict]:
    """Odds ratios of migrating for the vendor characteristics, and the regression's table."""
    tab = {}
    try:
        terms = logistic(x, level)
    except (ValueError, np.linalg.LinAlgError) as err:  # e.g. perfect separation
        terms = []
        tab["regression_error"] = str(err)
    tab["regression"] = terms
    summary = {}
    for t in terms:
        if t["term"] in TERM_KEYS:
            summary[f"odds_ratio_{TERM_KEYS[t['term']]}.{name}"] = entry(
                t["odds_ratio"],
                "ratio",
                f"Odds ratio of migrating after {label} per unit of {t['term']} "
                f"(logistic regression with category and region; {pct}% Wald interval)",
                (t["ci_low"], t["ci_high"]),
            )
    return summary, tab


def migration(
    events: dict,
    accounts: pd.DataFrame,
    vendor_market: pd.DataFrame,
    market_day: pd.DataFrame,
    vendors: pd.DataFrame | None,
    settings: dict,
    level: float,
    seed: int,
    reps: int,
    *,
    shares_only: bool = False,
) -> dict:
    """Catalogue entries `<quantity>.<event>` and tables for the notebook. With
    `shares_only`, only the cohort, reappearance and destination entries (what the
    matching sensitivity reads; each has its own random draws, so they do not
    depend on the entries left out)."""
    s = {**schema_defaults("analysis.migration"), **settings}
    pct = int(round(level * 100))
    summary: dict = {}
    tables: dict = {}
    vendors = _profiles(vendors)  # summarised once for all events
    data_end = pd.to_datetime(market_day["date"]).max()
    for name, event in sorted(events.items()):
        disp = displacements(event, accounts, market_day, s)
        if disp.empty:
            continue
        label = event["label"]
        entries, tab = _cohort_entries(disp, name, label)
        summary.update(entries)
        # observed horizons: a share within k days needs k days of data after every closure
        follow = (data_end - disp["closure_day"]).dt.days
        summary.update(_reappearance_entries(disp, follow, name, label, level, pct))
        # migrants: reappeared within 90 days
        mig = disp[disp["migrated"] & (disp["delay_days"] <= 90)]
        if shares_only:
            if len(mig):
                entries, _ = _destination_entries(
                    mig, event["markets_closed"], name, label, level, pct, seed, reps
                )
                summary.update(entries)
            continue
        entries, km = _km_entries(disp, follow, name, label, level, pct)
        summary.update(entries)
        tab.update(km)
        summary[f"migrants.{name}"] = entry(
            len(mig), "count", f"Displaced accounts seen on another market within 90 days ({label})"
        )
        if mig.empty:
            tables[name] = tab
            continue
        summary.update(_delay_entries(mig, name, label, level, pct, seed, reps))
        entries, destinations = _destination_entries(
            mig, event["markets_closed"], name, label, level, pct, seed, reps
        )
        summary.update(entries)
        tab.update(destinations)
        tab["flows"] = _flows(disp)
        summary.update(_change_entries(mig, name, label, level, pct))
        # who migrates: logistic regression
        x = covariates(disp, vendor_market, vendors, int(s["min_category_size"]))
        entries, regression = _regression_entries(x, name, label, level, pct)
        summary.update(entries)
        tab.update(regression)
        tables[name] = tab
    return {"summary": summary, "tables": tables}


def estimand_entries(name: str, t: dict, level: float = 0.95) -> tuple[dict, dict | None]:
    """Which estimand each migration interval targets, for one event's ground truth `t`.

    The reappearance shares estimate the realised share of this cohort that migrated
    (and was seen): a property of one simulated ecosystem. The planted probability
    is a parameter of the process that drew each displaced vendor's decision; the
    realised decisions are a binomial draw from it, so their count over the
    displacements, with its Wilson interval, is the estimator of the planted
    probability (the crawls add identity matching and detection on top, so the
    reappearance shares target probability x detection, not the probability itself).
    Returns the catalogue entries and a check row of the planted probability against
    the realised decisions' interval (None without the decisions in the truth)."""
    n = int(t.get("displacements") or 0)
    share = t.get("migration_decision_share")
    planted = (t.get("planted") or {}).get("probability")
    if not n or share is None or planted is None:
        return {}, None
    k = int(round(share * n))
    est, low, high = wilson(k, n, level)
    pct = round(100 * level)
    se = math.sqrt(planted * (1 - planted) / n)
    out = {
        f"realised_decision_share.{name}": entry(
            est,
            "share",
            f"Share of the displaced accounts that decided to migrate in this simulated "
            f"ecosystem (the simulator's realised decisions, {k} of {n}); the interval is "
            f"the {pct}% Wilson interval of these decisions as an estimate of the planted "
            "migration probability",
            (low, high),
        ),
        f"realised_decisions.{name}": entry(
            k, "count", "Displaced accounts that decided to migrate (simulator's truth)"
        ),
        f"realised_displacements.{name}": entry(
            n, "count", "Accounts displaced by the closures (simulator's truth)"
        ),
        f"planted_probability.{name}": entry(
            float(planted), "share", "Planted migration probability (simulation config)"
        ),
        f"planted_probability_z.{name}": entry(
            (est - planted) / se,
            "ratio",
            "Realised decision share minus the planted probability, in binomial standard "
            "errors of the realised share (|z| > 1.96 in about 5% of simulations)",
        ),
    }
    row = {
        "event": name,
        "quantity": "decision_share",
        "truth": "planted",
        "true": float(planted),
        "estimate": est,
        "ci_low": low,
        "ci_high": high,
        "covered": bool(low <= planted <= high),
    }
    return out, row


def truth_checks(summary: dict, truth_events: dict, level: float = 0.95) -> tuple[dict, list[dict]]:
    """Estimates next to the simulator's realised and planted values, and the realised
    decisions' interval for the planted migration probability (:func:`estimand_entries`)."""
    checks = []
    estimands = {}
    for name, t in sorted(truth_events.items()):
        entries, row = estimand_entries(name, t, level)
        estimands.update(entries)
        if row is not None:
            checks.append(row)
        pairs = [
            ("reappear_share_7d", t["reappearance_share_within_days"]["7"], "realised"),
            ("reappear_share_30d", t["reappearance_share_within_days"]["30"], "realised"),
            ("reappear_share_90d", t["reappearance_share_within_days"]["90"], "realised"),
            ("reappear_share_90d", t["planted"]["probability"], "planted"),
            ("delay_mean_days", t["delay_mean_days"], "realised"),
            ("delay_mean_days", t["planted"]["delay_mean_days"], "planted"),
            ("alias_change_share", t["alias_change_share"], "realised"),
            ("pgp_change_share", t["pgp_change_share"], "realised"),
        ]
        for m, share in t["destination_shares"].items():
            if share:
                pairs.append((f"destination_share_{m}", share, "realised"))
        final = {m: v for m, v in t["final_destination_shares"].items() if v}
        if final:
            pairs.append(("top_destination_share", max(final.values()), "realised"))
        for key, true, kind in pairs:
            est = summary.get(f"{key}.{name}")
            if est is None or true is None:
                continue
            checks.append(
                {
                    "event": name,
                    "quantity": key,
                    "truth": kind,
                    "true": float(true),
                    "estimate": est["value"],
                    "ci_low": est["ci_low"],
                    "ci_high": est["ci_high"],
                    "covered": bool(est["ci_low"] <= true <= est["ci_high"]),
                }
            )
    out = dict(estimands)
    realised = [c for c in checks if c["truth"] == "realised"]
    planted = [c for c in checks if c["truth"] == "planted"]
    if realised:
        out["checks_covered"] = entry(
            sum(c["covered"] for c in realised),
            "count",
            f"Migration estimates whose interval covers the simulator's realised value "
            f"(of {len(realised)})",
        )
        out["checks"] = entry(
            len(realised), "count", "Migration estimates checked against realised truth"
        )
    if planted:
        out["planted_checks_covered"] = entry(
            sum(c["covered"] for c in planted),
            "count",
            f"Migration estimates whose interval covers the planted parameter (of {len(planted)};"
            " the realised values of one simulation scatter around it)",
        )
    return out, checks


def matching_sensitivity(
    identities: pd.DataFrame,
    vendor_market: pd.DataFrame,
    market_day: pd.DataFrame,
    vendors: pd.DataFrame | None,
    events: dict,
    settings: dict,
    level: float,
    seed: int,
) -> list[dict]:
    """Migration estimates (reappearance within 30 days, top destination's share) and,
    with a truth, matching precision and recall, for each fuzzy-matching threshold in
    settings["sensitivity_thresholds"] (1 = exact and normalised aliases and PGP keys only).
    `identities` holds one identity column per threshold (identity.identity_table)."""
    from dnmarkets.clean.identity import pairwise_scores, threshold_column

    rows = []
    vendors = _profiles(vendors)  # summarised once for all thresholds
    spans = account_spans(vendor_market, vendors)
    for threshold in settings.get("sensitivity_thresholds", []):
        matching = {**settings.get("matching", {}), "fuzzy_threshold": float(threshold)}
        resolved = identities.assign(identity=identities[threshold_column(threshold)])
        accounts = resolved.merge(spans, on=["market", "vendor_key"], how="left")
        result = migration(
            events,
            accounts,
            vendor_market,
            market_day,
            vendors,
            {**settings, "matching": matching},
            level,
            seed,
            200,
            shares_only=True,  # the rows below read the reappearance and top destination
        )
        scores = (
            pairwise_scores(resolved, resolved["true_uid"])
            if "true_uid" in resolved.columns
            else {}
        )
        for name in sorted(events):
            s = result["summary"]
            if f"reappear_share_30d.{name}" not in s:
                continue
            rows.append(
                {
                    "event": name,
                    "threshold": float(threshold),
                    "identities": int(resolved["identity"].nunique()),
                    "precision": scores.get("precision"),
                    "recall": scores.get("recall"),
                    "reappear_share_30d": s[f"reappear_share_30d.{name}"]["value"],
                    "reappear_low": s[f"reappear_share_30d.{name}"]["ci_low"],
                    "reappear_high": s[f"reappear_share_30d.{name}"]["ci_high"],
                    "top_destination_share": s.get(f"top_destination_share.{name}", {}).get(
                        "value"
                    ),
                }
            )
    return rows
