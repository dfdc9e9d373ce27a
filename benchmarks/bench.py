"""Benchmark the pipeline: wall time and peak memory per stage, at several scales.

Not a test: it prints figures and saves them (CSV and Markdown) under
benchmarks/output/. Each scale runs in a fresh copy of the project so that
nothing is cached; Snakemake's `benchmark:` files give per-job time and memory.

    uv run python benchmarks/bench.py                 # scales 1 and 10
    uv run python benchmarks/bench.py --scales 1 10 100
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import make_project  # noqa: E402

STAGES = {
    "simulate": "simulate",
    "clean": "clean_partition",
    "merge_clean": "merge_clean",
    "panels": "panels",
    "models": "landscape_model",
    "notebooks": "notebooks",
    "summary": "summary",
    "rulegraph": "rulegraph",
    "provenance": "provenance",
    "report": "report",
}


def snakemake(project: Path, cores: int) -> float:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", str(cores), "--quiet", "all"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start


def stage_table(project: Path) -> pd.DataFrame:
    rows = []
    for tsv in sorted((project / "results/benchmarks").rglob("*.tsv")):
        stage = tsv.relative_to(project / "results/benchmarks").parts[0].removesuffix(".tsv")
        bench = pd.read_csv(tsv, sep="\t")
        rows.append(
            {
                "stage": stage,
                "jobs": 1,
                "seconds": bench["s"].iloc[0],
                "max_rss_mb": bench["max_rss"].iloc[0],
            }
        )
    frame = pd.DataFrame(rows)
    return (
        frame.groupby("stage", sort=False)
        .agg(
            jobs=("jobs", "sum"), job_seconds=("seconds", "sum"), peak_rss_mb=("max_rss_mb", "max")
        )
        .reset_index()
    )


def run_scale(scale: float, cores: int, workdir: Path) -> tuple[pd.DataFrame, dict]:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["datasets"]["sim2017"]["simulation"]["scale"] = scale
    project = make_project(workdir / f"scale{scale:g}", cfg)
    cold = snakemake(project, cores)
    noop = snakemake(project, cores)
    stages = stage_table(project).assign(scale=scale)
    acc = pd.read_parquet(project / "results/clean/sim2017/accounting.parquet")
    raw_rows = int(acc["raw_rows"].sum())
    clean_seconds = stages.loc[stages["stage"] == "clean", "job_seconds"].sum()
    totals = {
        "scale": scale,
        "raw_rows": raw_rows,
        "cold_run_s": round(cold, 1),
        "noop_rerun_s": round(noop, 2),
        "clean_rows_per_job_second": round(raw_rows / clean_seconds) if clean_seconds else None,
        "peak_job_rss_mb": round(stages["peak_rss_mb"].max()),
    }
    return stages, totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = parser.parse_args()
    out = ROOT / "benchmarks/output"
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="dnm-bench-"))
    all_stages, all_totals = [], []
    try:
        for scale in args.scales:
            stages, totals = run_scale(scale, args.cores, workdir)
            all_stages.append(stages)
            all_totals.append(totals)
            print(f"scale {scale:g}: {totals}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    stages = pd.concat(all_stages, ignore_index=True)
    totals = pd.DataFrame(all_totals)
    stages.to_csv(out / "stages.csv", index=False)
    totals.to_csv(out / "totals.csv", index=False)
    machine = (
        f"{platform.node()} ({os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()})"
    )
    text = (
        f"Machine: {machine}; {args.cores} cores used.\n\n"
        + totals.to_markdown(index=False)
        + "\n\n"
        + stages.round(2).to_markdown(index=False)
        + "\n"
    )
    (out / "latest.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
