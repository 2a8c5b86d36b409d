"""Imagery products as downloaded: Sentinel-2 L2A .SAFE (.zip), Landsat C2 L2 folder (.tar).

The products are built here, small but structurally real: JPEG 2000 bands
written through GDAL's JP2OpenJPEG driver at 10, 20 and 60 m in the SAFE's
``GRANULE/*/IMG_DATA/R{10,20,60}m`` folders, the 20 m SCL, and the
``MTD_MSIL2A.xml`` elements the reader uses in their place in the real
schema; a Landsat folder with ``SR_B1``–``SR_B7``, ``QA_PIXEL`` and the MTL
(text, JSON or XML) as USGS delivers them.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine

from carbonsink.errors import InputError
from carbonsink.grid import Grid
from carbonsink.imagery.scenes import read_scene
from carbonsink.io.products import open_product
from carbonsink.io.scene_bands import get_sensor, locate_bands

UTM49 = "EPSG:32649"
X0, Y0 = 400_000.0, 3_300_000.0
#: The analysis grid: 4 rows x 6 columns of 10 m at (X0, Y0).
GRID = Grid(crs=UTM49, transform=Affine(10.0, 0.0, X0, 0.0, -10.0, Y0), width=6, height=4)

SAFE = "S2B_MSIL2A_20250918T030539_N0511_R075_T49RFP_20250918T061233.SAFE"
GRANULE = "L2A_T49RFP_A044567_20250918T031350"
STEM = "T49RFP_20250918T030539"
#: Band -> resolutions (m) at which the product holds it (as ESA's R10m/R20m/R60m folders).
S2_FILES = {
    "B01": (20, 60),
    "B02": (10, 20, 60),
    "B03": (10, 20, 60),
    "B04": (10, 20, 60),
    "B05": (20, 60),
    "B06": (20, 60),
    "B07": (20, 60),
    "B08": (10,),
    "B8A": (20, 60),
    "B09": (60,),
    "B11": (20, 60),
    "B12": (20, 60),
    "SCL": (20, 60),
}


def _jp2(path: Path, values: np.ndarray, transform: Affine) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    profile: dict[str, Any] = {
        "driver": "JP2OpenJPEG",
        "width": values.shape[1],
        "height": values.shape[0],
        "count": 1,
        "dtype": values.dtype.name,
        "crs": UTM49,
        "transform": transform,
        "QUALITY": 100,
        "REVERSIBLE": "YES",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)


def _s2_values(band: str, resolution: int) -> np.ndarray:
    """DNs of a band at a resolution over the 40 x 60 m grid."""
    rows, cols = 40 // resolution or 1, 60 // resolution
    if band == "SCL":
        scl = np.full((rows, cols), 4, dtype=np.uint8)  # vegetation
        scl[0, 0] = 9  # cloud, high probability: the 20 m pixel at the upper left
        return scl
    if band == "B11" and resolution == 20:
        # Columns of 20 m pixels: 2000, 4000, 2000 (a bright strip in the middle).
        return np.tile(np.array([2000, 4000, 2000], dtype=np.uint16), (rows, 1))
    base = {"B04": 2000, "B08": 4500}.get(band, 3000)
    # The coarser copies of a band differ, so the test sees which one was read.
    return np.full((rows, cols), base + (resolution - 10) * 10, dtype=np.uint16)


def _offsets(baseline: str) -> str:
    if baseline < "04.00":
        return ""
    values = "".join(f'<BOA_ADD_OFFSET band_id="{i}">-1000</BOA_ADD_OFFSET>' for i in range(13))
    return f"<BOA_ADD_OFFSET_VALUES_LIST>{values}</BOA_ADD_OFFSET_VALUES_LIST>"


def write_safe_images(
    folder: Path,
    images: dict[tuple[str, int], tuple[np.ndarray, Affine]],
    *,
    baseline: str = "05.11",
    start: str = "2025-09-18T03:05:39.024Z",
) -> Path:
    """A Sentinel-2 L2A product folder: (band, resolution) -> (DNs, transform), and its metadata."""
    safe = folder / SAFE
    entries = []
    for (band, resolution), (values, transform) in images.items():
        name = f"GRANULE/{GRANULE}/IMG_DATA/R{resolution}m/{STEM}_{band}_{resolution}m"
        _jp2(safe / f"{name}.jp2", values, transform)
        entries.append(f"<IMAGE_FILE>{name}</IMAGE_FILE>")
    metadata = f"""<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
<n1:General_Info>
<Product_Info>
<PRODUCT_START_TIME>{start}</PRODUCT_START_TIME>
<PRODUCT_STOP_TIME>{start}</PRODUCT_STOP_TIME>
<PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE>
<PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>
<PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
<Product_Organisation><Granule_List>
<Granule granuleIdentifier="{GRANULE}" imageFormat="JPEG2000">
{"".join(entries)}
</Granule>
</Granule_List></Product_Organisation>
</Product_Info>
<Product_Image_Characteristics>
<QUANTIFICATION_VALUES_LIST>
<BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>
<AOT_QUANTIFICATION_VALUE unit="none">1000.0</AOT_QUANTIFICATION_VALUE>
</QUANTIFICATION_VALUES_LIST>
{_offsets(baseline)}
</Product_Image_Characteristics>
</n1:General_Info>
</n1:Level-2A_User_Product>
"""
    (safe / "MTD_MSIL2A.xml").write_text(metadata, encoding="utf-8")
    return safe


def write_safe(folder: Path, *, baseline: str = "05.11") -> Path:
    """The 40 x 60 m test product: every band at each resolution ESA ships it."""
    images = {
        (band, resolution): (
            _s2_values(band, resolution),
            Affine(resolution, 0.0, X0, 0.0, -resolution, Y0),
        )
        for band, resolutions in S2_FILES.items()
        for resolution in resolutions
    }
    return write_safe_images(folder, images, baseline=baseline)


def _zip(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as opened:
        for file in sorted(folder.rglob("*")):
            opened.write(file, file.relative_to(folder.parent).as_posix())
    return archive


def test_a_safe_is_read_by_its_metadata(tmp_path: Path) -> None:
    safe = write_safe(tmp_path)
    product = open_product(safe)
    assert product is not None and product.sensor == "sentinel-2-l2a"
    # Each band at its finest resolution; B09 only at 60 m.
    assert product.files["B04"].endswith("R10m/T49RFP_20250918T030539_B04_10m.jp2")
    assert product.files["B11"].endswith("_B11_20m.jp2")
    assert product.files["SCL"].endswith("_SCL_20m.jp2")
    assert product.files["B09"].endswith("_B09_60m.jp2")
    # Baseline 05.11: reflectance = (DN − 1000) / 10000.
    assert (product.scale, product.offset) == (1e-4, -0.1)
    assert product.date == dt.date(2025, 9, 18)

    scene = read_scene(safe, GRID, sensor="sentinel-2-l2a")
    assert scene.date == dt.date(2025, 9, 18)
    red = scene.reflectance.sel(band="red").values
    # B04 at 10 m, DN 2000: (2000 − 1000) / 10000 = 0.1 on every cell.
    assert red == pytest.approx(np.full((4, 6), 0.1), abs=1e-6)
    nir = scene.reflectance.sel(band="nir").values
    assert nir == pytest.approx(np.full((4, 6), 0.35), abs=1e-6)  # (4500 − 1000) / 1e4
    # B11 at 20 m (columns 2000, 4000, 2000) onto 10 m, bilinear: the 10 m cell
    # centres sit a quarter of a 20 m pixel from the 20 m centres, so the cells
    # next to the strip take ¾ of their pixel and ¼ of the neighbour:
    # column 1: (0.75 × 2000 + 0.25 × 4000 − 1000) / 1e4 = 0.15; column 2: 0.75 × 4000
    # + 0.25 × 2000 → 0.25; columns 2 and 3 are symmetric.
    swir = scene.reflectance.sel(band="swir1").values
    assert swir[1, 1] == pytest.approx(0.15, abs=1e-6)
    assert swir[1, 2] == pytest.approx(0.25, abs=1e-6)
    assert swir[1, 3] == pytest.approx(0.25, abs=1e-6)
    assert swir[1, 4] == pytest.approx(0.15, abs=1e-6)
    # The SCL is read nearest: its cloudy 20 m pixel covers exactly the four
    # 10 m cells at the upper left.
    cloud = scene.masks["cloud"].values
    expected = np.zeros((4, 6), dtype=bool)
    expected[:2, :2] = True
    assert np.array_equal(cloud, expected)
    assert np.array_equal(scene.masks["unusable"].values, expected)


def test_the_zip_gives_the_same_scene(tmp_path: Path) -> None:
    safe = write_safe(tmp_path / "product")
    archive = _zip(safe, tmp_path / f"{SAFE[:-5]}.zip")
    product = open_product(archive)
    assert product is not None
    assert product.files["B04"].startswith(f"/vsizip/{{{archive}}}/{SAFE}/GRANULE/")
    folder_scene = read_scene(safe, GRID, sensor="sentinel-2-l2a")
    zip_scene = read_scene(archive, GRID, sensor="sentinel-2-l2a")
    assert np.array_equal(folder_scene.reflectance.values, zip_scene.reflectance.values)
    assert np.array_equal(folder_scene.masks["cloud"].values, zip_scene.masks["cloud"].values)
    assert zip_scene.date == dt.date(2025, 9, 18)


def test_an_old_baseline_has_no_offset(tmp_path: Path) -> None:
    safe = write_safe(tmp_path, baseline="02.14")
    scene = read_scene(safe, GRID, sensor="sentinel-2-l2a", bands=["red"])
    # No BOA_ADD_OFFSET before baseline 04.00: 2000 / 10000 = 0.2.
    assert scene.reflectance.sel(band="red").values == pytest.approx(np.full((4, 6), 0.2))


def test_a_product_with_a_missing_band_file_or_the_wrong_sensor(tmp_path: Path) -> None:
    safe = write_safe(tmp_path)
    with pytest.raises(InputError, match="the product is sentinel-2-l2a"):
        locate_bands(safe, get_sensor("landsat-c2-l2"), None, None, None)
    next(safe.rglob("*_B11_20m.jp2")).unlink()
    with pytest.raises(InputError, match="lists band B11") as caught:
        open_product(safe)
    assert "download the whole product again" in str(caught.value)


def test_level_1c_is_refused_with_the_fix(tmp_path: Path) -> None:
    safe = tmp_path / "S2A_MSIL1C_20250918T030539_N0511_R075_T49RFP_20250918T050000.SAFE"
    safe.mkdir()
    (safe / "MTD_MSIL1C.xml").write_text("<x/>", encoding="utf-8")
    with pytest.raises(InputError, match="Level-1C") as caught:
        open_product(safe)
    assert "Level-2A" in str(caught.value)


LANDSAT = "LC09_L2SP_123040_20250915_20250916_02_T1"


def _mtl_groups() -> dict[str, dict[str, Any]]:
    contents: dict[str, Any] = {
        f"FILE_NAME_BAND_{n}": f"{LANDSAT}_SR_B{n}.TIF" for n in range(1, 8)
    }
    contents["FILE_NAME_QUALITY_L1_PIXEL"] = f"{LANDSAT}_QA_PIXEL.TIF"
    reflectance: dict[str, Any] = {}
    for n in range(1, 8):
        reflectance[f"REFLECTANCE_MULT_BAND_{n}"] = "2.75E-05"
        reflectance[f"REFLECTANCE_ADD_BAND_{n}"] = "-0.200000"
    return {
        "PRODUCT_CONTENTS": contents,
        "IMAGE_ATTRIBUTES": {"DATE_ACQUIRED": "2025-09-15", "SPACECRAFT_ID": "LANDSAT_9"},
        "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS": reflectance,
    }


def _mtl_text(groups: dict[str, dict[str, Any]]) -> str:
    lines = ["GROUP = LANDSAT_METADATA_FILE"]
    for group, values in groups.items():
        lines.append(f"  GROUP = {group}")
        for key, value in values.items():
            quoted = f'"{value}"' if key.startswith("FILE_NAME") else value
            lines.append(f"    {key} = {quoted}")
        lines.append(f"  END_GROUP = {group}")
    return "\n".join([*lines, "END_GROUP = LANDSAT_METADATA_FILE", "END", ""])


def _mtl_xml(groups: dict[str, dict[str, Any]]) -> str:
    body = "".join(
        f"<{group}>" + "".join(f"<{k}>{v}</{k}>" for k, v in values.items()) + f"</{group}>"
        for group, values in groups.items()
    )
    declaration = '<?xml version="1.0" encoding="UTF-8"?>'
    return f"{declaration}<LANDSAT_METADATA_FILE>{body}</LANDSAT_METADATA_FILE>"


def write_landsat(folder: Path, *, mtl: str = "txt") -> Path:
    """A Landsat 9 C2 L2 product folder on a 30 m grid: 2 rows x 2 columns."""
    folder.mkdir(parents=True)
    transform = Affine(30.0, 0.0, X0, 0.0, -30.0, Y0)
    profile = {"driver": "GTiff", "width": 2, "height": 2, "count": 1, "crs": UTM49}
    for n in range(1, 8):
        # SR DN 10909 + 1000 n: band 4 (red) = 14909 -> 14909 × 2.75e-5 − 0.2 = 0.2099975.
        values = np.full((1, 2, 2), 10909 + 1000 * n, dtype=np.uint16)
        with rasterio.open(
            folder / f"{LANDSAT}_SR_B{n}.TIF", "w", dtype="uint16", transform=transform, **profile
        ) as dst:
            dst.write(values)
    # QA_PIXEL: 21824 = clear land (bit 6); 22280 = cloud (bit 3) at the lower right.
    qa = np.array([[[21824, 21824], [21824, 22280]]], dtype=np.uint16)
    with rasterio.open(
        folder / f"{LANDSAT}_QA_PIXEL.TIF", "w", dtype="uint16", transform=transform, **profile
    ) as dst:
        dst.write(qa)
    groups = _mtl_groups()
    text = {
        "txt": _mtl_text(groups),
        "json": json.dumps({"LANDSAT_METADATA_FILE": groups}),
        "xml": _mtl_xml(groups),
    }[mtl]
    (folder / f"{LANDSAT}_MTL.{mtl}").write_text(text, encoding="utf-8")
    return folder


LANDSAT_GRID = Grid(crs=UTM49, transform=Affine(30.0, 0.0, X0, 0.0, -30.0, Y0), width=2, height=2)


@pytest.mark.parametrize("mtl", ["txt", "json", "xml"])
def test_a_landsat_c2_l2_folder_by_its_mtl(tmp_path: Path, mtl: str) -> None:
    folder = write_landsat(tmp_path / LANDSAT, mtl=mtl)
    product = open_product(folder)
    assert product is not None and product.sensor == "landsat-c2-l2"
    assert (product.scale, product.offset) == (2.75e-5, -0.2)
    assert product.date == dt.date(2025, 9, 15)
    scene = read_scene(folder, LANDSAT_GRID, sensor="landsat-c2-l2")
    assert scene.date == dt.date(2025, 9, 15)
    # red = SR_B4: 14909 × 2.75e-5 − 0.2 = 0.2099975
    assert scene.reflectance.sel(band="red").values == pytest.approx(
        np.full((2, 2), 0.2099975), abs=1e-6
    )
    assert np.array_equal(scene.masks["cloud"].values, [[False, False], [False, True]])


def test_the_tar_gives_the_same_scene(tmp_path: Path) -> None:
    folder = write_landsat(tmp_path / LANDSAT)
    archive = tmp_path / f"{LANDSAT}.tar"
    with tarfile.open(archive, "w") as opened:
        for file in sorted(folder.iterdir()):
            opened.add(file, file.name)  # USGS tars hold the files at the top level
    product = open_product(archive)
    assert product is not None
    assert product.files["SR_B4"] == f"/vsitar/{{{archive}}}/{LANDSAT}_SR_B4.TIF"
    from_folder = read_scene(folder, LANDSAT_GRID, sensor="landsat-c2-l2")
    from_tar = read_scene(archive, LANDSAT_GRID, sensor="landsat-c2-l2")
    assert np.array_equal(from_folder.reflectance.values, from_tar.reflectance.values)
    assert np.array_equal(from_folder.masks["cloud"].values, from_tar.masks["cloud"].values)


def test_an_archive_that_is_no_product(tmp_path: Path) -> None:
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as opened:
        opened.writestr("readme.txt", "not imagery")
    with pytest.raises(InputError, match="neither a Sentinel-2"):
        open_product(archive)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(InputError, match="cannot be read"):
        open_product(broken)


def test_a_sample_scene_as_a_product_passes_validate_and_reads_the_same(
    tmp_path: Path, sample_survey: Path
) -> None:
    from carbonsink.preflight import preflight

    folder = tmp_path / "s"
    shutil.copytree(sample_survey.parent, folder, ignore=shutil.ignore_patterns("truth"))
    tif = folder / "imagery" / "s2_2020-09-10.tif"
    with rasterio.open(tif) as src:
        stack, transform, names = src.read(), src.transform, src.descriptions
    images = {(name, 10): (stack[i], transform) for i, name in enumerate(names)}
    safe = write_safe_images(tmp_path / "product", images, start="2020-09-10T03:05:41.024Z")
    archive = _zip(safe, folder / "imagery" / f"{SAFE[:-5]}.zip")
    toml = folder / "survey.toml"
    entry = '{ path = "imagery/s2_2020-09-10.tif", sensor = "sentinel-2-l2a", date = "2020-09-10" }'
    text = toml.read_text(encoding="utf-8")
    assert entry in text
    toml.write_text(
        text.replace(entry, f'{{ path = "imagery/{archive.name}", sensor = "sentinel-2-l2a" }}'),
        encoding="utf-8",
    )
    report = preflight(toml)
    assert report.errors == [], "\n".join(map(str, report.errors))
    assert archive in report.checked
    assert report.grid is not None
    from_tif = read_scene(tif, report.grid, sensor="sentinel-2-l2a", date=dt.date(2020, 9, 10))
    from_zip = read_scene(archive, report.grid, sensor="sentinel-2-l2a")
    assert from_zip.date == dt.date(2020, 9, 10)  # from PRODUCT_START_TIME
    # Baseline 05.11 gives the profile's own −0.1 offset: the same reflectance.
    assert np.array_equal(from_tif.reflectance.values, from_zip.reflectance.values, equal_nan=True)
    assert np.array_equal(from_tif.masks["unusable"].values, from_zip.masks["unusable"].values)


def test_landsat_7_is_refused_not_read_with_the_oli_layout(tmp_path: Path) -> None:
    folder = write_landsat(tmp_path / LANDSAT)
    mtl = folder / f"{LANDSAT}_MTL.txt"
    mtl.write_text(
        mtl.read_text(encoding="utf-8").replace("LANDSAT_9", "LANDSAT_7"), encoding="utf-8"
    )
    with pytest.raises(InputError, match="LANDSAT_7") as caught:
        open_product(folder)
    assert "red = SR_B3" in str(caught.value)


def test_the_offset_of_each_band_is_its_own_band_id(tmp_path: Path) -> None:
    # band_id 3 is B04 and 8 is B8A: offsets −1000 for B04 and −2000 for B8A
    # (unequal, which carbonsink refuses) show the mapping is by band_id.
    safe = write_safe(tmp_path)
    metadata = safe / "MTD_MSIL2A.xml"
    text = metadata.read_text(encoding="utf-8")
    metadata.write_text(
        text.replace('<BOA_ADD_OFFSET band_id="8">-1000', '<BOA_ADD_OFFSET band_id="8">-2000'),
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="different BOA_ADD_OFFSET"):
        open_product(safe)
    # B8A read alone is absent from the 10 m set, so drop the other bands'
    # offsets except B8A's: one offset, −2000 / 10000.
    only = text.replace('<BOA_ADD_OFFSET band_id="8">-1000', '<BOA_ADD_OFFSET band_id="8">-2000')
    for band_id in (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12):
        only = only.replace(f'<BOA_ADD_OFFSET band_id="{band_id}">-1000</BOA_ADD_OFFSET>', "")
    metadata.write_text(only, encoding="utf-8")
    product = open_product(safe)
    assert product is not None and product.offset == pytest.approx(-0.2)


def test_a_tar_with_dot_slash_members(tmp_path: Path) -> None:
    folder = write_landsat(tmp_path / LANDSAT)
    archive = tmp_path / f"{LANDSAT}.tar"
    with tarfile.open(archive, "w") as opened:
        for file in sorted(folder.iterdir()):
            opened.add(file, f"./{file.name}")
    product = open_product(archive)
    assert product is not None and set(product.files) >= {"SR_B4", "QA_PIXEL"}
    scene = read_scene(archive, LANDSAT_GRID, sensor="landsat-c2-l2", bands=["red"])
    assert scene.reflectance.sel(band="red").values == pytest.approx(
        np.full((2, 2), 0.2099975), abs=1e-6
    )


def test_a_folder_of_two_products_is_refused(tmp_path: Path) -> None:
    write_safe(tmp_path / "a")
    second = write_safe(tmp_path / "b")
    shutil.move(str(second), str(tmp_path / "a" / f"{SAFE[:-5]}_2.SAFE"))
    with pytest.raises(InputError, match="holds 2 products"):
        open_product(tmp_path / "a")
