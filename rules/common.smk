# Helpers shared by the rules: dataset lookups, partitions, input lists.
# Only this file holds Python helpers; the other .smk files hold rules.

import json
import os
import sys
from pathlib import Path

from dnmarkets.core.codedeps import package_dependencies
from dnmarkets.core.configcheck import check_config
from dnmarkets.core.events import dataset_events
from dnmarkets.sources.fetch import read_sources
from dnmarkets.sources.partitions import (
    simulated_partitions,
    tabular_markets,
    tabular_partitions,
)
from dnmarkets.core.runlock import clear_stale_locks

SOURCES = read_sources("data/sources.tsv")
# names that point nowhere (an event's dataset, a takedown's market, a source's
# files) fail here, when the workflow is parsed, before any job runs
for warning in check_config(config, SOURCES):
    print(f"config.yaml: {warning}", file=sys.stderr)
REAL_DATA = bool(config["mirror"]) or config["download"]
# Real datasets are analysed only when the real data can be obtained (mirror or download).
DATASETS = {
    name: spec
    for name, spec in config["datasets"].items()
    if spec["kind"] == "simulated" or REAL_DATA
}
# Daily series datasets (market x day x measure) have their own rules (rules/series.smk):
# no snapshots, panels or crawl models
SERIES_DATASETS = {n: s for n, s in DATASETS.items() if s["kind"] == "series"}
# Vendor rosters (seller profiles, no listings) feed only the roster overlap
ROSTER_DATASETS = {n: s for n, s in DATASETS.items() if s["kind"] == "roster"}
DATASETS = {n: s for n, s in DATASETS.items() if s["kind"] not in ("series", "roster")}
EVENTS = {
    name: ev
    for name, ev in config["events"].items()
    if any(d in DATASETS for d in ev["datasets"])
}
SERIES_NAMES = sorted(SERIES_DATASETS)
DATASET_NAMES = sorted(DATASETS)
REPORT_SOURCES = sorted(str(p) for p in Path("report").rglob("*") if p.is_file())


wildcard_constraints:
    dataset="|".join(DATASET_NAMES),
    partition=r"[a-z0-9]+__\d{4}-\d{2}",
    source="|".join(sorted({f.source for f in SOURCES})),
    event="|".join(sorted(EVENTS)) or "no-event",
    roster="|".join(sorted(ROSTER_DATASETS)) or "no-roster",


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
    if spec["kind"] == "tabular":
        paths = [f.path for f in SOURCES if f.source == spec["source"]]
        return tabular_partitions(spec, paths, spec["partition_months"])
    raise ValueError(f"dataset {dataset}: unknown kind {spec['kind']!r}")


def clean_parts(dataset, table):
    """A table's cleaning parts: the partitions', and in a multi-market dataset the
    quarantined rows of markets the config does not know (rule quarantine_unmatched)."""
    unmatched = ["unmatched"] if "markets" in DATASETS[dataset] else []
    return expand(
        "private/clean/{dataset}/parts/{partition}/{table}.parquet",
        dataset=dataset,
        partition=partitions(dataset) + unmatched,
        table=table,
    )


def multi_market_datasets():
    return [name for name in DATASET_NAMES if "markets" in DATASETS[name]]


def pseudonym_key_id(dataset):
    """A public fingerprint of the pseudonym key (never the key): a new key reruns the
    rules that use it, and provenance shows which key made the tables."""
    from dnmarkets.clean.privacy import key_id, load_key

    key_file = config["privacy"]["key_file"]
    return key_id(load_key(dataset, DATASETS[dataset]["kind"], key_file))


def simulated_datasets():
    return [name for name in DATASET_NAMES if DATASETS[name]["kind"] == "simulated"]


def tabular_datasets():
    return [name for name in DATASET_NAMES if DATASETS[name]["kind"] == "tabular"]


def crawl_checked_datasets():
    return [name for name in DATASET_NAMES if "crawl_check" in DATASETS[name]]


def rates_for(dataset):
    """Exchange rates for cleaning: simulated ones, the dataset's own (`rates`), or the
    real reference series."""
    if DATASETS[dataset]["kind"] == "simulated" or "rates" in DATASETS[dataset]:
        return f"data/raw/{dataset}/rates.csv"
    return "data/raw/reference/rates.csv"


def own_rates_datasets():
    """Tabular datasets with their own exchange-rate file (`rates`)."""
    return [name for name in tabular_datasets() if "rates" in DATASETS[name]]


def source_of(dataset):
    return f"data/raw/{DATASETS[dataset]['source']}/fetched.tsv"


def model_files():
    """Every model output that feeds the summary catalogue."""
    files = expand("results/models/{dataset}/landscape.json", dataset=DATASET_NAMES)
    files += expand(
        "results/models/{dataset}/validation.json", dataset=simulated_datasets()
    )
    files += expand(
        "results/models/{dataset}/crawls.json", dataset=crawl_checked_datasets()
    )
    files += expand(
        "results/models/{dataset}/coverage.json", dataset=simulated_datasets()
    )
    files += expand("results/models/{dataset}/resilience.json", dataset=DATASET_NAMES)
    files += expand("results/models/{dataset}/supply.json", dataset=DATASET_NAMES)
    if REAL_DATA:
        files.append("results/models/registry/survival.json")
    files += expand(
        "results/models/{dataset}/html_agreement.json",
        dataset=[d for d in DATASET_NAMES if "html_check" in DATASETS[d]],
    )
    files += expand(
        "results/models/{dataset}/migration.json", dataset=migration_datasets()
    )
    files += expand(
        "results/models/{dataset}/migration_external.json",
        dataset=migration_external_datasets(),
    )
    files += expand("results/models/{series}/resilience.json", series=SERIES_NAMES)
    return files


def notebook_assets():
    """Figure and table folders of every executed notebook the report shows."""
    dirs = expand("results/notebooks/{dataset}/landscape", dataset=DATASET_NAMES)
    dirs += expand(
        "results/notebooks/{dataset}/validation", dataset=simulated_datasets()
    )
    dirs += expand(
        "results/notebooks/{dataset}/crawls", dataset=crawl_checked_datasets()
    )
    dirs += expand("results/notebooks/{dataset}/coverage", dataset=simulated_datasets())
    dirs += expand("results/notebooks/{dataset}/supply", dataset=DATASET_NAMES)
    dirs += [
        f"results/notebooks/{dataset}/resilience_{event}"
        for dataset in DATASET_NAMES
        for event in json.loads(events_for(dataset))
    ]
    if REAL_DATA:
        dirs.append("results/notebooks/registry/timeline")
        dirs.append("results/notebooks/registry/survival")
    dirs += expand(
        "results/notebooks/{dataset}/migration", dataset=migration_datasets()
    )
    dirs += expand("results/notebooks/{series}/series", series=SERIES_NAMES)
    return dirs


def dataset_markets(dataset):
    """Market slugs of a dataset, known at DAG-build time."""
    spec = DATASETS[dataset]
    if spec["kind"] == "simulated":
        return [m["slug"] for m in spec["simulation"]["markets"]]
    return [m["slug"] for m in tabular_markets(spec)]


def market_names(dataset):
    """Display names of a dataset's markets by slug."""
    spec = DATASETS[dataset]
    if spec["kind"] == "simulated":
        return {m["slug"]: m["name"] for m in spec["simulation"]["markets"]}
    return {m["slug"]: m["name"] for m in tabular_markets(spec)}


def migration_events(dataset):
    """Events of a dataset with a closed market in the data (migration is measured there)."""
    markets = set(dataset_markets(dataset))
    return {
        name: ev
        for name, ev in dataset_events(EVENTS, dataset, DATASETS[dataset]).items()
        if markets & set(ev["markets_closed"])
    }


def migration_datasets():
    return [name for name in DATASET_NAMES if migration_events(name)]


def migration_external_datasets():
    """Real datasets with other markets' vendor lists configured (name matching),
    whose rosters (if any) are all in this run."""
    external = config["analysis"]["migration"].get("external", {})
    return [
        name
        for name in DATASET_NAMES
        if name in external
        and all(
            d in DATASETS or d in ROSTER_DATASETS for d in roster_inputs(name).values()
        )
    ]


def roster_inputs(dataset):
    """Datasets of a roster overlap by role (`earlier`, `closed_<market>`); empty otherwise."""
    spec = config["analysis"]["migration"].get("external", {}).get(dataset, {})
    rosters = spec.get("rosters")
    if not rosters:
        return {}
    roles = {"destination": dataset, "earlier": rosters["earlier"]}
    roles.update({f"closed_{m}": d for m, d in rosters["closed"].items()})
    return roles


def roster_input_files(dataset):
    """The private clean tables a roster overlap reads (names never leave private/)."""
    return {
        role: (
            f"private/clean/{name}/roster.parquet"
            if name in ROSTER_DATASETS
            else f"private/clean/{name}/listings.parquet"
        )
        for role, name in roster_inputs(dataset).items()
    }


def events_for(dataset):
    """Events analysed in a dataset, as a JSON string for notebook parameters."""
    return json.dumps(
        dataset_events(EVENTS, dataset, DATASETS[dataset]), sort_keys=True
    )


def series_events(series):
    """Events analysed in a series dataset (the configured ones, whatever else runs)."""
    return {
        name: ev
        for name, ev in sorted(config["events"].items())
        if series in ev["datasets"]
    }


def fetched_sources():
    return sorted({f.source for f in SOURCES}) if REAL_DATA else []


def raw_input_dirs():
    """Raw folders a run reads: the datasets', and the fetched sources' with real data."""
    return sorted({raw_dir(name) for name in DATASET_NAMES + fetched_sources()})


def raw_checksum_lists():
    """The checksum lists of the raw folders (the raw inputs' sha256, verified on use)."""
    return expand("data/raw/{dataset}/manifest.tsv", dataset=DATASET_NAMES) + expand(
        "data/raw/{source}/fetched.tsv", source=fetched_sources()
    )


def dataset_meta(dataset):
    spec = DATASETS[dataset]
    return {"label": spec["label"], "real": spec["real"]}


# A run killed with SIGKILL leaves Snakemake's lock files behind; the main
# process of a run removes them when no other run of this workflow is alive
# (dnmarkets.core.runlock), so the next run starts without --unlock. (Jobs on
# cluster nodes parse this file too: they leave the locks alone.)
if not (workflow.remote_exec or workflow.subprocess_exec):
    if stale := clear_stale_locks(".snakemake"):
        print(
            f"removed {len(stale)} stale lock file(s) of a killed run", file=sys.stderr
        )


# Rule scripts import the package from src/ also inside conda environments and
# on cluster nodes sharing the project folder, where it is not installed.
os.environ.update(PYTHONPATH=str(Path("src").resolve()))
