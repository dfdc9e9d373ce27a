"""Rule `panels`: market x day and vendor x market panels from clean listings."""

from dnmarkets.core.io import write_parquet
from dnmarkets.core.runlog import job_logging
from dnmarkets.panels.build import PANEL_COLUMNS, panels_of_chunks
from dnmarkets.panels.sightings import crawl_days, listing_chunks

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    # whole listings a chunk at a time: memory grows with listings and vendors, not rows
    market_day, vendor_market = panels_of_chunks(
        listing_chunks(sm.input.listings, PANEL_COLUMNS),
        crawl_days(sm.input.listings),
        sm.wildcards.dataset,
    )
    write_parquet(market_day, sm.output.market_day)
    write_parquet(vendor_market, sm.output.vendor_market)
    log.info("market_day %d rows, vendor_market %d rows", len(market_day), len(vendor_market))
