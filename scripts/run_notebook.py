"""Rules `*_notebook`: execute a parameterized notebook with papermill.

The executed notebook is written to a temporary name and renamed at the end,
so a killed run never leaves a notebook that looks complete. The kernel talks
to papermill over Unix sockets, not TCP on localhost: no ports to race for
between parallel jobs, and it runs where there is no network at all (not even
a loopback interface, as under `unshare -n`).
"""

import shutil
import tempfile
from pathlib import Path

import papermill
from traitlets.config import Config

from dnmarkets.core.io import atomic_path
from dnmarkets.core.notebook import make_reproducible
from dnmarkets.core.runlog import job_logging, pause_for_tests

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    parameters = dict(sm.params.parameters)
    out_dir = Path(parameters["out_dir"])
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    with atomic_path(sm.output.notebook) as tmp, tempfile.TemporaryDirectory() as sockets:
        papermill.execute_notebook(
            sm.input.notebook,
            str(tmp),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            # short socket paths under /tmp: Unix socket paths are limited to 107 bytes
            config=Config({"KernelManager": {"transport": "ipc", "ip": f"{sockets}/kernel"}}),
        )
        make_reproducible(tmp, sm.output.notebook)
        pause_for_tests(sm.rule)  # a kill here leaves the figures but no notebook
    log.info("executed %s -> %s", sm.input.notebook, sm.output.notebook)
