"""LAS/LAZ point clouds: header metadata and streaming points in metres in the grid CRS.

:func:`read_lidar_info` reads the header only. :func:`iter_points` streams a
file with laspy's chunked reader, so memory does not grow with the file
(docs/design.md §6); each chunk comes back in the target CRS with heights in
metres, optionally clipped to a bounding box. LAZ needs the ``lazrs`` backend
(``pip install "laspy[lazrs]"``).

This module knows formats, not science: ground classification, heights above
ground and metrics belong to :mod:`carbonsink.lidar`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import laspy
import numpy as np
import numpy.typing as npt
from laspy.vlrs.known import GeoKeyDirectoryVlr, WktCoordinateSystemVlr
from pyproj import CRS

from carbonsink.crs import (
    crs_label,
    crs_plausibility_problem,
    require_projected_crs,
    resolve_crs,
    transform_points,
    transformer,
)
from carbonsink.errors import CarbonSinkError, CRSError, InputError
from carbonsink.i18n import N_, deferred
from carbonsink.io.files import existing_file
from carbonsink.io.point_chunks import CHUNK_LAYERS, PointChunk
from carbonsink.units import FOOT_M, US_SURVEY_FOOT_M

__all__ = [
    "LidarInfo",
    "PointChunk",
    "decode_points",
    "iter_points",
    "laspy_errors",
    "read_lidar_info",
    "read_points",
]

logger = logging.getLogger(__name__)

LidarCRSSource = Literal["wkt", "geotiff", "override"]
VerticalUnitSource = Literal["crs", "geotiff", "assumed"]

#: GeoTIFF VerticalUnitsGeoKey and the EPSG length units it may name.
_VERTICAL_UNITS_GEOKEY = 4099
_EPSG_LENGTH_UNITS_M = {9001: 1.0, 9002: FOOT_M, 9003: US_SURVEY_FOOT_M}
#: Share of the box extent added around the pre-filter box in the file's CRS,
#: so that edges curved by the reprojection are never cut (the exact filter
#: in the target CRS follows).
_PREFILTER_MARGIN = 0.01

_CRS_FIX = 'set `crs = "EPSG:...."` on the survey\'s lidar entry (the CRS the points are in)'

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class LidarInfo:
    """What a LAS/LAZ header says, without decoding any point.

    Attributes
    ----------
    path
        The file.
    version
        LAS version, e.g. ``"1.2"``.
    point_format
        Point data record format id (0–10).
    point_count
        Number of points.
    crs
        The CRS that applies (the survey's override, else the file's), or ``None``.
    crs_source
        ``"wkt"`` (OGC WKT record), ``"geotiff"`` (GeoKey records),
        ``"override"`` (the survey entry) or ``None``.
    bounds
        ``(xmin, ymin, xmax, ymax, zmin, zmax)`` in the file's units.
    horizontal_unit_m
        Metres per horizontal unit (``None`` without a CRS or for degrees).
    vertical_unit_m
        Metres per vertical unit (``None`` without a CRS); see
        :func:`read_lidar_info` for the rule.
    scales, offsets
        The header's x/y/z scale factors and offsets.
    vertical_unit_source
        ``"crs"`` (vertical part of a compound CRS), ``"geotiff"``
        (VerticalUnitsGeoKey) or ``"assumed"``; ``None`` without a CRS.
    unreadable_crs_records
        CRS records of the header that could not be parsed (``"wkt"``,
        ``"geotiff"``) and were ignored.
    """

    path: Path
    version: str
    point_format: int
    point_count: int
    crs: CRS | None
    crs_source: LidarCRSSource | None
    bounds: tuple[float, float, float, float, float, float]
    horizontal_unit_m: float | None
    vertical_unit_m: float | None
    scales: tuple[float, float, float]
    offsets: tuple[float, float, float]
    vertical_unit_source: VerticalUnitSource | None = None
    unreadable_crs_records: tuple[str, ...] = ()


# ------------------------------------------------------------------- header
@contextlib.contextmanager
def laspy_errors(file: Path) -> Iterator[None]:
    """Turn laspy/LAZ failures into :class:`InputError` naming the file."""
    try:
        yield
    except CarbonSinkError:
        raise
    except laspy.errors.LazError as exc:
        raise InputError(
            f"the LAZ data cannot be decompressed ({exc})",
            path=file,
            fix='install a LAZ backend (pip install "laspy[lazrs]") or check the file is complete',
        ) from exc
    except (laspy.errors.LaspyException, OSError, ValueError, EOFError, RuntimeError) as exc:
        # lazrs reports a truncated or corrupt LAZ stream as a RuntimeError (LazrsError).
        raise InputError(
            f"the point cloud cannot be read as LAS/LAZ ({exc})",
            path=file,
            fix="check that the file is a complete LAS/LAZ file (re-export or re-download it)",
        ) from exc


def _truncation_problem(header: Any, file: Path) -> str | None:
    """Why the point records cannot all be in the file, or ``None`` when they can.

    An uncompressed LAS needs ``offset_to_point_data + count × record length``
    bytes. A LAZ file starts its point data with the offset of its chunk
    table, written last (LASzip specification, "chunk table"): it must lie
    inside the file.
    """
    size = file.stat().st_size
    start = int(header.offset_to_point_data)
    count = int(header.point_count)
    if not header.are_points_compressed:
        needed = start + count * int(header.point_format.size)
        if size < needed:
            return f"the file is truncated: {count:,} points need {needed:,} bytes, it has {size:,}"
        return None
    if count == 0:
        return None
    with file.open("rb") as handle:
        handle.seek(start)
        raw = handle.read(8)
    if len(raw) < 8:
        return f"the file is truncated: it ends before its point data ({size:,} bytes)"
    table = int.from_bytes(raw, "little", signed=True)
    if table == -1:  # written by a streaming writer that could not seek back: unknown
        return None
    if table <= start or table >= size:
        return (
            f"the LAZ file is truncated or incomplete: its chunk table offset {table:,} "
            f"lies outside the file ({size:,} bytes)"
        )
    return None


def _file_crs(
    header: Any, file: Path
) -> tuple[CRS | None, Literal["wkt", "geotiff"] | None, tuple[str, ...]]:
    """The CRS in the header's WKT record (preferred) or GeoKeys, and the unreadable records."""
    records = list(header.vlrs) + list(header.evlrs or [])
    found: dict[str, CRS] = {}
    broken: list[str] = []
    for record in records:
        kind = (
            "wkt"
            if isinstance(record, WktCoordinateSystemVlr)
            else "geotiff"
            if isinstance(record, GeoKeyDirectoryVlr)
            else None
        )
        if kind is None or kind in found:
            continue
        try:
            parsed = record.parse_crs()
        except Exception as exc:  # pyproj/laspy raise various errors on bad records
            unreadable = N_("{file}: ignoring the unreadable {kind} CRS record ({error})")
            logger.warning(deferred(unreadable, file=str(file), kind=kind, error=str(exc)))
            broken.append(kind)
            continue
        if parsed is not None:
            found[kind] = parsed
    if "wkt" in found:
        return found["wkt"], "wkt", tuple(broken)
    if "geotiff" in found:
        return found["geotiff"], "geotiff", tuple(broken)
    return None, None, tuple(broken)


def _geotiff_vertical_unit_m(header: Any) -> float | None:
    """Metres per unit named by the VerticalUnitsGeoKey, if the header has one."""
    for record in header.vlrs:
        if isinstance(record, GeoKeyDirectoryVlr):
            for key in record.geo_keys:
                if key.id == _VERTICAL_UNITS_GEOKEY and key.tiff_tag_location == 0:
                    return _EPSG_LENGTH_UNITS_M.get(int(key.value_offset))
    return None


def _horizontal(crs: CRS) -> CRS:
    if crs.is_compound and crs.sub_crs_list:
        return crs.sub_crs_list[0]
    return crs


def _is_foot(unit_name: str) -> bool:
    name = unit_name.lower()
    return "foot" in name or "feet" in name


def _units(
    crs: CRS | None, geotiff_vertical_m: float | None
) -> tuple[float | None, float | None, VerticalUnitSource | None]:
    """Horizontal and vertical metres per unit, and where the vertical unit came from."""
    if crs is None:
        return None, None, None
    horizontal = _horizontal(crs)
    horizontal_m: float | None = None
    horizontal_name = ""
    if not horizontal.is_geographic and horizontal.axis_info:
        horizontal_m = float(horizontal.axis_info[0].unit_conversion_factor)
        horizontal_name = horizontal.axis_info[0].unit_name
    if crs.is_compound and len(crs.sub_crs_list) > 1:
        vertical = crs.sub_crs_list[1]
        if vertical.axis_info:
            return horizontal_m, float(vertical.axis_info[0].unit_conversion_factor), "crs"
    if geotiff_vertical_m is not None:
        return horizontal_m, geotiff_vertical_m, "geotiff"
    if horizontal_m is not None and _is_foot(horizontal_name):
        return horizontal_m, horizontal_m, "assumed"
    return horizontal_m, 1.0, "assumed"


def read_lidar_info(path: str | os.PathLike[str], *, crs: Any = None) -> LidarInfo:
    """Read a LAS/LAZ header: version, format, count, CRS, bounds and units.

    Parameters
    ----------
    path
        A LAS or LAZ file (LAS 1.0–1.4).
    crs
        The survey's CRS for this file; overrides the header's or completes
        a header that has none.

    Returns
    -------
    LidarInfo

    Raises
    ------
    InputNotFoundError
        When the file does not exist.
    InputError
        When it is not a readable LAS/LAZ file.
    CRSError
        When ``crs`` is not a CRS.

    Notes
    -----
    The CRS comes from the OGC WKT record when it parses, else from the
    GeoTIFF keys; an empty or invalid record is ignored with a logged warning
    (the CRS is then ``None``, never a crash).

    Units: the horizontal unit is the CRS's axis unit (international foot
    0.3048 m, US survey foot 1200/3937 m, metre). The vertical unit is, in
    order of preference:

    1. the vertical component's axis unit when the CRS is compound;
    2. the header's VerticalUnitsGeoKey (EPSG 9001 m, 9002 ft, 9003 US ft),
       when the CRS comes from the file;
    3. otherwise *assumed*: the horizontal unit when that is a foot (US
       practice: a survey in state-plane feet has elevations in feet, as in
       the PDAL autzen files), else metres.

    The rule used is recorded in ``vertical_unit_source``; give a compound
    CRS (e.g. ``"EPSG:2994+8228"``) to state the vertical unit explicitly.
    """
    file = existing_file(path, what="point cloud")
    with laspy_errors(file), laspy.open(file) as reader:
        header = reader.header
        truncated = _truncation_problem(header, file)
        if truncated is not None:
            raise InputError(
                truncated,
                path=file,
                fix="the copy is incomplete: copy, re-export or re-download the file",
            )
        file_crs, file_source, broken = _file_crs(header, file)
        resolved, source = resolve_crs(file_crs, crs, path=file)
        geotiff_vertical = _geotiff_vertical_unit_m(header) if source == "file" else None
        horizontal_m, vertical_m, vertical_source = _units(resolved, geotiff_vertical)
        mins = [float(v) for v in header.mins]
        maxs = [float(v) for v in header.maxs]
        return LidarInfo(
            path=file,
            version=str(header.version),
            point_format=int(header.point_format.id),
            point_count=int(header.point_count),
            crs=resolved,
            crs_source="override" if source == "override" else file_source,
            bounds=(mins[0], mins[1], maxs[0], maxs[1], mins[2], maxs[2]),
            horizontal_unit_m=horizontal_m,
            vertical_unit_m=vertical_m,
            scales=(float(header.scales[0]), float(header.scales[1]), float(header.scales[2])),
            offsets=(
                float(header.offsets[0]),
                float(header.offsets[1]),
                float(header.offsets[2]),
            ),
            vertical_unit_source=vertical_source,
            unreadable_crs_records=broken,
        )


def decode_points(
    path: str | os.PathLike[str],
    *,
    chunk_size: int = 2_000_000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Decode every point record of a LAS/LAZ file, in chunks; return how many there are.

    The header check (:func:`read_lidar_info`) cannot see a LAZ chunk that
    is damaged in the middle of the file; this reads them all, without keeping
    them (memory: one chunk).

    Raises
    ------
    InputError
        A chunk does not decode, or the file holds fewer points than its
        header says (named with the point where decoding stopped).
    """
    file = Path(path)
    decoded = 0
    with laspy.open(file, laz_backend=laz_decoder()) as reader:
        expected = int(reader.header.point_count)
        try:
            for record in reader.chunk_iterator(chunk_size):
                decoded += len(record)
                if progress is not None:
                    progress(decoded, expected)
        except (laspy.errors.LaspyException, OSError, ValueError, EOFError, RuntimeError) as exc:
            raise InputError(
                f"the point data is damaged: decoding stops after {decoded:,} of "
                f"{expected:,} points ({exc})",
                path=file,
                fix="re-export or re-download the file (check its size against the source)",
            ) from exc
    if decoded < expected:
        raise InputError(
            f"the file holds {decoded:,} points but its header says {expected:,}",
            path=file,
            fix="re-export or re-download the file (check its size against the source)",
        )
    return decoded


def _usable_crs(info: LidarInfo) -> CRS:
    """The file's CRS, checked against its coordinates; raise a CRSError with the fix."""
    if info.crs is None:
        if info.unreadable_crs_records:
            kinds = " and ".join(
                k.upper() if k == "wkt" else "GeoTIFF" for k in info.unreadable_crs_records
            )
            message = (
                f"the header's {kinds} CRS record is empty or invalid, and no other gives the CRS"
            )
        else:
            message = "the header has no CRS record"
        raise CRSError(message, path=info.path, fix=_CRS_FIX)
    problem = crs_plausibility_problem(info.crs, info.bounds[:4])
    if problem:
        fix = (
            "the survey's crs for this file is wrong: give the CRS the points are in"
            if info.crs_source == "override"
            else _CRS_FIX
        )
        raise CRSError(problem, path=info.path, fix=fix)
    return info.crs


# ------------------------------------------------------------------- points
def iter_points(
    path: str | os.PathLike[str],
    *,
    target_crs: Any,
    bounds: Sequence[float] | None = None,
    crs: Any = None,
    chunk_size: int = 1_000_000,
    progress: ProgressCallback | None = None,
    start: int = 0,
    stop: int | None = None,
    layers: laspy.DecompressionSelection = CHUNK_LAYERS,
) -> Iterator[PointChunk]:
    """Stream the points of a LAS/LAZ file in the target CRS, in metres.

    Parameters
    ----------
    path
        A LAS or LAZ file.
    target_crs
        Projected CRS with metre axes (the analysis CRS).
    bounds
        ``(xmin, ymin, xmax, ymax)`` in ``target_crs``: keep only points with
        ``xmin <= x <= xmax`` and ``ymin <= y <= ymax``.
    crs
        The survey's CRS for this file; overrides or completes the header's.
    chunk_size
        Points decoded per step; memory use is proportional to it, not to
        the file.
    progress
        Called after each step with ``(points_read, point_count)``.
    start, stop
        Read only the file's points ``start`` to ``stop − 1`` (record order;
        ``stop`` ``None``: to the end), in chunks from ``start``: a range
        starting at a multiple of ``chunk_size`` gives the chunks a whole read
        gives there (a LAZ file is entered at the compressed chunk holding
        ``start``).
    layers
        The LAZ layers to decode (:data:`~carbonsink.io.point_chunks.CHUNK_LAYERS`,
        or :data:`~carbonsink.io.point_chunks.CHAIN_LAYERS`); a chunk's user
        data is 0 when they leave it out. (LAS files are read whole either way).

    Yields
    ------
    PointChunk
        Non-empty blocks of points, in file order.

    Raises
    ------
    InputNotFoundError, InputError
        When the file is missing or unreadable.
    CRSError
        When the file has no CRS and none is given, or its coordinates do not
        fit its CRS (e.g. projected metres labelled EPSG:4326).

    Notes
    -----
    Only the LAZ layers a chunk holds are decoded (``layers``).
    x/y are transformed with pyproj (``always_xy``), which also converts feet
    to metres — through a local polynomial checked against it to 0.1 mm when
    one fits the chunk (:func:`~carbonsink.crs.transform_points`); z is
    multiplied by :attr:`LidarInfo.vertical_unit_m`. Only the horizontal CRS
    is transformed: heights stay in the file's vertical datum. With
    ``bounds``, points are first pre-filtered in the file's CRS against the
    box transformed back (densified, with a 1 % margin), then filtered
    exactly after the transformation.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive number of points, not {chunk_size}")
    if start < 0 or (stop is not None and stop < start):
        raise ValueError(f"the range {start}..{stop} of points is not a forward range")
    info = read_lidar_info(path, crs=crs)
    file = info.path
    source_crs = _horizontal(_usable_crs(info))
    target = require_projected_crs(target_crs, what="target CRS")
    z_factor = float(info.vertical_unit_m or 1.0)
    same_crs = source_crs.equals(target, ignore_axis_order=True)
    to_target = None if same_crs else transformer(source_crs, target, path=file, what="point cloud")

    box: tuple[float, float, float, float] | None = None
    prefilter: tuple[float, float, float, float] | None = None
    if bounds is not None:
        box = _check_box(bounds)
        prefilter = box if same_crs else _box_in_file_crs(box, source_crs, target, file)
        fxmin, fymin, fxmax, fymax = info.bounds[:4]
        if (
            prefilter[2] < fxmin
            or prefilter[0] > fxmax
            or prefilter[3] < fymin
            or (prefilter[1] > fymax)
        ):
            logger.debug("%s: no point can fall inside %s; nothing to read", file, box)
            return
    logger.debug(
        "%s: streaming %d points from %s to %s (z x %g)",
        file,
        info.point_count,
        crs_label(source_crs),
        crs_label(target),
        z_factor,
    )
    points_read = 0
    with (
        laspy_errors(file),
        laspy.open(file, laz_backend=laz_decoder(), decompression_selection=layers) as reader,
    ):
        user_data = bool(layers & laspy.DecompressionSelection.USER_DATA)
        for record in _records(reader, chunk_size, start, stop):
            points_read += len(record)
            chunk = _chunk_from_record(record, prefilter, user_data=user_data)
            if len(chunk) and to_target is not None:
                chunk.x, chunk.y = transform_points(to_target, chunk.x, chunk.y)
            if z_factor != 1.0:
                chunk.z = chunk.z * z_factor
            if box is not None and to_target is not None and len(chunk):  # else prefiltered
                xmin, ymin, xmax, ymax = box
                inside = (chunk.x >= xmin) & (chunk.x <= xmax) & (chunk.y >= ymin)
                inside &= chunk.y <= ymax
                chunk = chunk.select(inside)
            if progress is not None:
                progress(points_read, info.point_count)
            if len(chunk):
                yield chunk


def laz_decoder() -> laspy.LazBackend | None:
    """The LAZ decoder for this process: lazrs' single-threaded one in a child process.

    laspy's default, ``LazrsParallel``, decodes on rayon's global thread pool.
    A process forked after its parent used that pool inherits the pool's state
    but not its threads, and its first parallel decode waits for them forever.
    A child process (a pool or local Dask worker) is one of several decoding
    at once, so it decodes on its own thread; ``None`` (laspy's default) elsewhere.
    """
    return laspy.LazBackend.Lazrs if multiprocessing.parent_process() is not None else None


def _records(reader: Any, chunk_size: int, start: int, stop: int | None) -> Iterator[Any]:
    """The reader's point records ``start`` to ``stop − 1`` in chunks of ``chunk_size``."""
    if start == 0 and stop is None:
        yield from reader.chunk_iterator(chunk_size)
        return
    count = int(reader.header.point_count)
    end = count if stop is None else min(stop, count)
    if start >= end:
        return
    reader.seek(start)
    position = start
    while position < end:
        record = reader.read_points(min(chunk_size, end - position))
        if len(record) == 0:
            return
        position += len(record)
        yield record


def read_points(
    path: str | os.PathLike[str],
    *,
    target_crs: Any,
    bounds: Sequence[float] | None = None,
    crs: Any = None,
    chunk_size: int = 1_000_000,
    progress: ProgressCallback | None = None,
) -> PointChunk:
    """All points of :func:`iter_points` in one :class:`PointChunk`.

    Use only when the result fits in memory (a tile, or a small file); the
    parameters are those of :func:`iter_points`.
    """
    return PointChunk.concat(
        list(
            iter_points(
                path,
                target_crs=target_crs,
                bounds=bounds,
                crs=crs,
                chunk_size=chunk_size,
                progress=progress,
            )
        )
    )


def _check_box(bounds: Sequence[float]) -> tuple[float, float, float, float]:
    if len(bounds) != 4:
        raise ValueError(f"bounds must be (xmin, ymin, xmax, ymax), not {tuple(bounds)}")
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    if not (xmin <= xmax and ymin <= ymax) or not all(
        math.isfinite(v) for v in (xmin, ymin, xmax, ymax)
    ):
        raise ValueError(f"bounds {tuple(bounds)} are not (xmin, ymin, xmax, ymax)")
    return xmin, ymin, xmax, ymax


def _box_in_file_crs(
    box: tuple[float, float, float, float], source: CRS, target: CRS, file: Path
) -> tuple[float, float, float, float]:
    """The target-CRS box as a slightly larger box in the file's CRS."""
    to_file = transformer(target, source, path=file, what="point cloud")
    try:
        xmin, ymin, xmax, ymax = to_file.transform_bounds(*box, densify_pts=21)
    except Exception as exc:  # pyproj raises ProjError for boxes outside the domain
        raise CRSError(
            f"the box {box} in {crs_label(target)} cannot be expressed in the file's CRS "
            f"{crs_label(source)} ({exc})",
            path=file,
            fix=_CRS_FIX,
        ) from exc
    dx = (xmax - xmin) * _PREFILTER_MARGIN
    dy = (ymax - ymin) * _PREFILTER_MARGIN
    return xmin - dx, ymin - dy, xmax + dx, ymax + dy


def _chunk_from_record(
    record: Any, prefilter: tuple[float, float, float, float] | None, *, user_data: bool = True
) -> PointChunk:
    """Scaled coordinates and attributes of a laspy chunk, in the file's units.

    Every array is the chunk's own, contiguous (not a view into the record).
    Without ``user_data`` (its layer not decoded: lazrs leaves stale values
    there) the chunk's user data is 0.
    """
    x = np.asarray(record.x, dtype=np.float64)
    y = np.asarray(record.y, dtype=np.float64)
    inside: npt.NDArray[np.bool_] | None = None
    if prefilter is not None:
        xmin, ymin, xmax, ymax = prefilter
        inside = (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)
        if inside.all():
            inside = None

    def take(values: Any, dtype: type) -> Any:
        array: npt.NDArray[Any] = np.asarray(values, dtype=dtype)
        return np.ascontiguousarray(array) if inside is None else array[inside]

    classification = take(record.classification, np.uint8)
    return PointChunk(
        x=take(x, np.float64),
        y=take(y, np.float64),
        z=take(record.z, np.float64),
        classification=classification,
        return_number=take(record.return_number, np.uint8),
        number_of_returns=take(record.number_of_returns, np.uint8),
        intensity=take(record.intensity, np.uint16),
        user_data=(
            take(record.user_data, np.uint8) if user_data else np.zeros_like(classification)
        ),
    )
