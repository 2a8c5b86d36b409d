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

import logging
from os import PathLike

from carbonsink.config import (
    Epoch,
    LidarEntry,
    Survey,
    TableEntry,
    WaterEvidenceEntry,
    load_survey,
)
from carbonsink.crs import crs_plausibility_problem, require_projected_crs
from carbonsink.errors import CarbonSinkError, Problem, SurveyFileError
from carbonsink.grid import Grid
from carbonsink.io.pointclouds import decode_points, read_lidar_info
from carbonsink.io.vectors import Boundary, load_boundary, load_water_polygons
from carbonsink.preflight.imagery import COVERAGE_CELLS, ImageryChecks
from carbonsink.preflight.reporter import PreflightReport, Progress
from carbonsink.preflight.tables import TableChecks

__all__ = ["COVERAGE_CELLS", "PreflightReport", "check_survey", "preflight"]

logger = logging.getLogger(__name__)

#: A grid larger than this is refused: it would not fit the per-epoch cube.
MAX_GRID_CELLS = 2_000_000_000


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


class _Checker(ImageryChecks, TableChecks):
    """Every check of a survey, in order: profile, boundary and CRS, then each epoch's inputs."""

    def run(self) -> None:
        self.check_profile()
        self.check_boundary_and_crs()
        for index, epoch in enumerate(self.survey.epochs, start=1):
            self.check_epoch(index, epoch)
        if self.survey.soil.method_pairs is not None:
            self.check_method_pairs(self.survey.soil.method_pairs, "[soil].method_pairs")

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
                    self.warn(str(repair), path=path, where="[survey].boundary")
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
        clouded: list[bool | None] = []
        for i, image in enumerate(epoch.imagery, start=1):
            clouded += self.check_scenes(image, f"{label}.imagery[{i}]")
        if clouded and all(clouded) and self.exact:
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
