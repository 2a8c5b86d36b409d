"""Edits of the sample's Sentinel-2 scenes for the tests: a band removed, the SCL band clouded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio


def without_band(path: Path, description: str) -> None:
    """Rewrite a multiband GeoTIFF without the band of that description."""
    with rasterio.open(path) as src:
        keep = [i for i, d in enumerate(src.descriptions, start=1) if d != description]
        assert len(keep) == src.count - 1, src.descriptions
        profile = {**src.profile, "count": len(keep)}
        data = src.read(keep)
        names = [src.descriptions[i - 1] for i in keep]
    path.unlink()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name)


def set_scl(path: Path, value: int, clear: tuple[slice, slice] | None = None) -> None:
    """Set a Sentinel-2 scene's SCL band to one class everywhere (4, vegetation, in ``clear``)."""
    with rasterio.open(path, "r+") as src:
        band = list(src.descriptions).index("SCL") + 1
        scl = np.full((src.height, src.width), value, dtype=src.dtypes[band - 1])
        if clear is not None:
            scl[clear] = 4
        src.write(scl, band)
