"""Figures of vendor migration (dnmarkets.models.migration) for the notebook and report.

Aggregates only: no figure shows an individual vendor. Every figure carries
the data-source tag of :func:`dnmarkets.figures.style.source_tag`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from dnmarkets.figures.style import FIG_WIDTH, attach_data, source_tag, value_labels

EXIT = "not seen again"
EXIT_COLOR = "#bbbbbb"
PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def km_figure(
    curve: pd.DataFrame,
    event: dict,
    label: str,
    real: bool,
    followup: float,
    horizon: int = 180,
):
    """Cumulative share reappeared (1 - Kaplan-Meier survival) with its 95% band,
    drawn up to the end of the follow-up (or `horizon` days)."""
    c = curve[curve["time"] <= horizon].sort_values("time")
    end = min(float(horizon), float(followup))
    t = np.concatenate([[0.0], c["time"].to_numpy(float)])
    s = np.concatenate([[1.0], c["surv"].to_numpy(float)])
    se = np.concatenate([[0.0], c["se"].to_numpy(float)])
    if end > t[-1]:  # flat after the last reappearance, until the end of follow-up
        t, s, se = np.append(t, end), np.append(s, s[-1]), np.append(se, se[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where((s > 0) & (s < 1), se / (s * np.abs(np.log(s))), 0.0)
    lo_s, hi_s = s ** np.exp(1.96 * v), s ** np.exp(-1.96 * v)
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, 3.4))
    ax.fill_between(t, 1 - hi_s, 1 - lo_s, step="post", color="#4c72b0", alpha=0.2, lw=0)
    ax.step(t, 1 - s, where="post", color="#4c72b0", lw=1.6, label="reappeared (Kaplan-Meier)")
    for k in (7, 30, 90):
        if k <= horizon:
            ax.axvline(k, color="#999999", lw=0.8, ls=":")
    ax.set_xlim(0, horizon)
    ax.set_ylim(0, 1)
    ax.set_xlabel("days after the closure")
    ax.set_ylabel("share of displaced vendors")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    ax.set_title(f"{event['label']}: displaced vendors seen on another market", loc="left")
    ax.legend(frameon=False, loc="lower right")
    source_tag(fig, label, real)
    fig.tight_layout()
    drawn = pd.DataFrame({"days": t, "reappeared": 1 - s, "ci_low": 1 - hi_s, "ci_high": 1 - lo_s})
    return attach_data(fig, drawn)


def destination_figure(dest: pd.DataFrame, names: dict, event: dict, label: str, real: bool):
    """Share of migrants per first destination market, with 95% intervals."""
    d = dest.sort_values("share", ascending=True)
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, 0.4 * len(d) + 1.3))
    y = np.arange(len(d))
    ax.barh(y, d["share"], color="#4c72b0", alpha=0.85)
    ax.errorbar(
        d["share"],
        y,
        xerr=[d["share"] - d["ci_low"], d["ci_high"] - d["share"]],
        fmt="none",
        ecolor="#222222",
        capsize=3,
        lw=1,
    )
    ax.set_yticks(y, [names.get(m, m) for m in d["destination"]])
    ax.set_xlim(0, max(1.0, float(d["ci_high"].max())) if len(d) else 1.0)
    value_labels(ax, y, d["share"] * 100, ends=d["ci_high"], fmt="{:.0f}%")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:.0%}"))
    ax.set_xlabel("share of migrants (first new market), 95% interval")
    ax.set_title(f"{event['label']}: where migrants went first", loc="left")
    source_tag(fig, label, real)
    fig.tight_layout()
    drawn = d.assign(destination=[names.get(m, m) for m in d["destination"]])
    return attach_data(fig, drawn[["destination", "share", "ci_low", "ci_high"]])


def _band(ax, x0, x1, y0a, y0b, y1a, y1b, color):
    """A smooth band from [y0a, y0b] at x0 to [y1a, y1b] at x1."""
    xm = (x0 + x1) / 2
    verts = [
        (x0, y0a),
        (xm, y0a),
        (xm, y1a),
        (x1, y1a),
        (x1, y1b),
        (xm, y1b),
        (xm, y0b),
        (x0, y0b),
        (x0, y0a),
    ]
    codes = [
        MplPath.MOVETO,
        MplPath.CURVE4,
        MplPath.CURVE4,
        MplPath.CURVE4,
        MplPath.LINETO,
        MplPath.CURVE4,
        MplPath.CURVE4,
        MplPath.CURVE4,
        MplPath.CLOSEPOLY,
    ]
    ax.add_patch(PathPatch(MplPath(verts, codes), fc=color, ec="none", alpha=0.45))


def flow_figure(flows: pd.DataFrame, names: dict, event: dict, label: str, real: bool):
    """Alluvial diagram: displaced accounts from each closed market to their
    first new market within 90 days, or to "not seen again"."""
    flows = flows[flows["accounts"] > 0]
    sources = sorted(flows["source"].unique())
    by_target = flows.groupby("target")["accounts"].sum()
    targets = [t for t in by_target.sort_values(ascending=False).index if t != EXIT]
    if EXIT in by_target.index:
        targets.append(EXIT)
    total = float(flows["accounts"].sum())
    gap = 0.02
    colors = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(sources)}

    def stack(items, sizes):
        pos, y = {}, 1.0
        span = 1.0 - gap * (len(items) - 1)
        for it in items:
            h = span * sizes[it] / total
            pos[it] = [y - h, y]
            y -= h + gap
        return pos

    src_pos = stack(sources, flows.groupby("source")["accounts"].sum())
    tgt_pos = stack(targets, by_target)
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, 4.2))
    src_cursor = {s: src_pos[s][1] for s in sources}
    tgt_cursor = {t: tgt_pos[t][1] for t in targets}
    for s in sources:
        for t in targets:
            row = flows[(flows["source"] == s) & (flows["target"] == t)]
            if row.empty:
                continue
            h = (1.0 - gap * (len(sources) - 1)) * row["accounts"].iloc[0] / total
            ht = (1.0 - gap * (len(targets) - 1)) * row["accounts"].iloc[0] / total
            y0b, y0a = src_cursor[s], src_cursor[s] - h
            y1b, y1a = tgt_cursor[t], tgt_cursor[t] - ht
            _band(ax, 0.12, 0.78, y0a, y0b, y1a, y1b, EXIT_COLOR if t == EXIT else colors[s])
            src_cursor[s] -= h
            tgt_cursor[t] -= ht
    for s, (a, b) in src_pos.items():
        ax.add_patch(plt.Rectangle((0.08, a), 0.04, b - a, color=colors[s]))
        n = int(flows.loc[flows["source"] == s, "accounts"].sum())
        ax.text(0.07, (a + b) / 2, f"{names.get(s, s)}\n({n})", ha="right", va="center", fontsize=8)
    for t, (a, b) in tgt_pos.items():
        ax.add_patch(plt.Rectangle((0.78, a), 0.04, b - a, color="#555555"))
        n = int(by_target[t])
        ax.text(0.83, (a + b) / 2, f"{names.get(t, t)} ({n})", ha="left", va="center", fontsize=8)
    ax.set_xlim(-0.12, 1.15)
    ax.set_ylim(-0.02, 1.02)
    ax.axis("off")
    ax.set_title(
        f"{event['label']}: displaced vendor accounts,\n"
        "closed market -> first new market within 90 days",
        loc="left",
    )
    source_tag(fig, label, real)
    fig.tight_layout()
    drawn = pd.DataFrame(
        {
            "source": [names.get(v, v) for v in flows["source"]],
            "target": [names.get(v, v) for v in flows["target"]],
            "accounts": flows["accounts"].to_numpy(),
        }
    )
    return attach_data(fig, drawn)
