"""Rule `import_series`: a series dataset's files to one clean table, with quarantine."""

from pathlib import Path

from dnmarkets.core.io import write_parquet
from dnmarkets.core.runlog import job_logging
from dnmarkets.sources.series import read_series_dataset

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    source_root = Path(sm.input.fetched).parent / "files"
    tables = read_series_dataset([dict(f) for f in sm.params.files], source_root)
    for name, table in tables.items():
        write_parquet(table, sm.output[name])
    for row in tables["accounting"].to_dict("records"):
        log.info(
            "%s (%s): %d raw rows = %d clean + %d quarantined",
            row["file"],
            row["market"],
            row["raw_rows"],
            row["clean_rows"],
            row["quarantined_rows"],
        )
