"""Figures of market resilience at an event: the interrupted time series with its
counterfactual, and the change at the event date against placebo dates.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dnmarkets.figures.style import (
    FIG_WIDTH,
    SMALL_FONT,
    attach_data,
    drawn_columns,
    event_colour,
    mark_events,
    source_tag,
)

# the columns of a series at an event that its_panel draws
ITS_COLUMNS = ("date", "observed", "fitted", "counterfactual", "cf_low", "cf_high")


def resilience_figure(series: pd.DataFrame, event: dict, label: str, real: bool) -> plt.Figure:
    """Observed series, the segmented fit and the counterfactual band, per measure."""
    measures = list(dict.fromkeys(series["measure"]))
    fig, axes = plt.subplots(1, len(measures), figsize=(FIG_WIDTH, 3.0), squeeze=False)
    titles = {
        "listings": "Active listings",
        "vendors": "Active vendors",
        "sales": "Est. sales (USD/day)",
    }
    for ax, measure in zip(axes[0], measures, strict=True):
        part = series[series["measure"] == measure].assign(date=lambda d: pd.to_datetime(d["date"]))
        its_panel(ax, part, event, titles.get(measure, measure))
    axes[0][0].legend(fontsize=SMALL_FONT, frameon=False, loc="lower left")
    fig.suptitle(f"{event['label']}: ecosystem activity and the counterfactual", x=0.01, ha="left")
    source_tag(fig, label, real)
    fig.tight_layout()
    return attach_data(fig, drawn_columns(series, ("measure", *ITS_COLUMNS)))


def its_panel(ax, part: pd.DataFrame, event: dict, title: str, modelled: bool = True) -> None:
    """One series at an event: the counterfactual band and line, the observed days and
    the fitted model (only the observed days where not `modelled`), the event marked."""
    if modelled:
        ax.fill_between(
            part["date"],
            part["cf_low"],
            part["cf_high"],
            color="#999999",
            alpha=0.3,
            lw=0,
            label="counterfactual (95%)",
        )
        ax.plot(part["date"], part["counterfactual"], color="#666666", lw=1, ls="--")
    ax.scatter(part["date"], part["observed"], s=3, color="#4c72b0", label="observed")
    if modelled:
        ax.plot(part["date"], part["fitted"], color="#c44e52", lw=1.3, label="model")
    ax.set_title(title, loc="left")
    ax.set_ylim(bottom=0)
    locator = mdates.AutoDateLocator(maxticks=3)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    mark_events(ax, {"e": event}, with_labels=False)


def placebo_figure(placebo: pd.DataFrame, at_event: dict, event: dict, label: str, real_data: bool):
    """Placebo effects with their intervals (grey), sorted, and the event date's (red)."""
    titles = {"listings": "Active listings", "vendors": "Active vendors", "sales": "Est. sales"}
    measures = list(dict.fromkeys(placebo["measure"]))
    drawn = [drawn_columns(placebo, ("measure", "date", "estimate", "ci_low", "ci_high"))]
    drawn[0] = drawn[0].assign(kind="placebo date")
    fig, axes = plt.subplots(1, len(measures), figsize=(FIG_WIDTH, 3.0), squeeze=False)
    for ax, measure in zip(axes[0], measures, strict=True):
        part = placebo[placebo["measure"] == measure].sort_values("estimate")
        ypos = np.arange(len(part))
        ax.errorbar(
            part["estimate"],
            ypos,
            xerr=[part["estimate"] - part["ci_low"], part["ci_high"] - part["estimate"]],
            fmt="o",
            ms=3,
            color="#777777",
            lw=0.8,
            label="placebo dates (95% CI)",
        )
        if measure in at_event:
            est, low, high = at_event[measure]
            drawn.append(
                pd.DataFrame(
                    {
                        "measure": [measure],
                        "date": [event.get("date")],
                        "estimate": [est],
                        "ci_low": [low],
                        "ci_high": [high],
                        "kind": [event["label"]],
                    }
                )
            )
            ax.errorbar(
                [est],
                [len(part) + 1],
                xerr=[[est - low], [high - est]],
                fmt="s",
                ms=5,
                color=event_colour(event),
                lw=1.5,
                label=event["label"],
            )
        ax.axvline(0, color="black", lw=0.6)
        ax.set_yticks([])
        ax.set_title(titles.get(measure, measure), loc="left")
        ax.set_xlabel("change at the date, %")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=SMALL_FONT, frameon=False, loc="upper right", ncol=2)
    fig.suptitle(
        f"{event['label']}: change at the event date against placebo dates", x=0.01, ha="left"
    )
    source_tag(fig, label, real_data)
    fig.tight_layout()
    frame = pd.concat(drawn, ignore_index=True)
    return attach_data(fig, frame[["kind", *[c for c in frame.columns if c != "kind"]]])
