"""Rule `merge_clean`: concatenate the partitions of a dataset's clean tables."""

from dnmarkets.io import write_parquet
from dnmarkets.manifest import check_all_cleaned
from dnmarkets.runlog import job_logging
from dnmarkets.tables import merge_parts

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    for name in ("listings", "vendors", "quarantine", "accounting"):
        merged = merge_parts(list(sm.input[name]), name)
        if name == "accounting":  # no raw row may fall between the planned partitions
            check_all_cleaned(sm.input.manifest, merged)
        write_parquet(merged, sm.output[name])
        log.info("%s: %d rows from %d partitions", name, len(merged), len(sm.input[name]))
