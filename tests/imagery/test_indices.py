"""Spectral index formulas on hand-made reflectance, errors, and laziness."""

from __future__ import annotations

import dask
import numpy as np
import pytest
import xarray as xr

from carbonsink.errors import InputError
from carbonsink.imagery.indices import INDICES, compute_index

BANDS = ["blue", "green", "red", "rededge1", "nir", "swir1"]


@pytest.fixture
def reflectance() -> xr.DataArray:
    """Two pixels: (0, 0) vegetation, (0, 1) water. Band order as BANDS."""
    values = np.array(
        [
            [[0.05, 0.05]],  # blue
            [[0.10, 0.10]],  # green
            [[0.05, 0.04]],  # red
            [[0.20, 0.03]],  # rededge1
            [[0.45, 0.02]],  # nir
            [[0.25, 0.01]],  # swir1
        ],
        dtype=np.float64,
    )
    return xr.DataArray(
        values,
        dims=("band", "y", "x"),
        coords={"band": BANDS, "y": [0.5], "x": [0.5, 1.5]},
    )


# Hand computation, vegetation pixel (B=0.05, G=0.10, R=0.05, RE=0.20, N=0.45, S1=0.25):
#   NDVI  = (0.45-0.05)/(0.45+0.05)                 = 0.40/0.50 = 0.8
#   EVI   = 2.5·0.40/(0.45 + 0.30 - 0.375 + 1)      = 1.0/1.375 = 0.727272...
#   SAVI  = 1.5·0.40/(0.45+0.05+0.5)                = 0.60/1.00 = 0.6
#   NDWI  = (0.10-0.45)/(0.55)                      = -0.636363...
#   MNDWI = (0.10-0.25)/(0.35)                      = -0.428571...
#   NDRE  = (0.45-0.20)/(0.65)                      = 0.384615...
#   LSWI  = (0.45-0.25)/(0.70)                      = 0.285714...
# water pixel (B=0.05, G=0.10, R=0.04, RE=0.03, N=0.02, S1=0.01):
#   NDVI  = (0.02-0.04)/0.06 = -1/3;  EVI = 2.5·(-0.02)/(0.02+0.24-0.375+1) = -0.05/0.885
#   SAVI  = 1.5·(-0.02)/0.56;  NDWI = 0.08/0.12 = 2/3;  MNDWI = 0.09/0.11
#   NDRE  = (0.02-0.03)/0.05 = -0.2;  LSWI = 0.01/0.03 = 1/3
EXPECTED = {
    "ndvi": (0.8, -1 / 3),
    "evi": (1.0 / 1.375, -0.05 / 0.885),
    "savi": (0.6, -0.03 / 0.56),
    "ndwi": (-0.35 / 0.55, 2 / 3),
    "mndwi": (-0.15 / 0.35, 0.09 / 0.11),
    "ndre": (0.25 / 0.65, -0.2),
    "lswi": (0.2 / 0.7, 1 / 3),
}


def test_registry_has_the_issue_indices() -> None:
    assert set(INDICES) == set(EXPECTED)
    for index in INDICES.values():
        assert "Notes" in (index.function.__doc__ or "")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_formulas_by_hand(reflectance: xr.DataArray, name: str) -> None:
    before = reflectance.copy(deep=True)
    index = compute_index(name.upper(), reflectance)
    np.testing.assert_allclose(index.values, [EXPECTED[name]], rtol=1e-12)
    assert index.dims == ("y", "x")
    assert index.name == name
    assert index.attrs["units"] == "1"
    assert index.attrs["long_name"] == INDICES[name].long_name
    xr.testing.assert_identical(reflectance, before)


def test_zero_denominator_gives_nan_not_inf() -> None:
    zeros = xr.DataArray(
        np.zeros((2, 1, 1)), dims=("band", "y", "x"), coords={"band": ["nir", "red"]}
    )
    assert np.isnan(compute_index("ndvi", zeros).values).all()


def test_missing_band_names_index_band_and_band_map(reflectance: xr.DataArray) -> None:
    landsat_like = reflectance.drop_sel(band="rededge1")
    with pytest.raises(InputError) as info:
        compute_index("ndre", landsat_like)
    message = str(info.value)
    assert "NDRE" in message
    assert "'rededge1'" in message
    assert "blue, green, red, nir, swir1" in message


def test_unknown_index(reflectance: xr.DataArray) -> None:
    with pytest.raises(InputError, match="unknown spectral index 'ndsi'"):
        compute_index("ndsi", reflectance)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dask_input_stays_lazy_and_equals_eager(name: str) -> None:
    rng = np.random.default_rng(4)
    values = rng.uniform(0.01, 0.6, size=(len(BANDS), 40, 30))
    eager = xr.DataArray(values, dims=("band", "y", "x"), coords={"band": BANDS})
    lazy = eager.chunk({"band": -1, "y": 16, "x": 16})
    result = compute_index(name, lazy)
    assert dask.is_dask_collection(result.data)
    assert result.chunks == ((16, 16, 8), (16, 14))
    xr.testing.assert_allclose(result.compute(), compute_index(name, eager))
