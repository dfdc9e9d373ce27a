"""The simulated ecosystem (dnmarkets.sim.simulate): layout, determinism, planted truths, mess."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dnmarkets.sim.simulate import simulate
from dnmarkets.sim.vocabularies import HOSTILE_PAYLOADS
from dnmarkets.sources.canonical import LISTING_COLUMNS, VENDOR_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT_RE = re.compile(r"^snapshots/([a-z0-9]+)/(\d{4}-\d{2}-\d{2})_(listings|vendors)\.csv\.gz$")


def base_cfg(**over) -> dict:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())["datasets"]["sim2017"]["simulation"]
    cfg = copy.deepcopy(cfg)
    cfg.update(over)
    return cfg


SMALL = {"start": "2017-06-01", "end": "2017-08-31", "scale": 0.1}


def file_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """The planted Bayonet, Millrace's exit scam and Birchwood's opening, at 0.4 scale."""
    out = tmp_path_factory.mktemp("sim")
    cfg = base_cfg(start="2017-04-01", end="2017-12-31", scale=0.4, hostile_title_share=0.01)
    truth = simulate(cfg, out)
    return out, cfg, truth


@pytest.fixture(scope="module")
def listings(sim) -> pd.DataFrame:
    out = sim[0]
    frames = []
    for path in sorted((out / "snapshots").glob("*/*_listings.csv.gz")):
        df = read_csv(path)
        df["market"] = path.parent.name
        df["date"] = path.name[:10]
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- determinism


def test_same_config_gives_byte_identical_files_and_seed_matters(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    cfg = base_cfg(**SMALL)
    simulate(cfg, a)
    simulate(copy.deepcopy(cfg), b, threads=2)  # files written in a background thread
    simulate(base_cfg(**SMALL, seed=cfg["seed"] + 1), c)
    ha, hb, hc = file_hashes(a), file_hashes(b), file_hashes(c)
    assert len(ha) > 20
    assert ha == hb
    assert ha["ground_truth.json"] != hc["ground_truth.json"]
    common = sorted(set(ha) & set(hc))
    assert sum(ha[k] != hc[k] for k in common) > 0.9 * len(common)
    # gzip members carry no timestamp and no file name
    raw = (a / "ground_truth_daily.csv.gz").read_bytes()
    assert raw[4:8] == b"\0\0\0\0" and not raw[3] & 0x08
    # atomic writes leave no temporary files behind
    assert not [p for p in a.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def test_crawl_settings_do_not_change_vendors_listings_or_sales(tmp_path):
    cfg = base_cfg(**SMALL)
    other = copy.deepcopy(cfg)
    for m in other["markets"]:
        if m["slug"] == "coldbrook":
            m["coverage"] = 0.3
            m["crawl_every_days"] = 2
    simulate(cfg, tmp_path / "a")
    simulate(other, tmp_path / "b")
    va = (tmp_path / "a" / "ground_truth_vendors.csv.gz").read_bytes()
    vb = (tmp_path / "b" / "ground_truth_vendors.csv.gz").read_bytes()
    assert va == vb
    da = read_csv(tmp_path / "a" / "ground_truth_daily.csv.gz")
    db = read_csv(tmp_path / "b" / "ground_truth_daily.csv.gz")
    truth_cols = ["date", "market", "active_listings", "active_vendors", "sales_usd"]
    pd.testing.assert_frame_equal(da[truth_cols], db[truth_cols])
    coldbrook_a = da[da.market == "coldbrook"]
    coldbrook_b = db[db.market == "coldbrook"]
    assert (coldbrook_b.crawled == "True").sum() > (coldbrook_a.crawled == "True").sum()
    # other markets' snapshots are untouched
    ha, hb = file_hashes(tmp_path / "a"), file_hashes(tmp_path / "b")
    northgate = [k for k in ha if k.startswith("snapshots/northgate/")]
    assert northgate and all(ha[k] == hb.get(k) for k in northgate)


def test_rerun_with_shorter_period_removes_stale_snapshots(tmp_path):
    simulate(base_cfg(**SMALL), tmp_path)
    simulate(base_cfg(**dict(SMALL, end="2017-07-15")), tmp_path)
    on_disk = sorted(
        p.relative_to(tmp_path).as_posix() for p in (tmp_path / "snapshots").rglob("*.csv.gz")
    )
    manifest = pd.read_csv(tmp_path / "manifest.tsv", sep="\t", dtype={"path": str})
    assert on_disk == sorted(manifest.path)
    assert max(SNAPSHOT_RE.match(p).group(2) for p in on_disk) <= "2017-07-15"


# ---------------------------------------------------------------- layout


def test_layout_and_columns_follow_the_data_model(sim):
    out, _, _ = sim
    for name in (
        "markets.csv",
        "rates.csv",
        "ground_truth.json",
        "ground_truth_daily.csv.gz",
        "ground_truth_vendors.csv.gz",
        "manifest.tsv",
    ):
        assert (out / name).is_file(), name
    markets = read_csv(out / "markets.csv")
    assert list(markets.columns[:4]) == ["market", "opened", "closed", "closure"]
    assert list(read_csv(out / "rates.csv").columns) == ["date", "btc_usd", "eur_usd"]
    daily = read_csv(out / "ground_truth_daily.csv.gz")
    assert list(daily.columns[:6]) == [
        "date",
        "market",
        "active_listings",
        "active_vendors",
        "sales_usd",
        "feedback_sales_usd",
    ]
    vend = read_csv(out / "ground_truth_vendors.csv.gz")
    assert list(vend.columns[:11]) == [
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
    ]
    assert vend.pgp_fingerprint.str.fullmatch(r"[0-9A-F]{40}").all()
    manifest = pd.read_csv(out / "manifest.tsv", sep="\t", dtype={"path": str, "sha256": str})
    assert list(manifest.columns) == ["path", "sha256", "rows"]
    files = sorted(p.relative_to(out).as_posix() for p in (out / "snapshots").rglob("*"))
    files = [f for f in files if f.endswith(".gz")]
    assert files == sorted(manifest.path)
    assert all(SNAPSHOT_RE.match(p) for p in files)
    kinds = {SNAPSHOT_RE.match(p).group(3) for p in files}
    assert kinds == {"listings", "vendors"}
    first_listing = next(p for p in files if p.endswith("_listings.csv.gz"))
    first_vendor = next(p for p in files if p.endswith("_vendors.csv.gz"))
    with gzip.open(out / first_listing, "rt", encoding="utf-8") as fh:
        assert fh.readline().rstrip("\n").split(",") == LISTING_COLUMNS
    with gzip.open(out / first_vendor, "rt", encoding="utf-8") as fh:
        assert fh.readline().rstrip("\n").split(",") == VENDOR_COLUMNS


def test_manifest_rows_and_checksums_match_files(sim):
    out, _, _ = sim
    manifest = pd.read_csv(out / "manifest.tsv", sep="\t", dtype={"path": str, "sha256": str})
    for row in manifest.itertuples():
        path = out / row.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row.sha256
        assert len(read_csv(path)) == row.rows, row.path
    assert manifest.rows.sum() > 10_000


def test_closures_and_openings_respected(sim):
    out, _, truth = sim
    manifest = pd.read_csv(out / "manifest.tsv", sep="\t", dtype={"path": str})
    parts = manifest.path.str.extract(SNAPSHOT_RE.pattern)
    dates = parts.groupby(0)[1].agg(["min", "max"])
    assert dates.loc["ashford", "max"] < "2017-07-05"
    assert dates.loc["ashford", "max"] >= "2017-06-25"
    assert dates.loc["harbor", "max"] < "2017-07-20"
    assert dates.loc["millrace", "max"] < "2017-10-01"
    assert dates.loc["birchwood", "min"] >= "2017-11-01"
    assert dates.loc["coldbrook", "max"] >= "2017-12-20"
    markets = read_csv(out / "markets.csv").set_index("market")
    assert markets.loc["ashford", "closed"] == "2017-07-05"
    assert markets.loc["harbor", "closure"] == "raided"
    assert markets.loc["millrace", "closure"] == "scam"
    assert markets.loc["coldbrook", "closed"] == ""
    daily = read_csv(out / "ground_truth_daily.csv.gz")
    assert daily[daily.market == "ashford"].date.max() == "2017-07-04"
    assert daily[daily.market == "birchwood"].date.min() == "2017-11-01"
    # listings of a closed market end with it: no vendor keeps selling there
    vend = read_csv(out / "ground_truth_vendors.csv.gz")
    assert vend[vend.market == "ashford"].last_day.max() == "2017-07-04"
    assert vend[vend.market == "birchwood"].first_day.min() >= "2017-11-01"


# ---------------------------------------------------------------- prices


def _amount(text: str, decimal_comma: bool) -> float:
    num = re.search(r"[0-9][0-9.,]*", text).group(0)
    if decimal_comma:
        num = num.replace(".", "").replace(",", ".")
    else:
        num = num.replace(",", "")
    return float(num)


def test_btc_and_eur_prices_convert_back_to_stable_usd(sim, listings):
    out, _, _ = sim
    rates = read_csv(out / "rates.csv").set_index("date").astype(float)
    btc = listings[(listings.market == "coldbrook") & (listings.price != "")].copy()
    assert btc.price.str.fullmatch(r"[0-9.]+ BTC|BTC [0-9.]+").all()
    btc["amount"] = [_amount(p, False) for p in btc.price]
    btc["usd"] = btc.amount * rates.loc[btc.date, "btc_usd"].to_numpy()
    assert 10 < btc.usd.median() < 500
    spread = btc.groupby("listing_id").agg(
        lo=("usd", "min"), hi=("usd", "max"), blo=("amount", "min"), bhi=("amount", "max")
    )
    moved = spread[spread.bhi > 1.2 * spread.blo]  # BTC amount moved with the rate ...
    assert len(moved) > 20
    assert ((moved.hi - moved.lo) / moved.lo).max() < 0.005  # ... the USD price did not
    eur = listings[(listings.market == "harbor") & (listings.price != "")].copy()
    assert eur.price.str.fullmatch(r"[0-9.]+,[0-9]{2} €|EUR [0-9.]+,[0-9]{2}").all()
    eur["usd"] = [_amount(p, True) for p in eur.price]
    eur["usd"] *= rates.loc[eur.date, "eur_usd"].to_numpy()
    stable = eur.groupby("listing_id").usd.agg(["min", "max"])
    # EUR amounts are shown in cents: only rounding separates the days
    assert (stable["max"] - stable["min"] <= 0.015 + 1e-3 * stable["min"]).all()
    usd = listings[(listings.market == "ashford") & (listings.price != "")]
    assert usd.price.str.fullmatch(r"USD [0-9,]+\.[0-9]{2}|\$[0-9,]+\.[0-9]{2}").all()


# ---------------------------------------------------------------- planted truths


def test_migration_share_close_to_planted_probability(sim):
    _, cfg, truth = sim
    bay = truth["events"]["bayonet"]
    p = cfg["migration"]["probability"]
    n = bay["displacements"]
    assert n > 100 and bay["cohort_size"] > 100
    assert abs(bay["migration_share"] - p) < 4 * math.sqrt(p * (1 - p) / n)
    assert bay["destination_shares"]["ashford"] == 0
    assert bay["destination_shares"]["birchwood"] == 0  # not open yet in July
    assert abs(sum(bay["destination_shares"].values()) - 1) < 1e-6
    r = bay["reappearance_share_within_days"]
    assert r["7"] <= r["30"] <= r["90"] <= bay["migration_share"] + 1e-9
    m = bay["migrations"]
    q = cfg["migration"]["alias_change_probability"]
    assert abs(bay["alias_change_share"] - q) < 4 * math.sqrt(q * (1 - q) / m)
    assert bay["alias_change_new_share"] > 0 and bay["alias_change_variant_share"] > 0
    assert bay["demand"]["implied_sales_change_pct"]["0"] == pytest.approx(-30.0)
    assert bay["demand"]["realised_sales_change_pct"]["0"] < -30
    assert bay["activity"]["active_vendors"]["change"] < 0
    assert "scam_millrace" in truth["events"]
    assert "_doc" in bay and "migration_share" in bay["_doc"]


def test_vendor_truth_consistent_with_migration_truth(sim):
    out, _, truth = sim
    vend = read_csv(out / "ground_truth_vendors.csv.gz")
    migr = vend[vend.migrated_from.isin(["ashford", "harbor"])]
    assert len(migr) == truth["events"]["bayonet"]["migrations"]
    assert (migr.first_day >= "2017-07-06").all()
    changed = migr[migr.alias_changed == "True"]
    assert set(changed.alias_change_kind) == {"new", "variant"}
    # a variant keeps the old alias inside it; an unchanged alias is the same
    prev = vend.sort_values(["uid", "first_day"]).groupby("uid")
    kept = migr[migr.alias_changed == "False"]
    first_alias = prev.alias.first()
    assert (kept.alias.to_numpy() == first_alias.loc[kept.uid].to_numpy()).mean() > 0.95
    # PGP keys are kept unless changed
    first_pgp = prev.pgp_fingerprint.first()
    same = migr.pgp_fingerprint.to_numpy() == first_pgp.loc[migr.uid].to_numpy()
    assert (same == (migr.pgp_changed == "False").to_numpy()).mean() > 0.95


def test_eu_vendor_share_close_to_config(sim):
    out, cfg, truth = sim
    vend = read_csv(out / "ground_truth_vendors.csv.gz").drop_duplicates("uid")
    share = (vend.ships_from_eu == "True").mean()
    p = cfg["eu_vendor_share"]
    assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / len(vend))
    assert truth["supply"]["eu_share_vendors"] == pytest.approx(share, abs=1e-5)
    assert 0.55 < truth["supply"]["drug_share_listings"] < 0.8


def test_ground_truth_daily_matches_json(sim):
    out, _, truth = sim
    daily = read_csv(out / "ground_truth_daily.csv.gz")
    daily["sales_usd"] = daily.sales_usd.astype(float)
    eco = daily.groupby("date").sales_usd.sum()
    before = eco.loc["2017-06-07":"2017-07-04"].mean()
    act = truth["events"]["bayonet"]["activity"]["sales_usd"]
    assert act["before"] == pytest.approx(before, rel=1e-4)
    dem = daily[daily.date == "2017-07-05"].demand_multiplier.astype(float)
    assert np.allclose(dem, 0.7)
    crawled = daily[daily.crawled == "True"]
    cov = crawled.crawl_coverage.replace("", np.nan).astype(float)
    assert 0.6 < cov.median() < 0.9 and (cov < 0.3).any()


# ---------------------------------------------------------------- mess


def test_mess_present_at_configured_order_of_magnitude(sim, listings):
    _, cfg, truth = sim
    n = len(listings)
    dup = listings.duplicated(subset=LISTING_COLUMNS + ["market", "date"]).sum() / n
    assert cfg["duplicate_row_share"] / 3 < dup < cfg["duplicate_row_share"] * 3
    hostile = listings.title.apply(lambda t: any(p in t for p in HOSTILE_PAYLOADS)).mean()
    assert cfg["hostile_title_share"] / 3 < hostile < cfg["hostile_title_share"] * 3
    assert truth["crawls"]["rows"]["hostile_title_rows"] == round(hostile * n)
    for col in ("price", "ships_from", "vendor", "feedback"):
        empty = (listings[col] == "").mean()
        assert cfg["empty_field_share"] / 3 < empty < cfg["empty_field_share"] * 3, col
    sf = set(listings.ships_from)
    assert {"Germany", "DE", "EU", "Worldwide"} <= sf
    assert sf & {"Germnay", "Deutschland", "GER", "germany"}
    assert sf & {"UK", "England", "Great Britain"} and sf & {"USA", "US", "America"}
    assert listings.ships_to.str.contains(", ").any()
    assert listings.title.str.contains("&amp;").any()
    assert listings.title.str.contains("\uff2d|\uff43|\uff4f", regex=True).any()  # full-width
    assert listings.vendor.str.match(r"^\s|.*\s$").any()
    assert listings.feedback.str.fullmatch(r"[0-9,]*").all()
    # each market keeps its own category vocabulary
    cats = listings.groupby("market").category.agg(lambda s: set(s))
    assert cats["ashford"].isdisjoint(cats["northgate"])
    assert any(c.startswith("Drugs & Chemicals/") for c in cats["ashford"])


def test_vendor_pages_belong_to_vendors_seen_in_the_crawl(sim):
    out, _, _ = sim
    key = lambda s: s.str.strip().str.casefold()  # noqa: E731
    paths = sorted((out / "snapshots" / "coldbrook").glob("*_vendors.csv.gz"))[5:15]
    shares, totals = [], []
    for vp in paths:
        vend = read_csv(vp)
        lst = read_csv(vp.with_name(vp.name.replace("_vendors", "_listings")))
        seen = set(key(lst.vendor))
        shares.append(key(vend.vendor).isin(seen).mean())
        assert vend.registered.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
        assert vend.rating.str.fullmatch(r"\d{1,3}%|").all()  # Coldbrook shows ratings in percent
        totals.append(vend.total_sales)
    assert min(shares) > 0.9
    assert pd.concat(totals).str.fullmatch(r"\d{1,3}(,\d{3})+").any()  # thousands separators


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"takedowns": [{"market": "silkroad", "date": "2017-07-05", "closure": "raided"}]},
            "unknown market",
        ),
        ({"start": "2018-01-01", "end": "2017-01-01"}, "before start"),
        ({"scale": 0}, "scale"),
        ({"scale": -1.0}, "scale"),
        ({"end": "2017-13-45"}, "not a calendar date"),
        ({"coverage_typo": 1}, "unknown key"),
        ({"eu_vendor_share": 1.5}, "eu_vendor_share: 1.5 is greater than the maximum of 1"),
        ({"migration": {"probability": 0.5}}, "delay_mean_days"),
    ],
)
def test_invalid_config_raises_value_error(tmp_path, change, message):
    cfg = base_cfg(**SMALL)
    cfg.update(change)
    with pytest.raises(ValueError, match=message):
        simulate(cfg, tmp_path)
    assert not (tmp_path / "manifest.tsv").exists()


def test_ground_truth_json_is_documented_and_holds_config(sim):
    out, cfg, truth = sim
    on_disk = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    assert on_disk["config"]["seed"] == cfg["seed"]
    assert on_disk["config"]["markets"] == cfg["markets"]
    assert (
        on_disk["events"]["bayonet"]["migration_share"]
        == truth["events"]["bayonet"]["migration_share"]
    )
    for section in ("supply", "crawls"):
        assert set(on_disk[section]) - {"_doc"} <= set(on_disk[section]["_doc"]) | {
            "per_market",
            "rows",
        }
    undocumented = (
        set(on_disk["events"]["bayonet"]) - {"_doc"} - set(on_disk["events"]["bayonet"]["_doc"])
    )
    assert not undocumented
