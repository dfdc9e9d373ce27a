"""Rule `coverage_study`: the stored multi-seed coverage study as catalogue entries.

The study itself (benchmarks/its_coverage.py, about 25 minutes on two cores) is too
slow for every run; its output is committed and read here, with the commit and
date it was made at."""

import pandas as pd

from dnmarkets.core.io import read_json, write_json
from dnmarkets.core.runlog import job_logging
from dnmarkets.models.interval_coverage import coverage_entries

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    study = read_json(sm.input.study)
    write_json(
        {
            "summary": coverage_entries(study, pd.read_csv(sm.input.rows)),
            "tables": {
                k: study[k]
                for k in (
                    "summary",
                    "summary_alternative",
                    "settings",
                    "timing",
                    "git_commit",
                    "date",
                )
                if k in study
            },
        },
        sm.output.model,
    )
    log.info("coverage study of %s (%s)", study["date"], study["git_commit"])
