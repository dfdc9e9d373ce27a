"""Reference data for the real datasets: exchange rates and the market registry.

Rates. BTC prices are converted at the crawl day's Bitcoin price in USD from
Coin Metrics' daily series (column `price(USD)`); the EUR/USD column is the
ECB euro reference rate of the day (dnmarkets.sources.ecb: the last rate
published before a weekend or holiday), the same rate that converts every
USD amount to euros.

Registry. gwern Branwen's table of darknet markets (update of 2019-06-09):
one row per market with opening and closing dates, closure reason and
characteristics. Known problems are flagged, not silently fixed.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from dnmarkets.sources.ecb import ecb_rates, usd_per_eur
from dnmarkets.sources.rawcsv import read_bytes

CLOSURES = ("raided", "scam", "hacked", "voluntary")


def btc_usd_rates(coinmetrics_csv: str | Path) -> pd.DataFrame:
    """Daily `date, btc_usd, eur_usd` from the Coin Metrics file (rows without a price,
    or on days outside the ECB file, dropped)."""
    raw = read_bytes(Path(coinmetrics_csv), ValueError)  # names a truncated file
    frame = pd.read_csv(io.BytesIO(raw))
    missing = {"date", "price(USD)"} - set(frame.columns)
    if missing:  # pandas' own message would not name the file
        raise ValueError(f"{coinmetrics_csv}: rates file lacks column(s) {sorted(missing)}")
    frame = frame[["date", "price(USD)"]]
    frame = frame.rename(columns={"price(USD)": "btc_usd"})
    frame["btc_usd"] = pd.to_numeric(frame["btc_usd"], errors="coerce")
    frame = frame[np.isfinite(frame["btc_usd"]) & (frame["btc_usd"] > 0)].copy()
    days = pd.to_datetime(frame["date"]).to_numpy("datetime64[D]")
    ecb = ecb_rates()
    frame = frame[(days >= ecb.first) & (days <= ecb.last)].copy()
    frame["eur_usd"] = usd_per_eur(frame["date"], ecb)
    return frame.sort_values("date").reset_index(drop=True)


RATE_COLUMNS = ["date", "btc_usd", "eur_usd"]


def own_rates(path: str | Path) -> bytes:
    """A dataset's own rates file (`rates` in its config: `date, btc_usd, eur_usd`, one
    row per day, e.g. the simulator's rates.csv), checked and returned as its bytes
    (gunzipped), so that cleaning reads exactly the numbers in it."""
    raw = read_bytes(Path(path), ValueError)
    frame = pd.read_csv(io.BytesIO(raw))
    missing = sorted(set(RATE_COLUMNS) - set(frame.columns))
    if missing:
        raise ValueError(f"{path}: rates file lacks column(s) {missing} (needs {RATE_COLUMNS})")
    dates = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    for column, bad in (
        ("date", dates.isna()),
        ("btc_usd", ~(pd.to_numeric(frame["btc_usd"], errors="coerce") > 0)),
        ("eur_usd", ~(pd.to_numeric(frame["eur_usd"], errors="coerce") > 0)),
    ):
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise ValueError(
                f"{path}: data row {row}, field {column}: not a YYYY-MM-DD date or a "
                f"positive rate: {frame[column].iloc[row - 1]!r}"
            )
    return raw


def _bool(series: pd.Series) -> pd.Series:
    mapped = series.str.strip().str.lower().map({"true": True, "false": False})
    return mapped.astype("boolean")


def read_registry(path: str | Path) -> pd.DataFrame:
    """The market registry, typed, with a `problem` column for known inconsistencies."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"market", "start", "end", "alive", "closure"} - set(raw.columns)
    if missing:
        raise ValueError(f"{path}: registry lacks column(s) {sorted(missing)}")
    out = pd.DataFrame({"market": raw["market"].str.strip()})
    for col in ("start", "end"):
        parsed = pd.to_datetime(raw[col].where(raw[col].str.strip() != ""), errors="coerce")
        bad = parsed.isna() & (raw[col].str.strip() != "")
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise ValueError(
                f"{path}: row {row}, field {col}: not a date: {raw[col].iloc[row - 1]!r}"
            )
        out[col] = parsed.dt.date
    out["alive"] = _bool(raw["alive"])
    closure = raw["closure"].str.strip().str.lower()
    out["closure"] = closure.where(closure.isin(CLOSURES), "unknown")
    for col in ("arrested", "multisig", "i2p", "guns", "fraud", "doxed"):
        if col in raw:
            out[col] = _bool(raw[col])
    if "codebase" in raw:
        out["codebase"] = raw["codebase"].str.strip().replace("", "unknown")
    if "hacks" in raw:
        out["hacks"] = pd.to_numeric(raw["hacks"], errors="coerce").astype("Int64")
    out["lifetime_days"] = [
        (e - s).days if pd.notna(s) and pd.notna(e) else pd.NA
        for s, e in zip(out["start"], out["end"], strict=True)
    ]
    out["lifetime_days"] = out["lifetime_days"].astype("Int64")
    problem = pd.Series("", index=out.index, dtype=object)
    # the registry's "Hansa" row has a 2014 market's dates but the 2017 Hansa's coding
    problem[out["market"].str.lower() == "hansa"] = "dates of a 2014 market of the same name"
    problem[out["alive"].fillna(False) & out["end"].isna()] = "alive at the update (censored)"
    out["problem"] = problem
    return out
