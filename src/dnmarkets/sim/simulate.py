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

import logging
import time
from pathlib import Path

from dnmarkets.core.io import atomic_path
from dnmarkets.sim.config import parse_config
from dnmarkets.sim.crawls import run_days, spell_pages
from dnmarkets.sim.listings import make_listings
from dnmarkets.sim.population import make_spells, make_vendors
from dnmarkets.sim.timeline import closure_events, demand_multiplier, open_matrix, rates
from dnmarkets.sim.truth import ground_truth, write_truth_files

log = logging.getLogger(__name__)


def simulate(sim_cfg: dict, out_dir: Path, threads: int = 1) -> dict:
    """Generate the simulated ecosystem into ``out_dir``; return the ground truth.

    With ``threads`` > 1 the snapshot files are gzipped and written in background
    threads; the files are the same.

    Writes ``markets.csv``, ``rates.csv``, ``ground_truth.json``,
    ``ground_truth_daily.csv.gz``, ``ground_truth_vendors.csv.gz``,
    ``snapshots/<market>/<YYYY-MM-DD>_{listings,vendors}.csv.gz`` and
    ``manifest.tsv`` (written last).  Raises ``ValueError`` on invalid config.
    """
    t_start = time.perf_counter()
    cfg = parse_config(sim_cfg)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    btc, eur = rates(cfg)
    events = closure_events(cfg)
    demand = demand_multiplier(cfg, events)
    open_mat = open_matrix(cfg)
    vendors, home, second = make_vendors(cfg, demand, open_mat)
    spells, mig_records = make_spells(cfg, vendors, home, second, events, open_mat)
    lst = make_listings(cfg, vendors, spells)
    log.info("sim2017: %d vendors, %d spells, %d listings", vendors.n, len(spells), lst.n)

    pages = spell_pages(cfg, vendors, spells)
    tally = run_days(cfg, lst, spells, pages, demand, btc, eur, out_dir, threads)
    _remove_stale_snapshots(out_dir, tally.written)
    truth = ground_truth(cfg, events, demand, vendors, spells, mig_records, lst, tally)
    write_truth_files(cfg, out_dir, btc, eur, demand, tally, vendors, spells, truth)
    manifest = sorted(tally.manifest)
    text = "path\tsha256\trows\n" + "".join(f"{r}\t{s}\t{n}\n" for r, s, n in manifest)
    with atomic_path(out_dir / "manifest.tsv") as tmp:
        tmp.write_text(text, encoding="utf-8")
    log.info(
        "sim2017: %d listing rows, %d vendor rows in %d snapshot files, %.1f s",
        tally.counts["listing_rows"],
        tally.counts["vendor_rows"],
        len(manifest),
        time.perf_counter() - t_start,
    )
    return truth


def _remove_stale_snapshots(out_dir: Path, written: list[Path]) -> None:
    """Delete snapshot files an earlier run with a longer period left behind."""
    keep = {p.resolve() for p in written}
    root = out_dir / "snapshots"
    if not root.is_dir():
        return
    stale = sorted(p for p in root.rglob("*.csv.gz") if p.resolve() not in keep)
    for p in stale:
        p.unlink()
    if stale:
        log.info("removed %d snapshot files left from an earlier run", len(stale))
