"""Open water at image date from the reflectance (MNDWI).

The quality-band decoders are format definitions and live in
:mod:`carbonsink.io.quality_bands`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from carbonsink.imagery.indices import compute_index

__all__ = ["water_mask"]


def water_mask(reflectance: xr.DataArray, *, threshold: float = 0.0) -> xr.DataArray:
    """Open water at image date: MNDWI above ``threshold``.

    Parameters
    ----------
    reflectance
        ``(band, y, x)`` reflectance with ``green`` and ``swir1`` bands.
    threshold
        MNDWI above which a pixel is water (0 by Xu 2006; scenes with
        bright built-up surfaces may need a higher value).

    Returns
    -------
    xarray.DataArray
        Boolean ``(y, x)`` mask named ``water``; False where MNDWI is NaN
        (fill or missing data).

    Notes
    -----
    water = (Green − SWIR1) / (Green + SWIR1) > threshold (Xu 2006, Int. J.
    Remote Sens. 27:3025–3033).
    """
    index = compute_index("mndwi", reflectance)
    water = index > np.float32(threshold)
    water.name = "water"
    water.attrs = {
        "units": "1",
        "long_name": "open water at image date",
        "mndwi_threshold": threshold,
    }
    return water
