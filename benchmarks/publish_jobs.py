"""CPU seconds and peak memory of the jobs merge_clean, publish_clean and identities
(issue 25), each run in a process of its own on a finished project's inputs, and
whether each output is byte-identical to the project's own.

Not a test: it needs a project folder that a pipeline run has filled (for example a
scale-100 run). Nothing is written into the project; outputs go to --out.

    .venv/bin/python benchmarks/publish_jobs.py --project /work/s100 --dataset sim2017 \\
        --out /tmp/publish-bench
"""

from __future__ import annotations

import argparse
import filecmp
import json
import subprocess
import sys
from pathlib import Path

TABLES = ("listings", "vendors", "quarantine", "accounting")

# one job, run in a child process: (inputs and outputs as JSON) -> prints its figures
CHILD = r"""
import json, os, resource, sys, time
args = json.loads(sys.argv[1])
job, project, dataset, out = args["job"], args["project"], args["dataset"], args["out"]
private = f"{project}/private/clean/{dataset}"
start = time.process_time()
if job == "merge_clean":
    from dnmarkets.clean.merge import write_merged_parts
    for name in ("listings", "vendors", "quarantine", "accounting"):
        write_merged_parts(args["parts"][name], name, f"{out}/private/{name}.parquet")
elif job == "publish_clean":
    from dnmarkets.clean.privacy import (
        load_key, publish_arrow, publish_quarantine, publish_quarantine_arrow, publish_table,
    )
    from dnmarkets.core.io import transform_parquet
    key = load_key(dataset, args["kind"], "secrets/pseudonym.key")
    memo = {}
    for name in ("listings", "vendors", "accounting"):
        transform_parquet(
            f"{private}/{name}.parquet", f"{out}/results/{name}.parquet",
            lambda f: publish_table(f, key), arrow_transform=lambda t: publish_arrow(t, key, memo),
        )
    transform_parquet(
        f"{private}/quarantine.parquet", f"{out}/results/quarantine.parquet",
        lambda f: publish_quarantine(f, key),
        arrow_transform=lambda t: publish_quarantine_arrow(t, key),
    )
else:
    import pandas as pd
    from dnmarkets.clean.identity import account_table, identity_table
    from dnmarkets.clean.privacy import load_key
    from dnmarkets.core.io import write_parquet
    from dnmarkets.panels.sightings import group_counts
    listings = group_counts(f"{private}/listings.parquet", ["market", "vendor_key", "vendor"])
    vendors = group_counts(
        f"{private}/vendors.parquet", ["market", "vendor_key", "vendor", "pgp_fingerprint"]
    )
    truth = args["truth"]
    truth = pd.read_csv(truth, dtype=str, keep_default_na=False) if truth else None
    key = load_key(dataset, args["kind"], "secrets/pseudonym.key")
    table, _ = identity_table(account_table(listings, vendors), args["settings"], key, truth)
    write_parquet(table, f"{out}/results/identities.parquet")
print(json.dumps({
    "cpu_s": round(time.process_time() - start, 1),
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="a finished run's folder")
    parser.add_argument("--dataset", default="sim2017")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", nargs="+", default=["merge_clean", "publish_clean", "identities"])
    args = parser.parse_args()
    import yaml

    config = yaml.safe_load((args.project / "config.yaml").read_text())
    dataset = config["datasets"][args.dataset]
    private = args.project / "private" / "clean" / args.dataset
    results = args.project / "results" / "clean" / args.dataset
    truth = args.project / "data" / "raw" / args.dataset / "ground_truth_vendors.csv.gz"
    parts_of = _parts(private, "markets" in dataset)
    (args.out / "private").mkdir(parents=True, exist_ok=True)
    (args.out / "results").mkdir(parents=True, exist_ok=True)
    failures = 0
    for job in args.jobs:
        spec = {
            "job": job,
            "project": str(args.project),
            "dataset": args.dataset,
            "out": str(args.out),
            "kind": dataset["kind"],
            "parts": parts_of,
            "settings": config["analysis"]["migration"],
            "truth": str(truth) if dataset["kind"] == "simulated" else None,
        }
        run = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True
        )
        if run.returncode:
            print(f"{job}: failed\n{run.stderr}")
            failures += 1
            continue
        figures = json.loads(run.stdout.strip().splitlines()[-1])
        if job == "merge_clean":
            names, ours, theirs = [f"{t}.parquet" for t in TABLES], "private", private
        elif job == "publish_clean":
            names, ours, theirs = [f"{t}.parquet" for t in TABLES], "results", results
        else:
            names, ours, theirs = ["identities.parquet"], "results", results
        pairs = [(args.out / ours / name, theirs / name) for name in names]
        if not all(theirs.exists() for _, theirs in pairs):
            verdict = "the project has no outputs to compare with yet"
        elif all(filecmp.cmp(a, b, shallow=False) for a, b in pairs):
            verdict = "outputs byte-identical to the project's"
        else:
            verdict = "outputs DIFFERENT from the project's"
            failures += 1
        print(f"{job}: {figures['cpu_s']} CPU s, peak {figures['peak_mb']} MB, {verdict}")
    return 1 if failures else 0


def _parts(private: Path, multi_market: bool) -> dict[str, list[str]]:
    """The partition files in the order rule merge_clean lists them (partitions
    sorted, the unmatched markets' rows last)."""
    out = {}
    for table in TABLES:
        paths = sorted(
            (p for p in private.glob(f"parts/*/{table}.parquet") if p.parent.name != "unmatched"),
            key=str,
        )
        unmatched = private / "parts" / "unmatched" / f"{table}.parquet"
        if multi_market and unmatched.exists():
            paths.append(unmatched)
        out[table] = [str(p) for p in paths]
    return out


if __name__ == "__main__":
    sys.exit(main())
