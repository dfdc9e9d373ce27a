"""Rule `landscape_model`: shares with clustered-bootstrap intervals, tables."""

import pandas as pd

from dnmarkets.io import write_json
from dnmarkets.landscape import landscape_estimates
from dnmarkets.runlog import job_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    result = landscape_estimates(
        listings=pd.read_parquet(sm.input.listings),
        market_day=pd.read_parquet(sm.input.market_day),
        accounting=pd.read_parquet(sm.input.accounting),
        quarantine=pd.read_parquet(sm.input.quarantine),
        analysis=dict(sm.params.analysis),
        low_coverage_threshold=float(sm.params.cleaning["low_coverage_threshold"]),
    )
    result["dataset"] = sm.wildcards.dataset
    write_json(result, sm.output.model)
    for key, item in sorted(result["summary"].items()):
        log.info("%s = %s [%s, %s]", key, item["value"], item["ci_low"], item["ci_high"])
