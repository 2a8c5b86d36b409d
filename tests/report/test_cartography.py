"""The report's maps as maps (issue 20): scale bar, north arrow, CRS and cell size."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

from carbonsink.grid import Grid
from carbonsink.report.cartography import (
    colour_bar_label,
    decorate_map,
    map_caption,
    scale_bar_length,
)


@pytest.mark.parametrize(
    ("width_m", "expected"),
    [
        (1950.0, 200.0),  # a quarter is 487.5 m: 500 m is too long, 200 m fits
        (4000.0, 1000.0),  # a quarter is exactly 1 km
        (300.0, 50.0),  # a quarter is 75 m: 50 m (100 m is too long)
        (21_300.0, 5000.0),  # the regional survey's width: a quarter is 5,325 m
        (8.0, 2.0),  # a quarter is 2 m
    ],
)
def test_the_scale_bar_is_the_longest_round_length_in_a_quarter(
    width_m: float, expected: float
) -> None:
    assert scale_bar_length(width_m) == expected


@pytest.mark.parametrize("width_m", [0.0, -5.0, math.nan, math.inf])
def test_a_map_without_width_has_no_scale_bar(width_m: float) -> None:
    with pytest.raises(ValueError, match="positive length"):
        scale_bar_length(width_m)


def test_the_caption_names_the_crs_and_the_cell_size() -> None:
    grid = Grid.from_bounds((500_000, 3_250_000, 500_300, 3_250_200), crs=32649, resolution=10.0)
    layer = grid.dataarray(np.zeros((20, 30)), name="a", units="1", long_name="a")
    assert map_caption(layer) == "WGS 84 / UTM zone 49N (EPSG:32649), cells 10 m"
    bare = xr.DataArray(
        np.zeros((2, 3)), dims=("y", "x"), coords={"y": [15.0, 5.0], "x": [2.5, 7.5, 12.5]}
    )
    assert map_caption(bare) == "CRS not recorded, cells 5 × 10 m"


def test_decorate_map_draws_the_bar_the_arrow_and_the_caption() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    decorate_map(fig, ax, extent=(0.0, 1950.0, 0.0, 1000.0), caption="EPSG:32649, cells 10 m")
    (bar,) = [a for a in ax.artists if type(a).__name__ == "AnchoredSizeBar"]
    assert bar.txt_label.get_text() == "200 m"
    assert [t.get_text() for t in ax.texts] == ["N"]
    assert [t.get_text() for t in fig.texts] == ["EPSG:32649, cells 10 m; north is grid north"]


def test_a_caption_survives_what_the_report_does_to_its_layers() -> None:
    # The report's layers lose their spatial_ref when merged, then get the grid's CRS back
    # (pipeline/stages/report.py); a one-cell-wide layer or one without coordinates still
    # gets a caption instead of an error, and a thinned map says so.
    import rioxarray  # noqa: F401

    grid = Grid.from_bounds((500_000, 3_250_000, 500_300, 3_250_200), crs=32649, resolution=10.0)
    layer = grid.dataarray(np.zeros((20, 30)), name="a", units="1", long_name="a")
    merged = xr.Dataset({"a": layer}).drop_vars("spatial_ref")
    assert map_caption(merged["a"]).startswith("CRS not recorded")
    merged.rio.write_crs(grid.crs, inplace=True)
    assert map_caption(merged["a"], shown_every=3) == (
        "WGS 84 / UTM zone 49N (EPSG:32649), cells 10 m (1 in 3 shown)"
    )
    assert map_caption(layer.isel(x=slice(0, 1))).endswith("cell size not recorded")
    assert map_caption(xr.DataArray(np.zeros((2, 2)), dims=("y", "x"))) == (
        "CRS not recorded, cell size not recorded"
    )


def test_a_long_colour_bar_label_wraps_instead_of_running_off_the_figure() -> None:
    # The carbon map's label is 62 characters with its units; lines of at most 42
    # characters break it after "SOC" (41 characters), the units staying on the last line.
    label = colour_bar_label("carbon stock (AGB C + BGB C + DOM C + SOC 0–100 cm)", "Mg C/ha")
    assert label.split("\n") == ["carbon stock (AGB C + BGB C + DOM C + SOC", "0–100 cm) (Mg C/ha)"]
    assert colour_bar_label("SOC stock", "Mg C/ha") == "SOC stock (Mg C/ha)"
    assert colour_bar_label("count of cells", None) == "count of cells"
