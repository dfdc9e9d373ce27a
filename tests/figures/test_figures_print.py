"""Every figure function, drawn on small synthetic inputs: readable at print size (no
text under 7 pt in the A4 PDF), stamped with its data source (SIMULATED DATA for a
simulated dataset), closures and events coloured from the one mapping."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import seaborn as sns
import yaml
from matplotlib.colors import to_hex

import dnmarkets.figures
from dnmarkets.figures import (
    landscape,
    maps,
    migration,
    registry,
    resilience,
    series,
    style,
    supply,
)
from dnmarkets.sources.reference import CLOSURES

# a conftest.py here would shadow tests/conftest.py for `from conftest import ...`
pytestmark = pytest.mark.usefixtures("figure_style")

ROOT = Path(__file__).resolve().parents[2]
EVENT = {
    "label": "Operation Test",
    "date": "2017-07-05",
    "end_date": "2017-07-20",
    "closure": "raided",
}
EVENTS = {
    "test": EVENT,
    "scam": {"label": "Some exit scam", "date": "2017-09-01", "closure": "scam"},
}
DAYS = pd.date_range("2017-05-01", "2017-09-30", freq="D")
MARKETS = ["Alpha Market", "Bravo Bazaar", "Charlie", "Delta Exchange", "Echo", "Foxtrot Shop"]
LABEL = "Simulated ecosystem"


def _market_day():
    rng = np.random.default_rng(1)
    rows = []
    for m in MARKETS:
        for d in DAYS:
            rows.append(
                {
                    "market": m,
                    "date": d,
                    "active_listings": rng.integers(100, 20000),
                    "active_vendors": rng.integers(10, 900),
                    "observed": True,
                    "crawled": d.day % 5 == 0,
                    "coverage": rng.uniform(0.1, 1.0),
                }
            )
    return pd.DataFrame(rows)


def _its_series(measures, key=None):
    n = len(DAYS)
    rows = []
    for m in measures:
        base = np.linspace(1000, -200, n)  # negative values: minus signs on the axis
        rows.append(
            pd.DataFrame(
                {
                    "measure": m,
                    "key": key or m,
                    "label": f"{m} on a market with a long name",
                    "date": DAYS,
                    "observed": base + 50,
                    "fitted": base,
                    "counterfactual": base + 100,
                    "cf_low": base + 50,
                    "cf_high": base + 150,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _registry(n=88):
    rng = np.random.default_rng(2)
    start = pd.Timestamp("2011-01-01") + pd.to_timedelta(rng.integers(0, 2500, n), "D")
    end = start + pd.to_timedelta(rng.integers(5, 1500, n), "D")
    return pd.DataFrame(
        {
            "market": [f"Market number {i} Marketplace" for i in range(n)],
            "start": start.strftime("%Y-%m-%d"),
            "end": np.where(np.arange(n) % 11 == 0, None, end.strftime("%Y-%m-%d")),
            "closure": [(*CLOSURES, "unknown")[i % (len(CLOSURES) + 1)] for i in range(n)],
        }
    )


def _survival_curves():
    days = np.arange(0, 2000, 50)
    km = pd.DataFrame(
        {
            "curve": "survival",
            "days": days,
            "survival": np.exp(-days / 700),
            "low": np.exp(-days / 600),
            "high": np.exp(-days / 800),
            "cause": None,
        }
    )
    inc = [
        pd.DataFrame(
            {"curve": "incidence", "days": days, "survival": 1 - np.exp(-days / k)}
        ).assign(cause=c, low=np.nan, high=np.nan)
        for c, k in zip((*CLOSURES, "unknown"), (900, 1200, 1500, 2000, 2500), strict=True)
    ]
    return pd.concat([km, *inc], ignore_index=True)


def _shares(name_col, names, share_col="share"):
    share = np.linspace(0.4, 0.02, len(names))
    return pd.DataFrame(
        {name_col: names, share_col: share, "low": share * 0.8, "high": share * 1.2}
    )


def figure_cases(real: bool):
    """(name, callable drawing the figure) for every figure function."""
    md = _market_day()
    regions = pd.DataFrame(
        {
            "ships_from_region": ["EU", "North America", "Asia", "Oceania", "Europe (non-EU)"],
            "share_listings": [0.45, 0.3, 0.1, 0.1, 0.05],
            "share_sales": [0.5, 0.25, 0.1, 0.1, 0.05],
            "est_sales_usd": [5e6, 3e6, 1e6, 1e6, 5e5],
        }
    )
    crawls = pd.DataFrame(
        {
            "date": DAYS,
            "active": 1000.0,
            "seen": np.linspace(200, 900, len(DAYS)),
            "reference": 950.0,
            "coverage": np.linspace(0.2, 0.9, len(DAYS)),
            "seen_over_reference": np.linspace(0.2, 0.95, len(DAYS)),
        }
    )
    dest = _shares("destination", MARKETS).rename(columns={"low": "ci_low", "high": "ci_high"})
    flows = pd.DataFrame(
        {
            "source": ["Alpha Market"] * 4 + ["Bravo Bazaar"] * 4,
            "target": ["Charlie", "Delta Exchange", "Echo", migration.EXIT] * 2,
            "accounts": [40, 30, 10, 50, 20, 15, 5, 30],
        }
    )
    placebo = pd.DataFrame(
        {
            "measure": np.repeat(["listings", "vendors", "sales"], 12),
            "estimate": np.tile(np.linspace(-30, 30, 12), 3),
        }
    ).assign(ci_low=lambda d: d["estimate"] - 10, ci_high=lambda d: d["estimate"] + 10)
    countries = _shares("country", ["DE", "NL", "GB", "FR", "PL", "BE", "ES", "IT", "SE", "AT"])
    countries = countries.rename(columns={"share": "share_eu_listings"})
    per_million = pd.DataFrame(
        {"country": ["NL", "GB", "SE", "DE", "PT"], "per_million": [10.47, 5.36, 4.3, 2.6, 0.1]}
    )
    cats = ["cannabis", "cocaine", "ecstasy", "nps", "opioids", "other_drug", "stimulants"]
    prices = pd.DataFrame(
        [
            {
                "region": r,
                "category": c,
                "median_eur_per_gram": 10.0 + i,
                "eur_low": 8.0,
                "eur_high": 30.0,
            }
            for i, c in enumerate(cats)
            for r in ["EU", "North America", "Oceania", "Asia", "Europe (non-EU)"]
        ]
    )
    discounts = _shares("category", cats, "slope")
    return {
        "activity": lambda: landscape.activity_figure(md, EVENTS, LABEL, real),
        "category": lambda: landscape.category_figure(
            _shares("drug_category", cats, "share_listings"), LABEL, real
        ),
        "region": lambda: landscape.region_figure(
            regions, {"value": 0.45, "ci_low": 0.4, "ci_high": 0.5}, LABEL, real
        ),
        "coverage": lambda: landscape.coverage_figure(md, 0.3, EVENTS, LABEL, real),
        "crawl_reference": lambda: landscape.crawl_reference_figure(
            crawls, "Reference", 0.3, EVENTS, LABEL, real
        ),
        "km": lambda: migration.km_figure(
            pd.DataFrame({"time": [5.0, 20, 60], "surv": [0.8, 0.6, 0.5], "se": 0.05}),
            EVENT,
            LABEL,
            real,
            followup=150,
        ),
        "destination": lambda: migration.destination_figure(dest, {}, EVENT, LABEL, real),
        "flow": lambda: migration.flow_figure(flows, {}, EVENT, LABEL, real),
        "resilience": lambda: resilience.resilience_figure(
            _its_series(["listings", "vendors", "sales"]), EVENT, LABEL, real
        ),
        "placebo": lambda: resilience.placebo_figure(
            placebo, {"listings": (-35.0, -40.0, -30.0)}, EVENT, LABEL, real
        ),
        "supply": lambda: supply.supply_figure(countries, _shares("category", cats), LABEL, real),
        "price": lambda: supply.price_figure(prices, discounts, LABEL, real),
        "eu_map": lambda: maps.eu_map_figure(per_million, countries, LABEL, real),
    }


# figures of real sources only (no `real` argument): always tagged REAL DATA
REAL_ONLY = {
    "registry_timeline": lambda: registry.registry_timeline_figure(
        _registry(), EVENTS, "2019-06-09"
    ),
    "survival": lambda: registry.survival_figure(_survival_curves()),
    "series_event": lambda: series.series_event_figure(
        pd.concat([_its_series(["x"], key=f"k{i}") for i in range(4)]),
        EVENT,
        "Real series",
        "listings",
    ),
}


def _figure_functions():
    found = set()
    for info in pkgutil.iter_modules(dnmarkets.figures.__path__):
        module = importlib.import_module(f"dnmarkets.figures.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if (
                name.endswith("_figure")
                and name != "save_figure"
                and fn.__module__ == module.__name__
            ):
                found.add(name.removesuffix("_figure"))
    return found


def test_every_figure_function_is_drawn_here():
    drawn = set(figure_cases(False)) | set(REAL_ONLY)
    assert _figure_functions() == drawn


@pytest.mark.parametrize("real", [False, True])
@pytest.mark.parametrize("name", sorted(figure_cases(False)))
def test_figures_print_at_least_7pt_and_carry_the_source_tag(name, real, tmp_path):
    fig = figure_cases(real)[name]()
    tags = [t.get_text() for t in fig.texts if t.get_gid() == style.SOURCE_TAG_GID]
    assert len(tags) == 1
    if real:
        assert tags[0].startswith("REAL DATA")
    else:
        assert tags[0].startswith("SIMULATED DATA")
        tag = next(t for t in fig.texts if t.get_gid() == style.SOURCE_TAG_GID)
        assert tag.get_fontsize() >= 9 and tag.get_bbox_patch() is not None  # a filled box
    style.save_figure(fig, tmp_path / f"{name}.png")  # the check of every run passes


@pytest.mark.parametrize("name", sorted(REAL_ONLY))
def test_real_only_figures_print_at_least_7pt(name, tmp_path):
    fig = REAL_ONLY[name]()
    assert any(t.get_text().startswith("REAL DATA") for t in fig.texts)
    style.save_figure(fig, tmp_path / f"{name}.png")


def test_registry_timeline_labels_every_market_readably():
    fig = REAL_ONLY["registry_timeline"]()
    labels = {t.get_text() for ax in fig.axes for t in ax.get_yticklabels()}
    assert labels == set(_registry()["market"])
    # fits one A4 page of text (247 mm high) with its caption
    assert fig.get_figheight() < 9.0


def test_save_figure_refuses_a_label_under_7pt(tmp_path):
    fig, ax = plt.subplots(figsize=(style.FIG_WIDTH, 3))
    style.source_tag(fig, LABEL, False)
    ax.set_title("big enough")
    ax.text(0.5, 0.5, "too small", fontsize=6.5)
    with pytest.raises(ValueError, match=r"1 text\(s\) under 7 pt.*'too small' 6\.5 pt"):
        style.save_figure(fig, tmp_path / "small.png")
    assert not (tmp_path / "small.png").exists()


def test_save_figure_counts_the_shrinking_of_a_wide_figure(tmp_path):
    fig, ax = plt.subplots(figsize=(style.TEXT_WIDTH_IN * 1.5, 3))
    style.source_tag(fig, LABEL, True)
    ax.set_title("8 pt", fontsize=8)  # 8 pt x 1/1.5 < 7 pt once shrunk to the text width
    small = dict(style.small_texts(fig))
    assert style.printed_width(fig) > style.TEXT_WIDTH_IN * 1.2
    scale = style.TEXT_WIDTH_IN / style.printed_width(fig)
    assert small["8 pt"] == pytest.approx(8 * scale, abs=0.01)
    with pytest.raises(ValueError):
        style.save_figure(fig, tmp_path / "wide.png")


def test_hidden_texts_are_not_checked():
    fig, ax = plt.subplots(figsize=(style.FIG_WIDTH, 3))
    style.source_tag(fig, LABEL, True)
    ax.text(0.5, 0.5, "hidden", fontsize=3, visible=False)
    ax.axis("off")
    ax.set_xticks([0.1, 0.5], ["off", "axes"], fontsize=3)  # axes turned off: not drawn
    assert style.small_texts(fig) == []


def _numbers_drawn(fig) -> set[float]:
    """Values of the bars, lines and dots a figure draws (x and y: some are positions)."""
    from matplotlib.collections import PathCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    found = set()
    for ax in fig.axes:
        if not ax.axison:
            continue  # a diagram (flows, tiles): its numbers are labels
        for artist in ax.get_children():
            if isinstance(artist, Rectangle) and (artist.get_gid() or "").startswith("tile-"):
                continue  # a map's tile: its value is its colour and label (test_maps)
            if isinstance(artist, Rectangle) and artist is not ax.patch and artist.get_fill():
                if artist.get_height() < 0.95 and artist.get_width() != 1:  # barh: width is value
                    found.add(round(float(artist.get_width()), 6))
            elif isinstance(artist, Line2D) and len(artist.get_ydata()) > 2:
                for data in (artist.get_xdata(), artist.get_ydata()):
                    try:
                        values = np.asarray(data, dtype=float)
                    except (TypeError, ValueError):
                        continue  # dates
                    found |= {round(float(v), 6) for v in values if np.isfinite(v)}
            elif isinstance(artist, PathCollection):
                values = np.ravel(artist.get_offsets())
                found |= {round(float(v), 6) for v in values if np.isfinite(v)}
    return found


@pytest.mark.parametrize("name", sorted(figure_cases(False)))
def test_saved_figures_come_with_the_csv_of_their_numbers(name, tmp_path):
    fig = figure_cases(False)[name]()
    drawn = _numbers_drawn(fig)
    style.save_figure(fig, tmp_path / f"{name}.png")
    table = pd.read_csv(tmp_path / f"{name}.csv")
    assert len(table) > 0 and len(table.columns) >= 2
    # the numbers of the CSV: as drawn, or as shares drawn as percentages
    numbers = {
        round(float(v) * k, 6)
        for c in table.select_dtypes("number")
        for v in table[c].dropna()
        for k in (1, 100)
    }
    assert not drawn or drawn & numbers, f"{name}: no drawn value is in the CSV"


def test_save_figure_refuses_a_figure_without_its_data(tmp_path):
    fig, ax = plt.subplots(figsize=(style.FIG_WIDTH, 3))
    style.source_tag(fig, LABEL, False)
    ax.plot([1, 2, 3], [4, 5, 6])
    with pytest.raises(ValueError, match="carries no data"):
        style.save_figure(fig, tmp_path / "bare.png")
    assert not (tmp_path / "bare.png").exists()
    fig, ax = plt.subplots(figsize=(style.FIG_WIDTH, 3))
    style.source_tag(fig, LABEL, False)
    ax.plot([1, 2, 3], [4, 5, 6])
    style.attach_data(fig, {"a": pd.DataFrame({"x": [1, 2, 3], "y": [4, 5, 6]})})
    style.save_figure(fig, tmp_path / "line.png")
    assert (tmp_path / "line.csv").read_text() == "panel,x,y\na,1,4\na,2,5\na,3,6\n"
    # a name drawn on a figure that a spreadsheet would take for a formula is inert
    fig, ax = plt.subplots(figsize=(style.FIG_WIDTH, 3))
    style.source_tag(fig, LABEL, False)
    style.attach_data(fig, pd.DataFrame({"market": ["=cmd()", "ok"], "n": [-1, 2]}))
    style.save_figure(fig, tmp_path / "names.png")
    assert (tmp_path / "names.csv").read_text() == "market,n\n'=cmd(),-1\nok,2\n"


def test_save_figure_refuses_a_figure_without_source_tag(tmp_path):
    fig, _ = plt.subplots(figsize=(3, 2))
    with pytest.raises(ValueError, match="no data-source tag"):
        style.save_figure(fig, tmp_path / "untagged.png")


def test_text_width_is_that_of_the_report_pdf():
    quarto = yaml.safe_load((ROOT / "report" / "_quarto.yml").read_text())
    typst = quarto["format"]["typst"]
    assert typst["papersize"] == "a4"
    assert typst["margin"]["x"] == f"{style.SIDE_MARGIN_MM / 10:g}cm"


def test_unicode_minus_is_on():
    assert plt.rcParams["axes.unicode_minus"] is True


# ---------------------------------------------------------------- closure colours


def test_closure_colours_cover_every_closure_value_once():
    assert set(style.CLOSURE_COLOURS) == {*CLOSURES, "unknown", "open"}
    assert set(style.CLOSURE_LABELS) == set(style.CLOSURE_COLOURS)
    colours = [to_hex(c) for c in style.CLOSURE_COLOURS.values()]
    assert len(set(colours)) == len(colours)


def test_closure_colours_are_in_no_palette_the_figures_use_for_other_marks():
    used = {to_hex(c) for name in ("deep", "colorblind", "tab10") for c in sns.color_palette(name)}
    assert not used & set(style.CLOSURE_COLOURS.values())


def test_config_events_name_a_closure_type():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for name, event in config["events"].items():
        assert event.get("closure") in CLOSURES, name


FIGURE_SOURCES = sorted((ROOT / "src" / "dnmarkets" / "figures").glob("*.py"))


@pytest.mark.parametrize("path", FIGURE_SOURCES, ids=lambda p: p.name)
def test_figure_modules_take_closure_colours_from_the_mapping(path):
    """No figure module spells a closure colour: closures and events take theirs from
    style.CLOSURE_COLOURS, and no other mark may look like a closure."""
    if path.name == "style.py":
        return
    text = path.read_text().lower()
    literal = re.findall(r"#[0-9a-f]{6}\b", text)
    reserved = {to_hex(c) for c in style.CLOSURE_COLOURS.values()}
    assert not reserved & set(literal)
    assert "closure_colours = {" not in text and "closure_colors" not in text


def test_event_marks_and_registry_bars_use_the_closure_colours():
    fig, ax = plt.subplots()
    style.mark_events(ax, EVENTS)
    line_colours = {to_hex(line.get_color()) for line in ax.lines}
    assert line_colours == {style.CLOSURE_COLOURS["raided"], style.CLOSURE_COLOURS["scam"]}
    fig = REAL_ONLY["registry_timeline"]()
    bar_colours = {to_hex(p.get_facecolor()) for a in fig.axes for p in a.patches}
    assert bar_colours == set(style.CLOSURE_COLOURS.values())
    fig = REAL_ONLY["survival"]()
    incidence = {to_hex(line.get_color()) for line in fig.axes[1].lines}
    assert incidence == {style.CLOSURE_COLOURS[c] for c in (*CLOSURES, "unknown")}


# ---------------------------------------------------------------- value labels


@pytest.mark.parametrize(
    ("name", "expected"),
    [("category", "40.0%"), ("region", "45.0%"), ("supply", "40.0%"), ("destination", "40%")],
)
def test_share_bar_charts_label_their_values(name, expected):
    fig = figure_cases(False)[name]()
    texts = {t.get_text() for ax in fig.axes for t in ax.texts}
    assert expected in texts


def test_checked_figures_save_the_same_bytes_twice(tmp_path):
    """The print-size check draws the figure before saving: reruns still give the same PNG."""
    paths = [
        style.save_figure(figure_cases(False)["category"](), tmp_path / f"{i}.png") for i in (1, 2)
    ]
    assert paths[0].read_bytes() == paths[1].read_bytes()


@pytest.mark.parametrize("which", ["activity", "coverage"])
def test_market_legends_show_display_names(which):
    md = _market_day()
    slugs = sorted(md["market"].unique())
    names = {m: f"{m.title()} Market" for m in slugs}
    draw = landscape.activity_figure if which == "activity" else landscape.coverage_figure
    args = (md, EVENTS, LABEL, False) if which == "activity" else (md, 0.3, EVENTS, LABEL, False)
    fig = draw(*args, names=names)
    shown = {t.get_text() for legend in fig.legends for t in legend.get_texts()}
    plt.close(fig)
    assert shown == set(names.values())
