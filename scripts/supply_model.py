"""Rule `supply_model`: supply by ships-from country (EU focus) and prices."""

from dnmarkets.core.io import write_json
from dnmarkets.core.runlog import job_logging
from dnmarkets.models.landscape import DISTINCT_LISTING_COLUMNS
from dnmarkets.models.supply import (
    PRICE_COLUMNS,
    distinct_drug_listings,
    first_drug_sightings,
    price_days,
    supply_estimates,
)
from dnmarkets.panels.sightings import per_listing

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    # one out-of-core pass over the sightings: distinct drug listings and their first sightings
    items, first = per_listing(
        sm.input.listings,
        DISTINCT_LISTING_COLUMNS + PRICE_COLUMNS,
        distinct_drug_listings,
        lambda chunk, _: first_drug_sightings(chunk),
    )
    result = supply_estimates(
        None,
        items,
        dict(sm.params.analysis),
        first=first,
        price_days=price_days(sm.params.price_days, getattr(sm.input, "rates", None)),
    )
    write_json(result, sm.output.model)
    log.info("%d catalogue entries", len(result["summary"]))
