"""Tests of carbonsink.imagery.focal: moving-window mean and SD skipping missing cells."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from carbonsink.imagery.focal import focal_statistics


def test_mean_and_sd_by_hand_with_a_missing_cell_and_the_edge() -> None:
    # 3 x 3 windows on [[1, 2, 3], [4, nan, 6], [7, 8, 9]]:
    # centre: the 8 finite cells, mean 40 / 8 = 5, SD √(Σv²/8 − 25) = √(260/8 − 25) = √7.5;
    # corner (0, 0): cells 1, 2, 4 (the missing one and those beyond the edge skipped):
    # mean 7/3, SD √(21/3 − 49/9) = √(14/9).
    grid = xr.DataArray(
        np.array([[1.0, 2.0, 3.0], [4.0, np.nan, 6.0], [7.0, 8.0, 9.0]]), dims=("y", "x")
    )
    mean = focal_statistics(grid, 3, "mean").values
    sd = focal_statistics(grid, 3, "std").values
    assert mean[1, 1] == pytest.approx(5.0) and sd[1, 1] == pytest.approx(np.sqrt(7.5))
    assert mean[0, 0] == pytest.approx(7 / 3) and sd[0, 0] == pytest.approx(np.sqrt(14 / 9))
    assert mean.dtype == np.float32


def test_a_window_with_no_value_is_missing_and_lazy_equals_eager() -> None:
    rng = np.random.default_rng(0)
    values = rng.uniform(0.0, 0.5, (2, 40, 50)).astype(np.float32)
    values[:, 5:15, 5:15] = np.nan  # 10 x 10 hole: its 3 x 3 windows inside are empty
    layers = xr.DataArray(values, dims=("feature", "y", "x"))
    for stat in ("mean", "std"):
        eager = focal_statistics(layers, 3, stat)
        assert np.isnan(eager.values[:, 6:14, 6:14]).all()
        assert np.isfinite(eager.values[:, 5, 5]).all()  # the hole's edge sees its rim
        # Blocks of a dask array with their halo give the same bits as the whole array.
        lazy = focal_statistics(layers.chunk({"y": 13, "x": 17}), 3, stat)
        np.testing.assert_array_equal(lazy.compute().values, eager.values)
        # And the numbers of xarray's rolling statistics (min_periods=1), to float32.
        rolling = getattr(layers.rolling(y=3, x=3, center=True, min_periods=1), stat)()
        np.testing.assert_allclose(eager.values, rolling.values, rtol=1e-5, atol=1e-7)


def test_an_even_window_is_refused() -> None:
    with pytest.raises(ValueError, match="odd"):
        focal_statistics(xr.DataArray(np.zeros((3, 3)), dims=("y", "x")), 4, "mean")
