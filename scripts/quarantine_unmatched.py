"""Rule `quarantine_unmatched`: rows of markets the config does not know, to quarantine."""

from pathlib import Path

from dnmarkets.clean.unmatched import quarantine_unmatched
from dnmarkets.core.io import write_parquet
from dnmarkets.core.runlog import job_logging
from dnmarkets.sources.raw_checksums import files_from_manifest, verify_files
from dnmarkets.sources.tabular import UNMATCHED_DIR

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    files = files_from_manifest(sm.input.manifest, f"{UNMATCHED_DIR}/")
    verify_files(sm.input.manifest, files)
    result = quarantine_unmatched(files, sm.wildcards.dataset, Path.cwd())
    for name in ("listings", "vendors", "quarantine", "accounting"):
        write_parquet(getattr(result, name), sm.output[name])
    log.info(
        "%s: %d rows of unknown markets in %d files quarantined (unknown_market)",
        sm.wildcards.dataset,
        len(result.quarantine),
        len(files),
    )
