"""EU tile-grid map: each EU-27 country and the UK one equal square, placed roughly
where the country lies (no map geometry is needed, and a small country is as
visible as a large one), coloured by drug vendors per million inhabitants and by
the country's share of EU drug listings.

Norway and Switzerland are drawn grey as landmarks: they are outside the EU and
outside the analysis. An EU country with no drug listing shipped from it is
hatched (none seen: zero vendors, a zero share). The UK is counted as EU (it was
a member when the markets were crawled) and its tile has a dashed edge.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from dnmarkets.figures.style import FIG_WIDTH, SMALL_FONT, attach_data, legend_below, source_tag

# (column, row) of each tile, row 0 at the top
EU_TILES = {
    "SE": (5, 0),
    "FI": (6, 0),
    "IE": (1, 1),
    "GB": (2, 1),
    "DK": (4, 1),
    "EE": (6, 1),
    "NL": (3, 2),
    "DE": (4, 2),
    "PL": (5, 2),
    "LV": (6, 2),
    "BE": (2, 3),
    "LU": (3, 3),
    "CZ": (4, 3),
    "SK": (5, 3),
    "LT": (6, 3),
    "FR": (2, 4),
    "AT": (4, 4),
    "HU": (5, 4),
    "RO": (6, 4),
    "PT": (1, 5),
    "ES": (2, 5),
    "IT": (3, 5),
    "SI": (4, 5),
    "HR": (5, 5),
    "BG": (6, 5),
    "MT": (3, 6),
    "GR": (6, 6),
    "CY": (7, 6),
}
# outside the EU and the analysis: drawn grey, for orientation
LANDMARK_TILES = {"NO": (4, 0), "CH": (3, 4)}
ALL_TILES = {**EU_TILES, **LANDMARK_TILES}
UK = "GB"
NONE_SEEN = "#ffffff"
LANDMARK = "#d9d9d9"
HATCH_EDGE = "#a0a0a0"
TILE = 0.92  # side of a tile; the rest of the cell is the gap between tiles


def tile_values(table: pd.DataFrame, column: str, scale: float = 1.0) -> dict[str, float]:
    """{EU tile code: value} of a per-country table (`country`, `column`); countries
    without a tile ("EU" as a region, non-members) are left out."""
    if table is None or "country" not in table or column not in table:
        return {}
    values = table.set_index("country")[column].dropna() * scale
    return {c: float(v) for c, v in values.items() if c in EU_TILES}


def _nice_ticks(low: float, high: float) -> list[float]:
    """1-2-5 steps between low and high, thinned to 1-5 or to powers of ten while
    more than five (their labels would run into each other)."""
    steps = [(m, m * 10.0**e) for e in range(-4, 4) for m in (1, 2, 5)]
    inside = [(m, s) for m, s in steps if low <= s * (1 + 1e-9) and s <= high * (1 + 1e-9)]
    for kept in ((1, 5), (1,)):
        if len(inside) > 5:
            inside = [(m, s) for m, s in inside if m in kept]
    return [s for _, s in inside] if len(inside) >= 2 else [low, high]


def _sequential(name: str) -> ListedColormap:
    """A sequential colour map without its palest end, which a reader would not tell
    from the white of a tile with none seen."""
    return ListedColormap(plt.get_cmap(name)(np.linspace(0.2, 1.0, 256)), name=f"{name}_dark")


def _text_colour(rgba) -> str:
    r, g, b = rgba[:3]
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"


def _draw_tiles(ax, values: dict[str, float], cmap: str, fmt) -> plt.cm.ScalarMappable:
    """The tiles of one panel; the colour scale (log: values span orders of magnitude)."""
    positive = [v for v in values.values() if v > 0]
    high = max(positive, default=1.0)
    low = min(positive, default=high)
    norm = LogNorm(vmin=min(low, high / 10), vmax=high)
    colours = _sequential(cmap)
    half = TILE / 2
    for code, (col, row) in ALL_TILES.items():
        value = values.get(code)
        style = {"facecolor": LANDMARK, "edgecolor": "none", "lw": 0}
        text_colour = "#555555"
        if code in EU_TILES and value is not None and value > 0:
            face = colours(norm(value))
            style = {"facecolor": face, "edgecolor": "none", "lw": 0}
            text_colour = _text_colour(face)
        elif code in EU_TILES:  # none seen
            style = {"facecolor": NONE_SEEN, "edgecolor": HATCH_EDGE, "lw": 0.5, "hatch": "////"}
        ax.add_patch(Rectangle((col - half, row - half), TILE, TILE, gid=f"tile-{code}", **style))
        if code == UK:  # the UK's edge drawn over its fill
            ax.add_patch(
                Rectangle(
                    (col - half, row - half), TILE, TILE, fill=False, ec="black", lw=1.2, ls="--"
                )
            )
        shown = code if value is None or value <= 0 else f"{code}\n{fmt(value)}"
        ax.text(
            col,
            row,
            shown,
            ha="center",
            va="center",
            fontsize=SMALL_FONT,
            color=text_colour,
            linespacing=1.1,
            gid=f"label-{code}",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5}
            if code in EU_TILES and (value is None or value <= 0)
            else None,
        )
    cols = [c for c, _ in ALL_TILES.values()]
    rows = [r for _, r in ALL_TILES.values()]
    ax.set_xlim(min(cols) - 0.5, max(cols) + 0.5)
    ax.set_ylim(max(rows) + 0.5, min(rows) - 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return plt.cm.ScalarMappable(norm=norm, cmap=colours)


def _colourbar(fig, ax, mappable, label: str) -> None:
    bar = fig.colorbar(mappable, ax=ax, orientation="horizontal", fraction=0.05, pad=0.02)
    low, high = mappable.norm.vmin, mappable.norm.vmax
    bar.ax.xaxis.set_major_locator(FixedLocator(_nice_ticks(low, high)))
    bar.ax.xaxis.set_minor_locator(NullLocator())
    bar.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    bar.ax.tick_params(labelsize=SMALL_FONT)
    bar.set_label(label, fontsize=SMALL_FONT)
    bar.outline.set_linewidth(0.5)


def _per_million_text(v: float) -> str:
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def _percent_text(v: float) -> str:
    return f"{v:.1f}" if v >= 0.1 else "<0.1"


def eu_map_figure(per_million: pd.DataFrame, shares: pd.DataFrame, label: str, real: bool):
    """Tile map of drug vendors per million inhabitants (supply model's
    `vendors_per_million`) and of each country's share of EU drug listings
    (`eu_countries`), each tile labelled with its ISO code and value."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(FIG_WIDTH, 3.9))
    panels = [
        (
            left,
            tile_values(per_million, "per_million"),
            "YlOrBr",
            _per_million_text,
            "Drug vendors per million inhabitants",
            "vendors per million (log scale)",
        ),
        (
            right,
            tile_values(shares, "share_eu_listings", 100),
            "PuBu",
            _percent_text,
            "Share of EU drug listings",
            "% of EU drug listings (log scale)",
        ),
    ]
    for ax, values, cmap, fmt, title, bar_label in panels:
        mappable = _draw_tiles(ax, values, cmap, fmt)
        ax.set_title(title, loc="left")
        _colourbar(fig, ax, mappable, bar_label)
    handles = [
        Patch(facecolor=NONE_SEEN, edgecolor=HATCH_EDGE, hatch="////", lw=0.5),
        Patch(facecolor=LANDMARK, edgecolor="none"),
        Patch(facecolor="none", edgecolor="black", ls="--", lw=1.2),
    ]
    labels = [
        "no drug listing shipped from there (0)",
        "outside the EU, not analysed (NO, CH)",
        "GB (UK): counted as EU, a member until 2020",
    ]
    bottom = legend_below(fig, handles, labels, ncol=2)
    source_tag(fig, label, real)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    # the tiles' values, as drawn (a tile without a value is "none seen")
    drawn = pd.DataFrame(
        {
            "vendors_per_million": pd.Series(panels[0][1], dtype=float),
            "percent_of_eu_drug_listings": pd.Series(panels[1][1], dtype=float),
        }
    )
    return attach_data(fig, drawn.rename_axis("country").reset_index())
