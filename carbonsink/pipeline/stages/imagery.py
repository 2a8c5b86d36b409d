"""Imagery stage: an epoch's scenes → median composite → land cover (docs/methodology.md §7).

Survey sections become keyword options of :mod:`carbonsink.imagery` calls;
the grid, inside mask and seed come from the :class:`RunContext`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import xarray as xr

from carbonsink.config import Epoch
from carbonsink.errors import ConfigError
from carbonsink.io.files import file_name_slug
from carbonsink.io.writers import write_csv, write_json, write_layer_cog, write_layer_cogs
from carbonsink.pipeline.context import ProgressCallback, RunContext
from carbonsink.pipeline.outputs import OutputFolder
from carbonsink.schemas import rows_text

if TYPE_CHECKING:
    from carbonsink.imagery.landcover import LandCover
    from carbonsink.imagery.scenes import Scene

__all__ = [
    "epoch_composite",
    "epoch_landcover",
    "epoch_scenes",
    "write_index_layers",
    "write_landcover_products",
]


def epoch_scenes(
    ctx: RunContext,
    epoch: Epoch,
    *,
    chunks: int | None = None,
    bands: Sequence[str] | None = None,
) -> list[Scene]:
    """Every scene of an epoch read onto the grid (:func:`~carbonsink.imagery.read_scenes`).

    An entry naming a STAC ItemCollection or catalog gives one scene per item.
    """
    from carbonsink.imagery.scenes import read_scenes

    if not epoch.imagery:
        raise ConfigError(
            f"epoch {epoch.name!r} lists no imagery",
            fix='add imagery = [{ path = "...", sensor = "sentinel-2-l2a" }] to the epoch',
        )
    return [
        scene
        for entry in epoch.imagery
        for scene in read_scenes(
            entry.path,
            ctx.grid,
            sensor=entry.sensor,
            band_map=entry.bands,
            bands=bands,
            mtl=entry.mtl,
            crs=entry.crs,
            date=entry.date,
            chunks=chunks,
        )
    ]


def epoch_composite(ctx: RunContext, epoch: Epoch, *, chunks: int | None = None) -> xr.Dataset:
    """The epoch's median composite with its valid-observation count and water layer."""
    from carbonsink.imagery.composite import composite_scenes

    return composite_scenes(epoch_scenes(ctx, epoch, chunks=chunks), inside=ctx.inside)


def epoch_landcover(ctx: RunContext, epoch: Epoch, composite: xr.Dataset) -> LandCover:
    """Classify the epoch's composite with its land-cover samples (see ``classify_landcover``)."""
    from carbonsink.imagery.landcover import classify_landcover, landcover_features

    if epoch.landcover_samples is None:
        raise ConfigError(
            f"epoch {epoch.name!r} has no land-cover samples",
            fix='add landcover_samples = { path = "...csv", crs = "EPSG:..." } to the epoch',
        )
    samples = ctx.points(epoch.landcover_samples)
    classes = {name: c.code for name, c in ctx.survey.vegetation.classes.items()}
    return classify_landcover(
        landcover_features(composite["reflectance"]),
        samples["x"].to_numpy(),
        samples["y"].to_numpy(),
        samples["class"].astype(str).to_numpy(),
        classes=classes,
        cell_area_ha=ctx.cell_area_ha,
        inside=ctx.inside,
        sample_ids=[
            f"{epoch.landcover_samples.path.name} {rows_text(samples.attrs, [i])}"
            for i in samples.index
        ],
        seed=ctx.seed,
    )


def write_index_layers(
    composite: xr.Dataset,
    names: Sequence[str],
    folder: OutputFolder,
    *,
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Write spectral indices of a composite (and its observation count) as COGs."""
    from carbonsink.imagery.indices import compute_index

    layers = [compute_index(name, composite["reflectance"]) for name in names]
    paths = [folder.path("layer", layer=name) for name in names]
    layers.append(composite["valid_count"])
    paths.append(folder.path("valid_count"))

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress("indices", done, total)

    return write_layer_cogs(layers, paths, on_block=report)


def write_landcover_products(
    ctx: RunContext, result: LandCover, folder: OutputFolder
) -> list[Path]:
    """Class map, probabilities (COGs) and the accuracy, area, CV and sample tables."""
    from carbonsink.imagery.landcover import CLASS_FILL, probability_layer
    from carbonsink.pipeline.class_styles import (
        coloured,
        legend_attrs,
        write_categories,
        write_style,
    )

    grid = ctx.grid
    class_map = grid.dataarray(
        result.class_map.values,
        name="landcover",
        units="1",
        long_name="land-cover class",
        attrs=legend_attrs(result.class_map.attrs),
    )
    class_map = coloured(class_map)
    written = [
        write_layer_cog(class_map, folder.path("landcover"), nodata=CLASS_FILL),
        write_style(class_map, folder.path("landcover_style")),
        write_categories(class_map, folder.path("landcover_categories")),
    ]
    for name in result.probabilities["class"].values:
        layer = grid.dataarray(
            result.probabilities.sel({"class": name}).values,
            name=probability_layer(str(name)),
            units="1",
            long_name=f"probability of class {name}",
        )
        path = folder.path("landcover_probability", class_name=file_name_slug(str(name)))
        written.append(write_layer_cog(layer, path))
    written += [
        write_csv(
            result.accuracy.confusion,
            folder.path("table_landcover_epoch_confusion"),
            index=True,
        ),
        write_csv(
            result.areas.table,
            folder.path("table_landcover_epoch_areas"),
            index=True,
            float_format="%.6g",
        ),
        write_csv(result.cv, folder.path("table_landcover_cv"), float_format="%.6g"),
        write_csv(result.samples, folder.path("table_landcover_samples")),
        write_json(
            {"accuracy": result.accuracy.to_dict(), "areas": result.areas.to_dict()},
            folder.path("landcover_accuracy"),
        ),
    ]
    return written
