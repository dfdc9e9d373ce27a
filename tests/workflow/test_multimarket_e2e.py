"""End to end: the simulator's raw snapshots, imported as a multi-market tabular dataset.

The simulated dataset `sim2017` and a tabular dataset `simtab` that reads the
simulator's own snapshot files through a column mapping (each row's market
from the file's path) run side by side through the same workflow. Cleaning,
panels and models are deterministic functions of the snapshot rows, so the
two must give the same panels and the same estimates; what may differ is named
in GROUND_TRUTH_KEYS. A file of a market the config does not know is added
to the tabular source: its rows must be quarantined as `unknown_market`,
counted, and change nothing else.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import pandas as pd
import pytest
import yaml
from conftest import make_project, run_snakemake, tiny_config

from dnmarkets.clean.privacy import KEY_ENV, SIMULATED_DATA_KEY
from dnmarkets.core.events import planted_closures
from dnmarkets.sources.canonical import LISTING_COLUMNS, VENDOR_COLUMNS

pytestmark = pytest.mark.e2e

SIM, TAB = "sim2017", "simtab"
UNKNOWN_MARKET = "silkroad9"  # a market the config does not know
# Numbers of the model JSON that legitimately differ: the checks against the
# planted ground truth, which only the simulated dataset has (its rules read
# data/raw/sim2017/ground_truth*.json): the `checks` tables and counts, the
# true changes (`*_true.<event>`), and the identity matching's precision and
# recall against the true identities (None in the tabular dataset).
GROUND_TRUTH_KEYS = {
    "checks",
    "checks_0d",
    "checks_covered",
    "checks_covered_0d",
    "planted_checks_covered",
    "matching",
    "matching_precision",
    "matching_recall",
    # the realised decisions and the planted probability (per event)
    "realised_decision_share",
    "realised_decisions",
    "realised_displacements",
    "planted_probability",
    "planted_probability_z",
}


def ground_truth(path: tuple) -> bool:
    """A number of a model JSON (by path) that compares with the planted truth."""
    key = path[1]
    return (
        key.split(".")[0] in GROUND_TRUTH_KEYS
        or "_true." in key
        or (key == "matching_sensitivity" and path[-1] in {"precision", "recall"})
    )


def _table(name: str, columns: list[str]) -> dict:
    return {
        "files": f"sim2017/snapshots/*/*_{name}.csv.gz",
        "market": {"path": r"snapshots/([a-z0-9]+)/"},
        "crawl_date": {"filename": rf"^(\d{{4}}-\d{{2}}-\d{{2}})_{name}"},
        "columns": {c: c for c in columns},
    }


def tabular_twin(config: dict) -> dict:
    """The config with `simtab`: the simulator's snapshot files as a tabular dataset."""
    sim = config["datasets"][SIM]
    config["datasets"] = {
        SIM: sim,
        TAB: {
            "kind": "tabular",
            "label": "Simulated snapshots imported as a tabular dataset",
            "real": False,
            "source": "simraw",
            "partition_months": sim["partition_months"],
            "markets": [
                {"slug": m["slug"], "name": m["name"], "opened": m["opened"]}
                for m in sim["simulation"]["markets"]
            ],
            "rates": "sim2017/rates.csv",
            "listings": _table("listings", LISTING_COLUMNS),
            "vendors": _table("vendors", VENDOR_COLUMNS),
        },
    }
    # the tabular twin has the simulated (fictitious) markets: the event closes those there
    closed = planted_closures(sim)["bayonet"]
    config["events"] = {
        "bayonet": {**config["events"]["bayonet"], "markets_closed": closed, "datasets": [SIM, TAB]}
    }
    config["analysis"]["migration"].pop("external", None)
    return config


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_sources(project) -> str:
    """data/sources.tsv listing the simulator's files (and a copy of one as an unknown
    market's) as source `simraw`, in a mirror that is the project's own data/raw.
    Returns the unknown market's file."""
    raw = project / "data/raw"
    manifest = pd.read_csv(raw / "sim2017/manifest.tsv", sep="\t")
    paths = [f"sim2017/{p}" for p in manifest["path"]]
    copied = next(p for p in paths if p.endswith("_listings.csv.gz"))
    unknown = f"sim2017/snapshots/{UNKNOWN_MARKET}/{copied.rsplit('/', 1)[1]}"
    (raw / unknown).parent.mkdir(parents=True)
    shutil.copy(raw / copied, raw / unknown)
    paths += ["sim2017/rates.csv", unknown]
    lines = ["source\tpath\tsha256\tsha256_original\turl"]
    lines += [f"simraw\t{p}\t{_sha256(raw / p)}\t\t" for p in paths]
    (project / "data/sources.tsv").write_text("\n".join(lines) + "\n")
    return unknown


def _numbers(node, path=()):
    """Every number (and None, and bool) of a JSON document, by its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _numbers(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _numbers(value, (*path, i))
    elif isinstance(node, (int, float)) or node is None:
        yield path, node


def _json(project, dataset: str, name: str) -> dict:
    return json.loads((project / f"results/models/{dataset}/{name}.json").read_text())


@pytest.fixture(scope="module")
def twin_run(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("twin") / "project", tiny_config())
    proc = run_snakemake(project, "data/raw/sim2017/manifest.tsv")
    assert proc.returncode == 0, proc.stderr[-4000:]
    (project / "unknown_file.txt").write_text(write_sources(project))
    config = tabular_twin(yaml.safe_load((project / "config.yaml").read_text()))
    (project / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    targets = [
        f"results/{stage}/{ds}/{name}"
        for ds in (SIM, TAB)
        for stage, name in (
            ("panels", "market_day.parquet"),
            ("panels", "vendor_market.parquet"),
            ("clean", "accounting.parquet"),
            ("clean", "quarantine.parquet"),
            ("models", "resilience.json"),
            ("models", "migration.json"),
        )
    ]
    mirror = f"mirror={project / 'data/raw'}"
    # one key for both datasets: the same aliases must give the same pseudonyms
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, SIMULATED_DATA_KEY)
        proc = run_snakemake(project, *targets, "--config", mirror)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return project


@pytest.mark.parametrize("panel", ["market_day", "vendor_market"])
def test_panels_are_the_same(twin_run, panel):
    sim = pd.read_parquet(twin_run / f"results/panels/{SIM}/{panel}.parquet")
    tab = pd.read_parquet(twin_run / f"results/panels/{TAB}/{panel}.parquet")
    assert len(sim) > 100 and sim["market"].nunique() >= 6
    # the `dataset` column names each table's dataset; every other cell must agree
    assert set(sim["dataset"]) == {SIM} and set(tab["dataset"]) == {TAB}
    pd.testing.assert_frame_equal(sim.drop(columns="dataset"), tab.drop(columns="dataset"))


@pytest.mark.parametrize("model", ["resilience", "migration"])
def test_model_numbers_are_the_same(twin_run, model):
    sim = dict(_numbers(_json(twin_run, SIM, model)))
    tab = dict(_numbers(_json(twin_run, TAB, model)))
    truth = {path for path in sim if ground_truth(path)}
    assert len(truth) > 10  # the simulated dataset is checked against its truth...
    assert set(tab) <= set(sim) and set(sim) - set(tab) <= truth
    assert all(tab[path] is None for path in truth & set(tab))  # ...the tabular one is not
    compared = set(sim) - truth
    assert len(compared) > 150
    different = {path: (sim[path], tab[path]) for path in compared if sim[path] != tab[path]}
    assert not different, sorted(different.items())[:5]


def test_bayonet_estimates_exist_in_both(twin_run):
    for ds in (SIM, TAB):
        summary = _json(twin_run, ds, "resilience")["summary"]
        assert any(k.endswith(".bayonet") and "change_pct_0d" in k for k in summary), ds
        assert any(k.endswith(".bayonet") for k in _json(twin_run, ds, "migration")["summary"])


def test_rows_of_an_unknown_market_are_quarantined_and_counted(twin_run):
    quarantine = pd.read_parquet(twin_run / f"results/clean/{TAB}/quarantine.parquet")
    unknown = quarantine[quarantine["reason"] == "unknown_market"]
    unknown_file = (twin_run / "unknown_file.txt").read_text()
    source_rows = pd.read_csv(twin_run / "data/raw" / unknown_file)
    assert len(unknown) == len(source_rows) > 0
    assert set(unknown["field"]) == {"market"} and set(unknown["market"]) == {"unmatched"}
    assert all(json.loads(raw)["market"] == UNKNOWN_MARKET for raw in unknown["raw"])
    sim_acc = pd.read_parquet(twin_run / f"results/clean/{SIM}/accounting.parquet")
    tab_acc = pd.read_parquet(twin_run / f"results/clean/{TAB}/accounting.parquet")
    assert (tab_acc["raw_rows"] == tab_acc["clean_rows"] + tab_acc["quarantined_rows"]).all()
    # every other row is where the simulated dataset has it: clean or quarantined alike
    assert tab_acc["raw_rows"].sum() == sim_acc["raw_rows"].sum() + len(source_rows)
    assert tab_acc["clean_rows"].sum() == sim_acc["clean_rows"].sum()
    sim_q = pd.read_parquet(twin_run / f"results/clean/{SIM}/quarantine.parquet")
    assert (
        quarantine["reason"].value_counts().drop("unknown_market").sort_index().tolist()
        == sim_q["reason"].value_counts().sort_index().tolist()
    )
