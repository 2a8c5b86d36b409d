"""Tests of carbonsink.soil.accretion: the SOC rate of accreting sediment, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from carbonsink.errors import InputError
from carbonsink.soil.accretion import accretion_soc_rate


def test_accretion_soc_rate_by_hand() -> None:
    # 0.5 cm/yr × 1.0 g/cm³ × 2 % / 100 × 10⁴ = 100 g C m⁻² yr⁻¹;
    # 0.8 × 0.7 × 3 / 100 × 10⁴ = 168.
    assert accretion_soc_rate(0.5, 1.0, 2.0) == pytest.approx(100.0)
    rates = accretion_soc_rate(np.array([0.5, 0.8]), np.array([1.0, 0.7]), np.array([2.0, 3.0]))
    np.testing.assert_allclose(rates, [100.0, 168.0])
    with pytest.raises(InputError, match="bulk_density_g_cm3 must be finite and > 0"):
        accretion_soc_rate(0.5, 0.0, 2.0)
    with pytest.raises(InputError, match="accretion_cm_yr"):
        accretion_soc_rate(-0.1, 1.0, 2.0)
