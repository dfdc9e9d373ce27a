"""Landscape figures: market activity, drug categories, ships-from regions and crawl
completeness (coverage, and the crawls against an independent listing count).
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from dnmarkets.figures.style import (
    FIG_WIDTH,
    SMALL_FONT,
    attach_data,
    legend_below,
    mark_events,
    source_tag,
    value_labels,
)
from dnmarkets.report.labels import category_label


def activity_figure(
    market_day: pd.DataFrame, events: dict, label: str, real: bool, names: dict | None = None
) -> plt.Figure:
    """Active listings and active vendors per market over time (weekly means); the legend
    shows `names` (display name by market slug) where given."""
    frame = market_day.assign(date=pd.to_datetime(market_day["date"]))
    # Outside a market's crawled window a zero means "not crawled": leave a gap.
    frame[["active_listings", "active_vendors"]] = frame[
        ["active_listings", "active_vendors"]
    ].where(frame["observed"])
    weekly = (
        frame.set_index("date")
        .groupby("market")[["active_listings", "active_vendors"]]
        .resample("W")
        .mean()
        .reset_index()
    )
    order = (
        weekly.groupby("market")["active_listings"]
        .max()
        .sort_values(ascending=False)
        .index.tolist()
    )
    fig, axes = plt.subplots(2, 1, figsize=(FIG_WIDTH, 6.2), sharex=True)
    palette = sns.color_palette("tab10", n_colors=max(len(order), 1))
    for ax, column, title in (
        (axes[0], "active_listings", "Active listings"),
        (axes[1], "active_vendors", "Active vendors"),
    ):
        sns.lineplot(
            data=weekly,
            x="date",
            y=column,
            hue="market",
            hue_order=order,
            palette=palette,
            ax=ax,
            lw=1.4,
            legend=False,
        )
        ax.set_ylabel(title + " (weekly mean)")
        ax.set_xlabel("")
        mark_events(ax, events, with_labels=ax is axes[0])
    handles = [plt.Line2D([], [], color=c, lw=1.4) for c in palette]
    bottom = legend_below(fig, handles, [(names or {}).get(m, m) for m in order], ncol=4)
    fig.suptitle("Market activity over time", x=0.01, ha="left")
    source_tag(fig, label, real)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return attach_data(fig, weekly[["market", "date", "active_listings", "active_vendors"]])


def category_figure(categories: pd.DataFrame, label: str, real: bool) -> plt.Figure:
    """Share of drug listings by drug category."""
    table = categories.sort_values("share_listings", ascending=True)
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, 0.3 * len(table) + 1.3))
    names = table["drug_category"].map(category_label)
    ax.barh(names, table["share_listings"] * 100, color="#4c72b0")
    value_labels(ax, range(len(table)), table["share_listings"] * 100)
    ax.set_xlabel("Share of drug listings (%)")
    ax.set_ylabel("")
    ax.set_title("Drug listings by category", loc="left")
    source_tag(fig, label, real)
    fig.tight_layout()
    # the code for machines, the name as the chart shows it
    return attach_data(
        fig, table[["drug_category", "share_listings"]].assign(category_name=names.to_numpy())
    )


def region_figure(regions: pd.DataFrame, eu_share: dict, label: str, real: bool) -> plt.Figure:
    """Drug listings and estimated sales by ships-from region, with the EU share."""
    table = regions.sort_values("share_listings", ascending=True)
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, 0.42 * len(table) + 1.8))
    y = range(len(table))
    has_sales = bool(table["est_sales_usd"].sum() > 0)  # no feedback counts: listings only
    offset, height = (0.2, 0.4) if has_sales else (0.0, 0.6)
    ax.barh(
        [v - offset for v in y],
        table["share_listings"] * 100,
        height=height,
        label="listings",
        color="#4c72b0",
    )
    value_labels(ax, [v - offset for v in y], table["share_listings"] * 100)
    if has_sales:
        ax.barh(
            [v + offset for v in y],
            table["share_sales"] * 100,
            height=height,
            label="estimated sales",
            color="#dd8452",
        )
        value_labels(ax, [v + offset for v in y], table["share_sales"] * 100)
    ax.set_yticks(list(y), table["ships_from_region"])
    ax.set_xlabel(
        "Share of drug listings / estimated drug sales (%)"
        if has_sales
        else "Share of drug listings (%)"
    )
    ax.legend(loc="lower right", frameon=False)
    title = "Supply by ships-from region"
    if eu_share.get("value") is not None:
        title += (
            f"\nEU share of drug listings with known origin: {eu_share['value'] * 100:.1f}% "
            f"(95% CI {eu_share['ci_low'] * 100:.1f}–{eu_share['ci_high'] * 100:.1f}%)"
        )
    ax.set_title(title, loc="left")
    source_tag(fig, label, real)
    fig.tight_layout()
    drawn = ["share_listings", "share_sales"] if has_sales else ["share_listings"]
    return attach_data(fig, table[["ships_from_region", *drawn]])


def coverage_figure(
    market_day: pd.DataFrame,
    threshold: float,
    events: dict,
    label: str,
    real: bool,
    names: dict | None = None,
) -> plt.Figure:
    """Share of alive listings seen by each crawl, per market (legend: `names` where given)."""
    crawls = market_day[market_day["crawled"]].assign(
        date=lambda d: pd.to_datetime(d["date"]), coverage=lambda d: d["coverage"].clip(upper=1.0)
    )
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, 3.8))
    markets = list(dict.fromkeys(crawls["market"]))
    colours = sns.color_palette(n_colors=max(len(markets), 1))
    sns.scatterplot(
        data=crawls,
        x="date",
        y="coverage",
        hue="market",
        hue_order=markets,
        palette=colours[: len(markets)],
        s=12,
        ax=ax,
        linewidth=0,
        legend=False,
    )
    ax.axhline(threshold, color="#555555", lw=1, ls=":")
    ax.text(
        crawls["date"].min(),
        threshold + 0.02,
        f"low-coverage threshold ({threshold:.0%})",
        fontsize=8,
        color="#555555",
    )
    mark_events(ax, events)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("Crawl coverage")
    ax.set_xlabel("")
    handles = [
        plt.Line2D([], [], marker="o", ls="", ms=4, color=colours[i]) for i in range(len(markets))
    ]
    bottom = legend_below(fig, handles, [(names or {}).get(m, m) for m in markets], ncol=4)
    ax.set_title("How much of each market every crawl saw", loc="left")
    source_tag(fig, label, real)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return attach_data(fig, crawls[["market", "date", "coverage"]])


def crawl_reference_figure(
    crawls: pd.DataFrame,
    reference_label: str,
    threshold: float,
    events: dict,
    label: str,
    real: bool,
) -> plt.Figure:
    """Crawl rows and active listings against an independent daily listing count."""
    frame = crawls.assign(date=pd.to_datetime(crawls["date"]))
    fig, (top, bottom) = plt.subplots(
        1, 2, figsize=(FIG_WIDTH, 3.6), gridspec_kw={"width_ratios": [1.5, 1]}
    )
    top.plot(
        frame["date"],
        frame["active"],
        color="#4c72b0",
        lw=1.4,
        label="active listings (first to last sighting)",
    )
    top.scatter(frame["date"], frame["seen"], s=9, color="#55a868", label="rows seen by the crawl")
    ref = frame.dropna(subset=["reference"])
    top.plot(
        ref["date"],
        ref["reference"],
        color="#c44e52",
        lw=1.2,
        ls="--",
        label=f"{reference_label} listing count",
    )
    top.set_ylabel("Listings")
    locator = mdates.AutoDateLocator(maxticks=5)
    top.xaxis.set_major_locator(locator)
    top.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    top.legend(fontsize=SMALL_FONT, frameon=False, loc="upper left")
    mark_events(top, events, with_labels=False)
    low = ref["coverage"] < threshold
    bottom.scatter(
        ref.loc[~low, "coverage"],
        ref.loc[~low, "seen_over_reference"],
        s=10,
        color="#4c72b0",
        label="coverage at or above threshold",
    )
    bottom.scatter(
        ref.loc[low, "coverage"],
        ref.loc[low, "seen_over_reference"],
        s=10,
        color="#dd8452",
        label="below threshold",
    )
    bottom.axvline(threshold, color="grey", ls=":", lw=1)
    bottom.set_xlabel("Coverage (rows seen / active listings)")
    bottom.set_ylabel(f"Rows seen / {reference_label} count")
    bottom.legend(fontsize=SMALL_FONT, frameon=False, loc="upper left")
    fig.suptitle("How complete the crawls were", x=0.01, ha="left")
    source_tag(fig, label, real)
    fig.tight_layout()
    columns = ["date", "active", "seen", "reference", "coverage", "seen_over_reference"]
    return attach_data(fig, frame[columns])
