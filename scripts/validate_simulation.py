"""Rule `validate_simulation`: compare estimates with the simulation's ground truth."""

from dnmarkets.core.io import read_json, write_json
from dnmarkets.core.runlog import job_logging
from dnmarkets.models.validation import landscape_validation

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    result = landscape_validation(read_json(sm.input.landscape), read_json(sm.input.truth))
    result["dataset"] = sm.wildcards.dataset
    write_json(result, sm.output.model)
    for row in result["tables"]["landscape"]:
        log.info("%s", row)
