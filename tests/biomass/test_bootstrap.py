"""Spatial-block bootstrap of the mapped AGB total (carbonsink.biomass.bootstrap)."""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import xarray as xr
from scipy.ndimage import gaussian_filter

from carbonsink.biomass.bootstrap import AgbBootstrap, bootstrap_agb_totals
from carbonsink.errors import ConfigError, InputError

RES_M = 10.0


# ------------------------------------------------------------ hand-computed totals
def _tiny_case() -> dict[str, Any]:
    """A 2 × 3 cube and six plots on the exact power law AGB = 2 h (Mg DM/ha)."""
    height = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    cube = xr.Dataset(
        {"height_m": (("y", "x"), height)},
        coords={"y": [15.0, 5.0], "x": [5.0, 15.0, 25.0]},
    )
    # Two 100 m blocks (x < 100 and x ≥ 100), three plots with distinct heights in
    # each, so every replicate has ≥ 3 distinct heights for the log-log fit.
    plot_height = np.array([0.5, 1.5, 2.5, 3.5, 4.5, 5.5])
    table = pd.DataFrame(
        {
            "x": [10.0, 20.0, 30.0, 150.0, 160.0, 170.0],
            "y": [10.0, 10.0, 10.0, 10.0, 10.0, 10.0],
            "agb_mg_ha": 2.0 * plot_height,
            "height_m": plot_height,
        },
        index=pd.Index([f"P{i}" for i in range(6)], name="plot_id"),
    )
    return {
        "cube": cube,
        "plot_table": table,
        "features": ["height_m"],
        "estimator_name": "allometric",
        "block_m": 100.0,
        "strata": np.array([[3, 3, 4], [4, 4, 5]]),
        "cell_area_ha": np.array([[0.01, 0.02, 0.03], [0.04, 0.05, 0.06]]),
        "cells": np.array([[False, True, True], [True, True, False]]),
    }


def test_every_replicate_sums_agb_times_area_over_the_cells() -> None:
    # Exact data: ln AGB = ln 2 + 1 · ln h without residual, so every refit is
    # AGB = 2 h (smearing factor exp(0) = 1) and every replicate has the same total.
    # Cells (0,1), (0,2), (1,0), (1,1): h = 2, 3, 4, 5, areas 0.02, 0.03, 0.04, 0.05 ha
    #   stratum 3: 2·2·0.02                          = 0.08 t
    #   stratum 4: 2·3·0.03 + 2·4·0.04 + 2·5·0.05   = 0.18 + 0.32 + 0.50 = 1.00 t
    #   total                                        = 1.08 t
    # Stratum 5 lies only in an excluded cell, so it has no column.
    case = _tiny_case()
    result = bootstrap_agb_totals(**case, replicates=7, seed=3)
    assert result.totals_t_dm.shape == (7,)
    np.testing.assert_allclose(result.totals_t_dm, 1.08, rtol=1e-9)
    assert result.stratum_totals_t_dm.columns.tolist() == [3, 4]
    np.testing.assert_allclose(result.stratum_totals_t_dm[3], 0.08, rtol=1e-9)
    np.testing.assert_allclose(result.stratum_totals_t_dm[4], 1.00, rtol=1e-9)
    summary = result.to_dict()
    assert summary["replicates"] == 7 and summary["seed"] == 3 and summary["n_blocks"] == 2
    assert summary["total_t_dm"]["mean"] == pytest.approx(1.08, rel=1e-9)
    assert summary["total_t_dm"]["sd"] == pytest.approx(0.0, abs=1e-9)
    assert summary["total_t_dm"]["p05"] == pytest.approx(1.08, rel=1e-9)
    assert summary["total_t_dm"]["p95"] == pytest.approx(1.08, rel=1e-9)
    assert set(summary["strata_t_dm"]) == {"3", "4"}
    json.dumps(summary)  # JSON-ready for the ledger


def test_inputs_are_not_mutated() -> None:
    case = _tiny_case()
    before = {k: v.copy() if hasattr(v, "copy") else v for k, v in case.items()}
    bootstrap_agb_totals(**case, replicates=3, seed=0)
    xr.testing.assert_identical(case["cube"], before["cube"])
    pd.testing.assert_frame_equal(case["plot_table"], before["plot_table"])
    for key in ("strata", "cell_area_ha", "cells"):
        np.testing.assert_array_equal(case[key], before[key])


def _with(**changes: Any) -> dict[str, Any]:
    case = _tiny_case()
    case.update(changes)
    return case


def _cube_with_gap() -> xr.Dataset:
    cube: xr.Dataset = _tiny_case()["cube"].copy(deep=True)
    cube["height_m"][0, 1] = np.nan
    return cube


@pytest.mark.parametrize(
    ("case", "error", "match"),
    [
        (_with(cube=_cube_with_gap()), InputError, "lack a value of a feature"),
        (_with(block_m=1000.0), InputError, "one 1000 m block"),
        (_with(cells=np.zeros((2, 3), dtype=bool)), InputError, "selects no cell"),
        (_with(cells=np.ones((3, 2), dtype=bool)), InputError, "boolean array"),
        (_with(strata=np.ones((2, 2), dtype=int)), InputError, "strata array has shape"),
        (
            _with(strata=np.array([[3.0, np.nan, 4.0], [4.0, 4.0, 5.0]])),
            InputError,
            "non-integer class codes",
        ),
        (_with(cell_area_ha=np.zeros((2, 3))), InputError, "zero or negative"),
        (_with(features=["ndvi"]), InputError, "lacks column"),
        (_with(estimator_name="svm"), ConfigError, "unknown biomass model"),
        (_with(block_m=float("nan")), ConfigError, "finite number"),
    ],
    ids=[
        "cell-without-feature",
        "one-block",
        "no-cell",
        "mask-shape",
        "strata-shape",
        "strata-nan",
        "zero-area",
        "missing-column",
        "unknown-estimator",
        "nan-block",
    ],
)
def test_bad_input_is_reported(case: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        bootstrap_agb_totals(**case, replicates=3, seed=0)


@pytest.mark.parametrize(("replicates", "seed"), [(1, 0), (10, -1), (2.5, 0)])
def test_bad_settings_are_config_errors(replicates: Any, seed: int) -> None:
    with pytest.raises(ConfigError, match="must be an integer"):
        bootstrap_agb_totals(**_tiny_case(), replicates=replicates, seed=seed)


def test_plot_with_missing_feature_is_named() -> None:
    table = _tiny_case()["plot_table"].copy()
    table.loc["P4", "height_m"] = np.nan
    with pytest.raises(InputError, match="plot P4"):
        bootstrap_agb_totals(**_with(plot_table=table), replicates=3, seed=0)


# ------------------------------------------------------- synthetic correlated survey
N_CELLS = 100  # 100 × 100 cells of 10 m: a 1 km square
SD_FIELD = 0.30  # log-scale SD of the spatially correlated residual field
SD_PLOT = 0.20  # log-scale SD of the plot's own (within-cell) departure
SMOOTH_CELLS = 2.0  # Gaussian kernel σ of the field, cells


def _correlated_survey(seed: int) -> tuple[xr.Dataset, pd.DataFrame, npt.NDArray[Any], float]:
    """Cube, plots, strata and true total of a survey with a known AGB function of height.

    AGB_plot = 4 h^1.2 · exp(c(cell) + e_plot), c a Gaussian field of SD 0.3 whose
    correlation exp(−d²/(4 · (20 m)²)) falls to 0.1 at 60 m (range ≈ 70 m), e i.i.d.
    N(0, 0.2²). The plots are 30 clusters of 4 within ±10 m of a random centre, as
    field crews work. The true AGB function is the conditional mean
    f(h) = E[AGB | h] = 4 h^1.2 · exp((0.3² + 0.2²)/2) (lognormal mean), so the true
    total is Σ f(h) × 0.01 ha over the 10,000 cells.
    """
    rng = np.random.default_rng(seed)
    height = rng.uniform(0.5, 3.0, (N_CELLS, N_CELLS))
    delta = np.zeros((N_CELLS, N_CELLS))
    delta[N_CELLS // 2, N_CELLS // 2] = 1.0
    # Variance of filtered unit white noise = Σ kernel², so this scaling gives SD 0.3.
    kernel_var = float((gaussian_filter(delta, SMOOTH_CELLS, mode="wrap") ** 2).sum())
    white = rng.normal(size=(N_CELLS, N_CELLS))
    field = gaussian_filter(white, SMOOTH_CELLS, mode="wrap") / np.sqrt(kernel_var) * SD_FIELD
    side = N_CELLS * RES_M
    x = (np.arange(N_CELLS) + 0.5) * RES_M
    y = side - (np.arange(N_CELLS) + 0.5) * RES_M
    cube = xr.Dataset({"height_m": (("y", "x"), height)}, coords={"y": y, "x": x})
    centres = rng.uniform(15.0, side - 15.0, (30, 2))
    points = (centres[:, None, :] + rng.uniform(-10.0, 10.0, (30, 4, 2))).reshape(-1, 2)
    col = np.floor(points[:, 0] / RES_M).astype(int)
    row = np.floor((side - points[:, 1]) / RES_M).astype(int)
    noise = field[row, col] + rng.normal(0.0, SD_PLOT, len(points))
    table = pd.DataFrame(
        {
            "x": points[:, 0],
            "y": points[:, 1],
            "agb_mg_ha": 4.0 * height[row, col] ** 1.2 * np.exp(noise),
            "height_m": height[row, col],
        }
    )
    strata = np.where(np.arange(N_CELLS)[None, :] < N_CELLS // 2, 3, 4).repeat(N_CELLS, axis=0)
    true_total = float((4.0 * height**1.2).sum() * 0.01 * np.exp((SD_FIELD**2 + SD_PLOT**2) / 2.0))
    return cube, table, strata, true_total


def _bootstrap(seed: int, *, block_m: float, replicates: int, **options: Any) -> AgbBootstrap:
    cube, table, strata, _ = _correlated_survey(seed)
    settings: dict[str, Any] = {"estimator_name": "allometric", **options}
    return bootstrap_agb_totals(
        cube,
        table,
        features=["height_m"],
        block_m=block_m,
        replicates=replicates,
        seed=seed,
        strata=strata,
        cell_area_ha=0.01,
        cells=np.ones((N_CELLS, N_CELLS), dtype=bool),
        **settings,
    )


def test_same_seed_same_replicates_and_executor_does_not_change_them() -> None:
    forest: dict[str, Any] = {"estimator_name": "random-forest", "n_estimators": 10}
    first = _bootstrap(1, block_m=150.0, replicates=12, **forest)
    again = _bootstrap(1, block_m=150.0, replicates=12, **forest)
    np.testing.assert_array_equal(first.totals_t_dm, again.totals_t_dm)
    pd.testing.assert_frame_equal(first.stratum_totals_t_dm, again.stratum_totals_t_dm)
    # Replicate r uses the r-th child stream whatever B: a shorter run is a prefix.
    shorter = _bootstrap(1, block_m=150.0, replicates=5, **forest)
    np.testing.assert_array_equal(shorter.totals_t_dm, first.totals_t_dm[:5])
    # Another seed (same survey, to isolate the bootstrap's own randomness) differs.
    cube, table, strata, _ = _correlated_survey(1)
    other = bootstrap_agb_totals(
        cube,
        table,
        features=["height_m"],
        block_m=150.0,
        replicates=12,
        seed=2,
        strata=strata,
        cell_area_ha=0.01,
        cells=np.ones((N_CELLS, N_CELLS), dtype=bool),
        **forest,
    )
    assert not np.array_equal(other.totals_t_dm, first.totals_t_dm)
    # Batches of replicates in worker processes give the serial numbers exactly.
    with ProcessPoolExecutor(max_workers=2) as pool:
        pooled = _bootstrap(1, block_m=150.0, replicates=12, executor=pool, **forest)
    np.testing.assert_array_equal(pooled.totals_t_dm, first.totals_t_dm)
    # Per-stratum totals add up to the total of each replicate.
    np.testing.assert_allclose(first.stratum_totals_t_dm.sum(axis=1), first.totals_t_dm)


def test_blocks_widen_the_spread_when_residuals_are_spatially_correlated() -> None:
    # Why: the 4 plots of a cluster share most of their residual (the field's
    # correlation at ≤ 20 m is ≥ 0.6). Resampling single plots (1 cm blocks: one
    # plot each) treats 120 plots as 120 independent residuals; the error of the
    # total really comes from ~30 independent clusters. For clusters of m = 4 with
    # intra-cluster correlation ρ ≈ 0.8 · 0.09 / (0.09 + 0.04) ≈ 0.55, the variance
    # of a mean is larger by the design effect 1 + (m − 1) ρ ≈ 2.7 (Kish 1965,
    # Survey Sampling, §5.4), i.e. the SD by ≈ 1.6. 150 m blocks (≈ 2 × the 70 m
    # range) keep each cluster together, so their bootstrap sees that spread. The
    # bound 1.3 leaves room for blocks that split a cluster and for the ~7 %
    # sampling error of an SD from 100 replicates; every single survey must
    # at least show a wider block spread.
    ratios = []
    for seed in range(10):
        blocks = _bootstrap(seed, block_m=150.0, replicates=100)
        plots = _bootstrap(seed, block_m=0.01, replicates=100)
        assert plots.n_blocks == plots.n_plots == 120
        ratios.append(blocks.totals_t_dm.std(ddof=1) / plots.totals_t_dm.std(ddof=1))
    assert min(ratios) > 1.0, ratios
    assert float(np.median(ratios)) > 1.3, ratios


def test_block_interval_covers_the_true_total_in_most_surveys() -> None:
    # 40 independent surveys (new field, plots and seed each), 100 replicates each;
    # does the 5–95 % bootstrap range contain the true total Σ f(h) × area?
    # A smoke check, not a calibration proof: the nominal rate is 90 %, but
    # non-overlapping blocks cut some clusters and neighbouring clusters at a block
    # edge, which makes a block bootstrap's spread somewhat too small (Lahiri 2003,
    # ch. 3: its variance is biased low by O(1/block length)), and 100 replicates and
    # ~25 blocks make the percentiles coarse, so ~85 % is expected. With p = 0.85 a
    # count below 30 of 40 has probability ≈ 2 % (normal approximation: mean 34,
    # SD √(40 · 0.85 · 0.15) = 2.26, z = (29.5 − 34)/2.26 = −2.0), while a bootstrap
    # that ignored the correlation (single plots: SD ≈ 1/1.6 of the block SD, see
    # above) would cover at about P(|Z| < 1.645/1.6) ≈ 70 %, i.e. ~28 of 40.
    covered = 0
    for seed in range(40):
        _, _, _, true_total = _correlated_survey(seed)
        summary = _bootstrap(seed, block_m=150.0, replicates=100).to_dict()["total_t_dm"]
        covered += summary["p05"] <= true_total <= summary["p95"]
    assert covered >= 30, covered


# --------------------------------------------------- the cell sample of a large stratum
def test_a_sampled_stratum_is_expanded_to_its_area() -> None:
    # Stratum 4's three cells all have h = 4, so every refit predicts 2 · 4 = 8 Mg/ha
    # there whichever 2 cells are sampled; eq. 6.8s weights them by area × (stratum
    # area / sample area), so the estimate is 8 × (0.03 + 0.04 + 0.05) = 0.96 t, exact.
    # Stratum 3 (one cell, h = 2, 0.02 ha) stays whole: 2 · 2 · 0.02 = 0.08 t.
    case = _tiny_case()
    case["cube"] = case["cube"].assign(
        height_m=(("y", "x"), np.array([[1.0, 2.0, 4.0], [4.0, 4.0, 6.0]]))
    )
    result = bootstrap_agb_totals(**case, replicates=5, seed=3, cells_per_stratum=2)
    np.testing.assert_allclose(result.stratum_totals_t_dm[3], 0.08, rtol=1e-9)
    np.testing.assert_allclose(result.stratum_totals_t_dm[4], 0.96, rtol=1e-9)
    np.testing.assert_allclose(result.totals_t_dm, 1.04, rtol=1e-9)
    assert (result.n_cells, result.cells_predicted, result.cells_per_stratum) == (4, 3, 2)
    summary = result.to_dict()
    assert (summary["n_cells"], summary["cells_predicted"]) == (4, 3)


def test_strata_under_the_cap_are_summed_whole() -> None:
    # The tiny case's strata hold 1 and 3 cells, under the default cap: the totals
    # are those of every cell (1.08 t, as above) and no cell is left out.
    case = _tiny_case()
    capped = bootstrap_agb_totals(**case, replicates=3, seed=3)
    whole = bootstrap_agb_totals(**case, replicates=3, seed=3, cells_per_stratum=None)
    np.testing.assert_array_equal(capped.totals_t_dm, whole.totals_t_dm)
    assert capped.cells_predicted == capped.n_cells == 4
    assert whole.cells_per_stratum is None


@pytest.mark.parametrize("cap", [0, -5, 2.5, True])
def test_a_bad_cap_is_a_config_error(cap: Any) -> None:
    with pytest.raises(ConfigError, match="cells per stratum"):
        bootstrap_agb_totals(**_tiny_case(), replicates=3, seed=3, cells_per_stratum=cap)


def test_the_cell_sample_has_its_own_random_stream() -> None:
    # Replicate r draws from the children of SeedSequence(seed, spawn_key=(r,)); the
    # cell sample must not reuse any of those streams (it would tie the sample to
    # replicate r's block draws).
    from carbonsink.biomass import bootstrap

    seed = 11
    samples = [
        np.random.SeedSequence([seed, bootstrap._CELL_SAMPLE_TAG, code]).generate_state(4)
        for code in (0, 1, 3, 4, 255, 2 * 256 + 3)
    ]
    for r in range(300):
        parent = np.random.SeedSequence(seed, spawn_key=(r,))
        for stream in (parent, *parent.spawn(2)):
            state = stream.generate_state(4)
            assert not any(np.array_equal(state, sample) for sample in samples), r


def test_a_stratum_bootstrapped_alone_has_the_replicates_it_has_beside_others() -> None:
    # The ledger bootstraps only the strata without a residual correction: stratum 4's
    # replicates (its cells sampled down to 1,000 from its own stream, each refit the same)
    # must be those of a bootstrap of both strata, to the bit.
    cube, table, strata, _ = _correlated_survey(5)
    settings: dict[str, Any] = {
        "features": ["height_m"],
        "block_m": 150.0,
        "replicates": 8,
        "seed": 5,
        "strata": strata,
        "cell_area_ha": 0.01,
        "cells_per_stratum": 1_000,
        "estimator_name": "random-forest",
        "n_estimators": 10,
    }
    both = bootstrap_agb_totals(
        cube, table, cells=np.ones((N_CELLS, N_CELLS), dtype=bool), **settings
    )
    alone = bootstrap_agb_totals(cube, table, cells=strata == 4, **settings)
    assert list(alone.stratum_totals_t_dm.columns) == [4]
    assert alone.cells_predicted == 1_000 and both.cells_predicted == 2_000
    np.testing.assert_array_equal(alone.stratum_totals_t_dm[4], both.stratum_totals_t_dm[4])
    assert alone.stratum_totals_t_dm[4].std() > 0  # the replicates differ: the check can fail


def test_a_sample_of_the_cells_keeps_the_replicates_spread() -> None:
    # Two strata of 5,000 cells each, sampled down to 1,000 (the same cells in every
    # replicate). A replicate's departure from the mean fit is a smooth function of h
    # (a refit of a h^b), so the sample estimates each replicate's departure with a
    # relative error of about CV_cells(departure) / √1,000 × √(1 − 1,000/5,000)
    # ≈ 0.5 / 31.6 × 0.89 ≈ 1.4 %: the sampled replicates track the full ones
    # (correlation > 0.99) and their SD is the full SD within 5 %; the means differ
    # only by the sample's error for the mean fit, a shift common to all replicates,
    # within 3 % (CV of f over cells ≈ 0.45, / √1,000 ≈ 1.4 %, 2 SE).
    whole = _bootstrap(5, block_m=150.0, replicates=60, cells_per_stratum=None)
    sampled = _bootstrap(5, block_m=150.0, replicates=60, cells_per_stratum=1_000)
    assert sampled.cells_predicted == 2_000 and whole.cells_predicted == 10_000
    for code in (3, 4):
        full = whole.stratum_totals_t_dm[code].to_numpy()
        part = sampled.stratum_totals_t_dm[code].to_numpy()
        assert np.corrcoef(full, part)[0, 1] > 0.99, code
        assert part.std(ddof=1) / full.std(ddof=1) == pytest.approx(1.0, abs=0.05), code
        assert part.mean() / full.mean() == pytest.approx(1.0, abs=0.03), code
    # The sample depends on the seed only: the same run gives the same numbers.
    again = _bootstrap(5, block_m=150.0, replicates=60, cells_per_stratum=1_000)
    np.testing.assert_array_equal(again.totals_t_dm, sampled.totals_t_dm)


# ------------------------------------------------------------ the synthetic survey
@pytest.fixture(scope="module")
def survey_2025(sample_survey: Path) -> dict[str, Any]:
    """The 2025 cube, the imagery model (as the pipeline fits it) and the truth."""
    from carbonsink.biomass.agb_map import fit_biomass_model, map_agb
    from carbonsink.pipeline import RunContext, epoch_cube, epoch_plots, find_epoch

    ctx = RunContext.build(sample_survey)
    survey = ctx.survey
    epoch = find_epoch(survey, "2025")
    cube = epoch_cube(ctx, epoch)
    model = fit_biomass_model(
        cube.cube,
        epoch_plots(ctx, epoch),
        name="imagery",
        features=cube.imagery_features,
        n_estimators=100,
        seed=survey.survey.seed,
    )
    water_codes = [c.code for n, c in survey.vegetation.classes.items() if n == "water"]
    landcover = cube.cube["landcover"].values
    agb = map_agb(
        cube.cube,
        [model],
        inside=cube.cube["inside_boundary"].values,
        water=np.isin(landcover, water_codes),
        outside="predict",
    )
    truth_dir = sample_survey.parent / "truth"
    totals = json.loads((truth_dir / "totals.json").read_text(encoding="utf-8"))
    with xr.open_dataset(truth_dir / "truth_2025.nc") as truth:
        covered = truth["lidar_coverage"].values.astype(bool)
    return {
        "cube": cube.cube,
        "model": model,
        "landcover": landcover,
        "cells": (agb["agb_model"].values == 2) & ~covered,
        "area": ctx.grid.cell_area_ha,
        "seed": survey.survey.seed,
        "true_outside_lidar": totals["epochs"]["2025"]["agb_t_dm"]["outside_lidar"],
    }


@pytest.mark.slow
def test_survey_bootstrap_is_deterministic_with_a_spread(survey_2025: dict[str, Any]) -> None:
    # The imagery model's cells outside the LiDAR strip (water is 0 by rule and not
    # bootstrapped), blocks of the model's CV block, B = 30 (issue 7's Monte Carlo
    # will use more). Figures reported, not asserted (they are in the assertion
    # messages): when written, 200 m blocks (the default: no variogram range), 47
    # blocks of 81 plots, CV of the total 4.6 %, 5–95 % range 3,567–3,908 t DM,
    # which holds the true 3,813 t DM.
    model = survey_2025["model"]
    block_m = model.cv.block_m

    def run(replicates: int) -> AgbBootstrap:
        return bootstrap_agb_totals(
            survey_2025["cube"],
            model.plots.table,
            features=model.features,
            estimator_name=model.estimator_name,
            n_estimators=100,
            block_m=block_m,
            replicates=replicates,
            seed=survey_2025["seed"],
            strata=survey_2025["landcover"],
            cell_area_ha=survey_2025["area"],
            cells=survey_2025["cells"],
        )

    result = run(30)
    summary = result.to_dict()["total_t_dm"]
    truth = survey_2025["true_outside_lidar"]
    inside = summary["p05"] <= truth <= summary["p95"]
    figures = (
        f"block {block_m:.0f} m, {result.n_blocks} blocks, {result.n_plots} plots; "
        f"total {summary['mean']:.0f} t DM, SD {summary['sd']:.0f}, CV {summary['cv']:.3f}, "
        f"5–95 % {summary['p05']:.0f}–{summary['p95']:.0f}; truth {truth:.0f} "
        f"{'inside' if inside else 'outside'}"
    )
    assert summary["sd"] > 0.0, figures
    # Same seed, fewer replicates: exactly the first replicates again.
    np.testing.assert_array_equal(run(4).totals_t_dm, result.totals_t_dm[:4], err_msg=figures)
    # Every non-water cell outside the strip is bootstrapped and the true AGB of
    # water is 0, so the truth is the total of exactly these cells: the bootstrap
    # mean must be of its order (a wrong unit — per m², or without the cell area —
    # would be off by a factor of 100 or more).
    assert 0.5 < summary["mean"] / truth < 2.0, figures
