"""Merging the tile results: each core placed into the grid-wide layers, without seams.

:class:`Merger` writes each tile's core into the grid-wide metric layers and
into the DTM and CHM — kept in memory, or written tile by tile to
Cloud-Optimized GeoTIFFs — and :meth:`Merger.finish` gives the
:class:`LidarResult`.
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr
from affine import Affine

from carbonsink.grid import Grid
from carbonsink.io.writers import WindowedCOGWriter
from carbonsink.lidar.metrics import metrics_for
from carbonsink.lidar.options import LidarOptions
from carbonsink.lidar.surfaces import PointSamples
from carbonsink.lidar.tile_chain import TileQA, TileResult

__all__ = ["LidarResult", "Merger"]

#: The surfaces' descriptions (GeoTIFF tag and band description).
LONG_NAMES = {
    "dtm": "terrain elevation (DTM)",
    "chm": "canopy height model (binned maximum height above ground)",
}


@dataclass
class LidarResult:
    """Outputs of :func:`~carbonsink.lidar.processing.process_lidar`.

    Attributes
    ----------
    metrics
        Area-based metrics on the analysis grid (units in attributes).
    dtm, chm
        Grid-wide terrain model and canopy height model at their own cell
        sizes, as DataArrays with the analysis CRS — or ``None`` when they
        were streamed to ``dtm_path``/``chm_path`` instead.
    qa
        One row per tile (points, ground and water fractions, DTM gaps, time).
    dtm_path, chm_path
        The Cloud-Optimized GeoTIFFs written, if any.
    water
        How water was told from land in the whole survey: ``detection``
        (``level and dark, or sparse``; ``sparse only (no intensities)``;
        ``class 9 only``), ``land_density_m2`` and ``land_intensity`` (the
        survey-wide references of docs/methodology.md §8.1; null without).
    dtm_at
        The DTM bilinear at the points the chain was asked to sample it at
        (:class:`~carbonsink.lidar.surfaces.PointSamples`; NaN off it), or
        ``None``.
    """

    metrics: xr.Dataset
    dtm: xr.DataArray | None
    chm: xr.DataArray | None
    qa: pd.DataFrame
    dtm_path: Path | None = None
    chm_path: Path | None = None
    water: dict[str, Any] = field(default_factory=dict)
    dtm_at: npt.NDArray[np.float64] | None = None


class Merger:
    """Places tile cores into the grid-wide outputs as tile results arrive.

    Parameters
    ----------
    grid
        The analysis grid.
    options
        Chain settings (the DTM and CHM cell sizes, the metrics).
    dtm_path, chm_path
        Write the DTM / CHM tile by tile to these Cloud-Optimized GeoTIFFs
        instead of keeping them in memory.
    keep
        The surfaces (``"dtm"``, ``"chm"``) held in memory when not written to
        a file; the others are not kept at all (a 0.5 m CHM of 60 km² is
        almost 1 GB).
    dtm_at
        Points ``(x, y)`` (the grid's CRS) at which the DTM is sampled as its
        tiles arrive, kept or not (:attr:`LidarResult.dtm_at`).
    """

    def __init__(
        self,
        grid: Grid,
        options: LidarOptions,
        *,
        dtm_path: str | Path | None,
        chm_path: str | Path | None,
        keep: Collection[str] = ("dtm", "chm"),
        dtm_at: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
    ) -> None:
        self.grid = grid
        self.options = options
        self.layers: dict[str, npt.NDArray[np.float32]] = {}
        self.qa: list[TileQA] = []
        self.f_dtm = round(grid.resolution / options.dtm_cell)
        self.f_chm = round(grid.resolution / options.chm_cell)
        self.surfaces: dict[str, npt.NDArray[np.float32] | WindowedCOGWriter | None] = {}
        t = grid.transform
        self.dtm_samples = (
            None
            if dtm_at is None
            else PointSamples(
                *dtm_at,
                x0=t.c,
                y1=t.f,
                cell=options.dtm_cell,
                shape=(grid.height * self.f_dtm, grid.width * self.f_dtm),
            )
        )
        for name, path, factor in (("dtm", dtm_path, self.f_dtm), ("chm", chm_path, self.f_chm)):
            shape = (grid.height * factor, grid.width * factor)
            if path is None and name not in keep:
                self.surfaces[name] = None
            elif path is None:
                self.surfaces[name] = np.full(shape, np.nan, dtype=np.float32)
            else:
                cell = grid.resolution / factor
                t = grid.transform
                self.surfaces[name] = WindowedCOGWriter(
                    path,
                    width=shape[1],
                    height=shape[0],
                    transform=Affine(cell, 0.0, t.c, 0.0, -cell, t.f),
                    crs=grid.crs.to_wkt(),
                    tags={"units": "m", "long_name": LONG_NAMES[name]},
                )

    @property
    def needs(self) -> frozenset[str]:
        """The surfaces whose tile blocks this merger uses (kept, written or sampled)."""
        used = {name for name, surface in self.surfaces.items() if surface is not None}
        return frozenset(used | ({"dtm"} if self.dtm_samples is not None else set()))

    def add(self, result: TileResult) -> None:
        """Place a tile's core results into the grid-wide layers and surfaces."""
        rs, cs = result.tile.core_slices
        for name, layer in result.metrics.items():
            target = self.layers.setdefault(name, np.full(self.grid.shape, np.nan, np.float32))
            target[rs, cs] = layer
        if self.dtm_samples is not None:
            assert result.dtm is not None  # the plan asks for the DTM it samples
            self.dtm_samples.take(
                result.dtm, row_off=rs.start * self.f_dtm, col_off=cs.start * self.f_dtm
            )
        for name, block, factor in (
            ("dtm", result.dtm, self.f_dtm),
            ("chm", result.chm, self.f_chm),
        ):
            surface = self.surfaces[name]
            if surface is None:
                continue
            assert block is not None  # the plan asks for the surfaces kept or written
            if isinstance(surface, WindowedCOGWriter):
                surface.write(block, row_off=rs.start * factor, col_off=cs.start * factor)
            else:
                surface[
                    rs.start * factor : rs.stop * factor, cs.start * factor : cs.stop * factor
                ] = block
        self.qa.append(result.qa)

    def abort(self) -> None:
        """Discard the GeoTIFFs being written (after a failure)."""
        for surface in self.surfaces.values():
            if isinstance(surface, WindowedCOGWriter):
                surface.abort()

    def _metrics(self) -> tuple[xr.Dataset, pd.DataFrame]:
        """The metric layers as a dataset on the grid, and the tiles' QA table."""
        grid = self.grid
        if "lidar_coverage" in self.layers:
            self.layers["lidar_coverage"] = np.nan_to_num(self.layers["lidar_coverage"], nan=0.0)
        ds = grid.dataset(attrs={"title": "LiDAR area-based metrics"})
        registry = metrics_for(self.options.metrics)
        for name, values in self.layers.items():
            metric = registry[name]
            ds[name] = grid.dataarray(
                values, name=name, units=metric.units, long_name=metric.long_name
            )
        qa = pd.DataFrame([q.__dict__ for q in sorted(self.qa, key=lambda q: q.tile)])
        return ds, qa

    def finish(self) -> LidarResult:
        """The merged result; the GeoTIFFs being written are closed."""
        # The COG conversions run side by side and beside the metrics' dataset:
        # GDAL builds one file's overviews (on one core) while it compresses the
        # other's blocks, and releases the GIL throughout.
        writers = {k: v for k, v in self.surfaces.items() if isinstance(v, WindowedCOGWriter)}
        with ThreadPoolExecutor(max(len(writers), 1)) as pool:
            closing = {name: pool.submit(writer.close) for name, writer in writers.items()}
            ds, qa = self._metrics()
            paths = {
                name: closing[name].result() if name in closing else None for name in LONG_NAMES
            }
        out = {
            name: None
            if not isinstance(surface, np.ndarray)
            else _fine_layer(self.grid, surface, cell, name, "m", LONG_NAMES[name])
            for name, surface, cell in (
                ("dtm", self.surfaces["dtm"], self.options.dtm_cell),
                ("chm", self.surfaces["chm"], self.options.chm_cell),
            )
        }
        return LidarResult(
            metrics=ds,
            dtm=out["dtm"],
            chm=out["chm"],
            qa=qa,
            dtm_path=paths["dtm"],
            chm_path=paths["chm"],
            dtm_at=None if self.dtm_samples is None else self.dtm_samples.values(),
        )


def _fine_layer(
    grid: Grid, values: npt.NDArray[np.float32], cell: float, name: str, units: str, long_name: str
) -> xr.DataArray:
    from affine import Affine

    t = grid.transform
    fine = Grid(
        crs=grid.crs,
        transform=Affine(cell, 0.0, t.c, 0.0, -cell, t.f),
        width=values.shape[1],
        height=values.shape[0],
    )
    return fine.dataarray(values, name=name, units=units, long_name=long_name)
