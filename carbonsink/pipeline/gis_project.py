"""The run as a QGIS project: every map styled, grouped by epoch, with its points and polygons.

:func:`write_gis_project` writes ``OUT/carbonsink.gpkg`` — the project boundary,
and per epoch the biomass plots, the soil cores and the terrain checkpoints
that the stages used, in the survey CRS — and ``OUT/carbonsink.qgs``, which
opens the maps already written (``maps/*.tif``) and those layers: class maps
with the report's class colours and names, continuous maps with the report's
colour ramp between the 2nd and 98th percentiles shared by the epochs (a
diverging ramp centred on 0 for the removals), the units in every layer's
name and legend. Paths in the project are relative, so the folder can be
moved whole (docs/design.md §5).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from matplotlib import colormaps
from matplotlib.colors import to_hex
from rasterio.enums import Resampling

from carbonsink import i18n
from carbonsink.i18n import N_, gettext
from carbonsink.io.qgis_project import (
    ClassPalette,
    ColourRamp,
    LayerGroup,
    QgisProject,
    RasterLayer,
    VectorLayer,
    write_qgis_project,
)
from carbonsink.io.writers import atomic_path
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.outputs import OUTPUTS, OutputFolder
from carbonsink.pipeline.products import CHANGE_MAPS, EPOCH_MAPS
from carbonsink.pipeline.stages.epoch import EpochResults

__all__ = ["GIS_POINTS", "ramp_limits", "write_gis_project"]

#: Point layers of an epoch: table name prefix → (layer name, colour, marker).
GIS_POINTS: Mapping[str, tuple[str, str, Literal["circle", "triangle", "square"]]] = {
    "plots": (N_("Biomass plots"), "#1a9850", "circle"),
    "cores": (N_("Soil cores"), "#8c510a", "triangle"),
    "checkpoints": (N_("Terrain checkpoints (RTK)"), "#2166ac", "square"),
}
#: Colours sampled from a continuous map's matplotlib colour map for its QGIS ramp.
_RAMP_STOPS = 11
#: A map's percentiles are taken on at most this many cells per side (a decimated read).
_STATS_SIDE = 1024
#: The epoch map drawn when the project opens (with the last epoch's points).
_OPEN_MAP = "map_carbon"


def _epoch_points(result: EpochResults) -> dict[str, pd.DataFrame]:
    """An epoch's plots, cores and checkpoints as tables with ``x``, ``y`` (survey CRS)."""
    models: dict[str, list[str]] = {}
    tables = []
    for model in result.biomass.candidates:
        table = model.plots.table
        tables.append(table[["x", "y", "agb_mg_ha"]])
        for plot_id in table.index:
            models.setdefault(str(plot_id), []).append(model.name)
    points: dict[str, pd.DataFrame] = {}
    if tables:
        merged = pd.concat(tables)
        merged = merged[~merged.index.duplicated(keep="first")]
        merged.index = merged.index.astype(str)
        merged.index.name = "plot_id"
        merged["models"] = [", ".join(models[i]) for i in merged.index]
        points["plots"] = merged.reset_index()
    cores = result.core_stocks
    if len(cores):
        points["cores"] = cores.reset_index()
    check = result.cube.dtm_check
    if check is not None and len(check.points):
        points["checkpoints"] = check.points.reset_index(drop=True)
    return points


def _write_geopackage(
    ctx: RunContext, results: Sequence[EpochResults], path: Path
) -> dict[str, int]:
    """The GeoPackage of the run's boundary and points: table → number of features."""
    crs = ctx.grid.crs
    layers: dict[str, gpd.GeoDataFrame] = {
        "boundary": gpd.GeoDataFrame(
            {"name": [ctx.survey.survey.name]}, geometry=[ctx.boundary.to_crs(crs)], crs=crs
        )
    }
    for result in results:
        for kind, table in _epoch_points(result).items():
            frame = table.copy()
            for column in frame.columns:
                if frame[column].dtype == object:  # text, missing values kept as nulls
                    frame[column] = frame[column].astype("string")
            layers[f"{kind}_{result.epoch.name}"] = gpd.GeoDataFrame(
                frame, geometry=gpd.points_from_xy(frame["x"], frame["y"]), crs=crs
            )
    # gpkg_contents.last_change is the last epoch's date, not the time of writing, so the
    # same run writes the same bytes (GDAL's OGR_CURRENT_DATE, meant for reproducible files).
    stamp = f"{results[-1].epoch.date.isoformat()}T00:00:00.000Z" if results else None
    with atomic_path(path) as tmp, _gdal_option("OGR_CURRENT_DATE", stamp):
        for name, frame in layers.items():
            # GeoPackage 1.2: what the GDAL of QGIS 3.22 (Debian 12) reads without a warning.
            frame.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", VERSION="1.2")
    return {name: len(frame) for name, frame in layers.items()}


@contextlib.contextmanager
def _gdal_option(name: str, value: str | None) -> Iterator[None]:
    """pyogrio's GDAL config option ``name`` set to ``value`` inside the block, then restored."""
    import pyogrio

    before = pyogrio.get_gdal_config_option(name)
    pyogrio.set_gdal_config_options({name: value})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({name: before})


def ramp_limits(samples: Iterable[np.ndarray], *, diverging: bool) -> tuple[float, float]:
    """The colour ramp's range: the 2nd and 98th percentiles of the finite values of all samples.

    A diverging ramp is centred on 0 (± the larger of the two). A constant or
    empty layer gets a range of width 2 around its value (or [0, 1]); the limits are
    those the project writes (10 significant digits).

    Parameters
    ----------
    samples
        The map of each epoch (any shape; NaN and infinities are left out).
    diverging
        Centre the range on 0 (the removals).

    Returns
    -------
    (float, float)
        The ramp's minimum and maximum, minimum < maximum.

    Examples
    --------
    >>> ramp_limits([np.arange(101.0)], diverging=False)
    (2.0, 98.0)
    >>> ramp_limits([np.array([-1.0, 3.0, np.nan])], diverging=True)
    (-2.92, 2.92)
    """
    values = np.concatenate([np.ravel(s)[np.isfinite(np.ravel(s))] for s in samples] or [[]])
    if values.size == 0:
        return (0.0, 1.0)
    lo, hi = (float(v) for v in np.percentile(values, [2.0, 98.0]))
    if diverging:
        bound = max(abs(lo), abs(hi))
        lo, hi = -bound, bound
    lo, hi = float(f"{lo:.10g}"), float(f"{hi:.10g}")  # as the project writes them
    if not lo < hi:
        return (lo - 1.0, hi + 1.0)
    return (lo, hi)


def _decimated(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        step = max(1, int(np.ceil(max(src.width, src.height) / _STATS_SIDE)))
        shape = (max(1, src.height // step), max(1, src.width // step))
        data = src.read(1, out_shape=shape, resampling=Resampling.nearest, masked=True)
    return np.ma.filled(data.astype(np.float64), np.nan)


def _ramp(output_id: str, paths: Sequence[Path]) -> ColourRamp:
    output = OUTPUTS[output_id]
    assert output.style is not None and output.units is not None
    palette = output.style.palette
    lo, hi = ramp_limits((_decimated(p) for p in paths), diverging=palette == "RdBu")
    cmap = colormaps[palette]
    colours = tuple(to_hex(cmap(i / (_RAMP_STOPS - 1))) for i in range(_RAMP_STOPS))
    return ColourRamp(colours=colours, minimum=lo, maximum=hi, units=output.units)


def _inside(folder: OutputFolder, path: Path) -> str:
    """A path of the output folder as the project names it: ``./maps/agb_mg_ha_2020.tif``."""
    return f"./{path.relative_to(folder.root).as_posix()}"


def _layer_name(output_id: str, when: str) -> str:
    """A map's layer name in the active language: what it is, when, and its units."""
    output = OUTPUTS[output_id]
    title = gettext(output.long_name)
    name = title[:1].upper() + title[1:]
    if output.units in (None, "1"):
        return gettext("{name}, {when}").format(name=name, when=when)
    return gettext("{name}, {when} ({units})").format(name=name, when=when, units=output.units)


def write_gis_project(
    ctx: RunContext,
    results: Sequence[EpochResults],
    folder: OutputFolder,
    written: Iterable[Path],
) -> list[Path]:
    """Write ``carbonsink.gpkg`` and the QGIS project ``carbonsink.qgs`` of a run.

    Parameters
    ----------
    ctx
        The run.
    results
        Each epoch's stage results, earliest first.
    folder
        The run's output folder, where the maps are already written.
    written
        The files written so far: the maps among them become the project's
        raster layers (a map not written, such as an epoch without DOM, is
        left out).

    Returns
    -------
    list of Path
        The GeoPackage and the project.
    """
    with i18n.language(ctx.survey.survey.language):  # the layers' names
        return _write_gis_project(ctx, results, folder, written)


def _write_gis_project(
    ctx: RunContext,
    results: Sequence[EpochResults],
    folder: OutputFolder,
    written: Iterable[Path],
) -> list[Path]:
    from carbonsink.pipeline.class_styles import class_palette  # matplotlib: lazily

    present = {Path(p) for p in written}
    gpkg = folder.path("gis_vectors")
    features = _write_geopackage(ctx, results, gpkg)
    gpkg_path = f"./{gpkg.name}"
    # (output id, epoch) → the map written; a ramp's range is shared by the epochs.
    epoch_maps = {
        (output_id, r.epoch.name): written_map
        for output_id in EPOCH_MAPS
        for r in results
        if (written_map := folder.path(output_id, epoch=r.epoch.name)) in present
    }
    ramps = {
        output_id: _ramp(output_id, paths)
        for output_id in EPOCH_MAPS
        if not OUTPUTS[output_id].style.legend  # type: ignore[union-attr]
        and (paths := [p for (o, _), p in epoch_maps.items() if o == output_id])
    }
    last = results[-1].epoch.name
    groups: list[LayerGroup] = []
    change = [(o, folder.path(o)) for o in CHANGE_MAPS if folder.path(o) in present]
    if change:
        when = f"{results[0].epoch.name}–{last}"
        groups.append(
            LayerGroup(
                gettext("Change {when}").format(when=when),
                tuple(
                    RasterLayer(_inside(folder, p), _layer_name(o, when), _ramp(o, [p]))
                    for o, p in change
                ),
            )
        )
    for result in reversed(results):
        name = result.epoch.name
        layers: list[RasterLayer | VectorLayer] = []
        for kind, (label, colour, marker) in GIS_POINTS.items():
            table = f"{kind}_{name}"
            if table in features:
                layers.append(
                    VectorLayer(
                        gpkg_path,
                        table,
                        gettext("{layer}, {epoch} ({n})").format(
                            layer=gettext(label), epoch=name, n=features[table]
                        ),
                        "point",
                        colour,
                        marker,
                        visible=name == last,
                    )
                )
        ordered = [_OPEN_MAP, *(o for o in EPOCH_MAPS if o != _OPEN_MAP)]
        for output_id in ordered:
            map_path = epoch_maps.get((output_id, name))
            if map_path is None:
                continue
            style: ClassPalette | ColourRamp = (
                ramps[output_id]
                if output_id in ramps
                else class_palette(result.cube.cube[EPOCH_MAPS[output_id]])
            )
            layers.append(
                RasterLayer(
                    _inside(folder, map_path),
                    _layer_name(output_id, name),
                    style,
                    visible=name == last and output_id == _OPEN_MAP,
                )
            )
        groups.append(
            LayerGroup(
                gettext("Epoch {name}").format(name=name), tuple(layers), expanded=name == last
            )
        )
    boundary = VectorLayer(
        gpkg_path, "boundary", gettext("Project boundary"), "polygon", "#000000", visible=True
    )
    project = write_qgis_project(
        folder.path("gis_project"),
        QgisProject(
            title=ctx.survey.survey.name,
            crs=ctx.grid.crs,
            extent=ctx.grid.bounds,
            groups=tuple(groups),
            top=(boundary,),
        ),
    )
    return [gpkg, project]
