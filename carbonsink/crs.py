"""Coordinate reference systems: parse, name, check, suggest, resolve and sanity-check.

Every geospatial input states its CRS, in the file or in its survey entry
(docs/design.md §3), and the analysis CRS must be projected in metres (§4). This
is the one module that handles CRSs:

* :func:`as_crs` parses anything pyproj understands and :func:`crs_label`
  names a CRS in messages;
* :func:`require_projected_crs` refuses a geographic or non-metre analysis
  CRS and :func:`suggest_utm_crs` names the UTM zone to use instead;
* :func:`resolve_crs` decides whether a file's own CRS or the survey's
  override applies (:data:`CRSSource`);
* :func:`crs_plausibility_problem` catches the commonest mislabelling:
  projected coordinates tagged as longitude/latitude, and degrees tagged as a
  projected CRS;
* :func:`transformer` is pyproj's ``Transformer.from_crs`` (x, y order) with a
  message naming the file when PROJ has no operation between two CRSs.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from pyproj.exceptions import ProjError

from carbonsink.errors import CRSError

__all__ = [
    "DEGREE_TOLERANCE",
    "POINTS_MAX_ERROR_M",
    "TINY_EXTENT",
    "CRSSource",
    "as_crs",
    "crs_label",
    "crs_plausibility_problem",
    "require_projected_crs",
    "resolve_crs",
    "suggest_utm_crs",
    "transform_points",
    "transformer",
]

logger = logging.getLogger(__name__)

#: Where the CRS that applies to a file came from.
CRSSource = Literal["file", "override"]

#: Longitudes/latitudes may exceed ±180/±90 by this much (degrees) before a
#: geographic CRS is called implausible: raster edges of global grids sit half
#: a cell outside, and a mislabelled projected file is off by orders of magnitude.
DEGREE_TOLERANCE: Final = 1.0
#: A projected CRS whose coordinates all look like degrees is only flagged when
#: the extent is also below this many units: no real survey in metres or feet
#: is under 2 units across, but a lon/lat survey of a few kilometres is ~0.05.
TINY_EXTENT: Final = 2.0


def as_crs(crs: Any, *, what: str = "CRS") -> CRS:
    """Parse anything pyproj understands (``"EPSG:32649"``, WKT, a CRS object).

    Parameters
    ----------
    crs
        A pyproj CRS (returned as is), an object with ``to_wkt()`` (e.g. a
        rasterio CRS), an EPSG code, ``"EPSG:..."`` text or WKT.
    what
        How to name the CRS in the error message, e.g. ``"[survey].crs"``.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    CRSError
        When the input is not a CRS.
    """
    if isinstance(crs, CRS):
        return crs
    try:
        if hasattr(crs, "to_wkt"):
            return CRS.from_wkt(crs.to_wkt())
        return CRS.from_user_input(crs)
    except Exception as exc:  # pyproj raises CRSError/TypeError/ValueError
        raise CRSError(
            f"{what} {crs!r} is not a coordinate reference system pyproj can read ({exc})",
            fix='give an EPSG code such as "EPSG:32649", or a WKT string',
        ) from exc


def crs_label(crs: CRS) -> str:
    """A short name of a CRS for messages.

    Parameters
    ----------
    crs
        The CRS.

    Returns
    -------
    str
        ``"EPSG:32649 (WGS 84 / UTM zone 49N)"`` when the CRS has an EPSG
        code, else its name in double quotes (e.g. ``'"unknown"'``), so that
        a multi-word name stands out from the sentence around it.
    """
    code = crs.to_epsg()
    return f"EPSG:{code} ({crs.name})" if code else f'"{crs.name}"'


def suggest_utm_crs(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM zone CRS that contains a longitude/latitude point.

    Parameters
    ----------
    lon, lat
        The point, degrees.

    Returns
    -------
    pyproj.CRS
        E.g. EPSG:32649 (UTM zone 49N) for 112.9°E, 29.4°N.

    Raises
    ------
    CRSError
        When PROJ's database has no UTM zone for the point.
    """
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(lon, lat, lon, lat),
    )
    if not infos:
        raise CRSError(
            f"no UTM zone found for lon {lon:.4f}, lat {lat:.4f}",
            fix="check that the point is a longitude/latitude in degrees, or choose a "
            "projected CRS in metres yourself",
        )
    return CRS.from_epsg(int(infos[0].code))


def require_projected_crs(
    crs: Any, *, what: str = "analysis CRS", lonlat_hint: tuple[float, float] | None = None
) -> CRS:
    """Return ``crs`` as a pyproj CRS if it is projected with metre axes.

    Parameters
    ----------
    crs
        The CRS to check.
    what
        How to name it in the error message.
    lonlat_hint
        A longitude/latitude inside the area, used to suggest the UTM zone.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    CRSError
        When the CRS is geographic (degrees) or its axes are not in metres;
        the message names the projected CRS to use instead.
    """
    parsed = as_crs(crs, what=what)
    suggestion = ""
    if lonlat_hint is not None:
        utm = suggest_utm_crs(*lonlat_hint)
        suggestion = f", e.g. EPSG:{utm.to_epsg()} ({utm.name}) for this area"
    if not parsed.is_projected:
        raise CRSError(
            f"{what} {crs_label(parsed)} is geographic: its units are degrees, "
            "so cell sizes and areas would be meaningless",
            fix=f"use a projected CRS in metres{suggestion or ' such as the local UTM zone'}",
        )
    factors = {axis.unit_conversion_factor for axis in parsed.axis_info[:2]}
    if factors != {1.0}:
        unit = parsed.axis_info[0].unit_name
        raise CRSError(
            f"{what} {crs_label(parsed)} has axes in {unit}, not metres",
            fix=f"use a projected CRS in metres{suggestion or ' such as the local UTM zone'}",
        )
    return parsed


def resolve_crs(
    file_crs: Any,
    override: Any,
    *,
    path: str | os.PathLike[str],
) -> tuple[CRS | None, CRSSource | None]:
    """Decide which CRS applies to a file: the survey's override, else the file's own.

    Parameters
    ----------
    file_crs
        The CRS stored in the file (pyproj/rasterio CRS, WKT, ``"EPSG:..."``) or ``None``.
    override
        The CRS given in the survey entry, or ``None``.
    path
        The file, for messages.

    Returns
    -------
    crs, source
        The CRS that applies and where it came from (``"file"`` or
        ``"override"``); ``(None, None)`` when neither is known.

    Raises
    ------
    CRSError
        When the override is not a CRS pyproj can read, or the file's CRS is
        unreadable and there is no override.

    Notes
    -----
    The override always wins. When it replaces a *different* CRS stored in
    the file, that is logged at INFO so the run log shows the decision.
    """
    parsed_file: CRS | None = None
    if file_crs is not None:
        try:
            parsed_file = as_crs(file_crs, what="the file's CRS")
        except CRSError:
            if override is None:
                raise
            logger.info("%s: the file's CRS is unreadable; using the survey's crs", path)
    if override is not None:
        try:
            parsed_override = as_crs(override, what="crs")
        except CRSError as exc:
            raise CRSError(
                exc.problem.message,
                path=path,
                fix='give the crs as an EPSG code such as "EPSG:32649", or as WKT',
            ) from exc
        if parsed_file is not None and not parsed_file.equals(
            parsed_override, ignore_axis_order=True
        ):
            logger.info(
                "%s: the survey's crs %s replaces the file's %s",
                path,
                crs_label(parsed_override),
                crs_label(parsed_file),
            )
        return parsed_override, "override"
    if parsed_file is not None:
        return parsed_file, "file"
    return None, None


def crs_plausibility_problem(crs: CRS | None, bounds: Sequence[float]) -> str | None:
    """Say what is wrong when coordinates cannot be in the CRS they are labelled with.

    Parameters
    ----------
    crs
        The CRS the coordinates claim to be in (``None`` is never flagged).
    bounds
        ``(xmin, ymin, xmax, ymax)`` of the coordinates, x = easting/longitude.

    Returns
    -------
    str or None
        A one-sentence description of the problem, or ``None`` when the
        coordinates are plausible.

    Notes
    -----
    Two mislabellings are caught:

    * a geographic CRS (degrees) with ``|x| > 180`` or ``|y| > 90`` (beyond a
      tolerance of 1°) — e.g. a header that says EPSG:4326 while the
      coordinates are UTM metres in the hundreds of thousands;
    * a projected CRS whose coordinates all satisfy ``|x| <= 180`` and
      ``|y| <= 90`` *and* whose extent is below 2 units in both directions —
      lon/lat degrees of a survey of a few km labelled as metres. Real local
      grids near the origin are larger than 2 m or ft, so they pass.
    """
    if crs is None:
        return None
    xmin, ymin, xmax, ymax = (float(v) for v in bounds[:4])
    horizontal = crs.sub_crs_list[0] if crs.is_compound and crs.sub_crs_list else crs
    if horizontal.is_geographic:
        if (
            max(abs(xmin), abs(xmax)) > 180.0 + DEGREE_TOLERANCE
            or max(abs(ymin), abs(ymax)) > 90.0 + DEGREE_TOLERANCE
        ):
            return (
                f"the CRS {crs_label(crs)} is geographic (degrees) but the coordinates "
                f"span x {xmin:.6g} to {xmax:.6g}, y {ymin:.6g} to {ymax:.6g}, outside "
                "longitude ±180 / latitude ±90: they are projected coordinates with a "
                "wrong CRS label"
            )
        return None
    looks_like_degrees = max(abs(xmin), abs(xmax)) <= 180.0 and max(abs(ymin), abs(ymax)) <= 90.0
    tiny = (xmax - xmin) < TINY_EXTENT and (ymax - ymin) < TINY_EXTENT
    if looks_like_degrees and tiny:
        unit = horizontal.axis_info[0].unit_name if horizontal.axis_info else "units"
        return (
            f"the CRS {crs_label(crs)} is projected ({unit}) but the coordinates span "
            f"x {xmin:.6g} to {xmax:.6g}, y {ymin:.6g} to {ymax:.6g} — less than "
            f"{TINY_EXTENT:g} {unit} across and within ±180/±90: they look like "
            "longitude/latitude degrees with a wrong CRS label"
        )
    return None


@functools.lru_cache(maxsize=32)
def _transformer(source: CRS, target: CRS) -> Transformer:
    """``Transformer.from_crs`` once per pair of CRSs in a process (a creation takes
    ~0.1 s; LiDAR read ranges each ask for it). Transformers are thread-safe (pyproj ≥ 3.1)."""
    return Transformer.from_crs(source, target, always_xy=True)


# A forked worker makes its own: the parent's may hold PROJ's open grid files.
os.register_at_fork(after_in_child=_transformer.cache_clear)


def transformer(
    source: Any, target: Any, *, path: str | os.PathLike[str] | None = None, what: str = "file"
) -> Transformer:
    """The transformation from ``source`` to ``target`` (x = easting/longitude first).

    Made once per pair of CRSs in a process and shared (the same object for
    equal CRSs).

    Raises
    ------
    CRSError
        PROJ knows no operation between the two CRSs (e.g. one is on another
        celestial body); the message names both and ``path``.
    """
    src, dst = as_crs(source), as_crs(target)
    try:
        return _transformer(src, dst)
    except ProjError as exc:
        raise CRSError(
            f"the {what}'s coordinates cannot be transformed from {crs_label(src)} to "
            f"{crs_label(dst)}: PROJ knows no transformation between them",
            path=path,
            fix=f'check the {what}\'s CRS (give the right one with crs = "EPSG:....")',
        ) from exc


#: Largest error (target units, metres) of :func:`transform_points`' polynomial:
#: 0.1 mm, ten times finer than the 1 mm a LAS file stores.
POINTS_MAX_ERROR_M: Final = 1e-4


def transform_points(
    to_target: Transformer,
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    *,
    max_error: float = POINTS_MAX_ERROR_M,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Many points through a smooth transformation: a checked local polynomial, else exact.

    Parameters
    ----------
    to_target
        The exact transformation (``always_xy``).
    x, y
        Points in its source CRS.
    max_error
        Largest error allowed at the check points, in target units.

    Returns
    -------
    x, y
        The points in the target CRS.

    Notes
    -----
    Between two projections the mapping is smooth over a few kilometres, and a
    cubic in the normalised offsets u = (x − x̄)/s_x, v = (y − ȳ)/s_y fitted by
    least squares to the exact transformation of a 9 × 9 grid of control
    points over the points' extent reproduces it to micrometres. The fit is
    used only when it agrees with the exact transformation within
    ``max_error`` at the control points, at the 8 × 8 centres between them
    (where an interpolant errs most) and at 1,000 of the points themselves,
    evenly spread through the array, else every point is transformed
    exactly — the approximate-transformer strategy of GDAL's warper
    (``GDALCreateApproxTransformer``), here with a polynomial and a
    two-dimensional check. pyproj transforms ~4 million points a second; the
    polynomial ~50 million. A point's coordinates depend on the polynomial of
    the chunk it is read in, by less than ``max_error``: the same file read in
    the same chunks gives the same numbers.
    """
    if x.size < 1000:
        return _exact(to_target, x, y)
    xmin, xmax = float(x.min()), float(x.max())
    ymin, ymax = float(y.min()), float(y.max())
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    sx, sy = max((xmax - xmin) / 2, 1e-9), max((ymax - ymin) / 2, 1e-9)
    grid = np.linspace(-1.0, 1.0, 9)
    centres = (grid[:-1] + grid[1:]) / 2
    fit_u, fit_v = (a.ravel() for a in np.meshgrid(grid, grid))
    check_u, check_v = (a.ravel() for a in np.meshgrid(centres, centres))
    u = np.concatenate([fit_u, check_u])
    v = np.concatenate([fit_v, check_v])
    tx, ty = (
        np.asarray(a, dtype=np.float64) for a in to_target.transform(cx + sx * u, cy + sy * v)
    )
    if not (np.isfinite(tx).all() and np.isfinite(ty).all()):
        return _exact(to_target, x, y)
    design = _cubic_terms(u, v)
    fitted = fit_u.size
    coef, *_ = np.linalg.lstsq(design[:fitted], np.column_stack([tx, ty])[:fitted], rcond=None)
    error = np.abs(design @ coef - np.column_stack([tx, ty])).max()
    if not error <= max_error:
        logger.debug("polynomial transformation off by %.3g > %.3g: exact", error, max_error)
        return _exact(to_target, x, y)
    terms = _cubic_terms((x - cx) / sx, (y - cy) / sy)
    out = terms @ coef
    # And at 1,000 of the points themselves, evenly spread through the chunk: a kink
    # between the grid's check points (a grid-shift file's cell edge) shows there.
    sample = np.linspace(0, x.size - 1, 1000).astype(np.int64)
    sx_exact, sy_exact = _exact(to_target, x[sample], y[sample])
    error = max(
        float(np.abs(out[sample, 0] - sx_exact).max()),
        float(np.abs(out[sample, 1] - sy_exact).max()),
    )
    if not error <= max_error:
        logger.debug("polynomial transformation off by %.3g at the points: exact", error)
        return _exact(to_target, x, y)
    return np.ascontiguousarray(out[:, 0]), np.ascontiguousarray(out[:, 1])


def _exact(
    to_target: Transformer, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    ex, ey = to_target.transform(x, y)
    return np.asarray(ex, dtype=np.float64), np.asarray(ey, dtype=np.float64)


def _cubic_terms(u: npt.NDArray[np.float64], v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The 10 monomials uⁱvʲ, i + j ≤ 3, as columns."""
    u2, v2 = u * u, v * v
    return np.column_stack([np.ones_like(u), u, v, u2, u * v, v2, u2 * u, u2 * v, u * v2, v2 * v])
