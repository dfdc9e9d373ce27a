"""Rule `series_model`: interrupted time series of a series dataset at its events."""

import pandas as pd

from dnmarkets.core.io import write_json, write_parquet
from dnmarkets.core.runlog import job_logging
from dnmarkets.models.series_its import series_resilience

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    result = series_resilience(
        pd.read_parquet(sm.input.series),
        dict(sm.params.spec),
        dict(sm.params.events),
        dict(sm.params.all_events),
        dict(sm.params.settings),
        float(sm.params.level),
        int(sm.params.seed),
    )
    write_parquet(result["series"], sm.output.fitted)
    write_parquet(result["placebo"], sm.output.placebo)
    write_json({"summary": result["summary"]}, sm.output.model)
    log.info("%d catalogue entries", len(result["summary"]))
