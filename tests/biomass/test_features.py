"""Plot features from the cube: plot-versus-cell support, exclusions, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from carbonsink.biomass.features import feature_matrix, plot_features, validate_plots
from carbonsink.errors import InputError, InputTableError

# A 6 × 6 grid of 10 m cells; cell centres x = 5, 15, ..., 55 and y = 55, 45, ..., 5.
XS = 5.0 + 10.0 * np.arange(6)
YS = 55.0 - 10.0 * np.arange(6)


def _cube() -> xr.Dataset:
    rows, cols = np.meshgrid(np.arange(6), np.arange(6), indexing="ij")
    ndvi = (10 * rows + cols).astype(np.float64)  # value = 10·row + col
    height = np.where(cols < 3, np.nan, 2.0 * cols)  # "LiDAR" only on columns 3–5
    return xr.Dataset(
        {"ndvi": (("y", "x"), ndvi), "h_p95": (("y", "x"), height)},
        coords={"x": XS, "y": YS},
    )


def _plots(rows: list[tuple[str, float, float, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["plot_id", "x", "y", "agb_g_m2", "size_m2"])
    frame.index = pd.RangeIndex(2, 2 + len(frame), name="line")
    return validate_plots(frame, path="plots.csv")


def test_small_plot_takes_its_cell_and_large_plot_averages_cells() -> None:
    plots = _plots(
        [
            # 1 m² at (23, 31): column floor(23/10) = 2, row floor((60−31)/10) = 2
            # → ndvi = 10·2 + 2 = 22.
            ("P1", 23.0, 31.0, 1000.0, 1.0),
            # 400 m² (20 m × 20 m) centred on (30, 30), a cell corner: the centres
            # within x 20–40 and y 20–40 are x 25, 35 and y 35, 25 → rows 2–3, cols 2–3:
            # ndvi mean = (22 + 23 + 32 + 33)/4 = 27.5.
            ("P2", 30.0, 30.0, 8500.0, 400.0),
        ]
    )
    result = plot_features(_cube(), plots, features=["ndvi"])
    table = result.table
    assert table.loc["P1", "ndvi"] == pytest.approx(22.0)
    assert table.loc["P1", "cells"] == 1
    assert table.loc["P2", "ndvi"] == pytest.approx(27.5)
    assert table.loc["P2", "cells"] == 4
    # agb_g_m2 × 0.01 = Mg/ha: 1000 g/m² = 10 Mg/ha, 8500 g/m² = 85 Mg/ha.
    assert table.loc["P2", "agb_mg_ha"] == pytest.approx(85.0)
    assert result.excluded.empty


def test_plots_outside_or_without_features_are_reported() -> None:
    plots = _plots(
        [
            ("in", 45.0, 45.0, 500.0, 1.0),  # column 4: has LiDAR
            ("no_lidar", 5.0, 45.0, 500.0, 1.0),  # column 0: no h_p95
            ("outside", 95.0, 45.0, 500.0, 1.0),  # x beyond the grid
        ]
    )
    result = plot_features(_cube(), plots, features=["ndvi", "h_p95"])
    assert list(result.table.index) == ["in"]
    # h_p95 = 2·col = 8 at column 4.
    assert result.table.loc["in", "h_p95"] == pytest.approx(8.0)
    reasons = dict(zip(result.excluded["plot_id"], result.excluded["reason"], strict=True))
    assert reasons["outside"] == "outside the analysis grid"
    assert "no value of h_p95" in reasons["no_lidar"]
    assert [p.severity for p in result.problems()] == ["warning", "warning"]


def test_a_partly_covered_large_plot_averages_its_covered_cells() -> None:
    # 400 m² centred on (30, 30) covers columns 2–3; h_p95 exists only on column 3
    # (6.0): the plot takes the mean of its complete cells, 6.0, from 2 cells.
    plots = _plots([("P", 30.0, 30.0, 500.0, 400.0)])
    result = plot_features(_cube(), plots, features=["h_p95"])
    assert result.table.loc["P", "h_p95"] == pytest.approx(6.0)
    assert result.table.loc["P", "cells"] == 2


def test_all_plots_unusable_is_an_error_with_the_reasons() -> None:
    plots = _plots([("a", 500.0, 500.0, 1.0, 1.0), ("b", 5.0, 45.0, 1.0, 1.0)])
    with pytest.raises(InputError, match=r"none of the 2 plots.*1 outside the analysis grid"):
        plot_features(_cube(), plots, features=["h_p95"])


def test_missing_feature_is_named() -> None:
    plots = _plots([("a", 5.0, 5.0, 1.0, 1.0)])
    with pytest.raises(InputError, match="lswi"):
        plot_features(_cube(), plots, features=["ndvi", "lswi"])


def test_duplicate_ids_and_negative_agb_are_refused_with_lines() -> None:
    frame = pd.DataFrame(
        [("P1", 5.0, 5.0, 100.0, 1.0), ("P1", 15.0, 5.0, -3.0, 1.0)],
        columns=["plot_id", "x", "y", "agb_g_m2", "size_m2"],
    )
    frame.index = pd.RangeIndex(2, 4, name="line")
    with pytest.raises(InputTableError) as info:
        validate_plots(frame, path="plots.csv")
    text = str(info.value)
    assert "2 problem(s) in the plot table" in text
    assert "plot_id" in text and "agb_g_m2" in text
    assert "line 3" in text


def test_feature_matrix_flags_incomplete_cells() -> None:
    matrix, complete = feature_matrix(_cube(), ["ndvi", "h_p95"])
    assert matrix.shape == (36, 2)
    # Columns 0–2 of every row lack h_p95: 6 rows × 3 = 18 complete cells.
    assert int(complete.sum()) == 18


def test_feature_matrix_of_some_cells_is_those_rows_of_the_whole() -> None:
    cube = _cube()
    whole, complete = feature_matrix(cube, ["ndvi", "h_p95"])
    rows = np.zeros(36, dtype=bool)
    rows[[0, 4, 5, 17, 35]] = True
    some, some_complete = feature_matrix(cube, ["ndvi", "h_p95"], rows=rows)
    np.testing.assert_array_equal(some, whole[rows])
    np.testing.assert_array_equal(some_complete, complete[rows])
    # Row 0 is in column 0 (no h_p95), rows 4, 5, 17 and 35 in columns 4, 5, 5, 5: complete.
    assert some_complete.tolist() == [False, True, True, True, True]


def test_feature_matrix_needs_features_of_the_grid() -> None:
    with pytest.raises(ValueError, match="at least one feature"):
        feature_matrix(_cube(), [])
    cube = _cube().assign(scalar=((), 1.0))
    with pytest.raises(ValueError, match="'scalar' has 1 cells"):
        feature_matrix(cube, ["ndvi", "scalar"])
