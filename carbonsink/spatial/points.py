"""Checks of point sets: coordinates and one value per point, as spatial statistics need them.

Variograms, kriging and spatial cross-validation take points as separate
``x``, ``y`` and value arrays. The checks here turn them into validated
float64 arrays and say which points are wrong, by position, in a
:class:`~carbonsink.errors.InputError` with a fix:

* :func:`point_values` — equal lengths, finite coordinates and values;
* :func:`require_non_negative` — no value below 0 (e.g. a carbon stock);
* :func:`require_distinct_locations` — no two points at one location (a
  kriging system is singular there);
* :func:`positions_text` — the ``where`` of such an error.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from carbonsink.errors import InputError

__all__ = [
    "MAX_POSITIONS_SHOWN",
    "point_values",
    "positions_text",
    "require_distinct_locations",
    "require_non_negative",
]

FloatArray = npt.NDArray[np.float64]

#: Positions named in an error message; the rest are counted.
MAX_POSITIONS_SHOWN: Final = 8


def positions_text(
    positions: npt.ArrayLike, *, noun: str = "point", limit: int = MAX_POSITIONS_SHOWN
) -> str:
    """Name the positions of offending points for the ``where`` of an error.

    Parameters
    ----------
    positions
        0-based positions of the points in their arrays.
    noun
        What a point is, e.g. ``"core"`` or ``"plot"``.
    limit
        At most this many positions are listed; the others are counted.

    Returns
    -------
    str
        E.g. ``"point(s) at position 2, 7"`` or, beyond ``limit``,
        ``"plot(s) at position 0, 1 and 3 more"``.
    """
    where = np.asarray(positions, dtype=np.intp).ravel()
    shown = ", ".join(str(int(p)) for p in where[:limit])
    more = f" and {where.size - limit} more" if where.size > limit else ""
    return f"{noun}(s) at position {shown}{more}"


def point_values(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    what: str = "value",
    noun: str = "point",
    units: str | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validated float64 copies of point coordinates and one value per point.

    Parameters
    ----------
    x, y
        Point coordinates (any shape; flattened).
    values
        One value per point.
    what
        Name of the value in messages, e.g. ``"value"``, ``"stock"``, ``"AGB"``.
    noun
        What a point is in messages, e.g. ``"point"``, ``"core"``, ``"plot"``.
    units
        Units of the value, named in the fix of a missing value.

    Returns
    -------
    x, y, values
        1-D float64 arrays of equal length (copies: the inputs are not modified).

    Raises
    ------
    InputError
        The three arrays differ in length, or a coordinate or value is
        missing (NaN) or infinite; the message gives the positions.
    """
    xs = np.array(x, dtype=np.float64, ndmin=1).ravel()
    ys = np.array(y, dtype=np.float64, ndmin=1).ravel()
    zs = np.array(values, dtype=np.float64, ndmin=1).ravel()
    if not (xs.size == ys.size == zs.size):
        raise InputError(
            f"the x, y and {what} arrays have different lengths ({xs.size}, {ys.size}, {zs.size})",
            fix=f"give one x, one y and one {what} per {noun}",
        )
    bad_xy = ~(np.isfinite(xs) & np.isfinite(ys))
    if bad_xy.any():
        raise InputError(
            f"{int(bad_xy.sum())} {noun}(s) have missing or infinite coordinates",
            where=positions_text(np.flatnonzero(bad_xy), noun=noun),
            fix=f"drop those {noun}s or give their coordinates",
        )
    bad = ~np.isfinite(zs)
    if bad.any():
        in_units = f" in {units}" if units else ""
        raise InputError(
            f"{int(bad.sum())} {noun}(s) have a missing (NaN) or infinite {what}",
            where=positions_text(np.flatnonzero(bad), noun=noun),
            fix=f"drop those {noun}s or give their {what}{in_units}",
        )
    return xs, ys, zs


def require_non_negative(
    values: npt.ArrayLike,
    *,
    what: str = "value",
    noun: str = "point",
    units: str | None = None,
) -> None:
    """Refuse values below 0 (a stock or a density cannot be negative).

    Parameters
    ----------
    values
        One value per point.
    what, noun, units
        Name of the value, of a point, and the value's units, for the message.

    Raises
    ------
    InputError
        Some values are negative; the message gives the smallest and the
        positions.
    """
    zs = np.asarray(values, dtype=np.float64).ravel()
    negative = zs < 0
    if negative.any():
        in_units = f" {units}" if units else ""
        raise InputError(
            f"{int(negative.sum())} {what}(s) are negative (smallest {zs.min():.4g}{in_units})",
            where=positions_text(np.flatnonzero(negative), noun=noun),
            fix=f"check those {noun}s: a {what} is ≥ 0",
        )


def require_distinct_locations(x: npt.ArrayLike, y: npt.ArrayLike, *, noun: str = "point") -> None:
    """Refuse point sets in which two points share a location.

    A kriging system has two identical rows when two points coincide, so it
    is singular (without a measurement error on its diagonal).

    Parameters
    ----------
    x, y
        Point coordinates (equal lengths).
    noun
        What a point is, for the message.

    Raises
    ------
    InputError
        Some location holds more than one point; the message gives the
        positions of all the points that share a location.
    """
    xy = np.column_stack(
        [np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()]
    )
    _, inverse, counts = np.unique(xy, axis=0, return_inverse=True, return_counts=True)
    if (counts > 1).any():
        dupes = np.flatnonzero(counts[inverse.ravel()] > 1)
        raise InputError(
            f"{int((counts > 1).sum())} location(s) hold more than one point",
            where=positions_text(dupes, noun=noun),
            fix=f"average the {noun}s taken at the same location into one value first",
        )
