"""The preflight's checks of imagery: each scene readable, placed, banded and not all cloud."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np

from carbonsink.config import (
    ImageryEntry,
)
from carbonsink.crs import crs_plausibility_problem
from carbonsink.errors import CarbonSinkError
from carbonsink.grid import Grid
from carbonsink.io.products import ARCHIVE_SUFFIXES, Product
from carbonsink.io.quality_bands import QA_DECODERS
from carbonsink.io.rasters import RasterInfo, check_raster_blocks, read_raster, read_raster_info
from carbonsink.io.scene_bands import BandSource, SensorProfile, locate_bands, scene_profile
from carbonsink.io.stac import read_stac
from carbonsink.preflight.reporter import Reporter

#: Most cells a scene's coverage and quality band are read on (a coarser grid beyond).
COVERAGE_CELLS = 4_000_000


class ImageryChecks(Reporter):
    """Checks of the survey's images (:meth:`check_image`, :meth:`check_bands`)."""

    def check_scenes(self, image: ImageryEntry, where: str) -> list[bool | None]:
        """Each scene of an imagery entry — one, or one per item of a STAC file.

        Returns, per scene, whether it is wholly clouded over the project
        (``None``: not known, or the scene has a problem).
        """
        products: list[Product | None] = [None]
        if image.path.suffix.lower() == ".json":
            if not self.exists(image.path, where):
                return [None]
            try:
                products = list(read_stac(image.path))
            except CarbonSinkError as exc:
                self.failed(exc, image.path)
                return [None]
        verdicts: list[bool | None] = []
        for product in products:
            raster = self.scene_raster(image, where, product)
            info = (
                self.check_image(raster, where, image.crs, image.bands, image.mtl)
                if raster is not None
                else None
            )
            verdicts.append(self.check_bands(image, info, product) if info is not None else None)
        return verdicts

    def scene_raster(
        self, image: ImageryEntry, where: str, product: Product | None = None
    ) -> Path | None:
        """The raster that stands for a scene: its file, or a band file of its folder or product.

        A folder or glob of band files, a Sentinel-2 ``.SAFE`` (or its
        ``.zip``) and a Landsat Collection-2 Level-2 folder (or its ``.tar``)
        are opened as the run opens them
        (:func:`carbonsink.io.scene_bands.locate_bands`); the file of the
        first band found is checked for its CRS, place and blocks.
        """
        path = image.path
        if product is None and path.is_file() and path.suffix.lower() not in ARCHIVE_SUFFIXES:
            return path if self.exists(path, where) else None
        if not (path.exists() or glob.has_magic(str(path))):
            self.exists(path, where)  # the error, with the nearest file name
            return None
        try:
            profile = scene_profile(image.sensor, image.bands)
            sources, _ = locate_bands(path, profile, image.bands, None, image.crs, product)
        except CarbonSinkError as exc:
            self.failed(exc, path)
            return None
        if path not in self.report.checked:
            self.report.checked.append(path)
        return next(iter(sources.values())).file

    def check_image(
        self,
        path: Path,
        where: str,
        crs: str | None,
        bands: dict[str, int] | None,
        mtl: Path | None,
    ) -> RasterInfo | None:
        """The raster is readable, has a plausible CRS and complete bands; its header when so."""
        self.progress(self.name(path))
        if mtl is not None:
            self.exists(mtl, f"{where}.mtl")
        try:
            info = read_raster_info(path, crs=crs)
        except CarbonSinkError as exc:
            self.failed(exc, path)
            return None
        if info.crs is None:
            self.error(
                "the raster has no CRS",
                path=path,
                fix=f'add crs = "EPSG:...." to {where} in the survey file',
            )
            return None
        implausible = crs_plausibility_problem(info.crs, info.bounds)
        if implausible:
            self.error(
                implausible, path=path, fix=f'set the true CRS with crs = "EPSG:...." on {where}'
            )
            return None
        if bands:
            for name, band in bands.items():
                if band > info.count:
                    self.error(
                        f"band map names band {band} for {name!r}, but the file has "
                        f"{info.count} band(s)",
                        path=path,
                        where=f"band {band}",
                        fix=f"correct {where}.bands",
                    )
        try:
            check_raster_blocks(path)
        except CarbonSinkError as exc:
            self.failed(exc, path)
            return None
        return info if self.check_overlap(path, info.crs, info.bounds, what="raster") else None

    @property
    def exact(self) -> bool:
        """The scenes are checked on the analysis grid itself (not a coarser one)."""
        grid = self.report.grid
        return grid is not None and grid.width * grid.height <= COVERAGE_CELLS

    def check_coverage(
        self,
        path: Path,
        crs: str | None,
        nodata: float | None,
        profile: SensorProfile | None = None,
        qa: BandSource | None = None,
    ) -> bool | None:
        """Whether the scene is wholly clouded over the project (``None``: not known).

        Band 1 (and the quality band, when there is one) are read as the run
        reads them — nearest neighbour on the analysis grid, or on a coarser
        one for more than :data:`COVERAGE_CELLS` cells. A scene whose band 1
        is fill everywhere inside the boundary is an error; one whose quality
        band flags every valid pixel inside as unusable (cloud, shadow, snow,
        no data: :data:`~carbonsink.io.quality_bands.UNUSABLE_MASKS`) is
        foreseen as left out of the composite (ledger warning
        ``scene-dropped``).
        """
        grid = self.report.grid
        if grid is None or self.boundary is None:
            return None
        factor = max(1.0, float(np.ceil(np.sqrt(grid.width * grid.height / COVERAGE_CELLS))))
        look = (
            grid
            if factor == 1.0
            else Grid.from_bounds(grid.bounds, crs=grid.crs, resolution=grid.resolution * factor)
        )
        try:
            band = read_raster(path, look, bands=[1], resampling="nearest", crs=crs)
            quality = (
                read_raster(qa.file, look, bands=[qa.band], resampling="nearest", crs=crs)
                if qa is not None and profile is not None and profile.qa_decoder is not None
                else None
            )
        except CarbonSinkError as exc:
            self.failed(exc, path)
            return None
        values = np.asarray(band.values, dtype=np.float64)[0]
        valid = np.isfinite(values) & (values != nodata if nodata is not None else True)
        inside = look.boundary_mask(self.boundary, all_touched=True)
        if not (valid & inside).any():
            self.error(
                "the scene has no valid pixel over the project: band 1 is fill (no data) "
                "everywhere inside the boundary",
                path=path,
                where="band 1",
                fix="use a scene (or tile) that covers the project, or remove this one",
            )
            return None
        if quality is None or profile is None or profile.qa_decoder is None:
            return None
        try:
            unusable = QA_DECODERS[profile.qa_decoder](quality.isel(band=0, drop=True))["unusable"]
        except CarbonSinkError as exc:
            self.failed(exc, qa.file if qa is not None else path)
            return None
        usable = valid & inside & ~np.asarray(unusable.values, dtype=bool)
        if usable.any():
            return False
        how = "" if factor == 1.0 else f" (read {factor:g} × coarser than the analysis grid)"
        self.warn(
            f"the {profile.qa_band} band flags every pixel over the project as cloud, shadow, "
            f"snow or no data{how}: the run leaves the scene out of the composite (ledger "
            "warning scene-dropped)",
            path=qa.file if qa is not None else path,
            where=f"band {profile.qa_band}",
            fix="replace it with a clearer scene of the same season, or remove it",
        )
        return True

    def check_bands(
        self, image: ImageryEntry, info: RasterInfo, product: Product | None = None
    ) -> bool | None:
        """The sensor's bands are found in the scene; a missing quality band is foreseen.

        Returns whether the scene is wholly clouded over the project
        (:meth:`check_coverage`; ``None`` when that is not known).
        """
        try:
            profile = scene_profile(image.sensor, image.bands)
            _, qa = locate_bands(image.path, profile, image.bands, None, image.crs, product)
        except CarbonSinkError as exc:
            self.failed(exc, image.path)
            return None
        nodata = info.nodata if info.nodata is not None else profile.nodata_dn
        verdict = self.check_coverage(info.path, image.crs, nodata, profile, qa)
        if qa is None and profile.qa_band is not None:
            self.warn(
                f"no quality band ({profile.qa_band}) in the scene: its clouds, shadows and snow "
                "will not be masked (the run records this as the ledger warning clouds-unmasked)",
                path=image.path,
                fix=f"add the {profile.qa_band} band to the file (or its folder), or leave the "
                "scene out if it is cloudy",
            )
        return verdict
