"""Rule `panels`: market x day and vendor x market panels from clean listings."""

import pandas as pd

from dnmarkets.io import write_parquet
from dnmarkets.panels import market_day_panel, vendor_market_panel
from dnmarkets.runlog import job_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    listings = pd.read_parquet(sm.input.listings)
    market_day = market_day_panel(listings, sm.wildcards.dataset)
    vendor_market = vendor_market_panel(listings, sm.wildcards.dataset)
    write_parquet(market_day, sm.output.market_day)
    write_parquet(vendor_market, sm.output.vendor_market)
    log.info("market_day %d rows, vendor_market %d rows", len(market_day), len(vendor_market))
