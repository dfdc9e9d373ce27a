"""Coverage of the resilience intervals across simulation seeds.

One seed is the whole chain run in-process (no Snakemake): simulate the
ecosystem with that seed, clean every partition as the `clean_partition` rule
does, merge the parts as `merge_clean` does, build the market-day panel and fit
the interrupted time series with the simulator's truth
(:func:`dnmarkets.models.resilience.resilience`). Each seed gives, per measure, the
true level change at the event (the same model fitted on the true, uncrawled
series), the estimate and its interval. Across seeds,
:func:`summarise_coverage` gives the empirical coverage of the intervals with
a Wilson interval, a two-sided exact binomial test against the nominal level,
the mean bias with its standard error, the RMSE and the mean interval width.

Nothing here changes the model: it is run exactly as the pipeline runs it.
"""

from __future__ import annotations

import copy
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from dnmarkets.clean.merge import merge_parts
from dnmarkets.clean.partition import clean_partition
from dnmarkets.core.events import dataset_events
from dnmarkets.core.io import write_parquet
from dnmarkets.models.resilience import resilience
from dnmarkets.panels.build import market_day_panel
from dnmarkets.sim.simulate import simulate
from dnmarkets.sources.partitions import block_months_of, parse_partition, simulated_partitions
from dnmarkets.sources.raw_checksums import partition_files_from_manifest, verify_files

TABLES = ("listings", "vendors", "quarantine", "accounting")
ROW_COLUMNS = [
    "seed",
    "event",
    "measure",
    "horizon_days",
    "true",
    "estimate",
    "ci_low",
    "ci_high",
    "covered",
    "error",
    "width",
    "ci_low_model",
    "ci_high_model",
    "covered_model",
    "se_inflation",
    "se_inflation_slope",
    "se_inflation_horizon",
    "placebo_rms_z",
    "null_placebo_rms_z",
    "null_main_rms_z",
    "placebo_rms_z_slope",
    "null_placebo_rms_z_slope",
    "null_main_rms_z_slope",
    "alt_model",
    "alt_true",
    "alt_estimate",
    "alt_ci_low",
    "alt_ci_high",
    "alt_covered",
]
# Small-scale settings: a fifth of the vendors over the configured period (2017-01
# to 2018-06). The period is not shortened: the intervals are calibrated at placebo
# dates away from the events and from market openings and closings, and only the
# full period has enough of them (a shorter one leaves the model's own intervals).
SMALL = {"scale": 0.2}


def seed_config(sim_cfg: dict, seed: int, overrides: dict | None = None) -> dict:
    """The simulation block with another seed (and e.g. a shorter period or smaller scale)."""
    cfg = copy.deepcopy(dict(sim_cfg))
    cfg.update(overrides or {})
    cfg["seed"] = int(seed)
    return cfg


def clean_dataset(
    raw_dir: Path, dataset: str, sim_cfg: dict, block_months: int, cleaning: dict
) -> dict[str, pd.DataFrame]:
    """Clean every partition of a simulated dataset and merge them, as the rules do.

    The partition tables go through Parquet (`write_parquet`, then `merge_parts`)
    exactly as between the `clean_partition` and `merge_clean` jobs, so the
    panels see the same dtypes as in the pipeline.
    """
    raw_dir = Path(raw_dir)
    manifest = raw_dir / "manifest.tsv"
    rates = pd.read_csv(raw_dir / "rates.csv")
    parts_dir = raw_dir / "_clean_parts"
    paths: dict[str, list[Path]] = {t: [] for t in TABLES}
    for partition in simulated_partitions(sim_cfg, block_months):
        market, month = parse_partition(partition)
        files = partition_files_from_manifest(
            manifest, market, block_months_of(month, block_months)
        )
        verify_files(manifest, files)
        result = clean_partition(files, dataset, market, rates, dict(cleaning), raw_dir)
        for table in TABLES:
            path = parts_dir / partition / f"{table}.parquet"
            write_parquet(getattr(result, table), path)
            paths[table].append(path)
    return {table: merge_parts(paths[table], table) for table in TABLES}


def checks_to_rows(seed: int, checks: list[dict]) -> list[dict]:
    """The `checks` table of a resilience result as coverage rows (change at each horizon):
    the reported (placebo-calibrated) interval and the model's own interval."""
    rows = []
    for check in checks:
        est, low, high, true = (float(check[k]) for k in ("estimate", "ci_low", "ci_high", "true"))
        low_m, high_m = float(check["ci_low_model"]), float(check["ci_high_model"])
        rows.append(
            {
                "seed": int(seed),
                "event": check["event"],
                "measure": check["measure"],
                "horizon_days": int(check.get("days", 0)),
                "true": true,
                "estimate": est,
                "ci_low": low,
                "ci_high": high,
                "covered": bool(low <= true <= high),
                "error": est - true,
                "width": high - low,
                "ci_low_model": low_m,
                "ci_high_model": high_m,
                "covered_model": bool(low_m <= true <= high_m),
                **{k: check.get(k) for k in ROW_COLUMNS[ROW_COLUMNS.index("se_inflation") :]},
            }
        )
        if check.get("alt_model") is not None:  # the other model, against its own truth
            rows[-1]["alt_covered"] = bool(
                check["alt_ci_low"] <= check["alt_true"] <= check["alt_ci_high"]
            )
    return rows


def run_seed(
    seed: int,
    config: dict,
    dataset: str = "sim2017",
    overrides: dict | None = None,
    workdir: Path | None = None,
    panels: Path | None = None,
) -> list[dict]:
    """Run one seed end to end in a temporary folder; one row per (event, measure, horizon).

    `config` is the project configuration (config.yaml as a dict); `overrides`
    replaces simulation settings (start, end, scale, ...). The rows carry the
    seconds the seed took in `seconds` (not part of the statistics). With `panels`
    (a folder), the seed's market-day panel and true daily table are kept there and
    read back on the next run, so that another model is compared on the same series.
    """
    t0 = time.perf_counter()
    spec = config["datasets"][dataset]
    sim_cfg = seed_config(spec["simulation"], seed, overrides)
    events = dataset_events(config["events"], dataset, spec)
    market_day, truth = seed_panel(seed, sim_cfg, dataset, config, workdir, panels)
    analysis = config["analysis"]
    result = resilience(
        market_day,
        events,
        dict(analysis["resilience"]),
        float(analysis["confidence_level"]),
        truth,
    )
    rows = checks_to_rows(seed, result["tables"]["checks"])
    closures = {t["market"]: t["date"] for t in sim_cfg.get("takedowns", [])}
    gaps = last_crawl_gaps(market_day, closures)
    for row in rows:
        row.update(gaps)
    seconds = time.perf_counter() - t0
    for row in rows:
        row["seconds"] = round(seconds, 2)
    return rows


def seed_panel(seed, sim_cfg, dataset, config, workdir=None, panels=None):
    """Market-day panel and true daily table of one seed: simulated, cleaned and built as
    the rules do, or read from `panels` where an earlier run kept them."""
    spec = config["datasets"][dataset]
    if panels is not None:
        scale = str(sim_cfg.get("scale", "")).replace(".", "p")
        paths = [Path(panels) / f"{seed}_{scale}_{part}.parquet" for part in ("panel", "truth")]
        if all(p.exists() for p in paths):
            return pd.read_parquet(paths[0]), pd.read_parquet(paths[1])
    with tempfile.TemporaryDirectory(prefix=f"dnm-cov-{seed}-", dir=workdir) as tmp:
        raw_dir = Path(tmp) / "raw"
        simulate(sim_cfg, raw_dir)
        clean = clean_dataset(
            raw_dir, dataset, sim_cfg, int(spec["partition_months"]), config["cleaning"]
        )
        market_day = market_day_panel(clean["listings"], dataset)
        truth = pd.read_csv(raw_dir / "ground_truth_daily.csv.gz")
    if panels is not None:  # read back: a kept seed and a new one give the same frames
        Path(panels).mkdir(parents=True, exist_ok=True)
        market_day.to_parquet(paths[0])
        truth.to_parquet(paths[1])
        return pd.read_parquet(paths[0]), pd.read_parquet(paths[1])
    return market_day, truth


def last_crawl_gaps(market_day: pd.DataFrame, closures: dict[str, str]) -> dict[str, int | None]:
    """Days from the last crawl of each seized market to its seizure (a diagnostic).

    Presence runs from first to last sighting, so a seized market counts zero
    from the day after its last crawl: when that crawl is more than a day
    before the seizure, days before the event already show the closure.
    `closures` maps market to seizure date (the simulation's takedowns).
    """
    out: dict[str, int | None] = {}
    for market, date in sorted(closures.items()):
        day = pd.Timestamp(date)
        days = pd.to_datetime(
            market_day.loc[(market_day["market"] == market) & market_day["crawled"], "date"]
        )
        days = days[days <= day]
        out[f"last_crawl_gap_{market}"] = int((day - days.max()).days) if len(days) else None
    return out


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    if n <= 0:
        return (math.nan, math.nan)
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarise_coverage(
    rows: list[dict] | pd.DataFrame,
    nominal: float = 0.95,
    level: float = 0.95,
    by: list[str] | None = None,
) -> list[dict]:
    """Per (event, measure, horizon): coverage, its Wilson interval, the binomial check, bias.

    `consistent` is true when the two-sided exact binomial test of coverage ==
    `nominal` has p >= 1 - `level` (the same verdict, in all but borderline
    cases, as `nominal` lying inside the Wilson interval, also reported as
    `nominal_in_wilson`). Bias is the mean of estimate - true (percentage
    points) with its standard error over seeds. `by` names further row columns
    to split on (e.g. a diagnostic of the crawls); they are copied to the output.
    """
    frame = pd.DataFrame(rows)
    if frame.empty:
        return []
    for col in ("event", "horizon_days"):
        if col not in frame:
            frame[col] = "" if col == "event" else 0
    by = list(by or [])
    out = []
    for keys, g in frame.groupby(["event", "measure", "horizon_days", *by], sort=True):
        event, measure, horizon = keys[:3]
        n = len(g)
        covered = g["covered"].astype(bool)
        k = int(covered.sum())
        error = (g["estimate"] - g["true"]).to_numpy(dtype=float)
        width = (g["ci_high"] - g["ci_low"]).to_numpy(dtype=float)
        low, high = wilson_interval(k, n, level)
        p_value = float(stats.binomtest(k, n, nominal).pvalue)
        sd = float(np.std(error, ddof=1)) if n > 1 else 0.0
        out.append(
            {
                "event": event,
                "measure": measure,
                "horizon_days": int(horizon),
                **{col: _plain(value) for col, value in zip(by, keys[3:], strict=True)},
                "n": n,
                "covered": k,
                "coverage": k / n,
                "wilson_low": low,
                "wilson_high": high,
                "nominal": nominal,
                "binom_p": p_value,
                "nominal_in_wilson": bool(low <= nominal <= high),
                "consistent": bool(p_value >= 1 - level),
                "mean_true": float(g["true"].mean()),
                "mean_estimate": float(g["estimate"].mean()),
                "bias": float(error.mean()),
                "bias_se": sd / math.sqrt(n) if n > 1 else None,
                "rmse": float(np.sqrt(np.mean(error**2))),
                "mean_width": float(width.mean()),
            }
        )
    return out


def _number(value, spec: str) -> str:
    """A formatted number, or "-" where it is undefined (e.g. the SE of one seed)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def _plain(value):
    """numpy scalars as plain Python values (for JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def coverage_markdown(
    summary: dict | list[dict], table: str = "summary", split: str | None = None
) -> str:
    """A Markdown table of a coverage summary: the list `table` of its_coverage.json (given
    the whole JSON object) or the list itself; `split` names a column added by `by`."""
    entries = summary[table] if isinstance(summary, dict) else summary
    header = (
        "| Measure | Days after |"
        + (f" {split} |" if split else "")
        + " Seeds | Covered | Coverage | Wilson 95% CI | Binomial p (vs 95%) "
        "| Consistent | Mean truth (%) | Mean estimate (%) | Bias (pp) | SE of bias | RMSE (pp) "
        "| Mean CI width (pp) |"
    )
    lines = [header, "|" + "---|" * (15 if split else 14)]
    for s in entries:
        lines.append(
            f"| {s['measure']} | {s.get('horizon_days', 0)} |"
            + (f" {s[split]} |" if split else "")
            + f" {s['n']} | {s['covered']} | {s['coverage']:.0%} "
            f"| {s['wilson_low']:.0%} to {s['wilson_high']:.0%} | {s['binom_p']:.3g} "
            f"| {'yes' if s['consistent'] else 'no'} | {s['mean_true']:.1f} "
            f"| {s['mean_estimate']:.1f} | {s['bias']:+.1f} | {_number(s['bias_se'], '.1f')} "
            f"| {s['rmse']:.1f} | {s['mean_width']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def halves_summary(rows: pd.DataFrame) -> list[dict]:
    """:func:`summarise_coverage` of each half of a study's seeds (column `half`: "first",
    the seeds the per-measure transition buffers were chosen on, or "second", held out)."""
    frame = pd.DataFrame(rows)
    seeds = np.sort(frame["seed"].unique())
    last_first = seeds[len(seeds) // 2 - 1]
    frame["half"] = np.where(frame["seed"] <= last_first, "first", "second")
    return summarise_coverage(frame, by=["half"])


def halves_difference(halves: list[dict]) -> dict:
    """The (measure, horizon) whose mean error differs most between the two halves."""
    frame = pd.DataFrame(halves).pivot_table(
        index=["measure", "horizon_days"], columns="half", values="bias"
    )
    gap = (frame["second"] - frame["first"]).abs()
    measure, horizon = gap.idxmax()
    return {"measure": measure, "horizon_days": int(horizon), "difference": float(gap.max())}


def coverage_entries(study: dict, rows: pd.DataFrame | None = None) -> dict:
    """Catalogue entries of the stored multi-seed study: coverage (Wilson interval) and
    bias (+- 1.96 SE) of each measure's change at each horizon, the largest bias and
    bias bound; with the study's per-seed `rows`, the bias on each half of the seeds."""
    from dnmarkets.core.summary import entry

    seeds = max(s["n"] for s in study["summary"])
    out = {"seeds": entry(seeds, "count", "Simulation seeds in the coverage study")}
    biases = [s["bias"] for s in study["summary"]]
    bounds = [abs(s["bias"]) + 1.96 * (s["bias_se"] or 0.0) for s in study["summary"]]
    out["coverage_min"] = entry(
        min(s["coverage"] for s in study["summary"]),
        "share",
        "Lowest coverage of the reported models' 95% intervals, over measures and horizons",
    )
    out["bias_max_abs"] = entry(
        max(abs(b) for b in biases),
        "points",
        "Largest absolute mean error of the reported models' change, over measures and "
        "horizons, percentage points",
    )
    out["bias_bound_max_abs"] = entry(
        max(bounds),
        "points",
        "Largest distance from zero of a mean error's interval (+- 1.96 SE), over measures "
        "and horizons, percentage points",
    )
    if rows is not None:
        halves = halves_summary(rows)
        out["half_seeds"] = entry(
            min(h["n"] for h in halves), "count", "Seeds in each half of the coverage study"
        )
        for h in halves:
            suffix = f"{h['measure']}_{h['horizon_days']}d"
            se = h["bias_se"] or 0.0
            out[f"bias_{h['half']}_half_{suffix}"] = entry(
                h["bias"],
                "points",
                f"Mean error of the {h['measure']} change {h['horizon_days']} days after the "
                f"event on the {h['half']} half of the seeds (+- 1.96 SE)",
                (h["bias"] - 1.96 * se, h["bias"] + 1.96 * se),
            )
        gap = halves_difference(halves)
        out["halves_max_difference"] = entry(
            gap["difference"],
            "points",
            "Largest difference between the two halves' mean errors, over measures and "
            "horizons, percentage points",
        )
    if "timing" in study:
        out["wall_minutes"] = entry(
            round(study["timing"]["wall_seconds"] / 60),
            "count",
            "Wall time of the stored coverage study, minutes (on the machine it names)",
        )
    model = {(m["measure"], m["horizon_days"]): m for m in study.get("summary_model", [])}
    for s in study["summary"]:
        suffix = f"{s['measure']}_{s['horizon_days']}d"
        out.update(_summary_entries(s, suffix, s["measure"]))
        if (s["measure"], s["horizon_days"]) in model:
            m = model[(s["measure"], s["horizon_days"])]
            out[f"coverage_model_{suffix}"] = entry(
                m["coverage"],
                "share",
                f"As coverage_{suffix}, for the main model's own interval (for sales the "
                "AR(1) model's, before the calibration at placebo dates)",
                (m["wilson_low"], m["wilson_high"]),
            )
    for s in study.get("summary_alternative", []):
        # "listings (segmented)": the other model of a measure, against its own truth
        measure, other = s["measure"].rstrip(")").split(" (")
        suffix = f"{other}_{measure}_{s['horizon_days']}d"
        out.update(_summary_entries(s, suffix, f"{measure} ({other.replace('_', ' ')} model)"))
    return out


def _summary_entries(s: dict, suffix: str, what: str) -> dict:
    """Coverage, bias, RMSE and mean width of one row of a coverage summary."""
    from dnmarkets.core.summary import entry

    se = s["bias_se"] or 0.0
    days = s["horizon_days"]
    return {
        f"coverage_{suffix}": entry(
            s["coverage"],
            "share",
            f"Share of seeds whose 95% interval for the {what} change {days} days after the "
            "event covers the truth (Wilson 95% CI)",
            (s["wilson_low"], s["wilson_high"]),
        ),
        f"bias_{suffix}": entry(
            s["bias"],
            "points",
            f"Mean error (estimate - truth, percentage points) of the {what} change {days} "
            "days after the event (+- 1.96 SE)",
            (s["bias"] - 1.96 * se, s["bias"] + 1.96 * se),
        ),
        f"rmse_{suffix}": entry(
            s["rmse"], "points", f"Root mean squared error of the {what} change, percentage points"
        ),
        f"width_{suffix}": entry(
            s["mean_width"],
            "points",
            f"Mean width of the 95% interval of the {what} change, percentage points",
        ),
    }
