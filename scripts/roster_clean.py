"""Rule `roster_clean`: a roster dataset's seller profiles to a private clean table
(names as scraped, never published) and its quarantine; the row accounting is public."""

from pathlib import Path

from dnmarkets.core.io import write_json, write_parquet
from dnmarkets.core.runlog import job_logging
from dnmarkets.sources.roster import import_roster

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    files = Path(sm.input.fetched).parent / "files"
    clean, quarantine, accounting = import_roster(dict(sm.params.spec), files)
    write_parquet(clean, sm.output.roster)
    write_parquet(quarantine, sm.output.quarantine)
    write_json(accounting, sm.output.accounting)
    log.info(
        "raw %d = clean %d + quarantined %d",
        accounting["raw_rows"],
        accounting["clean_rows"],
        accounting["quarantined_rows"],
    )
