"""Where the cleaning of the real Agora crawls spends its time (issue 8).

Not a test: cleans every Agora partition in one process, as benchmarks/bench.py
does, and prints (1) the time of each cleaning step summed over the partitions,
(2) the cProfile functions with the largest cumulative and own time, and (3) the
cleaning time against a bare ``pyarrow.csv.read_csv`` of the same raw files, in
the same run (page cache warmed first).

The raw Agora snapshots come from a project folder in which the pipeline has
imported them (``data/raw/agora2014/manifest.tsv`` and
``data/raw/reference/rates.csv``). Without --project, one is made in a temporary
folder from the mirror (``../shared/data`` or DNM_MIRROR), which takes minutes.

    .venv/bin/python benchmarks/profile_clean.py --project /tmp/agora-project
    .venv/bin/python benchmarks/profile_clean.py --project /tmp/agora-project --no-cprofile
    .venv/bin/python benchmarks/profile_clean.py --project P --dataset sim2017 --top 40
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from dnmarkets.clean import partition as clean_module  # noqa: E402
from dnmarkets.sources.partitions import block_months_of, block_start, partition_name  # noqa: E402
from dnmarkets.sources.raw_checksums import partition_files_from_manifest, read_manifest  # noqa: E402

# cleaning steps timed one by one: (module, function) -> label
STEPS = {
    ("clean", "read_raw_files"): "read raw files (gzip, decode, CSV; two at a time)",
    ("clean", "_combine"): "combine files",
    ("clean", "_kept_in_order"): "output order",
    ("clean", "_scrape_checks"): "scraped_at checks",
    ("clean", "parse_market_price_codes"): "price style and parsing",
    ("clean", "convert_many"): "price conversion",
    ("clean", "convert_coded"): "price conversion",
    ("clean", "_assign_reasons"): "quarantine reasons",
    ("clean", "codes_of_rows"): "title codes (hashed once)",
    ("clean", "clean_coded_texts"): "title cleaning",
    ("clean", "categorise_codes"): "categories",
    ("clean", "vendor_keys"): "vendor keys",
    ("clean", "normalise_countries"): "countries",
    ("clean", "resolve_truncations"): "country truncations",
    ("clean", "_quantities"): "quantities",
    ("clean", "_counts"): "feedback counts",
    ("clean", "_listings"): "listings table (total)",
    ("clean", "_vendors"): "vendors table (total)",
    ("clean", "_quarantine"): "quarantine table (raw JSON)",
    ("clean", "_registered_dates"): "vendor registration dates",
}
SCHEMA_STEPS = ("LISTINGS_SCHEMA", "VENDORS_SCHEMA", "QUARANTINE_SCHEMA", "ACCOUNTING_SCHEMA")


def make_agora_project(dest: Path) -> Path:
    """A project folder with the Agora snapshots imported (fetch from the mirror, import)."""
    from conftest import MIRROR, make_project

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["mirror"] = str(MIRROR)
    project = make_project(dest, cfg)
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    env["PYTHONPATH"] = str(project / "src")
    targets = ["data/raw/agora2014/manifest.tsv", "data/raw/reference/rates.csv"]
    subprocess.run(
        [sys.executable, "-m", "snakemake", *targets, "--cores", "2", "--quiet", "all"],
        cwd=project,
        env=env,
        check=True,
    )
    return project


def dataset_partitions(project: Path, dataset: str) -> dict[str, list[Path]]:
    """Partition name -> raw snapshot files, from the dataset's manifest and block size."""
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    block = int(cfg["datasets"][dataset]["partition_months"])
    manifest = project / f"data/raw/{dataset}/manifest.tsv"
    names = set()
    for rel in read_manifest(manifest)["path"]:
        parts = Path(rel).parts
        if len(parts) == 3 and parts[0] == "snapshots":
            names.add((parts[1], block_start(parts[2][:7], block)))
    return {
        partition_name(market, month): partition_files_from_manifest(
            manifest, market, block_months_of(month, block)
        )
        for market, month in sorted(names)
    }


def rates_of(project: Path, dataset: str) -> pd.DataFrame:
    own = project / f"data/raw/{dataset}/rates.csv"
    return pd.read_csv(own if own.is_file() else project / "data/raw/reference/rates.csv")


def cleaning_config(project: Path) -> dict:
    return yaml.safe_load((project / "config.yaml").read_text())["cleaning"]


def forget_cached_values() -> None:
    """Empty every functools cache of the package's loaded modules (per-value parsers,
    the ECB rates). In the pipeline each partition is cleaned by its own job, which
    starts with them empty: cleaning the partitions one after another in one process
    must not gain from what the earlier ones parsed."""
    for name, module in list(sys.modules.items()):
        if name == "dnmarkets" or name.startswith("dnmarkets."):
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()


def clean_all(project: Path, dataset: str):
    """Yield (partition, CleanResult) for every partition of the dataset, each cleaned
    as its own job would (no cached values of an earlier one)."""
    rates = rates_of(project, dataset)
    cfg = cleaning_config(project)
    for part, files in dataset_partitions(project, dataset).items():
        market = part.split("__")[0]
        forget_cached_values()
        yield part, clean_module.clean_partition(files, dataset, market, rates, cfg, project)


@contextlib.contextmanager
def timed_steps():
    """Wrap the cleaning steps (names looked up in dnmarkets.clean.partition) with timers."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    saved = []

    def wrap(owner, attr, label):
        original = getattr(owner, attr)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                totals[label][0] += time.perf_counter() - start
                totals[label][1] += time.process_time() - cpu

        saved.append((owner, attr, original))
        setattr(owner, attr, timed)

    for (_, name), label in STEPS.items():
        if hasattr(clean_module, name):
            wrap(clean_module, name, label)
    for name in SCHEMA_STEPS:  # pandera itself: runs only where the fast checks fail
        schema = getattr(clean_module, name)
        wrap(schema, "validate", f"pandera validation ({name.split('_')[0].lower()})")
    wrap(clean_module, "validate_schema", "schema validation (all tables)")
    try:
        yield totals
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


def bare_read(files: list[Path]) -> tuple[float, float, int]:
    import pyarrow.csv as pacsv

    for f in files:  # warm the page cache once, as bench.py does
        f.read_bytes()
    start, cpu = time.perf_counter(), time.process_time()
    rows = sum(pacsv.read_csv(f).num_rows for f in files)
    return time.perf_counter() - start, time.process_time() - cpu, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="project with the imported snapshots")
    parser.add_argument("--dataset", default="agora2014")
    parser.add_argument("--top", type=int, default=25, help="cProfile rows to print")
    parser.add_argument("--no-cprofile", action="store_true", help="step timings only")
    parser.add_argument("--stats", type=Path, help="also save the cProfile stats (pstats) here")
    args = parser.parse_args()
    project = args.project
    if project is None:
        project = make_agora_project(Path(tempfile.mkdtemp(prefix="dnm-profile-")) / "agora")
    elif not (project / f"data/raw/{args.dataset}/manifest.tsv").is_file():
        project = make_agora_project(project)
    project = project.resolve()

    files = [f for fs in dataset_partitions(project, args.dataset).values() for f in fs]
    bare_s, bare_cpu, bare_rows = bare_read(files)

    with timed_steps() as steps:
        start, cpu = time.perf_counter(), time.process_time()
        raw_rows = sum(
            int(r.accounting["raw_rows"].sum()) for _, r in clean_all(project, args.dataset)
        )
        clean_s, clean_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{args.dataset}: {len(files)} files, {raw_rows:,} raw rows ({bare_rows:,} bare)")
    print(
        f"bare pyarrow read: {bare_s:.2f} s ({bare_cpu:.2f} CPU s); cleaning: {clean_s:.2f} s "
        f"({clean_cpu:.2f} CPU s); ratio {clean_s / bare_s:.1f}x ({clean_cpu / bare_cpu:.1f}x "
        f"in CPU seconds); load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "\nstep times (s, summed over partitions; nested: the table totals include the steps;"
        "\nCPU seconds are the process's: the read's count both of its threads)"
    )
    table = pd.DataFrame(dict(steps), index=["seconds", "cpu_seconds"]).T
    table = table.sort_values("cpu_seconds", ascending=False)
    table["cpu_share"] = table["cpu_seconds"] / clean_cpu
    print(table.round(3).to_markdown())

    if not args.no_cprofile:
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        for _ in clean_all(project, args.dataset):
            pass
        profiler.disable()
        if args.stats:
            profiler.dump_stats(args.stats)
        print(f"\ncProfile run: {time.perf_counter() - start:.2f} s (with profiling overhead)")
        for key in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(args.top)
            print(f"\n--- top {args.top} by {key} ---")
            print(out.getvalue().split("\n", 6)[-1] if key else out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
