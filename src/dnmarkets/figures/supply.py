"""Supply figures: leading EU countries and the EU share by drug category, prices per
gram by origin and quantity discounts.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from dnmarkets.figures.style import (
    FIG_WIDTH,
    SMALL_FONT,
    attach_data,
    figure_data,
    legend_below,
    source_tag,
    value_labels,
)
from dnmarkets.report.labels import category_label


def _drawn(labels, values, low, high, name: str) -> pd.DataFrame:
    """One panel's bars as drawn: label, value and 95% interval."""
    return pd.DataFrame(
        {name: list(labels), "value": list(values), "ci_low": list(low), "ci_high": list(high)}
    )


def _interval_bars(ax, labels, values, low, high, color="#4c72b0", labelled=False):
    """Bars with their 95% intervals; `labelled`: each value written past its interval."""
    y = np.arange(len(labels))
    ax.barh(y, values, color=color, alpha=0.8)
    ax.errorbar(
        values,
        y,
        xerr=[np.subtract(values, low), np.subtract(high, values)],
        fmt="none",
        ecolor="black",
        lw=0.8,
        capsize=2,
    )
    ax.set_yticks(y, labels, fontsize=SMALL_FONT)
    if labelled:
        value_labels(ax, y, values, ends=high)
    ax.invert_yaxis()


def supply_figure(countries: pd.DataFrame, by_category: pd.DataFrame, label: str, real: bool):
    """Leading EU countries' shares of EU drug listings, and the EU share of drug listings
    by drug category, each with its 95% interval."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(FIG_WIDTH, 3.2))
    top = countries.head(10)
    drawn = {}
    if len(top):
        drawn["share of EU drug listings, %"] = _drawn(
            top["country"],
            100 * top["share_eu_listings"],
            100 * top["low"],
            100 * top["high"],
            "country",
        )
        _interval_bars(
            left,
            top["country"],
            100 * top["share_eu_listings"],
            100 * top["low"],
            100 * top["high"],
            labelled=True,
        )
    left.set_xlabel("share of EU drug listings, %")
    left.set_title("Leading EU countries", loc="left")
    if len(by_category):
        cat = by_category.sort_values("share", ascending=False)
        drawn["EU share of drug listings, %"] = _drawn(
            cat["category"].map(category_label),
            100 * cat["share"],
            100 * cat["low"],
            100 * cat["high"],
            "category",
        )
        _interval_bars(
            right,
            cat["category"].map(category_label),
            100 * cat["share"],
            100 * cat["low"],
            100 * cat["high"],
            "#55a868",
            labelled=True,
        )
    right.set_xlabel("EU share of drug listings, %")
    right.set_title("EU share by drug category", loc="left")
    source_tag(fig, label, real)
    fig.tight_layout()
    attach_data(fig, drawn)
    columns = ["panel", "country", "category", "value", "ci_low", "ci_high"]
    return attach_data(fig, figure_data(fig).reindex(columns=columns))


def price_figure(prices: pd.DataFrame, discounts: pd.DataFrame, label: str, real: bool):
    """Median price per gram in euros by drug category and ships-from region (95%
    intervals), and
    the quantity-discount slope per category."""
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(FIG_WIDTH, 3.6), gridspec_kw={"width_ratios": [1.6, 1]}
    )
    regions = [
        r
        for r in ["EU", "North America", "Oceania", "Asia", "Europe (non-EU)"]
        if r in set(prices["region"])
    ]
    palette = dict(zip(regions, sns.color_palette("colorblind", len(regions)), strict=True))
    cats = sorted(set(prices["category"]))
    drawn = {"median EUR per gram": [], "slope of log price on log quantity": []}
    for i, region in enumerate(regions):
        part = prices[prices["region"] == region].set_index("category").reindex(cats)
        y = np.arange(len(cats)) + (i - len(regions) / 2) * 0.14
        ok = part["median_eur_per_gram"].notna().to_numpy()
        drawn["median EUR per gram"].append(
            _drawn(
                part.index[ok],
                part["median_eur_per_gram"][ok],
                part["eur_low"][ok],
                part["eur_high"][ok],
                "category",
            ).assign(region=region)
        )
        left.errorbar(
            part["median_eur_per_gram"][ok],
            y[ok],
            xerr=[
                (part["median_eur_per_gram"] - part["eur_low"])[ok],
                (part["eur_high"] - part["median_eur_per_gram"])[ok],
            ],
            fmt="o",
            ms=3,
            lw=0.8,
            color=palette[region],
            label=region,
        )
    left.set_xscale("log")
    left.set_yticks(np.arange(len(cats)), [category_label(c) for c in cats], fontsize=SMALL_FONT)
    left.invert_yaxis()
    left.set_xlabel("median EUR per gram (log scale)")
    left.set_title("Price per gram by origin", loc="left")
    bottom = legend_below(fig, *left.get_legend_handles_labels(), ncol=3)
    if len(discounts):
        d = discounts.sort_values("slope")
        drawn["slope of log price on log quantity"].append(
            _drawn(d["category"].map(category_label), d["slope"], d["low"], d["high"], "category")
        )
        _interval_bars(
            right, d["category"].map(category_label), d["slope"], d["low"], d["high"], "#dd8452"
        )
        right.axvline(1, color="black", lw=0.6, ls="--")
    right.set_xlabel("slope of log price on log quantity")
    right.set_title("Quantity discount (1 = none)", loc="left")
    source_tag(fig, label, real)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    # the left panel's dots are per category and region; the right's bars per category
    frame = pd.concat(
        [part.assign(panel=name) for name, parts in drawn.items() for part in parts],
        ignore_index=True,
    )
    columns = ["panel", "category", "region", "value", "ci_low", "ci_high"]
    return attach_data(fig, frame.reindex(columns=columns))
