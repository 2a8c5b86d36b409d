"""Raster reading: metadata, and resampling any GeoTIFF onto the analysis grid.

:func:`read_raster` returns a ``(band, y, x)`` :class:`xarray.DataArray` on a
:class:`~carbonsink.grid.Grid`. A raster that is already aligned with the grid
(same CRS and cell size, origin a whole number of cells away) is read by
window, so its values come through exactly; any other raster is warped onto the
grid with GDAL (:class:`rasterio.vrt.WarpedVRT`). With ``chunks`` the result is
a lazy dask array that reads one window per block, so a large file is never
loaded whole (docs/design.md §6).

This module knows formats, not science: band meaning, reflectance scaling and
cloud masks belong to :mod:`carbonsink.imagery`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.errors
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from pyproj import CRS
from rasterio.enums import MaskFlags
from rasterio.enums import Resampling as RioResampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from carbonsink.crs import (
    CRSSource,
    crs_label,
    crs_plausibility_problem,
    resolve_crs,
    transformer,
)
from carbonsink.errors import CarbonSinkError, CRSError, InputError
from carbonsink.grid import Grid
from carbonsink.io.files import existing_file

__all__ = ["RasterInfo", "Resampling", "check_raster_blocks", "read_raster", "read_raster_info"]

logger = logging.getLogger(__name__)

Resampling = Literal["bilinear", "average", "nearest", "mode", "cubic"]
#: Resampling methods that blend values: the result is float with NaN for nodata.
CONTINUOUS_RESAMPLING: frozenset[str] = frozenset({"bilinear", "average", "cubic"})
#: Methods that use a convolution kernel scaled by the resolution ratio.
_KERNEL_RESAMPLING: frozenset[str] = frozenset({"bilinear", "cubic"})
#: GDAL warp error threshold in pixels. This small it makes GDAL transform
#: every pixel exactly instead of interpolating along chunk lines, so a warp
#: read block by block (dask) gives the same values as one read of the whole.
_WARP_TOLERANCE_PX = 1e-9

try:  # GDAL errors surface as CPLE_* exceptions, which do not derive from RasterioError
    from rasterio._err import CPLE_BaseError

    _RASTERIO_ERRORS: tuple[type[BaseException], ...] = (
        rasterio.errors.RasterioError,
        CPLE_BaseError,
        OSError,
    )
except ImportError:  # pragma: no cover - rasterio internals moved
    _RASTERIO_ERRORS = (rasterio.errors.RasterioError, OSError)

_CRS_FIX = 'set `crs = "EPSG:...."` on the survey\'s imagery entry (the CRS the file was made in)'


@dataclass(frozen=True)
class RasterInfo:
    """What a raster file's header says, without reading its pixels.

    Attributes
    ----------
    path
        The file.
    crs
        The CRS that applies (the survey's override, else the file's), or ``None``.
    transform
        Affine transform of the upper-left pixel corner.
    width, height, count
        Columns, rows and bands.
    dtypes
        Data type of each band (``"uint16"``, ``"float32"``, ...).
    nodata
        The file's nodata value, or ``None``.
    band_descriptions
        Description of each band (``None`` where the file has none).
    bounds
        ``(xmin, ymin, xmax, ymax)`` in the file's CRS units.
    tags
        The dataset-level metadata tags.
    crs_source
        ``"file"`` or ``"override"``; ``None`` when there is no CRS.
    """

    path: Path
    crs: CRS | None
    transform: Affine
    width: int
    height: int
    count: int
    dtypes: tuple[str, ...]
    nodata: float | None
    band_descriptions: tuple[str | None, ...]
    bounds: tuple[float, float, float, float]
    tags: dict[str, str] = field(default_factory=dict)
    crs_source: CRSSource | None = None

    @property
    def resolution(self) -> tuple[float, float]:
        """Pixel size ``(x, y)`` in CRS units (both positive for a north-up raster)."""
        return abs(float(self.transform.a)), abs(float(self.transform.e))


@contextlib.contextmanager
def _gdal_errors(file: Path) -> Iterator[None]:
    """Turn rasterio/GDAL failures into :class:`InputError` naming the file."""
    try:
        yield
    except CarbonSinkError:
        raise
    except _RASTERIO_ERRORS as exc:
        raise InputError(
            f"the raster cannot be read ({exc})",
            path=file,
            fix="check that the file is a complete GeoTIFF (re-download or re-export it)",
        ) from exc


@contextlib.contextmanager
def _open(file: Path) -> Iterator[Any]:
    with _gdal_errors(file), rasterio.open(file) as src:
        yield src


def read_raster_info(path: str | os.PathLike[str], *, crs: Any = None) -> RasterInfo:
    """Read a raster's header: CRS, transform, size, bands, nodata, descriptions, tags.

    Parameters
    ----------
    path
        A GeoTIFF/COG or any raster GDAL reads.
    crs
        The survey's CRS for this file; it overrides the file's CRS or
        completes a file that has none.

    Returns
    -------
    RasterInfo

    Raises
    ------
    InputNotFoundError
        When the file does not exist.
    InputError
        When it is not a readable raster.
    CRSError
        When ``crs`` is not a CRS.
    """
    file = existing_file(path, what="raster")
    with _open(file) as src:
        resolved, source = resolve_crs(src.crs, crs, path=file)
        return RasterInfo(
            path=file,
            crs=resolved,
            transform=src.transform,
            width=int(src.width),
            height=int(src.height),
            count=int(src.count),
            dtypes=tuple(str(d) for d in src.dtypes),
            nodata=None if src.nodata is None else float(src.nodata),
            band_descriptions=tuple(d or None for d in src.descriptions),
            bounds=tuple(float(b) for b in src.bounds),  # type: ignore[arg-type]
            tags=dict(src.tags()),
            crs_source=source,
        )


def check_raster_blocks(path: str | os.PathLike[str]) -> None:
    """Read the last block of every band: a truncated file fails here, not mid-run.

    A raster's header sits at its start, so a download cut short still opens;
    the blocks written last are the ones that are missing. Reading one block
    per band is cheap.

    Raises
    ------
    InputError
        A block cannot be read (named with its band).
    """
    file = existing_file(path, what="raster")
    with _open(file) as src:
        for band in range(1, src.count + 1):
            block_h, block_w = src.block_shapes[band - 1]
            row = (src.height - 1) // block_h * block_h
            col = (src.width - 1) // block_w * block_w
            window = rasterio.windows.Window(col, row, src.width - col, src.height - row)
            try:
                src.read(band, window=window)
            except _RASTERIO_ERRORS as exc:
                raise InputError(
                    f"the raster's last block cannot be read ({exc}): the file is truncated "
                    "or damaged",
                    path=file,
                    where=f"band {band}",
                    fix="download or export the file again (check its size against the source)",
                ) from exc


def read_raster(
    path: str | os.PathLike[str],
    grid: Grid,
    *,
    bands: Sequence[int | str] | None = None,
    resampling: Resampling = "bilinear",
    crs: Any = None,
    chunks: int | None = None,
    dtype: npt.DTypeLike | None = None,
    nodata: float | None = None,
) -> xr.DataArray:
    """Read a raster resampled onto the analysis grid.

    Parameters
    ----------
    path
        A GeoTIFF/COG (or any raster GDAL reads).
    grid
        The analysis grid to resample onto.
    bands
        Bands to read: 1-based band numbers, or band descriptions (as
        stored in the file). Default: all bands in file order.
    resampling
        ``"bilinear"``, ``"average"`` or ``"cubic"`` for continuous values
        (reflectance, heights); ``"nearest"`` or ``"mode"`` for classes and
        bit-mask bands.
    crs
        The survey's CRS for this file; overrides the file's or completes a
        file that has none.
    chunks
        Block size in grid cells. When given, the result is dask-backed and
        each ``chunks × chunks`` block is read from the file when computed.
    dtype
        Output data type. Default: ``float32`` for continuous resampling,
        the file's type for ``nearest``/``mode``. Continuous resampling
        requires a float type.
    nodata
        The value that marks missing pixels in the file, when the file does
        not say (or says wrongly). Default: the file's own nodata.

    Returns
    -------
    xarray.DataArray
        Dims ``(band, y, x)`` with the grid's coordinates and CRS (rioxarray
        convention). ``band`` holds the band descriptions when every selected
        band has a distinct one, else the band numbers. Float results hold
        NaN where the file has nodata or no data at all; integer results
        (``nearest``/``mode`` on integer files) hold the fill value recorded in
        the ``_FillValue`` attribute (``.rio.nodata``). ``units`` and
        ``long_name`` come from the file's tags when present.

    Raises
    ------
    InputNotFoundError
        When the file does not exist.
    InputError
        When the file is unreadable, a requested band does not exist, or the
        raster does not overlap the grid.
    CRSError
        When the raster has no CRS and none is given, or its coordinates do
        not fit its CRS.

    Notes
    -----
    Integer files without a nodata value get a fill value for cells outside
    the raster: the type's largest value for unsigned types, its smallest for
    signed types (e.g. 255 for uint8). A continuous result of an integer file
    is exact for integers up to 2**24 in float32; pass ``dtype="float64"`` for
    larger ones.
    """
    if resampling not in get_args(Resampling):
        raise ValueError(
            f"resampling must be one of {', '.join(get_args(Resampling))}, not {resampling!r}"
        )
    if chunks is not None and chunks < 1:
        raise ValueError(f"chunks must be a positive number of cells, not {chunks}")
    file = existing_file(path, what="raster")
    with _open(file) as src:
        src_crs, source = resolve_crs(src.crs, crs, path=file)
        if src_crs is None:
            raise CRSError("the raster has no CRS", path=file, fix=_CRS_FIX)
        problem = crs_plausibility_problem(src_crs, tuple(src.bounds))
        if problem:
            fix = (
                "the survey's crs for this file is wrong: give the CRS it was made in"
                if source == "override"
                else _CRS_FIX
            )
            raise CRSError(problem, path=file, fix=fix)
        indexes = _band_indexes(src, bands, file)
        _check_overlap(src, src_crs, grid, file)
        nodata_value = _nodata_value(src, nodata)
        out_dtype, fill = _output_type(src, indexes, resampling, dtype, nodata_value, file)
        spec = _ReadSpec(
            src_crs_wkt=src_crs.to_wkt(),
            indexes=tuple(indexes),
            resampling=resampling,
            out_dtype=out_dtype.str,
            fill=fill,
            nodata=nodata_value,
            honour_masks=nodata is None,
        )
        descriptions = [src.descriptions[i - 1] for i in indexes]
        attrs = _layer_attrs(src, indexes)
        if chunks is None:
            values: Any = _read_onto(src, grid, spec)
        else:
            values = _dask_read(file, grid, spec, chunks)

    band_coord: list[Any]
    if all(descriptions) and len(set(descriptions)) == len(descriptions):
        band_coord = [str(d) for d in descriptions]
    else:
        band_coord = list(indexes)
    coords: dict[str, Any] = {"band": band_coord, **grid.coords()}
    attrs.update({"source_file": str(file), "resampling": resampling})
    layer = xr.DataArray(
        values,
        dims=("band", "y", "x"),
        coords=coords,
        name=file.stem,
        attrs=attrs,
    )
    layer.rio.write_crs(grid.crs.to_wkt(), inplace=True)
    layer.rio.write_transform(grid.transform, inplace=True)
    layer.rio.write_nodata(fill, encoded=False, inplace=True)
    return layer


# ----------------------------------------------------------------- internals
@dataclass(frozen=True)
class _ReadSpec:
    """Everything a (possibly remote) block read needs; picklable."""

    src_crs_wkt: str
    indexes: tuple[int, ...]
    resampling: str
    out_dtype: str
    fill: float | int
    nodata: float | None
    honour_masks: bool


def _band_indexes(src: Any, bands: Sequence[int | str] | None, file: Path) -> list[int]:
    """1-based band numbers for ``bands`` (numbers or descriptions)."""
    count = int(src.count)
    if bands is None:
        return list(range(1, count + 1))
    if isinstance(bands, str | int):
        bands = [bands]
    descriptions = list(src.descriptions)
    indexes: list[int] = []
    for band in bands:
        if isinstance(band, str):
            if band not in descriptions:
                named = ", ".join(repr(d) for d in descriptions if d) or "none"
                raise InputError(
                    f"the raster has no band described {band!r} "
                    f"(it has {count} band(s); descriptions: {named})",
                    path=file,
                    where=f"band {band!r}",
                    fix="name an existing band description, or give band numbers",
                )
            indexes.append(descriptions.index(band) + 1)
        elif isinstance(band, int | np.integer) and 1 <= int(band) <= count:
            indexes.append(int(band))
        else:
            raise InputError(
                f"band {band!r} was requested but the raster has {count} band(s), "
                f"numbered 1 to {count}",
                path=file,
                where=f"band {band}",
                fix=f"request bands between 1 and {count} (check the band map or sensor)",
            )
    return indexes


def _check_overlap(src: Any, src_crs: CRS, grid: Grid, file: Path) -> None:
    """Raise when the raster's footprint does not touch the grid at all."""
    from rasterio.warp import transform_bounds

    try:
        xmin, ymin, xmax, ymax = transform_bounds(
            _rio_crs(src_crs), _rio_crs(grid.crs), *src.bounds, densify_pts=21
        )
    except _RASTERIO_ERRORS as exc:  # footprint outside the grid CRS's domain
        raise InputError(
            f"the raster's extent cannot be expressed in the grid CRS "
            f"{crs_label(grid.crs)} ({exc})",
            path=file,
            fix="check that the file covers the project area and its CRS is right",
        ) from exc
    gxmin, gymin, gxmax, gymax = grid.bounds
    if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)) or (
        xmax <= gxmin or xmin >= gxmax or ymax <= gymin or ymin >= gymax
    ):
        raise InputError(
            f"the raster does not overlap the analysis grid: it covers x {xmin:.1f} to "
            f"{xmax:.1f}, y {ymin:.1f} to {ymax:.1f} in {crs_label(grid.crs)}, the grid "
            f"x {gxmin:.1f} to {gxmax:.1f}, y {gymin:.1f} to {gymax:.1f}",
            path=file,
            fix="check that the file covers the project area and that its CRS is right",
        )


def _nodata_value(src: Any, nodata: float | None) -> float | None:
    if nodata is not None:
        return float(nodata)
    return None if src.nodata is None else float(src.nodata)


def _output_type(
    src: Any,
    indexes: Sequence[int],
    resampling: str,
    dtype: npt.DTypeLike | None,
    nodata_value: float | None,
    file: Path,
) -> tuple[np.dtype[Any], float | int]:
    """Output dtype and the fill value for missing cells."""
    src_dtype = np.result_type(*(np.dtype(src.dtypes[i - 1]) for i in indexes))
    if resampling in CONTINUOUS_RESAMPLING:
        out = np.dtype(np.float32 if dtype is None else dtype)
        if out.kind != "f":
            raise ValueError(
                f"{resampling} resampling blends values and needs a float dtype, not {out}; "
                'use resampling="nearest" or "mode" to keep integer classes'
            )
    else:
        out = np.dtype(src_dtype if dtype is None else dtype)
    if out.kind == "f":
        return out, float("nan")
    if out.kind not in "iu":
        raise ValueError(f"dtype {out} is not a numeric raster type")
    info = np.iinfo(out)
    if nodata_value is None:
        fill = int(info.max) if out.kind == "u" else int(info.min)
        logger.debug("%s has no nodata value; cells outside it are filled with %d", file, fill)
        return out, fill
    if not (math.isfinite(nodata_value) and nodata_value == int(nodata_value)) or not (
        info.min <= nodata_value <= info.max
    ):
        raise InputError(
            f"the nodata value {nodata_value:g} cannot be stored as {out}",
            path=file,
            fix="give a nodata value that fits the band type, or a float dtype",
        )
    return out, int(nodata_value)


def _layer_attrs(src: Any, indexes: Sequence[int]) -> dict[str, Any]:
    tags = src.tags()
    attrs: dict[str, Any] = {}
    for key in ("units", "long_name"):
        if tags.get(key):
            attrs[key] = tags[key]
    if "units" not in attrs:
        band_units = {src.units[i - 1] for i in indexes}
        if len(band_units) == 1 and (unit := band_units.pop()):
            attrs["units"] = unit
    return attrs


def _rio_crs(crs: CRS | str) -> rasterio.crs.CRS:
    return rasterio.crs.CRS.from_wkt(crs if isinstance(crs, str) else crs.to_wkt())


def _aligned_offset(src: Any, src_crs: CRS, grid: Grid) -> tuple[int, int] | None:
    """``(row_off, col_off)`` of the grid origin in raster pixels, if the two align."""
    t = src.transform
    res = grid.resolution
    if t.b != 0 or t.d != 0 or not (math.isclose(t.a, res, rel_tol=1e-9)):
        return None
    if not math.isclose(t.e, -res, rel_tol=1e-9):
        return None
    if not src_crs.equals(grid.crs, ignore_axis_order=True):
        return None
    col = (grid.transform.c - t.c) / res
    row = (t.f - grid.transform.f) / res
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return round(row), round(col)


def _read_onto(src: Any, grid: Grid, spec: _ReadSpec) -> npt.NDArray[Any]:
    """Read the selected bands onto ``grid``: by window when aligned, else warped."""
    src_crs = CRS.from_wkt(spec.src_crs_wkt)
    offset = _aligned_offset(src, src_crs, grid)
    if offset is not None:
        return _read_aligned(src, grid, spec, offset)
    return _read_warped(src, grid, spec)


def _read_aligned(
    src: Any, grid: Grid, spec: _ReadSpec, offset: tuple[int, int]
) -> npt.NDArray[Any]:
    """Boundless window read: exact values inside the raster, fill outside."""
    row0, col0 = offset
    out_dtype = np.dtype(spec.out_dtype)
    out = np.full((len(spec.indexes), grid.height, grid.width), spec.fill, dtype=out_dtype)
    r0, r1 = max(row0, 0), min(row0 + grid.height, int(src.height))
    c0, c1 = max(col0, 0), min(col0 + grid.width, int(src.width))
    if r1 <= r0 or c1 <= c0:
        return out
    window = Window(c0, r0, c1 - c0, r1 - r0)
    block = src.read(list(spec.indexes), window=window)
    valid = _valid(src, block, window, spec)
    block = block.astype(out_dtype, copy=False)
    if not valid.all():
        block = np.where(valid, block, np.asarray(spec.fill, dtype=out_dtype))
    out[:, r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = block
    return out


def _valid(src: Any, block: npt.NDArray[Any], window: Window, spec: _ReadSpec) -> Any:
    """Pixels of ``block`` that hold data (nodata value, mask bands, alpha)."""
    if spec.nodata is None:
        valid = np.ones(block.shape, dtype=bool)
    elif math.isnan(spec.nodata):
        valid = ~np.isnan(block)
    else:
        valid = block != spec.nodata
    if spec.honour_masks:
        flags = [src.mask_flag_enums[i - 1] for i in spec.indexes]
        if any(MaskFlags.per_dataset in f or MaskFlags.alpha in f for f in flags):
            valid &= src.read_masks(list(spec.indexes), window=window) > 0
    return valid


def _read_warped(src: Any, grid: Grid, spec: _ReadSpec) -> npt.NDArray[Any]:
    """Warp onto ``grid`` with GDAL; cells without data get the fill value."""
    options: dict[str, Any] = {
        "src_crs": _rio_crs(spec.src_crs_wkt),
        "crs": _rio_crs(grid.crs),
        "transform": grid.transform,
        "width": grid.width,
        "height": grid.height,
        "resampling": RioResampling[spec.resampling],
        "nodata": spec.fill,
        "dtype": np.dtype(spec.out_dtype).name,
        "tolerance": _WARP_TOLERANCE_PX,
    }
    if spec.nodata is not None:
        options["src_nodata"] = spec.nodata
    if spec.resampling in _KERNEL_RESAMPLING:
        # GDAL derives the kernel's scale per processing chunk unless told; a
        # fixed scale makes block reads equal a whole read (GDAL >= 3.4).
        x_scale, y_scale = _kernel_scale(src, grid, spec)
        options["XSCALE"] = repr(x_scale)
        options["YSCALE"] = repr(y_scale)
    with WarpedVRT(src, **options) as vrt:
        values = vrt.read(list(spec.indexes))
    return np.asarray(values, dtype=np.dtype(spec.out_dtype))


def _kernel_scale(src: Any, grid: Grid, spec: _ReadSpec) -> tuple[float, float]:
    """Destination pixels per source pixel along x and y (GDAL's XSCALE/YSCALE).

    The source pixel at the raster's centre is mapped into the grid CRS; the
    ratio is taken as constant over the area, which holds within a fraction of
    a percent over any survey-sized area.
    """

    t = src.transform
    col, row = src.width / 2.0, src.height / 2.0

    def corner(c: float, r: float) -> tuple[float, float]:
        return t.c + t.a * c + t.b * r, t.f + t.d * c + t.e * r

    x0, y0 = corner(col, row)
    x1, y1 = corner(col + 1.0, row)
    x2, y2 = corner(col, row + 1.0)
    src_crs = CRS.from_wkt(spec.src_crs_wkt)
    if not src_crs.equals(grid.crs, ignore_axis_order=True):
        to_grid = transformer(src_crs, grid.crs, path=src.name, what="raster")
        (x0, x1, x2), (y0, y1, y2) = to_grid.transform([x0, x1, x2], [y0, y1, y2])
    res = grid.resolution
    x_scale = math.hypot(x1 - x0, y1 - y0) / res
    y_scale = math.hypot(x2 - x0, y2 - y0) / res
    if not (math.isfinite(x_scale) and math.isfinite(y_scale) and x_scale > 0 and y_scale > 0):
        return 1.0, 1.0
    return x_scale, y_scale


def _read_block(
    file: Path, grid: Grid, spec: _ReadSpec, block_info: dict[Any, Any] | None = None
) -> npt.NDArray[Any]:
    """Read one dask block: the ``array-location`` of the block on ``grid``."""
    assert block_info is not None
    _, (r0, r1), (c0, c1) = block_info[None]["array-location"]
    sub = grid.window_grid((r0, c0, r1 - r0, c1 - c0))
    with _open(file) as src:
        return _read_onto(src, sub, spec)


def _dask_read(file: Path, grid: Grid, spec: _ReadSpec, chunks: int) -> Any:
    """A lazy ``(band, y, x)`` dask array that reads each block when computed."""
    import dask.array as da
    from dask.base import tokenize

    def splits(n: int) -> tuple[int, ...]:
        return tuple(min(chunks, n - start) for start in range(0, n, chunks))

    stat = file.stat()
    token = tokenize(
        str(file.resolve()),
        stat.st_mtime_ns,
        stat.st_size,
        grid.crs.to_wkt(),
        tuple(grid.transform)[:6],
        grid.shape,
        spec,
        chunks,
    )
    out_dtype = np.dtype(spec.out_dtype)
    with _gdal_errors(file):
        return da.map_blocks(
            partial(_read_block, file, grid, spec),
            chunks=((len(spec.indexes),), splits(grid.height), splits(grid.width)),
            dtype=out_dtype,
            meta=np.empty((0, 0, 0), dtype=out_dtype),
            name=f"read-raster-{token}",
        )
