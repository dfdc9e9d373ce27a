"""Time series of the simulated period: exchange rates, closure events, the demand
multiplier and which markets are open on which day."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from dnmarkets.sim.config import FIXED, SimConfig
from dnmarkets.sim.draws import S_RATES, stream
from dnmarkets.sim.vocabularies import BTC_ANCHORS, EUR_ANCHORS


def _interp_anchors(cfg: SimConfig, anchors, log_space: bool) -> np.ndarray:
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


def rates(cfg: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    """Daily BTC-USD and EUR-USD rates: the anchors interpolated, with AR(1) noise."""
    rng = stream(cfg.seed, S_RATES)
    btc = _interp_anchors(cfg, BTC_ANCHORS, True) * np.exp(_ar1(rng, cfg.n_days, 0.9, 0.012))
    eur = _interp_anchors(cfg, EUR_ANCHORS, False) * np.exp(_ar1(rng, cfg.n_days, 0.95, 0.002))
    return np.round(btc, 2), np.round(eur, 4)


def closure_events(cfg: SimConfig) -> list[dict]:
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
        tags = sorted({m.event for m in ev["markets"] if m.event})
        if ev["takedown"]:
            # the configured event the takedowns play (`event:`), else one named after them
            ev["key"] = "_".join(tags) if tags else "takedown_" + "_".join(slugs)
        else:
            ev["key"] = f"{ev['markets'][0].closure}_{slugs[0]}"
        ev["t0"] = (ev["date"] - cfg.start).days
    events.sort(key=lambda e: (e["date"], e["key"]))
    return events


def demand_multiplier(cfg: SimConfig, events: list[dict]) -> np.ndarray:
    """m(t): the product over takedown events of 1 - dip * exp(-(t - t0) / recovery_days)."""
    t = np.arange(cfg.n_days, dtype=float)
    m = np.ones(cfg.n_days)
    dip, rec = cfg.demand["dip"], cfg.demand["recovery_days"]
    for ev in events:
        if ev["takedown"]:
            after = t >= ev["t0"]
            m[after] *= 1.0 - dip * np.exp(-(t[after] - ev["t0"]) / rec)
    return m


def open_matrix(cfg: SimConfig) -> np.ndarray:
    """days x markets: True where the market is open."""
    days = np.arange(cfg.n_days)[:, None]
    opened = np.array([m.open_day for m in cfg.markets])[None, :]
    closed = np.array([m.close_day for m in cfg.markets])[None, :]
    return (days >= opened) & (days < closed)
