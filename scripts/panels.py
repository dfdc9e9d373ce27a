"""Rule `panels`: market x day and vendor x market panels from clean listings."""

from dnmarkets.core.io import write_parquet
from dnmarkets.core.runlog import job_logging
from dnmarkets.panels.build import panels_of_file

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    # one market at a time, in numpy: memory grows with the largest market's rows
    market_day, vendor_market = panels_of_file(sm.input.listings, sm.wildcards.dataset)
    write_parquet(market_day, sm.output.market_day)
    write_parquet(vendor_market, sm.output.vendor_market)
    log.info("market_day %d rows, vendor_market %d rows", len(market_day), len(vendor_market))
