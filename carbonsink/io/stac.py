"""STAC: an imagery entry that names a STAC Item, ItemCollection or static catalog (local JSON).

Imagery is found today through STAC APIs; a search's result saved as an
ItemCollection (or a static catalog, or one Item) is an imagery entry of the
survey. :func:`read_stac` reads it through pystac and turns each item into a
:class:`~carbonsink.io.products.Product`: its raster assets by asset key, by
the ``eo:bands`` (STAC 1.0) or ``bands`` (STAC 1.1) ``name`` and by
``common_name`` (so ``"red"`` and ``"B04"`` both find the red band, and a
multiband asset gives each band its number), the reflectance scaling from the
raster extension's ``scale``/``offset`` when every reflective band gives the
same, and the date from the item's ``datetime`` (or ``start_datetime``).
Relative asset hrefs resolve against the file that names them (or the item's
own local self link). The bands read must be local files: a band whose asset
is remote (``https://``, ``s3://``) is refused with the fix, since a claim
must be computed from files that are kept with it; remote assets the scene
does not need are ignored. Without the raster extension, a Sentinel-2 item's
``s2:processing_baseline`` gives the offset (−0.1 from 04.00, else 0).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

from carbonsink.errors import InputError, InputNotFoundError
from carbonsink.io.products import Product

__all__ = ["STAC_COMMON_NAMES", "asset_names", "read_stac"]

#: Asset roles that are not the scene's pixels.
_SKIPPED_ROLES: Final = frozenset({"thumbnail", "overview", "metadata", "visual"})
#: Media-type fragments and file suffixes of raster assets.
_RASTER_TYPES: Final = ("tiff", "jp2", "geotiff")
_RASTER_SUFFIXES: Final = (".tif", ".tiff", ".jp2", ".vrt")
#: STAC's ``eo`` common names (and Earth Search's asset keys) -> carbonsink's common names.
STAC_COMMON_NAMES: Final = {"swir16": "swir1", "swir22": "swir2", "nir09": "watervapour"}
#: Common names of quality bands, never reflective.
_QUALITY: Final = frozenset({"SCL", "QA_PIXEL", "BQA", "FMASK"})


def _document(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputNotFoundError(
            "the STAC file does not exist", path=path, fix="check the path of the imagery entry"
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"the file is not JSON ({exc})",
            path=path,
            fix="give a STAC Item, ItemCollection or catalog saved as UTF-8 JSON",
        ) from None
    if not isinstance(document, dict):
        raise InputError("the JSON is not a STAC object", path=path, fix="give a STAC file")
    return document


def _items(path: Path, document: dict[str, Any]) -> list[Any]:
    """pystac Items of an Item, an ItemCollection or a static catalog / collection."""
    import pystac

    kind = document.get("type")
    try:
        if kind == "Feature":
            return [pystac.Item.from_file(str(path))]
        if kind == "FeatureCollection":
            return list(pystac.ItemCollection.from_file(str(path)))
        if kind in ("Catalog", "Collection"):
            return list(pystac.read_file(str(path)).get_items(recursive=True))  # type: ignore[attr-defined]
    except (pystac.STACError, KeyError, ValueError, TypeError) as exc:
        raise InputError(
            f"the STAC {kind} cannot be read ({exc})",
            path=path,
            fix="give the STAC file as the API or catalog wrote it",
        ) from None
    raise InputError(
        f"the JSON is not a STAC Item, ItemCollection or catalog (its type is {kind!r})",
        path=path,
        fix="save the search result as an ItemCollection (type FeatureCollection)",
    )


def _is_raster(asset: Any) -> bool:
    roles = set(asset.roles or ())
    if roles & _SKIPPED_ROLES and "data" not in roles:
        return False
    media = (asset.media_type or "").lower()
    if media:
        return any(kind in media for kind in _RASTER_TYPES)
    return bool(urlparse(asset.href).path.lower().endswith(_RASTER_SUFFIXES))


def _local_file(href: str, base: Path) -> str | None:
    """The asset's local path, or ``None`` for a remote href (``https://``, ``s3://``)."""
    parsed = urlparse(href)
    if parsed.scheme in ("", "file"):
        target = Path(parsed.path if parsed.scheme == "file" else href)
        return str(target if target.is_absolute() else (base / target).resolve())
    return None


def _band_list(asset: Any) -> list[dict[str, Any]]:
    fields = asset.extra_fields
    bands = fields.get("eo:bands") or fields.get("bands") or []
    return [b for b in bands if isinstance(b, dict)]


def _scaling(assets: Iterable[tuple[Any, list[dict[str, Any]]]]) -> tuple[float | None, ...]:
    """The one (scale, offset) of the reflective bands' raster extension, or (None, None)."""
    found: set[tuple[float, float]] = set()
    for asset, bands in assets:
        raster = asset.extra_fields.get("raster:bands") or []
        for i, entry in enumerate(raster):
            name = str(bands[i].get("name", "")) if i < len(bands) else ""
            if isinstance(entry, dict) and "scale" in entry and name.upper() not in _QUALITY:
                found.add((float(entry["scale"]), float(entry.get("offset", 0.0))))
    return found.pop() if len(found) == 1 else (None, None)


def asset_names(key: str, asset: Any) -> dict[str, int]:
    """The band names an asset answers to, each with its band number in the file.

    The asset key, its ``eo:bands``/``bands`` ``name`` and ``common_name``
    (multiband assets number their bands) and carbonsink's common name for
    STAC's (:data:`STAC_COMMON_NAMES`). Empty for a second copy of a band
    (Earth Search's ``-jp2`` assets) or a true-colour picture (role ``visual``).
    """
    if key.lower().endswith("-jp2") or "visual" in set(asset.roles or ()):
        return {}
    bands = _band_list(asset)
    names = {key: 1}
    for number, band in enumerate(bands, start=1):
        for label in (band.get("name"), band.get("common_name")):
            if label:
                names[str(label)] = number if len(bands) > 1 else 1
    for label in list(names):
        alias = STAC_COMMON_NAMES.get(str(label).lower())
        if alias is not None:
            names.setdefault(alias, names[label])
    return names


def _product(item: Any, path: Path) -> Product:
    href = item.get_self_href()
    local = href is not None and urlparse(href).scheme in ("", "file")
    base = Path(urlparse(href).path).parent if local else path.parent
    files: dict[str, str] = {}
    numbers: dict[str, int] = {}
    reflective = []
    remote: dict[str, str] = {}
    for key, asset in item.assets.items():
        if not _is_raster(asset):
            continue
        names = asset_names(key, asset)
        if not names:
            continue
        file = _local_file(asset.href, base)
        bands = _band_list(asset)
        for name, number in names.items():
            if file is None:
                remote.setdefault(name, asset.href)
                continue
            files.setdefault(name, file)
            numbers.setdefault(name, number)
        if file is not None and key.upper() not in _QUALITY:
            reflective.append((asset, bands))
    if remote and not files:
        raise InputError(
            f"the assets of item {item.id!r} are remote ({next(iter(remote.values()))})",
            path=path,
            fix="download the item's assets (e.g. with carbonsink imagery search, stac-asset or "
            "rio) and name a STAC file whose hrefs point at the local copies",
        )
    if not files:
        raise InputError(
            f"item {item.id!r} has no raster asset (GeoTIFF or JPEG 2000)",
            path=path,
            fix="name a STAC file whose items carry the scene's band assets",
        )
    when = item.datetime or item.common_metadata.start_datetime
    scale, offset = _scaling(reflective)
    baseline = item.properties.get("s2:processing_baseline")
    if scale is None and baseline is not None:  # Sentinel-2 L2A without raster:bands
        scale, offset = 1e-4, (-0.1 if str(baseline) >= "04.00" else 0.0)
    return Product(
        sensor=None,
        path=path,
        metadata=f"{path} (item {item.id})",
        files=files,
        scale=scale,
        offset=offset,
        date=when.date() if when is not None else None,
        band_numbers=numbers,
        item=str(item.id),
        remote=remote,
    )


def read_stac(path: str | os.PathLike[str]) -> list[Product]:
    """The scenes of a local STAC Item, ItemCollection or static catalog, one per item.

    Parameters
    ----------
    path
        The STAC JSON file.

    Returns
    -------
    list of Product
        In the file's item order; ``sensor`` is ``None`` (the survey entry's
        sensor profile applies).

    Raises
    ------
    InputNotFoundError
        The file does not exist.
    InputError
        It is not STAC, has no item, an item has no raster asset, or an asset
        is remote.
    """
    file = Path(path)
    items = _items(file, _document(file))
    if not items:
        raise InputError(
            "the STAC file holds no item",
            path=file,
            fix="save a search result that found scenes",
        )
    return [_product(item, file) for item in items]
