"""The preflight: check every input of a survey before any compute.

:func:`preflight` loads the survey file and then opens every input — the
boundary, each image, each LiDAR tile (header only), each table — and checks
that it exists, is readable, has a plausible CRS, overlaps the project
boundary, and (for tables) follows its schema and value ranges. It collects
*all* problems and returns them; nothing stops at the first one (the
``validate()`` pattern of natcap/invest). ``carbonsink validate`` prints them,
and ``carbonsink run`` refuses to start while any error remains.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from carbonsink.config import (
    Epoch,
    ImageryEntry,
    LidarEntry,
    Survey,
    TableEntry,
    WaterEvidenceEntry,
    load_survey,
)
from carbonsink.crs import crs_plausibility_problem, require_projected_crs
from carbonsink.errors import CarbonSinkError, Problem, Severity, SurveyFileError
from carbonsink.grid import Grid
from carbonsink.io.pointclouds import decode_points, read_lidar_info
from carbonsink.io.quality_bands import QA_DECODERS
from carbonsink.io.rasters import RasterInfo, check_raster_blocks, read_raster, read_raster_info
from carbonsink.io.scene_bands import BandSource, SensorProfile, locate_bands, scene_profile
from carbonsink.io.tables import read_table, table_crs, table_points
from carbonsink.io.vectors import Boundary, footprint_in, load_boundary, load_water_polygons
from carbonsink.schemas import TABLE_SCHEMAS, check_table, header_place, rows_text

__all__ = ["PreflightReport", "check_survey", "preflight"]

logger = logging.getLogger(__name__)

#: A grid larger than this is refused: it would not fit the per-epoch cube.
MAX_GRID_CELLS = 2_000_000_000

#: Most cells a scene's coverage and quality band are read on (a coarser grid beyond).
COVERAGE_CELLS = 4_000_000

Progress = Callable[[str], None]


@dataclass
class PreflightReport:
    """What the preflight found.

    Attributes
    ----------
    survey
        The parsed survey, or ``None`` when the survey file itself is invalid.
    problems
        Every problem found, errors and warnings, in the order checked.
    checked
        The input files that were opened.
    grid
        The analysis grid, when the boundary and CRS allowed building it.
    boundary
        The project boundary as read (once) from its file, when it could be read.
    """

    survey: Survey | None
    problems: list[Problem] = field(default_factory=list)
    checked: list[Path] = field(default_factory=list)
    grid: Grid | None = None
    boundary: Boundary | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """``True`` when there is no error (warnings allowed)."""
        return not self.errors


def preflight(
    path: str | PathLike[str], *, progress: Progress | None = None, quick: bool = False
) -> PreflightReport:
    """Load a survey file and check every input it names.

    Parameters
    ----------
    path
        The survey TOML file.
    progress
        Called with the name of each input as it is checked.
    quick
        Skip decoding every point of every LiDAR file (the headers are still
        checked); ``carbonsink run`` decodes them anyway.

    Returns
    -------
    PreflightReport
        All problems found; ``report.ok`` tells whether a run may start.
    """
    try:
        survey = load_survey(path)
    except SurveyFileError as exc:
        return PreflightReport(survey=None, problems=list(exc.problems))
    except CarbonSinkError as exc:
        return PreflightReport(survey=None, problems=[exc.problem])
    return check_survey(survey, progress=progress, quick=quick)


def check_survey(
    survey: Survey, *, progress: Progress | None = None, quick: bool = True
) -> PreflightReport:
    """Check every input of an already-loaded survey (see :func:`preflight`; quick by default)."""
    report = PreflightReport(survey=survey)
    checker = _Checker(survey, report, progress or (lambda _name: None), quick=quick)
    checker.run()
    return report


def _display(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


class _Checker:
    def __init__(
        self, survey: Survey, report: PreflightReport, progress: Progress, *, quick: bool
    ) -> None:
        self.survey = survey
        self.quick = quick
        self.report = report
        self.progress = progress
        self.root = survey.root
        self.source = str(survey.source) if survey.source else "survey"
        self.crs: CRS | None = None
        self.boundary: BaseGeometry | None = None
        self.class_names = set(survey.vegetation.classes)

    # ------------------------------------------------------------- helpers
    def name(self, path: Path) -> str:
        return _display(path, self.root)

    def add(self, problem: Problem) -> None:
        self.report.problems.append(problem)

    def error(
        self,
        message: str,
        *,
        path: Path | str | None,
        where: str | None = None,
        fix: str | None = None,
        severity: Severity = "error",
    ) -> None:
        shown = self.name(path) if isinstance(path, Path) else path
        self.add(Problem(message, path=shown, where=where, fix=fix, severity=severity))

    def warn(
        self,
        message: str,
        *,
        path: Path | str | None,
        where: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.error(message, path=path, where=where, fix=fix, severity="warning")

    def failed(self, exc: CarbonSinkError, path: Path) -> None:
        p = exc.problem
        shown = self.name(Path(p.path)) if p.path else self.name(path)
        self.add(Problem(p.message, path=shown, where=p.where, fix=p.fix))

    def exists(self, path: Path, entry: str) -> bool:
        if path.is_file():
            self.report.checked.append(path)
            return True
        hint = ""
        if path.parent.is_dir():
            siblings = sorted(p.name for p in path.parent.iterdir() if p.suffix == path.suffix)
            close = difflib.get_close_matches(path.name, siblings, n=1, cutoff=0.6)
            if close:
                hint = f' (did you mean "{close[0]}"?)'
        self.error(
            "file does not exist",
            path=path,
            where=entry,
            fix=f"correct the path in the survey file{hint}; relative paths are read from "
            f"{self.root}",
        )
        return False

    # --------------------------------------------------------------- checks
    def run(self) -> None:
        self.check_profile()
        self.check_boundary_and_crs()
        for index, epoch in enumerate(self.survey.epochs, start=1):
            self.check_epoch(index, epoch)

    def check_profile(self) -> None:
        """The methodology profile loads with the survey's overrides; default fluxes foreseen."""
        from carbonsink.accounting.parameters import survey_class_flux
        from carbonsink.accounting.profiles import load_profile

        section = self.survey.accounting
        try:
            profile = load_profile(
                section.profile,
                overrides=section.profile_overrides(),
                relative_to=self.survey.root,
            )
            for gas in ("CH4", "N2O"):
                defaults = {
                    name: survey_class_flux(name, settings, profile).resolve(gas, class_name=name)
                    for name, settings in self.survey.vegetation.classes.items()
                }
                used = [
                    f"{n} ({v:g})" for n, (v, src) in defaults.items() if src == "default factor"
                ]
                if used:
                    self.warn(
                        f"the {gas} flux of class(es) {', '.join(used)} mg {gas} m⁻² d⁻¹ will be "
                        f"the {profile.name} profile's default factor, with a 50 % SD, wherever "
                        "they are mapped (the run records this as the ledger warning default-flux)",
                        path=self.source,
                        where="[vegetation.classes]",
                        fix=f"set {gas.lower()}_flux_mg_m2_d per class from a flux measurement",
                    )
        except CarbonSinkError as exc:
            problem = exc.problem
            self.add(
                Problem(
                    problem.message,
                    path=problem.path or self.source,
                    where=problem.where or "[accounting].profile",
                    fix=problem.fix,
                    severity="error",
                )
            )

    def check_boundary_and_crs(self) -> None:
        section = self.survey.survey
        path = section.boundary
        self.progress(self.name(path))
        lonlat: tuple[float, float] | None = None
        boundary: Boundary | None = None
        if self.exists(path, "[survey].boundary"):
            try:
                boundary = load_boundary(path, crs=section.boundary_crs)
                for repair in boundary.repairs:
                    self.warn(repair, path=path, where="[survey].boundary")
                centre = boundary.to_crs("EPSG:4326").representative_point()
                lonlat = (centre.x, centre.y)
            except CarbonSinkError as exc:
                self.failed(exc, path)
                boundary = None
        try:
            self.crs = require_projected_crs(section.crs, lonlat_hint=lonlat)
        except CarbonSinkError as exc:
            self.error(
                exc.problem.message, path=self.source, where="[survey].crs", fix=exc.problem.fix
            )
            return
        if boundary is None:
            return
        try:
            self.boundary = boundary.to_crs(self.crs)
            grid = Grid.from_boundary(self.boundary, crs=self.crs, resolution=section.resolution)
        except CarbonSinkError as exc:
            self.failed(exc, path)
            return
        cells = grid.width * grid.height
        if cells > MAX_GRID_CELLS:
            self.error(
                f"the analysis grid would have {cells:,} cells ({grid.height:,} x {grid.width:,})",
                path=self.source,
                where="[survey].resolution",
                fix="use a coarser resolution or a smaller boundary",
            )
            return
        self.report.grid = grid
        self.report.boundary = boundary

    def check_epoch(self, index: int, epoch: Epoch) -> None:
        label = f"epochs[{index}] ({epoch.name})"
        clouded: list[bool] = []
        for i, image in enumerate(epoch.imagery, start=1):
            info = self.check_image(
                image.path, f"{label}.imagery[{i}]", image.crs, image.bands, image.mtl
            )
            verdict = self.check_bands(image, info) if info is not None else None
            if verdict is not None:
                clouded.append(verdict)
        if clouded and all(clouded) and len(clouded) == len(epoch.imagery) and self.exact:
            self.error(
                f"every scene of epoch {epoch.name!r} is wholly clouded (or shadow, snow, no "
                "data) over the project by its quality band: the composite would have no "
                "usable pixel",
                path=self.source,
                where=f"{label}.imagery",
                fix="add a scene with clear sky over the project",
            )
        if not epoch.imagery:
            self.warn(
                "no imagery: land cover and the wall-to-wall biomass map need it",
                path=self.source,
                where=f"{label}.imagery",
                fix="add the epoch's imagery = [{ path = ..., sensor = ... }]",
            )
        for i, entry in enumerate(epoch.lidar, start=1):
            self.check_lidar(entry, f"{label}.lidar[{i}]")
        for kind in ("plots", "soil", "landcover_samples", "checkpoints"):
            table: TableEntry | None = getattr(epoch, kind)
            if table is not None:
                self.check_table(table, kind, f"{label}.{kind}")
        evidence = epoch.water_evidence
        if evidence is not None and evidence.polygons is not None:
            self.check_water_polygons(evidence, f"{label}.water_evidence.polygons")

    def check_water_polygons(self, entry: WaterEvidenceEntry, where: str) -> None:
        """The water polygon file holds polygons with a CRS that meet the project."""
        assert entry.polygons is not None
        self.progress(self.name(entry.polygons))
        if self.exists(entry.polygons, where):
            try:
                polygons = load_water_polygons(entry.polygons, crs=entry.crs, layer=entry.layer)
                what, bounds = "water polygon file", polygons.geometry.bounds
                if not self.check_overlap(entry.polygons, polygons.crs, bounds, what=what):
                    return
                unchecked = self.boundary is None or self.crs is None
                if not unchecked and not polygons.to_crs(self.crs).intersects(self.boundary):
                    self.error(
                        f"no polygon of the {what} meets the project boundary (only their extent "
                        "does)",
                        path=entry.polygons,
                        fix="check that this is the epoch's water of this project, in its CRS",
                    )
            except CarbonSinkError as exc:
                self.failed(exc, entry.polygons)

    # imagery -----------------------------------------------------------------
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
        if not self.exists(path, where):
            return None
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

    def check_bands(self, image: ImageryEntry, info: RasterInfo) -> bool | None:
        """The sensor's bands are found in the scene; a missing quality band is foreseen.

        Returns whether the scene is wholly clouded over the project
        (:meth:`check_coverage`; ``None`` when that is not known).
        """
        try:
            profile = scene_profile(image.sensor, image.bands)
            _, qa = locate_bands(image.path, profile, image.bands, None, image.crs)
        except CarbonSinkError as exc:
            self.failed(exc, image.path)
            return None
        nodata = info.nodata if info.nodata is not None else profile.nodata_dn
        verdict = self.check_coverage(image.path, image.crs, nodata, profile, qa)
        if qa is None and profile.qa_band is not None:
            self.warn(
                f"no quality band ({profile.qa_band}) in the scene: its clouds, shadows and snow "
                "will not be masked (the run records this as the ledger warning clouds-unmasked)",
                path=image.path,
                fix=f"add the {profile.qa_band} band to the file (or its folder), or leave the "
                "scene out if it is cloudy",
            )
        return verdict

    # lidar -------------------------------------------------------------------
    def check_lidar(self, entry: LidarEntry, where: str) -> None:
        files = entry.files()
        if not files:
            self.error(
                f"no point-cloud file matches {self.name(entry.path)}",
                path=self.source,
                where=where,
                fix="correct the path or glob (e.g. lidar/2020/*.laz)",
            )
            return
        for path in files:
            self.progress(self.name(path))
            self.report.checked.append(path)
            try:
                info = read_lidar_info(path, crs=entry.crs)
            except CarbonSinkError as exc:
                self.failed(exc, path)
                continue
            if info.point_count == 0:
                self.error(
                    "the file holds no points",
                    path=path,
                    fix="remove it from the survey or re-export it",
                )
                continue
            if info.crs is None:
                self.error(
                    "the point cloud has no CRS (no WKT or GeoTIFF keys in its header)",
                    path=path,
                    fix=f'add crs = "EPSG:...." to {where} (e.g. "EPSG:4547" for CGCS2000 '
                    "3-degree Gauss-Kruger CM 114E)",
                )
                continue
            bounds = info.bounds[0], info.bounds[1], info.bounds[2], info.bounds[3]
            implausible = crs_plausibility_problem(info.crs, bounds)
            if implausible:
                self.error(
                    implausible,
                    path=path,
                    fix=f'set the true CRS with crs = "EPSG:...." on {where} in the survey file',
                )
                continue
            self.check_overlap(path, info.crs, bounds, what="point cloud")
            if not self.quick:
                self.progress(f"{self.name(path)} (decoding {info.point_count:,} points)")
                try:
                    decode_points(path)
                except CarbonSinkError as exc:
                    self.failed(exc, path)

    # tables ------------------------------------------------------------------
    def check_table(self, entry: TableEntry, kind: str, where: str) -> None:
        path = entry.path
        self.progress(self.name(path))
        if not self.exists(path, where):
            return
        try:
            frame = read_table(
                path,
                text_columns=TABLE_SCHEMAS[kind].text_columns(),
                kind=kind,
                **entry.read_options(),
            )
        except CarbonSinkError as exc:
            self.failed(exc, path)
            return
        known = self.class_names
        for problem in check_table(frame, kind, path=self.name(path), known_classes=known):
            self.add(problem)
        if kind == "landcover_samples":
            self.check_samples(frame, path)
        try:
            crs = table_crs(path, crs=entry.crs, layer=entry.layer)
        except CarbonSinkError as exc:
            self.failed(exc, path)
            return
        if self.crs is None:
            return
        try:
            x, y = table_points(frame, crs=crs, target_crs=self.crs, path=path)
        except CarbonSinkError as exc:
            self.failed(exc, path)
            return
        if self.boundary is None or len(x) == 0:
            return
        inside = shapely.contains_xy(self.boundary, x, y)
        lines = frame.index[~inside]
        if not inside.any():
            swapped = self.swapped_inside(frame, crs, path)
            if swapped:
                x_col, y_col = swapped
                self.error(
                    f"none of the {len(x)} points lies inside the project boundary, but with "
                    f"{x_col} and {y_col} swapped they do: the columns look swapped",
                    path=path,
                    where=f"{header_place(frame.attrs)} (header: {x_col}, {y_col})",
                    fix=f"swap the names of the {x_col} and {y_col} columns in the header "
                    f"({x_col} is the {'longitude' if crs.is_geographic else 'easting'})",
                )
                return
            self.error(
                f"none of the {len(x)} points lies inside the project boundary",
                path=path,
                fix=f"check the coordinates and the CRS ({crs.to_string()}) of {where}",
            )
        elif len(lines):
            self.warn(
                f"{len(lines)} of {len(x)} points lie outside the project boundary "
                "and will not be used",
                path=path,
                where=rows_text(frame.attrs, list(lines), most=8),
                fix="check their coordinates, or remove them",
            )

    def swapped_inside(self, frame: pd.DataFrame, crs: CRS, path: Path) -> tuple[str, str] | None:
        """The (x, y) column names when swapping them puts most points inside the boundary."""
        assert self.boundary is not None and self.crs is not None
        pairs = [("x", "y"), ("lon", "lat"), ("longitude", "latitude")]
        for x_col, y_col in pairs:
            if x_col in frame.columns and y_col in frame.columns:
                swapped = frame.rename(columns={x_col: y_col, y_col: x_col})
                try:
                    x, y = table_points(swapped, crs=crs, target_crs=self.crs, path=path)
                except CarbonSinkError:
                    return None
                inside = shapely.contains_xy(self.boundary, x, y)
                return (x_col, y_col) if inside.mean() > 0.5 else None
        return None

    def check_samples(self, frame: pd.DataFrame, path: Path) -> None:
        """Land-cover classes with fewer than 2 reference samples (accuracy and area need 2)."""
        if "class" not in frame.columns:
            return
        counts = frame["class"].astype("string").str.strip().value_counts()
        few = [
            f"{name} ({counts.get(name, 0)})"
            for name in self.survey.vegetation.classes
            if counts.get(name, 0) < 2
        ]
        if few:
            self.warn(
                f"land-cover class(es) with fewer than 2 reference samples: {', '.join(few)}; "
                "a class without one is mapped nowhere (0 ha), one with a single sample has no "
                "SE of its user's accuracy and a Jeffreys-prior area variance",
                path=path,
                fix="add reference samples of these classes (at least 2 each, better 20 or more), "
                "or remove classes that do not occur from [vegetation.classes]",
            )

    # overlap -----------------------------------------------------------------
    def check_overlap(
        self, path: Path, crs: CRS, bounds: tuple[float, float, float, float], *, what: str
    ) -> bool:
        """Whether the file's extent overlaps the boundary (an error when it does not)."""
        if self.boundary is None or self.crs is None:
            return True
        footprint = footprint_in(bounds, crs, self.crs)
        if footprint is None:
            self.error(
                f"the {what}'s extent cannot be transformed from its CRS ({crs.name}) to the "
                f"analysis CRS ({self.crs.name}): PROJ cannot do it",
                path=path,
                fix='check the file\'s CRS (give the right one with crs = "EPSG:....")',
            )
            return False
        if not footprint.intersects(self.boundary):
            bx = tuple(round(v) for v in self.boundary.bounds)
            fx = tuple(round(v) for v in footprint.bounds)
            self.error(
                f"the {what} does not overlap the project boundary (its extent {fx} vs the "
                f"boundary {bx} in {self.crs.to_string()})",
                path=path,
                fix="check that this is the right file and that its CRS is right",
            )
            return False
        return True
