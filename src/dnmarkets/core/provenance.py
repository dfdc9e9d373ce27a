"""What a reviewer needs to trust a rerun: versions, inputs, config, the DAG."""

from __future__ import annotations

import importlib.metadata as md
import platform
import re
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from dnmarkets.core.io import atomic_path, sha256_file  # noqa: E402

KEY_PACKAGES = [
    "snakemake",
    "pandas",
    "pyarrow",
    "numpy",
    "scipy",
    "statsmodels",
    "seaborn",
    "matplotlib",
    "papermill",
    "ipykernel",
    "nbformat",
    "pandera",
    "pypandoc-binary",
    "typst",
]


def software_versions() -> list[dict]:
    rows = [{"software": "Python", "version": platform.python_version()}]
    for name in KEY_PACKAGES:
        try:
            rows.append({"software": name, "version": md.version(name)})
        except md.PackageNotFoundError:
            rows.append({"software": name, "version": "not installed"})
    try:
        import pypandoc

        rows.append({"software": "pandoc", "version": pypandoc.get_pandoc_version()})
    except (ImportError, OSError):
        pass
    return rows


def code_version(root: Path = Path(".")) -> str:
    """Git commit of the code (with '+dirty' for local changes), or 'unknown'."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"


def dataset_inputs(dataset: str, manifest_path: Path) -> dict:
    """Summary of a dataset's raw files from its checksum manifest."""
    manifest = pd.read_csv(manifest_path, sep="\t")
    return {
        "dataset": dataset,
        "files": int(len(manifest)),
        "rows": int(manifest["rows"].sum()) if "rows" in manifest else None,
        "manifest": str(manifest_path),
        "manifest_sha256": sha256_file(manifest_path),
    }


def parse_rulegraph(dot: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Nodes (id -> rule name) and edges (from, to) of `snakemake --rulegraph` output."""
    nodes = dict(re.findall(r'^\s*(\d+)\[label = "([^"]+)"', dot, flags=re.M))
    edges = re.findall(r"^\s*(\d+) -> (\d+)", dot, flags=re.M)
    if not nodes:
        raise ValueError("no rules found in the rule graph")
    return nodes, edges


def draw_rulegraph(dot: str, out_png: Path) -> Path:
    """Draw the rule graph in layers (longest path from the sources), top to bottom."""
    nodes, edges = parse_rulegraph(dot)
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    for src, dst in edges:
        parents[dst].append(src)
    depth: dict[str, int] = {}

    def level(node: str) -> int:
        if node not in depth:
            depth[node] = 1 + max((level(p) for p in parents[node]), default=-1)
        return depth[node]

    for node in nodes:
        level(node)
    layers: dict[int, list[str]] = {}
    for node in sorted(nodes, key=lambda n: nodes[n]):
        layers.setdefault(depth[node], []).append(node)
    pos = {}
    width = max(len(v) for v in layers.values())
    for d, members in layers.items():
        for i, node in enumerate(members):
            pos[node] = ((i + 0.5) * width / len(members), -d)
    fig, ax = plt.subplots(figsize=(max(6, 1.9 * width), 0.9 * (len(layers) + 1)))
    for src, dst in edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        ax.annotate(
            "",
            xy=(x1, y1 + 0.18),
            xytext=(x0, y0 - 0.18),
            arrowprops={"arrowstyle": "->", "color": "#777777", "lw": 1},
        )
    for node, (x, y) in pos.items():
        ax.text(
            x,
            y,
            nodes[node],
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.35", "fc": "#eef3fb", "ec": "#4c72b0"},
        )
    ax.set_xlim(-0.2, width + 0.2)
    ax.set_ylim(-len(layers) + 0.4, 0.6)
    ax.axis("off")
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata={"Software": None}, format="png")
    plt.close(fig)
    # what the figure draws, for its data link in the HTML report: one row per arrow
    drawn = pd.DataFrame(
        [(nodes[a], nodes[b]) for a, b in edges], columns=["from_rule", "to_rule"]
    ).sort_values(["from_rule", "to_rule"])
    with atomic_path(Path(out_png).with_suffix(".csv")) as tmp:
        drawn.to_csv(tmp, index=False, lineterminator="\n")
    return out_png


# a setting whose value would not fit a table cell is named, not shown: the full
# configuration is published beside the report (config.yaml)
_CELL_CHARS = 60


def _cell(value) -> str:
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        text = ", ".join(map(str, value))
    elif isinstance(value, dict | list):
        return f"({len(value)} entries, in config.yaml)"
    else:
        text = "" if value is None else str(value)
    return text if len(text) <= _CELL_CHARS else f"({len(text)} characters, in config.yaml)"


def flat_settings(section: str, tree: dict, depth: int = 3) -> list[dict]:
    """Rows (Section, Setting, Value) of a nested config mapping, keys joined by dots
    down to `depth` levels; deeper or long values are summarised by `_cell`."""
    rows = []

    def walk(prefix: str, node, level: int) -> None:
        if isinstance(node, dict) and node and level < depth:
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value, level + 1)
        else:
            rows.append({"Section": section, "Setting": prefix, "Value": _cell(node)})

    walk("", tree, 0)
    return rows


def config_overview(config: dict) -> dict[str, pd.DataFrame]:
    """The configuration of a run as three short tables for the appendix: datasets (one
    row each), events, and the cleaning, analysis and simulation settings."""
    datasets, settings = [], []
    for name, ds in config["datasets"].items():
        if ds["kind"] == "simulated":
            sim = ds["simulation"]
            source = f"simulated, {sim['start']} to {sim['end']}, seed {sim['seed']}"
            sim_rows = flat_settings(f"{name} simulation", sim)
            settings += [r for r in sim_rows if r["Setting"] != "markets"]
        else:
            tables = [t for t in ("listings", "vendors") if t in ds]
            source = "; ".join(f"{t}: {ds[t]['files']}" for t in tables)
        datasets.append(
            {
                "Dataset": name,
                "Label": ds["label"],
                "Kind": ds["kind"],
                "Real": "yes" if ds.get("real") else "no",
                "Files": source,
                "Months per partition": ds["partition_months"],
            }
        )
    events = [
        {
            "Event": ev["label"],
            "Date": ev["date"],
            "End": ev.get("end_date", ""),
            "Markets closed": ", ".join(ev["markets_closed"]),
            "Datasets": ", ".join(ev["datasets"]),
        }
        for ev in config["events"].values()
    ]
    run_wide = [flat_settings(s, config.get(s, {})) for s in ("cleaning", "analysis")]
    settings = [row for rows in run_wide for row in rows] + settings
    return {
        "datasets": pd.DataFrame(datasets),
        "events": pd.DataFrame(events),
        "settings": pd.DataFrame(settings),
    }
