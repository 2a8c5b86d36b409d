"""Finding imagery through a STAC API and keeping it: search, download, an ItemCollection file.

``carbonsink imagery search`` asks a STAC API whose assets download over
plain HTTPS (Earth Search; APIs whose hrefs need signing or a login, such as
the Planetary Computer or CDSE, are not supported) for the scenes over the
survey's boundary in a date range (:func:`search_items`, through
pystac-client), downloads the assets the sensor profile needs — its
reflective bands and its quality band; not the JP2 copies or the true-colour
picture — next to the file (:func:`download_assets`), and writes an
ItemCollection whose hrefs are the local copies (:func:`write_item_collection`).
The survey then names that file as an imagery entry (:mod:`carbonsink.io.stac`):
the claim is computed from files kept with it, not from a service that may
change.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from carbonsink.errors import InputError
from carbonsink.io.stac import asset_names

__all__ = ["download_assets", "search_items", "write_item_collection"]

#: Seconds to wait for the API or an asset before giving up.
TIMEOUT_S = 60.0


def search_items(
    url: str,
    *,
    collection: str,
    bbox: Sequence[float],
    datetime: str,
    max_cloud_pct: float | None = None,
    max_items: int = 100,
) -> list[Any]:
    """The items of a STAC API search (pystac Items), in the API's order.

    Parameters
    ----------
    url
        The STAC API's root, e.g. ``https://earth-search.aws.element84.com/v1``.
    collection
        The collection, e.g. ``"sentinel-2-l2a"``.
    bbox
        (west, south, east, north) in WGS 84 degrees.
    datetime
        An RFC 3339 date range, e.g. ``"2020-09-01/2020-09-30"``.
    max_cloud_pct
        Keep items whose ``eo:cloud_cover`` is below this (%).
    max_items
        At most this many items.

    Raises
    ------
    InputError
        The API cannot be reached or refuses the search.
    """
    from pystac_client import Client
    from pystac_client.exceptions import APIError

    query = {"eo:cloud_cover": {"lt": max_cloud_pct}} if max_cloud_pct is not None else None
    try:
        client = Client.open(url, timeout=TIMEOUT_S)
        search = client.search(
            collections=[collection],
            bbox=list(bbox),
            datetime=datetime,
            query=query,
            max_items=max_items,
        )
        return list(search.items())
    except (APIError, OSError, ValueError) as exc:
        raise InputError(
            f"the STAC API search failed ({exc})",
            path=url,
            fix="check the API URL, the collection name and the network connection",
        ) from None


def _wanted(asset_key: str, asset: Any, names: Collection[str]) -> bool:
    upper = {n.upper() for n in names}
    return any(label.upper() in upper for label in asset_names(asset_key, asset))


def _fetch(href: str, target: Path) -> None:
    if urlparse(href).scheme not in ("http", "https"):
        raise InputError(
            f"the asset's href is not an http(s) URL ({href})",
            path=href,
            fix="download it with the provider's own tool (e.g. s3:// assets with the AWS CLI)",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(href, timeout=TIMEOUT_S) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
    except (urllib.error.URLError, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise InputError(
            f"the asset could not be downloaded ({exc})",
            path=href,
            fix="check the network connection and run the search again",
        ) from None
    partial.replace(target)


def download_assets(
    items: Sequence[Any],
    folder: Path,
    names: Collection[str],
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Any]:
    """Download each item's assets that hold one of ``names``; keep only those assets.

    Parameters
    ----------
    items
        pystac Items (from :func:`search_items`).
    folder
        Where the files go: ``folder/<item id>/<file name>``.
    names
        Band ids and common names to keep (e.g. ``B04``, ``red``, ``SCL``);
        matched against asset keys and their ``eo:bands`` names, any case.
    progress
        Called with (file, done, total) as files arrive.

    Returns
    -------
    list
        The items, each with only the kept assets, whose hrefs are the
        downloaded files (absolute paths; :func:`write_item_collection` makes
        them relative).
    """
    plan = [
        (item, key, asset)
        for item in items
        for key, asset in item.assets.items()
        if _wanted(key, asset, names)
    ]
    kept: dict[str, dict[str, Any]] = {item.id: {} for item in items}
    for done, (item, key, asset) in enumerate(plan, start=1):
        name = PurePosixPath(urlparse(asset.href).path).name or f"{key}.tif"
        target = folder / str(item.id) / name
        if not target.is_file():
            _fetch(asset.href, target)
        asset.href = str(target.resolve())
        kept[item.id][key] = asset
        if progress is not None:
            progress(name, done, len(plan))
    for item in items:
        item.assets = kept[item.id]
    return [item for item in items if item.assets]


def write_item_collection(items: Sequence[Any], path: Path) -> Path:
    """Write items as an ItemCollection JSON with asset hrefs relative to ``path``.

    Written to a temporary name and renamed, so a half-written file never
    stands in its place.
    """
    features = []
    for item in items:
        feature = item.to_dict(include_self_link=False, transform_hrefs=False)
        for asset in feature.get("assets", {}).values():
            href = Path(asset["href"])
            if href.is_absolute():
                asset["href"] = Path(os.path.relpath(href, path.parent)).as_posix()
        features.append(feature)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, indent=1),
        encoding="utf-8",
    )
    partial.replace(path)
    return path
