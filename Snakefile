# Darknet drug-market report pipeline: raw snapshots -> clean tables -> panels
# -> models -> notebooks -> report. See docs/pipeline.md for the DAG and outputs.

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "schemas/config.schema.yaml")


include: "rules/common.smk"
include: "rules/simulate.smk"
include: "rules/real.smk"
include: "rules/clean.smk"
include: "rules/panels.smk"
include: "rules/models.smk"
include: "rules/migration.smk"
include: "rules/series.smk"
include: "rules/notebooks.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        "results/report/report.html",
        "results/report/report.pdf",
        "results/manifest.json",


# On a cluster, these bookkeeping rules (a few seconds each) run on the submitting
# node instead of waiting in the queue.
localrules:
    all,
    rulegraph,
    summary,
    provenance,
    manifest,
