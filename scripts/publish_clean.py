"""Rule `publish_clean`: the clean tables for results/, aliases and PGP keys pseudonymised."""

from dnmarkets.clean.privacy import (
    load_key,
    publish_arrow,
    publish_quarantine,
    publish_quarantine_arrow,
    publish_table,
)
from dnmarkets.core.io import transform_parquet
from dnmarkets.core.runlog import job_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    key = load_key(sm.wildcards.dataset, sm.params.kind, sm.params.key_file)
    memo: dict = {}  # pseudonyms already computed, across batches and tables
    # row by row, so streamed a batch at a time (in Arrow): the listings would not fit at 100x
    for name in ("listings", "vendors", "accounting"):
        rows = transform_parquet(
            sm.input[name],
            sm.output[name],
            lambda frame: publish_table(frame, key),
            arrow_transform=lambda table: publish_arrow(table, key, memo),
        )
        log.info("%s: %d rows", name, rows)
    rows = transform_parquet(
        sm.input.quarantine,
        sm.output.quarantine,
        lambda frame: publish_quarantine(frame, key),
        arrow_transform=lambda table: publish_quarantine_arrow(table, key),
    )
    log.info("quarantine: %d rows; pseudonym key %s", rows, sm.params.key_id)
