"""QGIS layer styles (``.qml``) written beside the rasters they style.

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

__all__ = ["write_class_style"]


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
