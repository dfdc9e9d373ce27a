"""Rule `landscape_model`: shares with clustered-bootstrap intervals, tables."""

import pandas as pd
import pyarrow.parquet as pq

from dnmarkets.core.io import write_json
from dnmarkets.core.runlog import job_logging
from dnmarkets.models.intervals import bootstrap_settings
from dnmarkets.models.landscape import (
    MARKUP_MARKS,
    landscape_estimates,
    landscape_items,
    markup_titles_of,
)
from dnmarkets.models.roster import COUNTER_COLUMNS, ROSTER_COLUMNS, roster_estimates
from dnmarkets.panels.sightings import distinct_values_containing

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    # the sightings reduced to distinct listings out of core (memory: listings, not rows)
    items = landscape_items(sm.input.listings)
    titles = distinct_values_containing(sm.input.listings, "title", MARKUP_MARKS)
    result = landscape_estimates(
        listings=None,
        items=items,
        markup=markup_titles_of(titles),
        market_day=pd.read_parquet(sm.input.market_day),
        accounting=pd.read_parquet(sm.input.accounting),
        # only the columns counted: the raw rows were a gigabyte at 100x scale
        quarantine=pd.read_parquet(sm.input.quarantine, columns=["table", "reason"]),
        analysis=dict(sm.params.analysis),
        low_coverage_threshold=float(sm.params.cleaning["low_coverage_threshold"]),
        single_category=sm.params.single_category,
    )
    if sm.params.single_pass:  # a roster: concentration, and sales from sold-since counters
        present = pq.read_schema(sm.input.listings).names
        columns = ROSTER_COLUMNS + [c for c in COUNTER_COLUMNS if c in present]
        listings = pd.read_parquet(sm.input.listings, columns=columns)
        boot = bootstrap_settings(dict(sm.params.analysis))
        result["summary"].update(roster_estimates(listings, boot))
    result["dataset"] = sm.wildcards.dataset
    write_json(result, sm.output.model)
    for key, item in sorted(result["summary"].items()):
        log.info("%s = %s [%s, %s]", key, item["value"], item["ci_low"], item["ci_high"])
