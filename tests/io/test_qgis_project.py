"""The QGIS project writer (issue 20, item 2): the XML it writes, and QGIS reading it back.

The XML is read back with ElementTree and checked against hand-made layers;
a small project (two 4 × 3 rasters and a GeoPackage of two points and a
polygon) is then loaded by QGIS itself (tests/qgis_check.py; skipped where
QGIS is not installed).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from pyproj import CRS
from rasterio.transform import from_origin
from shapely.geometry import Point, box

from carbonsink.errors import OutputError
from carbonsink.io.qgis_project import (
    ClassPalette,
    ColourRamp,
    LayerGroup,
    QgisProject,
    RasterLayer,
    VectorLayer,
    qgis_document,
    write_qgis_project,
)
from carbonsink.pipeline.gis_project import ramp_limits
from tests.qgis_check import load_in_qgis

UTM49N = CRS.from_epsg(32649)
PALETTE = ClassPalette((1, 2), ("water", "reed"), ("#2c7fb8", "#3f9b3f"))
RAMP = ColourRamp(("#000000", "#808080", "#ffffff"), 0.0, 10.0, "Mg C/ha")


def _groups() -> list[LayerGroup]:
    return [
        LayerGroup(
            "Epoch 2025",
            (
                VectorLayer("./points.gpkg", "cores_2025", "Soil cores", "point", "#8c510a"),
                RasterLayer("./maps/soc.tif", "SOC (Mg C/ha)", RAMP, visible=True),
                RasterLayer("./maps/classes.tif", "Land cover", PALETTE),
            ),
            expanded=True,
        )
    ]


def _project(*groups: LayerGroup) -> QgisProject:
    """The test project: the given groups (default: _groups()) under a boundary."""
    return QgisProject(
        title="Junshan",
        crs=UTM49N,
        extent=(700_000.0, 3_254_000.0, 700_040.0, 3_254_030.0),
        groups=groups or tuple(_groups()),
        top=(VectorLayer("./points.gpkg", "boundary", "Boundary", "polygon", "#000000"),),
    )


def _document() -> ET.Element:
    return ET.fromstring(qgis_document(_project()).split("\n", 1)[1])


def test_the_layer_tree_holds_the_groups_and_layers_in_order() -> None:
    root = _document()
    tree = root.find("layer-tree-group")
    assert tree is not None
    assert [n.get("name") for n in tree.findall("layer-tree-layer")] == ["Boundary"]
    (group,) = tree.findall("layer-tree-group")
    assert group.get("name") == "Epoch 2025"
    layers = group.findall("layer-tree-layer")
    assert [n.get("name") for n in layers] == ["Soil cores", "SOC (Mg C/ha)", "Land cover"]
    assert [n.get("checked") for n in layers] == ["Qt::Unchecked", "Qt::Checked", "Qt::Unchecked"]
    assert layers[0].get("source") == "./points.gpkg|layername=cores_2025"
    # Every tree entry has its map layer, by id; the ids are distinct.
    ids = [n.get("id") for n in root.iter("layer-tree-layer")]
    assert len(set(ids)) == 4
    assert sorted(ids) == sorted(e.findtext("id") for e in root.iter("maplayer"))


def test_every_layer_and_the_project_carry_the_crs_as_wkt_and_authority() -> None:
    root = _document()
    systems = list(root.iter("spatialrefsys"))
    assert len(systems) == 4 + 3  # four layers, the project, the map canvas, the default view
    for srs in systems:
        assert srs.findtext("authid") == "EPSG:32649"
        assert CRS.from_wkt(srs.findtext("wkt") or "") == UTM49N
    paths = root.find("properties/Paths/Absolute")
    assert paths is not None and paths.text == "false"


def test_the_colour_ramp_spreads_its_colours_evenly_with_units_at_the_ends_and_middle() -> None:
    # Three colours over [0, 10]: stops at 0, 5 and 10, each labelled with its units.
    root = _document()
    (shader,) = root.iter("colorrampshader")
    items = [(i.get("value"), i.get("label"), i.get("color")) for i in shader.findall("item")]
    assert items == [
        ("0", "0 Mg C/ha", "#000000"),
        ("5", "5 Mg C/ha", "#808080"),
        ("10", "10 Mg C/ha", "#ffffff"),
    ]
    legend = shader.find("rampLegendSettings")
    assert legend is not None and legend.get("suffix") == " Mg C/ha"


def test_the_class_palette_gives_each_code_its_colour_and_name() -> None:
    root = _document()
    (palette,) = root.iter("colorPalette")
    entries = [(e.get("value"), e.get("label"), e.get("color")) for e in palette]
    assert entries == [("1", "water", "#2c7fb8"), ("2", "reed", "#3f9b3f")]


@pytest.mark.parametrize("path", ["/abs/soc.tif", "./../outside.tif", "maps/soc.tif"])
def test_a_layer_path_that_is_not_relative_inside_the_folder_is_refused(
    tmp_path: Path, path: str
) -> None:
    layer = RasterLayer(path, "SOC", RAMP)
    with pytest.raises(OutputError, match="relative paths"):
        write_qgis_project(tmp_path / "p.qgs", _project(LayerGroup("g", (layer,))))
    assert not (tmp_path / "p.qgs").exists()


def test_two_layers_of_one_source_are_refused(tmp_path: Path) -> None:
    layer = RasterLayer("./soc.tif", "SOC", RAMP)
    with pytest.raises(OutputError, match="same source"):
        write_qgis_project(
            tmp_path / "p.qgs", _project(LayerGroup("a", (layer,)), LayerGroup("b", (layer,)))
        )


def test_styles_refuse_what_qgis_could_not_draw() -> None:
    with pytest.raises(ValueError, match="one name and one colour per class code"):
        ClassPalette((1, 2), ("water",), ("#000000", "#ffffff"))
    with pytest.raises(ValueError, match="is not #rrggbb"):
        ClassPalette((1,), ("water",), ("blue",))
    with pytest.raises(ValueError, match="minimum < maximum"):
        ColourRamp(("#000000", "#ffffff"), 3.0, 3.0, "m")
    with pytest.raises(ValueError, match="two colours"):
        ColourRamp(("#000000",), 0.0, 1.0, "m")


def test_ramp_limits_are_the_2nd_and_98th_percentiles_of_all_epochs() -> None:
    # 0..100: the 2nd and 98th percentiles are 2 and 98 (linear interpolation, 101 values).
    assert ramp_limits([np.arange(101.0)], diverging=False) == (2.0, 98.0)
    # Two epochs pooled: 0..50 and 51..100 are the same 101 values.
    assert ramp_limits([np.arange(51.0), np.arange(51.0, 101.0)], diverging=False) == (2.0, 98.0)
    # [-1, 3]: 2nd = -1 + 0.02 × 4 = -0.92, 98th = -1 + 0.98 × 4 = 2.92; centred on 0.
    assert ramp_limits([np.array([-1.0, 3.0, np.nan])], diverging=True) == (-2.92, 2.92)
    assert ramp_limits([np.full(4, 7.0)], diverging=False) == (6.0, 8.0)
    assert ramp_limits([np.full(4, np.nan)], diverging=False) == (0.0, 1.0)
    # A range below the 10 significant digits the project writes is widened, not collapsed.
    assert ramp_limits([np.array([1e-12, 5e-12])], diverging=False)[1] > 0.0
    lo, hi = ramp_limits([np.array([3.2000003, 3.2000115], dtype=np.float32)], diverging=False)
    assert lo < hi


def _small_project(folder: Path) -> Path:
    transform = from_origin(700_000.0, 3_254_030.0, 10.0, 10.0)
    profile = {"driver": "GTiff", "width": 4, "height": 3, "count": 1, "crs": UTM49N}
    (folder / "maps").mkdir()
    with rasterio.open(
        folder / "maps" / "soc.tif", "w", dtype="float32", transform=transform, **profile
    ) as dst:
        dst.write(np.arange(12, dtype="float32").reshape(3, 4), 1)
    with rasterio.open(
        folder / "maps" / "classes.tif", "w", dtype="uint8", transform=transform, **profile
    ) as dst:
        dst.write(np.array([[1, 1, 2, 2]] * 3, dtype="uint8"), 1)
    gpd.GeoDataFrame(
        {"core_id": ["C1", "C2"]},
        geometry=[Point(700_005, 3_254_005), Point(700_025, 3_254_015)],
        crs=UTM49N,
    ).to_file(folder / "points.gpkg", layer="cores_2025", driver="GPKG")
    gpd.GeoDataFrame(
        {"name": ["Junshan"]}, geometry=[box(700_000, 3_254_000, 700_040, 3_254_030)], crs=UTM49N
    ).to_file(folder / "points.gpkg", layer="boundary", driver="GPKG")
    return write_qgis_project(folder / "project.qgs", _project())


def test_qgis_loads_the_small_project_with_every_layer_valid_and_styled(tmp_path: Path) -> None:
    project = _small_project(tmp_path)
    report = load_in_qgis(project, tmp_path / "render.png")
    assert report["read"] and report["crs"] == "EPSG:32649"
    assert report["view_extent"] == [700_000.0, 3_254_000.0, 700_040.0, 3_254_030.0]
    assert report["groups"] == ["Epoch 2025"]
    layers = {layer["name"]: layer for layer in report["layers"]}
    assert set(layers) == {"Boundary", "Soil cores", "SOC (Mg C/ha)", "Land cover"}
    for layer in layers.values():
        assert layer["valid"], layer
        assert layer["crs"] == layer["provider_crs"] == "EPSG:32649", layer
    assert layers["Soil cores"]["features"] == 2
    assert layers["Boundary"]["features"] == 1
    assert layers["Land cover"]["classes"] == [[1, "water", "#2c7fb8"], [2, "reed", "#3f9b3f"]]
    assert [item[0] for item in layers["SOC (Mg C/ha)"]["ramp"]] == [0.0, 5.0, 10.0]
    assert report["rendered"]
    from PIL import Image

    # The visible SOC ramp draws its 12 cells in grey levels between black and white.
    pixels = np.asarray(Image.open(tmp_path / "render.png").convert("RGB")).reshape(-1, 3)
    greys = {tuple(p) for p in pixels if p[0] == p[1] == p[2]}
    assert len(greys) >= 10


def test_the_projects_layer_names_follow_the_runs_language() -> None:
    # Issue 20: a Chinese run's QGIS project names its maps, points and groups in Chinese
    # (the catalog's words), with the epoch and the units as they are; English as before.
    from carbonsink import i18n
    from carbonsink.pipeline.gis_project import _layer_name

    assert _layer_name("map_carbon", "2025") == "Carbon stock of the counted pools, 2025 (Mg C/ha)"
    assert _layer_name("map_landcover", "2025") == "Land-cover class, 2025"
    with i18n.language("zh-CN"):
        assert _layer_name("map_carbon", "2025") == "计入碳库的碳储量，2025（Mg C/ha）"
        assert _layer_name("map_landcover", "2020") == "土地覆盖类别，2020"
        assert i18n.gettext("Epoch {name}").format(name="2025") == "监测时点 2025"
