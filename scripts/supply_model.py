"""Rule `supply_model`: supply by ships-from country (EU focus) and prices."""

from dnmarkets.core.io import write_json
from dnmarkets.core.runlog import job_logging
from dnmarkets.models.supply import price_days, supply_estimates, supply_inputs

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    # out of core: the drug listings (first sightings, sales) without a sort of every row
    items, first = supply_inputs(sm.input.listings)
    result = supply_estimates(
        None,
        items,
        dict(sm.params.analysis),
        first=first,
        price_days=price_days(sm.params.price_days, getattr(sm.input, "rates", None)),
    )
    write_json(result, sm.output.model)
    log.info("%d catalogue entries", len(result["summary"]))
