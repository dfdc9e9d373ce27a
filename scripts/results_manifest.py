"""Rule `manifest`: sha256 of every input and result file, code version, lock hash, config."""

from pathlib import Path

from dnmarkets.core.io import read_json, write_json
from dnmarkets.core.results_manifest import build_manifest
from dnmarkets.core.runlog import job_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_logging(sm.log[0]) as log:
    results = Path(sm.output.manifest).parent
    manifest = build_manifest(results, read_json(sm.input.provenance), list(sm.params.raw_dirs))
    write_json(manifest, sm.output.manifest)
    log.info(
        "manifest: %d result files, %d inputs", len(manifest["results"]), len(manifest["inputs"])
    )
