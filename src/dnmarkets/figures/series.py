"""Figures of real daily series at an event: each market's series in the window,
with the segmented fit and its counterfactual where the series could be modelled.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import pandas as pd

from dnmarkets.figures.resilience import ITS_COLUMNS, its_panel
from dnmarkets.figures.style import FIG_WIDTH, SMALL_FONT, attach_data, drawn_columns, source_tag


def series_event_figure(fitted: pd.DataFrame, event: dict, label: str, unit: str) -> plt.Figure:
    """One panel per series (`key`) at the event, titled by its `label`: observed days,
    and where the series was modelled the fit and the counterfactual band (95%)."""
    keys = list(dict.fromkeys(fitted["key"]))
    ncols = min(len(keys), 3)  # at most three panels a row: each at least 2 inches wide
    nrows = -(-len(keys) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(FIG_WIDTH, 2.8 * nrows + 0.4), squeeze=False)
    for ax in axes.flat[len(keys) :]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, keys, strict=False):
        part = fitted[fitted["key"] == key].assign(date=lambda d: pd.to_datetime(d["date"]))
        modelled = "counterfactual" in part and part["counterfactual"].notna().any()
        # a title wider than its panel would widen the figure, and shrink its print
        title = textwrap.fill(part["label"].iloc[0], int(11 * FIG_WIDTH / ncols))
        its_panel(ax, part, event, title, modelled)
        ax.set_ylabel(unit)
    axes[0][0].legend(fontsize=SMALL_FONT, frameon=False, loc="upper left")
    fig.suptitle(event["label"], x=0.01, ha="left")
    source_tag(fig, label, True)
    fig.tight_layout()
    return attach_data(fig, drawn_columns(fitted, ("key", "label", *ITS_COLUMNS)))
