"""The files of a run: cubes (NetCDF), maps (COG) and tables (CSV), named by :data:`OUTPUTS`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from carbonsink.grid import Grid
from carbonsink.io.writers import write_csv, write_layer_cogs, write_netcdf
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.outputs import OUTPUTS, OutputFolder
from carbonsink.pipeline.stages.epoch import EpochResults
from carbonsink.pipeline.stages.soil import write_core_stocks

__all__ = ["EPOCH_MAPS", "write_change_products", "write_epoch_products"]

#: Output id → cube variable of the maps written for every epoch (those whose
#: layer the epoch has: ``dom_mg_ha`` only where plots carry dead organic matter).
EPOCH_MAPS: Mapping[str, str] = {
    "map_landcover": "landcover",
    "map_agb": "agb_mg_ha",
    "map_agb_lower": "agb_lower_mg_ha",
    "map_agb_upper": "agb_upper_mg_ha",
    "map_dom": "dom_mg_ha",
    "map_carbon": "carbon_mg_ha",
    "map_soc": "soc_mg_ha",
    "map_soc_sd": "soc_sd_mg_ha",
}
#: Output id → change layer of the maps written for a change.
CHANGE_MAPS: Mapping[str, str] = {
    "map_removals": "removals_t_co2e_ha_yr",
    "map_removals_sd": "removals_sd_t_co2e_ha_yr",
}


def grid_cube(grid: Grid, dataset: xr.Dataset) -> xr.Dataset:
    """The dataset with the grid's CRS recorded the rioxarray/CF way.

    A shallow copy of ``dataset`` (its arrays shared, not copied: rioxarray's
    default copies were 2.3 GB of a 213 km² survey's cube), which is left as it is.
    """
    import rioxarray  # noqa: F401

    out = dataset.copy(deep=False)
    out.rio.write_crs(grid.crs, inplace=True)
    out.rio.write_transform(grid.transform, inplace=True)
    return out


def _maps(
    grid: Grid, layers: xr.Dataset, maps: Mapping[str, str], folder: OutputFolder, **fields: str
) -> list[Path]:
    """The maps' COGs; a class map also gets its colour table and its QGIS style."""
    from carbonsink.pipeline.class_styles import (  # matplotlib: lazily
        coloured,
        legend_attrs,
        write_categories,
        write_style,
    )

    arrays = []
    paths = []
    styles = []
    for output_id, var in maps.items():
        values = layers[var].values
        if values.dtype == np.bool_:
            values = values.astype(np.uint8)
        layer = grid.dataarray(
            values,
            name=var,
            units=layers[var].attrs.get("units", "1"),
            long_name=layers[var].attrs.get("long_name", var),
            attrs=legend_attrs(layers[var].attrs),
        )
        style = OUTPUTS[output_id].style
        if style is not None and style.legend:
            layer = coloured(layer)
            styles.append(
                (
                    layer,
                    folder.path(f"{output_id}_style", **fields),
                    folder.path(f"{output_id}_categories", **fields),
                )
            )
        arrays.append(layer)
        paths.append(folder.path(output_id, **fields))
    written = write_layer_cogs(arrays, paths)
    for layer, qml, categories in styles:
        written += [write_style(layer, qml), write_categories(layer, categories)]
    return written


def write_epoch_products(
    ctx: RunContext, result: EpochResults, carbon: xr.Dataset, folder: OutputFolder
) -> list[Path]:
    """An epoch's cube, maps and tables.

    Parameters
    ----------
    ctx
        The run.
    result
        The epoch's stage results.
    carbon
        Its per-pixel carbon layers (:func:`~.stages.report.epoch_carbon_layers`).
    folder
        The run's output folder.
    """
    name = result.epoch.name
    cube = xr.merge(
        [
            result.cube.cube.drop_vars(["spatial_ref"], errors="ignore"),
            result.biomass.layers,
            *[m.drop_vars(["spatial_ref"], errors="ignore") for m in result.soc_maps.values()],
            carbon,
        ],
        compat="override",
        combine_attrs="drop_conflicts",  # keep every layer's units and long_name
    )
    cube.attrs = {
        "title": f"carbonsink cube of epoch {name}",
        "epoch": name,
        "date": result.epoch.date.isoformat(),
        "Conventions": "CF-1.8",
    }
    written = [write_netcdf(grid_cube(ctx.grid, cube), folder.path("cube", epoch=name))]
    present = {output: var for output, var in EPOCH_MAPS.items() if var in cube}
    written += _maps(ctx.grid, cube, present, folder, epoch=name)
    for model in result.biomass.candidates:
        written.append(
            write_csv(
                model.cv.table,
                folder.path("table_biomass_cv", epoch=name, model=model.name),
                float_format="%.6g",
            )
        )
    landcover = result.cube.landcover
    written += [
        write_csv(
            landcover.areas.table,
            folder.path("table_landcover_areas", epoch=name),
            index=True,
            float_format="%.6g",
        ),
        write_csv(
            landcover.accuracy.confusion,
            folder.path("table_landcover_confusion", epoch=name),
            index=True,
        ),
        write_core_stocks(result.core_stocks, folder, epoch=name),
    ]
    if result.cube.dtm_check is not None:
        written.append(
            write_csv(
                result.cube.dtm_check.points,
                folder.path("table_dtm_checkpoints", epoch=name),
                float_format="%.4f",
            )
        )
    return written


def write_change_products(ctx: RunContext, change: xr.Dataset, folder: OutputFolder) -> list[Path]:
    """The change cube and its removal maps."""
    written = [write_netcdf(grid_cube(ctx.grid, change), folder.path("change"))]
    return written + _maps(ctx.grid, change, CHANGE_MAPS, folder)
