"""Identity matching against the simulator's truth on a finished run's private tables.

    .venv/bin/python benchmarks/identity_precision.py PROJECT [PROJECT ...]

For each project folder (a run with private/clean/sim2017 and
data/raw/sim2017/ground_truth_vendors.csv.gz, e.g. one at scale 10 or 100), prints
the accounts, those whose rows show several aliases (several vendors under one
vendor_key), the identities, the largest identity, and pairwise precision and
recall as the `identities` rule would give them (dnmarkets.clean.identity). Reads
only; a scale-100 run takes about a minute of one core.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from dnmarkets.clean.identity import account_table, pairwise_scores, resolve, truth_uids
from dnmarkets.panels.sightings import group_counts


def scores(project: str) -> dict:
    clean = f"{project}/private/clean/sim2017"
    listings = group_counts(f"{clean}/listings.parquet", ["market", "vendor_key", "vendor"])
    vendors = group_counts(
        f"{clean}/vendors.parquet", ["market", "vendor_key", "vendor", "pgp_fingerprint"]
    )
    nodes = account_table(listings, vendors)
    truth = pd.read_csv(
        f"{project}/data/raw/sim2017/ground_truth_vendors.csv.gz", dtype=str, keep_default_na=False
    )
    resolved, _ = resolve(nodes, {})
    s = pairwise_scores(resolved, truth_uids(resolved, truth))
    return {
        "accounts": len(nodes),
        "several_aliases": int((nodes["alias_forms"] > 1).sum()),
        "identities": int(resolved["identity"].nunique()),
        "largest": int(resolved.groupby("identity").size().max()),
        "precision": round(s["precision"], 4),
        "recall": round(s["recall"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="+")
    for project in parser.parse_args().projects:
        start = time.process_time()
        result = scores(project)
        print(project, result, f"{time.process_time() - start:.0f} CPU s")


if __name__ == "__main__":
    main()
