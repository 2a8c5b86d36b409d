"""Accuracy assessment and Olofsson area estimation: published example, hand sums, coverage."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from carbonsink.errors import InputError
from carbonsink.imagery.accuracy import AccuracyReport, accuracy_report, confusion_matrix
from carbonsink.imagery.area_estimate import AreaEstimate, olofsson_area_estimate

# ---------------------------------------------------------------------------
# confusion_matrix / accuracy_report on a hand-made 3×3 sample
# ---------------------------------------------------------------------------

CLASSES_3 = ["A", "B", "C"]
# rows = map, columns = reference
COUNTS_3 = np.array(
    [
        [20, 3, 2],  # map A: 25
        [5, 15, 0],  # map B: 20
        [0, 5, 10],  # map C: 15
    ]
)
# column sums (reference): A 25, B 23, C 12; n = 60


def _labels_from_counts(
    counts: np.ndarray, classes: list[str], *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Expand counts into (map, reference) label arrays, shuffled."""
    map_labels: list[str] = []
    reference_labels: list[str] = []
    for i, m in enumerate(classes):
        for j, r in enumerate(classes):
            map_labels += [m] * int(counts[i, j])
            reference_labels += [r] * int(counts[i, j])
    order = np.random.default_rng(seed).permutation(len(map_labels))
    return np.array(map_labels)[order], np.array(reference_labels)[order]


def test_confusion_matrix_counts_rows_map_columns_reference() -> None:
    map_labels, reference_labels = _labels_from_counts(COUNTS_3, CLASSES_3)
    confusion = confusion_matrix(map_labels, reference_labels, classes=CLASSES_3)
    np.testing.assert_array_equal(confusion.to_numpy(), COUNTS_3)
    assert confusion.index.name == "map"
    assert confusion.columns.name == "reference"
    assert list(confusion.index) == CLASSES_3
    assert list(confusion.columns) == CLASSES_3
    # scikit-learn puts the true (reference) class on the rows: ours is its transpose.
    sk = sklearn_confusion_matrix(reference_labels, map_labels, labels=CLASSES_3)
    np.testing.assert_array_equal(confusion.to_numpy(), sk.T)


def test_confusion_matrix_keeps_class_order_and_empty_classes() -> None:
    confusion = confusion_matrix([2, 2, 1], [2, 1, 1], classes=[3, 2, 1])
    assert list(confusion.index) == [3, 2, 1]
    # map 2 → ref 2 once, map 2 → ref 1 once, map 1 → ref 1 once; class 3 has no sample.
    np.testing.assert_array_equal(confusion.to_numpy(), [[0, 0, 0], [0, 1, 1], [0, 0, 1]])


def test_accuracy_report_hand_computed() -> None:
    map_labels, reference_labels = _labels_from_counts(COUNTS_3, CLASSES_3, seed=3)
    report = accuracy_report(map_labels, reference_labels, classes=CLASSES_3)
    assert isinstance(report, AccuracyReport)
    assert report.n == 60
    # OA = (20 + 15 + 10) / 60 = 45/60 = 0.75
    assert report.overall_accuracy == pytest.approx(0.75)
    # p_e = (25·25 + 20·23 + 15·12) / 60² = (625 + 460 + 180) / 3600 = 1265/3600
    # κ = (2700 − 1265) / (3600 − 1265) = 1435/2335 = 0.614561...
    assert report.kappa == pytest.approx(1435 / 2335)
    # UA = n_ii / n_i·: A 20/25 = 0.8, B 15/20 = 0.75, C 10/15 = 0.6667
    np.testing.assert_allclose(report.users_accuracy.to_numpy(), [0.8, 0.75, 10 / 15])
    # PA = n_jj / n_·j: A 20/25 = 0.8, B 15/23 = 0.65217, C 10/12 = 0.8333
    np.testing.assert_allclose(report.producers_accuracy.to_numpy(), [0.8, 15 / 23, 10 / 12])
    assert list(report.users_accuracy.index) == CLASSES_3


def test_accuracy_report_nan_where_undefined() -> None:
    # Class "D" is in the legend but never on the map nor in the reference:
    # UA_D = 0/0 and PA_D = 0/0 are undefined → NaN; the other numbers are
    # those of the 3×3 case (D adds nothing to n, p_o or p_e).
    map_labels, reference_labels = _labels_from_counts(COUNTS_3, CLASSES_3)
    report = accuracy_report(map_labels, reference_labels, classes=[*CLASSES_3, "D"])
    assert math.isnan(report.users_accuracy["D"])
    assert math.isnan(report.producers_accuracy["D"])
    assert report.kappa == pytest.approx(1435 / 2335)


def test_kappa_nan_when_chance_agreement_is_one() -> None:
    # Every unit "A" on both: p_o = 1, p_e = (3·3)/3² = 1 → κ = 0/0, undefined.
    report = accuracy_report(["A"] * 3, ["A"] * 3, classes=["A", "B"])
    assert report.overall_accuracy == 1.0
    assert math.isnan(report.kappa)


def test_accuracy_report_to_dict_is_json() -> None:
    map_labels, reference_labels = _labels_from_counts(COUNTS_3, CLASSES_3)
    report = accuracy_report(map_labels, reference_labels, classes=[*CLASSES_3, "D"])
    record = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert record["n"] == 60
    assert record["classes"] == ["A", "B", "C", "D"]
    assert record["overall_accuracy"] == pytest.approx(0.75)
    assert record["users_accuracy"]["D"] is None
    assert record["producers_accuracy"]["B"] == pytest.approx(15 / 23)
    assert record["confusion"]["counts"]["B"]["A"] == 5  # map B, reference A
    assert record["confusion"]["orientation"].startswith("rows = map")


def test_inputs_not_mutated() -> None:
    map_labels, reference_labels = _labels_from_counts(COUNTS_3, CLASSES_3)
    map_copy, reference_copy = map_labels.copy(), reference_labels.copy()
    classes = list(CLASSES_3)
    accuracy_report(map_labels, reference_labels, classes=classes)
    np.testing.assert_array_equal(map_labels, map_copy)
    np.testing.assert_array_equal(reference_labels, reference_copy)
    assert classes == CLASSES_3

    counts = pd.DataFrame(COUNTS_3, index=CLASSES_3, columns=CLASSES_3)
    areas = pd.Series([10.0, 20.0, 70.0], index=CLASSES_3)
    counts_copy, areas_copy = counts.copy(), areas.copy()
    olofsson_area_estimate(counts, areas)
    pd.testing.assert_frame_equal(counts, counts_copy)
    pd.testing.assert_series_equal(areas, areas_copy)


# ---------------------------------------------------------------------------
# Olofsson et al. (2014) worked example, Section 5
# ---------------------------------------------------------------------------
# Source of the inputs: Olofsson, Foody, Herold, Stehman, Woodcock & Wulder
# (2014), "Good practices for estimating area and assessing accuracy of land
# change", Remote Sens. Environ. 148:42–57, §5, Table 8 (sample counts, rows =
# map) and the mapped pixel counts (30 m Landsat pixels, 0.09 ha each). The
# same counts and pixel counts are in the example "table 8 in Olofsson et al.
# (2014)" of the CRAN package mapaccuracy (H. Costa), R/olofsson.R.
# Published results (paper p. 54 and Table 9), also quoted in the tests of
# other implementations (e.g. the Python accuracyAssessmentTools package):
# areas 21,158 ± 6,158; 11,686 ± 3,756; 285,770 ± 15,510; 581,386 ± 16,282 ha
# (95 %, z = 1.96); UA 0.88 ± 0.07, 0.73 ± 0.10, 0.93 ± 0.04, 0.96 ± 0.02;
# PA 0.75 ± 0.21, 0.85 ± 0.23, 0.93 ± 0.03, 0.96 ± 0.01; OA 0.95 ± 0.02.

OLOFSSON_CLASSES = ["deforestation", "forest_gain", "stable_forest", "stable_nonforest"]
OLOFSSON_COUNTS = [
    [66, 0, 5, 4],  # map deforestation: n = 75
    [0, 55, 8, 12],  # map forest gain: n = 75
    [1, 0, 153, 11],  # map stable forest: n = 165
    [2, 1, 9, 313],  # map stable non-forest: n = 325
]
OLOFSSON_PIXELS = [200_000, 150_000, 3_200_000, 6_450_000]
HA_PER_LANDSAT_PIXEL = 0.09  # 30 m × 30 m = 900 m²


@pytest.fixture(scope="module")
def olofsson_example() -> AreaEstimate:
    counts = pd.DataFrame(OLOFSSON_COUNTS, index=OLOFSSON_CLASSES, columns=OLOFSSON_CLASSES)
    mapped = pd.Series([p * HA_PER_LANDSAT_PIXEL for p in OLOFSSON_PIXELS], index=OLOFSSON_CLASSES)
    return olofsson_area_estimate(counts, mapped, confidence=0.95)


def test_olofsson_table9_area_proportions(olofsson_example: AreaEstimate) -> None:
    p = olofsson_example.proportions
    # Table 9 (4 decimals): p̂_11 = 0.02·66/75 = 0.0176, p̂_13 = 0.02·5/75 = 0.0013,
    # p̂_22 = 0.015·55/75 = 0.0110, p̂_33 = 0.32·153/165 = 0.2967,
    # p̂_44 = 0.645·313/325 = 0.6212
    assert p.loc["deforestation", "deforestation"] == pytest.approx(0.0176, abs=5e-5)
    assert p.loc["deforestation", "stable_forest"] == pytest.approx(0.0013, abs=5e-5)
    assert p.loc["forest_gain", "forest_gain"] == pytest.approx(0.0110, abs=5e-5)
    assert p.loc["stable_forest", "stable_forest"] == pytest.approx(0.2967, abs=5e-5)
    assert p.loc["stable_nonforest", "stable_nonforest"] == pytest.approx(0.6212, abs=5e-5)
    # The whole of Table 9 (rows = map), as printed to 4 decimals.
    table9 = [
        [0.0176, 0.0000, 0.0013, 0.0011],
        [0.0000, 0.0110, 0.0016, 0.0024],
        [0.0019, 0.0000, 0.2967, 0.0213],
        [0.0040, 0.0020, 0.0179, 0.6212],
    ]
    np.testing.assert_allclose(p.to_numpy(), table9, atol=5e-5)
    # Table 9 column totals: 0.0235, 0.0130, 0.3175, 0.6460
    np.testing.assert_allclose(p.sum(axis=0), [0.0235, 0.0130, 0.3175, 0.6460], atol=5e-5)
    assert float(p.to_numpy().sum()) == pytest.approx(1.0)


def test_olofsson_area_estimates_match_paper(olofsson_example: AreaEstimate) -> None:
    table = olofsson_example.table
    assert olofsson_example.total_area_ha == pytest.approx(900_000.0)
    np.testing.assert_allclose(table["mapped_area_ha"], [18_000, 13_500, 288_000, 580_500])
    np.testing.assert_array_equal(table["n_samples"], [75, 75, 165, 325])
    # Published to the hectare: tolerance 1 ha (rounding).
    np.testing.assert_allclose(
        table["adjusted_area_ha"], [21_158, 11_686, 285_770, 581_386], atol=1.0
    )
    # Published 95 % half-widths used z = 1.96; ours uses z = 1.959964, which
    # moves the largest (16,282 ha) by 0.3 ha: tolerance 1 ha.
    half_width = (table["ci_high_ha"] - table["ci_low_ha"]) / 2
    np.testing.assert_allclose(half_width, [6_158, 3_756, 15_510, 16_282], atol=1.0)
    np.testing.assert_allclose(half_width, olofsson_example.z * table["se_ha"])
    assert olofsson_example.z == pytest.approx(1.96, abs=1e-4)
    # "21,158 ± 6,158 ha" → interval 15,000 … 27,316 ha
    assert table.loc["deforestation", "ci_low_ha"] == pytest.approx(15_000, abs=1.0)


def test_olofsson_accuracies_match_paper(olofsson_example: AreaEstimate) -> None:
    table = olofsson_example.table
    z = olofsson_example.z
    # Published to 2 decimals: tolerance 0.005.
    np.testing.assert_allclose(table["users_accuracy"], [0.88, 0.73, 0.93, 0.96], atol=0.005)
    np.testing.assert_allclose(z * table["users_accuracy_se"], [0.07, 0.10, 0.04, 0.02], atol=0.005)
    np.testing.assert_allclose(table["producers_accuracy"], [0.75, 0.85, 0.93, 0.96], atol=0.005)
    assert olofsson_example.overall_accuracy == pytest.approx(0.95, abs=0.005)
    assert z * olofsson_example.overall_accuracy_se == pytest.approx(0.02, abs=0.005)
    # Producer's accuracy intervals: the paper's ±0.21 (deforestation) and
    # ±0.03 (stable forest) follow from its eq. 7. Its ±0.23 (forest gain) and
    # ±0.01 (stable non-forest) do not (eq. 7 gives 0.254 and 0.018; other
    # implementations report the same mismatch), so forest gain is checked
    # against a hand computation of eq. 7 instead, below.
    producers_half_width = z * table["producers_accuracy_se"]
    assert producers_half_width["deforestation"] == pytest.approx(0.21, abs=0.005)
    assert producers_half_width["stable_forest"] == pytest.approx(0.03, abs=0.005)


def test_olofsson_forest_gain_producers_se_by_hand(olofsson_example: AreaEstimate) -> None:
    # Eq. 7 for j = forest gain, with N in pixels. Column j counts: n_12 = 0,
    # n_22 = 55, n_32 = 0, n_42 = 1.
    #   N̂_·2 = 150000·55/75 + 6450000·1/325 = 110000 + 19846.154 = 129846.154
    #   P̂_2  = 110000 / 129846.154 = 0.847156;  Û_2 = 55/75 = 0.733333
    #   term1 = N_2² (1 − P̂_2)² Û_2 (1 − Û_2) / (n_2 − 1)
    #         = 150000² · 0.152844² · 0.733333 · 0.266667 / 74 = 1.389197e6
    #   term2 = P̂_2² · N_4² (1/325)(324/325)/324 = 0.717673 · 6450000² / 325²
    #         = 0.717673 · 393,874,556.2 = 2.826726e8
    #   V = (term1 + term2) / N̂_·2² = 2.840618e8 / 1.686001e10 = 0.0168483
    #   SE = 0.129801
    se = olofsson_example.table.loc["forest_gain", "producers_accuracy_se"]
    assert se == pytest.approx(0.129801, rel=1e-4)


# ---------------------------------------------------------------------------
# Olofsson on a small hand example with a class off the map
# ---------------------------------------------------------------------------


def test_olofsson_small_hand_example() -> None:
    # Legend a, b, c; the map has no "c" (0 ha, no sample); "d" is only in the
    # mapped areas, with 0 ha. Rows = map:
    #   a: [8, 2, 0] (n = 10), b: [1, 9, 0] (n = 10); A_a = 30 ha, A_b = 70 ha.
    # W = (0.3, 0.7, 0, 0).
    # p̂ row a = 0.3·(0.8, 0.2, 0) = (0.24, 0.06, 0); row b = 0.7·(0.1, 0.9, 0) = (0.07, 0.63, 0)
    # p̂_·a = 0.31, p̂_·b = 0.69 → areas 31 ha and 69 ha; c and d 0 ha.
    # V(p̂_·a) = 0.3²·0.8·0.2/9 + 0.7²·0.1·0.9/9 = 0.0016 + 0.0049 = 0.0065 → SE 0.080623,
    #   × 100 ha = 8.0623 ha; V(p̂_·b) is the same sum (two classes).
    # UA: a 0.8, b 0.9, c and d NaN (no mapped area). SE(UA_a) = √(0.16/9) = 0.133333.
    # PA: a 0.24/0.31 = 0.774194, b 0.63/0.69 = 0.913043, c and d NaN (no area).
    # OA = 0.24 + 0.63 = 0.87; V(OA) = 0.09·0.16/9 + 0.49·0.09/9 = 0.0065 → SE 0.080623.
    # V(PA_a) = [0.3²·(0.07/0.31)²·0.16/9 + (0.24/0.31)²·0.7²·0.1·0.9/9] / 0.31²
    #         = [0.09·0.0509886·0.0177778 + 0.599376·0.0049] / 0.0961
    #         = [8.15817e-5 + 2.936941e-3] / 0.0961 = 0.0314102 → SE 0.177229
    counts = pd.DataFrame(
        [[8, 2, 0], [1, 9, 0], [0, 0, 0]], index=["a", "b", "c"], columns=["a", "b", "c"]
    )
    mapped = pd.Series({"a": 30.0, "b": 70.0, "d": 0.0})
    estimate = olofsson_area_estimate(counts, mapped)
    table = estimate.table
    assert list(table.index) == ["a", "b", "c", "d"]
    np.testing.assert_allclose(table["adjusted_area_ha"], [31.0, 69.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(table["se_ha"], [8.062258, 8.062258, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(table["users_accuracy"].iloc[:2], [0.8, 0.9])
    assert table["users_accuracy"].iloc[2:].isna().all()
    assert table.loc["a", "users_accuracy_se"] == pytest.approx(0.1333333, rel=1e-6)
    np.testing.assert_allclose(table["producers_accuracy"].iloc[:2], [0.24 / 0.31, 0.63 / 0.69])
    assert table["producers_accuracy"].iloc[2:].isna().all()
    assert table["producers_accuracy_se"].iloc[2:].isna().all()
    assert table.loc["a", "producers_accuracy_se"] == pytest.approx(0.177229, rel=1e-5)
    assert estimate.overall_accuracy == pytest.approx(0.87)
    assert estimate.overall_accuracy_se == pytest.approx(0.0806226, rel=1e-6)
    # 90 % interval uses z = 1.644854
    narrow = olofsson_area_estimate(counts, mapped, confidence=0.90)
    assert narrow.z == pytest.approx(1.644854, rel=1e-6)
    assert narrow.table.loc["a", "ci_high_ha"] == pytest.approx(31 + 1.644854 * 8.062258)

    record = json.loads(json.dumps(estimate.to_dict(), allow_nan=False))
    assert record["per_class"]["c"]["users_accuracy"] is None
    assert record["per_class"]["a"]["adjusted_area_ha"] == pytest.approx(31.0)
    assert record["per_class"]["b"]["n_samples"] == 10
    assert record["proportions"]["values"]["b"]["a"] == pytest.approx(0.07)
    assert record["confidence"] == 0.95


def test_olofsson_accepts_the_output_of_confusion_matrix() -> None:
    map_labels, reference_labels = _labels_from_counts(COUNTS_3, CLASSES_3)
    confusion = confusion_matrix(map_labels, reference_labels, classes=CLASSES_3)
    # Columns in another order than the rows are realigned, not misread.
    shuffled = confusion[["C", "A", "B"]]
    areas = pd.Series({"C": 50.0, "A": 25.0, "B": 25.0})
    a = olofsson_area_estimate(confusion, areas).table
    b = olofsson_area_estimate(shuffled, areas).table
    pd.testing.assert_frame_equal(a, b)
    # Area of A: 25·20/25 + 25·5/20 + 50·0/15 = 20 + 6.25 + 0 = 26.25 ha
    assert a.loc["A", "adjusted_area_ha"] == pytest.approx(26.25)


# ---------------------------------------------------------------------------
# Monte Carlo: interval coverage on a population with known truth
# ---------------------------------------------------------------------------


def test_olofsson_interval_coverage_monte_carlo() -> None:
    # A finite population of 200,000 pixels of 0.01 ha; rows = map class,
    # columns = true class (pixel counts). True areas are the column sums:
    # water 41,850 px = 418.5 ha, mudflat 22,250 px = 222.5 ha, reed
    # 135,900 px = 1,359 ha; the map shows 400, 150 and 1,450 ha (mudflat
    # under-mapped by a third).
    classes = ["water", "mudflat", "reed"]
    population = np.array(
        [
            [36_000, 3_000, 1_000],
            [1_500, 12_000, 1_500],
            [4_350, 7_250, 133_400],
        ]
    )
    true_area = population.sum(axis=0) * 0.01
    mapped = pd.Series(population.sum(axis=1) * 0.01, index=classes)
    sample_sizes = [100, 100, 300]
    rng = np.random.default_rng(20240830)
    reps = 1000
    covered = np.zeros(3)
    estimates = np.empty((reps, 3))
    for rep in range(reps):
        # Stratified random sample without replacement within each map stratum.
        counts = np.stack(
            [rng.multivariate_hypergeometric(population[i], sample_sizes[i]) for i in range(3)]
        )
        table = olofsson_area_estimate(
            pd.DataFrame(counts, index=classes, columns=classes), mapped
        ).table
        low = table["ci_low_ha"].to_numpy()
        high = table["ci_high_ha"].to_numpy()
        covered += (low <= true_area) & (true_area <= high)
        estimates[rep] = table["adjusted_area_ha"].to_numpy()
    coverage = covered / reps
    # 95 % intervals: over 1000 reps the binomial SD of the coverage is
    # √(0.95·0.05/1000) ≈ 0.7 % (≈ 1 % at 500 reps). Wald intervals sit a
    # little under nominal (≈ 94 % in a 4000-rep run of this design), so
    # 92–98 % is ≥ 2.5 SD from where a correct estimator lands, while a wrong
    # variance falls out (W_i instead of W_i² inflates the water SE about
    # fivefold: coverage → 100 %; dropping the other strata's terms from
    # S(p̂_·j) leaves mudflat with only its own stratum's variance: coverage
    # far below 92 %).
    assert np.all((coverage >= 0.92) & (coverage <= 0.98)), coverage
    # Unbiased: the mean estimate is within 4 Monte Carlo SE of the truth,
    # whereas the pixel count of mudflat is off by 72.5 ha.
    mc_se = estimates.std(axis=0, ddof=1) / math.sqrt(reps)
    assert np.all(np.abs(estimates.mean(axis=0) - true_area) < 4 * mc_se)
    assert abs(mapped["mudflat"] - true_area[1]) > 50 * mc_se[1]


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


def test_unknown_reference_label_names_it_and_its_position() -> None:
    with pytest.raises(InputError, match=r"sample unit 2: reference label 'sand'") as info:
        confusion_matrix(["A", "B", "A"], ["A", "B", "sand"], classes=["A", "B"])
    assert info.value.problem.fix is not None


def test_unknown_map_label() -> None:
    with pytest.raises(InputError, match=r"sample unit 0: map label 'X'"):
        accuracy_report(["X", "A"], ["A", "A"], classes=["A", "B"])


def test_missing_label_is_unknown() -> None:
    with pytest.raises(InputError, match=r"reference label nan"):
        confusion_matrix(["A", "A"], ["A", float("nan")], classes=["A"])


def test_mismatched_lengths() -> None:
    with pytest.raises(InputError, match="3 map labels but 2 reference labels"):
        confusion_matrix(["A", "A", "B"], ["A", "B"], classes=["A", "B"])


@pytest.mark.parametrize(
    ("map_labels", "reference_labels", "classes", "message"),
    [
        ([], [], ["A"], "no sample units"),
        (["A"], ["A"], [], "list of land-cover classes is empty"),
        (["A"], ["A"], ["A", "A"], "appears more than once"),
        ([["A"]], [["A"]], ["A"], r"shape \(1, 1\)"),
    ],
)
def test_bad_labels_or_classes(
    map_labels: list[object], reference_labels: list[object], classes: list[str], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        confusion_matrix(map_labels, reference_labels, classes=classes)


def _olofsson_inputs() -> tuple[pd.DataFrame, pd.Series]:
    counts = pd.DataFrame(OLOFSSON_COUNTS, index=OLOFSSON_CLASSES, columns=OLOFSSON_CLASSES)
    mapped = pd.Series([p * HA_PER_LANDSAT_PIXEL for p in OLOFSSON_PIXELS], index=OLOFSSON_CLASSES)
    return counts, mapped


def test_zero_sample_stratum_is_an_error() -> None:
    counts, mapped = _olofsson_inputs()
    counts.loc["deforestation"] = 0
    with pytest.raises(
        InputError,
        match=r"class 'deforestation' covers 18,000.00 ha of the map but has no reference samples",
    ) as info:
        olofsson_area_estimate(counts, mapped)
    assert "add samples" in str(info.value)


def test_mapped_class_missing_from_the_matrix_is_a_zero_sample_stratum() -> None:
    counts, mapped = _olofsson_inputs()
    mapped["water"] = 500.0
    with pytest.raises(InputError, match=r"class 'water' covers 500.00 ha .* no reference samples"):
        olofsson_area_estimate(counts, mapped)


def test_a_class_smaller_than_one_sample_unit_is_taken_as_mapped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 500 ha of water, no sample unit: the 640 units of 900,500 ha stand for 1,407.03 ha
    # each, so a sample is expected to miss it. Its area stays 500 ha; its SE² adds to
    # the sampled strata's Jeffreys terms A_i² s(1 − s)/(n_i + 2), s = 0.5/(n_i + 1)
    # (no water in any of them):
    #   18,000² × (0.5/76)(1 − 0.5/76)/77      =    27,500.7
    #   13,500² × (0.5/76)(1 − 0.5/76)/77      =    15,469.2
    #   288,000² × (0.5/166)(1 − 0.5/166)/167  = 1,491,489.9
    #   580,500² × (0.5/326)(1 − 0.5/326)/327  = 1,578,129.0
    # its own stratum's prior term 500² × ½(1 − ½)/(0 + 2) = 31,250: SE² 3,143,838.8,
    # SE = 1,773.09 ha.
    counts, mapped = _olofsson_inputs()
    mapped["water"] = 500.0
    with caplog.at_level(logging.WARNING, logger="carbonsink.imagery.area_estimate"):
        result = olofsson_area_estimate(counts, mapped, share_variance="jeffreys")
    water = result.table.loc["water"]
    assert water["adjusted_area_ha"] == pytest.approx(500.0)
    assert water["se_ha"] == pytest.approx(1_773.087, abs=1e-3)
    assert np.isnan(water["users_accuracy"])
    assert "less than the 1407.03 ha one reference sample stands for" in caplog.text
    # The areas add up to the map's 900,500 ha.
    assert result.table["adjusted_area_ha"].sum() == pytest.approx(900_500.0)


def test_an_unsampled_class_larger_than_one_sample_unit_is_an_error() -> None:
    # 18,000 ha is more than the 900,000 / 565 = 1,592.9 ha one of the other units stands for.
    counts, mapped = _olofsson_inputs()
    counts.loc["deforestation"] = 0
    with pytest.raises(InputError, match=r"'deforestation' covers 18,000.00 ha .* no reference"):
        olofsson_area_estimate(counts, mapped, share_variance="jeffreys")


def test_one_sample_stratum_is_an_error() -> None:
    counts, mapped = _olofsson_inputs()
    counts.loc["forest_gain"] = [0, 1, 0, 0]
    with pytest.raises(InputError, match=r"'forest_gain' .* only one reference sample"):
        olofsson_area_estimate(counts, mapped)


def test_one_sample_stratum_has_a_jeffreys_area_variance() -> None:
    # Jeffreys: the stratum's class shares are (n_ij + 0.5)/(n_i + 1) = (0.25, 0.75,
    # 0.25, 0.25) for counts (0, 1, 0, 0), with variance s(1 − s)/(n_i + 2) = 0.1875/3
    # = 0.0625 each: defined for n_i = 1, unlike Wald's s(1 − s)/(n_i − 1). Its user's
    # accuracy is 1/1 = 1 with no SE.
    counts, mapped = _olofsson_inputs()
    counts.loc["forest_gain"] = [0, 1, 0, 0]
    result = olofsson_area_estimate(counts, mapped, share_variance="jeffreys")
    row = result.table.loc["forest_gain"]
    assert row["users_accuracy"] == 1.0
    assert np.isnan(row["users_accuracy_se"])
    assert np.isfinite(result.table["se_ha"]).all()
    weight = mapped["forest_gain"] / mapped.sum()
    total = mapped.sum()
    # The stratum adds weight² × 0.0625 to every class's proportion variance, so each
    # class's area SE is at least total × sqrt(weight² × 0.0625) = total × weight × 0.25.
    assert (result.table["se_ha"] >= total * weight * 0.25).all()


def test_samples_without_mapped_area_is_an_error() -> None:
    counts, mapped = _olofsson_inputs()
    mapped["forest_gain"] = 0.0
    with pytest.raises(InputError, match=r"'forest_gain' has 75 reference samples .* 0 ha"):
        olofsson_area_estimate(counts, mapped)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c, a: (c.astype(float).where(c != 66, 6.5), a), "non-negative integers"),
        (lambda c, a: (c.where(c != 66, -1), a), "non-negative integers"),
        (lambda c, a: (c.rename(columns={"forest_gain": "gain"}), a), "not the same classes"),
        (lambda c, a: (c, a.where(a.index != "forest_gain", -5.0)), r"'forest_gain' is -5.0 ha"),
        (lambda c, a: (c, a.where(a.index != "forest_gain", np.nan)), r"'forest_gain' is nan ha"),
        (lambda c, a: (c * 0, a * 0), "total mapped area is 0 ha"),
        (lambda c, a: (c.to_numpy(), a), "not a pandas DataFrame"),
        (lambda c, a: (c, a.to_dict()), "not a pandas Series"),
    ],
)
def test_bad_olofsson_inputs(edit: object, message: str) -> None:
    counts, mapped = _olofsson_inputs()
    bad_counts, bad_mapped = edit(counts, mapped)  # type: ignore[operator]
    with pytest.raises(InputError, match=message):
        olofsson_area_estimate(bad_counts, bad_mapped)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 95, -0.5])
def test_bad_confidence(confidence: float) -> None:
    counts, mapped = _olofsson_inputs()
    with pytest.raises(InputError, match="confidence"):
        olofsson_area_estimate(counts, mapped, confidence=confidence)


# ---------------------------------------------------------------------------
# Jeffreys share variance (small, error-free strata)
# ---------------------------------------------------------------------------


def test_jeffreys_share_variance_hand_example() -> None:
    # Same matrix as the small hand example: rows a: [8, 2, 0] (n = 10),
    # b: [1, 9, 0] (n = 10); W = (0.3, 0.7). Jeffreys shares q̃ = (n_ij + ½)/(n_i + 1):
    #   row a: (8.5, 2.5, 0.5)/11, row b: (1.5, 9.5, 0.5)/11; variance q̃(1 − q̃)/(n_i + 2 = 12).
    # class a: 0.09·(8.5/11)(2.5/11)/12 + 0.49·(1.5/11)(9.5/11)/12
    #        = 0.09·0.0146350 + 0.49·0.00981405 = 0.00131715 + 0.00480888 = 0.00612603
    #        → SE 0.0782690 × 100 ha = 7.82690 ha (Wald: 8.062258)
    # class c (no sample, nothing mapped): 0.09·(0.5/11)(10.5/11)/12 + 0.49·(same)
    #        = 0.58·0.00361570 = 0.00209711 → SE 0.0457942 × 100 = 4.57942 ha (Wald: 0)
    counts = pd.DataFrame(
        [[8, 2, 0], [1, 9, 0], [0, 0, 0]], index=["a", "b", "c"], columns=["a", "b", "c"]
    )
    mapped = pd.Series({"a": 30.0, "b": 70.0, "c": 0.0})
    table = olofsson_area_estimate(counts, mapped, share_variance="jeffreys").table
    # The estimates themselves do not change.
    np.testing.assert_allclose(table["adjusted_area_ha"], [31.0, 69.0, 0.0], atol=1e-9)
    assert table.loc["a", "se_ha"] == pytest.approx(7.82690, rel=1e-5)
    assert table.loc["c", "se_ha"] == pytest.approx(4.57942, rel=1e-5)


def test_jeffreys_keeps_coverage_where_wald_collapses() -> None:
    # A small water stratum with 1 % commission error sampled with only 10
    # units: in 0.99^10 ≈ 90 % of samples it holds no error, the Wald term of
    # that stratum is 0 and its intervals are too narrow; the Jeffreys term
    # never is. Population (pixels of 0.01 ha), rows = map, columns = truth.
    classes = ["water", "mudflat", "reed"]
    population = np.array([[19_800, 200, 0], [500, 9_000, 500], [1_000, 1_000, 168_000]])
    true_area = population.sum(axis=0) * 0.01
    mapped = pd.Series(population.sum(axis=1) * 0.01, index=classes)
    sizes = [10, 10, 100]
    rng = np.random.default_rng(7)
    reps = 1000
    covered = {"wald": np.zeros(3), "jeffreys": np.zeros(3)}
    for _ in range(reps):
        counts = pd.DataFrame(
            np.stack([rng.multivariate_hypergeometric(population[i], sizes[i]) for i in range(3)]),
            index=classes,
            columns=classes,
        )
        for rule in covered:
            table = olofsson_area_estimate(counts, mapped, share_variance=rule).table  # type: ignore[arg-type]
            low, high = table["ci_low_ha"].to_numpy(), table["ci_high_ha"].to_numpy()
            covered[rule] += (low <= true_area) & (true_area <= high)
    wald = covered["wald"] / reps
    jeffreys = covered["jeffreys"] / reps
    # Jeffreys is at or above nominal for every class (binomial SD ≈ 0.7 % at 1000
    # reps, so ≥ 0.93 allows ~3 SD); Wald falls well short for at least one class.
    assert np.all(jeffreys >= 0.93), jeffreys
    assert wald.min() < 0.90, wald
    assert np.all(jeffreys >= wald), (wald, jeffreys)


def test_unknown_share_variance() -> None:
    counts = pd.DataFrame([[2, 0], [0, 2]], index=["a", "b"], columns=["a", "b"])
    with pytest.raises(InputError, match="share_variance"):
        olofsson_area_estimate(
            counts,
            pd.Series({"a": 1.0, "b": 1.0}),
            share_variance="exact",  # type: ignore[arg-type]
        )
