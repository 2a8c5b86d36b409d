"""Stratified (Olofsson) area estimation of a classified map's classes.

After a stratified sample of the map — the usual design, with rare classes
over-sampled — each stratum (map class) is weighted by its mapped area; the
class areas get a confidence interval, since a pixel count of the map is
biased by the map's errors (Olofsson et al. 2014; rows of every matrix the
map class, columns the reference class, as in
:mod:`~carbonsink.imagery.accuracy`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import pandas as pd

from carbonsink.errors import InputError
from carbonsink.i18n import deferred
from carbonsink.imagery.accuracy import (
    MAP_AXIS,
    REFERENCE_AXIS,
    _json_label,
    _json_number,
    _shown,
)

__all__ = ["AreaEstimate", "ShareVariance", "olofsson_area_estimate"]

logger = logging.getLogger(__name__)

#: Variance of a stratum's class share in the area SE (see :func:`olofsson_area_estimate`).
ShareVariance = Literal["wald", "jeffreys"]


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
        When a map class covers some area but has no reference sample (with
        ``"jeffreys"``: more area than one sample unit stands for, see Notes),
        or only one with ``"wald"`` (its variance is undefined); when a class has sample units
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

    With ``"jeffreys"``, a map class that drew no sample unit although it has
    mapped area is accepted when it is smaller than the area one unit stands
    for on average, A_tot / n (a sample of n units is then expected to miss
    it): its cells are taken as labelled (q_ii = 1, which also counts them as
    correct in Ô), each of its shares gets the variance of the Jeffreys prior
    Beta(½, ½), ¼ / 2 = 1/8, in eq. 10, and its user's accuracy is NaN. A
    larger unsampled class is an error: its area cannot be estimated.
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

    # The area one sample unit stands for, on average: a class smaller than that is
    # expected to draw no unit at all.
    per_sample = float(area.sum()) / max(float(n_i.sum()), 1.0)
    unsampled = np.zeros(len(classes), dtype=bool)
    for k, (label, a, n) in enumerate(zip(classes, area, n_i, strict=True)):
        if a > 0 and n == 0 and share_variance == "jeffreys" and a <= per_sample:
            unsampled[k] = True
            logger.warning(
                deferred(
                    "class {name} covers {ha:.2f} ha of the map, less than the {per:.2f} ha one "
                    "reference sample stands for, and has no reference sample: its area is taken "
                    "as mapped, with the Jeffreys prior's variance; its user's accuracy is unknown",
                    name=_shown(label),
                    ha=float(a),
                    per=per_sample,
                )
            )
        elif a > 0 and n == 0:
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
    # zero-area stratum, whose weight is 0 anyway; the map's own label for an unsampled
    # class too small to draw a unit.
    share = np.where(sampled[:, None], counts / safe_n[:, None], 0.0)
    share[unsampled, unsampled] = 1.0
    proportions = weight[:, None] * share  # eq. 4
    area_proportion = proportions.sum(axis=0)  # eq. 9
    # Wald variance of a stratum's shares; 0 for a one-sample stratum (only reached
    # with share_variance="jeffreys", whose area variance is defined for n_i = 1).
    share_var = np.where(several[:, None], share * (1.0 - share) / safe_n_minus_1[:, None], 0.0)
    if share_variance == "jeffreys":
        smoothed = (counts + 0.5) / (n_i + 1.0)[:, None]
        area_share_var = np.where(
            (sampled | unsampled)[:, None],
            smoothed * (1.0 - smoothed) / (np.where(sampled, safe_n, 0.0) + 2.0)[:, None],
            0.0,
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
