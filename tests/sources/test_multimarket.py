"""Multi-market tabular datasets: the market of each row from a column or the file path."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dnmarkets.clean.unmatched import quarantine_unmatched
from dnmarkets.core.configcheck import ConfigError, check_config, checked_section
from dnmarkets.sources.fetch import SourceFile
from dnmarkets.sources.partitions import tabular_partitions
from dnmarkets.sources.reference import own_rates
from dnmarkets.sources.tabular import import_dataset

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = {"listing_id": "id", "title": "name", "vendor": "vendor", "price": "price"}
MARKETS = [
    {"slug": "alpha", "name": "Alpha", "opened": "2014-01-01", "match": "Alpha Market"},
    {"slug": "beta", "name": "Beta", "opened": "2014-06-01"},
]
BY_COLUMN = {
    "markets": MARKETS,
    "listings": {
        "files": "crawls/*.csv",
        "market": {"column": "site"},
        "crawl_date": {"filename": r"^(\d{4}-\d{2}-\d{2})"},
        "columns": COLUMNS,
    },
}
BY_PATH = {
    "markets": MARKETS,
    "listings": {
        "files": "crawls/*/*.csv",
        "market": {"path": r"crawls/([^/]+)/"},
        "crawl_date": {"filename": r"^(\d{4}-\d{2}-\d{2})"},
        "columns": COLUMNS,
    },
}
ROWS = [
    # site, id, name, vendor, price
    ("Alpha Market", "1", "Weed 5g", "alice", "10 USD"),
    ("beta", "2", "Coke 1g", "bob", "90 USD"),
    ("Gamma", "3", "MDMA 1g", "carol", "20 USD"),  # a market the config does not know
    ("Alpha Market", "4", "LSD", "dave", "8 USD"),
]


def write(root: Path, rel: str, rows, header=("site", "id", "name", "vendor", "price")) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")


def test_partitions_by_path_are_per_market_and_skip_unknown_markets():
    paths = [
        "crawls/Alpha Market/2015-01-02.csv",
        "crawls/beta/2015-03-05.csv",
        "crawls/Gamma/2015-02-01.csv",
    ]
    assert tabular_partitions(BY_PATH, paths, 1) == ["alpha__2015-01", "beta__2015-03"]


def test_partitions_by_column_give_every_market_every_block():
    paths = ["crawls/2015-01-02.csv", "crawls/2015-04-09.csv"]
    assert tabular_partitions(BY_COLUMN, paths, 3) == [
        "alpha__2015-01",
        "alpha__2015-04",
        "beta__2015-01",
        "beta__2015-04",
    ]


def test_import_by_column_splits_markets_and_sets_unknown_ones_apart(tmp_path):
    write(tmp_path / "mirror", "crawls/2015-01-02.csv", ROWS)
    out = tmp_path / "data/raw/demo"
    accounting = import_dataset(BY_COLUMN, tmp_path / "mirror", out)
    by_file = dict(zip(accounting["snapshot_file"], accounting["rows"], strict=True))
    unmatched = [f for f in by_file if f.startswith("unmatched/")]
    assert by_file["snapshots/alpha/2015-01-02_listings.csv.gz"] == 2
    assert by_file["snapshots/beta/2015-01-02_listings.csv.gz"] == 1
    assert len(unmatched) == 1 and by_file[unmatched[0]] == 1
    assert sum(by_file.values()) == len(ROWS)  # every source row is in one snapshot
    alpha = pd.read_csv(out / "snapshots/alpha/2015-01-02_listings.csv.gz", dtype=str)
    assert alpha["listing_id"].tolist() == ["1", "4"]  # in source order
    rest = pd.read_csv(out / unmatched[0], dtype=str)
    assert rest["market"].tolist() == ["Gamma"]  # the value, for the quarantine

    result = quarantine_unmatched([out / unmatched[0]], "demo", tmp_path)
    assert len(result.listings) == 0 and len(result.vendors) == 0
    assert result.quarantine[["raw_row", "field", "reason"]].values.tolist() == [
        [1, "market", "unknown_market"]
    ]
    assert json.loads(result.quarantine["raw"].iloc[0])["market"] == "Gamma"
    assert result.accounting[["raw_rows", "clean_rows", "quarantined_rows"]].values.tolist() == [
        [1, 0, 1]
    ]


def test_import_by_path_checks_each_market_s_opening_day(tmp_path):
    write(tmp_path / "mirror", "crawls/Alpha Market/2014-03-01.csv", ROWS[:1])
    write(tmp_path / "mirror", "crawls/beta/2014-03-01.csv", ROWS[1:2])  # before beta opened
    with pytest.raises(ValueError, match=r"crawls/beta/2014-03-01.csv: data row 1.*2014-06-01"):
        import_dataset(BY_PATH, tmp_path / "mirror", tmp_path / "out")


def test_own_rates_are_checked_naming_row_and_field(tmp_path):
    good = tmp_path / "rates.csv.gz"
    good.write_bytes(gzip.compress(b"date,btc_usd,eur_usd\n2017-01-01,990.5,1.05\n"))
    assert own_rates(good) == b"date,btc_usd,eur_usd\n2017-01-01,990.5,1.05\n"
    bad = tmp_path / "bad.csv"
    bad.write_text("date,btc_usd,eur_usd\n2017-01-01,990.5,1.05\n2017-01-02,-3,1.05\n")
    with pytest.raises(ValueError, match="data row 2, field btc_usd"):
        own_rates(bad)


def _config_with(dataset: dict) -> tuple[dict, list]:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["datasets"] = {"multi": {"kind": "tabular", "source": "crawls", **dataset}}
    config["events"] = {}
    sources = [SourceFile("crawls", "crawls/beta/2015-01-02.csv", "0" * 64, "", "")]
    return config, sources


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(market=MARKETS[0]), "either `market` (one market) or `markets`"),
        (lambda d: d["listings"].pop("market"), "listings.market: missing"),
        (lambda d: d["markets"][1].update(match="Alpha Market"), "match value 'Alpha Market'"),
        (lambda d: d["markets"][1].update(slug="alpha"), "market 'alpha' given twice"),
        (lambda d: d["listings"]["market"].update(path="crawls/"), "has no group"),
        (lambda d: d["markets"][0].update(opened="2014-02-30"), "not a calendar date"),
        (lambda d: d.update(rates="crawls/rates.csv"), "rates: 'crawls/rates.csv' is not a file"),
    ],
)
def test_config_checks_of_a_multi_market_dataset(change, message):
    dataset = copy.deepcopy(BY_PATH)
    config, sources = _config_with(dataset)
    check_config(config, sources)  # fine as it stands
    change(config["datasets"]["multi"])
    with pytest.raises(ConfigError, match="refer") as err:
        check_config(config, sources)
    assert message in str(err.value)


def test_a_table_market_rule_needs_a_markets_list():
    dataset = copy.deepcopy(BY_PATH)
    dataset["market"] = dataset.pop("markets")[0]
    config, sources = _config_with(dataset)
    with pytest.raises(ConfigError, match="only for a dataset with `markets`"):
        check_config(config, sources)


def test_schema_accepts_the_multi_market_form_and_rejects_a_misspelt_market_rule():
    dataset = {"kind": "tabular", "label": "x", "real": True, "partition_months": 1}
    dataset |= {"source": "crawls", "rates": "crawls/rates.csv", **copy.deepcopy(BY_PATH)}
    checked_section(dataset, "datasets.multi")
    dataset["listings"]["market"] = {"paht": "crawls/([^/]+)/"}
    with pytest.raises(ConfigError, match=r"listings.market: unknown key\(s\) \['paht'\]"):
        checked_section(dataset, "datasets.multi")
