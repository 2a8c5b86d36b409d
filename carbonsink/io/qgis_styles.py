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
from carbonsink.io.writers import atomic_path

__all__ = ["write_class_style"]

#: The QGIS version whose style format is written (read by QGIS 3.x).
_QGIS_VERSION = "3.28.0"


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
    if not len(codes) == len(names) == len(colours):
        raise OutputError(
            f"{len(codes)} codes, {len(names)} names and {len(colours)} colours",
            path=path,
            fix="give one name and one colour per class code",
        )
    for colour in colours:
        text = colour.lstrip("#")
        if not (colour.startswith("#") and len(text) == 6 and _is_hex(text)):
            raise OutputError(
                f"colour {colour!r} is not #rrggbb", path=path, fix="give hex colours"
            )
    root = ET.Element("qgis", version=_QGIS_VERSION, styleCategories="Symbology")
    pipe = ET.SubElement(root, "pipe")
    renderer = ET.SubElement(
        pipe,
        "rasterrenderer",
        type="paletted",
        band="1",
        opacity="1",
        alphaBand="-1",
        nodataColor="",
    )
    ET.SubElement(renderer, "rasterTransparency")
    palette = ET.SubElement(renderer, "colorPalette")
    for code, name, colour in zip(codes, names, colours, strict=True):
        ET.SubElement(
            palette,
            "paletteEntry",
            value=str(int(code)),
            color=colour.lower(),
            alpha="255",
            label=str(name),
        )
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root)
    text = (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        + ET.tostring(root, encoding="unicode")
        + "\n"
    )
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(path)


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True
