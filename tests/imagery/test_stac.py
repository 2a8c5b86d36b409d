"""STAC imagery entries: an ItemCollection of local COGs gives the composite of the files."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine

from carbonsink.errors import InputError
from carbonsink.grid import Grid
from carbonsink.imagery.scenes import read_scene, read_scenes
from carbonsink.io.stac import read_stac
from carbonsink.pipeline import RunContext, find_epoch
from carbonsink.pipeline.stages.imagery import epoch_composite
from carbonsink.preflight import preflight

UTM49 = "EPSG:32649"
X0, Y0 = 400_000.0, 3_300_000.0


def _cog(source: Path, target: Path) -> Path:
    with rasterio.open(source) as src:
        profile = src.profile | {"driver": "COG", "compress": "deflate"}
        profile.pop("blockxsize", None), profile.pop("blockysize", None), profile.pop("tiled", None)
        with rasterio.open(target, "w", **profile) as dst:
            dst.write(src.read())
            dst.descriptions = src.descriptions
    return target


def _item(item_id: str, when: str, assets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
        ],
        "id": item_id,
        "geometry": None,
        "properties": {"datetime": when, "platform": "sentinel-2a"},
        "links": [],
        "assets": assets,
    }


def _multiband_asset(href: str, names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "href": href,
        "type": "image/tiff; application=geotiff; profile=cloud-optimized",
        "roles": ["data"],
        "eo:bands": [{"name": name} for name in names],
    }


@pytest.fixture
def stac_survey(tmp_path: Path, sample_survey: Path) -> tuple[Path, Path]:
    """Two copies of the sample survey: 2020 imagery as two COG entries, and as one ItemCollection.

    The ItemCollection (``stac/items.json``) names the same COGs by hrefs
    relative to itself (``../imagery/...``), with their eo:bands and dates.
    """
    direct = tmp_path / "direct"
    shutil.copytree(sample_survey.parent, direct, ignore=shutil.ignore_patterns("truth"))
    items = []
    toml = direct / "survey.toml"
    text = toml.read_text(encoding="utf-8")
    for day in ("2020-09-10", "2020-09-20"):
        tif = direct / "imagery" / f"s2_{day}.tif"
        cog = _cog(tif, direct / "imagery" / f"s2_{day}_cog.tif")
        with rasterio.open(cog) as src:
            names = tuple(src.descriptions)
        items.append(
            _item(
                f"S2_{day}",
                f"{day}T03:05:41Z",
                {"data": _multiband_asset(f"../imagery/{cog.name}", names)},
            )
        )
        text = text.replace(f'"imagery/s2_{day}.tif"', f'"imagery/{cog.name}"')
    toml.write_text(text, encoding="utf-8")
    stac = direct / "stac"
    stac.mkdir()
    (stac / "items.json").write_text(
        json.dumps({"type": "FeatureCollection", "features": items}), encoding="utf-8"
    )
    via_stac = tmp_path / "stac_survey"
    shutil.copytree(direct, via_stac)
    entries = (
        '  { path = "imagery/s2_2020-09-10_cog.tif", sensor = "sentinel-2-l2a", '
        'date = "2020-09-10" },\n'
        '  { path = "imagery/s2_2020-09-20_cog.tif", sensor = "sentinel-2-l2a", '
        'date = "2020-09-20" },\n'
    )
    stac_text = (via_stac / "survey.toml").read_text(encoding="utf-8")
    assert entries in stac_text
    (via_stac / "survey.toml").write_text(
        stac_text.replace(entries, '  { path = "stac/items.json", sensor = "sentinel-2-l2a" },\n'),
        encoding="utf-8",
    )
    return direct / "survey.toml", via_stac / "survey.toml"


def test_an_item_collection_gives_the_composite_of_its_files(
    stac_survey: tuple[Path, Path],
) -> None:
    direct, via_stac = stac_survey
    report = preflight(via_stac)
    assert report.errors == [], "\n".join(map(str, report.errors))
    assert via_stac.parent / "stac" / "items.json" in report.checked
    composites = []
    for survey in (direct, via_stac):
        ctx = RunContext.build(survey)
        composites.append(epoch_composite(ctx, find_epoch(ctx.survey, "2020")))
    # The same pixels, counts and layers; only the scenes' sources differ
    # (the files, or the STAC file and its items).
    xr.testing.assert_equal(composites[0], composites[1])
    attrs = [dict(c.attrs) for c in composites]
    assert [a.pop("scenes") for a in attrs][1] == [
        f"{via_stac.parent / 'stac' / 'items.json'} (item S2_2020-09-{d})" for d in ("10", "20")
    ]
    assert attrs[0] == attrs[1]
    for name, layer in composites[0].data_vars.items():
        assert layer.attrs == composites[1][name].attrs
    # The scene dates come from the items.
    ctx = RunContext.build(via_stac)
    scenes = read_scenes(via_stac.parent / "stac" / "items.json", ctx.grid, sensor="sentinel-2-l2a")
    assert [s.date for s in scenes] == [dt.date(2020, 9, 10), dt.date(2020, 9, 20)]


def _band_cog(path: Path, value: int, resolution: float = 10.0) -> Path:
    profile = {
        "driver": "COG",
        "width": 6,
        "height": 4,
        "count": 1,
        "dtype": "uint16",
        "crs": UTM49,
        "transform": Affine(resolution, 0.0, X0, 0.0, -resolution, Y0),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((1, 4, 6), value, dtype=np.uint16))
    return path


def test_per_band_assets_by_common_name_with_raster_scaling(tmp_path: Path) -> None:
    # Earth Search style: one COG per band, asset keys by common name, the
    # raster extension's scale and offset.
    assets = {}
    for key, band, value in (("red", "B04", 2000), ("nir", "B08", 4500), ("green", "B03", 3000)):
        _band_cog(tmp_path / f"{band}.tif", value)
        assets[key] = {
            "href": f"./{band}.tif",
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "roles": ["data", "reflectance"],
            "eo:bands": [{"name": band, "common_name": key}],
            "raster:bands": [{"scale": 0.0001, "offset": -0.1, "nodata": 0}],
        }
    _band_cog(tmp_path / "SCL.tif", 4)
    assets["scl"] = {"href": "./SCL.tif", "type": "image/tiff", "roles": ["data"]}
    assets["thumbnail"] = {"href": "./thumb.jpg", "type": "image/jpeg", "roles": ["thumbnail"]}
    path = tmp_path / "item.json"
    path.write_text(json.dumps(_item("one", "2025-09-18T03:05:39Z", assets)), encoding="utf-8")

    (product,) = read_stac(path)
    assert (product.scale, product.offset) == (0.0001, -0.1)
    assert product.source("B04", "red") == (str(tmp_path / "B04.tif"), 1)
    assert product.source("SCL") == (str(tmp_path / "SCL.tif"), 1)
    grid = Grid(crs=UTM49, transform=Affine(10.0, 0.0, X0, 0.0, -10.0, Y0), width=6, height=4)
    scene = read_scene(path, grid, sensor="sentinel-2-l2a", bands=["green", "red", "nir"])
    # DN × 0.0001 − 0.1: red 2000 → 0.1, nir 4500 → 0.35, green 3000 → 0.2.
    for band, expected in (("red", 0.1), ("nir", 0.35), ("green", 0.2)):
        assert scene.reflectance.sel(band=band).values == pytest.approx(np.full((4, 6), expected))
    assert scene.date == dt.date(2025, 9, 18)
    assert not scene.masks["unusable"].values.any()  # SCL 4: vegetation


def test_a_static_catalog_is_walked(tmp_path: Path) -> None:
    _band_cog(tmp_path / "B04.tif", 2000)
    item = _item("only", "2025-09-18T03:05:39Z", {"B04": _multiband_asset("./B04.tif", ("B04",))})
    item["links"] = [{"rel": "root", "href": "../catalog.json"}]
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "only.json").write_text(json.dumps(item), encoding="utf-8")
    (tmp_path / "only" / "B04.tif").write_bytes((tmp_path / "B04.tif").read_bytes())
    catalog = {
        "type": "Catalog",
        "stac_version": "1.0.0",
        "id": "survey-imagery",
        "description": "scenes of the survey",
        "links": [{"rel": "item", "href": "./only/only.json"}],
    }
    (tmp_path / "catalog.json").write_text(json.dumps(catalog), encoding="utf-8")
    (product,) = read_stac(tmp_path / "catalog.json")
    assert product.files["B04"] == str(tmp_path / "only" / "B04.tif")


def test_remote_assets_and_non_stac_json_are_refused(tmp_path: Path) -> None:
    remote = _item(
        "far",
        "2025-09-18T00:00:00Z",
        {"red": _multiband_asset("https://example.com/B04.tif", ("B04",))},
    )
    path = tmp_path / "remote.json"
    path.write_text(json.dumps(remote), encoding="utf-8")
    with pytest.raises(InputError, match="are remote") as caught:
        read_stac(path)
    assert "download the item's assets" in str(caught.value)
    # One band local, another remote: reading the local one works, asking for
    # the remote one is the error.
    _band_cog(tmp_path / "B03.tif", 3000)
    remote["assets"]["green"] = _multiband_asset("./B03.tif", ("B03",))
    path.write_text(json.dumps(remote), encoding="utf-8")
    grid = Grid(crs=UTM49, transform=Affine(10.0, 0.0, X0, 0.0, -10.0, Y0), width=6, height=4)
    green = read_scene(path, grid, sensor="sentinel-2-l2a", bands=["green"])
    assert green.reflectance.sel(band="green").values == pytest.approx(np.full((4, 6), 0.2))
    with pytest.raises(InputError, match=r"band 'B04' of .* is remote"):
        read_scene(path, grid, sensor="sentinel-2-l2a", bands=["red"])
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"type": "Topology"}), encoding="utf-8")
    with pytest.raises(InputError, match="not a STAC Item"):
        read_stac(other)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}), encoding="utf-8")
    with pytest.raises(InputError, match="holds no item"):
        read_stac(empty)


def test_an_earth_search_item_layout(tmp_path: Path) -> None:
    # Earth Search v1 names its SWIR assets swir16/swir22 (common names of the
    # eo extension) and ships each band twice (COG and "-jp2") plus a visual TCI.
    assets: dict[str, Any] = {}
    for key, band, value in (("red", "B04", 2000), ("swir16", "B11", 3000)):
        _band_cog(tmp_path / f"{band}.tif", value)
        entry = {
            "href": f"./{band}.tif",
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "roles": ["data", "reflectance"],
            "eo:bands": [{"name": key, "common_name": key}],
            "raster:bands": [{"scale": 0.0001, "offset": -0.1}],
        }
        assets[key] = entry
        assets[f"{key}-jp2"] = entry | {"href": f"./{band}.jp2", "type": "image/jp2"}
    _band_cog(tmp_path / "TCI.tif", 9)
    assets["visual"] = {
        "href": "./TCI.tif",
        "type": "image/tiff; application=geotiff",
        "roles": ["visual"],
        "eo:bands": [{"name": "red", "common_name": "red"}],
    }
    item = _item("es", "2025-09-18T03:05:39Z", assets)
    # A remote self link (as the API wrote it) must not move the relative hrefs.
    item["links"] = [{"rel": "self", "href": "https://earth-search.example/v1/items/es"}]
    path = tmp_path / "items.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [item]}), encoding="utf-8")
    (product,) = read_stac(path)
    assert product.source("B11", "swir1") == (str(tmp_path / "B11.tif"), 1)
    assert product.source("B04", "red") == (str(tmp_path / "B04.tif"), 1)
    grid = Grid(crs=UTM49, transform=Affine(10.0, 0.0, X0, 0.0, -10.0, Y0), width=6, height=4)
    scene = read_scene(path, grid, sensor="sentinel-2-l2a", bands=["red", "swir1"])
    # 3000 × 1e-4 − 0.1 = 0.2 for swir1; 2000 → 0.1 for red (not the TCI's 9).
    assert scene.reflectance.sel(band="swir1").values == pytest.approx(np.full((4, 6), 0.2))
    assert scene.reflectance.sel(band="red").values == pytest.approx(np.full((4, 6), 0.1))
