"""Rule `merge_clean`: concatenate the partitions of a dataset's clean tables."""

import pandas as pd

from dnmarkets.clean.merge import write_merged_parts
from dnmarkets.core.runlog import job_logging
from dnmarkets.sources.raw_checksums import check_all_cleaned

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    for name in ("listings", "vendors", "quarantine", "accounting"):
        # streamed partition by partition: the merged listings would not fit at 100x
        rows = write_merged_parts(list(sm.input[name]), name, sm.output[name])
        if name == "accounting":  # no raw row may fall between the planned partitions
            check_all_cleaned(sm.input.manifest, pd.read_parquet(sm.output[name]))
        log.info("%s: %d rows from %d partitions", name, rows, len(sm.input[name]))
