"""Rule `publish_clean`: the clean tables for results/, aliases and PGP keys pseudonymised."""

import pandas as pd

from dnmarkets.io import write_parquet
from dnmarkets.privacy import load_key, publish_quarantine, publish_table
from dnmarkets.runlog import job_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    key = load_key(sm.wildcards.dataset, sm.params.kind, sm.params.key_file)
    for name in ("listings", "vendors", "accounting"):
        table = publish_table(pd.read_parquet(sm.input[name]), key)
        write_parquet(table, sm.output[name])
        log.info("%s: %d rows", name, len(table))
    quarantine = publish_quarantine(pd.read_parquet(sm.input.quarantine), key)
    write_parquet(quarantine, sm.output.quarantine)
    log.info("quarantine: %d rows; pseudonym key %s", len(quarantine), sm.params.key_id)
