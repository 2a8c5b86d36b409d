"""Tests of carbonsink.biomass.intervals: the quantile levels of a prediction interval."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from carbonsink.biomass.intervals import as_float, interval_quantiles
from carbonsink.errors import ConfigError


def test_interval_quantiles() -> None:
    # (1 - 0.9)/2 = 0.05 and (1 + 0.9)/2 = 0.95; (1 - 0.5)/2 = 0.25, (1 + 0.5)/2 = 0.75
    assert interval_quantiles(0.9) == pytest.approx((0.05, 0.95))
    assert interval_quantiles(0.5) == pytest.approx((0.25, 0.75))


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -0.1, True, "0.9", float("nan")])
def test_interval_outside_zero_one_is_refused(bad: Any) -> None:
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        interval_quantiles(bad)


def test_as_float_gives_float64_without_copying_a_float64_array() -> None:
    values = np.array([1.0, 2.5])
    assert as_float(values) is values
    converted = as_float([1, 2])
    assert converted.dtype == np.float64
    np.testing.assert_array_equal(converted, [1.0, 2.0])
