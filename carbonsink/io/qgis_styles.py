"""QGIS layer styles (``.qml``) and GDAL category names (``.aux.xml``) beside class rasters.

QGIS loads ``name.qml`` as the default style of ``name.tif`` when the layer is
added, so a class map opens with its classes' colours and names (the same
colours as the report's maps) rather than as grey values.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from carbonsink.errors import OutputError
from carbonsink.io.qgis_project import QGIS_DOCTYPE, QGIS_VERSION, ClassPalette, paletted_renderer
from carbonsink.io.writers import atomic_path

__all__ = ["write_category_names", "write_class_style"]


def write_class_style(
    path: str | os.PathLike[str],
    *,
    codes: Sequence[int],
    names: Sequence[str],
    colours: Sequence[str],
) -> Path:
    """Write the paletted (unique values) style of a class raster, atomically.

    Parameters
    ----------
    path
        The ``.qml`` file: the raster's path with its suffix replaced.
    codes, names, colours
        One class each: its cell value, its name (the legend's label, any
        script) and its colour ``#rrggbb``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputError
        The three lists differ in length, or a colour is not ``#rrggbb``.
    """
    try:
        palette = ClassPalette(tuple(int(c) for c in codes), tuple(names), tuple(colours))
    except ValueError as exc:
        raise OutputError(
            str(exc), path=path, fix="give one #rrggbb colour and one name per class code"
        ) from exc
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology")
    pipe = ET.SubElement(root, "pipe")
    paletted_renderer(pipe, palette)
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root)
    text = QGIS_DOCTYPE + ET.tostring(root, encoding="unicode") + "\n"
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(path)


def write_category_names(
    path: str | os.PathLike[str], *, codes: Sequence[int], names: Sequence[str]
) -> Path:
    """Write a class raster's category names as GDAL's auxiliary metadata, atomically.

    GDAL (``gdalinfo``, QGIS, ArcGIS through GDAL) reads ``<raster>.aux.xml``
    beside a raster: its ``CategoryNames`` list the name of each cell value
    from 0 up, empty for values that are no class.

    Parameters
    ----------
    path
        The raster's path with ``.aux.xml`` appended (``maps/landcover_2020.tif.aux.xml``).
    codes, names
        Each class's cell value (0–255, a class map is uint8) and name.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputError
        The lists differ in length, or a code is outside 0–255 or repeated.
    """
    if len(codes) != len(names):
        raise OutputError(
            f"{len(codes)} codes and {len(names)} names",
            path=path,
            fix="give one name per class code",
        )
    values = [int(c) for c in codes]
    if any(not 0 <= v <= 255 for v in values) or len(set(values)) != len(values):
        raise OutputError(
            f"class codes {values} are not distinct values of 0–255",
            path=path,
            fix="this is a bug in carbonsink: class maps are uint8 with distinct codes",
        )
    by_value = dict(zip(values, names, strict=True))
    root = ET.Element("PAMDataset")
    band = ET.SubElement(root, "PAMRasterBand", band="1")
    categories = ET.SubElement(band, "CategoryNames")
    for value in range(max(values, default=-1) + 1):
        ET.SubElement(categories, "Category").text = str(by_value.get(value, ""))
    ET.indent(root)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(ET.tostring(root, encoding="unicode") + "\n", encoding="utf-8")
    return Path(path)
