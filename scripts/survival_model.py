"""Rule `survival_model`: market lifetimes, closure types and risk factors (registry)."""

import pandas as pd

from dnmarkets.core.io import write_json, write_parquet
from dnmarkets.core.runlog import job_logging
from dnmarkets.models.survival import survival_model

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    registry = pd.read_parquet(sm.input.registry)
    result = survival_model(registry, sm.params.settings["censor_date"], float(sm.params.level))
    curves = pd.concat(
        [
            result["km_curve"].assign(curve="survival", cause=""),
            result["incidence"].rename(columns={"incidence": "survival"}).assign(curve="incidence"),
        ],
        ignore_index=True,
    )
    write_parquet(curves, sm.output.curves)
    write_json({"summary": result["summary"], "tables": result["tables"]}, sm.output.model)
    log.info(
        "%d markets, %d catalogue entries",
        len(result["tables"]["lifetimes"]),
        len(result["summary"]),
    )
