"""Rules `*_notebook`: execute a parameterized notebook with papermill.

The executed notebook is written to a temporary name and renamed at the end,
so a killed run never leaves a notebook that looks complete.
"""

import shutil
from pathlib import Path

import papermill

from dnmarkets.io import atomic_path
from dnmarkets.runlog import job_logging, pause_for_tests

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    parameters = dict(sm.params.parameters)
    out_dir = Path(parameters["out_dir"])
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    with atomic_path(sm.output.notebook) as tmp:
        papermill.execute_notebook(
            sm.input.notebook,
            str(tmp),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
        )
        pause_for_tests(sm.rule)  # a kill here leaves the figures but no notebook
    log.info("executed %s -> %s", sm.input.notebook, sm.output.notebook)
