"""Rule `tabular_rates`: a tabular dataset's own exchange rates (`rates`), checked."""

from pathlib import Path

from dnmarkets.core.io import atomic_path
from dnmarkets.core.runlog import job_logging
from dnmarkets.sources.reference import own_rates

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    data = own_rates(Path(sm.input.fetched).parent / "files" / sm.params.file)
    with atomic_path(sm.output.rates) as tmp:
        tmp.write_bytes(data)
    log.info("%s: rates from %s, %d lines", sm.wildcards.dataset, sm.params.file, data.count(b"\n"))
