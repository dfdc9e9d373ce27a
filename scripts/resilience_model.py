"""Rule `resilience_model`: ITS estimates of the ecosystem's change at each event."""

import pandas as pd

from dnmarkets.core.io import write_json, write_parquet
from dnmarkets.core.runlog import job_logging
from dnmarkets.models.resilience import resilience

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    market_day = pd.read_parquet(sm.input.market_day)
    truth = pd.read_csv(sm.input.truth) if "truth" in sm.input.keys() else None
    result = resilience(
        market_day,
        dict(sm.params.events),
        dict(sm.params.settings),
        float(sm.params.level),
        truth,
        seed=int(sm.params.seed),
    )
    write_parquet(result["series"], sm.output.series)
    write_parquet(result["forecasts"], sm.output.forecasts)
    write_json({"summary": result["summary"], "tables": result["tables"]}, sm.output.model)
    log.info("%d catalogue entries", len(result["summary"]))
