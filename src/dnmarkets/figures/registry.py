"""Figures of the market registry (real data): markets from opening to closure, and
how long markets live and how they end.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dnmarkets.figures.style import (
    CLOSURE_COLOURS,
    CLOSURE_LABELS,
    FIG_WIDTH,
    SMALL_FONT,
    attach_data,
    closure_colour,
    drawn_columns,
    event_colour,
    legend_below,
    mark_events,
    source_tag,
)

# inches per market row: a label of SMALL_FONT points and a gap
ROW_HEIGHT = 0.135


def registry_timeline_figure(registry: pd.DataFrame, events: dict, as_of: str) -> plt.Figure:
    """One bar per market from opening to closing, coloured by how it closed: two
    columns (earlier markets left), full text width and page-high at most, so that
    every market's name prints at SMALL_FONT."""
    frame = registry.dropna(subset=["start"]).copy()
    frame["start"] = pd.to_datetime(frame["start"])
    end = pd.to_datetime(frame["end"])
    frame["open"] = end.isna()
    frame["end"] = end.fillna(pd.Timestamp(as_of))
    frame["colour_key"] = np.where(frame["open"], "open", frame["closure"])
    frame = frame.sort_values(["start", "market"], ascending=[False, True])
    half = (len(frame) + 1) // 2
    columns = [frame.iloc[len(frame) - half :], frame.iloc[: len(frame) - half]]
    fig, axes = plt.subplots(
        1, 2, figsize=(FIG_WIDTH, ROW_HEIGHT * half + 1.4 + 0.15 * len(events)), sharex=True
    )
    ordered = sorted(events.values(), key=lambda ev: ev["date"])
    for ax, part in zip(axes, columns, strict=True):
        y = np.arange(len(part))
        ax.barh(
            y,
            (part["end"] - part["start"]).dt.days,
            left=mdates.date2num(part["start"]),
            color=[CLOSURE_COLOURS[k] for k in part["colour_key"]],
            height=0.75,
        )
        # a dot at the closing day: a market open for days has no visible bar
        ax.scatter(
            mdates.date2num(part["end"]),
            y,
            s=9,
            color=[CLOSURE_COLOURS[k] for k in part["colour_key"]],
            zorder=3,
        )
        ax.set_yticks(y, part["market"], fontsize=SMALL_FONT)
        ax.grid(axis="y", visible=False)
        ax.xaxis_date()
        locator = mdates.YearLocator(3)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
        ax.set_ylim(-1, half)
        mark_events(ax, events, with_labels=False)
        # the events named above the plot, one line each: labels inside the plot
        # would cover bars, and events months apart would overlap side by side
        for i, ev in enumerate(reversed(ordered)):
            ax.annotate(
                ev["label"],
                xy=(pd.Timestamp(ev["date"]), 1),
                xycoords=("data", "axes fraction"),
                xytext=(0, 3 + 11 * i),
                textcoords="offset points",
                fontsize=SMALL_FONT,
                color=event_colour(ev),
                annotation_clip=False,
            )
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in CLOSURE_COLOURS.values()]
    labels = [CLOSURE_LABELS[k] for k in CLOSURE_COLOURS]
    bottom = legend_below(fig, handles, labels, ncol=len(handles))
    fig.suptitle("Darknet markets from opening to closure", x=0.01, ha="left", fontweight="bold")
    source_tag(fig, "market registry (gwern.net, 2019)", True)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    drawn = frame.sort_values(["start", "market"]).rename(columns={"colour_key": "shown_as"})
    return attach_data(fig, drawn[["market", "start", "end", "shown_as"]])


def survival_figure(curves: pd.DataFrame) -> plt.Figure:
    """Kaplan–Meier survival of markets with its band, and the cumulative incidence of
    each closure type (competing risks)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(FIG_WIDTH, 3.0))
    km = curves[curves["curve"] == "survival"].sort_values("days")
    years = km["days"] / 365.25
    still_open = CLOSURE_COLOURS["open"]
    left.step(years, km["survival"], where="post", color=still_open, label="Kaplan-Meier")
    left.fill_between(years, km["low"], km["high"], step="post", color=still_open, alpha=0.2, lw=0)
    left.set_xlabel("years since opening")
    left.set_ylabel("share of markets still open")
    left.set_ylim(0, 1.02)
    left.set_title("Market survival (95% band)", loc="left")
    inc = curves[curves["curve"] == "incidence"]
    for cause, part in inc.groupby("cause", sort=False):
        part = part.sort_values("days")
        right.step(
            part["days"] / 365.25,
            part["survival"],
            where="post",
            label=CLOSURE_LABELS.get(cause, cause),
            color=closure_colour(cause),
        )
    right.set_xlabel("years since opening")
    right.set_ylabel("share of markets closed by that cause")
    right.set_ylim(0, 1.02)
    right.set_title("How markets end (cumulative incidence)", loc="left")
    right.legend(frameon=False)
    source_tag(fig, "market registry (gwern 2019)", True)
    fig.tight_layout()
    drawn = curves[curves["curve"].isin(["survival", "incidence"])]
    columns = ("curve", "cause", "days", "survival", "low", "high")
    return attach_data(fig, drawn_columns(drawn, columns))
