"""Tests of carbonsink.biomass.validation: block size, spatial block CV, the figure."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from scipy.spatial.distance import cdist

from carbonsink.biomass.validation import (
    AGB_UNITS,
    CrossValidation,
    default_block_size,
    plot_predicted_vs_observed,
    residual_variogram_range,
    spatial_cross_validate,
)
from carbonsink.errors import ConfigError, InputError, ModelError
from carbonsink.spatial.variogram import VARIOGRAM_MODELS

FloatArray = npt.NDArray[np.float64]


# ---------------------------------------------------------------- estimators
class LinearResidualQuantiles:
    """Least-squares linear model; intervals from the training residuals' quantiles."""

    def fit(self, X: Any, y: Any) -> LinearResidualQuantiles:
        design = np.column_stack([np.ones(len(y)), np.asarray(X, dtype=float)])
        self.coef_, *_ = np.linalg.lstsq(design, np.asarray(y, dtype=float), rcond=None)
        self.residuals_ = np.asarray(y, dtype=float) - design @ self.coef_
        return self

    def predict(self, X: Any) -> FloatArray:
        design = np.column_stack([np.ones(len(X)), np.asarray(X, dtype=float)])
        return np.asarray(design @ self.coef_)

    def predict_interval(self, X: Any, *, interval: float = 0.9) -> tuple[FloatArray, FloatArray]:
        low, high = np.quantile(self.residuals_, [(1 - interval) / 2, (1 + interval) / 2])
        mean = self.predict(X)
        return mean + low, mean + high


class MeanPlusOne:
    """Predicts the training mean + 1 with a fixed ±2.5 interval (hand-computable)."""

    def fit(self, X: Any, y: Any) -> MeanPlusOne:
        self.level_ = float(np.mean(y)) + 1.0
        return self

    def predict(self, X: Any) -> FloatArray:
        return np.full(len(X), self.level_)

    def predict_interval(self, X: Any, *, interval: float = 0.9) -> tuple[FloatArray, FloatArray]:
        mean = self.predict(X)
        return mean - 2.5, mean + 2.5


class KnownTruth:
    """A perfect model of y = 3 + 2 f: ignores the training data, interval ±1."""

    def fit(self, X: Any, y: Any) -> KnownTruth:
        return self

    def predict(self, X: Any) -> FloatArray:
        return 3.0 + 2.0 * np.asarray(X, dtype=float)[:, 0]

    def predict_interval(self, X: Any, *, interval: float = 0.9) -> tuple[FloatArray, FloatArray]:
        mean = self.predict(X)
        return mean - 1.0, mean + 1.0


class ReturnsNaN(KnownTruth):
    def predict(self, X: Any) -> FloatArray:
        return np.full(len(X), np.nan)


def scattered_plots(
    n: int = 60, seed: int = 1
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """n plots over 1 km² with one feature and AGB = 3 + 2 f + noise (Mg DM/ha)."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 1000, (2, n))
    feature = rng.uniform(0, 10, (n, 1))
    agb = 3.0 + 2.0 * feature[:, 0] + rng.normal(0, 1.0, n)
    return feature, agb, x, y


# -------------------------------------------------------- hand-computed CV
def hand_example() -> CrossValidation:
    # Four plots 100 m apart along a line, each in its own 100 m block, four
    # folds: every fold holds out one plot, whatever the fold order.
    X = np.array([[0.0], [0.0], [0.0], [0.0]])
    agb = np.array([2.0, 4.0, 6.0, 8.0])
    x = np.array([50.0, 150.0, 250.0, 350.0])
    y = np.full(4, 50.0)
    return spatial_cross_validate(MeanPlusOne, X, agb, x, y, block_m=100.0, folds=4)


def test_metrics_on_hand_example() -> None:
    cv = hand_example()
    # Predicted = mean of the other three + 1:
    #   2 → (4+6+8)/3 + 1 = 7;  4 → 16/3 + 1 = 19/3;  6 → 14/3 + 1 = 17/3;  8 → 12/3 + 1 = 5.
    # Errors ŷ − y: 5, 7/3, −1/3, −3.
    # SSE = 25 + 49/9 + 1/9 + 9 = 356/9; SST = 9 + 1 + 1 + 9 = 20 (mean 5).
    # R² = 1 − (356/9)/20 = −176/180 = −0.97778; RMSE = √(356/36) = 3.14466;
    # relative RMSE = 3.14466 / 5 = 0.628932; bias = (5 + 7/3 − 1/3 − 3)/4 = 1.
    # Coverage of ±2.5: |error| ≤ 2.5 for 7/3 and −1/3 only → 2/4 = 0.5.
    pooled = cv.table.iloc[-1]
    assert pooled["fold"] == "pooled"
    assert pooled["n"] == 4
    assert pooled["n_blocks"] == 4
    assert pooled["r2"] == pytest.approx(1 - 356 / 180, abs=1e-12)
    assert pooled["rmse_mg_ha"] == pytest.approx(math.sqrt(356 / 36), abs=1e-12)
    assert pooled["relative_rmse"] == pytest.approx(math.sqrt(356 / 36) / 5, abs=1e-12)
    assert pooled["bias_mg_ha"] == pytest.approx(1.0, abs=1e-12)
    assert pooled["coverage"] == 0.5
    predictions = cv.predictions.sort_index()
    assert predictions["predicted"].to_numpy() == pytest.approx([7, 19 / 3, 17 / 3, 5])
    assert predictions["lower"].to_numpy() == pytest.approx([4.5, 19 / 3 - 2.5, 17 / 3 - 2.5, 2.5])
    assert predictions["covered"].tolist() == [False, True, True, False]
    # One plot per fold: RMSE = |error|, bias = error, R² undefined (no spread).
    folds = cv.table.iloc[:-1].set_index("fold")
    assert len(folds) == 4
    assert (folds["n"] == 1).all()
    assert folds["r2"].isna().all()
    by_fold = predictions.set_index("fold")
    for label, row in folds.iterrows():
        fold = int(str(label))
        error = by_fold.loc[fold, "predicted"] - by_fold.loc[fold, "observed"]
        assert row["bias_mg_ha"] == pytest.approx(error)
        assert row["rmse_mg_ha"] == pytest.approx(abs(error))


def test_to_dict_is_json_with_units_and_nulls() -> None:
    record = hand_example().to_dict()
    text = json.dumps(record, allow_nan=False)  # raises on NaN
    assert record["units"] == AGB_UNITS == "Mg DM/ha"
    assert record["block_m"] == 100.0
    assert record["folds"] == 4
    assert record["interval"] == 0.9
    assert record["pooled"]["bias_mg_ha"] == pytest.approx(1.0)
    assert record["pooled"]["n"] == 4
    # single-plot folds have no R² → null, not NaN
    assert all(fold["r2"] is None for fold in record["per_fold"])
    assert len(record["per_fold"]) == 4
    assert "NaN" not in text


def test_perfect_estimator_has_r2_one_and_full_coverage() -> None:
    feature, _, x, y = scattered_plots()
    agb = 3.0 + 2.0 * feature[:, 0]  # exactly the known truth
    cv = spatial_cross_validate(KnownTruth, feature, agb, x, y, block_m=200.0, folds=5)
    # Every error is 0 → SSE 0 → R² = 1 − 0/SST = 1, RMSE 0, bias 0; observed
    # = predicted lies inside [ŷ − 1, ŷ + 1] → coverage 1, in every fold too.
    assert (cv.table["r2"] == 1.0).all()
    assert (cv.table["rmse_mg_ha"] == 0.0).all()
    assert (cv.table["bias_mg_ha"] == 0.0).all()
    assert (cv.table["coverage"] == 1.0).all()
    assert cv.table["n"].iloc[:-1].sum() == cv.table["n"].iloc[-1] == 60


def test_folds_are_deterministic_hold_whole_blocks_and_are_balanced() -> None:
    feature, agb, x, y = scattered_plots()
    first = spatial_cross_validate(
        LinearResidualQuantiles, feature, agb, x, y, block_m=200.0, folds=5, seed=7
    )
    again = spatial_cross_validate(
        LinearResidualQuantiles, feature, agb, x, y, block_m=200.0, folds=5, seed=7
    )
    pd.testing.assert_frame_equal(first.predictions, again.predictions)
    pd.testing.assert_frame_equal(first.table, again.table)
    frame = first.predictions
    # a block never sits on both sides of a fold
    assert (frame.groupby("block")["fold"].nunique() == 1).all()
    # blocks of 200 m anchored at 0: ids of the 5 × 5 grid cells that hold plots
    expected_cells = np.unique(np.floor(y / 200) * 10 + np.floor(x / 200))
    assert frame["block"].nunique() == expected_cells.size == first.n_blocks
    assert sorted(frame["fold"].unique()) == [0, 1, 2, 3, 4]
    # GroupKFold balances plots: 60 plots in 5 folds, no fold far from 12
    sizes = frame["fold"].value_counts()
    assert sizes.max() - sizes.min() <= frame.groupby("block").size().max()
    # a held-out plot is never predicted by a model that saw its block: the
    # pooled metrics equal those recomputed from the predictions
    error = frame["predicted"] - frame["observed"]
    assert first.pooled["rmse_mg_ha"] == pytest.approx(math.sqrt((error**2).mean()))
    assert first.pooled["coverage"] == pytest.approx(frame["covered"].mean())


def test_folds_fitted_in_worker_processes_give_the_serial_numbers() -> None:
    # A random forest (seeded) fitted fold by fold in two worker processes: every
    # fold's fit sees the same rows and seed as the serial run, so every held-out
    # prediction and bound, and the metrics, are identical.
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    from carbonsink.biomass.estimators import make_estimator

    feature, agb, x, y = scattered_plots()
    factory = partial(make_estimator, "random-forest", n_estimators=20, random_state=3)
    serial = spatial_cross_validate(factory, feature, agb, x, y, block_m=200.0, folds=5, seed=7)
    with ProcessPoolExecutor(max_workers=2) as pool:
        pooled = spatial_cross_validate(
            factory, feature, agb, x, y, block_m=200.0, folds=5, seed=7, executor=pool
        )
    pd.testing.assert_frame_equal(serial.predictions, pooled.predictions)
    pd.testing.assert_frame_equal(serial.table, pooled.table)


def test_dataframe_features_keep_their_index_and_columns() -> None:
    feature, agb, x, y = scattered_plots(n=30)
    seen: list[type] = []

    class Recording(LinearResidualQuantiles):
        def fit(self, X: Any, y: Any) -> Recording:
            seen.append(type(X))
            super().fit(X, y)
            return self

    frame = pd.DataFrame({"ndvi": feature[:, 0]}, index=[f"P{i:02d}" for i in range(30)])
    cv = spatial_cross_validate(Recording, frame, agb, x, y, block_m=250.0, folds=3)
    assert seen == [pd.DataFrame] * 3
    assert cv.predictions.index.name == "sample"
    assert list(cv.predictions.index) == list(frame.index)
    assert cv.predictions["observed"].to_numpy() == pytest.approx(agb)


def test_too_few_blocks_says_how_many_are_needed() -> None:
    # 12 plots in three 200 m blocks (x in [0, 200), [200, 400), [400, 600)).
    x = np.repeat([50.0, 250.0, 450.0], 4)
    y = np.tile([20.0, 60.0, 100.0, 140.0], 3)
    X = np.arange(12.0)[:, None]
    agb = np.arange(12.0) + 1
    with pytest.raises(InputError) as info:
        spatial_cross_validate(LinearResidualQuantiles, X, agb, x, y, block_m=200.0, folds=5)
    message = str(info.value)
    assert "spatial CV with 5 folds needs at least 5 blocks with plots" in message
    assert "the 12 plots fall in 3 block(s) of 200 m" in message
    assert "--cv-block-m smaller or fewer folds" in message


def test_too_few_plots_and_bad_options() -> None:
    X = np.zeros((3, 1))
    agb = np.array([1.0, 2.0, 3.0])
    x = np.array([0.0, 500.0, 1000.0])
    y = np.zeros(3)
    with pytest.raises(InputError, match="needs at least 5 plots; 3 given"):
        spatial_cross_validate(KnownTruth, X, agb, x, y, block_m=100.0, folds=5)
    with pytest.raises(ConfigError, match="folds"):
        spatial_cross_validate(KnownTruth, X, agb, x, y, block_m=100.0, folds=1)
    with pytest.raises(ConfigError, match="interval"):
        spatial_cross_validate(KnownTruth, X, agb, x, y, block_m=100.0, folds=3, interval=90)
    with pytest.raises(ConfigError, match="block size"):
        spatial_cross_validate(KnownTruth, X, agb, x, y, block_m=0.0, folds=3)
    with pytest.raises(InputError, match="missing"):
        spatial_cross_validate(KnownTruth, X, [1.0, np.nan, 3.0], x, y, block_m=100.0, folds=3)
    with pytest.raises(InputError, match="one row per plot"):
        spatial_cross_validate(KnownTruth, np.zeros((4, 1)), agb, x, y, block_m=100.0, folds=3)
    with pytest.raises(ModelError, match="missing or infinite"):
        spatial_cross_validate(ReturnsNaN, X, agb, x, y, block_m=100.0, folds=3)


# --------------------------------------------------------------- block size
def spherical_field(
    seed: int, *, n: int = 400, side_m: float = 1000.0, range_m: float = 300.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gaussian process with unit-sill spherical covariance at n random points."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, side_m, (n, 2))
    covariance = 1.0 - VARIOGRAM_MODELS["spherical"](cdist(xy, xy) / range_m)
    factor = np.linalg.cholesky(covariance + 1e-9 * np.eye(n))
    return xy[:, 0], xy[:, 1], factor @ rng.standard_normal(n)


def test_residual_range_recovers_a_known_spherical_range() -> None:
    # True practical range 300 m (spherical, no nugget), 400 points on 1 km².
    # A single realisation's fitted range is itself a random variable: over
    # 90 realisations of this design the fitted ranges had 2.5–97.5 % limits
    # of 220–680 m, and the median of three realisations 248–437 m (measured
    # while choosing the design). So the median of three must fall within
    # 0.7–1.5 × 300 m = 210–450 m; a fit that ignored the structure (a
    # range at the 0.05×/2× bounds, ≈ 35 m or ≈ 1.3 km) would fail.
    ranges = [residual_variogram_range(*spherical_field(seed)) for seed in (11, 12, 13)]
    assert all(r is not None for r in ranges)
    assert 210.0 <= float(np.median(np.asarray(ranges, dtype=float))) <= 450.0
    size, reason = default_block_size(*spherical_field(11))
    assert reason == "residual variogram range"
    assert size == ranges[0]


def test_a_range_too_long_for_the_folds_is_shortened() -> None:
    # 400 points on 1 km²: blocks of the fitted range (721 m for this realisation) leave
    # ⌈1000 / 721⌉² = 4 blocks holding points. Asking 40 blocks shortens the side by steps
    # of 5 % until 40 blocks hold points (≤ 1000 / √40 = 158 m per side): the first step
    # that does.
    x, y, residuals = spherical_field(11)
    range_m = residual_variogram_range(x, y, residuals)
    assert range_m is not None

    def blocks(side: float) -> int:
        return len(
            {(math.floor(a / side), math.floor(b / side)) for a, b in zip(x, y, strict=True)}
        )

    size, reason = default_block_size(x, y, residuals, min_blocks=40)
    assert size < range_m
    assert blocks(size) >= 40 > blocks(size / 0.95)
    assert reason.startswith("residual variogram range") and "at least 40 blocks" in reason
    # As many blocks as the range gives: the range stands.
    needed = blocks(range_m)
    assert default_block_size(x, y, residuals, min_blocks=needed) == (
        range_m,
        "residual variogram range",
    )


def test_pure_noise_falls_back_to_200_m() -> None:
    # Independent residuals have a flat variogram (pure nugget). Over 300 noise
    # fields of 400 points the rule rejected a range in 97 % of cases (the
    # other 3 % gave short ranges of 70–120 m). For these three seeds the fitted
    # partial sill is ≤ 5 % of the sill, i.e. nugget/sill > 0.75.
    for seed in (0, 1, 2):
        rng = np.random.default_rng(seed)
        x, y = rng.uniform(0, 1000, (2, 400))
        noise = rng.standard_normal(400)
        assert residual_variogram_range(x, y, noise) is None
        assert default_block_size(x, y, noise) == (200.0, "default 200 m")
    assert default_block_size(x, y, noise, fallback_m=150.0) == (150.0, "default 150 m")


def test_no_range_from_too_few_or_constant_residuals() -> None:
    x = np.arange(9.0) * 10
    assert residual_variogram_range(x, x, np.arange(9.0)) is None  # 9 < 10 points
    x = np.arange(30.0) * 10
    assert residual_variogram_range(x, np.zeros(30), np.full(30, 2.0)) is None  # no variation
    with pytest.raises(InputError, match="missing"):
        residual_variogram_range(x, np.zeros(30), np.r_[np.nan, np.zeros(29)])
    with pytest.raises(ConfigError):
        default_block_size(x, np.zeros(30), np.zeros(30), fallback_m=-1.0)


# ------------------------------------------------------------------- figure
def test_plot_writes_a_png(tmp_path: Path) -> None:
    feature, agb, x, y = scattered_plots()
    cv = spatial_cross_validate(LinearResidualQuantiles, feature, agb, x, y, block_m=200.0)
    out = plot_predicted_vs_observed(cv, tmp_path / "figures" / "agb_cv.png")
    assert out == tmp_path / "figures" / "agb_cv.png"
    content = out.read_bytes()
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    # a 660 × 600 px chart with 60 points, bars, text: far more than an empty image
    assert len(content) > 10_000
    assert [p.name for p in out.parent.iterdir()] == ["agb_cv.png"]  # no temp file left
