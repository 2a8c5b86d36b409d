"""A QGIS project file (``.qgs``): the run's maps and points, styled, grouped, with relative paths.

QGIS reads its project format as XML; nothing here needs QGIS. The file names
its layers by paths relative to itself (``./maps/agb_mg_ha_2020.tif``,
``./carbonsink.gpkg|layername=plots_2020``), so the output folder can be moved
or mailed whole. Every layer carries the CRS (WKT2, as :mod:`pyproj` writes
it, and its authority id) so QGIS needs no guess; rasters carry their renderer
(a class palette, or a colour ramp with its units) and vectors a single
symbol. The same XML for a class palette is the ``.qml`` style beside a class
map (:func:`carbonsink.io.qgis_styles.write_class_style`).
"""

from __future__ import annotations

import hashlib
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pyproj import CRS

from carbonsink.errors import OutputError
from carbonsink.io.writers import atomic_path

__all__ = [
    "QGIS_DOCTYPE",
    "QGIS_VERSION",
    "ClassPalette",
    "ColourRamp",
    "LayerGroup",
    "QgisProject",
    "RasterLayer",
    "VectorLayer",
    "colour_ramp_renderer",
    "paletted_renderer",
    "qgis_document",
    "write_qgis_project",
]

#: The QGIS version whose file format is written (read by QGIS ≥ 3.22).
QGIS_VERSION = "3.22.0"
QGIS_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"


@dataclass(frozen=True)
class ClassPalette:
    """A class raster's style: one colour (``#rrggbb``) and name per cell value."""

    codes: tuple[int, ...]
    names: tuple[str, ...]
    colours: tuple[str, ...]

    def __post_init__(self) -> None:
        if not len(self.codes) == len(self.names) == len(self.colours):
            raise ValueError(
                f"{len(self.codes)} codes, {len(self.names)} names and {len(self.colours)} "
                "colours: give one name and one colour per class code"
            )
        for colour in self.colours:
            _rgb(colour)


@dataclass(frozen=True)
class ColourRamp:
    """A continuous raster's style: colours spread evenly from ``minimum`` to ``maximum``.

    ``units`` is shown with the legend's values (``"12.5 Mg DM/ha"``).
    """

    colours: tuple[str, ...]
    minimum: float
    maximum: float
    units: str

    def __post_init__(self) -> None:
        if len(self.colours) < 2:
            raise ValueError("a colour ramp needs at least two colours")
        if not self.minimum < self.maximum:
            raise ValueError(
                f"a colour ramp needs minimum < maximum, got {self.minimum}, {self.maximum}"
            )
        for colour in self.colours:
            _rgb(colour)


@dataclass(frozen=True)
class RasterLayer:
    """A raster of the project: its path relative to the project file, name and style."""

    path: str
    name: str
    style: ClassPalette | ColourRamp
    visible: bool = False


@dataclass(frozen=True)
class VectorLayer:
    """A layer of a GeoPackage: points drawn as markers, polygons as outlines."""

    path: str
    table: str
    name: str
    geometry: Literal["point", "polygon"]
    colour: str
    marker: Literal["circle", "triangle", "square", "diamond", "cross"] = "circle"
    visible: bool = False


@dataclass(frozen=True)
class LayerGroup:
    """A group of the layer tree, its layers from top (drawn last) to bottom."""

    name: str
    layers: tuple[RasterLayer | VectorLayer, ...] = field(default_factory=tuple)
    expanded: bool = False


@dataclass(frozen=True)
class QgisProject:
    """A QGIS project: title, CRS (of the project and every layer), opening view and layers.

    Attributes
    ----------
    title
        The project's title.
    crs
        The CRS of the project and of every layer.
    extent
        ``(xmin, ymin, xmax, ymax)`` in ``crs``: the view the project opens on.
    groups
        The layer tree's groups, top first.
    top
        Layers above the groups (e.g. the project boundary), top first.
    """

    title: str
    crs: CRS
    extent: tuple[float, float, float, float]
    groups: tuple[LayerGroup, ...]
    top: tuple[RasterLayer | VectorLayer, ...] = ()

    @property
    def layers(self) -> list[RasterLayer | VectorLayer]:
        """Every layer, in the layer tree's order."""
        return [*self.top, *(layer for group in self.groups for layer in group.layers)]


def _rgb(colour: str) -> tuple[int, int, int]:
    text = colour.lstrip("#")
    try:
        if not (colour.startswith("#") and len(text) == 6):
            raise ValueError
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        raise ValueError(f"colour {colour!r} is not #rrggbb") from None


def _number(value: float) -> str:
    return f"{value:.10g}"


def paletted_renderer(parent: ET.Element, palette: ClassPalette) -> ET.Element:
    """Add a paletted (unique values) raster renderer of band 1 to ``parent``.

    Parameters
    ----------
    parent
        The element that holds the renderer: a layer's ``<pipe>`` (project or ``.qml``).
    palette
        Each class's code, name (the legend's label) and colour.

    Returns
    -------
    xml.etree.ElementTree.Element
        The ``<rasterrenderer type="paletted">`` element added.
    """
    renderer = ET.SubElement(
        parent,
        "rasterrenderer",
        type="paletted",
        band="1",
        opacity="1",
        alphaBand="-1",
        nodataColor="",
    )
    ET.SubElement(renderer, "rasterTransparency")
    entries = ET.SubElement(renderer, "colorPalette")
    for code, name, colour in zip(palette.codes, palette.names, palette.colours, strict=True):
        ET.SubElement(
            entries,
            "paletteEntry",
            value=str(int(code)),
            color=colour.lower(),
            alpha="255",
            label=str(name),
        )
    return renderer


def colour_ramp_renderer(parent: ET.Element, ramp: ColourRamp) -> ET.Element:
    """Add a single-band pseudocolour renderer of band 1 (interpolated colours) to ``parent``.

    The ramp's colours are spread evenly over [minimum, maximum]; the first,
    middle and last stops are labelled with their value and units, and the
    legend's suffix is the units.

    Parameters
    ----------
    parent
        The layer's ``<pipe>`` element.
    ramp
        The colours, their range and units.

    Returns
    -------
    xml.etree.ElementTree.Element
        The ``<rasterrenderer type="singlebandpseudocolor">`` element added.
    """
    lo, hi = ramp.minimum, ramp.maximum
    renderer = ET.SubElement(
        parent,
        "rasterrenderer",
        type="singlebandpseudocolor",
        band="1",
        opacity="1",
        alphaBand="-1",
        nodataColor="",
        classificationMin=_number(lo),
        classificationMax=_number(hi),
    )
    ET.SubElement(renderer, "rasterTransparency")
    origin = ET.SubElement(renderer, "minMaxOrigin")
    for tag, text in (
        ("limits", "None"),
        ("extent", "WholeRaster"),
        ("statAccuracy", "Estimated"),
        ("cumulativeCutLower", "0.02"),
        ("cumulativeCutUpper", "0.98"),
        ("stdDevFactor", "2"),
    ):
        ET.SubElement(origin, tag).text = text
    shader = ET.SubElement(ET.SubElement(renderer, "rastershader"), "colorrampshader")
    shader.attrib.update(
        colorRampType="INTERPOLATED",
        classificationMode="1",
        clip="0",
        minimumValue=_number(lo),
        maximumValue=_number(hi),
        labelPrecision="4",
    )
    last = len(ramp.colours) - 1
    for i, colour in enumerate(ramp.colours):
        value = lo + (hi - lo) * i / last
        label = f"{value:.4g} {ramp.units}" if i in (0, last // 2, last) else ""
        ET.SubElement(
            shader, "item", alpha="255", value=_number(value), label=label, color=colour.lower()
        )
    ET.SubElement(
        shader,
        "rampLegendSettings",
        minimumLabel="",
        maximumLabel="",
        prefix="",
        suffix=f" {ramp.units}",
        direction="0",
        useContinuousLegend="1",
        orientation="2",
    )
    return renderer


def _spatialrefsys(parent: ET.Element, crs: CRS) -> None:
    srs = ET.SubElement(parent, "spatialrefsys")
    authority = crs.to_authority()
    ET.SubElement(srs, "wkt").text = crs.to_wkt()
    ET.SubElement(srs, "srsid").text = "0"
    ET.SubElement(srs, "srid").text = authority[1] if authority else "0"
    ET.SubElement(srs, "authid").text = ":".join(authority) if authority else ""
    ET.SubElement(srs, "description").text = crs.name
    ET.SubElement(srs, "projectionacronym").text = ""
    ET.SubElement(srs, "ellipsoidacronym").text = ""
    ET.SubElement(srs, "geographicflag").text = "true" if crs.is_geographic else "false"


def _layer_id(layer: RasterLayer | VectorLayer) -> str:
    key = layer.path + ("|" + layer.table if isinstance(layer, VectorLayer) else "")
    stem = "".join(c if c.isalnum() else "_" for c in Path(key.split("|")[-1]).stem)
    return f"{stem}_{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _source(layer: RasterLayer | VectorLayer) -> str:
    if isinstance(layer, VectorLayer):
        return f"{layer.path}|layername={layer.table}"
    return layer.path


def _symbol_layer(symbol: ET.Element, kind: str, options: dict[str, str]) -> None:
    item = ET.SubElement(
        symbol, "layer", {"class": kind, "enabled": "1", "locked": "0", "pass": "0"}
    )
    option_map = ET.SubElement(item, "Option", type="Map")
    for name, value in options.items():
        ET.SubElement(option_map, "Option", name=name, type="QString", value=value)


def _vector_renderer(parent: ET.Element, layer: VectorLayer) -> None:
    r, g, b = _rgb(layer.colour)
    renderer = ET.SubElement(
        parent,
        "renderer-v2",
        type="singleSymbol",
        symbollevels="0",
        enableorderby="0",
        forceraster="0",
    )
    symbols = ET.SubElement(renderer, "symbols")
    if layer.geometry == "point":
        symbol = ET.SubElement(
            symbols, "symbol", type="marker", name="0", alpha="1", clip_to_extent="1"
        )
        _symbol_layer(
            symbol,
            "SimpleMarker",
            {
                "name": layer.marker,
                "color": f"{r},{g},{b},255",
                "outline_color": "35,35,35,255",
                "outline_width": "0.2",
                "outline_width_unit": "MM",
                "size": "2.4",
                "size_unit": "MM",
            },
        )
    else:
        symbol = ET.SubElement(
            symbols, "symbol", type="fill", name="0", alpha="1", clip_to_extent="1"
        )
        _symbol_layer(
            symbol,
            "SimpleFill",
            {
                "style": "no",
                "color": f"{r},{g},{b},0",
                "outline_color": f"{r},{g},{b},255",
                "outline_style": "solid",
                "outline_width": "0.6",
                "outline_width_unit": "MM",
            },
        )
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")


def _map_layer(parent: ET.Element, layer: RasterLayer | VectorLayer, crs: CRS) -> None:
    vector = isinstance(layer, VectorLayer)
    element = ET.SubElement(
        parent,
        "maplayer",
        type="vector" if vector else "raster",
        hasScaleBasedVisibilityFlag="0",
        styleCategories="AllStyleCategories",
    )
    if isinstance(layer, VectorLayer):
        geometry = "Point" if layer.geometry == "point" else "Polygon"
        element.set("geometry", geometry)
        element.set("wkbType", "Point" if layer.geometry == "point" else "MultiPolygon")
    ET.SubElement(element, "id").text = _layer_id(layer)
    ET.SubElement(element, "datasource").text = _source(layer)
    ET.SubElement(element, "layername").text = layer.name
    _spatialrefsys(ET.SubElement(element, "srs"), crs)
    if isinstance(layer, VectorLayer):
        ET.SubElement(element, "provider", encoding="UTF-8").text = "ogr"
        _vector_renderer(element, layer)
    else:
        ET.SubElement(element, "provider").text = "gdal"
        pipe = ET.SubElement(element, "pipe")
        if isinstance(layer.style, ClassPalette):
            paletted_renderer(pipe, layer.style)
        else:
            colour_ramp_renderer(pipe, layer.style)
        ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
        ET.SubElement(
            pipe,
            "huesaturation",
            saturation="0",
            grayscaleMode="0",
            colorizeOn="0",
            colorizeRed="255",
            colorizeGreen="128",
            colorizeBlue="128",
            colorizeStrength="100",
        )
        ET.SubElement(pipe, "rasterresampler", maxOversampling="2")
    ET.SubElement(element, "blendMode").text = "0"


def _checked(on: bool) -> str:
    return "Qt::Checked" if on else "Qt::Unchecked"


def qgis_document(project: QgisProject) -> str:
    """The text of a QGIS project (``.qgs``).

    Parameters
    ----------
    project
        Its title, CRS, opening view and layer tree.

    Returns
    -------
    str
        The project's XML, with QGIS's doctype line first.

    Raises
    ------
    ValueError
        Two layers have the same source (their ids would clash).
    """
    layers = project.layers
    title, crs, top = project.title, project.crs, project.top
    ids = [_layer_id(layer) for layer in layers]
    if len(set(ids)) != len(ids):
        raise ValueError("two layers of the project have the same source")
    root = ET.Element("qgis", projectname=title, version=QGIS_VERSION)
    ET.SubElement(root, "homePath", path="")
    ET.SubElement(root, "title").text = title
    _spatialrefsys(ET.SubElement(root, "projectCrs"), crs)
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")

    def tree_layer(parent: ET.Element, layer: RasterLayer | VectorLayer) -> None:
        node = ET.SubElement(
            parent,
            "layer-tree-layer",
            id=_layer_id(layer),
            name=layer.name,
            source=_source(layer),
            providerKey="ogr" if isinstance(layer, VectorLayer) else "gdal",
            checked=_checked(layer.visible),
            expanded="0",
        )
        ET.SubElement(node, "customproperties")

    for layer in top:
        tree_layer(tree, layer)
    for group in project.groups:
        node = ET.SubElement(
            tree,
            "layer-tree-group",
            name=group.name,
            checked="Qt::Checked",
            expanded="1" if group.expanded else "0",
        )
        ET.SubElement(node, "customproperties")
        for layer in group.layers:
            tree_layer(node, layer)
    canvas = ET.SubElement(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    ET.SubElement(canvas, "units").text = "meters" if not crs.is_geographic else "degrees"
    box = ET.SubElement(canvas, "extent")
    for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), project.extent, strict=True):
        ET.SubElement(box, tag).text = repr(float(value))
    ET.SubElement(canvas, "rotation").text = "0"
    _spatialrefsys(ET.SubElement(canvas, "destinationsrs"), crs)
    project_layers = ET.SubElement(root, "projectlayers")
    for layer in layers:
        _map_layer(project_layers, layer, crs)
    view = ET.SubElement(root, "ProjectViewSettings", UseProjectScales="0", rotation="0")
    ET.SubElement(view, "Scales")
    xmin, ymin, xmax, ymax = (repr(float(v)) for v in project.extent)
    default = ET.SubElement(view, "DefaultViewExtent", xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax)
    _spatialrefsys(default, crs)
    properties = ET.SubElement(root, "properties")
    paths = ET.SubElement(properties, "Paths")
    ET.SubElement(paths, "Absolute", type="bool").text = "false"
    # QGIS reads <projectCrs> only when the project says it is projected (not "no CRS").
    spatial = ET.SubElement(properties, "SpatialRefSys")
    ET.SubElement(spatial, "ProjectionsEnabled", type="int").text = "1"
    ET.indent(root)
    return QGIS_DOCTYPE + ET.tostring(root, encoding="unicode") + "\n"


def write_qgis_project(path: str | os.PathLike[str], project: QgisProject) -> Path:
    """Write a QGIS project (:func:`qgis_document`) atomically; its layers' paths are relative.

    Parameters
    ----------
    path
        The ``.qgs`` file; each layer's path is relative to its folder.
    project
        What the project holds.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputError
        A layer's path is absolute or leads outside the project's folder, or
        two layers have the same source.
    """
    for layer in project.layers:
        parts = Path(layer.path).parts
        if not layer.path.startswith("./") or ".." in parts:
            raise OutputError(
                f"layer {layer.name!r} has the path {layer.path!r}",
                path=path,
                fix="this is a bug in carbonsink: a project's layers are ./relative paths "
                "inside the output folder",
            )
    try:
        text = qgis_document(project)
    except ValueError as exc:
        raise OutputError(str(exc), path=path, fix="this is a bug in carbonsink") from exc
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(path)
