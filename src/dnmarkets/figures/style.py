"""Shared look of the figures: style, the data-source tag, event marks, saving.

Every figure names its data source in a corner tag ("SIMULATED DATA" or
"REAL DATA: <label>"), so a figure copied out of the report keeps the warning.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from dnmarkets.core.io import atomic_path  # noqa: E402

EVENT_COLOR = "#b2182b"


def setup_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight", "axes.titleweight": "bold"})


def source_tag(ax_or_fig, label: str, real: bool) -> None:
    """Stamp the data source on a figure."""
    text = f"REAL DATA: {label}" if real else f"SIMULATED DATA ({label})"
    fig = ax_or_fig if isinstance(ax_or_fig, plt.Figure) else ax_or_fig.figure
    fig.text(
        0.995,
        0.005,
        text,
        ha="right",
        va="bottom",
        fontsize=8,
        color="#444444" if real else "#b35806",
        fontweight="bold",
    )


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """PNG without timestamps or software tags, so reruns give the same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150, metadata={"Software": None}, format=path.suffix[1:])
    plt.close(fig)
    return path


def mark_events(ax, events: dict, with_labels: bool = True) -> None:
    """Vertical lines (and a shaded span for multi-day events) at event dates."""
    for i, (_, ev) in enumerate(sorted(events.items(), key=lambda kv: kv[1]["date"])):
        start = pd.Timestamp(ev["date"])
        ax.axvline(start, color=EVENT_COLOR, lw=1.2, ls="--", zorder=0)
        if ev.get("end_date"):
            ax.axvspan(start, pd.Timestamp(ev["end_date"]), color=EVENT_COLOR, alpha=0.08, zorder=0)
        if with_labels:
            ax.annotate(
                ev["label"],
                xy=(start, 1),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12 - 11 * i),
                textcoords="offset points",
                fontsize=8,
                color=EVENT_COLOR,
            )


def parse_events(events_json: str) -> dict:
    return json.loads(events_json) if events_json else {}
