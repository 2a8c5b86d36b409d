"""Field data drawn from the truth: biomass clip plots, soil cores, land-cover samples.

* **Clip plots** (``plots_<epoch>.csv``, EPSG:4490 lon/lat). Stratified over
  the vegetated classes (mudflat 10 %, sedge 30 %, reed 22 %, miscanthus 22 %,
  poplar 16 % of the plots; never water), a third of each class inside the
  LiDAR block. Herbaceous and mudflat plots are 1 m² clip plots; poplar plots
  are 400 m² (20 m × 20 m) inventory plots whose biomass comes from tree
  allometry. ``agb_g_m2 = 100 × AGB_cell × exp(σ Z − σ²/2) × (1 + 0.03 Z')``
  with the within-cell heterogeneity ``σ = 0.3`` for a 1 m² clip (0.1 for a
  400 m² plot) and 3 % weighing error; the recorded position carries a 2 m
  (SD per axis) handheld-GNSS error. Plots lie at least 10 m inside the boundary.
  **Dead organic matter** (``agb_dead_g_m2``): on about one plot in three —
  ``max(5, round(n_c / 3))`` of the ``n_c`` plots of each class, all of them
  when the class has fewer, chosen from the stream
  ``"fieldwork.plots.dom.<epoch>"`` — litter and standing dead are collected
  in a sub-quadrat: ``agb_dead_g_m2 = 100 × DOM_cell × H × exp(σ_d Z − σ_d²/2)
  × (1 + 0.03 Z')`` with ``H`` the heterogeneity factor of the plot's own
  live clip (dead and live of one quadrat are correlated), ``σ_d = 0.2`` the
  sub-quadrat's own heterogeneity and 3 % weighing error. The other plots
  leave the column empty (not 0).
* **Soil cores** (``soil_<epoch>.csv``, EPSG:4326 lon/lat). Stratified over the
  non-water classes by area (at least 3 per class). Layers 0–10, 10–20, 20–30,
  30–50, 50–70 and 70–100 cm; 15 % of the cores stop at 50 or 70 cm. A core
  samples its cell's true profile times a micro-site factor (lognormal, SD of
  log 0.08 for OC and 0.04 for BD); each layer reports what a lab measures on
  the homogenised layer — mass-weighted OC and mean BD, so that ``OC × BD ×
  d`` is the true layer stock — times lab error (BD 5 %; CHN 3 %, dichromate
  6 %). 2020 reports ``soc_pct`` (method ``CHN``, unbiased); 2025 (and the
  optional 2028) reports ``om_g_kg`` (有机质, method ``dichromate``, ``OM = OC
  × 1.724`` exactly, in g/kg) of ``OC × (1 + b)``: the dichromate lab's
  relative method bias ``b``, common to every 2025 (and 2028) sample and drawn
  once per seed from N(0, 0.02²)
  (:class:`~carbonsink.synthetic.sediment.SoilWorld`), on top of the
  per-sample lab error. 2025 (and 2028) cores also record ``accretion_cm``, the
  sediment above a marker horizon laid at the 2020 survey: the true deposit
  ``d`` (since 2020) of the core's cell × ``(1 + 0.1 Z)``, at least 0, rounded
  to 0.1 cm (stream ``"fieldwork.soil.<epoch>.accretion"``; one value per
  core, repeated on its layers). 60 % of each later epoch's cores revisit the
  previous epoch's sites (within 2 m). Cores are taken only on land (never in
  a water cell of the true class map).
* **Land-cover samples** (``landcover_<epoch>.csv``, EPSG:32649 x/y). Random
  points inside the boundary, stratified by true class (proportional to area,
  at least 25 per class), labelled with the true class name of their cell.
* **Ground checkpoints** (``checkpoints_<epoch>.csv``, EPSG:32649 x/y/z). An
  RTK GNSS rover walks every land class: :data:`CHECKPOINTS_PER_CLASS` random
  points per class (never water) inside the boundary, each in a distinct cell
  of that true class, labelled with the class. ``z`` is the true ground the
  LiDAR returns come from — the epoch's elevation interpolated bilinearly at
  ``(x, y)`` on the landscape grid, exactly as
  :mod:`~carbonsink.synthetic.lidar` places its ground returns — plus RTK
  noise N(0, :data:`CHECKPOINT_RTK_SD_M`²). Every draw comes from the stream
  ``"fieldwork.checkpoints.<epoch>"``, so the other files are unchanged by them.

The field and lab model of a core and of a plot is :func:`measure_cores` and
:func:`measure_plots` (what :func:`soil_cores` and :func:`plots` do at the
sites they draw); :mod:`~carbonsink.synthetic.design_points` uses them to take
the third epoch's samples at the points of a sampling design instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Transformer

from carbonsink.synthetic.landscape import ANALYSIS_CRS, EpochTruth, Landscape
from carbonsink.synthetic.lidar import cell_position, ground_at
from carbonsink.synthetic.parameters import (
    CLASS_BY_CODE,
    CLASS_BY_NAME,
    CLASSES,
    DOM_MIN_PLOTS,
    DOM_PLOT_SHARE,
    DOM_SUBQUADRAT_LOG_SD,
)
from carbonsink.synthetic.random_fields import named_stream
from carbonsink.units import G_M2_PER_MG_HA

__all__ = [
    "ACCRETION_ERROR_SD",
    "CHECKPOINTS_CRS",
    "CHECKPOINTS_PER_CLASS",
    "CHECKPOINT_RTK_SD_M",
    "CORE_LAYERS_CM",
    "LAB_SD",
    "OM_TO_OC_DICHROMATE",
    "PLOTS_CRS",
    "SAMPLES_CRS",
    "SOIL_CRS",
    "checkpoints",
    "dead_matter_plot_count",
    "landcover_samples",
    "measure_cores",
    "measure_plots",
    "nominal_plot_counts",
    "plots",
    "soil_cores",
]

#: CRS of the plot table: CGCS2000 geographic (lon/lat).
PLOTS_CRS: Final = "EPSG:4490"
#: CRS of the soil table: WGS 84 geographic (lon/lat).
SOIL_CRS: Final = "EPSG:4326"
#: CRS of the land-cover samples: the analysis CRS.
SAMPLES_CRS: Final = ANALYSIS_CRS
#: Sampled soil layers (top, bottom) in cm.
CORE_LAYERS_CM: Final = ((0, 10), (10, 20), (20, 30), (30, 50), (50, 70), (70, 100))
#: The Chinese lab convention: organic matter (有机质) = organic carbon × 1.724.
OM_TO_OC_DICHROMATE: Final = 1.724
#: Relative SD of a lab's OC reading by method (per sample; the module docstring).
LAB_SD: Final = {"CHN": 0.03, "dichromate": 0.06}
#: Relative SD of the accretion measured above a marker horizon.
ACCRETION_ERROR_SD: Final = 0.1
#: CRS of the ground checkpoints: the analysis CRS (heights on the LiDAR's datum).
CHECKPOINTS_CRS: Final = ANALYSIS_CRS
#: RTK checkpoints surveyed per land class and epoch.
CHECKPOINTS_PER_CLASS: Final = 12
#: SD of an RTK GNSS height (m), the vertical precision of a fixed network-RTK
#: solution; the horizontal error (≈ 1 cm, ≪ the 10 m cells) is not simulated.
CHECKPOINT_RTK_SD_M: Final = 0.02

_PLOT_SHARES: Final = {
    "mudflat": 0.10,
    "sedge": 0.30,
    "reed": 0.22,
    "miscanthus": 0.22,
    "poplar": 0.16,
}
_GNSS_SD_M: Final = 2.0
#: Plots are laid out at least this far inside the boundary (5 GNSS SDs).
_PLOT_MARGIN_M: Final = 10.0


@dataclass(frozen=True)
class _Cells:
    rows: npt.NDArray[np.int64]  # analysis-grid rows
    cols: npt.NDArray[np.int64]
    x: npt.NDArray[np.float64]  # true position, EPSG:32649
    y: npt.NDArray[np.float64]


def _sample_points(
    landscape: Landscape,
    mask: npt.NDArray[np.bool_],
    n: int,
    rng: np.random.Generator,
    *,
    margin_m: float = 0.0,
) -> _Cells:
    """``n`` random points at least ``margin_m`` inside the boundary, in distinct ``mask`` cells."""
    grid = landscape.grid
    flat = np.flatnonzero(mask)
    if flat.size == 0 or n <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Cells(empty, empty, empty.astype(float), empty.astype(float))
    chosen = rng.choice(flat, size=min(flat.size, 2 * n), replace=False)
    rows, cols = np.divmod(chosen, grid.width)
    x = grid.transform.c + (cols + rng.uniform(0.1, 0.9, chosen.size)) * grid.resolution
    y = grid.transform.f - (rows + rng.uniform(0.1, 0.9, chosen.size)) * grid.resolution
    region = landscape.boundary.buffer(-margin_m) if margin_m > 0 else landscape.boundary
    keep = np.flatnonzero(shapely.contains_xy(region, x, y))[:n]
    return _Cells(rows[keep], cols[keep], x[keep], y[keep])


def _to_landscape(landscape: Landscape, cells: _Cells) -> tuple[npt.NDArray, npt.NDArray]:
    r, c, _, _ = landscape.window
    return cells.rows + r, cells.cols + c


def _lonlat(x: npt.NDArray, y: npt.NDArray, crs: str) -> tuple[npt.NDArray, npt.NDArray]:
    to_geo = Transformer.from_crs(ANALYSIS_CRS, crs, always_xy=True)
    lon, lat = to_geo.transform(x, y)
    return np.round(np.asarray(lon), 7), np.round(np.asarray(lat), 7)


def nominal_plot_counts(n_plots: int) -> dict[str, int]:
    """Plots per class of a survey of ``n_plots`` plots, when every class has cells enough.

    Parameters
    ----------
    n_plots
        Plots per epoch (:attr:`~carbonsink.synthetic.parameters.ScaleSpec.n_plots`).

    Returns
    -------
    dict
        ``round(share × n_plots)`` per vegetated class, in the sampling order.
    """
    return {name: round(share * n_plots) for name, share in _PLOT_SHARES.items()}


def dead_matter_plot_count(n_class: int) -> int:
    """How many of a class's ``n_class`` plots get a dead-matter sub-quadrat.

    Parameters
    ----------
    n_class
        Plots of the class in the epoch.

    Returns
    -------
    int
        ``min(n_class, max(DOM_MIN_PLOTS, round(DOM_PLOT_SHARE × n_class)))``.
    """
    return min(n_class, max(DOM_MIN_PLOTS, round(DOM_PLOT_SHARE * n_class)))


def _dead_matter(
    landscape: Landscape,
    stream: str,
    names: npt.NDArray[np.str_],
    dom_mg_ha: npt.NDArray[np.float64],
    heterogeneity: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Dead organic matter (g/m²) of the plots with a sub-quadrat, NaN on the others.

    Parameters
    ----------
    landscape
        The truth (for the seed).
    stream
        Name of the random stream: ``"fieldwork.plots.dom.<epoch>"`` for the
        generator's own plots.
    names
        Class of each plot.
    dom_mg_ha
        True DOM of each plot's cell, Mg DM/ha.
    heterogeneity
        The mean-one heterogeneity factor of each plot's live clip.

    Returns
    -------
    numpy.ndarray
        ``agb_dead_g_m2`` per plot, rounded to 0.1 g/m², NaN where not collected.

    Notes
    -----
    Every draw comes from the stream ``stream``, so the live plot table's own
    draws are exactly those of a survey without DOM.
    """
    rng = named_stream(landscape.seed, stream)
    dead = np.full(names.size, np.nan)
    sd = DOM_SUBQUADRAT_LOG_SD
    for name in _PLOT_SHARES:
        members = np.flatnonzero(names == name)
        n = dead_matter_plot_count(members.size)
        chosen = np.sort(rng.choice(members, size=n, replace=False))
        own = np.exp(sd * rng.standard_normal(n) - sd**2 / 2)
        weighing = 1.0 + 0.03 * rng.standard_normal(n)
        value = dom_mg_ha[chosen] * G_M2_PER_MG_HA * heterogeneity[chosen] * own * weighing
        dead[chosen] = np.round(np.maximum(value, 0.0), 1)
    return dead


def plots(landscape: Landscape, epoch: EpochTruth) -> pd.DataFrame:
    """The epoch's biomass plots.

    Parameters
    ----------
    landscape, epoch
        The truth to sample.

    Returns
    -------
    pandas.DataFrame
        ``plot_id, lon, lat, agb_g_m2, agb_dead_g_m2, size_m2, veg_class, date``,
        one row per plot, sorted by ``plot_id``; lon/lat in EPSG:4490;
        ``agb_dead_g_m2`` is NaN on the plots without a dead-matter sub-quadrat.
    """
    rng = named_stream(landscape.seed, f"fieldwork.plots.{epoch.spec.name}")
    inside = landscape.grid.boundary_mask(landscape.boundary)
    covered = landscape.grid.boundary_mask(epoch.lidar_block)
    classes = landscape.crop(epoch.class_code)
    n_total = landscape.scale.n_plots
    measured = _PlotRecords()
    for name, share in _PLOT_SHARES.items():
        code = CLASS_BY_NAME[name].code
        n = round(share * n_total)
        n_in = round(n / 3)
        stratum = inside & (classes == code)
        picked = [
            _sample_points(landscape, stratum & covered, n_in, rng, margin_m=_PLOT_MARGIN_M),
        ]
        n_out = n - picked[0].rows.size
        picked.append(
            _sample_points(landscape, stratum & ~covered, n_out, rng, margin_m=_PLOT_MARGIN_M)
        )
        for cells in picked:
            measured.add(landscape, epoch, cells, np.full(cells.x.size, name), rng)
    table = measured.table(landscape, epoch, dom_stream=f"fieldwork.plots.dom.{epoch.spec.name}")
    order = rng.permutation(len(table))
    table = table.iloc[order].reset_index(drop=True)
    table.insert(0, "plot_id", [f"P{epoch.spec.name}-{i + 1:03d}" for i in range(len(table))])
    return table


def measure_plots(
    landscape: Landscape,
    epoch: EpochTruth,
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    rng: np.random.Generator,
    *,
    dom_stream: str,
) -> pd.DataFrame:
    """Biomass plots laid out at ``(x, y)``, measured as :func:`plots` measures its own.

    Parameters
    ----------
    landscape, epoch
        The truth to sample.
    x, y
        The plots' true positions, EPSG:32649, on land (the class of each is
        the true class of its cell).
    rng
        The stream of the plots' heterogeneity, weighing, GNSS and day draws.
    dom_stream
        Name of the stream of the dead-matter sub-quadrats.

    Returns
    -------
    pandas.DataFrame
        As :func:`plots`, in the order of ``x``: plot ``i`` (from 0) is
        ``P<epoch>-<i + 1>`` (at least three digits); the recorded positions
        carry the handheld-GNSS error.
    """
    rows, cols = landscape.grid.index(x, y)
    cells = _Cells(
        np.asarray(rows, dtype=np.int64),
        np.asarray(cols, dtype=np.int64),
        np.asarray(x, dtype=np.float64),
        np.asarray(y, dtype=np.float64),
    )
    lr, lc = _to_landscape(landscape, cells)
    codes = epoch.class_code[lr, lc]
    names = np.array([CLASS_BY_CODE[int(c)].name for c in codes], dtype=np.str_)
    measured = _PlotRecords()
    measured.add(landscape, epoch, cells, names, rng)
    table = measured.table(landscape, epoch, dom_stream=dom_stream)
    table.insert(0, "plot_id", [f"P{epoch.spec.name}-{i + 1:03d}" for i in range(len(table))])
    return table


class _PlotRecords:
    """The measured plots of an epoch, batch by batch (the plot model of :func:`plots`)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []
        # Per row: class, true DOM of the cell and the live clip's heterogeneity.
        self.dom_inputs: list[tuple[str, float, float]] = []

    def add(
        self,
        landscape: Landscape,
        epoch: EpochTruth,
        cells: _Cells,
        names: npt.NDArray[np.str_],
        rng: np.random.Generator,
    ) -> None:
        """Measure a clip plot (a poplar inventory plot) at each true position of ``cells``.

        ``names`` is the class of each plot. Draws, in order: the within-cell
        heterogeneity, the weighing error, the GNSS error (x, then y) and the
        day of the visit, ``cells.x.size`` each.
        """
        lr, lc = _to_landscape(landscape, cells)
        agb = epoch.agb_mg_ha[lr, lc]
        poplar = names == "poplar"
        size = np.where(poplar, 400.0, 1.0)
        sd = np.where(poplar, 0.1, 0.3)
        heterogeneity = np.exp(sd * rng.standard_normal(agb.size) - sd**2 / 2)
        weighing = 1.0 + 0.03 * rng.standard_normal(agb.size)
        agb_g_m2 = np.maximum(agb * G_M2_PER_MG_HA * heterogeneity * weighing, 0.0)
        gx = cells.x + rng.normal(0.0, _GNSS_SD_M, agb.size)
        gy = cells.y + rng.normal(0.0, _GNSS_SD_M, agb.size)
        lon, lat = _lonlat(gx, gy, PLOTS_CRS)
        days = rng.integers(-3, 4, agb.size)
        dom = epoch.dom_mg_ha[lr, lc]
        for i in range(agb.size):
            self.dom_inputs.append((str(names[i]), float(dom[i]), float(heterogeneity[i])))
            self.rows.append(
                {
                    "lon": lon[i],
                    "lat": lat[i],
                    "agb_g_m2": round(float(agb_g_m2[i]), 1),
                    "agb_dead_g_m2": np.nan,
                    "size_m2": float(size[i]),
                    "veg_class": str(names[i]),
                    "date": (epoch.spec.date + dt.timedelta(days=int(days[i]))).isoformat(),
                }
            )

    def table(self, landscape: Landscape, epoch: EpochTruth, *, dom_stream: str) -> pd.DataFrame:
        """The plots measured so far, with their dead matter (stream ``dom_stream``)."""
        dead = _dead_matter(
            landscape,
            dom_stream,
            np.array([d[0] for d in self.dom_inputs], dtype=np.str_),
            np.array([d[1] for d in self.dom_inputs], dtype=np.float64),
            np.array([d[2] for d in self.dom_inputs], dtype=np.float64),
        )
        for row, value in zip(self.rows, dead, strict=True):
            row["agb_dead_g_m2"] = float(value)
        columns = ["lon", "lat", "agb_g_m2", "agb_dead_g_m2", "size_m2", "veg_class", "date"]
        return pd.DataFrame(self.rows, columns=columns)


def soil_cores(
    landscape: Landscape, epoch: EpochTruth, *, revisit: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The epoch's soil-core layers.

    Parameters
    ----------
    landscape, epoch
        The truth to sample.
    revisit
        The previous epoch's core sites (columns ``core_x``, ``core_y``), of
        which 60 % are sampled again.

    Returns
    -------
    pandas.DataFrame
        ``core_id, lon, lat, depth_top_cm, depth_bottom_cm, bulk_density_g_cm3``,
        then ``soc_pct`` (2020, CHN) or ``om_g_kg`` and ``accretion_cm`` (2025
        and 2028, dichromate), ``method`` and ``date``; the sites in EPSG:32649
        are in ``attrs["sites"]``.
    """
    rng = named_stream(landscape.seed, f"fieldwork.soil.{epoch.spec.name}")
    grid = landscape.grid
    inside = grid.boundary_mask(landscape.boundary)
    classes = landscape.crop(epoch.class_code)
    n_total = landscape.scale.n_cores
    xs: list[npt.NDArray[np.float64]] = []
    ys: list[npt.NDArray[np.float64]] = []
    if revisit is not None:
        n_back = round(0.6 * n_total)
        back = rng.choice(len(revisit), size=min(n_back, len(revisit)), replace=False)
        bx = revisit["core_x"].to_numpy()[np.sort(back)] + rng.normal(0.0, 1.0, back.size)
        by = revisit["core_y"].to_numpy()[np.sort(back)] + rng.normal(0.0, 1.0, back.size)
        ok = shapely.contains_xy(landscape.boundary, bx, by)
        row, col = grid.index(bx, by)
        ok &= classes[np.clip(row, 0, grid.height - 1), np.clip(col, 0, grid.width - 1)] != 1
        xs.append(bx[ok])
        ys.append(by[ok])
    n_new = n_total - sum(a.size for a in xs)
    land = [c for c in CLASSES if c.name != "water"]
    areas = np.array([(inside & (classes == c.code)).sum() for c in land], dtype=float)
    alloc = np.maximum(3, np.round(n_new * areas / areas.sum())).astype(int)
    alloc[areas == 0] = 0
    while alloc.sum() > n_new and alloc.max() > 3:
        alloc[np.argmax(alloc)] -= 1
    for c, n in zip(land, alloc, strict=True):
        cells = _sample_points(landscape, inside & (classes == c.code), int(n), rng)
        xs.append(cells.x)
        ys.append(cells.y)
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    order = rng.permutation(x.size)
    return measure_cores(
        landscape,
        epoch,
        x[order],
        y[order],
        rng,
        accretion_stream=f"fieldwork.soil.{epoch.spec.name}.accretion",
    )


def measure_cores(
    landscape: Landscape,
    epoch: EpochTruth,
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    rng: np.random.Generator,
    *,
    accretion_stream: str,
) -> pd.DataFrame:
    """The layers of soil cores taken at ``(x, y)``, as the epoch's lab reports them.

    The field and lab model of :func:`soil_cores` (the module docstring): the
    cell's true profile times a micro-site factor, 15 % of the cores stopping
    at 50 or 70 cm, lab errors and the epoch's lab-method bias, and on the
    later epochs the accretion above the marker horizon.

    Parameters
    ----------
    landscape, epoch
        The truth to sample.
    x, y
        The cores' true positions, EPSG:32649 (inside the analysis grid);
        they are also the recorded positions (to 1e-7°).
    rng
        The stream of the micro-site factors, depths and lab errors, drawn in
        that order.
    accretion_stream
        Name of the stream of the accretion's measurement error.

    Returns
    -------
    pandas.DataFrame
        As :func:`soil_cores`; core ``i`` (from 0) of ``x`` is ``C<epoch>-<i + 1>``
        (at least two digits).
    """
    grid = landscape.grid
    row, col = grid.index(x, y)
    lr, lc = row + landscape.window[0], col + landscape.window[1]
    cell_profile = epoch.soil.at(lr, lc)
    profile = cell_profile.scaled(
        oc_factor=np.exp(0.08 * rng.standard_normal(x.size)),
        bd_factor=np.exp(0.04 * rng.standard_normal(x.size)),
    )
    bottoms = np.full(x.size, 100)
    short = rng.random(x.size) < 0.15
    bottoms[short] = rng.choice([50, 70], size=int(short.sum()))
    modern = epoch.spec.name != "2020"
    lab_sd = LAB_SD["dichromate" if modern else "CHN"]
    world = landscape.soil_world
    names = [e.spec.name for e in landscape.epochs]
    biased = epoch.spec.name in world.biased_epochs(names)
    lab_factor = 1.0 + world.lab_method_bias if biased else 1.0
    accretion = None
    if epoch is not landscape.epochs[0]:
        deposit = np.broadcast_to(cell_profile.deposit_cm, x.size)
        error = named_stream(landscape.seed, accretion_stream)
        measured = deposit * (1.0 + ACCRETION_ERROR_SD * error.standard_normal(x.size))
        accretion = np.round(np.maximum(measured, 0.0), 1)
    lon, lat = _lonlat(x, y, SOIL_CRS)
    columns: dict[str, list[object]] = {
        k: []
        for k in ("core_id", "lon", "lat", "depth_top_cm", "depth_bottom_cm", "bulk_density_g_cm3")
    }
    value_name = "om_g_kg" if modern else "soc_pct"
    columns[value_name] = []
    if accretion is not None:
        columns["accretion_cm"] = []
    for top, bottom in CORE_LAYERS_CM:
        oc, bd = profile.layer_means(float(top), float(bottom))
        bd_lab = np.round(bd * (1.0 + 0.05 * rng.standard_normal(x.size)), 2)
        oc_lab = np.maximum(oc * (1.0 + lab_sd * rng.standard_normal(x.size)), 0.0) * lab_factor
        value = np.round(oc_lab * 10.0 * OM_TO_OC_DICHROMATE, 2) if modern else np.round(oc_lab, 2)
        for i in np.flatnonzero(bottoms >= bottom):
            columns["core_id"].append(f"C{epoch.spec.name}-{i + 1:02d}")
            columns["lon"].append(lon[i])
            columns["lat"].append(lat[i])
            columns["depth_top_cm"].append(top)
            columns["depth_bottom_cm"].append(bottom)
            columns["bulk_density_g_cm3"].append(float(bd_lab[i]))
            columns[value_name].append(float(value[i]))
            if accretion is not None:
                columns["accretion_cm"].append(float(accretion[i]))
    table = pd.DataFrame(columns)
    table["method"] = "dichromate" if modern else "CHN"
    table["date"] = epoch.spec.date.isoformat()
    table = table.sort_values(["core_id", "depth_top_cm"], kind="stable").reset_index(drop=True)
    table.attrs["sites"] = pd.DataFrame({"core_x": x, "core_y": y})
    return table


def landcover_samples(landscape: Landscape, epoch: EpochTruth) -> pd.DataFrame:
    """Reference land-cover samples ``x, y, class`` (EPSG:32649) from the true class map.

    Parameters
    ----------
    landscape, epoch
        The truth to sample.

    Returns
    -------
    pandas.DataFrame
        Points in random order, coordinates rounded to 1 cm.
    """
    rng = named_stream(landscape.seed, f"fieldwork.landcover.{epoch.spec.name}")
    inside = landscape.grid.boundary_mask(landscape.boundary)
    classes = landscape.crop(epoch.class_code)
    n_total = landscape.scale.n_samples
    areas = np.array([(inside & (classes == c.code)).sum() for c in CLASSES], dtype=float)
    alloc = np.maximum(25, np.round(n_total * areas / areas.sum())).astype(int)
    alloc[areas == 0] = 0
    while alloc.sum() > n_total and alloc.max() > 25:
        alloc[np.argmax(alloc)] -= 1
    frames = []
    for c, n in zip(CLASSES, alloc, strict=True):
        cells = _sample_points(landscape, inside & (classes == c.code), int(n), rng)
        frames.append(
            pd.DataFrame(
                {
                    "x": np.round(cells.x, 2),
                    "y": np.round(cells.y, 2),
                    "class": CLASS_BY_CODE[c.code].name,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    return table.iloc[rng.permutation(len(table))].reset_index(drop=True)


def checkpoints(landscape: Landscape, epoch: EpochTruth) -> pd.DataFrame:
    """The epoch's RTK ground checkpoints, for checking a LiDAR terrain model.

    Parameters
    ----------
    landscape, epoch
        The truth to sample.

    Returns
    -------
    pandas.DataFrame
        ``checkpoint_id, x, y, z, class``, one row per point in random order,
        ids ``CP<epoch>-001`` … in that order. ``x, y`` in
        :data:`CHECKPOINTS_CRS` (m, rounded to 1 mm); ``z`` (m, rounded to
        1 mm) the true ground at the point (bilinear in the epoch's
        elevation, the surface the synthetic LiDAR's ground returns lie on)
        plus N(0, :data:`CHECKPOINT_RTK_SD_M`²) RTK noise; ``class`` the true
        class of the point's cell.

    Notes
    -----
    :data:`CHECKPOINTS_PER_CLASS` points per land class (every class but
    water; fewer only where a class has fewer cells inside the boundary and
    the epoch's LiDAR block), each in a distinct cell of the class whose
    centre lies inside the boundary and the block, and the point itself
    inside the boundary. Every draw comes from the stream
    ``"fieldwork.checkpoints.<epoch>"``, so adding the checkpoints changes no
    other file of the survey.
    """
    rng = named_stream(landscape.seed, f"fieldwork.checkpoints.{epoch.spec.name}")
    # Surveyors check the flown block: a point off the LiDAR checks nothing.
    inside = landscape.grid.boundary_mask(landscape.boundary)
    inside &= landscape.grid.boundary_mask(epoch.lidar_block)
    classes = landscape.crop(epoch.class_code)
    xs: list[npt.NDArray[np.float64]] = []
    ys: list[npt.NDArray[np.float64]] = []
    names: list[str] = []
    for c in CLASSES:
        if c.name == "water":
            continue
        cells = _sample_points(landscape, inside & (classes == c.code), CHECKPOINTS_PER_CLASS, rng)
        xs.append(cells.x)
        ys.append(cells.y)
        names += [c.name] * cells.x.size
    x = np.round(np.concatenate(xs), 3)
    y = np.round(np.concatenate(ys), 3)
    z = ground_at(epoch, *cell_position(landscape, x, y)) + rng.normal(
        0.0, CHECKPOINT_RTK_SD_M, x.size
    )
    order = rng.permutation(x.size)
    return pd.DataFrame(
        {
            "checkpoint_id": [f"CP{epoch.spec.name}-{i + 1:03d}" for i in range(x.size)],
            "x": x[order],
            "y": y[order],
            "z": np.round(z[order], 3),
            "class": np.asarray(names, dtype=object)[order],
        }
    )
