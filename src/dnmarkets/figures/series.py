"""Figures of real daily series at an event: each market's series in the window,
with the segmented fit and its counterfactual where the series could be modelled.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from dnmarkets.figures.resilience import its_panel
from dnmarkets.figures.style import source_tag


def series_event_figure(fitted: pd.DataFrame, event: dict, label: str, unit: str) -> plt.Figure:
    """One panel per series (`key`) at the event, titled by its `label`: observed days,
    and where the series was modelled the fit and the counterfactual band (95%)."""
    keys = list(dict.fromkeys(fitted["key"]))
    fig, axes = plt.subplots(1, len(keys), figsize=(max(3.6 * len(keys), 6.0), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        part = fitted[fitted["key"] == key].assign(date=lambda d: pd.to_datetime(d["date"]))
        modelled = "counterfactual" in part and part["counterfactual"].notna().any()
        its_panel(ax, part, event, part["label"].iloc[0], modelled)
        ax.set_ylabel(unit, fontsize=8)
    axes[0][0].legend(fontsize=7, frameon=False, loc="upper left")
    fig.suptitle(event["label"], x=0.01, ha="left", fontsize=10)
    source_tag(fig, label, True)
    fig.tight_layout()
    return fig
