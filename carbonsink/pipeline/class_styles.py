"""Class maps drawn alike everywhere: the report's class colours in the COG and its QGIS style.

A class layer (``flag_values``/``flag_meanings``, optionally ``class_names``)
gets ``flag_colors`` — the colours of the report's maps
(:func:`carbonsink.report.figures.class_colours`) — which the COG writer turns
into the raster's colour table; :func:`write_style` writes the ``.qml`` that
QGIS loads with it (class colours and names).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from carbonsink.io.qgis_project import ClassPalette
from carbonsink.io.qgis_styles import write_category_names, write_class_style
from carbonsink.report.figures import class_colours, flag_legend

__all__ = ["class_palette", "coloured", "legend_attrs", "write_categories", "write_style"]


def legend_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """A class layer's legend attributes: ``flag_*`` and ``class_names``."""
    return {k: v for k, v in attrs.items() if k.startswith(("flag_", "class_names"))}


def coloured(layer: xr.DataArray) -> xr.DataArray:
    """The class layer with ``flag_colors`` (one ``#rrggbb`` per flag value) added.

    The array is shared, not copied; the input's attributes are not changed.
    """
    _, names = flag_legend(layer)
    out = layer.copy(deep=False)
    out.attrs = {**layer.attrs, "flag_colors": " ".join(class_colours(names))}
    return out


def class_palette(layer: xr.DataArray) -> ClassPalette:
    """A class layer's codes, names and colours (those of the report's maps)."""
    codes, names = flag_legend(layer)
    return ClassPalette(tuple(codes), tuple(names), tuple(class_colours(names)))


def write_style(layer: xr.DataArray, path: Path) -> Path:
    """The ``.qml`` of a class layer: each class's colour (as the report) and its name."""
    palette = class_palette(layer)
    return write_class_style(
        path, codes=palette.codes, names=palette.names, colours=palette.colours
    )


def write_categories(layer: xr.DataArray, path: Path) -> Path:
    """The ``.aux.xml`` of a class layer's raster: each class's name, as GDAL reads it."""
    codes, names = flag_legend(layer)
    return write_category_names(path, codes=codes, names=names)
