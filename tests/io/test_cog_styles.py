"""What GDAL and QGIS read from our rasters (issue 20): band units and descriptions, nodata,
scale/offset, the class maps' colour table, and the QGIS style written beside them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr

from carbonsink.errors import OutputError
from carbonsink.grid import Grid
from carbonsink.io.qgis_styles import write_category_names, write_class_style
from carbonsink.io.writers import class_colormap, write_cog, write_layer_cogs

GRID = Grid.from_bounds(
    (500_000.0, 3_250_000.0, 505_200.0, 3_256_000.0), crs="EPSG:32649", resolution=10.0
)  # 600 x 520 cells: more than a 256-cell block, so the COGs get overviews


def _biomass() -> xr.DataArray:
    values = np.linspace(0.0, 50.0, GRID.height * GRID.width, dtype=np.float32)
    values = values.reshape(GRID.height, GRID.width)
    values[0, :10] = np.nan
    return GRID.dataarray(values, name="agb", units="Mg DM/ha", long_name="above-ground biomass")


def _classes() -> xr.DataArray:
    codes = (np.arange(GRID.height * GRID.width) % 3 + 1).astype(np.uint8)
    codes = codes.reshape(GRID.height, GRID.width)
    codes[:5, :5] = 255  # outside the survey
    return GRID.dataarray(
        codes,
        name="landcover",
        units="1",
        long_name="land-cover class",
        attrs={
            "flag_values": np.array([1, 2, 3], dtype=np.uint8),
            "flag_meanings": "water reed poplar",
            "flag_colors": "#2c7fb8 #3f9b3f #1b5e20",
        },
    )


@pytest.mark.parametrize("writer", ["windowed", "in-memory"])
def test_a_map_says_its_units_and_what_it_is(tmp_path: Path, writer: str) -> None:
    path = tmp_path / "agb.tif"
    if writer == "windowed":
        write_layer_cogs([_biomass()], [path])
    else:
        write_cog(_biomass(), path)
    with rasterio.open(path) as src:
        assert src.descriptions == ("above-ground biomass",)
        assert src.units == ("Mg DM/ha",)
        assert src.tags(1) == {"units": "Mg DM/ha", "long_name": "above-ground biomass"}
        assert src.scales == (1.0,) and src.offsets == (0.0,)
        assert np.isnan(src.nodata)
        assert src.overviews(1)  # a COG of more than one block has overviews
        assert src.colorinterp[0].name == "gray"


@pytest.mark.parametrize("writer", ["windowed", "in-memory"])
def test_a_class_map_has_its_colour_table_and_255_as_nodata(tmp_path: Path, writer: str) -> None:
    path = tmp_path / "landcover.tif"
    if writer == "windowed":
        write_layer_cogs([_classes()], [path])
    else:
        write_cog(_classes(), path, nodata=255)
    with rasterio.open(path) as src:
        assert src.nodata == 255
        assert src.colorinterp[0].name == "palette"
        table = src.colormap(1)
        # #2c7fb8 = (44, 127, 184); #3f9b3f = (63, 155, 63); #1b5e20 = (27, 94, 32).
        assert table[1] == (44, 127, 184, 255)
        assert table[2] == (63, 155, 63, 255)
        assert table[3] == (27, 94, 32, 255)
        assert src.descriptions == ("land-cover class",)
        assert src.tags()["flag_meanings"] == "water reed poplar"


def test_the_colour_table_needs_a_colour_per_class() -> None:
    assert class_colormap({"flag_values": [1, 2]}) is None
    with pytest.raises(OutputError, match="2 flag_values but 1 flag_colors"):
        class_colormap({"flag_values": [1, 2], "flag_colors": ["#000000"]})


def test_the_qgis_style_lists_every_class_with_its_colour_and_name(tmp_path: Path) -> None:
    path = write_class_style(
        tmp_path / "landcover.qml",
        codes=[1, 4],
        names=["水体 water", "芦苇 / Phragmites & reed"],
        colours=["#2C7FB8", "#3f9b3f"],
    )
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE qgis")
    root = ET.fromstring(text.split("\n", 1)[1])
    renderer = root.find("pipe/rasterrenderer")
    assert renderer is not None
    assert (renderer.get("type"), renderer.get("band")) == ("paletted", "1")
    entries = [e.attrib for e in renderer.iterfind("colorPalette/paletteEntry")]
    assert entries == [
        {"value": "1", "color": "#2c7fb8", "alpha": "255", "label": "水体 water"},
        {"value": "4", "color": "#3f9b3f", "alpha": "255", "label": "芦苇 / Phragmites & reed"},
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["landcover.qml"]


def test_a_bad_style_is_refused_and_nothing_written(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="2 codes, 1 names and 2 colours"):
        write_class_style(
            tmp_path / "a.qml", codes=[1, 2], names=["a"], colours=["#000000", "#ffffff"]
        )
    with pytest.raises(OutputError, match="'red' is not #rrggbb"):
        write_class_style(tmp_path / "a.qml", codes=[1], names=["a"], colours=["red"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("writer", ["windowed", "in-memory"])
def test_class_overviews_hold_classes_that_are_there(tmp_path: Path, writer: str) -> None:
    # A checkerboard of water (1) and poplar (6): averaging codes (or their colours) would
    # make reed (4) or another class that is nowhere; the mode keeps 1 or 6.
    rows, cols = np.indices((GRID.height, GRID.width))
    codes = np.where((rows + cols) % 2 == 0, 1, 6).astype(np.uint8)
    layer = GRID.dataarray(
        codes,
        name="landcover",
        units="1",
        long_name="land-cover class",
        attrs={
            "flag_values": np.arange(1, 7, dtype=np.uint8),
            "flag_meanings": "water mudflat sedge reed miscanthus poplar",
            "flag_colors": "#2c7fb8 #a08f74 #b8e08a #3f9b3f #8c8c2a #1b5e20",
        },
    )
    path = tmp_path / "landcover.tif"
    if writer == "windowed":
        write_layer_cogs([layer], [path])
    else:
        write_cog(layer, path, nodata=255)
    with rasterio.open(path) as src:
        assert src.overviews(1)
        for factor in src.overviews(1):
            shape = (src.height // factor, src.width // factor)
            overview = src.read(1, out_shape=shape)
            assert set(np.unique(overview).tolist()) <= {1, 6}, factor
        assert src.tags()["flag_values"] == "1 2 3 4 5 6"


def test_category_names_are_listed_by_cell_value_for_gdal(tmp_path: Path) -> None:
    # Codes 1, 2 and 4: GDAL's list runs from value 0 to 4, empty where no class is.
    raster = tmp_path / "classes.tif"
    with rasterio.open(
        raster,
        "w",
        driver="GTiff",
        width=3,
        height=2,
        count=1,
        dtype="uint8",
        crs="EPSG:32649",
        transform=rasterio.transform.from_origin(500_000.0, 3_250_020.0, 10.0, 10.0),
    ) as dst:
        dst.write(np.array([[1, 2, 4], [4, 2, 1]], dtype=np.uint8), 1)
    aux = write_category_names(
        f"{raster}.aux.xml", codes=[1, 2, 4], names=["water", "reed", "杨树 poplar"]
    )
    root = ET.parse(aux).getroot()
    expected = ["", "water", "reed", "", "杨树 poplar"]
    assert [c.text or "" for c in root.iter("Category")] == expected
    from tests.qgis_check import gdal_category_names

    assert gdal_category_names(raster) == expected


def test_category_names_refuse_codes_a_class_map_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="one name per class code"):
        write_category_names(tmp_path / "a.aux.xml", codes=[1, 2], names=["water"])
    with pytest.raises(OutputError, match="not distinct values of 0–255"):
        write_category_names(tmp_path / "a.aux.xml", codes=[1, 256], names=["water", "x"])
    with pytest.raises(OutputError, match="not distinct values of 0–255"):
        write_category_names(tmp_path / "a.aux.xml", codes=[1, 1], names=["water", "x"])
    assert not (tmp_path / "a.aux.xml").exists()
