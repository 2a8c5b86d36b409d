"""Land-cover accuracy assessment: confusion matrices and sample accuracies.

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
:func:`~carbonsink.imagery.area_estimate.olofsson_area_estimate`, which
weights each stratum by its mapped area and also estimates the class areas
with a confidence interval: a pixel count of the map is biased by the map's
errors.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonsink.errors import InputError

__all__ = [
    "MAP_AXIS",
    "REFERENCE_AXIS",
    "AccuracyReport",
    "Labels",
    "accuracy_report",
    "confusion_matrix",
]

#: Class labels, one per sample unit: a list, a 1-D numpy array or a pandas Series/Index.
Labels = Sequence[Hashable] | npt.NDArray[Any] | pd.Series | pd.Index

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
