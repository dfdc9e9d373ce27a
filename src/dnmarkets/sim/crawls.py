"""Crawls: the schedule, day-by-day sales, and the snapshot files each crawl writes,
with the scrapers' noise (missed rows, duplicates, empty fields, alias variants)."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dnmarkets.sim import columns as C
from dnmarkets.sim.config import FIXED, Market, SimConfig, date_str
from dnmarkets.sim.draws import S_CRAWL, S_SALES, S_SCHEDULE, S_VENDORS, stream
from dnmarkets.sim.files import gzip_bytes, write_bytes
from dnmarkets.sim.listings import Listings
from dnmarkets.sim.population import Spells, Vendors
from dnmarkets.sources.canonical import LISTING_COLUMNS, VENDOR_COLUMNS


def crawl_schedule(cfg: SimConfig) -> dict[int, list[tuple[int, float, int]]]:
    """day -> [(market index, coverage, start second)], per market its own stream."""
    plan: dict[int, list[tuple[int, float, int]]] = {}
    lo, hi = FIXED["low_coverage_range"]
    for m in cfg.markets:
        first, stop = m.open_day, min(m.close_day, cfg.n_days)
        if first >= stop:
            continue
        rng = stream(cfg.seed, S_SCHEDULE, m.index)
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


def _duplicate_order(rng: np.random.Generator, n: int, share: float) -> tuple[np.ndarray, int]:
    """Rows fetched twice: the order of the file's rows as indices into the n rows, and
    the number of copies."""
    k = int(rng.binomial(n, share)) if n else 0
    if not k:
        return np.arange(n), 0
    src = np.sort(rng.choice(n, size=k, replace=False))
    # each copy lands later in the file than its original (a page fetched again)
    pos = src + rng.random(k) * (n - src)
    key = np.concatenate([np.arange(n, dtype=float), pos + 0.5])
    order = np.argsort(key, kind="stable")
    return np.concatenate([np.arange(n), src])[order], k


@dataclass
class SpellPages:
    """Per spell, what vendor profile pages and listing rows show of it (texts as
    Arrow string columns)."""

    alias: pa.Array
    pgp: pa.Array
    shown: pa.Array  # the alias on listing rows (some spells show it in lower case)
    rating: np.ndarray
    registered: pa.Array
    cum_sales: np.ndarray  # total sales shown on the profile, updated day by day


def spell_pages(cfg: SimConfig, vendors: Vendors, spells: Spells) -> SpellPages:
    """Profile texts per spell, with the sales made before the period by vendors active then."""
    p = cfg.p
    s_uid = np.array(spells.uid, dtype=np.int64)
    s_first = np.array(spells.first, dtype=np.int64)
    lower = (
        stream(cfg.seed, S_VENDORS, 3).random(len(spells)) < FIXED["alias_lowercase_spell_share"]
    )
    k_est = max(p["listings_per_vendor"], 1.0)
    pre_days = np.where(s_first == 0, -np.minimum(np.array(spells.registered), 0), 0)
    alias = C.strings(spells.alias)
    lowered = C.strings([a.lower() for a in C.take(alias, np.flatnonzero(lower)).to_pylist()])
    return SpellPages(
        alias=alias,
        pgp=C.strings(spells.pgp),
        shown=pc.replace_with_mask(alias, pa.array(lower), lowered),
        rating=vendors.rating[s_uid],
        registered=C.iso_dates(cfg.start, np.array(spells.registered, dtype=np.int64)),
        cum_sales=np.round(
            pre_days * k_est * p["sales_per_listing_day"] * vendors.size[s_uid]
        ).astype(np.int64),
    )


COUNT_KEYS = (
    "listing_rows",
    "vendor_rows",
    "duplicate_listing_rows",
    "duplicate_vendor_rows",
    "hostile_title_rows",
    "empty_price",
    "empty_ships_from",
    "empty_vendor",
    "empty_feedback",
    "empty_pgp",
    "empty_rating",
    "empty_total_sales",
    "alias_variant_rows",
)


@dataclass
class Tally:
    """What the days and crawls produced: true daily series per market, per-listing
    totals, the snapshot files written and the counts of rows and injected mess."""

    daily: dict[str, np.ndarray]  # listings, vendors, sales, fbsales, seen: days x markets
    crawled: np.ndarray
    distinct_vendors: np.ndarray
    cum_fb: np.ndarray
    l_sales: np.ndarray
    l_alive_days: np.ndarray
    counts: dict[str, int]
    crawl_log: list[dict]
    manifest: list[tuple[str, str, int]]  # (the sha256 a future while the days run)
    written: list[Path]


class _Fields:
    """The texts that stay fixed per listing or per spell as CSV fields (quoted where
    needed), so that a crawl takes them instead of quoting them again."""

    def __init__(self, lst: Listings, pages: SpellPages) -> None:
        t, q = lst.texts, C.csv_field
        self.listing_id, self.title, self.category = q(lst.listing_id), q(t.title), q(t.category)
        self.ships_from, self.ships_to, self.usd_price = (
            q(t.ships_from),
            q(t.ships_to),
            q(t.usd_price),
        )
        self.shown, self.alias, self.pgp = q(pages.shown), q(pages.alias), q(pages.pgp)
        self.registered = q(pages.registered)
        self._pages = pages
        self._ratings: dict[str, pa.Array] = {}

    def rating(self, price_style: str) -> pa.Array:
        """The ratings as a market of this price style shows them."""
        if price_style not in self._ratings:
            self._ratings[price_style] = C.csv_field(C.rating_text(self._pages.rating, price_style))
        return self._ratings[price_style]


@dataclass
class _Run:
    cfg: SimConfig
    lst: Listings
    spells: Spells
    pages: SpellPages
    tally: Tally
    out_dir: Path
    btc: np.ndarray
    eur: np.ndarray
    fields: _Fields
    writer: _Writer | None = None


def _new_tally(cfg: SimConfig, lst: Listings) -> Tally:
    n_days, n_mk = cfg.n_days, len(cfg.markets)
    return Tally(
        daily={
            k: np.zeros((n_days, n_mk)) for k in ("listings", "vendors", "sales", "fbsales", "seen")
        },
        crawled=np.zeros((n_days, n_mk), dtype=bool),
        distinct_vendors=np.zeros(n_days, dtype=np.int64),
        cum_fb=lst.fb0.copy(),
        l_sales=np.zeros(lst.n, dtype=np.int64),
        l_alive_days=np.zeros(lst.n, dtype=np.int64),
        counts=dict.fromkeys(COUNT_KEYS, 0),
        crawl_log=[],
        manifest=[],
        written=[],
    )


def run_days(
    cfg: SimConfig,
    lst: Listings,
    spells: Spells,
    pages: SpellPages,
    demand: np.ndarray,
    btc: np.ndarray,
    eur: np.ndarray,
    out_dir: Path,
    threads: int = 1,
) -> Tally:
    """Day by day: sales of the alive listings, the true daily series, and the crawls
    (their files written by `threads` - 1 background threads, if more than one)."""
    fields = _Fields(lst, pages)
    run = _Run(cfg, lst, spells, pages, _new_tally(cfg, lst), out_dir, btc, eur, fields)
    plan = crawl_schedule(cfg)
    sales_rng = stream(cfg.seed, S_SALES)
    s_uid = np.array(spells.uid, dtype=np.int64)
    s_market = np.array(spells.market, dtype=np.int64)
    s_first = np.array(spells.first, dtype=np.int64)
    s_last = np.array(spells.last, dtype=np.int64)
    t, n_mk = run.tally, len(cfg.markets)
    order_start = np.argsort(lst.start, kind="stable")  # by start, then index
    first_of_day = np.searchsorted(lst.start[order_start], np.arange(cfg.n_days + 1), side="left")
    n_uid = int(s_uid.max()) + 1 if s_uid.size else 0
    idx = np.zeros(0, dtype=np.int64)
    with _Writer(threads) as run.writer:
        for d in range(cfg.n_days):
            # alive listings, by index: yesterday's not yet ended, and those started today
            # (listings starting before day 0 enter on day 0)
            lo = 0 if d == 0 else first_of_day[d]
            started = order_start[lo : first_of_day[d + 1]]
            idx = np.sort(np.concatenate([idx, started]), kind="stable")
            idx = idx[lst.end[idx] >= d]
            _sell(run, d, idx, demand[d], sales_rng)
            s_alive = (s_first <= d) & (s_last >= d)
            t.daily["vendors"][d] = np.bincount(s_market[s_alive], minlength=n_mk)
            t.distinct_vendors[d] = np.count_nonzero(np.bincount(s_uid[s_alive], minlength=n_uid))
            for mk, cov, sec in plan.get(d, []):
                _crawl(run, d, idx, mk, cov, sec)
    t.manifest = [(rel, sha.result(), n) for rel, sha, n in t.manifest]
    return t


class _Writer:
    """Gzips, writes and hashes the snapshot files: with `threads` > 1 in that many - 1
    background threads while the next crawl is built (zlib and hashlib release the
    GIL); at most two files per thread wait. `write` gives a future of the sha256."""

    def __init__(self, threads: int) -> None:
        self.pool = ThreadPoolExecutor(threads - 1) if threads > 1 else None
        self.limit = 2 * max(threads - 1, 1)
        self.pending: deque[Future] = deque()

    def write(self, path: Path, data: bytes) -> Future:
        if self.pool is None:
            done: Future = Future()
            done.set_result(write_bytes(path, gzip_bytes(data)))
            return done
        while len(self.pending) >= self.limit:
            self.pending.popleft().result()
        future = self.pool.submit(lambda: write_bytes(path, gzip_bytes(data)))
        self.pending.append(future)
        return future

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
            for future in self.pending:  # raise a failed write's error
                if not future.cancelled():
                    future.result()


def _sell(run: _Run, d: int, idx: np.ndarray, demand: float, rng: np.random.Generator) -> None:
    """Sales and feedback of the alive listings `idx` on day `d`, added to the tally."""
    lst, t, n_mk = run.lst, run.tally, len(run.cfg.markets)
    sales = rng.poisson(lst.rate[idx] * demand)
    fb = rng.binomial(sales, run.cfg.p["feedback_probability"])
    t.cum_fb[idx] += fb
    t.l_sales[idx] += sales
    t.l_alive_days[idx] += 1
    run.pages.cum_sales += np.bincount(
        lst.spell[idx], weights=sales, minlength=len(run.spells)
    ).astype(np.int64)
    mk_idx = lst.market[idx]
    t.daily["listings"][d] = np.bincount(mk_idx, minlength=n_mk)
    t.daily["sales"][d] = np.bincount(mk_idx, weights=sales * lst.price_usd[idx], minlength=n_mk)
    t.daily["fbsales"][d] = np.bincount(mk_idx, weights=fb * lst.price_usd[idx], minlength=n_mk)


def _crawl(run: _Run, d: int, idx: np.ndarray, mk: int, cov: float, sec: int) -> None:
    """One crawl of market `mk` on day `d`: its listings and vendor snapshot files."""
    cfg, lst, t = run.cfg, run.lst, run.tally
    m = cfg.markets[mk]
    date = date_str(cfg.start, d)
    rng = stream(cfg.seed, S_CRAWL, mk, d)
    here = idx[lst.market[idx] == mk]
    seen = here[rng.random(here.size) < cov]
    seen = seen[rng.permutation(seen.size)]
    t.crawled[d, mk] = True
    t.daily["seen"][d, mk] = seen.size
    columns, n_dup = _listing_rows(run, m, d, seen, rng, sec)
    _write_snapshot(run, m, date, "listing", columns, n_dup)
    # vendor profile pages
    sp_seen = np.unique(lst.spell[seen])
    vcov = float(np.clip(FIXED["vendor_page_coverage_mean"] + rng.normal(0, 0.04), 0.5, 1.0))
    sp_seen = sp_seen[rng.random(sp_seen.size) < vcov]
    sp_seen = sp_seen[rng.permutation(sp_seen.size)]
    columns, n_dup = _vendor_rows(run, m, date, sp_seen, rng, sec)
    _write_snapshot(run, m, date, "vendor", columns, n_dup)
    t.crawl_log.append(
        {
            "market": m.slug,
            "day": d,
            "coverage": cov,
            "realised": seen.size / here.size if here.size else float("nan"),
        }
    )


def _write_snapshot(
    run: _Run, m: Market, date: str, table: str, columns: list[pa.Array], n_dup: int
) -> None:
    """Write one snapshot file (`table`: listing or vendor) and count it."""
    t = run.tally
    rel = f"snapshots/{m.slug}/{date}_{table}s.csv.gz"
    path = run.out_dir / rel
    header = LISTING_COLUMNS if table == "listing" else VENDOR_COLUMNS
    sha = run.writer.write(path, C.csv_text(header, columns))  # (columns of CSV fields)
    n = len(columns[0])
    t.manifest.append((rel, sha, n))
    t.written.append(path)
    t.counts[f"{table}_rows"] += n
    t.counts[f"duplicate_{table}_rows"] += n_dup


# fields the scraper may leave empty, in the order of their uniform draws
_LISTING_BLANKS = ("empty_price", "empty_ships_from", "empty_vendor", "empty_feedback")
_VENDOR_BLANKS = ("empty_pgp", "empty_rating", "empty_total_sales")


def _blanked(columns: list, u: np.ndarray, share: float, counts: dict, keys: tuple) -> list:
    """The columns (one per key, in the order of the rows' uniform draws `u`), each value
    left empty (and counted under its key) where its row's draw is below `share`."""
    out = []
    for k, (column, key) in enumerate(zip(columns, keys, strict=True)):
        blank = u[:, k] < share
        if blank.any():  # (a key is counted only once something is blanked)
            column = C.blank_where(column, blank)
            counts[key] += int(blank.sum())
        out.append(column)
    return out


def _alias_variants(
    aliases: pa.Array,
    fields: pa.Array,
    idx: np.ndarray,
    u: np.ndarray,
    draw: int,
    mess: int,
    counts: dict,
) -> pa.Array:
    """The CSV fields of the aliases at `idx` (`fields` of `aliases`), with a scraper's
    variant where the row's draw `draw` is below the share."""
    shown = C.take(fields, idx)
    rows = np.flatnonzero(u[:, draw] < FIXED["alias_row_variant_share"])
    if not rows.size:
        return shown
    counts["alias_variant_rows"] += int(rows.size)
    variants = C.alias_mess_text(C.take(aliases, idx[rows]), u[rows, mess])
    mask = np.zeros(len(idx), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(shown, pa.array(mask), C.csv_field(variants))


def _price_fields(run: _Run, m: Market, d: int, seen: np.ndarray) -> pa.Array:
    """Prices as the market shows them on day `d`, as CSV fields (USD texts are fixed
    per listing)."""
    lst = run.lst
    if m.price_style == "usd":
        return C.take(run.fields.usd_price, seen)
    price_usd = lst.price_usd[seen]
    alt = lst.alt_price[seen]
    if m.price_style == "eur":
        return C.csv_field(C.eur_text(np.round(price_usd / run.eur[d], 2), alt))
    return C.csv_field(C.btc_text(price_usd / run.btc[d], alt))


def _listing_rows(
    run: _Run, m: Market, d: int, seen: np.ndarray, rng: np.random.Generator, sec: int
) -> tuple[list[pa.Array], int]:
    """The columns (CSV fields) of one listings snapshot, with empty fields, alias
    variants and duplicates."""
    lst, counts, f = run.lst, run.tally.counts, run.fields
    e_share = run.cfg.p["empty_field_share"]
    n = seen.size
    u = rng.random((n, 6))
    ts = C.timestamps(date_str(run.cfg.start, d), _times(rng, n, sec))  # (no quoting needed)
    prices = _price_fields(run, m, d, seen)
    fbs = C.csv_field(C.counts_text(run.tally.cum_fb[seen], m.style["thousands"]))
    vendors = _alias_variants(run.pages.shown, f.shown, lst.spell[seen], u, 4, 5, counts)
    price, sf, vendor, fbk = _blanked(
        [prices, C.take(f.ships_from, seen), vendors, fbs], u, e_share, counts, _LISTING_BLANKS
    )
    ids, titles = C.take(f.listing_id, seen), C.take(f.title, seen)
    cats, sts = C.take(f.category, seen), C.take(f.ships_to, seen)
    columns = [ids, titles, vendor, price, cats, sf, sts, fbk, ts]
    order, n_dup = _duplicate_order(rng, n, run.cfg.p["duplicate_row_share"])
    counts["hostile_title_rows"] += int(lst.hostile[seen[order]].sum())
    if n_dup:
        columns = [C.take(c, order) for c in columns]
    return columns, n_dup


def _rating_text(r: float, price_style: str) -> str:
    """The vendor rating as the market shows it (out of 5, or in percent); the reference
    of `columns.rating_text`."""
    if price_style == "usd":
        return f"{r:.2f}"
    if price_style == "eur":
        return f"{r:.2f}".replace(".", ",")
    return f"{int(round(r * 20))}%"


def _vendor_rows(
    run: _Run, m: Market, date: str, sp_seen: np.ndarray, rng: np.random.Generator, sec: int
) -> tuple[list[pa.Array], int]:
    """The columns (CSV fields) of one vendor-profiles snapshot, with empty fields,
    alias variants, duplicates."""
    pages, counts, f = run.pages, run.tally.counts, run.fields
    e_share = run.cfg.p["empty_field_share"]
    n = sp_seen.size
    u = rng.random((n, 5))
    ts = C.timestamps(date, _times(rng, n, sec + 60))  # (no quoting needed)
    aliases = _alias_variants(pages.alias, f.alias, sp_seen, u, 3, 4, counts)
    ratings = C.take(f.rating(m.price_style), sp_seen)
    totals = C.csv_field(C.counts_text(pages.cum_sales[sp_seen], m.style["thousands"]))
    pgp, rating, total = _blanked(
        [C.take(f.pgp, sp_seen), ratings, totals], u, e_share, counts, _VENDOR_BLANKS
    )
    registered = C.take(f.registered, sp_seen)
    columns = [aliases, pgp, rating, registered, total, ts]
    order, n_dup = _duplicate_order(rng, n, run.cfg.p["duplicate_row_share"])
    if n_dup:
        columns = [C.take(c, order) for c in columns]
    return columns, n_dup
