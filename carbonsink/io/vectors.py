"""The project boundary: polygons from any OGR vector file, as one geometry.

The boundary may come in any CRS; :func:`read_boundary` unions every polygon
of the file, repairs invalid rings, and reprojects the result. A GeoJSON file
without a ``crs`` member is longitude/latitude on WGS 84 (RFC 7946 §4); any
other file must state its CRS, or the survey must.

This module knows formats, not science.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Geod
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from carbonsink.crs import (
    as_crs,
    crs_label,
    crs_plausibility_problem,
    resolve_crs,
    transformer,
)
from carbonsink.errors import CRSError, InputError
from carbonsink.i18n import Message, deferred, gettext
from carbonsink.io.files import choose_layer, existing_file

__all__ = [
    "FINGERPRINT_GRID_DEG",
    "Boundary",
    "boundary_crs",
    "footprint_in",
    "load_boundary",
    "load_water_polygons",
    "read_boundary",
]

logger = logging.getLogger(__name__)

#: The CRS of a GeoJSON file without a ``crs`` member (RFC 7946 §4).
GEOJSON_CRS = "EPSG:4326"
_GEOJSON_SUFFIXES = frozenset({".geojson", ".json"})
#: Grid the fingerprint's lon/lat coordinates are snapped to, degrees (1e-7° ≈ 1 cm).
FINGERPRINT_GRID_DEG = 1e-7


def _crs_fix(what: str) -> str:
    return (
        f"give the {what}'s CRS in the survey, or save the {what} as a GeoPackage "
        "(which stores its CRS) or as GeoJSON in longitude/latitude (EPSG:4326)"
    )


def _is_geojson(file: Path, driver: str | None) -> bool:
    return driver == "GeoJSON" or file.suffix.lower() in _GEOJSON_SUFFIXES


def _layer_info(file: Path, layer: str | None) -> tuple[str, dict[str, Any]]:
    import pyogrio

    name = choose_layer(file, layer)
    try:
        return name, dict(pyogrio.read_info(file, layer=name))
    except Exception as exc:  # pyogrio raises DataSourceError and GDAL errors
        raise InputError(
            f"layer {name!r} cannot be read ({exc})",
            path=file,
            fix="check that the file is a complete vector file (GeoPackage, GeoJSON, ...)",
        ) from exc


def _source_crs(file: Path, info: dict[str, Any], crs: Any, what: str = "boundary") -> CRS:
    resolved, _ = resolve_crs(info.get("crs"), crs, path=file)
    if resolved is not None:
        return resolved
    if _is_geojson(file, info.get("driver")):
        logger.debug("%s: GeoJSON without a crs member; reading it as %s", file, GEOJSON_CRS)
        return as_crs(GEOJSON_CRS)
    raise CRSError(f"the {what} file has no CRS", path=file, fix=_crs_fix(what))


def boundary_crs(path: str | os.PathLike[str], *, crs: Any = None, layer: str | None = None) -> CRS:
    """The CRS of a boundary file: the survey's override, else the file's own.

    Parameters
    ----------
    path
        A GeoPackage, GeoJSON, shapefile or other OGR vector file.
    crs
        A CRS that overrides or completes the file's.
    layer
        The layer of a multi-layer file.

    Raises
    ------
    InputNotFoundError, InputError
        When the file is missing or unreadable.
    CRSError
        When the file has no CRS, is not GeoJSON (RFC 7946: WGS 84
        longitude/latitude) and ``crs`` is not given.
    """
    file = existing_file(path, what="boundary file")
    _, info = _layer_info(file, layer)
    return _source_crs(file, info, crs)


def _polygonal_parts(geometry: BaseGeometry) -> list[Polygon]:
    """The polygons in a geometry (recursing into collections); [] for points and lines."""
    if isinstance(geometry, Polygon):
        return [] if geometry.is_empty else [geometry]
    if isinstance(geometry, MultiPolygon | GeometryCollection):
        return [part for member in geometry.geoms for part in _polygonal_parts(member)]
    return []


def _as_area(geometry: BaseGeometry) -> Polygon | MultiPolygon:
    parts = _polygonal_parts(geometry)
    if len(parts) == 1:
        return parts[0]
    return MultiPolygon(parts)


@dataclass(frozen=True)
class Boundary:
    """A project boundary as read from its file, once, in the file's own CRS.

    Attributes
    ----------
    path
        The boundary file.
    crs
        The CRS of its coordinates (the survey's override, else the file's).
    geometry
        The union of every polygon of the file (invalid rings repaired), in ``crs``.
    repairs
        One sentence per repaired invalid polygon: the feature, what was
        invalid and its area before and after (for the ledger's warnings).
    what, area
        What the polygons are (``"boundary"``, ``"water polygon"``) and what
        they draw (``"the project area"``), for the messages.

    Notes
    -----
    :meth:`to_crs` gives it in any CRS and :meth:`fingerprint` hashes it, so
    one reading serves the preflight's checks, the grid, the inside mask and
    the ledger's polygon record.
    """

    path: Path
    crs: CRS
    geometry: BaseGeometry
    repairs: tuple[Message, ...] = ()
    what: str = "boundary"
    area: str = "the project area"

    def to_crs(self, target_crs: Any) -> Polygon | MultiPolygon:
        """The boundary in ``target_crs``, valid and with an area.

        Raises
        ------
        CRSError
            Some vertices fall outside the target CRS's domain.
        InputError
            The polygons enclose no area.
        """
        target = as_crs(target_crs)
        area = self.geometry
        if not self.crs.equals(target, ignore_axis_order=True):
            area = _reproject(area, self.crs, target, self.path, self.what)
        result = _as_area(area if area.is_valid else shapely.make_valid(area))
        if result.is_empty or result.area <= 0:
            raise InputError(
                f"the {self.what} polygons enclose no area",
                path=self.path,
                fix=f"draw {self.area} as one or more polygons with an area",
            )
        return result

    def fingerprint(self) -> dict[str, Any]:
        """A hash of the polygon that does not depend on its file format or vertex order.

        Returns
        -------
        dict
            ``sha256`` (hex) of the polygon's normalised WKB, the ``method`` used,
            and the polygon's ``bounds_lonlat`` (west, south, east, north).

        Notes
        -----
        The boundary is taken in OGC:CRS84 (lon/lat order), its coordinates are
        snapped to a 1e-7° grid (:data:`FINGERPRINT_GRID_DEG`, about 1 cm), it
        is normalised (``shapely.normalize``: ring orientation, starting vertex
        and part order canonical) and written as ISO WKB; the hash is SHA-256
        of those bytes. The same hectares in another file format, CRS or
        vertex order give the same hash; registering it in the ledger lets a
        registry spot a polygon sold twice (docs/methodology.md §5).
        """
        lonlat = self.to_crs("OGC:CRS84")
        snapped = shapely.normalize(shapely.set_precision(lonlat, FINGERPRINT_GRID_DEG))
        digest = hashlib.sha256(
            shapely.to_wkb(snapped, output_dimension=2, flavor="iso")
        ).hexdigest()
        west, south, east, north = (float(v) for v in snapped.bounds)
        return {
            "sha256": digest,
            "method": gettext(
                "SHA-256 of the ISO WKB of the boundary in lon/lat (OGC:CRS84), snapped to "
                "{grid:g} degrees and normalised (shapely.normalize)"
            ).format(grid=FINGERPRINT_GRID_DEG),
            "bounds_lonlat": [west, south, east, north],
        }


#: Largest relative change of a polygon's area a geometry repair may make (0.1 %).
MAX_REPAIR_AREA_CHANGE = 0.001


def _area_ha(geometry: BaseGeometry, crs: CRS) -> float:
    """Area of a polygon as its vertices draw it (shoelace; geodesic when geographic), ha."""
    if crs.is_geographic:
        geod = Geod(ellps="WGS84")
        return abs(float(geod.geometry_area_perimeter(geometry)[0])) / 10_000.0
    unit = float(crs.axis_info[0].unit_conversion_factor) if crs.axis_info else 1.0
    return abs(float(geometry.area)) * unit * unit / 10_000.0


def _checked_repair(
    part: Polygon, fixed: list[Polygon], crs: CRS, path: Path, number: int
) -> Message:
    """The repair's description, or an InputError when it changes the area by ≥ 0.1 %."""
    reason = shapely.is_valid_reason(part)
    before = _area_ha(part, crs)
    after = sum(_area_ha(p, crs) for p in fixed)
    change = abs(after - before) / before if before > 0 else float("inf")
    if change >= MAX_REPAIR_AREA_CHANGE:
        raise InputError(
            f"invalid polygon ({reason}): repairing it would change its area from "
            f"{before:,.2f} ha to {after:,.2f} ha, so which area was meant is unclear",
            path=path,
            where=f"feature {number}",
            fix="fix the polygon in a GIS (QGIS: Vector > Geometry Tools > Check Validity, then "
            "Fix Geometries), check its area, and save it again",
        )
    return deferred(
        "feature {number}: invalid polygon ({reason}) repaired with shapely.make_valid; its "
        "area changed by {change:.3%} ({before:,.4f} ha → {after:,.4f} ha)",
        number=number,
        reason=reason,
        change=change,
        before=before,
        after=after,
    )


def load_boundary(
    path: str | os.PathLike[str],
    *,
    crs: Any = None,
    layer: str | None = None,
    what: str = "boundary",
    area: str = "the project area",
) -> Boundary:
    """Read a project boundary file once: every polygon, unioned, in the file's CRS.

    Parameters
    ----------
    path
        A GeoPackage, GeoJSON, shapefile or other OGR vector file holding
        the project area as polygons.
    crs
        A CRS that overrides or completes the file's.
    layer
        The layer of a multi-layer file.
    what, area
        What the polygons are and what they draw, for the messages
        (:class:`Boundary`): the same reader takes a survey's water polygons.

    Returns
    -------
    Boundary

    Raises
    ------
    InputNotFoundError
        When the file does not exist.
    InputError
        When it is unreadable, has no features or only empty geometries, or
        holds no polygons (only points or lines).
    CRSError
        When the file has no CRS (and is not GeoJSON) and none is given, or
        its coordinates do not fit its CRS.

    Notes
    -----
    An invalid polygon (self-intersection, bow-tie) is repaired with
    :func:`shapely.make_valid` only when the repair changes its area — as the
    vertices draw it, geodesic for a geographic CRS — by less than
    :data:`MAX_REPAIR_AREA_CHANGE` (0.1 %); the repair is then recorded in
    :attr:`Boundary.repairs` (a ledger warning). A larger change is an
    :class:`~carbonsink.errors.InputError` naming the feature and both areas:
    which polygon was meant cannot be guessed. Non-polygon features next to
    polygons are ignored with a warning.
    """
    import pyogrio

    file = existing_file(path, what=f"{what} file")
    name, info = _layer_info(file, layer)
    source = _source_crs(file, info, crs, what)
    try:
        frame = pyogrio.read_dataframe(file, layer=name, columns=[])
    except Exception as exc:  # pyogrio raises DataSourceError and GDAL errors
        raise InputError(
            f"layer {name!r} cannot be read ({exc})",
            path=file,
            fix="check that the file is a complete vector file (GeoPackage, GeoJSON, ...)",
        ) from exc
    geometries = np.asarray(frame.geometry.to_numpy()) if "geometry" in frame else np.array([])
    if len(frame) == 0 or all(g is None or g.is_empty for g in geometries):
        raise InputError(
            f"the {what} file has no geometry (no features, or only empty ones)",
            path=file,
            fix=f"draw {area} as one or more polygons",
        )
    polygons: list[Polygon] = []
    repairs: list[Message] = []
    others: Counter[str] = Counter()
    for number, geometry in enumerate(geometries, start=1):
        if geometry is None or geometry.is_empty:
            continue
        parts = _polygonal_parts(shapely.force_2d(geometry))
        if not parts:
            others[geometry.geom_type] += 1
            continue
        for part in parts:
            if part.is_valid:
                polygons.append(part)
                continue
            fixed = _polygonal_parts(shapely.make_valid(part))
            repairs.append(_checked_repair(part, fixed, source, file, number))
            logger.warning(deferred("{file}: {repair}", file=str(file), repair=repairs[-1]))
            polygons.extend(fixed)
    found = ", ".join(f"{n} {kind}" for kind, n in sorted(others.items()))
    if not polygons:
        raise InputError(
            f"the {what} file holds no polygons (found {found})",
            path=file,
            fix=f"draw {area} as one or more polygons (not points or lines)",
        )
    if others:
        logger.warning(
            deferred("{file}: ignoring non-polygon features ({found})", file=str(file), found=found)
        )
    union = shapely.union_all(polygons)
    problem = crs_plausibility_problem(source, union.bounds)
    if problem:
        raise CRSError(problem, path=file, fix=_crs_fix(what))
    return Boundary(
        path=file, crs=source, geometry=union, repairs=tuple(repairs), what=what, area=area
    )


def load_water_polygons(
    path: str | os.PathLike[str], *, crs: Any = None, layer: str | None = None
) -> Boundary:
    """Water surfaces drawn for a LiDAR flight: :func:`load_boundary`, with messages of water."""
    return load_boundary(
        path, crs=crs, layer=layer, what="water polygon", area="the water surfaces at the flight"
    )


def read_boundary(
    path: str | os.PathLike[str],
    *,
    target_crs: Any,
    crs: Any = None,
    layer: str | None = None,
) -> Polygon | MultiPolygon:
    """Read a project boundary as one (multi)polygon in ``target_crs``.

    :func:`load_boundary` then :meth:`Boundary.to_crs`; read the file once
    with :func:`load_boundary` when it is needed in several CRSs.

    Parameters
    ----------
    path, crs, layer
        As :func:`load_boundary`.
    target_crs
        The CRS to return the boundary in.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon
        The union of every polygon of the file, valid and 2-D.
    """
    return load_boundary(path, crs=crs, layer=layer).to_crs(target_crs)


def _reproject(
    geometry: BaseGeometry, source: CRS, target: CRS, file: Path, what: str = "boundary"
) -> BaseGeometry:
    to_target = transformer(source, target, path=file, what=what)

    def move(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = to_target.transform(coords[:, 0], coords[:, 1], errcheck=False)
        return np.column_stack([x, y])

    moved = shapely.transform(geometry, move)
    coords = shapely.get_coordinates(moved)
    if not np.all(np.isfinite(coords)):
        raise CRSError(
            f"the {what} cannot be transformed from {crs_label(source)} to "
            f"{crs_label(target)}: some vertices fall outside the target CRS's domain",
            path=file,
            fix=f"check the {what}'s CRS, and that the analysis CRS covers the project area",
        )
    return moved


def footprint_in(
    bounds: tuple[float, float, float, float], src: CRS, dst: CRS
) -> BaseGeometry | None:
    """The outline of the extent ``bounds`` (in ``src``) in ``dst``, densified.

    Each side is sampled at 21 points, so a curved image of a side stays close.
    ``None`` when PROJ cannot transform it: no operation between the CRSs
    (another celestial body), or points outside the target's domain.
    """
    xmin, ymin, xmax, ymax = bounds
    corners = np.array([(xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax), (xmin, ymin)])
    edges = np.concatenate([np.linspace(a, b, 21) for a, b in itertools.pairwise(corners)])
    try:
        to_dst = transformer(src, dst)
    except CRSError:
        return None
    tx, ty = to_dst.transform(edges[:, 0], edges[:, 1])
    if not (np.all(np.isfinite(tx)) and np.all(np.isfinite(ty))):
        return None
    outline = shapely.Polygon(np.column_stack([tx, ty]))
    return outline if outline.is_valid else outline.buffer(0)
