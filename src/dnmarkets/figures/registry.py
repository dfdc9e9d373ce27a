"""Figures of the market registry (real data): markets from opening to closure, and
how long markets live and how they end.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from dnmarkets.figures.style import EVENT_COLOR, mark_events, source_tag

CLOSURE_COLOURS = {
    "raided": "#c44e52",
    "scam": "#dd8452",
    "hacked": "#8172b3",
    "voluntary": "#55a868",
    "unknown": "#8c8c8c",
    "open": "#4c72b0",
}


def registry_timeline_figure(registry: pd.DataFrame, events: dict, as_of: str) -> plt.Figure:
    """One bar per market from opening to closing, coloured by how it closed."""
    frame = registry.dropna(subset=["start"]).copy()
    frame["start"] = pd.to_datetime(frame["start"])
    end = pd.to_datetime(frame["end"])
    frame["open"] = end.isna()
    frame["end"] = end.fillna(pd.Timestamp(as_of))
    frame["colour_key"] = np.where(frame["open"], "open", frame["closure"])
    frame = frame.sort_values(["start", "market"], ascending=[False, True])
    # two columns of bars (earlier markets left), so that the figure fits an A4 page
    half = (len(frame) + 1) // 2
    columns = [frame.iloc[len(frame) - half :], frame.iloc[: len(frame) - half]]
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.13 * half + 1.4), sharex=True)
    for ax, part in zip(axes, columns, strict=True):
        y = np.arange(len(part))
        ax.barh(
            y,
            (part["end"] - part["start"]).dt.days,
            left=mdates.date2num(part["start"]),
            color=[CLOSURE_COLOURS[k] for k in part["colour_key"]],
            height=0.75,
        )
        ax.set_yticks(y, part["market"], fontsize=5.5)
        ax.xaxis_date()
        ax.set_ylim(-1, half)
        ax.tick_params(axis="x", labelsize=7)
        mark_events(ax, events, with_labels=False)
        # the events named on a top axis: labels inside the plot would cover bars
        ordered = sorted(events.values(), key=lambda ev: ev["date"])
        top = ax.secondary_xaxis("top")
        top.set_xticks(
            [mdates.date2num(pd.Timestamp(ev["date"])) for ev in ordered],
            [ev["label"] for ev in ordered],
            fontsize=6,
            rotation=35,
            ha="left",
            color=EVENT_COLOR,
        )
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for k, c in CLOSURE_COLOURS.items()]
    axes[0].legend(
        handles,
        list(CLOSURE_COLOURS),
        fontsize=7,
        frameon=False,
        loc="lower left",
        title="closure",
        title_fontsize=7,
    )
    fig.suptitle("Darknet markets from opening to closure", x=0.01, ha="left", fontweight="bold")
    source_tag(fig, "market registry (gwern.net, 2019)", True)
    fig.tight_layout()
    return fig


def survival_figure(curves: pd.DataFrame) -> plt.Figure:
    """Kaplan–Meier survival of markets with its band, and the cumulative incidence of
    each closure type (competing risks)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.0))
    km = curves[curves["curve"] == "survival"].sort_values("days")
    years = km["days"] / 365.25
    left.step(years, km["survival"], where="post", color="#4c72b0", label="Kaplan-Meier")
    left.fill_between(years, km["low"], km["high"], step="post", color="#4c72b0", alpha=0.2, lw=0)
    left.set_xlabel("years since opening", fontsize=8)
    left.set_ylabel("share of markets still open", fontsize=8)
    left.set_ylim(0, 1.02)
    left.set_title("Market survival (95% band)", fontsize=9, loc="left")
    inc = curves[curves["curve"] == "incidence"]
    palette = dict(
        zip(
            ["scam", "voluntary", "hacked", "raided", "unknown"],
            sns.color_palette("colorblind", 5),
            strict=True,
        )
    )
    for cause, part in inc.groupby("cause", sort=False):
        part = part.sort_values("days")
        right.step(
            part["days"] / 365.25,
            part["survival"],
            where="post",
            label=cause,
            color=palette.get(cause),
        )
    right.set_xlabel("years since opening", fontsize=8)
    right.set_ylabel("share of markets closed by that cause", fontsize=8)
    right.set_ylim(0, 1.02)
    right.set_title("How markets end (cumulative incidence)", fontsize=9, loc="left")
    right.legend(fontsize=7, frameon=False)
    source_tag(fig, "market registry (gwern 2019)", True)
    fig.tight_layout()
    return fig
