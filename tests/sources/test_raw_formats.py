"""Source formats read by configuration: AlphaBay 2017 (bare CR record ends, LF in
cells, Latin-1 mojibake, several files per crawl day, sold-since counters), Hansa
2016 (spaces after separators, a padded header, zone names, short rows) and a file
without a header row. Fixtures are cut from the real files (tests/fixtures/raw_formats)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from conftest import assert_rows_balanced

from dnmarkets.clean.partition import clean_partition
from dnmarkets.sources.fields import drop_zone_name, repair_mojibake
from dnmarkets.sources.tabular import ImportSpecError, import_dataset

FIXTURES = Path(__file__).parents[1] / "fixtures" / "raw_formats"
CLEANING = {"min_price_usd": 0.5, "max_price_usd": 250000}
RATES = pd.DataFrame(
    {"date": ["2016-12-10", "2017-04-26"], "btc_usd": [770.0, 1080.0], "eur_usd": [1.1, 1.1]}
)
# the real file names, `&` included; the second as if it had a space in its name
ALPHABAY_FILES = {
    "D&C_-_stims_-_meth_-_20170427.csv": "D&C_-_stims_-_meth_-_20170427.csv.gz",
    "D&C_-_stims_-_speed_-_20170427.csv": "D&C_-_stims_-_speed paste_-_20170427.csv.gz",
}
ALPHABAY = {
    "market": {"slug": "alphabay", "name": "AlphaBay", "opened": "2014-12-22"},
    "listings": {
        "files": "alphabay/*.csv.gz",
        "crawl_date": {"filename": r"_-_(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})\.csv"},
        "files_per_crawl": "many",
        "encoding": "latin-1",
        "line_ends": "cr",
        "repair": "mojibake",
        "columns": {
            "listing_id": {"hash": ["listing_vendor", "listing_title"]},
            "title": "listing_title",
            "vendor": "listing_vendor",
            "price": {"column": "listing_price", "regex": r"(USD\s*[0-9][0-9,.]*)"},
            "category": {"template": "{category_link}/{subcategory_link}/{subcategory2_id}"},
            "sold_count": {"column": "detail_qty_sold", "regex": "([0-9][0-9,]*) sold since"},
            "sold_since": {
                "column": "detail_qty_sold",
                "regex": "sold since ([A-Z][a-z]{2} [0-9]{1,2}, [0-9]{4})",
            },
            "feedback": None,
        },
    },
}
HANSA_COLUMNS = {
    "listing_id": "MarketplaceID",
    "title": "Title",
    "vendor": "Vendor",
    "price": "Price",
    "category": "MarketplaceCategory",
    "ships_from": "ShippingCountry",
    "scraped_at": {"column": "TimestampScraped", "transform": "drop_zone_name"},
}
HANSA = {
    "market": {"slug": "hansa", "name": "Hansa", "opened": "2015-08-15"},
    "listings": {
        "files": "hansa/hansa-marketplace-listings-december-2016.csv.gz",
        "crawl_date": {"constant": "2016-12-11"},
        "skip_initial_space": True,
        "strip_header": True,
        "pad_short_rows": 1,
        "columns": HANSA_COLUMNS,
    },
}
PADDED = 11  # rows of the Hansa fixture without ShippingCountry
HANSA_HEADER = [
    "TimestampScraped",
    "MarketplaceID",
    "Title",
    "Vendor",
    "Price",
    "MarketplaceCategory",
    "ShippingCountry",
]


def _mirror(tmp_path: Path, folder: str, names: dict[str, str]) -> Path:
    root = tmp_path / "mirror"
    (root / folder).mkdir(parents=True, exist_ok=True)
    for fixture, name in names.items():
        with gzip.open(root / folder / name, "wb") as out:
            out.write((FIXTURES / fixture).read_bytes())
    return root


def _import_and_clean(tmp_path: Path, spec: dict, root: Path):
    out = tmp_path / "raw"
    accounting = import_dataset(spec, root, out)
    market = spec["market"]["slug"]
    files = sorted((out / "snapshots" / market).glob("*.csv.gz"))
    result = clean_partition(files, "demo", market, RATES, CLEANING, tmp_path)
    return accounting, result


# ----------------------------------------------------------------------------- AlphaBay


def test_alphabay_files_of_one_day_make_one_snapshot_and_every_row_is_accounted_for(tmp_path):
    root = _mirror(tmp_path, "alphabay", ALPHABAY_FILES)
    accounting, result = _import_and_clean(tmp_path, ALPHABAY, root)
    # 30 + 10 data records cut from the real files (CR-ended; LFs only inside cells)
    assert accounting["source_rows"].tolist() == [30, 10]
    assert accounting["snapshot_file"].nunique() == 1
    assert accounting["first_row"].tolist() == [1, 31]
    raw = int(result.accounting["raw_rows"].sum())
    assert raw == 40
    assert raw == len(result.listings) + len(result.quarantine)
    assert (result.quarantine["reason"] != "").all()


def test_alphabay_multiline_price_cell_and_sold_since_counter(tmp_path):
    root = _mirror(tmp_path, "alphabay", ALPHABAY_FILES)
    _, result = _import_and_clean(tmp_path, ALPHABAY, root)
    listings = result.listings
    first = listings[listings["title"] == "10.0 GRAMS CRYSTAL METH ICE SHARDS - REAGENT TESTED"]
    assert first["price_raw"].tolist() == ["USD 375.00"]  # from "Buy price\nUSD 375.00\n\n(..)"
    assert first["sold_count"].tolist() == [7]  # "7 sold since May 28, 2015"
    assert [d.isoformat() for d in first["sold_since"]] == ["2015-05-28"]
    assert str(listings["sold_count"].dtype) == "Int64"
    assert listings["sold_count"].notna().all()
    assert (listings["ships_from"] == "UNK").all()  # the scrape has no ships-from column


def test_alphabay_mojibake_separator_is_repaired_and_the_rest_kept(tmp_path):
    root = _mirror(tmp_path, "alphabay", ALPHABAY_FILES)
    out = tmp_path / "raw"
    spec = {**ALPHABAY, "listings": {**ALPHABAY["listings"]}}
    spec["listings"]["columns"] = {**spec["listings"]["columns"], "ships_to": "detail_qty_sold"}
    import_dataset(spec, root, out)
    snap = next((out / "snapshots" / "alphabay").glob("*.csv.gz"))
    text = gzip.decompress(snap.read_bytes()).decode("utf-8")
    assert "ξξVendor Level" in text  # bytes CE BE CE BE, read as Latin-1 "Î¾Î¾"
    assert "Î¾" not in text


def test_alphabay_without_cr_line_ends_stops_naming_the_file(tmp_path):
    root = _mirror(tmp_path, "alphabay", ALPHABAY_FILES)
    spec = {**ALPHABAY, "listings": {**ALPHABAY["listings"], "line_ends": "lf"}}
    with pytest.raises(ImportSpecError, match=r"D&C_-_stims_-_meth_-_20170427\.csv\.gz"):
        import_dataset(spec, root, tmp_path / "raw")


def test_alphabay_two_files_of_one_day_stop_without_files_per_crawl(tmp_path):
    root = _mirror(tmp_path, "alphabay", ALPHABAY_FILES)
    listings = {k: v for k, v in ALPHABAY["listings"].items() if k != "files_per_crawl"}
    with pytest.raises(ImportSpecError, match="speed paste.*also in.*meth|two snapshots"):
        import_dataset({**ALPHABAY, "listings": listings}, root, tmp_path / "raw")


def test_alphabay_read_as_utf8_names_file_row_and_field(tmp_path):
    root = _mirror(tmp_path, "alphabay", ALPHABAY_FILES)
    listings = {k: v for k, v in ALPHABAY["listings"].items() if k not in ("encoding", "repair")}
    with pytest.raises(
        ImportSpecError, match=r"meth_-_20170427\.csv\.gz: data row \d+, field '\w+'"
    ):
        import_dataset({**ALPHABAY, "listings": listings}, root, tmp_path / "raw")


def test_repair_mojibake_chains_and_what_it_leaves():
    assert repair_mojibake("aÎ¾b") == "aξb"  # UTF-8 read as Latin-1
    assert repair_mojibake("a\x8cæb") == "aξb"  # and once more through Mac Roman
    assert repair_mojibake("ä»´") == "ä»´"  # "valid" UTF-8 (仴) but implausible: kept
    assert repair_mojibake("Qualit\x92_t") == "Qualit\x92_t"  # not repairable: kept
    assert repair_mojibake('a,"b\nc"\r') == 'a,"b\nc"\r'


# ----------------------------------------------------------------------------- Hansa


def test_hansa_short_rows_zone_times_and_accounting(tmp_path):
    name = "hansa-marketplace-listings-december-2016.csv"
    root = _mirror(tmp_path, "hansa", {name: name + ".gz"})
    accounting, result = _import_and_clean(tmp_path, HANSA, root)
    assert accounting["source_rows"].tolist() == [35]
    assert accounting["rows_odd_width"].tolist() == [3]  # 3- and 4-field rows
    assert accounting["rows_padded"].tolist() == [PADDED]  # 6 of 7 fields: no ShippingCountry
    reasons = result.quarantine.groupby("reason").size().to_dict()
    assert reasons == {"field_count": 3, "crawl_date_mismatch": 1, "duplicate_in_snapshot": 1}
    assert int(result.accounting["raw_rows"].sum()) == 35 == len(result.listings) + 5
    # rows without ShippingCountry are kept with an unknown origin
    no_origin = result.listings[result.listings["ships_from_raw"] == ""]
    assert len(no_origin) > 0 and (no_origin["ships_from"] == "UNK").all()
    assert (result.listings["currency"] == "USD").all()


def test_hansa_without_padding_quarantines_rows_without_shipping_country(tmp_path):
    name = "hansa-marketplace-listings-december-2016.csv"
    root = _mirror(tmp_path, "hansa", {name: name + ".gz"})
    spec = {**HANSA, "listings": {**HANSA["listings"], "pad_short_rows": 0}}
    _, result = _import_and_clean(tmp_path, spec, root)
    assert (result.listings["ships_from_raw"] != "").all()
    assert (result.quarantine["reason"] == "field_count").sum() > 3


def test_drop_zone_name():
    values = pd.Series(["2016-12-11 20:13:54.654635085 -0500 EST", "2016-12-11", ""])
    assert drop_zone_name(values).tolist() == ["2016-12-11T20:13:54-05:00", "2016-12-11", ""]


# ----------------------------------------------------------------------------- no header row


def test_file_without_header_reads_like_the_same_file_with_one(tmp_path):
    named = "hansa-marketplace-listings-december-2016.csv"
    root = _mirror(tmp_path, "hansa", {named: named + ".gz", "hansa-headerless.csv": "x.csv.gz"})
    with_header = import_dataset(HANSA, root, tmp_path / "a")
    headerless = {
        **HANSA,
        "listings": {
            **{k: v for k, v in HANSA["listings"].items() if k != "strip_header"},
            "files": "hansa/x.csv.gz",
            "column_names": HANSA_HEADER,
        },
    }
    without = import_dataset(headerless, root, tmp_path / "b")
    assert with_header["rows"].tolist() == without["rows"].tolist() == [35]
    snap = "snapshots/hansa/2016-12-11_listings.csv.gz"
    assert (tmp_path / "a" / snap).read_bytes() == (tmp_path / "b" / snap).read_bytes()


def test_file_without_header_and_no_column_names_names_the_missing_column(tmp_path):
    root = _mirror(tmp_path, "hansa", {"hansa-headerless.csv": "x.csv.gz"})
    spec = {**HANSA, "listings": {**HANSA["listings"], "files": "hansa/x.csv.gz"}}
    with pytest.raises(ImportSpecError, match=r"x\.csv\.gz \(listings\.\w+\): source column"):
        import_dataset(spec, root, tmp_path / "raw")


def test_fixtures_are_small():
    for path in FIXTURES.iterdir():
        assert path.stat().st_size < 20_000, path


def test_manifest_lists_a_combined_snapshot_once_with_all_its_rows(tmp_path):
    root = _mirror(tmp_path, "alphabay", ALPHABAY_FILES)
    import_dataset(ALPHABAY, root, tmp_path / "raw")
    manifest = pd.read_csv(tmp_path / "raw" / "manifest.tsv", sep="\t")
    assert manifest["path"].tolist() == ["snapshots/alphabay/2017-04-27_listings.csv.gz"]
    assert manifest["rows"].tolist() == [40]


# ----------------------------------------------------------------------------- the real files


def _project_spec(name: str) -> dict:
    import yaml

    config = yaml.safe_load((Path(__file__).parents[2] / "config.yaml").read_text())
    return config["datasets"][name]


@pytest.mark.parametrize(
    ("dataset", "source_rows", "snapshots"), [("alphabay2017", 35485, 21), ("hansa2016", 14773, 1)]
)
def test_real_files_import_and_clean_with_every_row_accounted_for(
    mirror, tmp_path, dataset, source_rows, snapshots
):
    """The project's own mapping on the whole real files (a few seconds each)."""
    spec = _project_spec(dataset)
    accounting = import_dataset(spec, mirror, tmp_path / "raw")
    assert accounting.drop_duplicates("source_file")["source_rows"].sum() == source_rows
    assert accounting["rows"].sum() == source_rows
    market = spec["market"]["slug"]
    files = sorted((tmp_path / "raw" / "snapshots" / market).glob("*.csv.gz"))
    assert len(files) == snapshots
    rates = pd.DataFrame(
        {"date": ["2016-12-10", "2017-04-16"], "btc_usd": [770.0, 1200.0], "eur_usd": [1.1, 1.1]}
    )
    by_month: dict[str, list[Path]] = {}
    for path in files:
        by_month.setdefault(path.name[:7], []).append(path)
    raw = 0
    for month_files in by_month.values():
        result = clean_partition(month_files, dataset, market, rates, CLEANING, tmp_path)
        raw += assert_rows_balanced(result)  # every (file, row) once, clean or quarantined
        assert (result.quarantine["reason"] != "").all()
    assert raw == source_rows
