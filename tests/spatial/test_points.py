"""Tests of carbonsink.spatial.points: checks of point coordinates and values."""

from __future__ import annotations

import numpy as np
import pytest

from carbonsink.errors import InputError
from carbonsink.spatial.points import (
    point_values,
    positions_text,
    require_distinct_locations,
    require_non_negative,
)


def test_positions_text_lists_then_counts() -> None:
    assert positions_text([2, 7]) == "point(s) at position 2, 7"
    # Ten positions, eight shown by default: 0…7 and 10 − 8 = 2 more.
    assert positions_text(np.arange(10), noun="plot") == (
        "plot(s) at position 0, 1, 2, 3, 4, 5, 6, 7 and 2 more"
    )
    assert positions_text([4, 5, 6, 9], noun="core", limit=3) == (
        "core(s) at position 4, 5, 6 and 1 more"
    )


def test_point_values_are_flat_float64_copies() -> None:
    x = np.array([[1, 2, 3]])
    xs, ys, zs = point_values(x, [4, 5, 6], (7, 8, 9))
    assert [a.dtype for a in (xs, ys, zs)] == [np.float64] * 3
    assert xs.tolist() == [1.0, 2.0, 3.0] and ys.tolist() == [4.0, 5.0, 6.0]
    assert zs.tolist() == [7.0, 8.0, 9.0]
    xs[0] = 99.0
    assert x[0, 0] == 1  # a copy: the input is not modified
    # A single point may be given as scalars.
    assert [a.tolist() for a in point_values(1.0, 2.0, 3.0)] == [[1.0], [2.0], [3.0]]


def test_point_values_name_what_is_wrong_and_where() -> None:
    with pytest.raises(InputError, match=r"x, y and AGB arrays have different lengths \(2, 2, 1\)"):
        point_values([0, 1], [0, 1], [5.0], what="AGB", noun="plot")
    with pytest.raises(
        InputError, match="1 plot\\(s\\) have missing or infinite coordinates"
    ) as xy:
        point_values([0, np.nan, 2], [0, 1, 2], [1, 2, 3], noun="plot")
    assert xy.value.problem.where == "plot(s) at position 1"
    with pytest.raises(
        InputError, match="2 core\\(s\\) have a missing \\(NaN\\) or infinite stock"
    ) as z:
        point_values(
            [0, 1, 2], [0, 1, 2], [np.inf, 2, np.nan], what="stock", noun="core", units="Mg C/ha"
        )
    assert z.value.problem.where == "core(s) at position 0, 2"
    assert z.value.problem.fix == "drop those cores or give their stock in Mg C/ha"


def test_require_non_negative() -> None:
    require_non_negative([0.0, 1.5, 2.0])  # 0 is allowed
    # Two values below 0, the smallest −2: named with their positions 1 and 3.
    with pytest.raises(InputError) as info:
        require_non_negative([1.0, -2.0, 0.0, -0.5], what="stock", noun="core", units="Mg C/ha")
    problem = info.value.problem
    assert problem.message == "2 stock(s) are negative (smallest -2 Mg C/ha)"
    assert problem.where == "core(s) at position 1, 3"


def test_require_distinct_locations() -> None:
    require_distinct_locations([0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    # (0, 0) is held by the points at positions 0 and 2; (1, 0) and (2, 0) once each.
    with pytest.raises(InputError) as info:
        require_distinct_locations([0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0])
    problem = info.value.problem
    assert problem.message == "1 location(s) hold more than one point"
    assert problem.where == "point(s) at position 0, 2"
