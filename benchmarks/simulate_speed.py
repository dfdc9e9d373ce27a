"""Time the simulator and check that its files stay byte-identical (issue 25).

Not a test. ``run`` simulates the default configuration at the given scales (and
seeds), in this process, and prints wall and CPU seconds and the peak memory of
each; with ``--save DIR`` it stores the sha256 of every file written (snapshots
and ground truth), with ``--compare DIR`` it checks them against a stored run
and exits non-zero on any difference.

    nice -n 10 .venv/bin/python benchmarks/simulate_speed.py --scales 1 0.2:101 --save /tmp/ref
    nice -n 10 .venv/bin/python benchmarks/simulate_speed.py --scales 1 0.2:101 --compare /tmp/ref
    nice -n 10 .venv/bin/python benchmarks/simulate_speed.py --scales 10 --profile /tmp/sim.prof

A scale is ``SCALE`` or ``SCALE:SEED`` (the default seed is config.yaml's).
``--record FILE`` adds the figures (date, commit, machine, load average) to a
JSON list, e.g. ``benchmarks/output/simulate_speed.json``.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import datetime as dt
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from machine import describe  # noqa: E402

from dnmarkets.sim.simulate import simulate  # noqa: E402


def default_simulation() -> dict:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    return copy.deepcopy(cfg["datasets"]["sim2017"]["simulation"])


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (relative POSIX path -> hex digest)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_one(sim: dict, out: Path, profile: Path | None, threads: int) -> dict:
    """Simulate into `out`; wall and CPU seconds (this process, all its threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    kw = {"threads": threads} if threads > 1 else {}  # (older versions had no threads)
    if profile is None:
        simulate(sim, out, **kw)
    else:
        prof = cProfile.Profile(time.process_time)  # CPU time: the machine is shared
        prof.runcall(simulate, sim, out, **kw)
        prof.dump_stats(profile)
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", default=["1"], help="SCALE or SCALE:SEED")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--save", type=Path, help="store the files' sha256 here")
    group.add_argument("--compare", type=Path, help="compare the files' sha256 with a stored run")
    parser.add_argument("--profile", type=Path, help="cProfile output (one scale only)")
    parser.add_argument("--threads", type=int, default=1, help="simulate's threads")
    parser.add_argument("--record", type=Path, help="add the figures to this JSON list")
    parser.add_argument("--commit", help="the commit to record (an exported copy has no git)")
    parser.add_argument("--keep", type=Path, help="write the files here instead of a temp dir")
    args = parser.parse_args()
    failures = 0
    records = []
    for item in args.scales:
        scale, _, seed = item.partition(":")
        sim = default_simulation()
        sim["scale"] = float(scale)
        if seed:
            sim["seed"] = int(seed)
        name = f"scale{float(scale):g}_seed{sim['seed']}"  # (threads change no file)
        with tempfile.TemporaryDirectory(prefix="simspeed-") as tmp:
            out = (args.keep / name) if args.keep else Path(tmp) / name
            figures = run_one(sim, out, args.profile, args.threads)
            hashes = file_hashes(out)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{name}: {figures['wall_s']:.1f} s wall, {figures['cpu_s']:.1f} s CPU, "
            f"{len(hashes)} files, process peak so far {peak:.0f} MB",
            flush=True,
        )
        records.append(
            {
                "scale": float(scale),
                "seed": sim["seed"],
                "threads": args.threads,
                "wall_s": round(figures["wall_s"], 1),
                "cpu_s": round(figures["cpu_s"], 1),
                "peak_rss_mb": round(peak),  # the process's, over the scales run so far
                "files": len(hashes),
                "load_average_after": round(os.getloadavg()[0], 1),
            }
        )
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / f"{name}.json").write_text(json.dumps(hashes, indent=1), encoding="utf-8")
        if args.compare:
            expected = json.loads((args.compare / f"{name}.json").read_text(encoding="utf-8"))
            differ = sorted(
                k for k in expected.keys() | hashes.keys() if expected.get(k) != hashes.get(k)
            )
            print(f"  {len(expected)} stored files, {len(differ)} differ", flush=True)
            for path in differ[:20]:
                print(f"  differs: {path}")
            failures += bool(differ)
    if args.record:
        commit = (
            args.commit
            or subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
        )
        stored = json.loads(args.record.read_text(encoding="utf-8")) if args.record.exists() else []
        stored.append(
            {
                "date": dt.date.today().isoformat(),
                "commit": commit,
                "machine": describe(),
                "runs": records,
            }
        )
        args.record.write_text(json.dumps(stored, indent=1) + "\n", encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
