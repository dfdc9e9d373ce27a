"""Rule `registry`: the market registry (opening, closing, closure reason), typed."""

from pathlib import Path

from dnmarkets.core.io import write_parquet
from dnmarkets.core.runlog import job_logging
from dnmarkets.sources.reference import read_registry

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    files = Path(sm.input.fetched).parent / "files"
    registry = read_registry(files / "reference" / "dnm_survival_2019.csv")
    write_parquet(registry, sm.output.registry)
    log.info("registry: %d markets, %d flagged", len(registry), (registry["problem"] != "").sum())
