"""Spatial-block bootstrap of a biomass model's mapped AGB total (docs/methodology.md §6).

The AGB total of a survey is a sum of model predictions, so its uncertainty is
mostly that of the model fit: another sample of plots would have given another
model and another total. The bootstrap estimates that spread by refitting the
model on resampled plots and summing each refit's predictions over the cells
the model maps (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*,
ch. 6; docs/methodology.md §6: B = 200–1,000).

Plots close to each other share their residuals (the same patch of dense or
thin vegetation, the same flood history). Resampling plots one by one treats
``n`` correlated plots as ``n`` independent ones and understates the spread;
resampling whole square blocks about as large as the residual variogram
range keeps each cluster of correlated plots together (the moving/non-
overlapping block bootstrap of Künsch 1989, *Ann. Stat.* 17:1217–1241, and
Lahiri 2003, *Resampling Methods for Dependent Data*, ch. 2 and 12 for
spatial blocks), so each replicate varies as much as an independent sample of
blocks would.

Only the totals of each replicate are kept (per stratum and over all cells),
never a replicate's map, so memory does not grow with the number of
replicates; predictions are made in chunks of rows.

Predicting every cell in every replicate makes the bootstrap's cost grow with
the area (200 replicates × 50 trees × every cell). A stratum larger than
``cells_per_stratum`` cells is therefore summed over a fixed random sample of
its cells, expanded by area (the ratio estimator of a simple random sample,
Cochran 1977, *Sampling Techniques*, §6.2): the same sample in every
replicate, so the sampling error of the map's own total is one shift common
to all replicates, and the spread between replicates — what the bootstrap
measures — gains only the sampling noise of each replicate's *departure*
from the others (docs/methodology.md §6.4, eq. 6.8s: on the 43.5 km²
generator survey the keys' SDs at 20,000 cells were 0.994–1.036 of the
every-cell SDs).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from carbonsink.biomass.estimators import ESTIMATORS, make_estimator
from carbonsink.biomass.features import feature_matrix
from carbonsink.errors import ConfigError, InputError, ModelError
from carbonsink.i18n import deferred
from carbonsink.spatial.blocks import block_ids

__all__ = ["AgbBootstrap", "bootstrap_agb_totals"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Rows predicted at a time (bounds the memory of one prediction).
_PREDICT_ROWS = 100_000
#: Replicates per task sent to an executor.
_REPLICATES_PER_TASK = 10
#: Below this many blocks the bootstrap distribution is coarse; a warning says so.
_FEW_BLOCKS = 10
#: Cells of a stratum predicted in each replicate; a larger stratum is sampled (eq. 6.8s).
CELLS_PER_STRATUM = 20_000
#: Second entropy word of a stratum's cell-sample stream, ``SeedSequence([seed, tag,
#: code])``: not a descendant of ``SeedSequence(seed)``, whose children (r,) and
#: grandchildren (r, i) are the replicates' streams.
_CELL_SAMPLE_TAG = 0x63656C6C  # "cell"


def _summary(values: FloatArray) -> dict[str, float | None]:
    """Mean, SD (B − 1), CV and the 5th/95th percentiles of bootstrap replicates."""
    mean = float(np.mean(values))
    sd = float(np.std(values, ddof=1))
    return {
        "mean": mean,
        "sd": sd,
        "cv": sd / abs(mean) if mean != 0.0 else None,
        "p05": float(np.percentile(values, 5.0)),
        "p95": float(np.percentile(values, 95.0)),
    }


@dataclass(frozen=True)
class AgbBootstrap:
    """The bootstrap replicates of a model's AGB total, over all its cells and per stratum.

    Attributes
    ----------
    totals_t_dm
        Shape ``(replicates,)``: Σ AGB × cell area over the model's cells of
        each replicate (eq. 6.8s in a stratum of more than ``cells_per_stratum``
        cells), t DM (= Mg DM).
    stratum_totals_t_dm
        One row per replicate (index ``replicate``), one column per stratum
        code present in the cells, t DM; each row sums to ``totals_t_dm``.
    block_m
        Side of the square resampling blocks, m.
    replicates
        Number of bootstrap replicates B.
    seed
        Root seed of the replicate streams.
    n_blocks
        Blocks holding at least one plot (drawn ``n_blocks`` times per replicate).
    n_plots
        Plots in the fitting table.
    estimator_name, n_estimators
        The refitted estimator (:func:`~carbonsink.biomass.estimators.make_estimator`).
    n_cells
        Cells the model maps (the cells the totals are of).
    cells_predicted
        Cells each replicate predicts: every cell of a stratum of at most
        ``cells_per_stratum`` cells, a fixed sample of that many of a larger one.
    cells_per_stratum
        The cap (``None``: every cell is predicted).
    """

    totals_t_dm: FloatArray
    stratum_totals_t_dm: pd.DataFrame
    block_m: float
    replicates: int
    seed: int
    n_blocks: int
    n_plots: int
    estimator_name: str
    n_estimators: int
    n_cells: int
    cells_predicted: int
    cells_per_stratum: int | None

    def to_dict(self) -> dict[str, Any]:
        """Settings and summaries (mean, SD, CV, 5 and 95 % percentiles), JSON-ready.

        ``cv`` is ``None`` for a stratum whose mean total is 0.
        """
        return {
            "replicates": self.replicates,
            "seed": self.seed,
            "block_m": self.block_m,
            "n_blocks": self.n_blocks,
            "n_plots": self.n_plots,
            "estimator": self.estimator_name,
            "n_estimators": self.n_estimators,
            "n_cells": self.n_cells,
            "cells_predicted": self.cells_predicted,
            "cells_per_stratum": self.cells_per_stratum,
            "units": "t DM",
            "total_t_dm": _summary(self.totals_t_dm),
            "strata_t_dm": {
                str(code): _summary(self.stratum_totals_t_dm[code].to_numpy(dtype=np.float64))
                for code in self.stratum_totals_t_dm.columns
            },
        }


def _check_settings(*, replicates: int, seed: int, n_estimators: int, estimator_name: str) -> None:
    """Raise a ConfigError for a setting that is not a usable value."""
    checks = (
        (
            "replicates",
            replicates,
            2,
            "give at least 2 replicates (docs/methodology.md §6: 200–1,000)",
        ),
        ("seed", seed, 0, "give a non-negative integer seed, e.g. the survey seed"),
        ("n_estimators", n_estimators, 1, "give the number of trees, e.g. 100"),
    )
    for label, value, lowest, fix in checks:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lowest:
            raise ConfigError(
                f"the bootstrap's {label} must be an integer ≥ {lowest}, got {value!r}",
                where=label,
                fix=fix,
            )
    if estimator_name not in ESTIMATORS:
        make_estimator(estimator_name)  # raises the registry's ConfigError


def _plot_arrays(
    plot_table: pd.DataFrame, features: Sequence[str], target: str
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Features, the measured quantity and coordinates of the plots, checked to be complete."""
    needed = ["x", "y", target, *features]
    missing = [c for c in needed if c not in plot_table.columns]
    if missing:
        raise InputError(
            f"the plot table lacks column(s) {', '.join(missing)}",
            where="plot features",
            fix=f"pass the PlotFeatures.table of the model (x, y, {target} and its features)",
        )
    values = plot_table[needed].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        labels = [str(label) for label in plot_table.index[bad][:5]]
        raise InputError(
            f"{int(bad.sum())} plot(s) have a missing or non-numeric value of "
            f"{', '.join(needed)} (plot {', '.join(labels)}"
            f"{', ...' if bad.sum() > 5 else ''})",
            where="plot features",
            fix="use the plots kept by plot_features (its table has no gaps)",
        )
    if len(values) < 2:
        raise InputError(
            f"the plot table has {len(values)} plot(s); a bootstrap needs at least 2",
            where="plot features",
            fix="fit the model on more plots",
        )
    return values[:, 3:], values[:, 2], values[:, 0], values[:, 1]


def _cell_arrays(
    cube: xr.Dataset,
    features: Sequence[str],
    *,
    strata: npt.ArrayLike,
    cell_area_ha: npt.ArrayLike,
    cells: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Features, areas and stratum positions of the mapped cells, and the stratum codes."""
    missing = [f for f in features if f not in cube.data_vars]
    if missing:
        raise InputError(
            f"feature(s) {', '.join(missing)} are not in the cube",
            fix="bootstrap with the cube the model was fitted on",
        )
    shape = (cube.sizes["y"], cube.sizes["x"])
    mask = np.asarray(cells)
    if mask.shape != shape or mask.dtype != np.bool_:
        raise InputError(
            f"the cells mask is a {mask.dtype} array of shape {mask.shape}; a boolean array "
            f"of the cube's shape {shape} is needed",
            fix="pass e.g. agb_layers['agb_model'].values == 2 for the imagery model's cells",
        )
    flat = mask.ravel()
    if not flat.any():
        raise InputError(
            "the cells mask selects no cell",
            fix="pass the cells the model maps (agb_model == code)",
        )
    area = np.asarray(cell_area_ha, dtype=np.float64)
    if area.ndim == 0:
        area = np.full(shape, float(area))
    if area.shape != shape:
        raise InputError(
            f"cell_area_ha has shape {area.shape}, the cube {shape}",
            fix="pass Grid.cell_area_ha (true cell areas on the cube's grid) or one number",
        )
    cell_area = area.ravel()[flat]
    if not (np.isfinite(cell_area) & (cell_area > 0)).all():
        raise InputError(
            "cell_area_ha is missing, zero or negative in some of the cells",
            fix="pass the true cell areas in ha (Grid.cell_area_ha)",
        )
    codes = np.asarray(strata)
    if codes.shape != shape:
        raise InputError(
            f"the strata array has shape {codes.shape}, the cube {shape}",
            fix="pass the (y, x) class codes, e.g. the cube's landcover layer",
        )
    cell_codes = codes.ravel()[flat]
    if cell_codes.dtype.kind not in "iub":
        numeric = cell_codes.astype(np.float64)
        if not (np.isfinite(numeric) & (numeric == np.round(numeric))).all():
            raise InputError(
                "the strata hold missing or non-integer class codes in some of the cells",
                fix="pass integer class codes for every mapped cell",
            )
        cell_codes = numeric
    stratum_codes, position = np.unique(cell_codes.astype(np.int64), return_inverse=True)
    X, complete = feature_matrix(cube, list(features), rows=flat)
    if not complete.all():
        raise InputError(
            f"{int((~complete).sum())} of the {int(flat.sum())} cells lack a value of a "
            f"feature ({', '.join(features)})",
            fix="bootstrap only the cells this model predicted (agb_model == its code)",
        )
    return (
        X,
        cell_area,
        np.asarray(position, dtype=np.int64).ravel(),
        stratum_codes.astype(np.int64),
    )


def _cell_sample(
    stratum_index: npt.NDArray[np.int64],
    area_ha: FloatArray,
    codes: npt.NDArray[np.int64],
    *,
    cap: int | None,
    seed: int,
) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """The cells every replicate predicts and their weights, ha (eq. 6.8s).

    A stratum of at most ``cap`` cells keeps every cell at its area; a larger
    one keeps ``cap`` cells drawn without replacement, each weighted by its
    area × (the stratum's area / the sample's area), so the weights of each
    stratum add up to its area. Each stratum draws from its own stream,
    ``SeedSequence([seed, tag, code])``, so its sample does not depend on
    which other strata are bootstrapped. Rows are returned in the cells' order.
    """
    order = np.argsort(stratum_index, kind="stable")
    bounds = np.searchsorted(stratum_index[order], np.arange(len(codes) + 1))
    weight = np.zeros(len(stratum_index))
    for k, code in enumerate(codes):
        members = order[bounds[k] : bounds[k + 1]]
        if cap is None or len(members) <= cap:
            weight[members] = area_ha[members]
            continue
        stream = np.random.SeedSequence([seed, _CELL_SAMPLE_TAG, int(code) % 2**64])
        chosen = np.random.default_rng(stream).choice(members, size=cap, replace=False)
        weight[chosen] = area_ha[chosen] * (area_ha[members].sum() / area_ha[chosen].sum())
    rows = np.flatnonzero(weight > 0)
    return rows, weight[rows]


@dataclass(frozen=True)
class _ReplicateJob:
    """What a replicate needs, sent once per batch to a worker process."""

    X_plots: FloatArray
    agb_mg_ha: FloatArray
    block_members: tuple[npt.NDArray[np.intp], ...]
    X_cells: FloatArray
    cell_weight_ha: FloatArray
    stratum_index: npt.NDArray[np.int64]
    n_strata: int
    estimator_name: str
    n_estimators: int
    seed: int


def _run_replicates(job: _ReplicateJob, replicates: range) -> list[tuple[float, FloatArray]]:
    """Total and per-stratum totals (t DM) of each replicate of ``replicates``."""
    n_blocks = len(job.block_members)
    results: list[tuple[float, FloatArray]] = []
    for r in replicates:
        # The r-th child of SeedSequence(seed), i.e. SeedSequence(seed).spawn(B)[r].
        draw_stream, model_stream = np.random.SeedSequence(job.seed, spawn_key=(r,)).spawn(2)
        drawn = np.random.default_rng(draw_stream).integers(0, n_blocks, size=n_blocks)
        rows = np.concatenate([job.block_members[b] for b in drawn])
        random_state = int(model_stream.generate_state(1, dtype=np.uint32)[0])
        try:
            estimator = make_estimator(
                job.estimator_name, n_estimators=job.n_estimators, random_state=random_state
            ).fit(job.X_plots[rows], job.agb_mg_ha[rows])
        except ValueError as error:
            raise ModelError(
                f"bootstrap replicate {r} ({len(rows)} plots from {n_blocks} drawn blocks, "
                f"{len(np.unique(rows))} distinct) could not be fitted: {error}",
                where=f"replicate {r}",
                fix="use smaller blocks or a model that needs fewer plots",
            ) from error
        agb_mg_ha = np.concatenate(
            [
                estimator.predict(job.X_cells[start : start + _PREDICT_ROWS])
                for start in range(0, len(job.X_cells), _PREDICT_ROWS)
            ]
        )
        # One sum per stratum over its rows in order: a stratum's total does not depend on
        # which other strata's cells are predicted beside it.
        stratum_total = np.bincount(
            job.stratum_index, weights=agb_mg_ha * job.cell_weight_ha, minlength=job.n_strata
        ).astype(np.float64, copy=False)
        results.append((float(stratum_total.sum()), stratum_total))
    return results


def bootstrap_agb_totals(
    cube: xr.Dataset,
    plot_table: pd.DataFrame,
    *,
    features: Sequence[str],
    estimator_name: str = "random-forest",
    n_estimators: int = 100,
    block_m: float,
    replicates: int = 200,
    seed: int,
    strata: npt.ArrayLike,
    cell_area_ha: npt.ArrayLike,
    cells: npt.ArrayLike,
    executor: Executor | None = None,
    target: str = "agb_mg_ha",
    cells_per_stratum: int | None = CELLS_PER_STRATUM,
) -> AgbBootstrap:
    """Spatial-block bootstrap of the AGB total a model maps, overall and per stratum.

    Parameters
    ----------
    cube
        The epoch's per-pixel layers (the features of the model).
    plot_table
        The model's plot features (:attr:`PlotFeatures.table`): ``x``, ``y``
        (grid CRS, m), the ``target`` and one column per feature.
    features
        The model's features, in its column order.
    estimator_name, n_estimators
        The estimator refitted in each replicate (registry name and size).
    block_m
        Side of the square resampling blocks, m: about the residual
        variogram range (the model's CV block). A side smaller than the
        plot spacing resamples single plots (the i.i.d. bootstrap).
    replicates
        Number of bootstrap replicates B.
    seed
        Root seed: the same seed gives the same replicates, and the first k
        replicates of a run with B > k are those of a run with B = k.
    strata
        ``(y, x)`` integer class codes (e.g. the ``landcover`` layer).
    cell_area_ha
        ``(y, x)`` true cell areas, ha (or one number for all cells).
    cells
        ``(y, x)`` boolean mask of the cells this model maps (e.g.
        ``agb_model == 2`` for the imagery model); every one must have all
        the features.
    executor
        A process pool (:func:`carbonsink.pipeline.local_executor`) or a
        Dask client's ``get_executor()`` to run batches of replicates in
        parallel; ``None`` runs them serially. Results do not depend on it.
        (Threads do not help: a forest's fit on a hundred plots is bound by
        Python overhead per tree, not by the GIL-free tree building.)
    target
        The plot table's column the model predicts, Mg DM/ha (``agb_mg_ha``;
        ``dom_mg_ha`` for dead organic matter modelled like AGB).
    cells_per_stratum
        Cells of a stratum each replicate predicts: a stratum with more is
        summed over a fixed random sample of this many (eq. 6.8s below);
        ``None`` predicts every cell. The sample of a stratum depends on
        ``seed`` and its code only.

    Returns
    -------
    AgbBootstrap

    Raises
    ------
    ConfigError
        ``replicates`` < 2, a negative seed, ``n_estimators`` < 1, a block
        size that is not a finite number, or an unknown estimator.
    InputError
        A missing or incomplete plot column, masks or areas not on the
        cube's grid, a mapped cell without a feature or without an integer
        stratum code, or fewer than 2 blocks holding plots.
    ModelError
        A replicate's refit fails (e.g. too few distinct plots drawn).

    Notes
    -----
    Blocks: plot *i* lies in block b(i) = (⌊x_i / block_m⌋, ⌊y_i / block_m⌋)
    (:func:`~carbonsink.spatial.blocks.block_ids`); K blocks hold plots.
    Replicate r draws K blocks with replacement, uniformly; its training set
    is every plot of every drawn block (a block drawn twice enters twice), so
    plots keep their block and the number of plots varies between
    replicates. It refits f̂_r and sums over the model's cells C

        T_r = Σ_{c ∈ C} f̂_r(x_c) · A_c,        T_{r,s} = Σ_{c ∈ C, s(c) = s} f̂_r(x_c) · A_c,

    with f̂_r in Mg DM/ha and A_c the true cell area in ha, so T in t DM.
    The spread of T_1 … T_B estimates the sampling error of the mapped total
    (docs/methodology.md §6; block bootstrap: Künsch 1989, *Ann. Stat.*
    17:1217–1241; Lahiri 2003, *Resampling Methods for Dependent Data*).

    A stratum s of N_s > ``cells_per_stratum`` = m cells is summed over a
    simple random sample S_s of m of its cells, the same in every replicate,
    by the ratio estimator (Cochran 1977, *Sampling Techniques*, §6.2)::

        T̂_{r,s} = (Σ_{c ∈ C_s} A_c / Σ_{c ∈ S_s} A_c) · Σ_{c ∈ S_s} f̂_r(x_c) · A_c     (6.8s)

    Its sampling error splits into the error of the sample for the mean
    prediction, one shift common to all replicates (the ledger uses the
    replicates' departures from their mean, docs/methodology.md eq. 6.2),
    and the error for each replicate's departure f̂_r − f̄, which adds
    about Var_cells((f̂_r − f̄) · A_c) · N_s² / m · (1 − m / N_s) (t²) to the
    replicates' variance. The cap applies to each model's cells of a
    stratum (a map's key is the sum of its models' bootstraps).

    Replicate streams: replicate r uses the r-th child of
    ``SeedSequence(seed)`` (``SeedSequence(seed).spawn(B)[r]``), which spawns
    one stream for the block draws and one 32-bit ``random_state`` for the
    estimator, so replicates are independent and reproducible whatever the
    executor.
    """
    _check_settings(
        replicates=replicates,
        seed=seed,
        n_estimators=n_estimators,
        estimator_name=estimator_name,
    )
    if not (isinstance(block_m, int | float | np.floating) and math.isfinite(block_m)):
        raise ConfigError(
            f"the bootstrap block size must be a finite number of metres, got {block_m!r}",
            where="block_m",
            fix="give the residual variogram range (the model's CV block), e.g. 200",
        )
    X_plots, agb, px, py = _plot_arrays(plot_table, features, target)
    if cells_per_stratum is not None and (
        isinstance(cells_per_stratum, bool)
        or not isinstance(cells_per_stratum, int | np.integer)
        or cells_per_stratum < 1
    ):
        raise ConfigError(
            f"the bootstrap's cells per stratum must be a positive integer or None, got "
            f"{cells_per_stratum!r}",
            where="cells_per_stratum",
            fix=f"give e.g. {CELLS_PER_STRATUM}, or None to predict every cell",
        )
    X_all, area_all, stratum_index_all, stratum_codes = _cell_arrays(
        cube, features, strata=strata, cell_area_ha=cell_area_ha, cells=cells
    )
    rows, weight = _cell_sample(
        stratum_index_all, area_all, stratum_codes, cap=cells_per_stratum, seed=int(seed)
    )
    X_cells, stratum_index = X_all[rows], stratum_index_all[rows]
    del X_all
    plot_blocks = block_ids(px, py, block_m=float(block_m))
    n_blocks = int(plot_blocks.max()) + 1
    if n_blocks < 2:
        raise InputError(
            f"all {len(agb)} plots lie in one {block_m:g} m block: resampling it gives no spread",
            where="plot features",
            fix="use smaller blocks (at least 2, better ≥ 10, blocks holding plots)",
        )
    if n_blocks < _FEW_BLOCKS:
        logger.warning(
            deferred(
                "AGB bootstrap: only {n} blocks of {size:g} m hold plots; the bootstrap "
                "distribution is coarse and its spread biased low",
                n=n_blocks,
                size=float(block_m),
            )
        )
    order = np.argsort(plot_blocks, kind="stable")
    starts = np.searchsorted(plot_blocks[order], np.arange(n_blocks + 1))
    job = _ReplicateJob(
        X_plots=X_plots,
        agb_mg_ha=agb,
        block_members=tuple(order[starts[b] : starts[b + 1]] for b in range(n_blocks)),
        X_cells=X_cells,
        cell_weight_ha=weight,
        stratum_index=stratum_index,
        n_strata=len(stratum_codes),
        estimator_name=estimator_name,
        n_estimators=n_estimators,
        seed=int(seed),
    )
    batches = [
        range(first, min(first + _REPLICATES_PER_TASK, replicates))
        for first in range(0, replicates, _REPLICATES_PER_TASK)
    ]
    started = time.perf_counter()
    if executor is None or len(batches) == 1:
        parts = [_run_replicates(job, batch) for batch in batches]
    else:
        futures = [executor.submit(_run_replicates, job, batch) for batch in batches]
        parts = [future.result() for future in futures]
    elapsed = time.perf_counter() - started
    results = [row for part in parts for row in part]
    totals = np.array([total for total, _ in results], dtype=np.float64)
    per_stratum = pd.DataFrame(
        np.stack([by_stratum for _, by_stratum in results]),
        index=pd.RangeIndex(replicates, name="replicate"),
        columns=pd.Index(stratum_codes.tolist(), name="stratum"),
    )
    logger.info(
        "AGB bootstrap (%s, %d trees): %d replicates of %d blocks (%g m, %d plots) over %d "
        "cells (%d predicted) in %.1f s (%.2f s each); total %.1f ± %.1f t DM",
        estimator_name,
        n_estimators,
        replicates,
        n_blocks,
        block_m,
        len(agb),
        len(area_all),
        len(X_cells),
        elapsed,
        elapsed / replicates,
        float(totals.mean()),
        float(totals.std(ddof=1)),
    )
    return AgbBootstrap(
        totals_t_dm=totals,
        stratum_totals_t_dm=per_stratum,
        block_m=float(block_m),
        replicates=replicates,
        seed=int(seed),
        n_blocks=n_blocks,
        n_plots=len(agb),
        estimator_name=estimator_name,
        n_estimators=n_estimators,
        n_cells=len(area_all),
        cells_predicted=len(rows),
        cells_per_stratum=None if cells_per_stratum is None else int(cells_per_stratum),
    )
