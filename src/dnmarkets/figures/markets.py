"""Figures for the notebooks and the report (matplotlib + seaborn).

Every figure names its data source in a corner tag ("SIMULATED DATA" or
"REAL DATA: <label>"), so a figure copied out of the report keeps the warning.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
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


def activity_figure(market_day: pd.DataFrame, events: dict, label: str, real: bool) -> plt.Figure:
    """Active listings and active vendors per market over time (weekly means)."""
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
    fig, axes = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
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
            legend=ax is axes[0],
        )
        ax.set_ylabel(title + " (weekly mean)")
        ax.set_xlabel("")
        mark_events(ax, events, with_labels=ax is axes[0])
    axes[0].legend(
        title="Market",
        ncol=1,
        fontsize=8,
        title_fontsize=8,
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        frameon=False,
    )
    fig.suptitle("Market activity over time", x=0.01, ha="left")
    source_tag(fig, label, real)
    fig.tight_layout()
    return fig


def category_figure(categories: pd.DataFrame, label: str, real: bool) -> plt.Figure:
    """Share of drug listings by drug category."""
    table = categories.sort_values("share_listings", ascending=True)
    fig, ax = plt.subplots(figsize=(7, 0.38 * len(table) + 1.4))
    ax.barh(table["drug_category"], table["share_listings"] * 100, color="#4c72b0")
    for y, value in enumerate(table["share_listings"] * 100):
        ax.text(value + 0.3, y, f"{value:.1f}%", va="center", fontsize=8)
    ax.set_xlabel("Share of drug listings (%)")
    ax.set_ylabel("")
    ax.set_title("Drug listings by category", loc="left")
    source_tag(fig, label, real)
    fig.tight_layout()
    return fig


def region_figure(regions: pd.DataFrame, eu_share: dict, label: str, real: bool) -> plt.Figure:
    """Drug listings and estimated sales by ships-from region, with the EU share."""
    table = regions.sort_values("share_listings", ascending=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(table) + 1.8))
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
    if has_sales:
        ax.barh(
            [v + offset for v in y],
            table["share_sales"] * 100,
            height=height,
            label="estimated sales",
            color="#dd8452",
        )
    ax.set_yticks(list(y), table["ships_from_region"])
    ax.set_xlabel(
        "Share of drug listings / estimated drug sales (%)"
        if has_sales
        else "Share of drug listings (%)"
    )
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    title = "Supply by ships-from region"
    if eu_share.get("value") is not None:
        title += (
            f"\nEU share of drug listings with known origin: {eu_share['value'] * 100:.1f}% "
            f"(95% CI {eu_share['ci_low'] * 100:.1f}–{eu_share['ci_high'] * 100:.1f}%)"
        )
    ax.set_title(title, loc="left", fontsize=10)
    source_tag(fig, label, real)
    fig.tight_layout()
    return fig


def coverage_figure(
    market_day: pd.DataFrame, threshold: float, events: dict, label: str, real: bool
) -> plt.Figure:
    """Share of alive listings seen by each crawl, per market."""
    crawls = market_day[market_day["crawled"]].assign(
        date=lambda d: pd.to_datetime(d["date"]), coverage=lambda d: d["coverage"].clip(upper=1.0)
    )
    fig, ax = plt.subplots(figsize=(9, 3.8))
    sns.scatterplot(data=crawls, x="date", y="coverage", hue="market", s=12, ax=ax, linewidth=0)
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
    ax.legend(
        title="Market",
        fontsize=7,
        title_fontsize=8,
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        frameon=False,
    )
    ax.set_title("How much of each market every crawl saw", loc="left")
    source_tag(fig, label, real)
    fig.tight_layout()
    return fig


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
        1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.7, 1]}
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
    locator = mdates.AutoDateLocator(maxticks=7)
    top.xaxis.set_major_locator(locator)
    top.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    top.legend(fontsize=7, frameon=False, loc="upper left")
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
    bottom.legend(fontsize=7, frameon=False, loc="upper left")
    fig.suptitle("How complete the crawls were", x=0.01, ha="left")
    source_tag(fig, label, real)
    fig.tight_layout()
    return fig


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


def resilience_figure(series: pd.DataFrame, event: dict, label: str, real: bool) -> plt.Figure:
    """Observed series, the segmented fit and the counterfactual band, per measure."""
    measures = list(dict.fromkeys(series["measure"]))
    fig, axes = plt.subplots(1, len(measures), figsize=(3.4 * len(measures), 3.2), squeeze=False)
    titles = {
        "listings": "Active listings",
        "vendors": "Active vendors",
        "sales": "Est. sales (USD/day)",
    }
    for ax, measure in zip(axes[0], measures, strict=True):
        part = series[series["measure"] == measure].assign(date=lambda d: pd.to_datetime(d["date"]))
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
        ax.plot(part["date"], part["fitted"], color="#c44e52", lw=1.3, label="model")
        ax.set_title(titles.get(measure, measure), fontsize=9, loc="left")
        ax.set_ylim(bottom=0)
        locator = mdates.AutoDateLocator(maxticks=4)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        mark_events(ax, {"e": event}, with_labels=False)
    axes[0][0].legend(fontsize=7, frameon=False, loc="lower left")
    fig.suptitle(f"{event['label']}: ecosystem activity and the counterfactual", x=0.01, ha="left")
    source_tag(fig, label, real)
    fig.tight_layout()
    return fig


def placebo_figure(placebo: pd.DataFrame, real: dict, event: dict, label: str, real_data: bool):
    """Placebo effects with their intervals (grey), sorted, and the real event's (red)."""
    titles = {"listings": "Active listings", "vendors": "Active vendors", "sales": "Est. sales"}
    measures = list(dict.fromkeys(placebo["measure"]))
    fig, axes = plt.subplots(1, len(measures), figsize=(3.4 * len(measures), 3.0), squeeze=False)
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
        if measure in real:
            est, low, high = real[measure]
            ax.errorbar(
                [est],
                [len(part) + 1],
                xerr=[[est - low], [high - est]],
                fmt="s",
                ms=5,
                color="#c44e52",
                lw=1.5,
                label=event["label"],
            )
        ax.axvline(0, color="black", lw=0.6)
        ax.set_yticks([])
        ax.set_title(titles.get(measure, measure), fontsize=9, loc="left")
        ax.set_xlabel("change at the date, %", fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, frameon=False, loc="upper right", ncol=2)
    fig.suptitle(f"{event['label']}: real effect against placebo dates", x=0.01, ha="left")
    source_tag(fig, label, real_data)
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


def _interval_bars(ax, labels, values, low, high, color="#4c72b0"):
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
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()


def supply_figure(countries: pd.DataFrame, by_category: pd.DataFrame, label: str, real: bool):
    """Leading EU countries' shares of EU drug listings, and the EU share of drug listings
    by drug category, each with its 95% interval."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.2))
    top = countries.head(10)
    if len(top):
        _interval_bars(
            left,
            top["country"],
            100 * top["share_eu_listings"],
            100 * top["low"],
            100 * top["high"],
        )
    left.set_xlabel("share of EU drug listings, %", fontsize=8)
    left.set_title("Leading EU countries", fontsize=9, loc="left")
    if len(by_category):
        cat = by_category.sort_values("share", ascending=False)
        _interval_bars(
            right,
            cat["category"],
            100 * cat["share"],
            100 * cat["low"],
            100 * cat["high"],
            "#55a868",
        )
    right.set_xlabel("EU share of drug listings, %", fontsize=8)
    right.set_title("EU share by drug category", fontsize=9, loc="left")
    source_tag(fig, label, real)
    fig.tight_layout()
    return fig


def price_figure(prices: pd.DataFrame, discounts: pd.DataFrame, label: str, real: bool):
    """Median price per gram by drug category and ships-from region (95% intervals), and
    the quantity-discount slope per category."""
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(7.2, 3.4), gridspec_kw={"width_ratios": [1.6, 1]}
    )
    regions = [
        r
        for r in ["EU", "North America", "Oceania", "Asia", "Europe (non-EU)"]
        if r in set(prices["region"])
    ]
    palette = dict(zip(regions, sns.color_palette("colorblind", len(regions)), strict=True))
    cats = sorted(set(prices["category"]))
    for i, region in enumerate(regions):
        part = prices[prices["region"] == region].set_index("category").reindex(cats)
        y = np.arange(len(cats)) + (i - len(regions) / 2) * 0.14
        ok = part["median_usd_per_gram"].notna().to_numpy()
        left.errorbar(
            part["median_usd_per_gram"][ok],
            y[ok],
            xerr=[
                (part["median_usd_per_gram"] - part["low"])[ok],
                (part["high"] - part["median_usd_per_gram"])[ok],
            ],
            fmt="o",
            ms=3,
            lw=0.8,
            color=palette[region],
            label=region,
        )
    left.set_xscale("log")
    left.set_yticks(np.arange(len(cats)), cats, fontsize=7)
    left.invert_yaxis()
    left.set_xlabel("median USD per gram (log scale)", fontsize=8)
    left.set_title("Price per gram by origin", fontsize=9, loc="left")
    fig.legend(
        *left.get_legend_handles_labels(),
        fontsize=7,
        frameon=False,
        loc="lower left",
        ncol=3,  # two rows at most, leaving the bottom-right corner to the source tag
    )
    if len(discounts):
        d = discounts.sort_values("slope")
        _interval_bars(right, d["category"], d["slope"], d["low"], d["high"], "#dd8452")
        right.axvline(1, color="black", lw=0.6, ls="--")
    right.set_xlabel("slope of log price on log quantity", fontsize=8)
    right.set_title("Quantity discount (1 = none)", fontsize=9, loc="left")
    source_tag(fig, label, real)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    return fig
