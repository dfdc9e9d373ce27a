"""Rule `import_tabular`: map a real tabular scrape to canonical raw snapshots."""

from pathlib import Path

from dnmarkets.core.io import atomic_path
from dnmarkets.core.runlog import job_logging
from dnmarkets.sources.tabular import import_dataset

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    source_root = Path(sm.input.fetched).parent / "files"
    out_dir = Path(sm.output.manifest).parent
    accounting = import_dataset(dict(sm.params.spec), source_root, out_dir)
    with atomic_path(sm.output.accounting) as tmp:
        accounting.to_csv(tmp, sep="\t", index=False)
    log.info(
        "%s: %d source rows -> %d snapshot files, %d rows (%d of the wrong width)",
        sm.wildcards.dataset,
        accounting.drop_duplicates("source_file")["source_rows"].sum(),
        len(accounting),
        accounting["rows"].sum(),
        accounting["rows_odd_width"].sum(),
    )
