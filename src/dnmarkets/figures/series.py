"""Figures of real daily series at an event: each market's series in the window,
with the segmented fit and its counterfactual where the series could be modelled.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd

from dnmarkets.figures.style import mark_events, source_tag


def series_event_figure(fitted: pd.DataFrame, event: dict, label: str, unit: str) -> plt.Figure:
    """One panel per series (`key`) at the event, titled by its `label`: observed days,
    and where the series was modelled the fit and the counterfactual band (95%)."""
    keys = list(dict.fromkeys(fitted["key"]))
    fig, axes = plt.subplots(1, len(keys), figsize=(max(3.6 * len(keys), 6.0), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        part = fitted[fitted["key"] == key].assign(date=lambda d: pd.to_datetime(d["date"]))
        if "counterfactual" in part and part["counterfactual"].notna().any():
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
            ax.plot(part["date"], part["fitted"], color="#c44e52", lw=1.3, label="model")
        ax.scatter(part["date"], part["observed"], s=3, color="#4c72b0", label="observed")
        ax.set_title(part["label"].iloc[0], fontsize=9, loc="left")
        ax.set_ylabel(unit, fontsize=8)
        ax.set_ylim(bottom=0)
        locator = mdates.AutoDateLocator(maxticks=4)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        mark_events(ax, {"e": event}, with_labels=False)
    axes[0][0].legend(fontsize=7, frameon=False, loc="upper left")
    fig.suptitle(event["label"], x=0.01, ha="left", fontsize=10)
    source_tag(fig, label, True)
    fig.tight_layout()
    return fig
