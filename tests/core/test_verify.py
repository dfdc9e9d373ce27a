"""The results manifest on hand-made folders (the workflow's own: test_interrupted_runs)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dnmarkets.core import results_manifest as verify
from dnmarkets.core.io import write_json

PROVENANCE = {"code_version": "abc123", "lock_sha256": "0" * 64, "config": {"seed": 1}}


def make_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # raw folders are named relative to the project, as in rules
    raw = Path("data/raw/demo")
    (raw / "snapshots").mkdir(parents=True)
    snap = raw / "snapshots/a.csv"
    snap.write_text("id\n1\n")
    sha = hashlib.sha256(snap.read_bytes()).hexdigest()
    (raw / "manifest.tsv").write_text(f"path\tsha256\trows\nsnapshots/a.csv\t{sha}\t1\n")
    results = Path("results")
    for rel in ["clean/demo/listings.parquet", "summary.json", "report/report.html"]:
        (results / rel).parent.mkdir(parents=True, exist_ok=True)
        (results / rel).write_text(rel)
    for rel in ["benchmarks/clean.tsv", "report/_build/x.md", "notebooks/.snakemake_timestamp"]:
        (results / rel).parent.mkdir(parents=True, exist_ok=True)
        (results / rel).write_text("not a result")
    manifest = verify.build_manifest(results, PROVENANCE, [raw])
    write_json(manifest, results / "manifest.json")
    return results, manifest


def test_manifest_lists_results_and_inputs_but_not_scratch(tmp_path, monkeypatch):
    results, manifest = make_project(tmp_path, monkeypatch)
    assert sorted(manifest["results"]) == [
        "clean/demo/listings.parquet",
        "report/report.html",
        "summary.json",
    ]
    assert sorted(manifest["inputs"]) == [
        "data/raw/demo/manifest.tsv",
        "data/raw/demo/snapshots/a.csv",
    ]
    assert manifest["code_version"] == "abc123" and manifest["config"] == {"seed": 1}
    assert verify.check(results, tmp_path) == []


def test_changed_input_and_result_are_named(tmp_path, monkeypatch, capsys):
    results, _ = make_project(tmp_path, monkeypatch)
    Path("data/raw/demo/snapshots/a.csv").write_text("id\n2\n")
    (results / "summary.json").write_text("{}")
    (results / "benchmarks/clean.tsv").write_text("timings change: not checked")
    assert verify.main([str(results)]) == 1
    assert f"changed: {results / 'summary.json'}" in capsys.readouterr().err
    assert verify.main([str(results), "--inputs", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"changed: {tmp_path / 'data/raw/demo/snapshots/a.csv'}" in err
