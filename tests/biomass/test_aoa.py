"""Tests of carbonsink.biomass.aoa: dissimilarity index and area of applicability."""

from __future__ import annotations

import math

import dask.array as dsa
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from carbonsink.biomass.aoa import (
    AreaOfApplicability,
    _tukey_upper_whisker,
    map_area_of_applicability,
)
from carbonsink.errors import InputError

# Three training points A(−1, 1), B(0, −1), C(1, 0). Each column has mean 0 and
# sample SD 1 (column 1: (1 + 0 + 1)/2 = 1; column 2: (1 + 1 + 0)/2 = 1), so
# the standardised features are the raw ones.
TRAIN = np.array([[-1.0, 1.0], [0.0, -1.0], [1.0, 0.0]])
# Pairwise distances: AB = √(1 + 4) = √5, AC = √(4 + 1) = √5, BC = √(1 + 1) = √2
# → d̄ = (2√5 + √2)/3 = 1.962107.
D_BAR = (2 * math.sqrt(5) + math.sqrt(2)) / 3


def test_dissimilarity_index_by_hand() -> None:
    aoa = AreaOfApplicability.fit(TRAIN, feature_names=["a", "b"])
    assert aoa.mean == pytest.approx([0.0, 0.0])
    assert aoa.sd == pytest.approx([1.0, 1.0])
    assert aoa.mean_distance == pytest.approx(D_BAR)
    # (0, 0): distances √2 (A), 1 (B), 1 (C) → DI = 1 / d̄ = 0.509656.
    # (3, 0): nearest C at 2 → DI = 2 / d̄ = 1.019313.
    # (5, 5): nearest C at √(16 + 25) = √41 → DI = √41 / d̄ = 3.263381.
    new = np.array([[0.0, 0.0], [3.0, 0.0], [5.0, 5.0]])
    assert aoa.di(new) == pytest.approx([1 / D_BAR, 2 / D_BAR, math.sqrt(41) / D_BAR])
    # No folds: each training point against the others (leave one out):
    # A → √5, B → √2, C → √2; DI = 1.139635, 0.720759, 0.720759.
    expected_train = np.array([math.sqrt(5), math.sqrt(2), math.sqrt(2)]) / D_BAR
    assert aoa.training_di == pytest.approx(expected_train)
    # Threshold: sorted DIs 0.7208, 0.7208, 1.1396; Tukey hinges for n = 3
    # (n₄ = 1.5): lower ½(x₁ + x₂) = 0.7208, upper ½(x₂ + x₃) = 0.9302; fence
    # 0.9302 + 1.5 × 0.2094 = 1.2443 ≥ 1.1396 → no outlier, threshold = 1.1396.
    assert aoa.threshold == pytest.approx(math.sqrt(5) / D_BAR)
    assert aoa.inside(new).tolist() == [True, True, False]


def test_tukey_whisker_removes_outliers_by_hand() -> None:
    # 1…9, 30 (n = 10): n₄ = ⌊13/2⌋/2 = 3 → hinges x₃ = 3 and x₈ = 8, IQR 5,
    # fence 8 + 7.5 = 15.5; 30 is an outlier → whisker 9.
    assert _tukey_upper_whisker(np.array([30.0, *range(1, 10)])) == 9.0
    # 0, 1, 2, 3, 4, 8 (n = 6): n₄ = ⌊9/2⌋/2 = 2 → hinges x₂ = 1 and x₅ = 4,
    # fence 4 + 1.5 × 3 = 8.5 → 8 is kept. (numpy's default quartiles 1.25 and
    # 3.75 would give a fence of 7.5 and drop it: R's boxplot.stats is meant.)
    assert _tukey_upper_whisker(np.array([0.0, 1.0, 2.0, 3.0, 4.0, 8.0])) == 8.0
    # 1…5 (n = 5): hinges 2 and 4, fence 7 → nothing removed → 5.
    assert _tukey_upper_whisker(np.arange(1.0, 6.0)) == 5.0


def test_threshold_with_cv_folds_by_hand() -> None:
    # One feature: standardising and weighting scale every distance and d̄
    # alike, so the DI can be computed on the raw values.
    # Points 0, 1, 2, 3, 10; pair distances 1,2,3,10,1,2,9,1,8,7 → Σ 44 / 10 → d̄ = 4.4.
    X = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    loo = AreaOfApplicability.fit(X)
    # d̄ in standardised units = 4.4 / SD of the raw values
    assert loo.mean_distance * loo.sd[0] == pytest.approx(4.4)
    # Leave one out: nearest others 1, 1, 1, 1, 7 → DI = [1, 1, 1, 1, 7] / 4.4.
    assert loo.training_di == pytest.approx(np.array([1, 1, 1, 1, 7]) / 4.4)
    # Hinges x₂ = x₄ = 1/4.4 → IQR 0 → 7/4.4 is an outlier → threshold 1/4.4
    # (the plain maximum would be 7/4.4 = 1.59).
    assert loo.threshold == pytest.approx(1 / 4.4)
    # Folds [0, 0, 1, 1, 2]: nearest point in another fold: 0 → 2, 1 → 2 (dist 1),
    # 2 → 1 (dist 1), 3 → 1 (dist 2), 10 → 3 (dist 7): DI = [2, 1, 1, 2, 7] / 4.4.
    # Sorted 1, 1, 2, 2, 7 (/4.4): hinges 1 and 2, fence 3.5 → 7 removed → 2/4.4.
    cv = AreaOfApplicability.fit(X, folds=["a", "a", "b", "b", "c"])
    assert cv.training_di == pytest.approx(np.array([2, 1, 1, 2, 7]) / 4.4)
    assert cv.threshold == pytest.approx(2 / 4.4)
    # New points: 4.5 → nearest 3 at 1.5 → 0.341 (inside); 6 → 3 → 0.682 (outside).
    assert cv.di(np.array([[4.5], [6.0]])) == pytest.approx([1.5 / 4.4, 3 / 4.4])
    assert cv.inside(np.array([[4.5], [6.0]])).tolist() == [True, False]


def test_weights_change_the_distance() -> None:
    new = np.array([[0.0, 5.0]])
    equal = AreaOfApplicability.fit(TRAIN)
    # Equal weights: nearest to (0, 5) are A and C at √(1 + 16) = √17 → √17 / d̄.
    assert equal.di(new) == pytest.approx([math.sqrt(17) / D_BAR])
    # Only relative weights matter: (2, 2) scales distances and d̄ alike.
    doubled = AreaOfApplicability.fit(TRAIN, weights=[2.0, 2.0])
    assert doubled.di(new) == pytest.approx(equal.di(new))
    # Weight 0 on b: points (−1, 0), (0, 0), (1, 0); d̄ = (1 + 2 + 1)/3 = 4/3;
    # (0, 5) coincides with B in the weighted space → DI 0.
    first_only = AreaOfApplicability.fit(TRAIN, weights={"f0": 1.0, "f1": 0.0})
    assert first_only.mean_distance == pytest.approx(4 / 3)
    assert first_only.di(new) == pytest.approx([0.0])
    # Negative importances count as 0 (CAST): same as the weights (1, 0).
    negative = AreaOfApplicability.fit(TRAIN, weights=[1.0, -0.3])
    assert negative.weights.tolist() == [1.0, 0.0]
    assert negative.di(new) == pytest.approx([0.0])


def test_training_points_have_di_zero_but_cv_di_positive() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 3))
    folds = np.arange(80) % 5
    aoa = AreaOfApplicability.fit(X, weights=[0.5, 0.3, 0.2], folds=folds)
    # a training point is its own nearest neighbour → DI exactly 0 ...
    assert (aoa.di(X) == 0.0).all()
    assert aoa.inside(X).all()
    # ... but against the other folds it has a positive distance (distinct points)
    assert (aoa.training_di > 0).all()
    assert aoa.threshold <= aoa.training_di.max()
    assert aoa.threshold in set(aoa.training_di.tolist())
    # chunked search gives the same answer
    new = rng.normal(size=(37, 3)) * 2
    new[[2, 5, 6, 30], [0, 1, 2, 1]] = np.nan  # incomplete rows, in several chunks
    whole = aoa.di(new)
    np.testing.assert_array_equal(aoa.di(new, chunk_rows=4), whole)
    assert (
        np.isnan(whole[[2, 5, 6, 30]]).all() and np.isfinite(np.delete(whole, [2, 5, 6, 30])).all()
    )
    # Each row's DI is its distance to the nearest training point, scaled, / d̄.
    z = (new[0] - X.mean(axis=0)) / X.std(axis=0, ddof=1) * aoa.weights
    zt = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1) * aoa.weights
    assert whole[0] == pytest.approx(np.min(np.linalg.norm(zt - z, axis=1)) / aoa.mean_distance)


def test_dataframe_columns_are_matched_by_name() -> None:
    frame = pd.DataFrame(TRAIN, columns=["ndvi", "chm_p95"])
    aoa = AreaOfApplicability.fit(frame, weights={"chm_p95": 1.0, "ndvi": 1.0})
    assert aoa.feature_names == ("ndvi", "chm_p95")
    swapped = pd.DataFrame({"chm_p95": [0.0], "ndvi": [3.0]})
    assert aoa.di(swapped) == pytest.approx([2 / D_BAR])  # the point (3, 0)
    with pytest.raises(InputError, match="chm_p95"):
        aoa.di(pd.DataFrame({"ndvi": [0.0]}))
    assert aoa.to_dict()["features"] == ["ndvi", "chm_p95"]
    assert aoa.to_dict()["threshold"] == pytest.approx(math.sqrt(5) / D_BAR)


def test_bad_training_data() -> None:
    with pytest.raises(InputError, match="at least 2"):
        AreaOfApplicability.fit(TRAIN[:1])
    with pytest.raises(InputError, match="missing or infinite"):
        AreaOfApplicability.fit(np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 3.0]]))
    constant = np.column_stack([TRAIN[:, 0], np.ones(3)])
    with pytest.raises(InputError, match="do not vary"):
        AreaOfApplicability.fit(constant)
    # a constant feature with weight 0 is ignored
    assert AreaOfApplicability.fit(constant, weights=[1.0, 0.0]).mean_distance == pytest.approx(
        4 / 3
    )
    with pytest.raises(InputError, match="weight"):
        AreaOfApplicability.fit(TRAIN, weights=[1.0])
    with pytest.raises(InputError, match="every feature weight is 0"):
        AreaOfApplicability.fit(TRAIN, weights=[0.0, 0.0])
    with pytest.raises(InputError, match="one CV fold"):
        AreaOfApplicability.fit(TRAIN, folds=[1, 1, 1])
    with pytest.raises(InputError, match="expected"):
        AreaOfApplicability.fit(TRAIN).di(np.zeros((2, 3)))


# Cube (feature, y, x) whose pixels are, by row:
#   (−1, 1) = A → DI 0 in;   (0, 0) → 0.5097 in;   (5, 5) → 3.2634 out
#   (NaN, 0) → no features;  (0, −1) = B → DI 0 in; (3, 0) → 1.0193 in (≤ 1.1396)
PIXELS_A = np.array([[-1.0, 0.0, 5.0], [np.nan, 0.0, 3.0]])
PIXELS_B = np.array([[1.0, 0.0, 5.0], [0.0, -1.0, 0.0]])
EXPECTED_DI = np.array(
    [[0.0, 1 / D_BAR, math.sqrt(41) / D_BAR], [np.nan, 0.0, 2 / D_BAR]], dtype=np.float32
)


def feature_cube(*, chunked: bool) -> xr.DataArray:
    # features stored in the order (b, a) to check that they are matched by name
    data = np.stack([PIXELS_B, PIXELS_A])
    values = dsa.from_array(data, chunks=(1, 1, 2)) if chunked else data
    return xr.DataArray(
        values,
        dims=("feature", "y", "x"),
        coords={"feature": ["b", "a"], "y": [15.0, 5.0], "x": [5.0, 15.0, 25.0]},
    )


@pytest.mark.parametrize("chunked", [False, True])
def test_map_area_of_applicability(chunked: bool) -> None:
    aoa = AreaOfApplicability.fit(TRAIN, feature_names=["a", "b"])
    cube = feature_cube(chunked=chunked)
    result = map_area_of_applicability(cube, aoa)
    assert result["di"].dims == ("y", "x")
    assert result["di"].dtype == np.float32
    assert result["aoa"].dtype == bool
    assert isinstance(result["di"].data, dsa.Array) == chunked
    np.testing.assert_allclose(result["di"].values, EXPECTED_DI, rtol=1e-6)
    assert result["aoa"].values.tolist() == [[True, True, False], [False, True, True]]
    attrs = result["aoa"].attrs
    assert (attrs["n_inside"], attrs["n_outside"], attrs["n_no_features"]) == (4, 1, 1)
    assert attrs["threshold"] == pytest.approx(math.sqrt(5) / D_BAR)
    assert result["di"].attrs["units"] == "1"
    assert result["x"].values.tolist() == [5.0, 15.0, 25.0]
    # the input is not modified
    assert np.isnan(cube.values[1, 1, 0])


def test_map_needs_the_model_features() -> None:
    aoa = AreaOfApplicability.fit(TRAIN, feature_names=["a", "ndvi"])
    with pytest.raises(InputError, match="ndvi"):
        map_area_of_applicability(feature_cube(chunked=False), aoa)
    with pytest.raises(InputError, match="band"):
        map_area_of_applicability(feature_cube(chunked=False), aoa, feature_dim="band")
