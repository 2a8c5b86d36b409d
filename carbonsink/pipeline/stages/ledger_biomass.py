"""Model-assisted corrections of the biomass map totals per stratum (docs/methodology.md §6.4).

The accounting stage's AGB and DOM quantities are map totals per (stratum,
class) key with a spatial-block bootstrap; these functions add what the
bootstrap misses: each stratum's correction from the plots' held-out
residuals, block-kriged over the stratum, and the error of the cells outside
every model's area of applicability.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from carbonsink.accounting.corrections import epoch_blocks
from carbonsink.errors import InputError, ModelError
from carbonsink.pipeline.context import RunContext

if TYPE_CHECKING:
    from carbonsink.accounting.pools import KeyedTotals
    from carbonsink.biomass.agb_map import FittedBiomassModel
    from carbonsink.pipeline.stages.epoch import EpochResults

__all__ = [
    "MIN_CORRECTION_PLOTS",
    "MIN_STRATUM_PLOTS",
    "outside_aoa_cells",
    "outside_aoa_errors",
    "outside_joint_covariance",
    "residual_corrections",
    "shared_outside",
]

logger = logging.getLogger(__name__)


#: Fewest held-out plots of a model in a stratum for a correction of its own.
MIN_CORRECTION_PLOTS = 2


def _rmse(model: FittedBiomassModel) -> float:
    """Held-out RMSE of the model's spatial CV over all its plots, Mg DM/ha."""
    frame = model.cv.predictions
    return float(np.sqrt(np.mean((frame["observed"] - frame["predicted"]) ** 2)))


def _relative_rmse(model: FittedBiomassModel) -> float:
    """Held-out RMSE of the model's spatial CV over its mean observation (0 when that is ≤ 0)."""
    mean = float(model.cv.predictions["observed"].mean())
    return _rmse(model) / mean if mean > 0 else 0.0


def residual_corrections(
    ctx: RunContext,
    strata: npt.NDArray[np.int64],
    predicted_by: npt.NDArray[np.integer],
    mapped: npt.NDArray[np.float64],
    inside: npt.NDArray[np.bool_],
    models: Sequence[FittedBiomassModel],
) -> tuple[dict[str, float], npt.NDArray[np.float64]]:
    """Model-assisted correction of each stratum's map total, t DM, and their covariance.

    For each model m the out-of-fold residuals r_i = observed − predicted of
    its plots (plot-wise random K-fold CV, ``random_cv``: the map's own error
    at a plot, which the spatial block CV overstates near the plots —
    Wadoux et al. 2021; Mg DM/ha) are block-kriged per stratum over
    the cells of the stratum that m predicts inside the area of
    applicability (:func:`carbonsink.soil.stratum_blocks.stratum_blocks`,
    universal block kriging with a stratum mean, on the variogram of the
    residuals): the correction of stratum s is ĉ_sm = A_sm × r̄_sm (the
    difference estimator, Särndal et al. 1992 §6.3, with the plots'
    clustering and spatial correlation in the kriging weights and variance).
    A stratum with fewer than :data:`MIN_CORRECTION_PLOTS` of m's plots gets
    no correction and the variance (T_sm × RRMSE_m)², T_sm its map total and
    RRMSE_m the model's held-out relative RMSE (all cells off by as much as a
    plot, in one direction: conservative); a stratum m maps no biomass in
    gets nothing. A negative correction is bounded by the map total it
    corrects, ĉ_sm ≥ −T_sm (biomass is not negative; on a near-bare stratum
    the held-out residuals of a few plots overstate the map's error — the
    full model has every plot, each fold one fewer). The models' terms add
    up (independent).

    Returns
    -------
    (corrections, covariance)
        Stratum name → ĉ_s (t DM) and their ``(C, C)`` covariance (t DM²).
    """
    from carbonsink.biomass.agb_map import MODEL_SOURCE_CODES
    from carbonsink.soil.stratum_blocks import CoreSet, stratum_blocks
    from carbonsink.spatial.variogram import VariogramModel

    legend = ctx.survey.vegetation.by_code()
    names = [legend[c] for c in sorted(legend)]
    index = {name: i for i, name in enumerate(names)}
    mean = np.zeros(len(names))
    cov = np.zeros((len(names), len(names)))
    used = np.zeros(len(names), dtype=bool)
    for model in models:
        cells = inside & (predicted_by == MODEL_SOURCE_CODES[model.name])
        if not cells.any():
            continue
        frame = (model.random_cv or model.cv).predictions
        residuals = (frame["observed"] - frame["predicted"]).to_numpy(dtype=np.float64)
        rrmse = _relative_rmse(model)
        present = {legend[int(c)]: int(c) for c in np.unique(strata[cells]) if int(c) in legend}
        fallback = VariogramModel(
            model="spherical",
            nugget=max(float(np.var(residuals)), 1e-9),
            psill=1e-9 * max(float(np.var(residuals)), 1.0),
            range_m=ctx.grid.resolution,
        )
        try:
            blocks = stratum_blocks(
                [CoreSet(x=frame["x"].to_numpy(), y=frame["y"].to_numpy(), values=residuals)],
                ctx.grid,
                strata,
                present,
                variograms=[fallback],
                mask=cells,
                min_cores=MIN_CORRECTION_PLOTS,
                signed=True,
                noun="plot",
                stratum_scales=True,
            )
            measured = list(blocks.measured)
        except (InputError, ModelError) as exc:
            # e.g. two plots at one place: no kriged correction, the conservative variance.
            logger.warning(
                "no residual correction for the %s model (%s): each stratum takes the variance "
                "(T × RRMSE)²",
                model.name,
                exc.problem.message,
            )
            blocks, measured = None, [False] * len(present)
        mapped_total = {
            name: float(np.nansum(mapped[cells & (strata == code)]))
            for name, code in present.items()
        }
        kriged = [
            i
            for i, name in enumerate(present)
            if measured[i] and mapped_total[name] > 0 and blocks is not None
        ]
        for i, name in enumerate(present):
            if mapped_total[name] <= 0:
                continue
            k = index[name]
            used[k] = True
            if i in kriged:
                assert blocks is not None
                # Biomass is not negative: a correction takes at most the map's own total
                # there off the stratum (the residuals of a few near-zero plots can say more).
                mean[k] += max(float(blocks.total_t_c[0][i]), -mapped_total[name])
                for j in kriged:
                    cov[k, index[list(present)[j]]] += float(blocks.total_covariance_t_c[i, j])
            else:
                cov[k, k] += (mapped_total[name] * rrmse) ** 2
    keep = np.flatnonzero(used)
    return {names[k]: float(mean[k]) for k in keep}, cov[np.ix_(keep, keep)]


#: Fewest of a model's plots in a stratum for that stratum's own error outside the AOA.
MIN_STRATUM_PLOTS = 5


def _stratum_plots(
    ctx: RunContext, model: FittedBiomassModel, strata: npt.NDArray[np.int64]
) -> dict[int, tuple[float, float]]:
    """Held-out RMSE and mean observation of the model's plots in each stratum, Mg DM/ha.

    From the spatial block CV (its pessimism suits cells unlike the plots). A
    plot is in the stratum of the cell it lies in; a stratum with fewer than
    :data:`MIN_STRATUM_PLOTS` plots is left out.
    """
    frame = model.cv.predictions
    x, y = frame["x"].to_numpy(dtype=np.float64), frame["y"].to_numpy(dtype=np.float64)
    observed = frame["observed"].to_numpy(dtype=np.float64)
    residual = observed - frame["predicted"].to_numpy(dtype=np.float64)
    on_grid = ctx.grid.contains(x, y)
    row, col = ctx.grid.index(x, y)
    codes = np.full(x.size, -1, dtype=np.int64)
    codes[on_grid] = strata[row[on_grid], col[on_grid]]
    out: dict[int, tuple[float, float]] = {}
    for code in np.unique(codes[on_grid]):
        member = codes == code
        if member.sum() >= MIN_STRATUM_PLOTS:
            rmse = float(np.sqrt(np.mean(residual[member] ** 2)))
            out[int(code)] = (rmse, float(observed[member].mean()))
    return out


#: The standard normal's 95th percentile: a 90 % half-width over it is an SD.
_Z95 = 1.6448536269514722


def outside_aoa_errors(
    ctx: RunContext,
    strata: npt.NDArray[np.int64],
    predicted_by: npt.NDArray[np.integer],
    mapped: npt.NDArray[np.float64],
    area_ha: npt.NDArray[np.float64],
    outside: npt.NDArray[np.bool_],
    models: Sequence[FittedBiomassModel],
) -> dict[str, float]:
    """Error variance of each stratum's map total over the cells outside every model's AOA, t DM².

    No plot is like these cells (Meyer & Pebesma 2021), so no residual can
    correct them: their error is taken as systematic within the stratum
    (docs/methodology.md eq. 6.8c),

        SE_s = Σ_m max(A_sm × RMSE_sm, |T_sm − A_sm × ȳ_sm| / z_0.95),

    with A_sm (ha) and T_sm (t DM) the area and mapped total of the
    stratum's cells outside the AOA that model m predicts, RMSE_sm the
    held-out RMSE (spatial block CV, Mg DM/ha) of m's plots in stratum s
    and ȳ_sm their mean observation (at least :data:`MIN_STRATUM_PLOTS` of
    them; else those of another model that has as many there, the one with
    the most plots; else the largest RMSE of the models over all their
    plots, without the second term): every cell off by as much as a plot of
    its stratum, in one direction (an upper bound), or — where the cells'
    mapped mean departs from what the stratum's plots measured — with
    their true total within the 90 % interval between the mapped total and
    the plots' mean over the same area; no correction. Only strata with
    mapped biomass outside the AOA are returned.
    """
    from carbonsink.biomass.agb_map import MODEL_SOURCE_CODES

    legend = ctx.survey.vegetation.by_code()
    if not outside.any() or not models:
        return {}
    fallback = max(_rmse(model) for model in models)
    own = {model.name: _stratum_plots(ctx, model, strata) for model in models}
    # A stratum with too few of one model's plots takes another model's plots in it (the
    # most), before the largest RMSE: bare mudflat is not off by a poplar stand's error.
    pooled: dict[int, tuple[float, float]] = {}
    for model in sorted(models, key=lambda m: len(m.cv.predictions)):
        pooled.update(own[model.name])
    out: dict[str, float] = {}
    for code in np.unique(strata[outside]):
        here = outside & (strata == code)
        if int(code) not in legend or not float(np.nansum(mapped[here])) > 0:
            continue
        se = 0.0
        for model in models:
            cells = here & (predicted_by == MODEL_SOURCE_CODES[model.name])
            if not cells.any():
                continue
            area = float(area_ha[cells].sum())
            plots = own[model.name].get(int(code), pooled.get(int(code)))
            if plots is not None:
                rmse, mean = plots
                total = float(np.nansum(mapped[cells]))
                se += max(rmse * area, abs(total - mean * area) / _Z95)
            else:
                se += fallback * area
        out[legend[int(code)]] = se**2
    return out


def outside_aoa_cells(result: EpochResults, density: str) -> npt.NDArray[np.bool_]:
    """``(y, x)`` cells of the epoch's project outside every model's AOA for a biomass layer.

    The flag layer ``<density stem>_outside_aoa`` of the biomass (or of its
    dead organic matter) inside the project boundary; none when the layer is
    absent (no model mapped the density).
    """
    cube = result.cube.cube
    inside = cube["inside_boundary"].values.astype(bool)
    flag = density.replace("_mg_ha", "_outside_aoa")
    layers = result.biomass.layers if flag in result.biomass.layers else None
    if layers is None and result.biomass.dom is not None:
        layers = result.biomass.dom.layers if flag in result.biomass.dom.layers else None
    if layers is None:
        return np.zeros(inside.shape, dtype=bool)
    return np.asarray(layers[flag].values.astype(bool) & inside)


def shared_outside(
    ctx: RunContext,
    first: EpochResults,
    last: EpochResults,
    strata_map: npt.NDArray[np.integer],
    *,
    density: str,
    source: str,
) -> dict[str, float]:
    """Share of each stratum's outside-AOA cells that both epochs share (eq. 6.8d).

    With O_e,s the cells of stratum s outside every model's AOA that a model
    predicts at epoch e and a_c their areas,

        φ_s = Σ_{c ∈ O_1,s ∩ O_2,s} a_c² / √(Σ_{O_1,s} a_c² × Σ_{O_2,s} a_c²),

    a cell shared only when the same model predicts it in both epochs — the
    correlation of the two area-weighted sums of per-cell errors when each
    cell's error persists between the epochs (for the same model) and is
    independent of the other cells' (docs/methodology.md §6.4: a model of
    what the epochs share, not of eq. 6.8c's size). Strata with no such cells
    in one epoch are left out.
    """
    from carbonsink.biomass.agb_map import MODEL_SOURCE_CODES

    legend = ctx.survey.vegetation.by_code()
    if not all(source in r.biomass.layers for r in (first, last)):
        return {}
    weight = ctx.cell_area_ha.values.astype(np.float64) ** 2
    models = list(MODEL_SOURCE_CODES.values())
    sources = [np.asarray(r.biomass.layers[source].values) for r in (first, last)]
    cells = [
        outside_aoa_cells(r, density) & np.isin(s, models)
        for r, s in zip((first, last), sources, strict=True)
    ]
    same_model = sources[0] == sources[1]
    out: dict[str, float] = {}
    for code, name in legend.items():
        stratum = strata_map == code
        one, two = cells[0] & stratum, cells[1] & stratum
        w1, w2 = float(weight[one].sum()), float(weight[two].sum())
        if w1 > 0 and w2 > 0:
            out[name] = float(weight[one & two & same_model].sum()) / float(np.sqrt(w1 * w2))
    return out


def outside_joint_covariance(
    epochs: Sequence[KeyedTotals], shared: Mapping[tuple[int, int], Mapping[str, float]]
) -> npt.NDArray[np.float64]:
    """``(ΣC, ΣC)`` joint covariance of every epoch's corrections, shared outside the AOA.

    Diagonal blocks are each epoch's correction covariance Σ_e; between
    epochs a < b, Cov(c_a,s, c_b,s) = φ_ab,s × SE_out,a,s × SE_out,b,s (eq.
    6.8d, ``shared[(a, b)]`` the φ of :func:`shared_outside` for that pair), 0
    between different strata and for a stratum without outside-AOA cells in
    either epoch; rows and columns in the epochs' ``corrections`` orders, the
    earliest epoch first.
    """
    joint, blocks = epoch_blocks(epochs)
    for (a, b), phis in shared.items():
        one, two = epochs[a], epochs[b]
        rows, columns = list(one.corrections), list(two.corrections)
        for stratum, phi in phis.items():
            if stratum in one.outside_se and stratum in two.outside_se:
                i = blocks[a].start + rows.index(stratum)
                j = blocks[b].start + columns.index(stratum)
                joint[i, j] = joint[j, i] = phi * one.outside_se[stratum] * two.outside_se[stratum]
    return joint
