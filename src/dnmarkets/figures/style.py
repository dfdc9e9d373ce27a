"""Shared look of the figures: style, print size, closure colours, the data-source
tag, event marks, saving.

Every figure names its data source in a corner tag ("SIMULATED DATA" or
"REAL DATA: <label>"), so a figure copied out of the report keeps the warning.

The PDF (A4, `margin.x` of report/_quarto.yml) shrinks a figure wider than the
text to the text width, and every font with it. `save_figure` measures each text
the figure draws at its printed size and refuses one under `MIN_FONT_PT`, so a
figure that would print unreadably fails the run instead of reaching a reader.

Every figure carries the numbers it draws (`attach_data`, called by the function
that draws it); `save_figure` writes them as a CSV next to the PNG (the HTML
report's "data" link under the figure) and refuses a figure without them.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import offset_copy  # noqa: E402

from dnmarkets.core.io import atomic_path  # noqa: E402
from dnmarkets.report.mdtext import csv_safe  # noqa: E402

# A4 width less the side margins (2 x 2.2 cm, report/_quarto.yml format.typst.margin.x)
A4_WIDTH_MM = 210.0
SIDE_MARGIN_MM = 22.0
TEXT_WIDTH_IN = (A4_WIDTH_MM - 2 * SIDE_MARGIN_MM) / 25.4
# Drawing width of a full-width figure: the text width less savefig's padding
FIG_WIDTH = round(TEXT_WIDTH_IN - 0.2, 2)
MIN_FONT_PT = 7.0
# The smallest font a figure uses on purpose (dense labels, legends): a margin above
# MIN_FONT_PT for a figure that ends up a little wider than FIG_WIDTH
SMALL_FONT = 7.5
SOURCE_TAG_GID = "source-tag"
# the attribute of a figure that holds the numbers it draws (attach_data)
DATA_ATTR = "_dnm_data"

# One colour per way a market closed (dnmarkets.sources.reference.CLOSURES, plus
# "unknown" and still "open"), used by every figure that colours closures or events
# and by no other mark (ColorBrewer colours that none of the palettes the figures
# use for everything else, seaborn's deep and colorblind and tab10, contains;
# tests/figures checks).
CLOSURE_COLOURS = {
    "raided": "#b2182b",
    "scam": "#e08214",
    "hacked": "#762a83",
    "voluntary": "#1b7837",
    "unknown": "#6e6e6e",
    "open": "#2166ac",
}
CLOSURE_LABELS = {
    "raided": "raided/seized",
    "scam": "exit scam",
    "hacked": "hacked",
    "voluntary": "voluntary closure",
    "unknown": "unknown",
    "open": "still open",
}
# an event whose config names no closure type
EVENT_COLOR = CLOSURE_COLOURS["unknown"]


def closure_colour(closure: str | None) -> str:
    return CLOSURE_COLOURS[closure or "unknown"]


def event_colour(event: dict) -> str:
    """The colour of an event's marks: that of its closure type (config `closure`)."""
    return closure_colour(event.get("closure"))


def setup_style() -> None:
    sns.set_theme(context="paper", style="whitegrid")
    # sizes in points as printed: figures are drawn FIG_WIDTH wide, the text width
    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.bbox": "tight",
            "savefig.pad_inches": 0.1,
            "axes.titleweight": "bold",
            "axes.unicode_minus": True,  # the report prints U+2212 too
            "font.size": 8.5,
            "axes.titlesize": 9,
            "figure.titlesize": 10,
            "axes.labelsize": 8.5,
            "xtick.labelsize": 8,
            "ytick.labelsize": 8,
            "legend.fontsize": 8,
            "legend.title_fontsize": 8,
        }
    )


def source_tag(ax_or_fig, label: str, real: bool) -> None:
    """Stamp the data source on a figure, right-aligned under its lower edge (the saved
    PNG grows to hold it, so it covers no axis label): simulated data in a filled
    orange box."""
    fig = ax_or_fig if isinstance(ax_or_fig, plt.Figure) else ax_or_fig.figure
    below = offset_copy(fig.transFigure, fig=fig, y=-4, units="points")
    style = {
        "ha": "right",
        "va": "top",
        "fontweight": "bold",
        "gid": SOURCE_TAG_GID,
        "transform": below,
    }
    if real:
        fig.text(0.995, 0, f"REAL DATA: {label}", fontsize=SMALL_FONT, color="#444444", **style)
    else:
        box = {"boxstyle": "square,pad=0.25", "facecolor": "#b35806", "edgecolor": "none"}
        fig.text(
            0.995, 0, f"SIMULATED DATA ({label})", fontsize=9, color="white", bbox=box, **style
        )


def has_source_tag(fig: plt.Figure) -> bool:
    return any(t.get_gid() == SOURCE_TAG_GID for t in fig.texts)


def _drawn_texts(fig: plt.Figure) -> list[Text]:
    """The non-empty texts a draw of the figure renders (hidden ones, tick labels out of
    view and those of axes turned off are not drawn)."""
    drawn = []
    original = Text.draw

    def recording(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return original(self, renderer)

    Text.draw = recording
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
    return drawn


def printed_width(fig: plt.Figure) -> float:
    """Width in inches of the PNG `save_figure` writes (tight bounding box plus padding)."""
    renderer = fig.canvas.get_renderer()
    return fig.get_tightbbox(renderer).width + 2 * plt.rcParams["savefig.pad_inches"]


def small_texts(fig: plt.Figure) -> list[tuple[str, float]]:
    """(text, printed size in pt) of every drawn text under MIN_FONT_PT once the figure
    is shrunk to the text width of the PDF (figures narrower than the text keep their size)."""
    texts = _drawn_texts(fig)
    scale = min(1.0, TEXT_WIDTH_IN / printed_width(fig))
    sizes = [(t.get_text(), t.get_fontsize() * scale) for t in texts]
    return [(text, round(pt, 2)) for text, pt in sizes if pt < MIN_FONT_PT - 1e-9]


def check_print_size(fig: plt.Figure, name: str = "figure") -> None:
    """Raise if the figure has no data-source tag or a text printed under MIN_FONT_PT."""
    if not has_source_tag(fig):
        raise ValueError(f"{name}: no data-source tag (dnmarkets.figures.style.source_tag)")
    small = small_texts(fig)
    if small:
        shown = ", ".join(f"{text[:30]!r} {pt:.1f} pt" for text, pt in small[:8])
        raise ValueError(
            f"{name}: {len(small)} text(s) under {MIN_FONT_PT:g} pt once printed "
            f"{TEXT_WIDTH_IN * 25.4:.0f} mm wide (figure {printed_width(fig):.2f} in): {shown}"
        )


def attach_data(fig: plt.Figure, data: pd.DataFrame | dict[str, pd.DataFrame]) -> plt.Figure:
    """Record the numbers `fig` draws, for `save_figure` to write as CSV: one frame, or
    one per panel (by the panel's name, stacked with a first column "panel")."""
    if isinstance(data, dict):
        parts = [
            frame.reset_index(drop=True).assign(panel=name)[["panel", *frame.columns]]
            for name, frame in data.items()
        ]
        data = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    setattr(fig, DATA_ATTR, data.reset_index(drop=True))
    return fig


def drawn_columns(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """The columns of `frame` among `columns` (in that order): those a figure drew."""
    return frame[[c for c in columns if c in frame.columns]]


def figure_data(fig: plt.Figure) -> pd.DataFrame | None:
    return getattr(fig, DATA_ATTR, None)


def data_path(png: str | Path) -> Path:
    """The CSV of the numbers a saved figure draws: next to it, same name."""
    return Path(png).with_suffix(".csv")


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """PNG without timestamps or software tags, so reruns give the same bytes; checked
    first for its source tag and the printed size of its texts. The numbers it draws
    (attach_data) go to a CSV of the same name (`data_path`)."""
    path = Path(path)
    data = figure_data(fig)
    try:
        check_print_size(fig, str(path))
        if data is None:
            raise ValueError(
                f"{path}: the figure carries no data (dnmarkets.figures.style.attach_data): "
                "the report links every figure to a CSV of the numbers it draws"
            )
    except ValueError:
        plt.close(fig)
        raise
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150, metadata={"Software": None}, format=path.suffix[1:])
    # names drawn on a figure (markets, categories) may be scraped: no spreadsheet formula
    text = data.select_dtypes(include=["object", "string"]).columns
    data = data.assign(**{c: data[c].map(csv_safe) for c in text})
    with atomic_path(data_path(path)) as tmp:
        data.to_csv(tmp, index=False, lineterminator="\n", date_format="%Y-%m-%d")
    plt.close(fig)
    return path


def value_labels(ax, positions, values, ends=None, fmt: str = "{:.1f}%") -> None:
    """The value of each horizontal bar, written just right of its end, or of `ends`
    (the upper ends of the bars' intervals, so the label clears the whisker)."""
    values = list(values)
    ends = values if ends is None else list(ends)
    finite = [v for v in ends if pd.notna(v)]
    if finite:  # room right of the longest bar for its label
        ax.set_xlim(right=max(ax.get_xlim()[1], 1.2 * max(finite)))
    for y, value, end in zip(positions, values, ends, strict=True):
        if pd.notna(value):
            ax.annotate(
                fmt.format(value),
                xy=(end if pd.notna(end) else value, y),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=SMALL_FONT,
            )


def legend_below(fig: plt.Figure, handles, labels, ncol: int, **kwargs) -> float:
    """A figure legend in rows under the plots (a legend right of
    the plots would widen the figure and so shrink its print). Returns the bottom of
    the plotting area, in figure fraction, for `fig.tight_layout(rect=(0, it, 1, 1))`."""
    height = fig.get_figheight()
    fig.legend(
        handles,
        labels,
        loc="lower left",
        bbox_to_anchor=(0, 0.02 / height),
        ncol=ncol,
        frameon=False,
        handlelength=1.2,
        columnspacing=1.0,
        **kwargs,
    )
    rows = -(-len(labels) // ncol)
    title_rows = 1 if kwargs.get("title") else 0
    return (0.12 + 0.17 * (rows + title_rows)) / height


def mark_events(ax, events: dict, with_labels: bool = True) -> None:
    """Vertical lines (and a shaded span for multi-day events) at event dates, in the
    colour of the event's closure type."""
    for i, (_, ev) in enumerate(sorted(events.items(), key=lambda kv: kv[1]["date"])):
        start = pd.Timestamp(ev["date"])
        colour = event_colour(ev)
        ax.axvline(start, color=colour, lw=1.2, ls="--", zorder=0)
        if ev.get("end_date"):
            ax.axvspan(start, pd.Timestamp(ev["end_date"]), color=colour, alpha=0.08, zorder=0)
        if with_labels:
            ax.annotate(
                ev["label"],
                xy=(start, 1),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12 - 11 * i),
                textcoords="offset points",
                fontsize=8,
                color=colour,
            )


def parse_events(events_json: str) -> dict:
    return json.loads(events_json) if events_json else {}
