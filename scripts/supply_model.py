"""Rule `supply_model`: supply by ships-from country (EU focus) and prices."""

import pandas as pd

from dnmarkets.io import write_json
from dnmarkets.landscape import distinct_listings
from dnmarkets.runlog import job_logging
from dnmarkets.supply import supply_estimates

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    listings = pd.read_parquet(sm.input.listings)
    result = supply_estimates(listings, distinct_listings(listings), dict(sm.params.analysis))
    write_json(result, sm.output.model)
    log.info("%d catalogue entries", len(result["summary"]))
