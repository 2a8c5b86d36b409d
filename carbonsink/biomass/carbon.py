"""Below-ground biomass and vegetation carbon from the AGB map and the class map."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from carbonsink.errors import InputError

__all__ = ["ClassCarbonParameters", "vegetation_carbon"]


@dataclass(frozen=True)
class ClassCarbonParameters:
    """Per-class root:shoot ratio R and carbon fraction CF (docs/methodology.md §2)."""

    root_shoot: float
    carbon_fraction: float


def vegetation_carbon(
    agb_mg_ha: xr.DataArray,
    class_map: xr.DataArray,
    parameters: Mapping[int, ClassCarbonParameters],
    *,
    fill: int = 255,
) -> xr.Dataset:
    """BGB and vegetation carbon per pixel from AGB and the class of each pixel.

    Parameters
    ----------
    agb_mg_ha
        ``(y, x)`` above-ground biomass, Mg DM/ha (or one of its interval
        bounds: the relations are linear, so bounds map to bounds).
    class_map
        ``(y, x)`` integer class codes on the same grid.
    parameters
        Class code → R and CF.
    fill
        Class-map fill value (no class): the outputs are NaN there.

    Returns
    -------
    xarray.Dataset
        ``bgb_mg_ha`` (Mg DM/ha), ``agb_c_mg_ha``, ``bgb_c_mg_ha`` and
        ``veg_c_mg_ha`` (Mg C/ha).

    Raises
    ------
    InputError
        A class code in the map without parameters.

    Notes
    -----
    BGB = AGB × R; C_veg = AGB × CF + AGB × R × CF (docs/methodology.md §2; IPCC
    2006 Vol. 4 eq. 2.8 with R from Table 4.4 and CF from Table 4.3).
    """
    codes = np.asarray(class_map.values)
    present = {int(c) for c in np.unique(codes)} - {fill}
    unknown = sorted(present - set(parameters))
    if unknown:
        raise InputError(
            f"class code(s) {unknown} of the class map have no root:shoot / carbon fraction",
            fix="give every class of the legend its parameters in [vegetation.classes]",
        )
    root_shoot = np.full(codes.shape, np.nan)
    carbon_fraction = np.full(codes.shape, np.nan)
    for code, params in parameters.items():
        where = codes == code
        root_shoot[where] = params.root_shoot
        carbon_fraction[where] = params.carbon_fraction
    agb = agb_mg_ha.astype(np.float64)
    bgb = agb * root_shoot
    agb_c = agb * carbon_fraction
    bgb_c = bgb * carbon_fraction
    layers = {
        "bgb_mg_ha": (bgb, "Mg DM/ha", "below-ground biomass (AGB × root:shoot)"),
        "agb_c_mg_ha": (agb_c, "Mg C/ha", "above-ground biomass carbon"),
        "bgb_c_mg_ha": (bgb_c, "Mg C/ha", "below-ground biomass carbon"),
        "veg_c_mg_ha": (agb_c + bgb_c, "Mg C/ha", "vegetation carbon (AGB + BGB) × CF"),
    }
    out = xr.Dataset()
    for name, (layer, units, long_name) in layers.items():
        layer = layer.astype(np.float32)
        layer.name = name
        layer.attrs = {"units": units, "long_name": long_name}
        out[name] = layer
    return out
