"""Dead organic matter (litter and standing dead) from the plots' ``agb_dead_g_m2``.

The dead-organic-matter pool (docs/methodology.md §2.3) is measured on the
biomass plots: dry dead matter in the plot (or a sub-quadrat of it), in the
optional column ``agb_dead_g_m2``. It is estimated in one of two ways:

- **model** — when at least :data:`MIN_DOM_MODEL_PLOTS` plots carry it, like
  live AGB: the survey's estimator fitted on the imagery features of those
  plots, spatial-block CV, area of applicability and a map with its interval
  (:func:`~carbonsink.biomass.agb_map.fit_biomass_model`);
- **ratio** — otherwise, as a dead:live ratio per land-cover class applied to
  the AGB map: R_c = Σ_i DOM_i / Σ_i AGB_i over the class's plots that carry
  both (the ratio-of-means estimator, Cochran 1977 §6.2), with its standard
  error (eq. 6.13). A class with fewer than :data:`MIN_RATIO_PLOTS` such
  plots takes the ratio of all plots, with the spread of the classes' own
  ratios added to its error (it is a class whose ratio is not measured).

DOM carbon is dead dry matter × the class's carbon fraction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from carbonsink.biomass.agb_map import FittedBiomassModel, fit_biomass_model, map_agb
from carbonsink.biomass.features import cells_of_points
from carbonsink.errors import ConfigError, InputError
from carbonsink.i18n import Message, deferred
from carbonsink.units import g_m2_to_mg_ha

__all__ = [
    "DEAD_COLUMN",
    "MIN_DOM_MODEL_PLOTS",
    "MIN_RATIO_PLOTS",
    "POOLED",
    "DeadToLiveRatios",
    "DomEstimate",
    "DomMethod",
    "choose_dom_method",
    "dead_to_live_ratios",
    "dom_carbon",
    "dom_plots",
    "estimate_dom",
    "ratio_layers",
]

FloatArray = npt.NDArray[np.float64]
DomMethod = Literal["auto", "model", "ratio"]

#: The plots' column of dry dead organic matter, g/m² (docs/design.md §3).
DEAD_COLUMN = "agb_dead_g_m2"
#: Plots carrying DOM needed to model it like AGB (a 5-fold spatial CV over
#: blocks of ~200 m needs tens of plots; the AGB model uses ~80) [U].
MIN_DOM_MODEL_PLOTS = 40
#: Plots of a class needed for its own dead:live ratio [U].
MIN_RATIO_PLOTS = 5
#: Name of the ratio of all plots, used by classes without their own (it cannot be a
#: class name: class names hold no spaces).
POOLED = "all plots"


def dom_plots(plots: pd.DataFrame) -> pd.DataFrame:
    """The plots that carry a DOM value, with ``dom_mg_ha`` (= ``agb_dead_g_m2`` × 0.01).

    Parameters
    ----------
    plots
        Validated plots (:func:`~carbonsink.biomass.features.validate_plots`).

    Returns
    -------
    pandas.DataFrame
        The rows with a finite ``agb_dead_g_m2``; empty (with the column)
        when the table has no such column or no value in it.
    """
    if DEAD_COLUMN not in plots:
        empty = plots.iloc[0:0].copy()
        empty["dom_mg_ha"] = pd.Series(dtype=np.float64)
        return empty
    dead = pd.to_numeric(plots[DEAD_COLUMN], errors="coerce").to_numpy(dtype=np.float64)
    carried: pd.DataFrame = plots.loc[np.isfinite(dead)].copy()
    carried["dom_mg_ha"] = g_m2_to_mg_ha(dead[np.isfinite(dead)])
    return carried


def choose_dom_method(n_plots: int, method: DomMethod) -> tuple[Literal["model", "ratio"], Message]:
    """The route of the DOM estimate and the sentence that says why.

    Raises
    ------
    ConfigError
        ``method="model"`` with fewer plots than a model needs.
    """
    if method == "ratio":
        return (
            "ratio",
            deferred(
                "dead:live ratios per class ([biomass] dom_method = ratio, {n} plots)", n=n_plots
            ),
        )
    if n_plots >= MIN_DOM_MODEL_PLOTS or method == "model":
        if n_plots < MIN_RATIO_PLOTS:
            raise ConfigError(
                f"only {n_plots} plots carry {DEAD_COLUMN}: too few for a DOM model",
                where="[biomass].dom_method",
                fix='use dom_method = "ratio" or "auto", or measure DOM on more plots',
            )
        if method == "model":
            return "model", deferred(
                "modelled like AGB on the {n} plots that carry {column}",
                n=n_plots,
                column=DEAD_COLUMN,
            )
        return "model", deferred(
            "modelled like AGB on the {n} plots that carry {column} (≥ {needed})",
            n=n_plots,
            column=DEAD_COLUMN,
            needed=MIN_DOM_MODEL_PLOTS,
        )
    return "ratio", deferred(
        "dead:live ratios per class: {n} plots carry {column}, fewer than the {needed} a "
        "model needs",
        n=n_plots,
        column=DEAD_COLUMN,
        needed=MIN_DOM_MODEL_PLOTS,
    )


@dataclass(frozen=True)
class DeadToLiveRatios:
    """Dead:live dry-matter ratios with their standard errors.

    Attributes
    ----------
    ratios
        Group (a class with its own ratio, or :data:`POOLED`) → (ratio, SE).
    group_of
        Class → its group.
    plots
        The plots used: ``class``, ``agb_mg_ha``, ``dom_mg_ha`` (index ``plot_id``).
    between_class_sd
        SD of the classes' own ratios, added to the pooled ratio's error for
        classes without their own.
    why_pooled
        Class without its own ratio → why (``"3 plots"``, ``"no live AGB on its 6 plots"``).
    """

    ratios: Mapping[str, tuple[float, float]]
    group_of: Mapping[str, str]
    plots: pd.DataFrame
    between_class_sd: float
    why_pooled: Mapping[str, Message]

    def for_class(self, name: str) -> tuple[float, float]:
        """(ratio, SE) of a class."""
        return self.ratios[self.group_of[name]]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (for the ledger's inputs and the report)."""
        counts = self.plots["class"].value_counts()
        return {
            "ratios": {g: {"ratio": r, "se": se} for g, (r, se) in self.ratios.items()},
            "group_of": dict(self.group_of),
            "plots": {str(c): int(n) for c, n in counts.items()},
            "between_class_sd": self.between_class_sd,
        }


def _ratio_of_means(live: FloatArray, dead: FloatArray) -> tuple[float, float]:
    """R = Σ dead / Σ live and its SE (Cochran 1977 eq. 6.13, no finite-population correction).

    Notes
    -----
    v(R) = Σ (d_i − R l_i)² / ((n − 1) n l̄²). With n = 1 the SE is unknown
    (returned as NaN).
    """
    n = live.size
    total = float(live.sum())
    if total <= 0:
        return (0.0, 0.0) if float(dead.sum()) == 0 else (math.nan, math.nan)
    ratio = float(dead.sum()) / total
    if n < 2:
        return ratio, math.nan
    residual = dead - ratio * live
    variance = float((residual**2).sum()) / ((n - 1) * n * (total / n) ** 2)
    return ratio, math.sqrt(variance)


def dead_to_live_ratios(
    plots: pd.DataFrame, classes: Sequence[str], *, legend: Sequence[str]
) -> DeadToLiveRatios:
    """Dead:live ratios per class from the plots that carry both live and dead matter.

    Parameters
    ----------
    plots
        :func:`dom_plots` (``agb_mg_ha`` and ``dom_mg_ha``, Mg DM/ha).
    classes
        The land-cover class of each plot (its cell's class on the map, so
        that the ratio is that of the mapped class it is applied to).
    legend
        Every class of the survey (each gets a group).

    Returns
    -------
    DeadToLiveRatios

    Raises
    ------
    InputError
        No plot carries both, or their live biomass sums to 0 with dead matter.

    Notes
    -----
    Own ratio of class c: R_c = Σ DOM_i / Σ AGB_i over its n_c ≥
    :data:`MIN_RATIO_PLOTS` plots, SE from Cochran (1977) eq. 6.13. Pooled:
    the same over all plots, SE² = SE_pooled² + s_b², with s_b the SD of the
    own ratios (≥ 3 classes with one), else 50 % of the pooled ratio [U] — a
    class without its own ratio is treated as a class drawn at random from
    the others.
    """
    live = plots["agb_mg_ha"].to_numpy(dtype=np.float64)
    dead = plots["dom_mg_ha"].to_numpy(dtype=np.float64)
    names = np.asarray([str(c) for c in classes])
    if names.size != live.size:
        raise InputError(
            f"{names.size} classes for {live.size} plots",
            fix="give the class of every plot that carries DOM",
        )
    if live.size == 0:
        raise InputError(
            f"no plot carries {DEAD_COLUMN}",
            fix=f"measure dead organic matter on some plots ({DEAD_COLUMN}, g/m²)",
        )
    own: dict[str, tuple[float, float]] = {}
    why_pooled: dict[str, Message] = {}
    for name in legend:
        rows = names == name
        n = int(rows.sum())
        if n < MIN_RATIO_PLOTS:
            why_pooled[name] = deferred("{n} plots", n=n) if n != 1 else deferred("1 plot")
            continue
        ratio, se = _ratio_of_means(live[rows], dead[rows])
        if math.isfinite(ratio) and math.isfinite(se):
            own[name] = (ratio, se)
        else:
            why_pooled[name] = deferred("no live AGB on its {n} plots", n=n)
    pooled, pooled_se = _ratio_of_means(live, dead)
    if not math.isfinite(pooled):
        raise InputError(
            f"the plots that carry {DEAD_COLUMN} have no live AGB but dead matter",
            fix="check the plots' agb_g_m2 and agb_dead_g_m2",
        )
    own_ratios = [r for r, _ in own.values()]
    spread = float(np.std(own_ratios, ddof=1)) if len(own_ratios) >= 3 else 0.5 * pooled
    ratios = dict(own)
    group_of = {name: (name if name in own else POOLED) for name in legend}
    if POOLED in group_of.values():
        se = math.sqrt((pooled_se if math.isfinite(pooled_se) else 0.0) ** 2 + spread**2)
        ratios[POOLED] = (pooled, se)
    table = pd.DataFrame({"class": names, "agb_mg_ha": live, "dom_mg_ha": dead}, index=plots.index)
    return DeadToLiveRatios(
        ratios=ratios,
        group_of=group_of,
        plots=table,
        between_class_sd=spread,
        why_pooled=why_pooled,
    )


def dom_carbon(
    dom: xr.DataArray, class_map: xr.DataArray, carbon_fraction: Mapping[int, float]
) -> xr.DataArray:
    """DOM carbon per pixel: dead dry matter × the class's carbon fraction, Mg C/ha.

    Notes
    -----
    C_DOM = DOM × CF_c (docs/methodology.md §2.3: the class's carbon fraction
    serves its dead matter too [U]).
    """
    codes = np.asarray(class_map.values)
    cf = np.full(codes.shape, np.nan)
    for code, value in carbon_fraction.items():
        cf[codes == code] = value
    carbon = (dom.astype(np.float64) * cf).astype(np.float32)
    carbon.attrs = {"units": "Mg C/ha", "long_name": "dead organic matter carbon"}
    return carbon


def ratio_layers(
    agb: xr.Dataset,
    class_map: xr.DataArray,
    ratios: DeadToLiveRatios,
    *,
    legend: Mapping[int, str],
    carbon_fraction: Mapping[int, float],
) -> xr.Dataset:
    """DOM per pixel as the class's dead:live ratio × AGB (and its bounds), and its carbon.

    Parameters
    ----------
    agb
        ``agb_mg_ha`` with ``agb_lower_mg_ha`` and ``agb_upper_mg_ha`` (Mg DM/ha).
    class_map
        ``(y, x)`` class codes.
    ratios
        :func:`dead_to_live_ratios`.
    legend
        Class code → name.
    carbon_fraction
        Class code → carbon fraction of dry matter.

    Returns
    -------
    xarray.Dataset
        ``dom_mg_ha``, ``dom_lower_mg_ha``, ``dom_upper_mg_ha`` (Mg DM/ha) and
        ``dom_c_mg_ha`` (Mg C/ha).

    Notes
    -----
    DOM = R_c × AGB, DOM C = DOM × CF_c (docs/methodology.md §2.3). The bounds
    scale the AGB interval by R_c (a per-pixel guide; the ratio's own error
    enters the ledger's Monte Carlo).
    """
    codes = np.asarray(class_map.values)
    ratio = np.full(codes.shape, np.nan)
    for code, name in legend.items():
        ratio[codes == code] = ratios.for_class(name)[0]
    out = xr.Dataset()
    for source, target, long_name in (
        ("agb_mg_ha", "dom_mg_ha", "dead organic matter (dead:live ratio × AGB)"),
        ("agb_lower_mg_ha", "dom_lower_mg_ha", "DOM, lower bound (ratio × AGB lower bound)"),
        ("agb_upper_mg_ha", "dom_upper_mg_ha", "DOM, upper bound (ratio × AGB upper bound)"),
    ):
        layer = (agb[source].astype(np.float64) * ratio).astype(np.float32)
        layer.attrs = {"units": "Mg DM/ha", "long_name": long_name}
        out[target] = layer
    out["dom_c_mg_ha"] = dom_carbon(out["dom_mg_ha"], class_map, carbon_fraction)
    return out


@dataclass(frozen=True)
class DomEstimate:
    """The dead organic matter of an epoch.

    Attributes
    ----------
    method
        ``"model"`` (modelled like AGB) or ``"ratio"`` (dead:live ratios per class).
    reason
        Why that route (the plots that carry DOM, the survey's setting).
    n_plots
        Plots that carry a DOM value.
    layers
        ``dom_mg_ha`` with ``dom_lower_mg_ha``/``dom_upper_mg_ha`` (Mg DM/ha)
        and ``dom_c_mg_ha`` (Mg C/ha); the model route adds ``dom_model``
        (codes of :data:`~carbonsink.biomass.agb_map.AGB_SOURCES`) and
        ``dom_outside_aoa``.
    ratios
        The dead:live ratios (ratio route).
    model
        The fitted DOM model (model route).
    """

    method: Literal["model", "ratio"]
    reason: Message
    n_plots: int
    layers: xr.Dataset
    ratios: DeadToLiveRatios | None = None
    model: FittedBiomassModel | None = None


def _plot_classes(
    cube: xr.Dataset, plots: pd.DataFrame, legend: Mapping[int, str]
) -> tuple[pd.DataFrame, list[str]]:
    """The plots inside the project with a mapped class, and that class's name."""
    row, col, _ = cells_of_points(cube, plots["x"].to_numpy(), plots["y"].to_numpy())
    height, width = cube.sizes["y"], cube.sizes["x"]
    on_grid = (row >= 0) & (row < height) & (col >= 0) & (col < width)
    r, c = row[on_grid], col[on_grid]
    codes = np.full(len(plots), -1)
    codes[on_grid] = np.asarray(cube["landcover"].values)[r, c]
    inside = np.zeros(len(plots), dtype=bool)
    inside[on_grid] = np.asarray(cube["inside_boundary"].values, dtype=bool)[r, c]
    keep = inside & np.isin(codes, list(legend))
    return plots.loc[keep], [legend[int(code)] for code in codes[keep]]


def estimate_dom(
    cube: xr.Dataset,
    plots: pd.DataFrame,
    agb: xr.Dataset,
    *,
    legend: Mapping[int, str],
    carbon_fraction: Mapping[int, float],
    features: Sequence[str],
    method: DomMethod = "auto",
    water: npt.ArrayLike | None = None,
    estimator_name: str = "random-forest",
    n_estimators: int = 300,
    cv_block_m: float | None = None,
    interval: float = 0.90,
    seed: int = 0,
    executor: Executor | None = None,
) -> DomEstimate | None:
    """Dead organic matter of an epoch from the plots that carry ``agb_dead_g_m2``.

    Parameters
    ----------
    cube
        The epoch's per-pixel layers (features, ``landcover``, ``inside_boundary``).
    plots
        Validated plots (``x``/``y`` in the grid CRS, ``agb_mg_ha``,
        optional ``agb_dead_g_m2``).
    agb
        The epoch's AGB map (:func:`~carbonsink.biomass.agb_map.map_agb`).
    legend
        Class code → name.
    carbon_fraction
        Class code → carbon fraction of dry matter.
    features
        The cube variables a DOM model learns from (the imagery model's).
    method
        ``"auto"`` (a model with ≥ :data:`MIN_DOM_MODEL_PLOTS` plots, else
        ratios), ``"model"`` or ``"ratio"``.
    water
        ``(y, x)`` open-water mask: no dead organic matter by rule (model route).
    estimator_name, n_estimators, cv_block_m, interval, seed, executor
        The estimator of the model route and its cross-validation
        (:func:`~carbonsink.biomass.agb_map.fit_biomass_model`).

    Returns
    -------
    DomEstimate or None
        ``None`` when no plot carries a DOM value: the pool is not measured.

    Notes
    -----
    Module docstring: the two routes and their errors (docs/methodology.md §2.3).
    """
    carried = dom_plots(plots)
    if carried.empty:
        return None
    route, reason = choose_dom_method(len(carried), method)
    class_map = cube["landcover"]
    if route == "ratio":
        located, classes = _plot_classes(cube, carried, legend)
        if located.empty:
            raise InputError(
                f"none of the {len(carried)} plots that carry {DEAD_COLUMN} lies in a mapped "
                "cell inside the project",
                fix="check the plots' coordinates and CRS against the survey boundary",
            )
        ratios = dead_to_live_ratios(located, classes, legend=list(legend.values()))
        layers = ratio_layers(
            agb, class_map, ratios, legend=legend, carbon_fraction=carbon_fraction
        )
        return DomEstimate(
            method="ratio", reason=reason, n_plots=len(located), layers=layers, ratios=ratios
        )
    model = fit_biomass_model(
        cube,
        carried,
        name="dom",
        features=features,
        estimator_name=estimator_name,
        n_estimators=n_estimators,
        cv_block_m=cv_block_m,
        interval=interval,
        seed=seed,
        target="dom_mg_ha",
        executor=executor,
    )
    mapped = map_agb(
        cube,
        [model],
        interval=interval,
        inside=cube["inside_boundary"].values,
        water=water,
        outside="predict",
    )
    names = {
        "agb_mg_ha": ("dom_mg_ha", "dead organic matter"),
        "agb_lower_mg_ha": ("dom_lower_mg_ha", f"DOM, lower bound of the {interval:.0%} interval"),
        "agb_upper_mg_ha": ("dom_upper_mg_ha", f"DOM, upper bound of the {interval:.0%} interval"),
        "agb_model": ("dom_model", "model that predicted the cell's DOM"),
        "agb_outside_aoa": ("dom_outside_aoa", "outside the DOM model's area of applicability"),
    }
    layers = xr.Dataset()
    for source, (target, long_name) in names.items():
        layer = mapped[source].copy()
        layer.attrs = {**layer.attrs, "long_name": long_name}
        layers[target] = layer
    layers["dom_c_mg_ha"] = dom_carbon(layers["dom_mg_ha"], class_map, carbon_fraction)
    return DomEstimate(
        method="model", reason=reason, n_plots=len(model.plots.table), layers=layers, model=model
    )
