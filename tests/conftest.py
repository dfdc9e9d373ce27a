"""Shared fixtures: a copy of the project with a tiny configuration, run once."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import settings

# Property-based tests: a bounded number of examples and no per-example deadline
# (2 shared cores), so that they run in well under a minute. HYPOTHESIS_PROFILE
# selects another profile (e.g. "dev", for a longer search by hand).
settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile("dev", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
# The local mirror of the real datasets (../shared/data beside the project, as in
# CI); DNM_MIRROR overrides it. Tests on real data fail, never skip, without it.
MIRROR = Path(os.environ.get("DNM_MIRROR", ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def mirror() -> Path:
    assert (MIRROR / "MANIFEST.tsv").is_file(), (
        f"real-data mirror not found at {MIRROR}: put the shared data there or set DNM_MIRROR"
    )
    return MIRROR


PROJECT_ITEMS = [
    "Snakefile",
    "config.yaml",
    "rules",
    "scripts",
    "src",
    "notebooks",
    "report",
    "schemas",
    "profiles",
    "envs",
    "uv.lock",
    "pyproject.toml",
    "data/sources.tsv",
    "data/studies/its_coverage.json",  # the stored multi-seed study the report shows
    "data/studies/its_coverage.csv",  # its per-seed rows (the halves of the seeds)
]


def tiny_config() -> dict:
    """The default config, shortened and scaled down to run in well under a minute."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    sim = cfg["datasets"]["sim2017"]["simulation"]
    sim.update(start="2017-04-01", end="2017-10-31", scale=0.15)
    sim["hostile_title_share"] = 0.005  # enough hostile titles for the untrusted-text tests
    cfg["analysis"]["bootstrap_replicates"] = 200
    return cfg


def make_project(dest: Path, config: dict) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for item in PROJECT_ITEMS:
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(
                src, dest / item, ignore=shutil.ignore_patterns("__pycache__", "_build")
            )
        else:
            (dest / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / item)
    (dest / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


# Real darknet markets (spelled as published; spaces optional when matched): no
# simulated output may name one (tests/sim/test_fictitious_names.py, the e2e run).
# Names that are common words (Kingdom: "United Kingdom"; Point, Grams) are left out.
REAL_MARKETS = [
    "AlphaBay", "Dream", "Hansa", "Valhalla", "Silkkitie", "TradeRoute", "Wall Street",
    "Tochka", "Berlusconi", "Agora", "Evolution", "Silk Road", "Nucleus",
    "Abraxas", "Outlaw", "Cloud-9", "Hydra", "Middle Earth", "Oxygen", "Sheep",
    "Black Market Reloaded", "Utopia", "Pandora", "Empire", "Nightmare", "Cryptonia",
    "Olympus", "Apollon", "Cannazon", "White House", "Torrez", "Monopoly",
    "Dark0de", "Bohemia", "Archetyp", "Incognito", "Samsara", "Atlantis",
    "Diabolus", "Crypto Market",
]  # fmt: skip
_PATTERN = re.compile(
    r"(?<![a-z0-9])("
    + "|".join(re.escape(n.lower()).replace(r"\ ", r"[\s_-]?") for n in REAL_MARKETS)
    + r")(?![a-z0-9])",
    re.IGNORECASE,
)


def real_market_names(text: str) -> list[str]:
    """Real market names in `text` as whole words (`wall street`, `wallstreet`, `Wall_Street`)."""
    return sorted({m.group(1).lower() for m in _PATTERN.finditer(text)})


def strings_of(node):
    """Every key and string value of a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings_of(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_of(value)
    elif isinstance(node, str):
        yield node


SESSION_EPOCH = int(time.time())


def snakemake_env(project: Path) -> dict[str, str]:
    """Environment for a workflow run in `project`: this interpreter's tools, its package."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(project / "src")
    # one report date for every run of a test session, even across midnight
    env["SOURCE_DATE_EPOCH"] = str(SESSION_EPOCH)
    return env


SNAKEMAKE = [sys.executable, "-m", "snakemake", "--cores", "2"]


def run_snakemake(
    project: Path, *args: str, timeout: int = 900, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """Run the workflow in `project`; `prefix` wraps the command (e.g. `unshare -n`)."""
    return subprocess.run(
        [*prefix, *SNAKEMAKE, *args],
        cwd=project,
        env=snakemake_env(project),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def result_hashes(project: Path) -> dict[str, str]:
    """sha256 of every result table (Parquet, JSON, TSV) under results/."""
    out = {}
    for path in sorted((project / "results").rglob("*")):
        if path.suffix in {".parquet", ".json", ".tsv"} and not {"_build", "benchmarks"} & set(
            path.parts
        ):
            out[str(path.relative_to(project))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def assert_rows_balanced(result) -> int:
    """raw = clean + quarantined per file, and every (file, row) is in exactly one of
    the clean tables or the quarantine (a CleanResult). Returns the raw row count."""
    acc = result.accounting
    assert (acc["raw_rows"] == acc["clean_rows"] + acc["quarantined_rows"]).all()
    seen = pd.concat(
        [t[["raw_file", "raw_row"]] for t in (result.listings, result.vendors, result.quarantine)]
    )
    assert not seen.duplicated().any()
    assert len(seen) == acc["raw_rows"].sum()
    return int(acc["raw_rows"].sum())


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished pipeline run on the tiny configuration (shared by the e2e tests)."""
    project = make_project(tmp_path_factory.mktemp("tiny") / "project", tiny_config())
    proc = run_snakemake(project)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return project


# HTML checks shared by the renderer and end-to-end tests
class Refs(HTMLParser):
    """ids, src/href references, images and script tags of an HTML page."""

    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.ids: set[str] = set()
        self.images: list[dict] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in ("src", "href"):
            if attrs.get(name):
                self.refs.append((tag, attrs[name]))
        if tag == "img":
            self.images.append(attrs)
        if tag == "script":
            self.scripts += 1


def listings_frame(rows: list[dict]) -> pd.DataFrame:
    """Hand-made clean listings with the clean table's nullable dtypes."""
    frame = pd.DataFrame(rows)
    frame["ships_from_eu"] = frame["ships_from_eu"].astype("boolean")
    frame["feedback_count"] = frame["feedback_count"].astype("Int64")
    return frame


def parse_html(text: str) -> Refs:
    parser = Refs()
    parser.feed(text)
    return parser


@pytest.fixture()
def figure_style():
    """The project's figure style for a test that draws; its figures closed after."""
    import matplotlib.pyplot as plt

    from dnmarkets.figures import style

    style.setup_style()
    yield
    plt.close("all")
