"""Out-of-core reading of the sightings (dnmarkets.panels.sightings) and the streamed merge:
on a small simulated ecosystem, every result equals the in-memory computation exactly."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from pandas.testing import assert_frame_equal

from dnmarkets.clean.identity import account_table
from dnmarkets.clean.merge import merge_parts, write_merged_parts
from dnmarkets.clean.privacy import publish_quarantine, publish_table
from dnmarkets.core.io import transform_parquet, write_parquet
from dnmarkets.models.interval_coverage import TABLES, clean_dataset
from dnmarkets.models.landscape import (
    DISTINCT_LISTING_COLUMNS,
    FIRST_SIGHTING_COLUMNS,
    MARKUP_MARKS,
    distinct_listings,
    distinct_listings_of,
    landscape_estimates,
    landscape_items,
    markup_titles,
    markup_titles_of,
)
from dnmarkets.models.supply import (
    PRICE_COLUMNS,
    distinct_drug_listings,
    first_drug_sightings,
    supply_estimates,
    supply_inputs,
)
from dnmarkets.panels.build import (
    PANEL_COLUMNS,
    feedback_sales,
    market_day_panel,
    panels_of_chunks,
    vendor_market_panel,
)
from dnmarkets.panels.sightings import (
    crawl_days,
    distinct_values,
    distinct_values_containing,
    first_sightings,
    group_counts,
    listing_chunks,
    listing_sales,
    per_listing,
)
from dnmarkets.sim.simulate import simulate

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
# small batches, an odd size: listings straddle batch boundaries
CHUNK = 997
ANALYSIS = {**CONFIG["analysis"], "bootstrap_replicates": 40}
SMALL = {"start": "2017-06-01", "end": "2017-08-31", "scale": 0.1, "hostile_title_share": 0.01}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("sightings")
    dataset = CONFIG["datasets"]["sim2017"]
    sim = copy.deepcopy(dataset["simulation"])
    sim.update(SMALL)
    simulate(sim, out / "raw")
    tables = clean_dataset(out / "raw", "sim2017", sim, 1, CONFIG["cleaning"])
    path = out / "listings.parquet"
    write_parquet(tables["listings"], path)
    return out, path, tables


def test_chunks_hold_whole_listings_in_order_with_the_file_dtypes(clean):
    _, path, tables = clean
    full = pd.read_parquet(path, columns=PANEL_COLUMNS)
    chunks = list(listing_chunks(path, PANEL_COLUMNS, chunk_rows=CHUNK))
    assert len(chunks) > 5
    keys = [set(zip(c["market"], c["listing_id"], strict=True)) for c in chunks]
    assert (
        sum(map(len, keys))
        == len(set().union(*keys))
        == len(full.drop_duplicates(["market", "listing_id"]))
    )
    firsts = [(c["market"].iat[0], c["listing_id"].iat[0]) for c in chunks]
    assert firsts == sorted(firsts)
    merged = pd.concat(chunks, ignore_index=True)
    assert merged.dtypes.equals(full[merged.columns].dtypes)
    # rows within a listing keep the file's order
    expected = full.sort_values(["market", "listing_id"], kind="stable").reset_index(drop=True)
    got = merged.sort_values(["market", "listing_id"], kind="stable").reset_index(drop=True)
    assert_frame_equal(got, expected[got.columns], check_exact=True)


def test_per_listing_tables_equal_the_in_memory_ones(clean):
    _, path, tables = clean
    listings = tables["listings"]
    items, first = per_listing(
        path,
        DISTINCT_LISTING_COLUMNS + PRICE_COLUMNS,
        distinct_listings,
        lambda chunk, _: first_drug_sightings(chunk),
        chunk_rows=CHUNK,
    )
    assert_frame_equal(items, distinct_listings(listings), check_exact=True)
    expected = first_drug_sightings(listings)[first.columns].reset_index(drop=True)
    assert_frame_equal(first, expected, check_exact=True)
    markup = markup_titles_of(distinct_values(path, "title"))
    assert markup and markup == markup_titles(listings)

    # the models' results, the way the rules compute them
    market_day = market_day_panel(listings, "sim2017")
    common = {
        "market_day": market_day,
        "accounting": tables["accounting"],
        "quarantine": tables["quarantine"],
        "analysis": ANALYSIS,
        "low_coverage_threshold": 0.3,
    }
    assert landscape_estimates(
        listings=None, items=items, markup=markup, **common
    ) == landscape_estimates(listings=listings, **common)
    expected = supply_estimates(listings, distinct_listings(listings), ANALYSIS)
    assert supply_estimates(None, items, ANALYSIS, first=first) == expected
    # as the supply job reads them: the drug listings' columns the shares read
    drug_items, drug_first = per_listing(
        path,
        DISTINCT_LISTING_COLUMNS + PRICE_COLUMNS,
        distinct_drug_listings,
        lambda chunk, _: first_drug_sightings(chunk),
        chunk_rows=CHUNK,
    )
    assert len(drug_items) < len(items)
    assert supply_estimates(None, drug_items, ANALYSIS, first=drug_first) == expected


def test_panels_of_chunks_equal_the_in_memory_panels(clean):
    _, path, tables = clean
    listings = tables["listings"]
    market_day, vendor_market = panels_of_chunks(
        listing_chunks(path, PANEL_COLUMNS, chunk_rows=CHUNK), crawl_days(path), "sim2017"
    )
    assert market_day["est_sales_usd"].sum() > 0
    assert_frame_equal(market_day, market_day_panel(listings, "sim2017"), check_exact=True)
    assert_frame_equal(vendor_market, vendor_market_panel(listings, "sim2017"), check_exact=True)


def test_streamed_merge_equals_the_concatenation(clean):
    out, _, _ = clean
    for table in TABLES:
        parts = sorted((out / "raw" / "_clean_parts").glob(f"*/{table}.parquet"))
        write_merged_parts(parts, table, out / f"streamed_{table}.parquet")
        write_parquet(merge_parts(parts, table), out / f"concat_{table}.parquet")
        streamed, concat = out / f"streamed_{table}.parquet", out / f"concat_{table}.parquet"
        assert pq.read_schema(streamed).equals(pq.read_schema(concat), check_metadata=True)
        assert_frame_equal(pd.read_parquet(streamed), pd.read_parquet(concat), check_exact=True)


def test_streamed_publication_equals_the_in_memory_one(clean):
    out, _, tables = clean
    key = b"test-key"
    for table, publish, batch in (
        ("listings", publish_table, CHUNK),
        ("quarantine", publish_quarantine, 7),
    ):
        source = out / f"private_{table}.parquet"
        write_parquet(tables[table], source)
        batched, whole = out / f"batched_{table}.parquet", out / f"whole_{table}.parquet"
        rows = transform_parquet(
            source, batched, lambda f, publish=publish: publish(f, key), batch_rows=batch
        )
        assert rows == len(tables[table]) > batch
        write_parquet(publish(tables[table], key), whole)
        assert pq.read_schema(batched).equals(pq.read_schema(whole), check_metadata=True)
        assert_frame_equal(pd.read_parquet(batched), pd.read_parquet(whole), check_exact=True)


def test_accounts_from_alias_counts_equal_those_from_the_sightings(clean):
    _, path, tables = clean
    counts = group_counts(path, ["market", "vendor_key", "vendor"])
    assert counts["n"].sum() == len(tables["listings"])
    assert_frame_equal(
        account_table(counts, tables["vendors"]),
        account_table(tables["listings"], tables["vendors"]),
        check_exact=True,
    )


def test_shorter_cleaning_partitions_give_the_same_clean_tables(clean, tmp_path):
    # a large simulation is cleaned in monthly partitions (partition_months: 1) to bound
    # each job's memory: the merged tables must not depend on the partition length
    out, _, monthly = clean
    raw = tmp_path / "raw"
    shutil.copytree(out / "raw", raw, ignore=shutil.ignore_patterns("_clean_parts"))
    sim = copy.deepcopy(CONFIG["datasets"]["sim2017"]["simulation"])
    sim.update(SMALL)
    half_yearly = clean_dataset(raw, "sim2017", sim, 6, CONFIG["cleaning"])
    for table in TABLES:
        assert_frame_equal(half_yearly[table], monthly[table], check_exact=True)


def test_first_sightings_and_sales_give_the_per_listing_tables(clean):
    """The jobs' aggregation path (first sightings by a DuckDB aggregation, sales in
    numpy) gives exactly what per_listing with the in-memory functions gives."""
    _, path, tables = clean
    listings = tables["listings"]
    sales = listing_sales(path, chunk_rows=CHUNK)
    (expected_sales,) = per_listing(
        path,
        ["feedback_count", "price_usd"],
        lambda chunk, days: feedback_sales(chunk, ["market", "listing_id"], days).reset_index(),
        chunk_rows=CHUNK,
    )
    assert len(sales) > 100
    assert list(sales.index) == list(
        zip(expected_sales["market"], expected_sales["listing_id"], strict=True)
    )
    assert sales.to_numpy().tobytes() == expected_sales["sales_usd"].to_numpy().tobytes()

    first = first_sightings(path, FIRST_SIGHTING_COLUMNS)
    expected_items = distinct_listings(listings)
    assert_frame_equal(distinct_listings_of(first, sales), expected_items, check_exact=True)
    assert_frame_equal(landscape_items(path), expected_items, check_exact=True)
    items, drug_first = supply_inputs(path)
    expected_items, expected_first = per_listing(
        path,
        DISTINCT_LISTING_COLUMNS + PRICE_COLUMNS,
        distinct_drug_listings,
        lambda chunk, _: first_drug_sightings(chunk),
        chunk_rows=CHUNK,
    )
    assert_frame_equal(items, expected_items, check_exact=True)
    assert "title" not in drug_first  # no grams column in the simulated data
    assert_frame_equal(drug_first, expected_first[drug_first.columns], check_exact=True)

    markup = markup_titles_of(distinct_values_containing(path, "title", MARKUP_MARKS))
    assert markup and markup == markup_titles(listings)
