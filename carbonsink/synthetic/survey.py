"""Write a complete synthetic survey: inputs, ``survey.toml``, README and truth.

:func:`generate_survey` is what ``carbonsink sample-data`` calls. The output
is deterministic: the same seed, scale and options give byte-identical files
(no timestamps anywhere; every random draw comes from a named stream of the
seed). A third epoch (``epochs=3``) draws only from streams of its own, so the
files of the first two epochs are those of the two-epoch survey; a sampling
design (``design=``, :mod:`~carbonsink.synthetic.design_points`) changes only
the third epoch's soil and plot tables (and says so in the README).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from carbonsink.config import DEFAULT_CLASSES
from carbonsink.errors import ConfigError
from carbonsink.io.writers import atomic_path, write_csv, write_json
from carbonsink.synthetic.design_points import (
    DesignPoints,
    check_design_option,
    design_note,
    design_plots,
    design_soil_cores,
    placed_design,
    read_design,
)
from carbonsink.synthetic.fieldwork import (
    CHECKPOINTS_CRS,
    PLOTS_CRS,
    SAMPLES_CRS,
    SOIL_CRS,
    checkpoints,
    landcover_samples,
    plots,
    soil_cores,
)
from carbonsink.synthetic.imagery import write_scene
from carbonsink.synthetic.landscape import ANALYSIS_CRS, RESOLUTION_M, Landscape, build_landscape
from carbonsink.synthetic.lidar import LIDAR_CRS, write_lidar
from carbonsink.synthetic.method_pairs import METHOD_PAIRS_FILE, pairs_note
from carbonsink.synthetic.method_pairs import method_pairs as method_pairs_table
from carbonsink.synthetic.parameters import CLASSES, SCALES, Scale, epoch_specs
from carbonsink.synthetic.readme import readme_text
from carbonsink.synthetic.sediment import (
    LAB_METHOD_BIAS_SD,
    SEDIMENT_OC_MEAN_PCT,
    SEDIMENT_OC_SD_PCT,
)
from carbonsink.synthetic.truth import write_truth

__all__ = ["DEFAULT_SEED", "SurveySummary", "generate_survey", "survey_toml"]

logger = logging.getLogger(__name__)

#: The seed of the committed sample survey.
DEFAULT_SEED: Final = 20240830
SURVEY_NAME: Final = "Junshan wetland demonstration (synthetic)"
#: ``vertical_datum`` of the checkpoints: their heights are the point clouds' own.
CHECKPOINTS_VERTICAL_DATUM: Final = "the point clouds' (synthetic heights)"

ProgressCallback = Callable[[str, float], None]

# Share of the total run time of each stage, for progress reporting.
_STAGES: Final = {
    "landscape": (0.0, 0.10),
    "imagery": (0.10, 0.20),
    "lidar": (0.20, 0.85),
    "fieldwork": (0.85, 0.90),
    "truth": (0.90, 0.98),
    "survey": (0.98, 1.0),
}


@dataclass(frozen=True)
class SurveySummary:
    """What :func:`generate_survey` wrote.

    Parameters
    ----------
    out_dir
        The survey folder.
    survey_path
        ``out_dir / "survey.toml"``.
    seed, scale
        The arguments the survey was generated with.
    grid_shape
        ``(rows, cols)`` of the analysis grid.
    files
        ``(path relative to out_dir, size in bytes)`` of every file written, sorted.
    lidar_points
        ``(epoch, number of points)`` over the epoch's LAZ tiles.
    totals
        The content of ``truth/totals.json``.
    epochs
        The epochs' names, in time order.
    planted_loss
        Whether the loss between 2025 and 2028 was planted.
    design
        The design file the third epoch's cores and plots were taken at, if any.
    design_skipped
        The warnings of the design's points left out (in open water).
    """

    out_dir: Path
    survey_path: Path
    seed: int
    scale: Scale
    grid_shape: tuple[int, int]
    files: tuple[tuple[str, int], ...]
    lidar_points: tuple[tuple[str, int], ...]
    totals: dict[str, Any]
    epochs: tuple[str, ...] = ("2020", "2025")
    planted_loss: bool = False
    design: Path | None = None
    design_skipped: tuple[str, ...] = ()

    @property
    def total_bytes(self) -> int:
        """Size of all files written, in bytes."""
        return sum(size for _, size in self.files)


def generate_survey(
    out_dir: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    scale: Scale = "small",
    progress: ProgressCallback | None = None,
    draw_carbon_parameters: bool = False,
    epochs: int = 2,
    planted_loss: bool = False,
    design: str | Path | None = None,
    method_pairs: int = 0,
) -> SurveySummary:
    """Generate a synthetic Junshan-like survey with known truth.

    Parameters
    ----------
    out_dir
        Folder to write into (created if needed). Files of a previous run are
        overwritten; stale LiDAR tiles (``lidar/<epoch>/junshan_*.laz`` not
        written by this run) are removed so the survey's globs match only
        this run's tiles.
    seed
        Seed of every random stream; same seed and scale ⇒ byte-identical files.
    scale
        ``"small"`` (≈ 2 km × 1.5 km, the committed sample), ``"medium"``
        (≈ 4× the area), ``"large"`` (≈ 10 km × 6 km, ≥ 5 million LiDAR
        points per epoch) or ``"regional"`` (≈ 21 km × 14 km, a boundary of
        ≥ 200 km²).
    progress
        Called as ``progress(message, fraction_done)`` while the survey is written.
    draw_carbon_parameters
        Give the truth a carbon fraction, root:shoot ratios and CH4 fluxes
        drawn from the priors ``survey.toml`` states
        (:mod:`~carbonsink.synthetic.carbon_world`) instead of the stated
        values; the inputs and ``survey.toml`` are the same either way, only
        the truth differs. For coverage counts over seeds.
    epochs
        2 (2020 and 2025, the committed sample) or 3 (and 2028: every
        per-epoch file, ``survey.toml`` entry and truth file for it too, and
        ``periods`` in ``truth/totals.json``). The files of 2020 and 2025 are
        the same either way.
    planted_loss
        With ``epochs=3``: between 2025 and 2028 every poplar stand is
        clear-felled and the reed beds burn, so that the true carbon stock of
        that period falls (a reversal).
    design
        With ``epochs=3``: a design file (``design.gpkg`` of ``carbonsink
        design``: point layers ``cores`` and ``plots``, any CRS). The third
        epoch's soil cores are taken exactly at its ``cores`` points and its
        biomass plots at its ``plots`` points, measured as the generator's
        own (:mod:`~carbonsink.synthetic.design_points`); points in open
        water that epoch are skipped with a warning. Every other file — the
        truth, imagery, LiDAR, land-cover samples, checkpoints and the first
        two epochs' tables — is byte-identical to the survey without it.
    method_pairs
        Soil samples of the last epoch measured by both organic-carbon
        methods (:mod:`~carbonsink.synthetic.method_pairs`), written as
        ``method_pairs.csv`` and named in ``survey.toml``'s ``[soil]``;
        0 (the default): none. The other input files are the same either way.

    Returns
    -------
    SurveySummary
        Paths, file sizes, LiDAR point counts and the true totals.

    Raises
    ------
    ConfigError
        When ``scale`` is not one of the sizes, ``seed`` is negative,
        ``epochs`` is not 2 or 3, ``planted_loss`` or ``design`` is set
        with 2 epochs, or ``method_pairs`` is negative.
    InputError
        When the design file cannot be read, lacks a layer, or has a point
        outside the boundary (:func:`~carbonsink.synthetic.design_points.placed_design`).
        Every option and the design are checked before anything is written.

    Notes
    -----
    The generative model is described in the module docstrings of
    :mod:`carbonsink.synthetic.landscape`, :mod:`~carbonsink.synthetic.sediment`,
    :mod:`~carbonsink.synthetic.dead_matter`,
    :mod:`~carbonsink.synthetic.imagery`,
    :mod:`~carbonsink.synthetic.lidar`, :mod:`~carbonsink.synthetic.fieldwork`
    and :mod:`~carbonsink.synthetic.truth`, and in the README.md written into
    the survey.
    """
    if scale not in SCALES:
        raise ConfigError(
            f"scale {scale!r} is not a synthetic survey size",
            fix=f"use one of {', '.join(SCALES)}",
        )
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed {seed!r} is not a non-negative integer", fix="pass e.g. seed=1")
    epoch_specs(epochs, planted_loss=planted_loss)  # check the options before writing
    check_design_option(design, epochs)
    if isinstance(method_pairs, bool) or not isinstance(method_pairs, int) or method_pairs < 0:
        raise ConfigError(
            f"method_pairs {method_pairs!r} is not a number of samples",
            fix="pass a whole number ≥ 0 (0: no samples by both methods)",
        )
    points = None if design is None else read_design(design)
    spec = SCALES[scale]
    root = Path(out_dir)

    def report(stage: str, fraction: float, message: str) -> None:
        start, end = _STAGES[stage]
        logger.debug("%s (%.0f %%)", message, 100 * fraction)
        if progress is not None:
            progress(message, start + (end - start) * min(max(fraction, 0.0), 1.0))

    written: list[Path] = []
    report("landscape", 0.0, "building the true landscape")
    landscape = build_landscape(
        seed,
        spec,
        draw_carbon=draw_carbon_parameters,
        epochs=epochs,
        planted_loss=planted_loss,
    )
    if points is not None:
        points = placed_design(landscape, landscape.epochs[-1], points)
    report("landscape", 1.0, "landscape built")
    root.mkdir(parents=True, exist_ok=True)

    boundary = {
        "type": "FeatureCollection",
        "name": "junshan_boundary",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": SURVEY_NAME, "crs": "EPSG:4326"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[list(pt) for pt in landscape.boundary_lonlat.exterior.coords]],
                },
            }
        ],
    }
    written.append(write_json(boundary, root / "boundary.geojson"))

    n_scenes = 2 * len(landscape.epochs)
    for e_index, epoch in enumerate(landscape.epochs):
        for scene, date in enumerate(epoch.spec.image_dates):
            k = 2 * e_index + scene
            path = root / "imagery" / f"s2_{date.isoformat()}.tif"
            report("imagery", k / n_scenes, f"writing {path.name}")
            written.append(write_scene(landscape, epoch, scene=scene, path=path))

    lidar_points: list[tuple[str, int]] = []
    n_epochs = len(landscape.epochs)
    for e_index, epoch in enumerate(landscape.epochs):
        folder = root / "lidar" / epoch.spec.name

        def lidar_progress(f: float, e_index: int = e_index, name: str = epoch.spec.name) -> None:
            report("lidar", (e_index + f) / n_epochs, f"simulating LiDAR {name}")

        summary = write_lidar(
            landscape,
            epoch,
            out_dir=folder,
            pulse_density_m2=spec.pulse_density_m2,
            tiles=spec.lidar_tiles,
            progress=lidar_progress,
        )
        for stale in sorted(folder.glob("junshan_*.laz")):
            if stale not in summary.paths:
                stale.unlink()
        written.extend(summary.paths)
        lidar_points.append((epoch.spec.name, summary.point_count))

    report("fieldwork", 0.0, "sampling plots, cores, land-cover points and checkpoints")
    previous_sites = None
    for epoch in landscape.epochs:
        name = epoch.spec.name
        at: DesignPoints | None = points if epoch is landscape.epochs[-1] else None
        field_plots = plots(landscape, epoch) if at is None else design_plots(landscape, epoch, at)
        written.append(write_csv(field_plots, root / f"plots_{name}.csv"))
        cores = (
            soil_cores(landscape, epoch, revisit=previous_sites)
            if at is None
            else design_soil_cores(landscape, epoch, at)
        )
        previous_sites = cores.attrs.pop("sites")
        written.append(write_csv(cores, root / f"soil_{name}.csv"))
        written.append(
            write_csv(landcover_samples(landscape, epoch), root / f"landcover_{name}.csv")
        )
        written.append(write_csv(checkpoints(landscape, epoch), root / f"checkpoints_{name}.csv"))

    if method_pairs:
        written.append(
            write_csv(method_pairs_table(landscape, method_pairs), root / METHOD_PAIRS_FILE)
        )

    report("truth", 0.0, "writing the truth")
    truth_paths, totals = write_truth(landscape, root / "truth")
    written.extend(truth_paths)

    report("survey", 0.0, "writing survey.toml and README.md")
    survey_path = root / "survey.toml"
    with atomic_path(survey_path) as tmp:
        tmp.write_text(survey_toml(landscape, method_pairs=method_pairs > 0), encoding="utf-8")
    written.append(survey_path)
    readme = root / "README.md"
    with atomic_path(readme) as tmp:
        tmp.write_text(
            readme_text(
                landscape,
                scale=scale,
                totals=totals,
                design_note=design_note(points, landscape.epochs[-1].spec.name)
                + pairs_note(method_pairs, landscape.epochs[-1].spec.name),
            ),
            encoding="utf-8",
        )
    written.append(readme)
    report("survey", 1.0, "survey written")

    files = tuple(sorted((p.relative_to(root).as_posix(), p.stat().st_size) for p in written))
    return SurveySummary(
        out_dir=root,
        survey_path=survey_path,
        seed=seed,
        scale=scale,
        grid_shape=landscape.grid.shape,
        files=files,
        lidar_points=tuple(lidar_points),
        totals=totals,
        epochs=tuple(e.spec.name for e in landscape.epochs),
        planted_loss=landscape.planted_loss,
        design=None if points is None else points.path,
        design_skipped=() if points is None else points.skipped,
    )


def survey_toml(landscape: Landscape, *, method_pairs: bool = False) -> str:
    """The ``survey.toml`` of a synthetic survey (relative paths).

    Parameters
    ----------
    landscape
        The truth the survey was generated from (for the seed and epochs).
    method_pairs
        Name the samples by both methods (``[soil] method_pairs``).

    Returns
    -------
    str
        TOML text: ``[survey]``, an ``[[epochs]]`` per epoch, ``[vegetation.classes.*]``
        with the truth's carbon fraction, root:shoot and CH4 flux, and ``[soil]``
        (the later lab's method-bias SD and the sediment OC prior of the
        synthetic world, :mod:`~carbonsink.synthetic.sediment`).
    """
    names = [e.spec.name for e in landscape.epochs]
    labs = " and ".join(landscape.soil_world.biased_epochs(names))
    lines = [
        "# Synthetic Junshan-like survey written by carbonsink.synthetic; see README.md.",
        "# The truth/ folder is the known answer, not an input.",
        "[survey]",
        f'name = "{SURVEY_NAME}"',
        f'crs = "{ANALYSIS_CRS}"',
        f"resolution = {RESOLUTION_M!r}",
        'boundary = "boundary.geojson"',
        f"seed = {landscape.seed}",
    ]
    for epoch in landscape.epochs:
        name = epoch.spec.name
        lidar_crs = f', crs = "{LIDAR_CRS}"' if name == "2020" else ""
        lines += [
            "",
            "[[epochs]]",
            f'name = "{name}"',
            f'date = "{epoch.spec.date.isoformat()}"',
            "imagery = [",
        ]
        for date in epoch.spec.image_dates:
            d = date.isoformat()
            lines.append(
                f'  {{ path = "imagery/s2_{d}.tif", sensor = "sentinel-2-l2a", date = "{d}" }},'
            )
        lines += [
            "]",
            f'lidar = [{{ path = "lidar/{name}/*.laz"{lidar_crs} }}]',
            f'plots = {{ path = "plots_{name}.csv", crs = "{PLOTS_CRS}" }}',
            f'soil = {{ path = "soil_{name}.csv", crs = "{SOIL_CRS}" }}',
            f'landcover_samples = {{ path = "landcover_{name}.csv", crs = "{SAMPLES_CRS}" }}',
            f'checkpoints = {{ path = "checkpoints_{name}.csv", crs = "{CHECKPOINTS_CRS}", '
            f'vertical_datum = "{CHECKPOINTS_VERTICAL_DATUM}" }}',
        ]
    for params in CLASSES:
        lines += [
            "",
            f"[vegetation.classes.{params.name}]",
            f"code = {params.code}",
            f"carbon_fraction = {params.carbon_fraction!r}",
            f"root_shoot = {params.root_shoot!r}",
        ]
        known = DEFAULT_CLASSES.get(params.name)
        if known is not None and known.root_shoot_range is not None:
            low, high = known.root_shoot_range
            lines.append(f"root_shoot_range = [{low!r}, {high!r}]  # docs/methodology.md §2")
        if known is not None and not known.herbaceous:
            lines.append("herbaceous = false")
        else:
            lines.append("peak_biomass_cv = 0.0  # the synthetic world's peaks do not vary by year")
        lines += [
            f"ch4_flux_mg_m2_d = {params.ch4_flux_mg_m2_d!r}",
            "n2o_flux_mg_m2_d = 0.0  # the synthetic world emits no N2O",
        ]
    lines += [
        "",
        "[soil]",
        "depths_cm = [30, 100]",
        'om_to_oc = "dichromate"',
        f"method_bias_sd_pct = {100 * LAB_METHOD_BIAS_SD!r}  "
        f"# the synthetic {labs} lab's bias is drawn from N(0, {100 * LAB_METHOD_BIAS_SD:g} %)",
        f"sediment_oc_pct = {SEDIMENT_OC_MEAN_PCT!r}  # OC of the deposited sediment, from "
        f"sediment traps; the world's mean is drawn from N({SEDIMENT_OC_MEAN_PCT:g}, "
        f"{SEDIMENT_OC_SD_PCT:g}²)",
        f"sediment_oc_sd_pct = {SEDIMENT_OC_SD_PCT!r}",
        *(
            [f'method_pairs = {{ path = "{METHOD_PAIRS_FILE}" }}  # samples by CHN and dichromate']
            if method_pairs
            else []
        ),
        "",
    ]
    return "\n".join(lines)
