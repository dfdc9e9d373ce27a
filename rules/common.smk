# Helpers shared by the rules: dataset lookups, partitions, input lists.
# Only this file holds Python helpers; the other .smk files hold rules.

import json
import os
import sys
from pathlib import Path

from dnmarkets.codedeps import package_dependencies
from dnmarkets.partitions import simulated_partitions

DATASETS = config["datasets"]
EVENTS = config["events"]
DATASET_NAMES = sorted(DATASETS)
REPORT_SOURCES = sorted(str(p) for p in Path("report").rglob("*") if p.is_file())


wildcard_constraints:
    dataset="|".join(DATASET_NAMES),
    partition=r"[a-z0-9]+__\d{4}-\d{2}",


def package_code(*entries):
    """Package files that rule scripts/notebooks import, so a change reruns the rule."""
    return sorted(
        {f for e in entries for f in package_dependencies(e, "src/dnmarkets")}
    )


def raw_dir(dataset):
    return f"data/raw/{dataset}"


def partitions(dataset):
    """Partitions (market x block of months) of a dataset, known at DAG-build time."""
    spec = DATASETS[dataset]
    if spec["kind"] == "simulated":
        return simulated_partitions(spec["simulation"], spec["partition_months"])
    raise ValueError(f"dataset {dataset}: unknown kind {spec['kind']!r}")


def clean_parts(dataset, table):
    return expand(
        "results/clean/{dataset}/parts/{partition}/{table}.parquet",
        dataset=dataset,
        partition=partitions(dataset),
        table=table,
    )


def simulated_datasets():
    return [name for name in DATASET_NAMES if DATASETS[name]["kind"] == "simulated"]


def model_files():
    """Every model output that feeds the summary catalogue."""
    files = expand("results/models/{dataset}/landscape.json", dataset=DATASET_NAMES)
    files += expand(
        "results/models/{dataset}/validation.json", dataset=simulated_datasets()
    )
    return files


def notebook_assets():
    """Figure and table folders of every executed notebook the report shows."""
    dirs = expand("results/notebooks/{dataset}/landscape", dataset=DATASET_NAMES)
    dirs += expand(
        "results/notebooks/{dataset}/validation", dataset=simulated_datasets()
    )
    return dirs


def events_for(dataset):
    """Events analysed in a dataset, as a JSON string for notebook parameters."""
    return json.dumps(
        {name: ev for name, ev in sorted(EVENTS.items()) if dataset in ev["datasets"]},
        sort_keys=True,
    )


def dataset_meta(dataset):
    spec = DATASETS[dataset]
    return {"label": spec["label"], "real": spec["real"]}


# Rule scripts import the package from src/ also inside conda environments and
# on cluster nodes sharing the project folder, where it is not installed.
os.environ.update(PYTHONPATH=str(Path("src").resolve()))
