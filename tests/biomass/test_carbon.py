"""BGB and vegetation carbon by hand."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from carbonsink.biomass.carbon import ClassCarbonParameters, vegetation_carbon
from carbonsink.errors import InputError

PARAMS = {
    3: ClassCarbonParameters(root_shoot=1.5, carbon_fraction=0.47),  # sedge
    6: ClassCarbonParameters(root_shoot=0.24, carbon_fraction=0.47),  # poplar
}


def _layer(values: list[list[float]]) -> xr.DataArray:
    return xr.DataArray(np.array(values), dims=("y", "x"))


def test_vegetation_carbon_by_hand() -> None:
    agb = _layer([[10.0, 85.0], [4.0, np.nan]])
    classes = _layer([[3, 6], [255, 3]]).astype(np.uint8)
    out = vegetation_carbon(agb, classes, PARAMS)
    # Sedge 10 Mg/ha: BGB = 10 × 1.5 = 15; C = (10 + 15) × 0.47 = 11.75 Mg C/ha.
    # Poplar 85: BGB = 85 × 0.24 = 20.4; C = 105.4 × 0.47 = 49.538.
    assert out["bgb_mg_ha"].values[0, 0] == pytest.approx(15.0)
    assert out["veg_c_mg_ha"].values[0, 0] == pytest.approx(11.75)
    assert out["bgb_mg_ha"].values[0, 1] == pytest.approx(20.4, rel=1e-6)
    assert out["veg_c_mg_ha"].values[0, 1] == pytest.approx(49.538, rel=1e-6)
    assert out["agb_c_mg_ha"].values[0, 1] == pytest.approx(85 * 0.47, rel=1e-6)
    # No class (fill 255) or no AGB → NaN, never a silent zero.
    assert np.isnan(out["veg_c_mg_ha"].values[1]).all()
    assert out["veg_c_mg_ha"].attrs["units"] == "Mg C/ha"
    assert out["bgb_mg_ha"].attrs["units"] == "Mg DM/ha"


def test_unknown_class_code() -> None:
    with pytest.raises(InputError, match=r"class code\(s\) \[4\]"):
        vegetation_carbon(_layer([[1.0]]), _layer([[4]]).astype(np.uint8), PARAMS)
