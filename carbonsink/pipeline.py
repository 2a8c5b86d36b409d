"""Wiring of the stages for a survey (DESIGN.md §1): the grid, the LiDAR products, ...

Only this module and :mod:`carbonsink.cli` combine the survey file with the
stages; the stages themselves never parse the survey.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from carbonsink.config import Survey
from carbonsink.grid import Grid
from carbonsink.io.vectors import read_boundary
from carbonsink.io.writers import write_csv, write_netcdf
from carbonsink.lidar.processing import LidarResult

__all__ = ["local_executor", "survey_grid", "write_lidar_products"]

logger = logging.getLogger(__name__)


def survey_grid(survey: Survey) -> Grid:
    """The analysis grid of a survey: its boundary, in its CRS, at its resolution."""
    section = survey.survey
    boundary = read_boundary(section.boundary, target_crs=survey.crs, crs=section.boundary_crs)
    return Grid.from_boundary(boundary, crs=survey.crs, resolution=section.resolution)


@contextmanager
def local_executor(workers: int | None) -> Iterator[Executor | None]:
    """A process pool of ``workers`` processes (``None``/1: run serially)."""
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n <= 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=n) as pool:
        yield pool


def write_lidar_products(result: LidarResult, out_dir: Path, *, stem: str = "lidar") -> list[Path]:
    """Write the metrics cube (NetCDF) and the per-tile QA table (CSV)."""
    written = [
        write_netcdf(result.metrics, out_dir / f"{stem}_metrics.nc"),
        write_csv(result.qa, out_dir / f"{stem}_tiles_qa.csv", float_format="%.6g"),
    ]
    for path in (result.dtm_path, result.chm_path):
        if path is not None:
            written.append(path)
    return written
