"""The EU tile map: every EU-27 country and the UK on one tile of its own, placed
roughly where the country lies, and each value written and coloured on its own
country's tile."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.colors import to_hex

from dnmarkets.figures import maps, style
from dnmarkets.models.supply import eu_population

# a conftest.py here would shadow tests/conftest.py for `from conftest import ...`
pytestmark = pytest.mark.usefixtures("figure_style")

# the 27 members since 1 February 2020 (Council of the EU protocol order), written out
# here rather than read from the package
EU27 = "BE BG CZ DK DE EE IE GR ES FR HR IT CY LV LT LU HU MT NL AT PL PT RO SI SK FI SE".split()


def test_every_eu27_country_and_the_uk_have_one_tile():
    assert len(EU27) == 27
    assert set(maps.EU_TILES) == {*EU27, "GB"}
    # the population table the per-million figures divide by covers the same countries
    assert set(maps.EU_TILES) == set(eu_population().index)
    assert not set(maps.LANDMARK_TILES) & set(maps.EU_TILES)


def test_no_two_tiles_share_a_cell():
    cells = [*maps.EU_TILES.values(), *maps.LANDMARK_TILES.values()]
    assert len(cells) == len(set(cells))


def test_tiles_lie_roughly_where_the_countries_do():
    col = {c: xy[0] for c, xy in maps.ALL_TILES.items()}
    row = {c: xy[1] for c, xy in maps.ALL_TILES.items()}
    west_to_east = ["IE", "GB", "NL", "DE", "PL", "LV"], ["PT", "ES", "IT", "SI", "HR", "BG"]
    for chain in west_to_east:
        assert [col[c] for c in chain] == sorted(col[c] for c in chain), chain
        assert len({col[c] for c in chain}) == len(chain)
    north_to_south = ["SE", "DK", "DE", "CZ", "AT", "SI"], ["FI", "EE", "LV", "LT"]
    for chain in north_to_south + (["NL", "BE", "FR", "ES"], ["IT", "MT"]):
        assert [row[c] for c in chain] == sorted(row[c] for c in chain), chain
        assert len({row[c] for c in chain}) == len(chain)


def _label(ax, code):
    """The text drawn at the centre of a country's tile."""
    at = [t for t in ax.texts if t.get_position() == maps.ALL_TILES[code]]
    assert len(at) == 1, code
    return at[0].get_text()


def _tile(ax, code):
    col, row = maps.ALL_TILES[code]
    half = maps.TILE / 2
    at = [p for p in ax.patches if p.get_xy() == (col - half, row - half) and p.get_fill()]
    assert len(at) == 1, code
    return at[0]


def _luminance(patch):
    r, g, b, _ = patch.get_facecolor()
    return 0.299 * r + 0.587 * g + 0.114 * b


def test_values_land_on_their_own_tiles():
    per_million = pd.DataFrame(
        {"country": ["NL", "GB", "DE", "US", "EU"], "per_million": [10.47, 5.36, 0.261, 9.0, 3.0]}
    )
    shares = pd.DataFrame(
        {"country": ["DE", "NL", "CY"], "share_eu_listings": [0.23, 0.219, 0.0004]}
    )
    fig = maps.eu_map_figure(per_million, shares, "test", True)
    left, right = fig.axes[:2]
    assert _label(left, "NL") == "NL\n10.5"
    assert _label(left, "GB") == "GB\n5.36"
    assert _label(left, "DE") == "DE\n0.26"
    assert _label(right, "DE") == "DE\n23.0"
    assert _label(right, "NL") == "NL\n21.9"
    assert _label(right, "CY") == "CY\n<0.1"
    # a higher value is a darker tile; a country with none seen is hatched and unlabelled
    assert (
        _luminance(_tile(left, "NL"))
        < _luminance(_tile(left, "GB"))
        < _luminance(_tile(left, "DE"))
    )
    assert _label(left, "LU") == "LU" and _tile(left, "LU").get_hatch()
    assert _label(right, "GB") == "GB" and _tile(right, "GB").get_hatch()
    assert not _tile(left, "NL").get_hatch()
    # Norway and Switzerland: grey landmarks, never coloured by a value
    assert to_hex(_tile(left, "NO").get_facecolor()) == maps.LANDMARK
    # "US" and "EU" (a region, no country) have no tile and are not drawn
    assert not any("9.00" in t.get_text() or "3.00" in t.get_text() for t in left.texts)
    # the CSV under the figure: the tiles' values as drawn, and only those
    drawn = style.figure_data(fig).set_index("country")
    assert sorted(drawn.index) == ["CY", "DE", "GB", "NL"]
    assert drawn.loc["NL", "vendors_per_million"] == 10.47
    assert drawn.loc["DE", "percent_of_eu_drug_listings"] == pytest.approx(23.0)
    assert pd.isna(drawn.loc["CY", "vendors_per_million"])


def test_the_uk_tile_has_a_dashed_edge():
    fig = maps.eu_map_figure(
        pd.DataFrame({"country": ["GB"], "per_million": [1.0]}), pd.DataFrame(), "test", False
    )
    col, row = maps.EU_TILES["GB"]
    half = maps.TILE / 2
    for ax in fig.axes[:2]:
        edges = [
            p for p in ax.patches if p.get_xy() == (col - half, row - half) and not p.get_fill()
        ]
        assert len(edges) == 1 and edges[0].get_linestyle() == "--"


def test_a_dataset_without_eu_countries_draws_every_tile_hatched():
    fig = maps.eu_map_figure(pd.DataFrame([]), pd.DataFrame([]), "test", True)
    for ax in fig.axes[:2]:
        assert all(_tile(ax, code).get_hatch() for code in maps.EU_TILES)


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0.09, 10.5, [0.1, 0.5, 1, 5, 10]),
        (0.005, 30, [0.01, 0.1, 1, 10]),
        (0.5, 3, [0.5, 1, 2]),
        (2.0, 3.0, [2.0, 3.0]),
    ],
)
def test_colour_bar_ticks(low, high, ticks):
    assert maps._nice_ticks(low, high) == pytest.approx(ticks)
