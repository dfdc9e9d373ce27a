"""Rule `clean_partition`: clean one market-month of raw snapshots."""

from pathlib import Path

import pandas as pd

from dnmarkets.clean.partition import clean_partition
from dnmarkets.core.io import write_parquet
from dnmarkets.core.runlog import job_logging, pause_for_tests
from dnmarkets.sources.partitions import block_months_of, parse_partition
from dnmarkets.sources.raw_checksums import partition_files_from_manifest, verify_files

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    market, month = parse_partition(sm.wildcards.partition)
    months = block_months_of(month, int(sm.params.block_months))
    files = partition_files_from_manifest(sm.input.manifest, market, months)
    verify_files(sm.input.manifest, files)
    rates = pd.read_csv(sm.input.rates)
    result = clean_partition(
        files, sm.wildcards.dataset, market, rates, dict(sm.params.cleaning), Path.cwd()
    )
    for name in ("listings", "vendors", "quarantine", "accounting"):
        write_parquet(getattr(result, name), sm.output[name])
        if name == "listings":
            pause_for_tests(sm.rule)  # a kill here leaves one output of four
    acc = result.accounting
    log.info(
        "%s: %d files, raw %d = clean %d + quarantined %d",
        sm.wildcards.partition,
        len(files),
        acc.raw_rows.sum(),
        acc.clean_rows.sum(),
        acc.quarantined_rows.sum(),
    )
