"""Atomic writers: every output goes to a temporary file that is renamed into place.

An interrupted run therefore never leaves a half-written file under the final
name (docs/design.md §5). The temporary file sits in the destination folder so the
rename is atomic on POSIX file systems.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import xarray as xr

from carbonsink.errors import OutputError
from carbonsink.io.cf import flag_codes

__all__ = [
    "WindowedCOGWriter",
    "atomic_path",
    "class_colormap",
    "make_folder",
    "write_cog",
    "write_csv",
    "write_json",
    "write_layer_cog",
    "write_layer_cogs",
    "write_netcdf",
]

logger = logging.getLogger(__name__)

#: The cell value of a uint8 class raster outside the survey (its nodata).
_CLASS_FILL: Final = 255


def make_folder(folder: str | os.PathLike[str]) -> Path:
    """Create an output folder (and its parents) if needed.

    Raises
    ------
    OutputError
        It cannot be created (the folder and the reason).
    """
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the output folder ({exc.strerror})",
            path=path,
            fix="choose an output folder you can write to",
        ) from exc
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.

    Examples
    --------
    >>> with atomic_path("out/ledger.json") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("{}")
    """
    final = Path(path)
    make_folder(final.parent)
    tmp = _create_temp(final)
    try:
        yield tmp
        tmp.replace(final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _create_temp(final: Path) -> Path:
    """Create an empty, uniquely named temporary file beside ``final``.

    Unlike :func:`tempfile.mkstemp` (always mode 0600) the file is created with
    mode 0666 filtered by the process umask, so the renamed output gets the same
    permissions as any other file the user creates.
    """
    for _ in range(100):
        tmp = final.parent / f".{final.stem}.{secrets.token_hex(6)}.part{final.suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(
                f"cannot create a file in the output folder ({exc.strerror})",
                path=final,
                fix="choose an output folder you can write to",
            ) from exc
        os.close(fd)
        return tmp
    raise OutputError(  # pragma: no cover - 100 collisions of 48 random bits
        "cannot find a free temporary file name",
        path=final,
        fix="remove stale .*.part* files from the output folder",
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return value.as_posix()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _to_jsonable(obj: Any, where: str = "$") -> Any:
    """Convert numpy values to Python ones and refuse non-finite floats, naming the key path.

    numpy scalars other than float64 (e.g. float32) and arrays are converted
    *before* the check, so a NaN inside them is reported with its key path too.
    """
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    elif isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        raise OutputError(
            f"value at {where} is {obj}, which JSON cannot hold",
            fix="replace non-finite numbers with null before writing",
        )
    if isinstance(obj, Mapping):
        return {key: _to_jsonable(val, f"{where}.{key}") for key, val in obj.items()}
    if isinstance(obj, list | tuple):
        return [_to_jsonable(val, f"{where}[{i}]") for i, val in enumerate(obj)]
    return obj


def write_json(obj: Any, path: str | os.PathLike[str], *, indent: int = 2) -> Path:
    """Write ``obj`` as UTF-8 JSON (sorted keys, no NaN) atomically; return the path."""
    text = json.dumps(
        _to_jsonable(obj),
        indent=indent,
        sort_keys=True,
        ensure_ascii=False,
        default=_json_default,
        allow_nan=False,
    )
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return Path(path)


def write_csv(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    index: bool = False,
    float_format: str | None = None,
) -> Path:
    """Write a table as UTF-8 CSV atomically; return the path."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=index, float_format=float_format, lineterminator="\n")
    return Path(path)


#: HDF5 chunk cache of each variable while a NetCDF file is written (bytes).
WRITE_CHUNK_CACHE_BYTES: Final = 4 * 2**20
_CHUNK_CACHE_LOCK = threading.Lock()


def write_netcdf(dataset: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a Dataset to CF-1.8 NetCDF-4 with zlib compression atomically; return the path.

    Units, ``long_name`` and ``flag_values`` are made CF's on a shallow copy
    (:func:`carbonsink.io.cf.cf_dataset`). Each variable's own ``encoding`` is
    kept (notably ``grid_mapping``, which rioxarray puts there and which links
    the data to the CRS); compression is added to it on that copy, so the
    caller's Dataset is not modified.
    """
    # Passing ``encoding=`` to to_netcdf *replaces* each named variable's
    # encoding, which dropped ``grid_mapping`` and so the CRS; set it on a copy.
    import netCDF4

    from carbonsink import __version__
    from carbonsink.io.cf import cf_dataset

    out = cf_dataset(dataset, source=f"carbonsink {__version__}")
    for name in out.data_vars:
        var = out.variables[name]
        if var.dtype.kind in "fiub":
            var.encoding = {**var.encoding, "zlib": True, "complevel": 4}
    # HDF5 keeps a chunk cache per variable until the file closes: with the library's
    # default a 213 km² survey's cube (~100 compressed layers) held 0.8 GB of cache; a
    # write fills each chunk once and never reads it back.
    with _CHUNK_CACHE_LOCK:  # the setting is the process's: one write changes it at a time
        previous = netCDF4.get_chunk_cache()
        netCDF4.set_chunk_cache(WRITE_CHUNK_CACHE_BYTES, previous[1], previous[2])
        try:
            with atomic_path(path) as tmp:
                out.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
        finally:
            netCDF4.set_chunk_cache(*previous)
    return Path(path)


def _layer_crs(layer: xr.DataArray, path: str | os.PathLike[str]) -> Any:
    """The layer's CRS (rioxarray convention), or an error naming the layer."""
    import rioxarray  # noqa: F401  (registers the .rio accessor)

    crs = layer.rio.crs
    if crs is None:
        raise OutputError(
            f"layer {layer.name!r} has no CRS",
            path=path,
            fix="build it on the analysis grid (Grid.dataarray) or call .rio.write_crs()",
        )
    return crs


def write_cog(
    layer: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    nodata: float | int | None = None,
    compress: str = "DEFLATE",
    overview_resampling: str = "average",
    tags: Mapping[str, str] | None = None,
) -> Path:
    """Write a ``(y, x)`` or ``(band, y, x)`` DataArray as a Cloud-Optimized GeoTIFF.

    The layer must carry its CRS and transform the rioxarray way (see
    :meth:`carbonsink.grid.Grid.dataarray`). ``units`` and ``long_name`` are
    stored as GeoTIFF tags; float layers use NaN as nodata unless told otherwise.
    Band descriptions come from a ``band`` coordinate of strings when present.
    """
    import rasterio
    import rasterio.shutil
    import rioxarray  # noqa: F401  (registers the .rio accessor used below)

    crs = _layer_crs(layer, path)
    values = np.asarray(layer.values)
    if values.ndim == 2:
        values = values[np.newaxis]
    if nodata is None and values.dtype.kind == "f":
        nodata = float("nan")
    descriptions: list[str] | None = None
    if layer.ndim == 3 and "band" in layer.coords and layer.coords["band"].dtype.kind in "UO":
        descriptions = [str(b) for b in layer.coords["band"].values]
    profile: dict[str, Any] = {
        "driver": "COG",
        "width": values.shape[2],
        "height": values.shape[1],
        "count": values.shape[0],
        "dtype": values.dtype.name,
        "crs": crs,
        "transform": layer.rio.transform(),
        "nodata": nodata,
        "compress": compress,
        "overview_resampling": overview_resampling,
        "blocksize": 256,
    }
    if values.dtype.kind == "f":
        profile["predictor"] = "YES"  # horizontal differencing for floats
    if "flag_values" in layer.attrs:
        # An overview cell of a class map is its most frequent class: an average of
        # class codes (or of their colours) would be a class that is not there.
        profile["overview_resampling"] = "mode"
    kept = ("units", "long_name", "standard_name", "flag_values", "flag_meanings")
    all_tags = _tags(layer.attrs, kept)
    all_tags.update(tags or {})
    with atomic_path(path) as tmp:
        # GDAL's COG driver writes from a source dataset: build it in memory.
        mem_profile = {
            k: v
            for k, v in profile.items()
            if k in ("width", "height", "count", "dtype", "crs", "transform", "nodata")
        }
        with rasterio.MemoryFile() as mem:
            with mem.open(driver="GTiff", **mem_profile) as src:
                src.write(values)
                if all_tags:
                    src.update_tags(**all_tags)
                if descriptions:
                    for i, desc in enumerate(descriptions, start=1):
                        src.set_band_description(i, desc)
                elif values.shape[0] == 1:
                    colormap = class_colormap(layer.attrs)
                    _describe_band(
                        src, all_tags, colormap if values.dtype in (np.uint8, np.uint16) else None
                    )
            with mem.open() as src:
                rasterio.shutil.copy(
                    src,
                    tmp,
                    **{
                        k: v
                        for k, v in profile.items()
                        if k
                        in ("driver", "compress", "overview_resampling", "blocksize", "predictor")
                    },
                    NUM_THREADS="ALL_CPUS",  # blocks compressed in parallel: the same bytes
                )
    return Path(path)


def _describe_band(
    dataset: Any,
    tags: Mapping[str, str],
    colormap: Mapping[int, tuple[int, int, int, int]] | None,
) -> None:
    """Band 1's description, unit, tags, scale/offset and colour table (copied to the COG)."""
    band = {k: str(tags[k]) for k in ("units", "long_name") if tags.get(k)}
    if "long_name" in band:
        dataset.set_band_description(1, band["long_name"])
    if "units" in band:
        dataset.set_band_unit(1, band["units"])
    if band:
        dataset.update_tags(1, **band)
    dataset.scales = (1.0,)
    dataset.offsets = (0.0,)
    if colormap:
        dataset.write_colormap(1, dict(colormap))


def class_colormap(attrs: Mapping[str, Any]) -> dict[int, tuple[int, int, int, int]] | None:
    """The colour table of a class layer: ``flag_values`` coloured by ``flag_colors``.

    ``flag_colors`` holds one ``#rrggbb`` per flag value (a list, or a
    blank-separated string); ``None`` when the layer has no such legend.
    """
    values, colours = attrs.get("flag_values"), attrs.get("flag_colors")
    if values is None or colours is None:
        return None
    codes = flag_codes(values)
    hexes = colours.split() if isinstance(colours, str) else [str(c) for c in colours]
    if len(codes) != len(hexes):
        raise OutputError(
            f"{len(codes)} flag_values but {len(hexes)} flag_colors",
            fix="give one #rrggbb colour per class",
        )
    table = {}
    for code, colour in zip(codes, hexes, strict=True):
        text = colour.lstrip("#")
        table[code] = (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16), 255)
    return table


class WindowedCOGWriter:
    """Write a large single-band raster window by window, then publish it as a COG.

    Windows go to a temporary tiled GeoTIFF beside the destination (memory
    stays bounded by the window size); :meth:`close` converts it to a
    Cloud-Optimized GeoTIFF under a second temporary name and renames that
    into place, so the final name only ever holds a complete file.
    Use it as a context manager: on an exception nothing is published.

    Parameters
    ----------
    path
        Destination ``.tif``.
    width, height
        Raster size in cells.
    transform, crs
        Georeferencing (an ``affine.Affine`` and anything rasterio accepts).
    dtype
        Cell type, e.g. ``"float32"``.
    nodata
        Nodata value (NaN by default for floats).
    tags
        GeoTIFF metadata such as ``units`` and ``long_name``: also the band's
        unit and description (what ``gdalinfo`` and QGIS show), with scale 1
        and offset 0 stated.
    colormap
        Colour table of a class raster, ``{code: (r, g, b, a)}`` (uint8 or
        uint16 only).
    overview_resampling
        How GDAL makes the overviews: ``average`` for quantities, ``mode``
        for class codes.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        width: int,
        height: int,
        transform: Any,
        crs: Any,
        dtype: str = "float32",
        nodata: float | int | None = None,
        tags: Mapping[str, str] | None = None,
        colormap: Mapping[int, tuple[int, int, int, int]] | None = None,
        overview_resampling: str = "average",
    ) -> None:
        import rasterio

        self.path = Path(path)
        make_folder(self.path.parent)
        self._partial = _create_temp(self.path)
        if nodata is None and np.dtype(dtype).kind == "f":
            nodata = float("nan")
        self._dtype = dtype
        self._overview_resampling = overview_resampling
        try:
            self._dataset = rasterio.open(
                self._partial,
                "w",
                driver="GTiff",
                width=width,
                height=height,
                count=1,
                dtype=dtype,
                crs=crs,
                transform=transform,
                nodata=nodata,
                tiled=True,
                blockxsize=256,
                blockysize=256,
                # A scratch file: the fastest codec; the published COG uses DEFLATE.
                compress="ZSTD",
                zstd_level=1,
                BIGTIFF="IF_SAFER",
            )
        except Exception as exc:
            self._partial.unlink(missing_ok=True)
            raise OutputError(
                f"cannot create the raster ({exc})",
                path=self.path,
                fix="choose an output folder you can write to",
            ) from exc
        if tags:
            self._dataset.update_tags(**{k: str(v) for k, v in tags.items()})
        _describe_band(self._dataset, tags or {}, colormap)

    def write(self, values: np.ndarray, *, row_off: int, col_off: int) -> None:
        """Write a 2-D block with its upper-left cell at ``(row_off, col_off)``."""
        from rasterio.windows import Window

        block = np.asarray(values, dtype=self._dtype)
        window = Window(col_off, row_off, block.shape[1], block.shape[0])
        self._dataset.write(block, 1, window=window)

    def close(self) -> Path:
        """Finish the file: convert to COG (with overviews) and publish it."""
        import rasterio
        import rasterio.shutil

        self._dataset.close()
        try:
            with (
                atomic_path(self.path) as tmp,
                # GDAL computes the overviews into a temporary file beside the COG,
                # ZSTD-compressed by default, then copies them into it: uncompressed,
                # it writes and reads them a fifth faster (0.36 s instead of 0.45 s
                # for a 16 M-cell CHM) and the COG holds the same bytes.
                rasterio.Env(COG_TMP_COMPRESSION="NONE"),
                rasterio.open(self._partial) as src,
            ):
                rasterio.shutil.copy(
                    src,
                    tmp,
                    driver="COG",
                    compress="DEFLATE",
                    level=1,  # fast; large surfaces compress nearly as well as at 6
                    blocksize=256,
                    overview_resampling=self._overview_resampling,
                    BIGTIFF="IF_SAFER",
                    NUM_THREADS="ALL_CPUS",  # blocks compressed in parallel: the same bytes
                )
        finally:
            self._partial.unlink(missing_ok=True)
        return self.path

    def abort(self) -> None:
        """Discard everything written."""
        self._dataset.close()
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> WindowedCOGWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_layer_cog(
    layer: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    block_rows: int = 1024,
    nodata: float | int | None = None,
    on_block: Callable[[int, int], None] | None = None,
) -> Path:
    """Write a ``(y, x)`` layer, lazy (dask) or not, as a COG strip by strip.

    See :func:`write_layer_cogs`, which this calls with one layer.
    """
    return write_layer_cogs(
        [layer], [path], block_rows=block_rows, nodata=nodata, on_block=on_block
    )[0]


def _tags(attrs: Mapping[str, Any], kept: Sequence[str]) -> dict[str, str]:
    """GeoTIFF tags of a layer's attributes; ``flag_values`` blank-separated (``1 2 3``)."""
    tags = {k: str(v) for k, v in attrs.items() if k in kept}
    if "flag_values" in tags:
        tags["flag_values"] = " ".join(str(c) for c in flag_codes(attrs["flag_values"]))
    return tags


def _class_nodata(attrs: Mapping[str, Any], dtype: np.dtype[Any]) -> int | None:
    """A uint8 class layer's fill, 255, as its nodata (``None`` for other layers)."""
    values = attrs.get("flag_values")
    if values is None or dtype != np.uint8:
        return None
    return None if _CLASS_FILL in flag_codes(values) else _CLASS_FILL


def write_layer_cogs(
    layers: Sequence[xr.DataArray],
    paths: Sequence[str | os.PathLike[str]],
    *,
    block_rows: int = 1024,
    nodata: float | int | None = None,
    on_block: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write ``(y, x)`` layers of one grid, lazy (dask) or not, as COGs strip by strip.

    The layers' strips are computed together (one dask computation per
    strip), so inputs they share — e.g. the bands of several spectral
    indices — are read once; only one strip of ``block_rows`` rows per layer
    is held at a time, so dask-backed layers larger than memory stream to
    disk. Each layer must carry its CRS and transform the rioxarray way. If
    anything fails, no file is published.

    Parameters
    ----------
    layers
        The layers; ``units``, ``long_name`` and a class legend
        (``flag_values``/``flag_meanings``) become GeoTIFF tags. Boolean
        layers are written as uint8.
    paths
        Destination ``.tif`` of each layer (published atomically).
    block_rows
        Rows per strip.
    nodata
        Nodata value (NaN for floats by default).
    on_block
        Called as ``on_block(rows_done, rows_total)`` after each strip (for
        progress bars).
    """
    from dask.base import compute

    if len(layers) != len(paths):
        raise OutputError(
            f"{len(layers)} layers but {len(paths)} paths",
            fix="give one output path per layer",
        )
    dtypes = []
    for layer, path in zip(layers, paths, strict=True):
        if layer.ndim != 2:
            raise OutputError(
                f"layer {layer.name!r} has dims {layer.dims}; a single-band (y, x) layer is needed",
                path=path,
                fix="write each band separately",
            )
        _layer_crs(layer, path)
        if layer.shape != layers[0].shape:
            raise OutputError(
                f"layer {layer.name!r} is {layer.shape}, {layers[0].name!r} {layers[0].shape}",
                path=path,
                fix="write layers of one grid together",
            )
        dtype = np.dtype(layer.dtype)
        dtypes.append(np.dtype(np.uint8) if dtype == np.bool_ else dtype)
    kept = ("units", "long_name", "flag_values", "flag_meanings")
    height = layers[0].shape[0] if layers else 0
    writers: list[WindowedCOGWriter] = []
    try:
        for layer, path, dtype in zip(layers, paths, dtypes, strict=True):
            colormap = class_colormap(layer.attrs)
            writers.append(
                WindowedCOGWriter(
                    path,
                    width=layer.shape[1],
                    height=layer.shape[0],
                    transform=layer.rio.transform(),
                    crs=layer.rio.crs,
                    dtype=dtype.name,
                    nodata=_class_nodata(layer.attrs, dtype) if nodata is None else nodata,
                    tags=_tags(layer.attrs, kept),
                    overview_resampling="mode" if "flag_values" in layer.attrs else "average",
                    colormap=colormap if dtype in (np.uint8, np.uint16) else None,
                )
            )
        for start in range(0, height, block_rows):
            stop = min(start + block_rows, height)
            strips = compute(*[layer.isel(y=slice(start, stop)).data for layer in layers])
            for writer, strip, dtype in zip(writers, strips, dtypes, strict=True):
                writer.write(np.asarray(strip).astype(dtype, copy=False), row_off=start, col_off=0)
            if on_block is not None:
                on_block(stop, height)
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    # The COG conversions (compression, overviews) run in GDAL without the GIL:
    # convert the files side by side.
    with ThreadPoolExecutor(max_workers=max(1, min(len(writers), os.cpu_count() or 1))) as pool:
        list(pool.map(WindowedCOGWriter.close, writers))
    return [Path(p) for p in paths]
