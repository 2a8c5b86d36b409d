"""Imagery products as downloaded: Sentinel-2 L2A ``.SAFE`` and Landsat Collection-2 Level-2.

A survey's imagery entry may name a whole product instead of a stack or a
folder of band files:

* a Sentinel-2 Level-2A product, the ``.SAFE`` folder or the ``.zip`` the
  Copernicus Data Space delivers: the bands are found through the product
  metadata ``MTD_MSIL2A.xml`` (``IMAGE_FILE`` entries; each band at its finest
  resolution — 10 m B02/B03/B04/B08, 20 m B01/B05–B07/B8A/B11/B12 and the
  SCL, 60 m B09), and the reflectance scaling is the metadata's
  ``BOA_QUANTIFICATION_VALUE`` and ``BOA_ADD_OFFSET`` (−1000 from processing
  baseline 04.00, none before; ESA, Sentinel-2 Products Specification
  Document, S2-PDGS-TAS-DI-PSD v15);
* a Landsat 8/9 Collection-2 Level-2 product folder, or the ``.tar`` USGS
  EarthExplorer delivers, with its ``*_MTL.txt``, ``*_MTL.xml`` or
  ``*_MTL.json``: the bands through ``FILE_NAME_BAND_n`` and
  ``FILE_NAME_QUALITY_L1_PIXEL``, the scaling through
  ``REFLECTANCE_MULT_BAND_n``/``REFLECTANCE_ADD_BAND_n`` (USGS Landsat 8-9
  Collection 2 Level 2 Science Product Guide, LSDS-1619).

The acquisition date comes from the metadata (``PRODUCT_START_TIME``,
``DATE_ACQUIRED``). Files inside an archive are read in place through GDAL's
``/vsizip/{archive}/member`` and ``/vsitar/{archive}/member`` paths: nothing is
extracted. This module knows the products' layout, not the science.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tarfile
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, Final
from xml.etree import ElementTree

from carbonsink.errors import InputError
from carbonsink.io.landsat_mtl import parse_mtl

__all__ = ["ARCHIVE_SUFFIXES", "Product", "archive_members", "open_product", "open_products"]

#: Archive suffixes and their GDAL virtual file system.
_ARCHIVES: Final = {".zip": "vsizip", ".tar": "vsitar", ".tgz": "vsitar", ".gz": "vsitar"}
#: File suffixes read as a product archive, not as a raster.
ARCHIVE_SUFFIXES: Final = frozenset(_ARCHIVES)
_S2_METADATA: Final = re.compile(r"(?:^|/)MTD_MSIL(2A|1C)\.xml$")
_S2_IMAGE: Final = re.compile(r"_(B\d[\dA]|SCL)_(\d+)m$")
_MTL: Final = re.compile(r"_MTL\.(txt|json|xml)$", re.IGNORECASE)
#: Spacecraft whose C2 L2 band layout the ``landsat-c2-l2`` profile describes (OLI).
_OLI_SPACECRAFT: Final = frozenset({"LANDSAT_8", "LANDSAT_9"})
#: Sentinel-2 band ids in the order of the metadata's ``band_id`` 0–12.
_S2_BAND_ORDER: Final = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"
)  # fmt: skip


@dataclass(frozen=True)
class Product:
    """What a downloaded product (or a STAC item) holds: band files, reflectance scaling, date.

    Attributes
    ----------
    sensor
        The carbonsink sensor profile it matches (``"sentinel-2-l2a"``,
        ``"landsat-c2-l2"``), or ``None`` when the source does not say (STAC:
        the survey entry's sensor is taken).
    path
        The product (folder, archive or STAC file).
    metadata
        Its metadata file (a GDAL path inside an archive) or the STAC item,
        for messages.
    files
        Band name (``"B04"``, ``"SCL"``, ``"SR_B4"``, ``"QA_PIXEL"``; for STAC
        also the asset key and the common name, e.g. ``"red"``) → the file, a
        path or a GDAL virtual path.
    scale, offset
        Reflectance = DN × scale + offset, from the metadata; ``None``: the
        sensor profile's.
    date
        Acquisition date from the metadata.
    band_numbers
        Band name → the band of its file holding it (multiband STAC assets);
        1 when absent.
    item
        The STAC item's id (``None`` for a downloaded product).
    remote
        Band names whose only asset is remote → its href (STAC); asking for
        one of them is an error.
    """

    sensor: str | None
    path: Path
    metadata: str
    files: Mapping[str, str]
    scale: float | None
    offset: float | None
    date: dt.date | None
    band_numbers: Mapping[str, int] = field(default_factory=dict)
    item: str | None = None
    remote: Mapping[str, str] = field(default_factory=dict)

    def source(self, *names: str) -> tuple[str, int] | None:
        """The file and band number of the first of ``names`` the product holds (any case)."""
        by_upper = {key.upper(): key for key in self.files}
        far = {key.upper(): href for key, href in self.remote.items()}
        for name in names:
            key = by_upper.get(name.upper())
            if key is not None:
                return self.files[key], self.band_numbers.get(key, 1)
        for name in names:
            if name.upper() in far:
                raise InputError(
                    f"band {name!r} of {self.metadata} is remote ({far[name.upper()]})",
                    path=self.path,
                    fix="download the item's assets (e.g. with carbonsink imagery search) and "
                    "name a STAC file whose hrefs point at the local copies",
                )
        return None


@lru_cache(maxsize=64)
def _listing(archive: str, modified: float) -> tuple[str, ...]:
    if Path(archive).suffix.lower() == ".zip":
        with zipfile.ZipFile(archive) as opened:
            return tuple(opened.namelist())
    with tarfile.open(archive) as opened:
        return tuple(opened.getnames())


def archive_members(archive: str | os.PathLike[str]) -> tuple[str, ...]:
    """The member names of a ``.zip`` or ``.tar`` archive (cached while it is unchanged).

    Raises
    ------
    InputError
        When the archive cannot be read.
    """
    path = Path(archive)
    try:
        return _listing(str(path), path.stat().st_mtime)
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise InputError(
            f"the archive cannot be read ({exc})",
            path=path,
            fix="download the product again (the archive may be incomplete)",
        ) from None


class _Tree:
    """A folder or an archive: its files by relative POSIX name, and how GDAL opens each.

    Names are normalised (no leading ``./``, as some ``tar`` tools write them);
    the archive's own spelling is kept for opening the member.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.system = _ARCHIVES.get(root.suffix.lower()) if root.is_file() else None
        if self.system is not None:
            members = [n.rstrip("/") for n in archive_members(root)]
            self._member = {PurePosixPath(n).as_posix().removeprefix("./"): n for n in members}
        else:
            files = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
            self._member = {n: n for n in files}
        self.names = list(self._member)

    def gdal(self, name: str) -> str:
        if self.system is None:
            return str(self.root / name)
        return f"/{self.system}/{{{self.root}}}/{self._member.get(name, name)}"

    def read(self, name: str) -> bytes:
        member = self._member.get(name, name)
        if self.system is None:
            return (self.root / member).read_bytes()
        try:
            if self.system == "vsizip":
                with zipfile.ZipFile(self.root) as opened:
                    return opened.read(member)
            with tarfile.open(self.root) as opened:
                extracted = opened.extractfile(member)
                if extracted is None:
                    raise tarfile.TarError(f"{member} is not a file")
                return extracted.read()
        except (OSError, zipfile.BadZipFile, tarfile.TarError, zlib.error) as exc:
            raise InputError(
                f"{member} cannot be read from the archive ({exc})",
                path=self.root,
                fix="download the product again (the archive may be damaged)",
            ) from None

    def find(self, pattern: re.Pattern[str]) -> list[str]:
        return sorted(n for n in self.names if pattern.search(n))


def _text(root: ElementTree.Element, tag: str, metadata: str) -> str:
    found = root.find(f".//{tag}")
    if found is None or not (found.text or "").strip():
        raise InputError(
            f"the product metadata has no {tag}",
            path=metadata,
            fix="give the product as downloaded (its metadata file is incomplete)",
        )
    return (found.text or "").strip()


def _date(text: str, metadata: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"the acquisition date {text!r} is not a date",
            path=metadata,
            fix="give the product's metadata as downloaded, or the date in the imagery entry",
        ) from None


def _sentinel2(tree: _Tree, metadata_name: str) -> Product:
    metadata = tree.gdal(metadata_name)
    try:
        root = ElementTree.fromstring(tree.read(metadata_name))
    except ElementTree.ParseError as exc:
        raise InputError(
            f"the product metadata is not valid XML ({exc})", path=metadata, fix="download it again"
        ) from None
    base = PurePosixPath(metadata_name).parent
    best: dict[str, tuple[int, str]] = {}
    for element in root.iter("IMAGE_FILE"):
        name = (element.text or "").strip()
        match = _S2_IMAGE.search(name)
        if match is None:
            continue
        band, resolution = match[1], int(match[2])
        if band not in best or resolution < best[band][0]:
            best[band] = (resolution, name)
    files: dict[str, str] = {}
    for band, (_, name) in sorted(best.items()):
        member = str(base / f"{name}.jp2") if str(base) != "." else f"{name}.jp2"
        if member not in tree.names:
            raise InputError(
                f"the metadata lists band {band} as {name}.jp2, which the product lacks",
                path=tree.root,
                fix="download the whole product again (the .SAFE is incomplete)",
            )
        files[band] = tree.gdal(member)
    if not files:
        raise InputError(
            "the product metadata lists no band image (IMAGE_FILE)",
            path=metadata,
            fix="give the product as downloaded",
        )
    baseline = _text(root, "PROCESSING_BASELINE", metadata)
    try:
        offsets = {
            _S2_BAND_ORDER[int(e.get("band_id", ""))]: float((e.text or "").strip())
            for e in root.iter("BOA_ADD_OFFSET")
        }
        quantification = float(_text(root, "BOA_QUANTIFICATION_VALUE", metadata))
    except (ValueError, IndexError) as exc:
        raise InputError(
            f"the product metadata's BOA_ADD_OFFSET or BOA_QUANTIFICATION_VALUE is not valid "
            f"({exc})",
            path=metadata,
            fix="give the product as downloaded (its metadata file is damaged)",
        ) from None
    used = {offsets[b] for b in files if b in offsets}
    if len(used) > 1:
        raise InputError(
            f"the bands have different BOA_ADD_OFFSET values ({sorted(used)}); carbonsink "
            "applies one offset per scene",
            path=metadata,
            fix="report this product to the carbonsink developers",
        )
    if not used and baseline >= "04.00":
        raise InputError(
            f"processing baseline {baseline} but no BOA_ADD_OFFSET in the metadata",
            path=metadata,
            fix="give the product as downloaded (its metadata file is incomplete)",
        )
    start = _text(root, "PRODUCT_START_TIME", metadata)
    return Product(
        sensor="sentinel-2-l2a",
        path=tree.root,
        metadata=metadata,
        files=files,
        scale=1.0 / quantification,
        offset=(used.pop() if used else 0.0) / quantification,
        date=_date(start[:10], metadata),
    )


def _xml_dict(element: ElementTree.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    return {child.tag: _xml_dict(child) for child in children}


def _mtl(tree: _Tree, name: str) -> dict[str, Any]:
    data = tree.read(name)
    suffix = name.rsplit(".", 1)[-1].lower()
    where = tree.gdal(name)
    try:
        if suffix == "json":
            parsed = json.loads(data)
        elif suffix == "xml":
            root = ElementTree.fromstring(data)
            parsed = {root.tag: _xml_dict(root)}
        else:
            parsed = parse_mtl(data.decode("utf-8"), path=where)
    except (ValueError, ElementTree.ParseError) as exc:
        raise InputError(
            f"the MTL cannot be read ({exc})", path=where, fix="download it again"
        ) from None
    top = parsed.get("LANDSAT_METADATA_FILE", parsed.get("L1_METADATA_FILE", parsed))
    return top if isinstance(top, dict) else {}


def _landsat(tree: _Tree, names: list[str]) -> Product | None:
    order = {"txt": 0, "json": 1, "xml": 2}
    name = min(names, key=lambda n: order[n.rsplit(".", 1)[-1].lower()])
    metadata = tree.gdal(name)
    mtl = _mtl(tree, name)
    level2 = mtl.get("LEVEL2_SURFACE_REFLECTANCE_PARAMETERS")
    if not isinstance(level2, dict):
        return None  # a Level-1 scene: its band files and MTL are read as they are
    attributes = mtl.get("IMAGE_ATTRIBUTES", {})
    spacecraft = str(attributes.get("SPACECRAFT_ID", "")).strip().upper()
    if spacecraft not in _OLI_SPACECRAFT:
        raise InputError(
            f"a Collection-2 Level-2 product of {spacecraft or 'an unnamed spacecraft'}: "
            "carbonsink's landsat-c2-l2 profile is Landsat 8/9 OLI's band layout (red = SR_B4, "
            "nir = SR_B5); on Landsat 4-7 TM/ETM+ these are other bands",
            path=metadata,
            fix="use Landsat 8/9 scenes, or give this scene's band files with sensor = "
            '"generic" and a band map (TM/ETM+: blue = SR_B1, green = SR_B2, red = SR_B3, '
            "nir = SR_B4, swir1 = SR_B5, swir2 = SR_B7) after scaling them to reflectance",
        )
    contents = mtl.get("PRODUCT_CONTENTS", {})
    base = PurePosixPath(name).parent
    files: dict[str, str] = {}
    wanted = {f"SR_B{n}": f"FILE_NAME_BAND_{n}" for n in range(1, 8)}
    wanted["QA_PIXEL"] = "FILE_NAME_QUALITY_L1_PIXEL"
    for band, key in wanted.items():
        file = contents.get(key)
        if not file:
            continue
        member = str(base / str(file)) if str(base) != "." else str(file)
        if member in tree.names:
            files[band] = tree.gdal(member)
    try:
        reflective = [b[4:] for b in files if b != "QA_PIXEL"]
        scales = {float(level2[f"REFLECTANCE_MULT_BAND_{n}"]) for n in reflective}
        offsets = {float(level2[f"REFLECTANCE_ADD_BAND_{n}"]) for n in reflective}
    except (KeyError, ValueError) as exc:
        raise InputError(
            f"the MTL's reflectance scaling is missing or not a number ({exc})",
            path=metadata,
            fix="give the product's MTL as downloaded",
        ) from None
    if len(scales) != 1 or len(offsets) != 1:
        raise InputError(
            f"the MTL gives {len(scales)} reflectance scales and {len(offsets)} offsets for "
            f"the bands found ({', '.join(files) or 'none'})",
            path=metadata,
            fix="give the product as downloaded, with its SR_B1 … SR_B7 files",
        )
    acquired = str(attributes.get("DATE_ACQUIRED", "")).strip()
    return Product(
        sensor="landsat-c2-l2",
        path=tree.root,
        metadata=metadata,
        files=files,
        scale=scales.pop(),
        offset=offsets.pop(),
        date=_date(acquired, metadata) if acquired else None,
    )


def open_products(path: str | os.PathLike[str]) -> list[Product] | None:
    """The scenes at ``path``: one per downloaded product, one per item of a STAC file.

    ``None`` when ``path`` is neither (a raster, or a folder or glob of band
    files). A ``.json`` file is read as STAC (:func:`carbonsink.io.stac.read_stac`).
    """
    if Path(path).suffix.lower() == ".json":
        from carbonsink.io.stac import read_stac

        return read_stac(path)
    product = open_product(path)
    return None if product is None else [product]


def open_product(path: str | os.PathLike[str]) -> Product | None:
    """The product at ``path``, or ``None`` when it is not a product (a stack or band folder).

    Parameters
    ----------
    path
        A ``.SAFE`` folder, a ``.zip``/``.tar`` archive, a Landsat product
        folder, a STAC Item (``.json``; one item), or anything else (``None``).

    Raises
    ------
    InputError
        A Sentinel-2 Level-1C product (top-of-atmosphere; carbonsink needs
        Level-2A surface reflectance), an unreadable archive, or metadata
        that does not describe the product's files.
    """
    root = Path(path)
    if root.is_file() and root.suffix.lower() == ".json":
        return _single_stac_item(root)
    is_archive = root.is_file() and root.suffix.lower() in _ARCHIVES
    if not (root.is_dir() or is_archive):
        return None
    tree = _Tree(root)
    safe = tree.find(_S2_METADATA)
    mtl = tree.find(_MTL)
    scenes = len(safe) + len({PurePosixPath(n).name.rsplit("_MTL", 1)[0] for n in mtl})
    if scenes > 1:
        raise InputError(
            f"the folder holds {scenes} products ({', '.join([*safe, *mtl][:4])}); an imagery "
            "entry is one product",
            path=root,
            fix="give each product its own imagery entry (its .SAFE folder, .zip or .tar)",
        )
    if safe:
        if safe[0].endswith("MSIL1C.xml"):
            raise InputError(
                "this is a Sentinel-2 Level-1C product (top-of-atmosphere reflectance)",
                path=root,
                fix="download the Level-2A product of the same scene (S2*_MSIL2A_*), which "
                "carries surface reflectance and the SCL cloud mask",
            )
        return _sentinel2(tree, safe[0])
    product = _landsat(tree, mtl) if mtl else None
    if product is not None or not is_archive:
        return product
    raise InputError(
        "the archive holds neither a Sentinel-2 MTD_MSIL2A.xml nor a Landsat Collection-2 "
        "Level-2 *_MTL file",
        path=root,
        fix="give a Sentinel-2 L2A .zip or a Landsat Collection-2 Level-2 .tar as downloaded, "
        "or extract the band files into a folder",
    )


def _single_stac_item(path: Path) -> Product:
    from carbonsink.io.stac import read_stac

    items = read_stac(path)
    if len(items) != 1:
        raise InputError(
            f"the STAC file holds {len(items)} items; one scene is read at a time",
            path=path,
            fix="read it with carbonsink.imagery.read_scenes (the survey's imagery entries do)",
        )
    return items[0]
