"""Accounting stage: the epochs' results → the quantities of the pools → the ledger.

The per-epoch stages give the cube, the biomass maps and models, the core
stocks and the SOC maps. This stage adds what the ledger's Monte Carlo needs
from them — the spatial-block bootstrap of the AGB totals on the change
strata, the SOC totals with the block-kriging SE of both epochs jointly, the
area-adjusted class areas — and the warnings that matter to the claim, then
calls :func:`carbonsink.accounting.ledger.build_ledger`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonsink.accounting.ledger import Ledger, LedgerWarning, build_ledger
from carbonsink.accounting.pools import KeyedTotals, Quantity, RatioTotals, StratumTotals
from carbonsink.accounting.simulation import EpochInputs
from carbonsink.errors import InputError
from carbonsink.i18n import Message, shown
from carbonsink.i18n import gettext as _
from carbonsink.io.writers import write_csv, write_json
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.outputs import OutputFolder
from carbonsink.pipeline.stages.epoch import EpochResults
from carbonsink.pipeline.stages.ledger_arguments import LedgerArguments, ledger_arguments
from carbonsink.pipeline.stages.ledger_biomass import (
    outside_aoa_cells,
    outside_aoa_errors,
    residual_corrections,
)
from carbonsink.pipeline.stages.ledger_soil import method_change
from carbonsink.pipeline.stages.lidar import terrain_warnings, unsupported_ha
from carbonsink.pipeline.stages.logged import LoggedLine, logged_warnings
from carbonsink.pipeline.stages.soil import method_calibration, soc_column, soil_gap_warnings

if TYPE_CHECKING:
    from carbonsink.accounting.non_co2 import Gas
    from carbonsink.accounting.parameters import ClassParameters
    from carbonsink.biomass.agb_map import FittedBiomassModel

__all__ = [
    "default_flux_warnings",
    "epoch_ledger_inputs",
    "imagery_warnings",
    "ledger_warnings",
    "survey_ledger",
    "write_ledger",
]

logger = logging.getLogger(__name__)

#: Change strata × class at an epoch are coded as stratum × _KEY_BASE + class.
_KEY_BASE = 256


def _keyed_totals(
    ctx: RunContext,
    result: EpochResults,
    keys: npt.NDArray[np.int64],
    *,
    density: str,
    source: str,
    models: Sequence[FittedBiomassModel],
    target: str,
) -> KeyedTotals:
    """A modelled map's totals per (stratum, class) key, their corrections and bootstrap.

    Parameters
    ----------
    ctx, result
        The run and the epoch.
    keys
        ``(y, x)`` codes stratum × 256 + class.
    density, source
        The biomass layers of the map (Mg DM/ha) and of the model that
        predicted each cell (codes of ``AGB_SOURCES``).
    models
        The models of the map.
    target
        The plots' column the models learnt.

    Notes
    -----
    Each stratum's error is its model-assisted residual correction (and its
    cells outside the area of applicability), docs/methodology.md eq.
    6.8a–c. Only the cells of a stratum without one — its modelled cells map
    no biomass and none lies outside the AOA — are bootstrapped (eq. 6.8),
    each model over its own such cells: a corrected stratum's draws take no
    bootstrap spread (eq. 6.2). When every stratum has a correction no
    replicate is fitted, unless ``[biomass] bootstrap_comparison`` asks every
    stratum's bootstrap SD for the ledger.
    """
    from carbonsink.biomass.agb_map import MODEL_SOURCE_CODES
    from carbonsink.biomass.bootstrap import bootstrap_agb_totals

    legend = ctx.survey.vegetation.by_code()
    section = ctx.survey.biomass
    cube = result.cube.cube
    area = cube["cell_area_ha"].values.astype(np.float64)
    inside = cube["inside_boundary"].values.astype(bool)
    values = result.biomass.layers[density].values.astype(np.float64)
    predicted_by = result.biomass.layers[source].values
    modelled = inside & np.isin(predicted_by, list(MODEL_SOURCE_CODES.values()))
    codes = sorted({int(k) for k in np.unique(keys[modelled])})
    key_names = []
    for code in codes:
        stratum, cls = legend.get(code // _KEY_BASE), legend.get(code % _KEY_BASE)
        if stratum is None or cls is None:
            raise InputError(
                f"class code {code // _KEY_BASE} or {code % _KEY_BASE} is not in the legend",
                where=f"epoch {result.epoch.name!r} land cover",
                fix="give every class of the land-cover samples a [vegetation.classes] entry",
            )
        key_names.append((stratum, cls))
    point = np.array(
        [float((values * area)[modelled & (keys == code)].sum()) for code in codes],
        dtype=np.float64,
    )
    outside = outside_aoa_cells(result, density)
    means, cov = residual_corrections(
        ctx, keys // _KEY_BASE, predicted_by, values * area, inside & ~outside, models
    )
    strata_order = list(means)
    outside_var = outside_aoa_errors(
        ctx, keys // _KEY_BASE, predicted_by, values * area, area, outside, models
    )
    for stratum, variance in outside_var.items():
        if stratum not in means:
            means[stratum] = 0.0
            strata_order.append(stratum)
            grown = np.zeros((len(strata_order), len(strata_order)))
            grown[: cov.shape[0], : cov.shape[1]] = cov
            cov = grown
        k = strata_order.index(stratum)
        cov[k, k] += variance
    uncorrected = [code for code, (s, _) in zip(codes, key_names, strict=True) if s not in means]
    replicates = np.zeros((section.bootstrap_replicates, len(codes)))
    n_cells = int(modelled.sum())
    predicted = 0
    for model in models:
        cells = inside & (predicted_by == MODEL_SOURCE_CODES[model.name])
        if not section.bootstrap_comparison:
            cells &= np.isin(keys, uncorrected)
        if not cells.any():
            continue
        boot = bootstrap_agb_totals(
            cube,
            model.plots.table,
            features=model.features,
            estimator_name=model.estimator_name,
            n_estimators=section.bootstrap_trees,
            block_m=model.cv.block_m,
            replicates=section.bootstrap_replicates,
            seed=ctx.seed,
            strata=keys,
            cell_area_ha=cube["cell_area_ha"].values,
            cells=cells,
            executor=ctx.executor,
            target=target,
        )
        frame = boot.stratum_totals_t_dm
        predicted += boot.cells_predicted
        for j, code in enumerate(codes):
            if code in frame.columns:
                replicates[:, j] += frame[code].to_numpy(dtype=np.float64)
    present = [k for k, stratum in enumerate(strata_order) if stratum in {s for s, _ in key_names}]
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return KeyedTotals(
        keys=tuple(key_names),
        totals=point,
        replicates=replicates,
        corrections={strata_order[k]: (means[strata_order[k]], float(sd[k])) for k in present},
        correction_covariance=cov[np.ix_(present, present)],
        outside_se={
            strata_order[k]: float(np.sqrt(outside_var[strata_order[k]]))
            for k in present
            if strata_order[k] in outside_var
        },
        bootstrap_cells=(n_cells, predicted),
        comparison=section.bootstrap_comparison,
    )


def _dom_quantity(
    ctx: RunContext, result: EpochResults, keys: npt.NDArray[np.int64]
) -> dict[str, Quantity]:
    """The dead-organic-matter quantity of an epoch (none when not measured or not counted)."""
    dom = result.biomass.dom
    if dom is None or "dom" not in ctx.profile.pools:
        return {}
    if dom.ratios is not None:
        return {
            "dom_t_dm": RatioTotals(
                base="agb_t_dm", ratios=dom.ratios.ratios, group_of=dom.ratios.group_of
            )
        }
    assert dom.model is not None
    totals = _keyed_totals(
        ctx,
        result,
        keys,
        density="dom_mg_ha",
        source="dom_model",
        models=(dom.model,),
        target="dom_mg_ha",
    )
    return {"dom_t_dm": totals}


def epoch_ledger_inputs(
    ctx: RunContext, result: EpochResults, strata_map: npt.NDArray[np.integer]
) -> EpochInputs:
    """One epoch's aggregates on the change strata, with the AGB bootstrap.

    Parameters
    ----------
    ctx
        The run (legend, bootstrap settings, seed, executor, profile's soil depth).
    result
        The epoch's stage results.
    strata_map
        ``(y, x)`` class codes of the change strata (the last epoch's land cover).
    """
    legend = ctx.survey.vegetation.by_code()
    depth = float(ctx.profile.soil_depth_cm)
    cube = result.cube.cube
    area = cube["cell_area_ha"].values.astype(np.float64)
    inside = cube["inside_boundary"].values.astype(bool)
    keys = strata_map.astype(np.int64) * _KEY_BASE + cube["landcover"].values.astype(np.int64)
    agb = _keyed_totals(
        ctx,
        result,
        keys,
        density="agb_mg_ha",
        source="agb_model",
        models=result.biomass.models,
        target="agb_mg_ha",
    )
    soc_layer = result.soc_maps[depth][soc_column(depth)].values
    block = result.soc_blocks[depth]
    soc_t_c = {}
    stratum_area = {}
    for code in sorted(legend):
        cells = inside & (strata_map == code)
        valid = cells & np.isfinite(soc_layer)
        soc_t_c[legend[code]] = float((soc_layer[valid] * area[valid]).sum())
        stratum_area[legend[code]] = float(area[cells].sum())
    table = result.cube.landcover.areas.table
    class_area = {
        str(name): (float(row["adjusted_area_ha"]), float(row["se_ha"]))
        for name, row in table.iterrows()
    }
    return EpochInputs(
        name=result.epoch.name,
        date=result.epoch.date,
        strata=tuple(legend[c] for c in sorted(legend)),
        stratum_area_ha=stratum_area,
        quantities={
            "agb_t_dm": agb,
            # The map's totals with the survey-wide block-kriging SE; survey_ledger
            # replaces them by the per-stratum block kriging of all epochs jointly.
            "soc_t_c": StratumTotals.from_total_se(soc_t_c, float(block.total_se_t_c)),
            **_dom_quantity(ctx, result, keys),
        },
        class_area_ha=class_area,
    )


def dtm_check(result: EpochResults) -> dict[str, Any]:
    """The epoch's DTM against its checkpoints, or ``unverified`` (docs/methodology.md §8.8)."""
    check = result.cube.dtm_check
    if check is None:
        return {
            "status": "unverified",
            "why": _(
                "no checkpoints: the terrain under dense vegetation may sit 0.1-0.5 m "
                "above the ground, and the heights as much below"
            ),
        }
    return check.to_dict()


def imagery_warnings(results: Sequence[EpochResults]) -> list[LedgerWarning]:
    """Scenes left out of an epoch's composite, and scenes used without a cloud mask.

    Both move the land cover and the biomass, so the claim: a scene with no
    usable pixel (or too few) is dropped, and one without a quality band
    (e.g. a Sentinel-2 file without its SCL band) enters the median with its
    clouds (docs/methodology.md §7). Read from the epoch cube's attributes.
    """
    out: list[LedgerWarning] = []
    for result in results:
        name = result.epoch.name
        attrs = result.cube.cube.attrs
        dropped = [s for s in str(attrs.get("scenes_left_out", "")).split("; ") if s]
        unmasked = [s for s in str(attrs.get("scenes_unmasked", "")).split("; ") if s]
        messages = {
            "scene-dropped": _(
                "{n} scene(s) left out of the {epoch} composite — {scenes}: the composite, "
                "land cover and biomass rest on the other scenes"
            ).format(n=len(dropped), epoch=name, scenes="; ".join(dropped)),
            "clouds-unmasked": _(
                "{n} scene(s) of {epoch} have no quality band, so their clouds, shadows and "
                "snow enter the median composite unmasked ({scenes}): add the quality band "
                "(Sentinel-2 SCL, Landsat QA_PIXEL) or a clear scene"
            ).format(n=len(unmasked), epoch=name, scenes=", ".join(unmasked)),
        }
        where = _("epoch {name} imagery").format(name=name)
        for code, found in (("scene-dropped", dropped), ("clouds-unmasked", unmasked)):
            if found:
                out.append(LedgerWarning(code, messages[code], where=where))
    return out


def ledger_warnings(
    ctx: RunContext,
    results: Sequence[EpochResults],
    *,
    counted_stocks: Sequence[pd.DataFrame] | None = None,
    counted_change_mg_ha: float | None = None,
) -> list[LedgerWarning]:
    """Warnings of the stages that matter to the claim (docs/design.md §7).

    A boundary polygon repaired on reading, cells outside every biomass
    model's area of applicability (predicted by the imagery model and
    counted), cells no model predicts, cores shallower than the counted soil
    depth (extrapolated), and a SOC change below the minimum detectable
    difference of the core sample (docs/methodology.md §3.5): of the values
    the ledger counts (``counted_stocks``, the first and last epochs' core
    tables whose 0–D column holds them, and ``counted_change_mg_ha``, their
    kriged mean change) when given, else of the fixed-depth stocks.
    """
    from carbonsink.soil.core_stocks import depth_label
    from carbonsink.soil.detectability import check_detectable

    depth = float(ctx.profile.soil_depth_cm)
    label = depth_label(depth)
    out = [
        LedgerWarning("boundary-repaired", str(shown(repair)), where=ctx.boundary.path.name)
        for repair in ctx.boundary.repairs
    ]
    out += imagery_warnings(results)
    out += terrain_warnings(ctx, results)
    for result in results:
        name = result.epoch.name
        at_epoch = _("epoch {name}").format(name=name)
        layers = result.biomass.layers
        cube = result.cube.cube
        inside = cube["inside_boundary"].values.astype(bool)
        area = cube["cell_area_ha"].values
        agb = np.nan_to_num(layers["agb_mg_ha"].values.astype(np.float64))
        outside = layers["agb_outside_aoa"].values.astype(bool) & inside
        if outside.any():
            share = float((agb * area)[outside].sum() / max((agb * area)[inside].sum(), 1e-12))
            out.append(
                LedgerWarning(
                    "outside-aoa",
                    _(
                        "{cells:,} cells ({ha:,.1f} ha, {share:.0%} of the mapped AGB) are "
                        "outside the area of applicability of every biomass model (Meyer & "
                        "Pebesma 2021); the imagery model predicts them and they are counted, "
                        "flagged in agb_outside_aoa, with an error in the stratum's "
                        "uncertainty (docs/methodology.md §6.4)"
                    ).format(cells=int(outside.sum()), ha=float(area[outside].sum()), share=share),
                    where=at_epoch,
                )
            )
        unpredicted = inside & (layers["agb_model"].values == 0)
        if unpredicted.any():
            out.append(
                LedgerWarning(
                    "agb-unmapped",
                    _(
                        "{cells:,} cells ({ha:,.1f} ha) inside the project have no AGB "
                        "prediction and add nothing to the stocks"
                    ).format(cells=int(unpredicted.sum()), ha=float(area[unpredicted].sum())),
                    where=at_epoch,
                )
            )
        if result.epoch.soil is not None:
            out += soil_gap_warnings(
                result.core_stocks, epoch=name, path=result.epoch.soil.path.name
            )
        flag = f"extrapolated_0_{label}"
        if flag in result.core_stocks:
            extrapolated = result.core_stocks.index[result.core_stocks[flag].astype(bool)]
            if len(extrapolated):
                ids = ", ".join(map(str, extrapolated[:8])) + (
                    ", ..." if len(extrapolated) > 8 else ""
                )
                out.append(
                    LedgerWarning(
                        "extrapolated-cores",
                        _(
                            "{n} of {cores} cores are shallower than {depth} cm; their "
                            "0–{depth} cm stock is extrapolated below the deepest layer ({ids})"
                        ).format(
                            n=len(extrapolated),
                            cores=len(result.core_stocks),
                            depth=label,
                            ids=ids,
                        ),
                        where=_("epoch {name} soil cores").format(name=name),
                    )
                )
    out += _dom_warnings(ctx, results)
    if len(results) >= 2:
        first, last = results[0], results[-1]
        column = soc_column(depth)
        tables = counted_stocks or (first.core_stocks, last.core_stocks)
        a = tables[0][column].to_numpy(dtype=np.float64)
        b = tables[-1][column].to_numpy(dtype=np.float64)
        pooled_sd = float(np.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2.0))
        delta = (
            counted_change_mg_ha
            if counted_change_mg_ha is not None
            else last.soc_blocks[depth].mean_mg_ha - first.soc_blocks[depth].mean_mg_ha
        )
        check = check_detectable(delta, pooled_sd, min(len(a), len(b)), alpha=0.10)
        if check.warning is not None:
            out.append(
                LedgerWarning(
                    "below-mdd",
                    _(
                        "{finding}; the SOC sink rests on the kriged totals, not on a "
                        "detectable difference of the core means"
                    ).format(finding=check.warning),
                    where=_("SOC 0–{depth} cm, {first} → {last}").format(
                        depth=label, first=first.epoch.name, last=last.epoch.name
                    ),
                )
            )
    return out


def default_flux_warnings(
    ctx: RunContext, parameters: Mapping[str, ClassParameters], last: EpochInputs
) -> list[LedgerWarning]:
    """Classes on the ground whose CH4 or N2O flux is the profile's default factor, not measured.

    A default stands in for a measurement the survey did not make; the
    ledger names the classes, their area in the last epoch and the factor.
    """
    from carbonsink.accounting.parameters import survey_class_flux

    out = []
    classes = ctx.survey.vegetation.classes

    def factor(name: str, gas: Gas) -> float:
        return survey_class_flux(name, classes[name], ctx.profile).resolve(gas, class_name=name)[0]

    gases: tuple[Gas, ...] = ("CH4", "N2O")
    for gas in gases:
        used = [
            name
            for name, p in parameters.items()
            if getattr(p, f"{gas.lower()}_source") == "default factor"
            and last.class_area_ha.get(name, (0.0, 0.0))[0] > 0
        ]
        if not used:
            continue
        named = ", ".join(
            f"{name} ({last.class_area_ha[name][0]:,.1f} ha, "
            f"{factor(name, gas):g} mg {gas} m⁻² d⁻¹)"
            for name in used
        )
        out.append(
            LedgerWarning(
                "default-flux",
                _(
                    "the {gas} flux of class(es) {classes} is the {profile} profile's default "
                    "factor, with a 50 % SD: no flux was measured or configured for them "
                    "(set {setting}, or a measured flux table, per class)"
                ).format(
                    gas=gas,
                    classes=named,
                    profile=ctx.profile.name,
                    setting=f"{gas.lower()}_flux_mg_m2_d",
                ),
                where=_("{gas}, epoch {name}").format(gas=gas, name=last.name),
            )
        )
    return out


def _dom_warnings(ctx: RunContext, results: Sequence[EpochResults]) -> list[LedgerWarning]:
    """Dead organic matter measured in some epochs only, or through the pooled ratio."""
    from carbonsink.biomass.dom import DEAD_COLUMN, MIN_RATIO_PLOTS, POOLED

    if "dom" not in ctx.profile.pools:
        return []
    out: list[LedgerWarning] = []
    for result in results:
        dom = result.biomass.dom
        if dom is not None and "dom_outside_aoa" in dom.layers:
            inside = result.cube.cube["inside_boundary"].values.astype(bool)
            outside = dom.layers["dom_outside_aoa"].values.astype(bool) & inside
            if outside.any():
                out.append(
                    LedgerWarning(
                        "outside-aoa",
                        _(
                            "{cells:,} cells are outside the area of applicability of the "
                            "dead-organic-matter model (Meyer & Pebesma 2021); it predicts "
                            "them and they are counted, flagged in dom_outside_aoa"
                        ).format(cells=int(outside.sum())),
                        where=_("epoch {name} dead organic matter").format(name=result.epoch.name),
                    )
                )
        if dom is None or dom.ratios is None:
            continue
        pooled = sorted(c for c, g in dom.ratios.group_of.items() if g == POOLED)
        agb = result.biomass.layers["agb_mg_ha"].values
        codes = ctx.survey.vegetation.classes
        with_biomass = [
            c
            for c in pooled
            if np.nansum(np.where(result.cube.cube["landcover"].values == codes[c].code, agb, 0))
            > 0
        ]
        if with_biomass:
            ratio, se = dom.ratios.ratios[POOLED]
            out.append(
                LedgerWarning(
                    "dom-pooled-ratio",
                    _(
                        "no dead:live ratio of their own for class(es) {classes} — a class needs "
                        "{needed} plots carrying {column}, with live AGB: their dead organic "
                        "matter takes the ratio of all plots, {ratio:.3f} ± {se:.3f} (SE, "
                        "widened by the spread of the classes' own ratios, {sd:.3f})"
                    ).format(
                        classes=_(", ").join(
                            _("{key} ({label})").format(
                                key=c, label=shown(dom.ratios.why_pooled[c])
                            )
                            for c in with_biomass
                        ),
                        needed=MIN_RATIO_PLOTS,
                        column=DEAD_COLUMN,
                        ratio=ratio,
                        se=se,
                        sd=dom.ratios.between_class_sd,
                    ),
                    where=_("epoch {name}").format(name=result.epoch.name),
                )
            )
    return out


def survey_ledger(
    ctx: RunContext,
    results: Sequence[EpochResults],
    *,
    inputs: Sequence[EpochInputs] | None = None,
    logged: Sequence[tuple[Message, Sequence[LoggedLine]]] = (),
    arguments: LedgerArguments | None = None,
) -> Ledger:
    """The survey's ledger from its epochs' stage results (earliest first).

    Parameters
    ----------
    ctx
        The run (legend, profile, price, baseline, draws, seed).
    results
        Each epoch's stage results, in date order.
    inputs
        The epochs' :func:`epoch_ledger_inputs`, when already computed (e.g.
        from a run's cache); computed here otherwise.
    logged
        (where, lines) of the WARNING lines the stages logged
        (:func:`~.logged.capture`): ledger warnings of their own
        (:func:`~.logged.logged_warnings`).
    arguments
        The epochs' :func:`~.ledger_arguments.ledger_arguments`, when already
        computed (a run keeps them for its sampling design); ``inputs`` is
        then not used.

    Notes
    -----
    The SOC totals of the strata are block-kriged per stratum, the first
    and last epochs jointly (:func:`~.ledger_soil.soc_quantities`): their covariance
    within and between the epochs replaces the survey-wide block SE.
    """
    from carbonsink.accounting.non_co2 import ch4_sensitivity
    from carbonsink.accounting.parameters import class_parameters, survey_class_flux

    profile = ctx.profile.in_language()  # its texts in the run's language
    if arguments is None:
        if inputs is None:
            strata_map = results[-1].cube.cube["landcover"].values
            inputs = [epoch_ledger_inputs(ctx, r, strata_map) for r in results]
        arguments = ledger_arguments(ctx, results, inputs, depth=float(profile.soil_depth_cm))
    inputs, basis, blocks = arguments.inputs, arguments.basis, arguments.blocks
    section = ctx.survey.accounting
    polygon = ctx.boundary.fingerprint()
    inside = ctx.inside.values.astype(bool)
    polygon["area_ha"] = float(ctx.cell_area_ha.values[inside].sum())
    parameters = class_parameters(ctx.survey.vegetation.classes, profile)
    ledger = build_ledger(
        inputs,
        parameters,
        profile=profile,
        seed=ctx.seed,
        n_draws=section.mc_draws,
        baseline_t_co2e_yr=section.baseline_removals_t_co2e_yr,
        price_per_t=section.price_cny_per_t,
        currency="CNY",
        warnings=ledger_warnings(
            ctx,
            results,
            counted_stocks=basis.stocks,
            counted_change_mg_ha=basis.mean_change_mg_ha,
        )
        + arguments.soil_warnings
        + default_flux_warnings(ctx, parameters, inputs[-1])
        + [w for where, lines in logged for w in logged_warnings(where, lines)],
        notes=[_("dead organic matter: {choice}").format(choice=shown(ctx.dom_choice[1]))]
        if "dom" in profile.pools and all(r.biomass.dom is not None for r in results)
        else [],
        polygon=polygon,
        error_covariance=arguments.error_covariance,
        benefit_100yr_t_co2e=section.benefit_100yr_t_co2e,
        budget=True,
    )
    ledger = dataclasses.replace(
        ledger,
        extra={
            **ledger.extra,
            "soc_strata": blocks.to_dict(),
            "outside_aoa_shared": arguments.outside_shared,
            **(
                {"outside_aoa_shared_pairs": arguments.outside_pairs}
                if arguments.outside_pairs
                else {}
            ),
            "soil_change": basis.summary,
            **(
                {"soil_method_calibration": calibration.to_dict()}
                if method_change(ctx, results) is not None
                and (calibration := method_calibration(ctx)) is not None
                else {}
            ),
            "lidar": {
                r.epoch.name: {
                    **r.cube.lidar.water,
                    "detection": _(r.cube.lidar.water.get("detection", "")),
                    "dtm_check": dtm_check(r),
                    "terrain_unsupported_ha": unsupported_ha(r.cube.lidar, ctx),
                }
                for r in results
                if r.cube.lidar is not None
            },
        },
    )
    if ledger.single_epoch:
        return ledger
    fluxes = {
        name: survey_class_flux(name, params, profile)
        for name, params in ctx.survey.vegetation.classes.items()
    }
    areas = {c: a for c, (a, _) in inputs[-1].class_area_ha.items() if c in fluxes}
    sensitivity = ch4_sensitivity(
        ledger.chains["total"].removals.mean, areas, fluxes, gwp=profile.gwp
    )
    return dataclasses.replace(
        ledger, extra={**ledger.extra, "ch4_sensitivity": sensitivity.to_dict()}
    )


def write_ledger(ledger: Ledger, folder: OutputFolder) -> list[Path]:
    """Write ``ledger.json`` and its tables (strata, vintages, CH4 sensitivity)."""
    paths = [write_json(ledger.to_dict(), folder.path("ledger"))]
    paths.append(write_csv(ledger.strata.reset_index(), folder.path("table_ledger_strata")))
    if not ledger.vintages.empty:
        paths.append(write_csv(ledger.vintages, folder.path("table_ledger_vintages")))
    budget = ledger.extra.get("u_budget")
    if budget is not None:
        paths.append(write_csv(pd.DataFrame(budget["groups"]), folder.path("table_u_budget")))
    sensitivity = ledger.extra.get("ch4_sensitivity")
    if sensitivity is not None:
        paths.append(
            write_csv(pd.DataFrame(sensitivity["table"]), folder.path("table_ch4_sensitivity"))
        )
    return paths
