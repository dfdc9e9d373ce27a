"""The cleaning's outputs stay identical while it is made faster (issue 8).

Not a test (it needs the real Agora crawls imported in a project folder, see
benchmarks/profile_clean.py): ``save`` cleans every partition of the given
datasets and stores the four tables of each partition as pickles (exact dtypes,
including str and object date columns); ``compare`` cleans again with the
current code and checks each table with ``pandas.testing.assert_frame_equal``
(same columns, order, dtypes and values, ``check_exact``), then the stored
tables' dtypes once more as strings.

    .venv/bin/python benchmarks/clean_identity.py save    --out /tmp/ref \\
        --project agora2014=/tmp/agora-project --project sim2017=.
    .venv/bin/python benchmarks/clean_identity.py compare --out /tmp/ref \\
        --project agora2014=/tmp/agora-project --project sim2017=.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from profile_clean import clean_all  # noqa: E402

TABLES = ("listings", "vendors", "quarantine", "accounting")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["save", "compare"])
    parser.add_argument("--out", type=Path, required=True, help="folder of the stored tables")
    parser.add_argument(
        "--project",
        action="append",
        required=True,
        metavar="DATASET=FOLDER",
        help="dataset and the project folder holding its raw snapshots (repeatable)",
    )
    args = parser.parse_args()
    failures = 0
    for item in args.project:
        dataset, folder = item.split("=", 1)
        start = time.perf_counter()
        n = 0
        for part, result in clean_all(Path(folder).resolve(), dataset):
            n += 1
            for name in TABLES:
                frame = getattr(result, name)
                path = args.out / dataset / part / f"{name}.pkl"
                if args.mode == "save":
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(pickle.dumps(frame, protocol=5))
                    continue
                expected = pickle.loads(path.read_bytes())
                try:
                    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
                    assert list(map(str, frame.dtypes)) == list(map(str, expected.dtypes))
                except AssertionError as err:
                    failures += 1
                    print(f"DIFFERS {dataset}/{part}/{name}: {err}", flush=True)
        print(f"{args.mode} {dataset}: {n} partitions, {time.perf_counter() - start:.1f} s")
    if args.mode == "compare":
        print("all identical" if not failures else f"{failures} table(s) differ")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
