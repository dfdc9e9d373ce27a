"""panels_of_file (numpy, a market at a time) gives exactly the in-memory panels
(market_day_panel, vendor_market_panel), whatever the file's order and row groups."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from dnmarkets.core.io import write_parquet
from dnmarkets.panels.build import (
    MARKET_DAY_COLUMNS,
    PANEL_COLUMNS,
    VENDOR_MARKET_COLUMNS,
    market_day_panel,
    panels_of_file,
    vendor_market_panel,
)

# byte order differs from a case-folded or locale order: upper case, accents, digits
NAMES = ["Zed", "alpha", "alpha2", "ébène", "zulu", "Ärger", "b"]


def random_sightings(seed: int, rows: int) -> pd.DataFrame:
    """Sightings with what the panels must get right: listings seen twice a day (one
    count missing, counts that fall), a listing that changes vendor, listings new
    after a market's first crawl, ties for the most frequent category, rows in no
    particular order."""
    rng = np.random.default_rng(seed)
    market = rng.choice(["m-b", "m-a", "mé", "M"], size=rows)
    listing = rng.integers(0, rows // 6, size=rows).astype(str)
    day = rng.integers(0, 40, size=rows)
    feedback = pd.array(rng.integers(0, 30, size=rows), dtype="Int64")
    feedback[rng.random(rows) < 0.1] = pd.NA
    frame = pd.DataFrame(
        {
            "market": market,
            "listing_id": pd.Series(listing).radd("L"),
            "crawl_date": [dt.date(2017, 1, 1) + dt.timedelta(days=int(d)) for d in day],
            "vendor_key": rng.choice(NAMES, size=rows),
            "feedback_count": feedback,
            "price_usd": rng.choice([5.0, 12.5, 0.1, 1e3 / 7], size=rows),
            "drug_category": rng.choice(["cannabis", "opioids", "Stimulants"], size=rows),
            "ships_from_region": rng.choice(["EU", "Ásia", "NA"], size=rows),
        }
    )
    return frame[PANEL_COLUMNS]


def written(frame: pd.DataFrame, path, row_group_size: int | None = None):
    """`frame` as a clean table: write_parquet, or row groups of `row_group_size`."""
    if row_group_size is None:
        write_parquet(frame, path)
    else:
        table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
        pq.write_table(table, path, row_group_size=row_group_size)
    return path


def assert_panels_equal(path, frame: pd.DataFrame) -> None:
    market_day, vendor_market = panels_of_file(path, "d")
    assert_frame_equal(market_day, market_day_panel(frame, "d"), check_exact=True)
    assert_frame_equal(vendor_market, vendor_market_panel(frame, "d"), check_exact=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_equals_the_in_memory_panels_on_random_sightings(tmp_path, seed):
    frame = pd.read_parquet(written(random_sightings(seed, 3000), tmp_path / "a.parquet"))
    market_day, _ = panels_of_file(tmp_path / "a.parquet", "d")
    assert market_day["est_sales_usd"].sum() > 0
    assert_panels_equal(tmp_path / "a.parquet", frame)


def test_row_groups_mixing_markets_are_filtered(tmp_path):
    # small row groups, markets interleaved: every row group holds several markets
    path = written(random_sightings(4, 2000), tmp_path / "a.parquet", row_group_size=97)
    assert pq.ParquetFile(path).num_row_groups > 10
    assert_panels_equal(path, pd.read_parquet(path))


def test_market_ordered_file_with_one_market_per_row_group(tmp_path):
    frame = random_sightings(5, 2000).sort_values("market", kind="stable")
    path = written(frame, tmp_path / "a.parquet", row_group_size=250)
    assert_panels_equal(path, pd.read_parquet(path))


def test_same_day_sightings_keep_the_last_count_in_file_order(tmp_path):
    rows = [
        ("m", "a", dt.date(2017, 1, 1), "v", 10, 5.0),
        ("m", "a", dt.date(2017, 1, 3), "v", 14, 5.0),
        ("m", "a", dt.date(2017, 1, 3), "v", 12, 7.0),  # the day's last count: 12 at $7
        ("m", "a", dt.date(2017, 1, 3), "v", None, 9.0),  # no count: ignored
    ]
    frame = pd.DataFrame(
        rows, columns=PANEL_COLUMNS[:3] + ["vendor_key", "feedback_count", "price_usd"]
    )
    frame["feedback_count"] = frame["feedback_count"].astype("Int64")
    frame["drug_category"], frame["ships_from_region"] = "cannabis", "EU"
    path = written(frame[PANEL_COLUMNS], tmp_path / "a.parquet")
    market_day, vendor_market = panels_of_file(path, "d")
    assert vendor_market["est_sales_usd"].tolist() == [14.0]  # (12 - 10) x $7
    assert market_day["est_sales_usd"].tolist() == [0.0, 7.0, 7.0]
    assert_panels_equal(path, pd.read_parquet(path))


def test_an_empty_table_gives_empty_panels(tmp_path):
    path = written(random_sightings(6, 60).iloc[:0], tmp_path / "a.parquet")
    market_day, vendor_market = panels_of_file(path, "d")
    assert market_day.empty and list(market_day.columns) == MARKET_DAY_COLUMNS
    assert vendor_market.empty and list(vendor_market.columns) == VENDOR_MARKET_COLUMNS


def test_a_missing_key_is_an_error_naming_the_file_and_column(tmp_path):
    frame = random_sightings(7, 60)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    vendor = table.column("vendor_key").to_pylist()
    vendor[5] = None
    table = table.set_column(table.schema.get_field_index("vendor_key"), "vendor_key", [vendor])
    pq.write_table(table, tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match=r"bad\.parquet.*vendor_key"):
        panels_of_file(tmp_path / "bad.parquet", "d")


def test_a_file_without_statistics_is_read_whole(tmp_path):
    frame = random_sightings(8, 1500)
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    path = tmp_path / "a.parquet"
    pq.write_table(table, path, row_group_size=200, write_statistics=False)
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).statistics is None
    assert_panels_equal(path, pd.read_parquet(path))
