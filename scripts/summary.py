"""Rule `summary`: gather every model's headline numbers into results/summary.json."""

from pathlib import Path

from dnmarkets.core.io import read_json, write_json
from dnmarkets.core.runlog import job_logging
from dnmarkets.core.summary import build_summary

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    models = []
    for path in sm.input.models:
        path = Path(path)  # results/models/<dataset>/<analysis>.json
        models.append((path.parent.name, path.stem, read_json(path)))
    catalogue = build_summary(models)
    write_json(catalogue, sm.output.summary)
    log.info("%d catalogue entries", len(catalogue))
