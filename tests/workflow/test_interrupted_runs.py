"""Interrupted, repeated and offline runs, and the results manifest.

One uninterrupted run of the tiny configuration, made with networking disabled
(`unshare -n`), is the reference: it shows that a run needs no network, and
the manifest checks run on it. A second project is killed with SIGKILL twice,
in the cleaning stage and in a notebook, then run to the end; its result
tables must be byte-identical to the reference's.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    ROOT,
    SNAKEMAKE,
    make_project,
    result_hashes,
    run_snakemake,
    snakemake_env,
    tiny_config,
)

from dnmarkets.core.io import read_json

pytestmark = pytest.mark.e2e

# a new, empty network namespace (not even loopback is up); without root, inside
# a user namespace of its own (where unprivileged user namespaces are allowed)
NO_NETWORK = ("unshare", "--net") if os.geteuid() == 0 else ("unshare", "--map-root-user", "--net")


def require_unshare() -> None:
    """The offline test fails, never skips, where networking cannot be switched off."""
    if shutil.which("unshare") is None:
        pytest.fail("`unshare` (util-linux) is needed to run the workflow without network")
    probe = subprocess.run([*NO_NETWORK, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(
            f"cannot disable networking with `{' '.join(NO_NETWORK)}` (util-linux; needs root "
            f"or unprivileged user namespaces): {probe.stderr.strip()}"
        )


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory) -> Path:
    require_unshare()
    project = make_project(tmp_path_factory.mktemp("offline") / "project", tiny_config())
    proc = run_snakemake(project, prefix=NO_NETWORK)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return project


def verify(results: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dnmarkets.core.results_manifest", str(results), *args],
        cwd=results.parent,
        env=snakemake_env(results.parent),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_network_is_really_off_under_unshare():
    require_unshare()
    probe = "import socket; socket.create_connection(('1.1.1.1', 443), timeout=5)"
    proc = subprocess.run([*NO_NETWORK, sys.executable, "-c", probe], capture_output=True)
    assert proc.returncode != 0, "a connection succeeded inside unshare --net"


def test_pipeline_runs_without_network(offline_run):
    assert (offline_run / "results/report/report.pdf").stat().st_size > 10_000
    assert (offline_run / "results/manifest.json").is_file()


def test_verify_passes_on_a_fresh_run(offline_run):
    proc = verify(offline_run / "results", "--inputs", str(offline_run))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OK: ")


def test_run_sh_verify_is_the_documented_command(offline_run):
    proc = subprocess.run(
        [str(ROOT / "run.sh"), "verify", str(offline_run / "results")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("OK: ")


def copy_results(project: Path, dest: Path) -> Path:
    """A reviewer's copy of the results folder (the manifest travels inside it)."""
    return Path(shutil.copytree(project / "results", dest / "results"))


def test_verify_names_a_table_changed_by_one_byte(offline_run, tmp_path):
    results = copy_results(offline_run, tmp_path)
    table = results / "clean/sim2017/listings.parquet"
    data = bytearray(table.read_bytes())
    data[len(data) // 2] ^= 0x01
    table.write_bytes(bytes(data))
    proc = verify(results)
    assert proc.returncode == 1
    assert f"changed: {table}" in proc.stderr.splitlines(), proc.stderr
    assert "FAILED: 1 file(s)" in proc.stderr


def test_verify_names_missing_and_extra_files(offline_run, tmp_path):
    results = copy_results(offline_run, tmp_path)
    (results / "models/sim2017/landscape.json").unlink()
    (results / "models/sim2017/notes.json").write_text("{}\n")
    proc = verify(results)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert f"missing: {results / 'models/sim2017/landscape.json'}" in lines, proc.stderr
    assert f"extra (not in the manifest): {results / 'models/sim2017/notes.json'}" in lines


def test_verify_fails_without_a_manifest(offline_run, tmp_path):
    results = copy_results(offline_run, tmp_path)
    (results / "manifest.json").unlink()
    proc = verify(results)
    assert proc.returncode == 1 and "missing:" in proc.stderr


def start_run(project: Path, pause: dict[str, int], log: Path) -> subprocess.Popen:
    """Start the workflow in its own process group, with jobs held by DNM_TEST_PAUSE_*."""
    env = snakemake_env(project) | {f"DNM_TEST_PAUSE_{r.upper()}": str(s) for r, s in pause.items()}
    with open(log, "w") as out:
        return subprocess.Popen(
            SNAKEMAKE,
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def paused(job_logs: str, project: Path):
    """True once a job whose log matches `job_logs` is held by its test pause."""
    return lambda: any("test pause" in log.read_text() for log in project.glob(job_logs))


def kill_when(proc: subprocess.Popen, log: Path, ready, timeout: float = 600) -> None:
    """Wait until `ready()` is true (a job is held mid-way), then SIGKILL the whole group."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            output = log.read_text()[-4000:]
            pytest.fail(f"run ended (rc {proc.returncode}) before the kill:\n{output}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"no job reached the kill point in {timeout} s")
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def test_killed_runs_resume_to_identical_result_tables(offline_run, tmp_path):
    project = make_project(tmp_path / "killed", tiny_config())
    parts = project / "private/clean/sim2017/parts"

    # 1. kill in the cleaning stage: held after writing listings, before the other three tables
    run = start_run(project, {"clean_partition": 600}, tmp_path / "run1.log")
    kill_when(run, tmp_path / "run1.log", paused("logs/clean/sim2017/*.log", project))
    held = [p.parent for p in parts.glob("*/listings.parquet")]
    assert held and not any((p / "vendors.parquet").exists() for p in held)
    assert any((project / ".snakemake/locks").glob("*.lock")), "expected a stale lock"

    # 2. the next run gets past the stale lock and the half-done jobs; kill it in a
    # notebook: figures written, the executed notebook still under its temporary name
    notebooks = project / "results/notebooks/sim2017"
    run = start_run(project, {"landscape_notebook": 600}, tmp_path / "run2.log")
    kill_when(run, tmp_path / "run2.log", paused("logs/notebooks/sim2017/landscape.log", project))
    assert any(notebooks.glob(".landscape.ipynb.*.tmp.ipynb"))
    assert "stale lock" in (tmp_path / "run2.log").read_text()
    assert any((notebooks / "landscape").glob("*.png"))
    assert not (notebooks / "landscape.ipynb").exists()

    # 3. an uninterrupted run finishes the work
    proc = run_snakemake(project)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    leftovers = [p for p in (project / "results").rglob(".*") if p.name != ".snakemake_timestamp"]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    # every file, not only the tables: figures, executed notebooks, the HTML and PDF
    # report (both runs have the session's SOURCE_DATE_EPOCH: conftest.snakemake_env);
    # the manifests first, so that a failure names the files or fields that differ
    expected, got = (read_json(p / "results/manifest.json") for p in (offline_run, project))
    assert got.keys() == expected.keys()
    assert [k for k in expected if k != "results" and expected[k] != got[k]] == []
    expected, got = expected["results"], got["results"]
    assert got.keys() == expected.keys()
    assert [k for k in expected if expected[k] != got[k]] == []
    expected, got = result_hashes(offline_run), result_hashes(project)
    assert got.keys() == expected.keys()
    assert [k for k in expected if expected[k] != got[k]] == []
    assert verify(project / "results", "--inputs", str(project)).returncode == 0
