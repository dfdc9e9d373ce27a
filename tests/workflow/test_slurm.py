"""Cluster execution: the workflow on a real (single-node) SLURM cluster gives the local tables.

The module fixture starts SLURM with tools/ci/start_slurm.sh (installing slurm-wlm and
munge with apt-get where missing) and stops exactly its daemons afterwards. Under CI
(DNM_CI=1) a cluster that cannot start fails the test; elsewhere it is skipped with the
reason.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT, make_project, run_snakemake, tiny_config

pytestmark = pytest.mark.e2e

START = ROOT / "tools/ci/start_slurm.sh"
STOP = ROOT / "tools/ci/stop_slurm.sh"
IN_CI = os.environ.get("DNM_CI") == "1"


@pytest.fixture(scope="module")
def slurm_cluster():
    # a short folder: the munge socket path must stay under the 108-byte socket limit
    folder = Path(tempfile.mkdtemp(prefix="dnm-slurm-"))
    proc = subprocess.run(
        ["bash", str(START), str(folder)], capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        subprocess.run(["bash", str(STOP), str(folder)], capture_output=True, timeout=120)
        reason = f"SLURM could not start: {proc.stderr[-2000:]}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    previous = {name: os.environ.get(name) for name in ("SLURM_CONF", "PATH")}
    # what `source DIR/env` does: this cluster's configuration and its client wrappers
    os.environ["SLURM_CONF"] = str(folder / "slurm.conf")
    os.environ["PATH"] = str(folder / "bin") + os.pathsep + os.environ.get("PATH", "")
    try:
        yield folder
    finally:
        subprocess.run(["bash", str(STOP), str(folder)], capture_output=True, timeout=120)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(folder, ignore_errors=True)


def table_hashes(project: Path) -> dict[str, str]:
    """sha256 of every result table (Parquet, CSV, JSON, TSV), provenance and timings aside."""
    out = {}
    for path in sorted((project / "results").rglob("*")):
        parts = set(path.relative_to(project).parts)
        if path.suffix not in {".parquet", ".csv", ".json", ".tsv"}:
            continue
        if {"_build", "benchmarks", "provenance"} & parts:
            continue
        if path.name == "manifest.json":  # holds the provenance record's hash
            continue
        out[str(path.relative_to(project))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_slurm_run_gives_the_local_result_tables(slurm_cluster, tiny_run, tmp_path):
    project = make_project(tmp_path / "slurm", tiny_config())
    proc = run_snakemake(project, "--workflow-profile", "profiles/slurm", timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    # the jobs went through SLURM, not the local executor
    assert "SLURM run ID" in log, log[-3000:]
    submitted = re.findall(r"submitted with SLURM jobid \d+", log)
    assert len(submitted) >= 15, log[-3000:]
    assert (project / "results/report/report.html").is_file()
    local, cluster = table_hashes(tiny_run), table_hashes(project)
    assert local, "no result tables in the local run"
    assert local.keys() == cluster.keys(), sorted(set(local) ^ set(cluster))
    differing = [k for k in local if local[k] != cluster[k]]
    assert not differing, differing
