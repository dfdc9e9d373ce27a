"""Benchmark the pipeline: per-rule wall time and peak memory at several scales, and more.

Not a test: it prints figures and saves them under benchmarks/output/:
bench.csv (one row per scale x rule, plus the run-level measures), bench.md (Markdown
tables) and bench.png (time and memory against scale). Each scale runs cold in a
fresh copy of the project; Snakemake's `benchmark:` files (every rule has one) give
each job's wall time (s), CPU time and peak resident memory (max_rss, sampled every few
seconds, so it can miss a short peak); the kernel's own peak of each job's process and
its largest child (ru_maxrss, written at exit by benchmarks/peak_rss/sitecustomize.py)
give the true peak (true_peak_mb; their sum, an upper bound for a job with a child).

Measured:
- per rule at each simulated scale: jobs, summed and largest job seconds, peak memory;
- the cold run, the no-op rerun and the report render (the report rule's time);
- the fitted exponent b of time ~ scale^b (cold run and each rule), by least squares
  on log time against log scale;
- cleaning throughput on the real Agora rows (the `../shared/data` mirror, or
  DNM_MIRROR) next to a bare pyarrow read of the same raw files, in the same process.

    .venv/bin/python benchmarks/bench.py                    # scales 1 3 10, Agora
    .venv/bin/python benchmarks/bench.py --scales 1 10 100 --partition-months 100=1
    .venv/bin/python benchmarks/bench.py --no-agora --scales 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))
from conftest import MIRROR, make_project  # noqa: E402
from machine import describe  # noqa: E402

# benchmark file (relative to results/benchmarks, without .tsv) -> rule
MODEL_RULES = {
    "validation": "validate_simulation",
    "coverage": "coverage_study",
    "crawls": "crawl_check",
    "html_agreement": "html_agreement",
}
NOTEBOOK_RULES = {"timeline": "registry_notebook"}
TOP_RULES = {
    "clean": "clean_partition",
    "merge_clean": "merge_clean",
    "panels": "panels",
    "simulate": "simulate",
    "import": "import_tabular",
    "fetch": "fetch",
    "summary": "summary",
    "rulegraph": "rulegraph",
    "provenance": "provenance",
    "report": "report",
}
REFERENCE_RULES = {"rates": "reference_rates", "registry": "registry"}


def rule_of(rel: Path) -> str:
    """The rule that wrote a benchmark file (path relative to results/benchmarks)."""
    parts = rel.with_suffix("").parts
    if parts[0] == "models":
        name = parts[-1]
        return MODEL_RULES.get(name, f"{name}_model")
    if parts[0] == "notebooks":
        name = parts[-1]
        if name.startswith("resilience_"):
            return "resilience_notebook"
        return NOTEBOOK_RULES.get(name, f"{name}_notebook")
    if parts[0] == "reference":
        return REFERENCE_RULES[parts[-1]]
    return TOP_RULES.get(parts[0], parts[0])


PEAK_HOOK = ROOT / "benchmarks/peak_rss"


def snakemake(project: Path, cores: int, *args: str) -> float:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    # every job's true peak memory, written at its exit: the hook goes into the bench
    # project's own src/, which the workflow puts on every job's PYTHONPATH
    peaks = project / ".peak_rss"
    peaks.mkdir(exist_ok=True)
    shutil.copy2(PEAK_HOOK / "sitecustomize.py", project / "src/sitecustomize.py")
    env.update(DNM_PEAK_RSS_DIR=str(peaks))
    start = time.perf_counter()
    proc = subprocess.run(
        # targets first: --quiet takes any number of values
        [sys.executable, "-m", "snakemake", *args, "--cores", str(cores), "--quiet", "all"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(
            f"snakemake failed in {project}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        )
    return seconds


def job_table(project: Path) -> pd.DataFrame:
    """One row per job: rule, benchmark file, seconds, peak memory (MB)."""
    rows = []
    base = project / "results/benchmarks"
    for tsv in sorted(base.rglob("*.tsv")):
        bench = pd.read_csv(tsv, sep="\t")
        rel = tsv.relative_to(base)
        rows.append(
            {
                "rule": rule_of(rel),
                "file": str(rel),
                "seconds": float(bench["s"].iloc[-1]),
                "max_rss_mb": float(pd.to_numeric(bench["max_rss"], errors="coerce").iloc[-1]),
                "cpu_seconds": float(pd.to_numeric(bench["cpu_time"], errors="coerce").iloc[-1]),
            }
        )
    return pd.DataFrame(rows)


def true_peaks(project: Path) -> pd.Series:
    """The largest true peak (MB) of a job of each rule (ru_maxrss, benchmarks/peak_rss):
    its process's own peak plus its largest finished child's (a notebook's kernel runs
    next to its runner), so exact for a job without children and an upper bound with."""
    records = [json.loads(p.read_text()) for p in sorted((project / ".peak_rss").glob("*.json"))]
    if not records:
        return pd.Series(dtype="float64", name="true_peak_mb")
    frame = pd.DataFrame(records)
    frame["true_peak_mb"] = frame["self_mb"] + frame["children_mb"]
    return frame.groupby("rule")["true_peak_mb"].max()


def rule_table(jobs: pd.DataFrame, peaks: pd.Series | None = None) -> pd.DataFrame:
    table = (
        jobs.groupby("rule")
        .agg(
            jobs=("seconds", "size"),
            job_seconds=("seconds", "sum"),
            max_job_seconds=("seconds", "max"),
            peak_rss_mb=("max_rss_mb", "max"),
            cpu_seconds=("cpu_seconds", "sum"),
        )
        .reset_index()
        .sort_values("job_seconds", ascending=False)
    )
    if peaks is not None:
        table["true_peak_mb"] = table["rule"].map(peaks).round()
    return table


def run_scale(
    scale: float, cores: int, workdir: Path, partition_months: int | None = None
) -> tuple[pd.DataFrame, dict]:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    sim = cfg["datasets"]["sim2017"]
    sim["simulation"]["scale"] = scale
    if partition_months:  # shorter partitions: smaller cleaning jobs at large scales
        sim["partition_months"] = partition_months
    project = make_project(workdir / f"scale{scale:g}", cfg)
    cold = snakemake(project, cores, "all")
    noop = snakemake(project, cores, "all")
    jobs = job_table(project)
    peaks = true_peaks(project)
    rules = rule_table(jobs, peaks).assign(scale=scale)
    acc = pd.read_parquet(project / "results/clean/sim2017/accounting.parquet")
    raw_rows = int(acc["raw_rows"].sum())
    clean = jobs[jobs["rule"] == "clean_partition"]
    totals = {
        "scale": scale,
        "partition_months": int(sim["partition_months"]),
        "raw_rows": raw_rows,
        "jobs": len(jobs),
        "cold_run_s": round(cold, 1),
        "noop_rerun_s": round(noop, 2),
        "report_render_s": round(float(jobs.loc[jobs["rule"] == "report", "seconds"].sum()), 1),
        "job_seconds": round(float(jobs["seconds"].sum()), 1),
        "cpu_seconds": round(float(jobs["cpu_seconds"].sum()), 1),
        "clean_rows_per_job_second": round(raw_rows / clean["seconds"].sum()),
        "peak_job_rss_mb": round(float(jobs["max_rss_mb"].max())),
        "peak_rule": jobs.loc[jobs["max_rss_mb"].idxmax(), "rule"],
        "true_peak_job_mb": round(float(peaks.max())) if len(peaks) else None,
        "true_peak_rule": peaks.idxmax() if len(peaks) else None,
    }
    shutil.rmtree(project / "data/raw", ignore_errors=True)  # the big part; results kept
    return rules, totals


def timed(func):
    """(result, wall seconds, CPU seconds of the process) of func()."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def agora_cleaning(cores: int, workdir: Path) -> dict:
    """Cleaning of the real Agora crawls vs a bare pyarrow read of the same raw files."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from profile_clean import forget_cached_values

    from dnmarkets.clean.partition import clean_partition
    from dnmarkets.sources.partitions import block_months_of, parse_partition
    from dnmarkets.sources.raw_checksums import partition_files_from_manifest

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["mirror"] = str(MIRROR)
    project = make_project(workdir / "agora", cfg)
    # real aliases are published only under a pseudonym key: a throwaway one here
    from dnmarkets.clean.privacy import new_key

    (project / "secrets").mkdir(exist_ok=True)
    (project / "secrets/pseudonym.key").write_text(new_key())
    # the pipeline up to the clean tables (fetch from the mirror, import, clean, merge)
    pipeline_s = snakemake(project, cores, "results/clean/agora2014/accounting.parquet")
    jobs = job_table(project)
    clean_jobs = jobs[(jobs["rule"] == "clean_partition") & jobs["file"].str.contains("agora")]
    manifest = project / "data/raw/agora2014/manifest.tsv"
    parts = sorted(p.name for p in (project / "private/clean/agora2014/parts").iterdir())
    block = int(cfg["datasets"]["agora2014"]["partition_months"])
    rates = pd.read_csv(project / "data/raw/reference/rates.csv")
    files_by_part = {}
    for part in parts:
        market, month = parse_partition(part)
        files_by_part[part] = partition_files_from_manifest(
            manifest, market, block_months_of(month, block)
        )
    all_files = [f for files in files_by_part.values() for f in files]
    # warm the page cache once so that neither side pays the first disk read
    for f in all_files:
        f.read_bytes()

    def bare_read() -> int:
        return sum(pacsv.read_csv(f).num_rows for f in all_files)

    def clean() -> int:
        rows = 0
        for part, files in files_by_part.items():
            market, _ = parse_partition(part)
            forget_cached_values()  # as each partition's own job starts
            result = clean_partition(files, "agora2014", market, rates, cfg["cleaning"], project)
            rows += int(result.accounting["raw_rows"].sum())
        return rows

    # wall and CPU seconds (all threads of the process); the bare read before and
    # after the cleaning, the faster one counted, so that a burst of load on the
    # shared machine during one read does not flatter the ratio
    load = os.getloadavg()[0]
    default_pool = pa.default_memory_pool()
    bare_rows, bare_s, bare_cpu = timed(bare_read)
    raw_rows, clean_s, clean_cpu = timed(clean)
    # the cleaning chose its allocator (dnmarkets.core.memory): the second bare read is
    # on pyarrow's default again, as the first
    pa.set_memory_pool(default_pool)
    _, bare_again_s, bare_again_cpu = timed(bare_read)
    bare_s, bare_cpu = min(bare_s, bare_again_s), min(bare_cpu, bare_again_cpu)
    total_bytes = sum(f.stat().st_size for f in all_files)
    clean_true_peak = true_peaks(project).get("clean_partition", np.nan)
    shutil.rmtree(project, ignore_errors=True)
    return {
        "files": len(all_files),
        "gzip_mb": round(total_bytes / 1e6, 1),
        "raw_rows": raw_rows,
        "bare_rows": bare_rows,
        "bare_read_s": round(bare_s, 2),
        "clean_s": round(clean_s, 2),
        "clean_over_bare": round(clean_s / bare_s, 2),
        "bare_read_cpu_s": round(bare_cpu, 2),
        "clean_cpu_s": round(clean_cpu, 2),
        "clean_over_bare_cpu": round(clean_cpu / bare_cpu, 2),
        "load_average": round((load + os.getloadavg()[0]) / 2, 1),
        "bare_rows_per_s": round(bare_rows / bare_s),
        "clean_rows_per_s": round(raw_rows / clean_s),
        "clean_jobs": len(clean_jobs),
        "clean_job_seconds": round(float(clean_jobs["seconds"].sum()), 1),
        "clean_job_peak_rss_mb": round(float(clean_jobs["max_rss_mb"].max())),
        "clean_job_true_peak_mb": None if np.isnan(clean_true_peak) else round(clean_true_peak),
        "pipeline_to_clean_s": round(pipeline_s, 1),
    }


def exponents(rules: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    """b in time ~ scale^b (least squares on logs), for the cold run and each rule."""
    rows = []
    if totals["scale"].nunique() >= 2:
        b = np.polyfit(np.log(totals["scale"]), np.log(totals["cold_run_s"]), 1)[0]
        bj = np.polyfit(np.log(totals["scale"]), np.log(totals["job_seconds"]), 1)[0]
        rows.append({"what": "cold run (wall)", "exponent": round(b, 2)})
        bc = np.polyfit(np.log(totals["scale"]), np.log(totals["cpu_seconds"]), 1)[0]
        rows.append({"what": "all jobs (summed job seconds)", "exponent": round(bj, 2)})
        rows.append({"what": "all jobs (summed CPU seconds)", "exponent": round(bc, 2)})
        for rule, grp in rules.groupby("rule"):
            if grp["scale"].nunique() >= 2 and (grp["job_seconds"] > 0).all():
                b = np.polyfit(np.log(grp["scale"]), np.log(grp["job_seconds"]), 1)[0]
                m = np.polyfit(np.log(grp["scale"]), np.log(grp["peak_rss_mb"]), 1)[0]
                c = np.polyfit(np.log(grp["scale"]), np.log(grp["cpu_seconds"].clip(0.01)), 1)[0]
                rows.append(
                    {
                        "what": rule,
                        "exponent": round(b, 2),
                        "cpu_exponent": round(c, 2),
                        "memory_exponent": round(m, 2),
                    }
                )
    return pd.DataFrame(rows)


def plot(rules: pd.DataFrame, totals: pd.DataFrame, path: Path, machine: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = rules.groupby("rule")["job_seconds"].max().sort_values(ascending=False).index[:8]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for rule in top:
        grp = rules[rules["rule"] == rule].sort_values("scale")
        axes[0].plot(grp["scale"], grp["job_seconds"], marker="o", label=rule)
        # the true peak where measured (ru_maxrss), else Snakemake's sampled max_rss
        peak = grp["true_peak_mb"] if "true_peak_mb" in grp else grp["peak_rss_mb"]
        axes[1].plot(grp["scale"], peak.fillna(grp["peak_rss_mb"]), marker="o", label=rule)
    axes[0].plot(totals["scale"], totals["cold_run_s"], "k--", marker="s", label="cold run (wall)")
    axes[0].set(
        xscale="log", yscale="log", xlabel="simulated scale", ylabel="seconds (summed over jobs)"
    )
    axes[0].set_title("Time per rule")
    axes[1].axhline(3072, color="red", lw=1, ls=":", label="3 GiB target")
    axes[1].set(
        xscale="log", yscale="log", xlabel="simulated scale", ylabel="peak RSS of a job (MB)"
    )
    axes[1].set_title("Peak memory per rule")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.suptitle(f"dnmarkets benchmarks (simulated data), {machine}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(
    rules: pd.DataFrame, totals: pd.DataFrame, agora: dict | None, meta: dict, out: Path
) -> str:
    """bench.csv, bench.md and bench.png from the measures; returns the Markdown."""
    scales = sorted(totals["scale"].unique())
    fits = exponents(rules, totals)
    rows = [rules.assign(kind="rule"), totals.assign(kind="run", rule="(whole run)")]
    if agora:
        rows.append(pd.DataFrame([{**agora, "kind": "agora_cleaning", "rule": "clean_partition"}]))
    if len(fits):
        rows.append(fits.rename(columns={"what": "rule"}).assign(kind="exponent"))
    pd.concat(rows, ignore_index=True).to_csv(out / "bench.csv", index=False)

    wide = rules.pivot_table(
        index="rule",
        columns="scale",
        values=[
            v for v in ("job_seconds", "cpu_seconds", "peak_rss_mb", "true_peak_mb") if v in rules
        ],
        aggfunc="first",
    )
    unit = {
        "job_seconds": "s",
        "cpu_seconds": "cpu s",
        "peak_rss_mb": "MB",
        "true_peak_mb": "true MB",
    }
    wide.columns = [f"{unit[name]} @{scale:g}x" for name, scale in wide.columns]
    order = [
        f"{u} @{s:g}x"
        for u in ("s", "cpu s", "MB", "true MB")
        for s in scales
        if f"{u} @{s:g}x" in wide.columns
    ]
    wide = wide[order].sort_values(order[len(scales) - 1], ascending=False).round(1)
    jobs = rules.pivot_table(index="rule", columns="scale", values="jobs", aggfunc="first")
    wide.insert(0, "jobs", jobs[scales[-1]].fillna(0).astype(int))
    text = [
        f"Benchmarks of {meta['date']} on {meta['machine']}; {meta['cores']} cores used"
        f"{', scales run at the same time' if meta.get('parallel') else ''}.",
        f"Load average before/after: {meta['load_before']:.1f} / {meta['load_after']:.1f} "
        "(shared machine: timings are noisy).",
        *(
            [f"Failed (see the log): scales {', '.join(f'{s:g}' for s in meta['failed_scales'])}."]
            if meta.get("failed_scales")
            else []
        ),
        "",
        "Whole runs (simulated data, default configuration at each scale):",
        "",
        totals.drop(columns=["kind", "rule"], errors="ignore").to_markdown(index=False),
        "",
        "Per rule at each scale: summed wall seconds of its jobs (s), summed CPU seconds "
        "(cpu s, less sensitive to the machine's load) and the peak memory of a job "
        "(MB: Snakemake's max_rss, sampled; true MB: the kernel's ru_maxrss of the job's "
        "process plus its largest child's, which no short peak escapes):",
        "",
        wide.to_markdown(),
        "",
    ]
    if len(fits):
        text += ["Fitted exponent b of time ~ scale^b:", "", fits.to_markdown(index=False), ""]
    if agora:
        text += [
            "Cleaning the real Agora crawls (in one process) vs a bare pyarrow CSV read of the "
            "same raw files:",
            "",
            pd.DataFrame([agora]).T.rename(columns={0: "value"}).to_markdown(),
            "",
        ]
    (out / "bench.md").write_text("\n".join(text))
    plot(rules, totals, out / "bench.png", meta["machine"])
    return "\n".join(text)


def read_measures(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rule and run rows of an earlier bench.csv."""
    frame = pd.read_csv(out / "bench.csv")
    rules = frame[frame["kind"] == "rule"].dropna(axis=1, how="all").drop(columns="kind")
    totals = frame[frame["kind"] == "run"].dropna(axis=1, how="all").drop(columns="kind")
    return rules, totals.drop(columns="rule")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="*", default=[1, 3, 10])
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-agora", action="store_true", help="skip the real-data cleaning")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="run the scales and the Agora measurement at the same time (faster, noisier)",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: rewrite bench.md/png from bench.csv, meta.json, agora.json",
    )
    parser.add_argument(
        "--partition-months",
        nargs="*",
        default=[],
        metavar="SCALE=N",
        help="the simulated data's partition_months at a scale, e.g. 100=1",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/output")
    args = parser.parse_args()
    months_at = {float(k): int(v) for k, v in (item.split("=") for item in args.partition_months)}
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render_only:
        args.scales, args.no_agora = [], True
    workdir = Path(tempfile.mkdtemp(prefix="dnm-bench-"))
    meta = {
        "date": dt.date.today().isoformat(),
        "machine": describe(),
        "cores": args.cores,
        "parallel": args.parallel,
        "load_before": os.getloadavg()[0],
    }
    all_rules, all_totals = [], []
    agora = None
    try:
        workers = len(args.scales) + 1 if args.parallel else 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(run_scale, scale, args.cores, workdir, months_at.get(scale))
                for scale in args.scales
            ]
            agora_future = None
            if not args.no_agora:
                agora_future = pool.submit(agora_cleaning, args.cores, workdir)
            for scale, future in zip(args.scales, futures, strict=True):
                try:
                    rules, totals = future.result()
                except Exception:  # noqa: BLE001 - keep the scales that did finish
                    traceback.print_exc()
                    meta.setdefault("failed_scales", []).append(scale)
                    continue
                all_rules.append(rules)
                all_totals.append(totals)
                print(f"scale {scale:g}: {totals}", flush=True)
            if agora_future is not None:
                try:
                    agora = agora_future.result()
                    print(f"agora cleaning: {agora}", flush=True)
                    (args.out / "agora.json").write_text(json.dumps(agora, indent=1))
                except Exception:  # noqa: BLE001 - report the scales measured anyway
                    traceback.print_exc()
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    meta["load_after"] = os.getloadavg()[0]
    if all_rules:
        rules, totals = pd.concat(all_rules, ignore_index=True), pd.DataFrame(all_totals)
        (args.out / "meta.json").write_text(json.dumps(meta, indent=1))
    elif (args.out / "bench.csv").is_file():  # Agora only, or --render-only: earlier scales
        rules, totals = read_measures(args.out)
        meta_file = args.out / "meta.json"
        if meta_file.is_file():
            meta = json.loads(meta_file.read_text())
    else:
        print("no scales measured and no earlier bench.csv: nothing more to write")
        return 0
    if agora is None and (args.out / "agora.json").is_file():
        agora = json.loads((args.out / "agora.json").read_text())
    print(write_outputs(rules, totals, agora, meta, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
