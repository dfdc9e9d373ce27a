"""Coverage of the resilience intervals across simulation seeds (issue 4, validation).

Not a test: each seed runs the chain simulate -> clean -> panel -> ITS (with the
simulator's truth) in-process at a small scale, and the level change at the
event is compared with the truth. Prints a Markdown table and saves, under
data/studies/, `its_coverage.csv` (one row per seed and measure) and
`its_coverage.json` (the summary, the settings, git commit, date, machine).
Deterministic for given seeds (the timings aside).

    .venv/bin/python benchmarks/its_coverage.py --seeds 20
    .venv/bin/python benchmarks/its_coverage.py --seeds 40 --scale 0.2 --jobs 2
    .venv/bin/python benchmarks/its_coverage.py --resummarise   # stored CSV -> JSON again
    nice -n 10 .venv/bin/python benchmarks/its_coverage.py --seeds 100 --first-seed 101 \
        --jobs 2 --panels /tmp/dnm-panels    # the stored study (seeds not the default run's)

The summary is also split by how long before the first seizure (the first
takedown in the config, the largest simulated market) that market's last crawl
was (`summary_by_seized_market_last_crawl`): presence runs from first to last
sighting, so when that crawl is 2+ days before the seizure the pre-event days
already count the market as closed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from dnmarkets.models.interval_coverage import (  # noqa: E402
    SMALL,
    coverage_markdown,
    run_seed,
    summarise_coverage,
)


def git_commit() -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "src", "config.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return proc.stdout.strip() + ("-dirty" if dirty else "")


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


SPLIT = "seized_market_last_crawl"
_SIM = yaml.safe_load((ROOT / "config.yaml").read_text())["datasets"]["sim2017"]["simulation"]
SEIZED_MARKET = _SIM["takedowns"][0]["market"]


def with_split(frame: pd.DataFrame) -> pd.DataFrame:
    gap = frame[f"last_crawl_gap_{SEIZED_MARKET}"]
    label = gap.map(lambda g: "none" if pd.isna(g) else ("<=1 day" if g <= 1 else ">=2 days"))
    return frame.assign(**{SPLIT: label})


def model_intervals(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with the AR(1) model's own intervals in place of the calibrated ones."""
    model = frame[["ci_low_model", "ci_high_model", "covered_model"]].to_numpy()
    out = frame.copy()
    out[["ci_low", "ci_high", "covered"]] = model
    return out


def alt_intervals(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of the other model (segmented regression or local level), each against
    the same model fitted on the true series."""
    alt = frame.dropna(subset=["alt_estimate"]).copy()
    for col in ("true", "estimate", "ci_low", "ci_high", "covered"):
        alt[col] = alt[f"alt_{col}"]
    alt["measure"] = alt["measure"] + " (" + alt["alt_model"] + ")"
    return alt


def summaries(frame: pd.DataFrame, level: float) -> dict:
    out = {"summary": summarise_coverage(frame, nominal=level, level=0.95)}
    if "ci_low_model" in frame:  # runs before the placebo calibration have one interval
        out["summary_model"] = summarise_coverage(model_intervals(frame), nominal=level, level=0.95)
    if "alt_estimate" in frame and frame["alt_estimate"].notna().any():
        out["summary_alternative"] = summarise_coverage(
            alt_intervals(frame), nominal=level, level=0.95
        )
    return {
        **out,
        f"summary_by_{SPLIT}": summarise_coverage(
            with_split(frame), nominal=level, level=0.95, by=[SPLIT]
        ),
    }


def resummarise(out: Path) -> dict:
    """Recompute the summaries of a stored run from its CSV (settings, timing kept)."""
    result = json.loads((out / "its_coverage.json").read_text())
    frame = pd.read_csv(out / "its_coverage.csv")
    result.update(summaries(frame, float(result["settings"]["confidence_level"])))
    result["resummarised"] = {
        "git_commit": git_commit(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return result


def report(result: dict) -> None:
    print(coverage_markdown(result))
    if "summary_model" in result:
        print("The model's own intervals (not calibrated by the placebo dates):")
        print(coverage_markdown(result, "summary_model"))
    if "summary_alternative" in result:
        print("The other model (robustness), against the same model on the true series:")
        print(coverage_markdown(result, "summary_alternative"))
    print(coverage_markdown(result, f"summary_by_{SPLIT}", SPLIT))


def same_model_code(first: str, second: str) -> bool:
    """Whether two commits have the same src/ and config.yaml (what the seeds' results
    depend on): a run started before a commit of documentation may resume after it."""
    if first.endswith("-dirty") or second.endswith("-dirty"):
        return False

    def tree(commit: str, path: str) -> str:
        proc = subprocess.run(
            ["git", "rev-parse", f"{commit}:{path}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.stdout.strip() if proc.returncode == 0 else ""

    return all(
        tree(first, path) and tree(first, path) == tree(second, path)
        for path in ("src", "config.yaml")
    )


def resume(out: Path, commit: str, overrides: dict) -> tuple[Path, set, float]:
    """The partial results of an interrupted run of the same code and settings: its file,
    the seeds done and the wall seconds spent; another run's partial file is an error."""
    partial_csv = out / "its_coverage.partial.csv"
    if not partial_csv.exists():
        return partial_csv, set(), 0.0
    progress = json.loads(partial_csv.with_suffix(".json").read_text())
    same_code = progress["commit"] == commit or same_model_code(progress["commit"], commit)
    if not same_code or progress["overrides"] != overrides:
        raise SystemExit(
            f"{partial_csv} is from commit {progress['commit']} with {progress['overrides']}: "
            "remove it (and its .json) to start again"
        )
    done = set(pd.read_csv(partial_csv, usecols=["seed"])["seed"])
    print(f"resuming: {len(done)} seeds done", flush=True)
    return partial_csv, done, float(progress["wall_seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="number of seeds")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds run from this one up")
    parser.add_argument("--scale", type=float, default=SMALL["scale"])
    parser.add_argument("--start", default=None, help="simulated period (default: config's)")
    parser.add_argument("--end", default=None)
    parser.add_argument("--jobs", type=int, default=2, help="processes (at most 2)")
    parser.add_argument("--out", type=Path, default=ROOT / "data/studies")
    parser.add_argument(
        "--panels",
        type=Path,
        default=None,
        help="keep each seed's panel and truth here (and reuse them: another model, same series)",
    )
    parser.add_argument(
        "--resummarise", action="store_true", help="only recompute the JSON from the stored CSV"
    )
    args = parser.parse_args()
    if args.resummarise:
        result = resummarise(args.out)
        (args.out / "its_coverage.json").write_text(json.dumps(result, indent=2) + "\n")
        report(result)
        return 0
    jobs = max(1, min(args.jobs, 2))
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    overrides = {"scale": args.scale}
    overrides.update({k: v for k, v in (("start", args.start), ("end", args.end)) if v})
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    work = partial(run_seed, config=config, overrides=overrides, panels=args.panels)

    commit = git_commit()  # read before the run: the code the seeds ran on
    args.out.mkdir(parents=True, exist_ok=True)
    partial_csv, done, earlier_wall = resume(args.out, commit, overrides)
    todo = [seed for seed in seeds if seed not in done]
    t0 = time.perf_counter()

    def keep(seed_rows: list[dict]) -> None:  # each seed as it ends: a stopped run resumes
        new = not partial_csv.exists()
        pd.DataFrame(seed_rows).to_csv(partial_csv, mode="a", header=new, index=False)
        print(f"seed {seed_rows[0]['seed'] if seed_rows else '?'} done", flush=True)
        progress = {"commit": commit, "overrides": overrides}
        progress["wall_seconds"] = earlier_wall + time.perf_counter() - t0
        partial_csv.with_suffix(".json").write_text(json.dumps(progress))

    if jobs == 1:
        for seed in todo:
            keep(work(seed))
    else:
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            for seed_rows in pool.imap(work, todo):
                keep(seed_rows)
    wall = earlier_wall + time.perf_counter() - t0
    rows = pd.read_csv(partial_csv)
    rows = rows[rows["seed"].isin(seeds)]

    frame = rows.sort_values(["seed", "event", "measure", "horizon_days"], kind="stable")
    seconds = frame.drop_duplicates("seed")["seconds"]
    result = {
        "description": (
            "Empirical coverage of the 95% intervals of the change at the event and at "
            "later horizons (*_change_pct_<h>d) across simulation seeds; truth = the same "
            "ITS model fitted on the simulator's true daily series. `summary`: the reported "
            "intervals (local level for listings and vendors, placebo-calibrated segmented "
            "regression for sales); `summary_model`: the main model's own (for sales the AR(1) "
            "model's before calibration); "
            "`summary_alternative`: the other model, each against its own fit on the truth"
        ),
        **summaries(frame, float(config["analysis"]["confidence_level"])),
        "settings": {
            "seeds": seeds,
            "simulation_overrides": overrides,
            "resilience": config["analysis"]["resilience"],
            "confidence_level": config["analysis"]["confidence_level"],
            "jobs": jobs,
        },
        "timing": {
            "wall_seconds": round(wall, 1),
            "seed_seconds_mean": round(float(seconds.mean()), 1),
            "seed_seconds_max": round(float(seconds.max()), 1),
        },
        "git_commit": commit,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    frame.drop(columns=["seconds"]).to_csv(args.out / "its_coverage.csv", index=False)
    (args.out / "its_coverage.json").write_text(json.dumps(result, indent=2) + "\n")
    partial_csv.unlink()
    partial_csv.with_suffix(".json").unlink()
    print()
    report(result)
    print(f"{len(seeds)} seeds, wall {wall:.0f} s, mean {seconds.mean():.1f} s per seed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
