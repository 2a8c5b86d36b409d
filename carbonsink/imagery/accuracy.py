"""Land-cover accuracy assessment and stratified (Olofsson) area estimation.

Every matrix here follows the convention of Olofsson et al. (2014): **rows are
the map class, columns the reference class**. Cell ``(i, j)`` counts the
sample units the map labels ``i`` and the reference labels ``j``; row sums are
the samples per map class (the strata of a stratified random sample), column
sums the samples per reference class.

:func:`confusion_matrix` and :func:`accuracy_report` give the plain sample
accuracies (counts, overall accuracy, Cohen's kappa, user's and producer's
accuracy). Those are unbiased only when every sample unit had the same chance
of selection (simple random or systematic sampling). After a stratified
sample — the usual design, with rare classes over-sampled — use
:func:`olofsson_area_estimate`, which weights each stratum by its mapped area
and also estimates the class areas with a confidence interval: a pixel count
of the map is biased by the map's errors.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonsink.errors import InputError
from carbonsink.i18n import deferred

__all__ = [
    "MAP_AXIS",
    "REFERENCE_AXIS",
    "AccuracyReport",
    "AreaEstimate",
    "Labels",
    "ShareVariance",
    "accuracy_report",
    "confusion_matrix",
    "olofsson_area_estimate",
]

logger = logging.getLogger(__name__)

#: Class labels, one per sample unit: a list, a 1-D numpy array or a pandas Series/Index.
Labels = Sequence[Hashable] | npt.NDArray[Any] | pd.Series | pd.Index
#: Variance of a stratum's class share in the area SE (see :func:`olofsson_area_estimate`).
ShareVariance = Literal["wald", "jeffreys"]

#: Axis names of every confusion matrix built here (Olofsson et al. 2014 orientation).
MAP_AXIS = "map"
REFERENCE_AXIS = "reference"


def _json_label(label: Hashable) -> str | int | float | bool:
    """A class label as a JSON scalar (numpy scalars become Python ones)."""
    if isinstance(label, np.generic):
        value = label.item()
        if isinstance(value, str | int | float | bool):
            return value
        return str(value)
    if isinstance(label, str | int | float | bool):
        return label
    return str(label)


def _shown(label: object) -> str:
    """A label for an error message: ``'reed'`` or ``3``, not ``np.str_('reed')``."""
    return repr(_json_label(label)) if isinstance(label, Hashable) else repr(label)


def _json_number(value: float) -> float | None:
    """A float for the JSON ledger: ``None`` where it is NaN (JSON has no NaN)."""
    return None if math.isnan(value) else float(value)


def _check_classes(classes: Sequence[Hashable]) -> list[Hashable]:
    class_list = list(classes)
    if not class_list:
        raise InputError(
            "the list of land-cover classes is empty",
            fix="pass every class of the legend, e.g. classes=['water', 'mudflat', 'reed']",
        )
    seen: set[Hashable] = set()
    for label in class_list:
        if label is None or (isinstance(label, float) and math.isnan(label)):
            raise InputError(
                f"the list of classes contains a missing value ({_shown(label)})",
                fix="name every class of the legend; drop the missing entry",
            )
        if label in seen:
            raise InputError(
                f"class {_shown(label)} appears more than once in the list of classes",
                fix="list each class of the legend once",
            )
        seen.add(label)
    return class_list


def _label_array(labels: Labels, *, role: str) -> npt.NDArray[np.object_]:
    """The labels as a flat object array; anything but one label per sample unit is an error."""
    values = np.asarray(labels, dtype=object)
    if values.ndim != 1:
        raise InputError(
            f"the {role} labels have shape {values.shape}; expected one label per sample unit",
            fix=f"pass the {role} labels as a flat sequence (one entry per sample unit)",
        )
    return values


def _label_codes(
    values: npt.NDArray[np.object_], *, classes: list[Hashable], role: str
) -> npt.NDArray[np.intp]:
    """Position of each label in ``classes``; an unknown label is an :class:`InputError`."""
    lookup = {label: code for code, label in enumerate(classes)}
    codes = np.empty(values.size, dtype=np.intp)
    for position, label in enumerate(values):
        code = lookup.get(label) if isinstance(label, Hashable) else None
        if code is None:
            raise InputError(
                f"{role} label {_shown(label)} is not one of the classes "
                f"{[_json_label(c) for c in classes]!r}",
                where=f"sample unit {position}",
                fix=(
                    f"correct the {role} label, or add the class to `classes` "
                    "if it belongs to the legend"
                ),
            )
        codes[position] = code
    return codes


def confusion_matrix(
    map_labels: Labels,
    reference_labels: Labels,
    *,
    classes: Sequence[Hashable],
) -> pd.DataFrame:
    """Count the sample units per (map class, reference class).

    Parameters
    ----------
    map_labels
        The map's class at each sample unit.
    reference_labels
        The reference (ground truth, interpreted) class at each sample unit, in
        the same order as ``map_labels``.
    classes
        The legend, in the order wanted for rows and columns. Every label must
        be one of them; a class may have no sample (its row or column is 0).

    Returns
    -------
    pandas.DataFrame
        ``int64`` counts ``n_ij``; **rows = map class** (index named
        ``"map"``), **columns = reference class** (named ``"reference"``),
        both in the order of ``classes``. This is the orientation of Olofsson
        et al. (2014), Table 8; scikit-learn's ``confusion_matrix`` is the
        transpose (rows = true class).

    Raises
    ------
    InputError
        When the two label sequences differ in length or are empty, when a
        label is not in ``classes`` (the message gives its position), or when
        ``classes`` is empty or repeats a class.

    Notes
    -----
    ``n_ij`` = number of sample units with map class i and reference class j
    (Congalton 1991, Remote Sens. Environ. 37:35–46; Olofsson et al. 2014,
    Remote Sens. Environ. 148:42–57, §4.4).
    """
    class_list = _check_classes(classes)
    map_values = _label_array(map_labels, role="map")
    reference_values = _label_array(reference_labels, role="reference")
    if map_values.size != reference_values.size:
        raise InputError(
            f"{map_values.size} map labels but {reference_values.size} reference labels",
            fix="pass one map label and one reference label for every sample unit",
        )
    if map_values.size == 0:
        raise InputError(
            "no sample units: the map and reference labels are empty",
            fix="label the accuracy sample before assessing the map",
        )
    map_codes = _label_codes(map_values, classes=class_list, role="map")
    reference_codes = _label_codes(reference_values, classes=class_list, role="reference")
    size = len(class_list)
    counts = np.bincount(map_codes * size + reference_codes, minlength=size * size)
    return pd.DataFrame(
        counts.reshape(size, size).astype(np.int64),
        index=pd.Index(class_list, name=MAP_AXIS, dtype=object),
        columns=pd.Index(class_list, name=REFERENCE_AXIS, dtype=object),
    )


@dataclass(frozen=True, eq=False)
class AccuracyReport:
    """Sample accuracy of a classified map (equal-probability sample).

    Attributes
    ----------
    confusion
        Counts, rows = map class, columns = reference class (see
        :func:`confusion_matrix`).
    overall_accuracy
        Share of sample units where map and reference agree.
    kappa
        Cohen's kappa; NaN when chance agreement is 1 (every sample unit in
        one class on both map and reference), where kappa is undefined.
    users_accuracy
        Per map class, ``n_ii / n_i·`` (1 − commission error); NaN for a class
        the map never gives at a sample unit.
    producers_accuracy
        Per reference class, ``n_jj / n_·j`` (1 − omission error); NaN for a
        class no reference label has.
    n
        Number of sample units.
    """

    confusion: pd.DataFrame
    overall_accuracy: float
    kappa: float
    users_accuracy: pd.Series
    producers_accuracy: pd.Series
    n: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the ledger; NaN becomes ``None``, class labels become keys."""
        classes = list(self.confusion.index)
        return {
            "n": int(self.n),
            "classes": [_json_label(c) for c in classes],
            "overall_accuracy": _json_number(self.overall_accuracy),
            "kappa": _json_number(self.kappa),
            "users_accuracy": {
                str(c): _json_number(float(self.users_accuracy[c])) for c in classes
            },
            "producers_accuracy": {
                str(c): _json_number(float(self.producers_accuracy[c])) for c in classes
            },
            "confusion": {
                "orientation": "rows = map class, columns = reference class",
                "counts": {
                    str(m): {str(r): int(self.confusion.loc[m, r]) for r in classes}
                    for m in classes
                },
            },
        }


def accuracy_report(
    map_labels: Labels,
    reference_labels: Labels,
    *,
    classes: Sequence[Hashable],
) -> AccuracyReport:
    """Confusion matrix, overall accuracy, kappa, user's and producer's accuracy.

    Parameters
    ----------
    map_labels, reference_labels, classes
        As for :func:`confusion_matrix`.

    Returns
    -------
    AccuracyReport
        The counts and the sample accuracies.

    Raises
    ------
    InputError
        As :func:`confusion_matrix`.

    Notes
    -----
    With ``n_ij`` the counts (rows = map), ``n`` their total, ``n_i·`` and
    ``n_·j`` the row and column sums (Congalton 1991, Remote Sens. Environ.
    37:35–46; Cohen 1960, Educ. Psychol. Meas. 20:37–46):

    - overall accuracy  p_o = Σ_i n_ii / n
    - user's accuracy   U_i = n_ii / n_i·      (NaN when n_i· = 0)
    - producer's acc.   P_j = n_jj / n_·j      (NaN when n_·j = 0)
    - chance agreement  p_e = Σ_i n_i· n_·i / n²
    - kappa             κ = (p_o − p_e) / (1 − p_e)   (NaN when p_e = 1)

    These are unbiased only for an equal-probability sample. For a
    stratified sample use :func:`olofsson_area_estimate`, which weights the
    strata by mapped area (Olofsson et al. 2014, Remote Sens. Environ.
    148:42–57). Kappa is reported because readers expect it; Olofsson et al.
    (2014, §4.4) advise against using it to judge a map.
    """
    confusion = confusion_matrix(map_labels, reference_labels, classes=classes)
    counts = confusion.to_numpy(dtype=np.float64)
    n = float(counts.sum())
    diagonal = np.diag(counts)
    row_sums = counts.sum(axis=1)
    column_sums = counts.sum(axis=0)
    overall = float(diagonal.sum() / n)
    chance = float((row_sums * column_sums).sum() / n**2)
    kappa = math.nan if chance >= 1.0 else (overall - chance) / (1.0 - chance)
    with np.errstate(invalid="ignore", divide="ignore"):
        users = np.where(row_sums > 0, diagonal / row_sums, np.nan)
        producers = np.where(column_sums > 0, diagonal / column_sums, np.nan)
    index = confusion.index
    return AccuracyReport(
        confusion=confusion,
        overall_accuracy=overall,
        kappa=float(kappa),
        users_accuracy=pd.Series(users, index=index.rename(MAP_AXIS), name="users_accuracy"),
        producers_accuracy=pd.Series(
            producers, index=index.rename(REFERENCE_AXIS), name="producers_accuracy"
        ),
        n=int(n),
    )


@dataclass(frozen=True, eq=False)
class AreaEstimate:
    """Stratified estimate of class areas and area-weighted accuracy.

    Attributes
    ----------
    table
        One row per class (index named ``"class"``), columns:
        ``mapped_area_ha`` (pixel count of the map), ``n_samples`` (sample
        units in that map stratum), ``adjusted_area_ha`` (the estimate),
        ``se_ha``, ``ci_low_ha``, ``ci_high_ha``, ``users_accuracy``,
        ``users_accuracy_se``, ``producers_accuracy``,
        ``producers_accuracy_se``. Accuracies are NaN where undefined (see
        :func:`olofsson_area_estimate`).
    proportions
        Estimated area proportions ``p̂_ij`` (rows = map class, columns =
        reference class); they sum to 1 (Olofsson et al. 2014, Table 9).
    overall_accuracy, overall_accuracy_se
        Area-weighted overall accuracy and its standard error.
    confidence
        Confidence level of the intervals.
    z
        The standard normal quantile used, ``Φ⁻¹((1 + confidence) / 2)``.
    total_area_ha
        Total mapped area, Σ ``mapped_area_ha``.
    """

    table: pd.DataFrame
    proportions: pd.DataFrame
    overall_accuracy: float
    overall_accuracy_se: float
    confidence: float
    z: float
    total_area_ha: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the ledger; NaN becomes ``None``."""
        classes = list(self.table.index)
        per_class = {
            str(c): {
                column: (
                    int(self.table.loc[c, column])
                    if column == "n_samples"
                    else _json_number(float(self.table.loc[c, column]))
                )
                for column in self.table.columns
            }
            for c in classes
        }
        return {
            "method": "stratified estimator, Olofsson et al. 2014 (Remote Sens. Environ. 148:42)",
            "confidence": float(self.confidence),
            "z": float(self.z),
            "total_area_ha": float(self.total_area_ha),
            "overall_accuracy": _json_number(self.overall_accuracy),
            "overall_accuracy_se": _json_number(self.overall_accuracy_se),
            "classes": [_json_label(c) for c in classes],
            "per_class": per_class,
            "proportions": {
                "orientation": "rows = map class, columns = reference class",
                "values": {
                    str(m): {str(r): float(self.proportions.loc[m, r]) for r in classes}
                    for m in classes
                },
            },
        }


def _check_counts(confusion_counts: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(confusion_counts, pd.DataFrame):
        raise InputError(
            f"confusion_counts is a {type(confusion_counts).__name__}, not a pandas DataFrame",
            fix="pass the counts from confusion_matrix() (rows = map, columns = reference)",
        )
    rows = list(confusion_counts.index)
    columns = list(confusion_counts.columns)
    if len(set(rows)) != len(rows) or len(set(columns)) != len(columns):
        raise InputError(
            "the confusion matrix repeats a class in its rows or columns",
            fix="build it with confusion_matrix(), which lists each class once",
        )
    if set(rows) != set(columns):
        raise InputError(
            f"the confusion matrix rows {[_json_label(r) for r in rows]!r} and columns "
            f"{[_json_label(c) for c in columns]!r} are not the same classes",
            fix="give the matrix every class of the legend as both a row and a column "
            "(confusion_matrix(..., classes=...) does)",
        )
    if not rows:
        raise InputError(
            "the confusion matrix is empty",
            fix="build it with confusion_matrix() from the labelled accuracy sample",
        )
    ordered = confusion_counts.loc[rows, rows]
    try:
        values = ordered.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"the confusion matrix holds non-numeric values ({error})",
            fix="pass sample counts (non-negative integers)",
        ) from error
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(
            f"confusion count for map class {_shown(rows[i])}, reference class {_shown(rows[j])} "
            f"is {float(values[i, j])!r}; counts must be non-negative integers",
            fix="pass the sample counts n_ij, not proportions or areas",
        )
    return pd.DataFrame(
        values,
        index=pd.Index(rows, name=MAP_AXIS, dtype=object),
        columns=pd.Index(rows, name=REFERENCE_AXIS, dtype=object),
    )


def _check_mapped_area(mapped_area_ha: pd.Series, classes: list[Hashable]) -> pd.Series:
    if not isinstance(mapped_area_ha, pd.Series):
        raise InputError(
            f"mapped_area_ha is a {type(mapped_area_ha).__name__}, not a pandas Series",
            fix="pass a Series of mapped area (ha) indexed by map class",
        )
    labels = list(mapped_area_ha.index)
    if len(set(labels)) != len(labels):
        raise InputError(
            "mapped_area_ha lists a class more than once",
            fix="give one mapped area per map class",
        )
    try:
        areas = mapped_area_ha.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"mapped_area_ha holds non-numeric values ({error})",
            fix="pass the mapped area of each class in hectares",
        ) from error
    for label, area in zip(labels, areas, strict=True):
        if not math.isfinite(area) or area < 0:
            raise InputError(
                f"mapped area of class {_shown(label)} is {float(area)!r} ha",
                fix="pass a finite, non-negative area in hectares for every map class",
            )
    known = set(classes)
    extra = [label for label in labels if label not in known]
    return pd.Series(areas, index=pd.Index(labels, dtype=object)).reindex(
        pd.Index(classes + extra, dtype=object), fill_value=0.0
    )


def olofsson_area_estimate(
    confusion_counts: pd.DataFrame,
    mapped_area_ha: pd.Series,
    *,
    confidence: float = 0.95,
    share_variance: ShareVariance = "wald",
) -> AreaEstimate:
    """Area of each class and area-weighted accuracy from a stratified sample.

    The map classes are the strata: the sample units of map class ``i`` are a
    simple random sample of the pixels the map labels ``i``.

    Parameters
    ----------
    confusion_counts
        Sample counts ``n_ij``, rows = map class, columns = reference class,
        the same classes in both (as :func:`confusion_matrix` returns).
    mapped_area_ha
        Mapped area (pixel count × pixel area) of each map class, in
        hectares, indexed by class. A class missing here has 0 ha mapped;
        classes found only here are added with no sample.
    confidence
        Confidence level of the intervals, in (0, 1).
    share_variance
        How the variance of each stratum's share of a reference class enters
        the area SE (eq. 10): ``"wald"`` as in the paper, or ``"jeffreys"``
        (see Notes), which is never 0 and is the conservative choice for
        small samples.

    Returns
    -------
    AreaEstimate
        Per-class table (mapped and adjusted area with SE and interval,
        user's and producer's accuracy with SE), the estimated area
        proportions, and the overall accuracy with its SE.

    Raises
    ------
    InputError
        When a map class covers some area but has no reference sample, or
        only one (its variance is undefined); when a class has sample units
        but no mapped area (the samples cannot come from that stratum); when
        counts are not non-negative integers, areas not finite and
        non-negative, the total area is 0, or ``confidence`` is outside (0, 1).

    Notes
    -----
    Olofsson et al. (2014), "Good practices for estimating area and assessing
    accuracy of land change", Remote Sens. Environ. 148:42–57, §4.4 (their
    equation numbers). With ``A_tot`` the total mapped area, ``W_i = A_i /
    A_tot`` the mapped share of class i and ``n_i·`` its sample size:

    - p̂_ij = W_i n_ij / n_i·                         (eq. 4)
    - overall accuracy  Ô = Σ_j p̂_jj                  (eq. 1)
    - user's accuracy   Û_i = p̂_ii / p̂_i· = n_ii / n_i·   (eq. 2)
    - producer's acc.   P̂_j = p̂_jj / p̂_·j            (eq. 3)
    - V̂(Ô) = Σ_i W_i² Û_i (1 − Û_i) / (n_i· − 1)     (eq. 5)
    - V̂(Û_i) = Û_i (1 − Û_i) / (n_i· − 1)            (eq. 6)
    - V̂(P̂_j) = N̂_·j⁻² [ N_j·² (1 − P̂_j)² Û_j (1 − Û_j) / (n_j· − 1)
      + P̂_j² Σ_{i≠j} N_i·² (n_ij / n_i·)(1 − n_ij / n_i·) / (n_i· − 1) ],
      N̂_·j = Σ_i N_i· n_ij / n_i·                    (eq. 7); N may be pixel
      counts or areas (the ratio is scale-free), here W.
    - area proportion  p̂_·j = Σ_i W_i n_ij / n_i·     (eq. 9)
    - S(p̂_·j) = √( Σ_i W_i² (n_ij / n_i·)(1 − n_ij / n_i·) / (n_i· − 1) )   (eq. 10)
    - Â_j = A_tot p̂_·j,  S(Â_j) = A_tot S(p̂_·j),  CI = Â_j ± z S(Â_j)

    with ``z = Φ⁻¹((1 + confidence)/2)`` (1.96 at 95 %). The finite population
    correction is left out, as in the paper (negligible when the sample is a
    tiny share of the pixels). Undefined values are NaN: user's accuracy of a
    class with no mapped area; producer's accuracy (and its SE) of a class
    with no estimated area (no reference label anywhere). Intervals are Wald
    intervals and are not truncated at 0. They are too narrow when a class is
    rare inside a large stratum and the stratum's sample holds few or none of
    it (its variance is then estimated as 0); give large strata enough
    samples (Olofsson et al. 2014 suggest ≥ 50 per class, more in the large
    strata).

    ``share_variance="jeffreys"`` replaces, in eq. 10 only, the Wald variance
    of the share q_ij = n_ij / n_i· by the variance of its Jeffreys posterior
    Beta(n_ij + ½, n_i· − n_ij + ½): q̃(1 − q̃) / (n_i· + 2) with
    q̃ = (n_ij + ½) / (n_i· + 1). The Wald term is 0 whenever a stratum's
    sample holds none or only of class j — e.g. a small, error-free water
    stratum — which gives a zero-width interval although the true share is
    unknown; the Jeffreys interval keeps near-nominal coverage there (Brown,
    Cai & DasGupta 2001, Statist. Sci. 16:101–133). The estimate Â_j itself
    is unchanged (unbiased).
    """
    if share_variance not in ("wald", "jeffreys"):
        raise InputError(
            f"unknown share_variance {share_variance!r}",
            fix='use "wald" (Olofsson et al. 2014) or "jeffreys"',
        )
    if not (isinstance(confidence, float | int) and 0.0 < confidence < 1.0):
        raise InputError(
            f"confidence is {confidence!r}; it must lie strictly between 0 and 1",
            fix="pass e.g. confidence=0.95 for a 95 % interval",
        )
    counts_frame = _check_counts(confusion_counts)
    matrix_classes = list(counts_frame.index)
    areas = _check_mapped_area(mapped_area_ha, matrix_classes)
    classes = list(areas.index)
    counts_frame = counts_frame.reindex(
        index=pd.Index(classes, dtype=object), columns=pd.Index(classes, dtype=object)
    ).fillna(0.0)
    counts = counts_frame.to_numpy(dtype=np.float64)
    area = areas.to_numpy(dtype=np.float64)
    n_i = counts.sum(axis=1)

    for label, a, n in zip(classes, area, n_i, strict=True):
        if a > 0 and n == 0:
            raise InputError(
                f"class {_shown(label)} covers {a:,.2f} ha of the map but has no reference samples",
                fix="add samples: draw reference sample units in that map class "
                "(at least 2; Olofsson et al. 2014 suggest ≥ 50 per class)",
            )
        if a > 0 and n == 1 and share_variance == "jeffreys":
            logger.warning(
                deferred(
                    "class {name} covers {ha:.2f} ha of the map but has one reference sample: "
                    "its area variance is the Jeffreys posterior's, its user's accuracy has no SE",
                    name=_shown(label),
                    ha=float(a),
                )
            )
        elif a > 0 and n == 1:
            raise InputError(
                f"class {_shown(label)} covers {a:,.2f} ha of the map but has only one reference "
                "sample; the variance of a one-sample stratum is undefined (n_i − 1 = 0)",
                fix="add reference samples in that map class (at least 2; ≥ 50 recommended)",
            )
        if a == 0 and n > 0:
            raise InputError(
                f"class {_shown(label)} has {int(n)} reference samples in its map stratum "
                "but 0 ha mapped area",
                fix="check that mapped_area_ha and the sample come from the same map "
                "and use the same class labels",
            )
    total_area = float(area.sum())
    if total_area <= 0:
        raise InputError(
            "the total mapped area is 0 ha",
            fix="pass the mapped area of each class in hectares",
        )

    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    weight = area / total_area
    sampled = n_i > 0
    safe_n = np.where(sampled, n_i, 1.0)
    several = n_i > 1
    safe_n_minus_1 = np.where(several, n_i - 1.0, 1.0)
    # Share of each stratum's sample in each reference class; 0 for an unsampled
    # (zero-area) stratum, whose weight is 0 anyway.
    share = np.where(sampled[:, None], counts / safe_n[:, None], 0.0)
    proportions = weight[:, None] * share  # eq. 4
    area_proportion = proportions.sum(axis=0)  # eq. 9
    # Wald variance of a stratum's shares; 0 for a one-sample stratum (only reached
    # with share_variance="jeffreys", whose area variance is defined for n_i = 1).
    share_var = np.where(several[:, None], share * (1.0 - share) / safe_n_minus_1[:, None], 0.0)
    if share_variance == "jeffreys":
        smoothed = (counts + 0.5) / (safe_n + 1.0)[:, None]
        area_share_var = np.where(
            sampled[:, None], smoothed * (1.0 - smoothed) / (safe_n + 2.0)[:, None], 0.0
        )
    else:
        area_share_var = share_var
    area_proportion_se = np.sqrt(((weight**2)[:, None] * area_share_var).sum(axis=0))  # eq. 10
    adjusted_area = total_area * area_proportion
    area_se = total_area * area_proportion_se

    diagonal = np.diag(proportions)
    users = np.where(sampled, np.diag(share), np.nan)  # eq. 2
    users_variance = np.where(several, users * (1.0 - users) / safe_n_minus_1, np.nan)  # eq. 6
    overall = float(diagonal.sum())  # eq. 1
    overall_variance = float(
        np.where(sampled, weight**2 * np.nan_to_num(users_variance), 0.0).sum()
    )  # eq. 5
    found = area_proportion > 0
    safe_area_proportion = np.where(found, area_proportion, 1.0)
    producers = np.where(found, diagonal / safe_area_proportion, np.nan)  # eq. 3
    own_stratum = np.where(
        sampled, weight**2 * (1.0 - producers) ** 2 * np.nan_to_num(users_variance), 0.0
    )
    other_strata = (weight**2)[:, None] * share_var
    np.fill_diagonal(other_strata, 0.0)
    producers_variance = np.where(
        found,
        (own_stratum + producers**2 * other_strata.sum(axis=0)) / safe_area_proportion**2,
        np.nan,
    )  # eq. 7, with W in place of N (it cancels)

    index = pd.Index(classes, name="class", dtype=object)
    table = pd.DataFrame(
        {
            "mapped_area_ha": area,
            "n_samples": n_i.astype(np.int64),
            "adjusted_area_ha": adjusted_area,
            "se_ha": area_se,
            "ci_low_ha": adjusted_area - z * area_se,
            "ci_high_ha": adjusted_area + z * area_se,
            "users_accuracy": users,
            "users_accuracy_se": np.sqrt(users_variance),
            "producers_accuracy": producers,
            "producers_accuracy_se": np.sqrt(producers_variance),
        },
        index=index,
    )
    logger.debug(
        "Olofsson area estimate: %d classes, %d samples, %.1f ha, OA %.3f",
        len(classes),
        int(n_i.sum()),
        total_area,
        overall,
    )
    return AreaEstimate(
        table=table,
        proportions=pd.DataFrame(
            proportions,
            index=pd.Index(classes, name=MAP_AXIS, dtype=object),
            columns=pd.Index(classes, name=REFERENCE_AXIS, dtype=object),
        ),
        overall_accuracy=overall,
        overall_accuracy_se=math.sqrt(overall_variance),
        confidence=float(confidence),
        z=z,
        total_area_ha=total_area,
    )
