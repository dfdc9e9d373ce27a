"""Rule `fetch`: obtain one source's files from the mirror or by download, verified."""

from dnmarkets.core.runlog import job_logging
from dnmarkets.sources.fetch import fetch_source, write_fetched

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    folder = sm.output.fetched.rsplit("/", 1)[0]
    records = fetch_source(sm.wildcards.source, folder, sm.params.mirror, sm.params.download)
    write_fetched(records, sm.output.fetched)
    log.info("%s: %d files verified", sm.wildcards.source, len(records))
