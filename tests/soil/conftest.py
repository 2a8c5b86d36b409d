"""Fixtures of the soil tests: the synthetic survey's 2020 cores with their truth."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from pyproj import Transformer

from carbonsink.grid import Grid
from carbonsink.io.tables import read_table
from carbonsink.soil.core_stocks import core_stocks

CRS = "EPSG:32649"


@pytest.fixture(scope="module")
def junshan_2020(sample_survey: object) -> dict[str, object]:
    """Cores (0–30 cm stocks in EPSG:32649), the truth grid and the covariates."""
    folder = sample_survey.parent  # type: ignore[attr-defined]
    layers = read_table(folder / "soil_2020.csv")
    # The synthetic cores have layers 0–10, 10–20, 20–30 cm (then 30–50, ...), so
    # the 0–30 cm stock is the plain layer sum OC % × BD × 10 cm over three layers.
    assert set(layers.loc[layers["depth_bottom_cm"] <= 30, "depth_top_cm"]) == {0, 10, 20}
    stocks = core_stocks(layers, depths_cm=(30,))
    to_utm = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    x, y = to_utm.transform(stocks["x"].to_numpy(), stocks["y"].to_numpy())
    truth = xr.open_dataset(folder / "truth" / "truth_2020.nc").load()
    grid = Grid.from_xarray(truth)
    # Covariates: the true elevation stands in for the LiDAR DTM and the true class
    # for the land-cover map. No core is taken in open water (the generator samples
    # land classes only), so water (1) is merged into mudflat (2), the zone just
    # above it on the elevation gradient — a class without cores cannot be regressed.
    classes = truth["class"].values.astype(np.float64)
    covariates = xr.Dataset(
        {
            "elevation_m": truth["elevation_m"].astype(np.float64),
            "class": (("y", "x"), np.where(classes == 1, 2.0, classes)),
        },
        coords={"x": truth["x"], "y": truth["y"]},
    )
    return {
        "x": np.asarray(x),
        "y": np.asarray(y),
        "soc": stocks["soc_0_30_mg_ha"].to_numpy(),
        "grid": grid,
        "truth": truth,
        "covariates": covariates,
    }
